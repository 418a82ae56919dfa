"""CI health: pipeline success rate per project and branch over time, pipeline duration and job queue time."""

import streamlit as st

from app import charts, formatting, queries
from app.data import Catalog, fetch_all
from app.queries import Filters, build
from app.views import metric_row, show_table, tables_missing

SUCCESS_RATE_HELP = "success / (success + failed), as in GitLab's CI/CD analytics; canceled and skipped don't count"
DURATION_HELP = "finished pipelines (success or failed); from their jobs' first start to last finish"
QUEUE_HELP = "how long jobs waited for a runner (`queued_duration`)"


def render(filters: Filters, catalog: Catalog) -> None:
    """The CI health page."""
    st.header("CI health")
    if tables_missing(catalog, queries.CI_TABLES, "pipelines"):
        return
    frames = fetch_all(
        {
            "pipelines": build(queries.PIPELINE_SUMMARY_SQL, filters),
            "jobs": build(queries.JOB_SUMMARY_SQL, filters),
            "trend": build(queries.PIPELINE_TREND_SQL, filters),
            "durations": build(queries.PIPELINE_DURATION_TREND_SQL, filters),
            "queue": build(queries.JOB_QUEUE_TREND_SQL, filters),
            "branches": build(queries.PIPELINES_BY_BRANCH_SQL, filters),
        }
    )
    pipelines, jobs = frames["pipelines"].iloc[0], frames["jobs"].iloc[0]

    metric_row(
        [
            ("Pipelines", formatting.count(pipelines["pipelines"]), None),
            (
                "Pipeline success rate",
                formatting.percent(pipelines["succeeded"], pipelines["succeeded"] + pipelines["failed"]),
                SUCCESS_RATE_HELP,
            ),
            ("Pipeline duration p50", formatting.seconds(pipelines["duration_p50"]), DURATION_HELP),
            ("Pipeline duration p95", formatting.seconds(pipelines["duration_p95"]), DURATION_HELP),
            ("Job queue time p50", formatting.seconds(jobs["queued_p50"]), QUEUE_HELP),
            ("Job queue time p95", formatting.seconds(jobs["queued_p95"]), QUEUE_HELP),
        ]
    )

    paths = catalog.project_paths()
    st.subheader(f"Success rate per project, by {filters.bucket}")
    trend = frames["trend"]
    trend["project"] = trend["project_id"].map(paths)
    trend["success_rate"] = formatting.ratios(trend["succeeded"], trend["succeeded"] + trend["failed"])
    rated = trend.dropna(subset=["success_rate"])
    if rated.empty:
        st.caption("No finished pipelines in range.")
    else:
        st.altair_chart(charts.trend(rated, "success_rate", "success rate", color="project", y_format=".0%"))

    left, right = st.columns(2)
    with left:
        st.subheader(f"Pipeline duration, by {filters.bucket}")
        durations = frames["durations"]
        durations["p50"] = durations["duration_p50"] / 60.0
        durations["p95"] = durations["duration_p95"] / 60.0
        if durations.dropna(subset=["p50"]).empty:
            st.caption("No finished pipelines in range.")
        else:
            st.altair_chart(charts.trend_lines(durations, ["p50", "p95"], "minutes"))
    with right:
        st.subheader(f"Job queue time, by {filters.bucket}")
        queue = frames["queue"].rename(columns={"queued_p50": "p50", "queued_p95": "p95"})
        if queue.dropna(subset=["p50"]).empty:
            st.caption("No jobs that ran in range.")
        else:
            st.altair_chart(charts.trend_lines(queue, ["p50", "p95"], "seconds"))

    st.subheader("Success rate per project and branch")
    branches = frames["branches"]
    branches["project"] = branches["project_id"].map(paths)
    branches["success_rate"] = formatting.ratios(branches["succeeded"], branches["succeeded"] + branches["failed"])
    if branches.empty:
        st.caption("No pipelines in range.")
        return
    st.altair_chart(
        charts.heatmap(branches.dropna(subset=["success_rate"]), "ref", "project", "success_rate", "success rate")
    )
    table = branches[["project", "ref", "pipelines", "succeeded", "failed", "success_rate", "duration_p50"]].copy()
    table["duration_p50"] = table["duration_p50"].map(formatting.seconds)
    show_table(
        table,
        {
            "ref": "branch or tag",
            # green above half, red below, like the heatmap's scale
            "success_rate": st.column_config.ProgressColumn(
                "success rate", format="percent", min_value=0, max_value=1, color="auto"
            ),
            "duration_p50": "duration p50",
        },
    )
