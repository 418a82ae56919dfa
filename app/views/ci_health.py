"""CI health: pipeline success rate per project and branch over time, pipeline duration and job queue time."""

import streamlit as st

from app import charts, formatting, queries
from app.data import Catalog
from app.queries import Filters
from app.views import fetch_filtered, metric_row, page_header, section, show_table

SUCCESS_RATE_HELP = "success / (success + failed), as in GitLab's CI/CD analytics; canceled and skipped don't count"
DURATION_HELP = "finished pipelines (success or failed); from their jobs' first start to last finish"
QUEUE_HELP = "how long jobs waited for a runner (`queued_duration`)"


def render(filters: Filters, catalog: Catalog) -> None:
    """The CI health page."""
    if not page_header("CI health", catalog, queries.CI_TABLES, "pipelines"):
        return
    frames = fetch_filtered(
        filters,
        {
            "pipelines": queries.PIPELINE_SUMMARY_SQL,
            "jobs": queries.JOB_SUMMARY_SQL,
            "trend": queries.PIPELINE_TREND_SQL,
            "durations": queries.PIPELINE_DURATION_TREND_SQL,
            "queue": queries.JOB_QUEUE_TREND_SQL,
            "branches": queries.PIPELINES_BY_BRANCH_SQL,
        },
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
    trend = frames["trend"]
    trend["project"] = trend["project_id"].map(paths)
    trend["success_rate"] = formatting.ratios(trend["succeeded"], trend["succeeded"] + trend["failed"])
    rated = trend.dropna(subset=["success_rate"])
    if section(f"Success rate per project, by {filters.bucket}", rated, "No finished pipelines in range."):
        st.altair_chart(charts.trend(rated, "success_rate", "success rate", color="project", y_format=".0%"))

    left, right = st.columns(2)
    with left:
        durations = frames["durations"]
        durations["p50"] = durations["duration_p50"] / 60.0
        durations["p95"] = durations["duration_p95"] / 60.0
        finished = durations.dropna(subset=["p50"])
        if section(f"Pipeline duration, by {filters.bucket}", finished, "No finished pipelines in range."):
            st.altair_chart(charts.trend_lines(durations, ["p50", "p95"], "minutes"))
    with right:
        queue = frames["queue"].rename(columns={"queued_p50": "p50", "queued_p95": "p95"})
        if section(f"Job queue time, by {filters.bucket}", queue.dropna(subset=["p50"]), "No jobs that ran in range."):
            st.altair_chart(charts.trend_lines(queue, ["p50", "p95"], "seconds"))

    branches = frames["branches"]
    branches["project"] = branches["project_id"].map(paths)
    branches["success_rate"] = formatting.ratios(branches["succeeded"], branches["succeeded"] + branches["failed"])
    if not section("Success rate per project and branch", branches, "No pipelines in range."):
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
