"""Jobs: the slowest and the flakiest (failed, then passed on retry in the same pipeline), and why jobs fail."""

import streamlit as st

from app import charts, formatting, queries
from app.data import Catalog, fetch_all
from app.queries import Filters, build
from app.views import job_labels, metric_row, show_table, tables_missing

FLAKY_HELP = "a job that failed, then passed on retry in the same pipeline; counted once per pipeline and job name"
FAILURE_RATE_HELP = "failed / (success + failed) job attempts; retried attempts included"


def render(filters: Filters, catalog: Catalog) -> None:
    """The jobs page."""
    st.header("Jobs")
    if tables_missing(catalog, queries.CI_TABLES, "jobs"):
        return
    frames = fetch_all(
        {
            "summary": build(queries.JOB_SUMMARY_SQL, filters),
            "retries": build(queries.JOB_RETRY_SUMMARY_SQL, filters),
            "slowest": build(queries.SLOWEST_JOBS_SQL, filters),
            "flaky": build(queries.FLAKY_JOBS_SQL, filters),
            "reasons": build(queries.FAILURE_REASONS_SQL, filters),
        }
    )
    summary, retries = frames["summary"].iloc[0], frames["retries"].iloc[0]

    metric_row(
        [
            ("Job attempts", formatting.count(summary["jobs"]), None),
            (
                "Job failure rate",
                formatting.percent(summary["failed"], summary["succeeded"] + summary["failed"]),
                FAILURE_RATE_HELP,
            ),
            ("Retried attempts", formatting.count(retries["retries"]), None),
            ("Flaky job runs", formatting.count(retries["flaky_runs"]), FLAKY_HELP),
        ]
    )

    paths = catalog.project_paths()
    st.subheader("Slowest jobs (p95 duration)")
    slowest = frames["slowest"]
    if slowest.empty:
        st.caption("No finished jobs in range.")
    else:
        slowest["job"] = job_labels(slowest, paths)
        slowest["p95 seconds"] = slowest["duration_p95"]
        st.altair_chart(charts.bars(slowest, "job", "p95 seconds", "p95 duration (s)"))
        shown = {"duration_p50": "p50", "duration_p95": "p95", "duration_max": "max", "duration_total": "total"}
        table = slowest[["job", "runs", *shown]].copy()
        for column in shown:
            table[column] = table[column].map(formatting.seconds)
        show_table(table.rename(columns=shown))

    st.subheader("Flakiest jobs (failed, then passed on retry)")
    flaky = frames["flaky"]
    if flaky.empty:
        st.caption("No job failed and then passed on retry in range.")
    else:
        flaky["job"] = job_labels(flaky, paths)
        flaky["flake_rate"] = flaky["flaky_pipelines"] / flaky["pipelines"]
        st.altair_chart(charts.bars(flaky, "job", "flaky_pipelines", "pipelines with a flake", value_format=",d"))
        show_table(
            flaky[["job", "flaky_pipelines", "pipelines", "flake_rate", "retries"]],
            {
                "flaky_pipelines": "flaky in pipelines",
                "pipelines": "ran in pipelines",
                "flake_rate": st.column_config.NumberColumn("flake rate", format="percent"),
            },
        )

    st.subheader("Failure reasons")
    reasons = frames["reasons"]
    if reasons.empty:
        st.caption("No failed jobs in range.")
        return
    st.altair_chart(charts.bars(reasons, "failure_reason", "failed_jobs", "failed jobs", value_format=",d"))
    show_table(
        reasons,
        {
            "failure_reason": "failure reason",
            "failed_jobs": "failed jobs",
            "allowed_to_fail": "of them allowed to fail",
        },
    )
