"""Jobs: the slowest and the flakiest (failed, then passed on retry in the same pipeline), and why jobs fail."""

import streamlit as st

from app import charts, formatting, queries
from app.data import Catalog
from app.queries import Filters
from app.views import fetch_filtered, job_labels, metric_row, page_header, section, show_table

FLAKY_HELP = "a job that failed, then passed on retry in the same pipeline; counted once per pipeline and job name"
FAILURE_RATE_HELP = "failed / (success + failed) job attempts; retried attempts included"


def render(filters: Filters, catalog: Catalog) -> None:
    """The jobs page."""
    if not page_header("Jobs", catalog, queries.CI_TABLES, "jobs"):
        return
    frames = fetch_filtered(
        filters,
        {
            "summary": queries.JOB_SUMMARY_SQL,
            "retries": queries.JOB_RETRY_SUMMARY_SQL,
            "slowest": queries.SLOWEST_JOBS_SQL,
            "flaky": queries.FLAKY_JOBS_SQL,
            "reasons": queries.FAILURE_REASONS_SQL,
        },
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
    slowest = frames["slowest"]
    if section("Slowest jobs (p95 duration)", slowest, "No finished jobs in range."):
        slowest["job"] = job_labels(slowest, paths)
        slowest["p95 seconds"] = slowest["duration_p95"]
        st.altair_chart(charts.bars(slowest, "job", "p95 seconds", "p95 duration (s)"))
        shown = {"duration_p50": "p50", "duration_p95": "p95", "duration_max": "max", "duration_total": "total"}
        table = slowest[["job", "runs", *shown]].copy()
        for column in shown:
            table[column] = table[column].map(formatting.seconds)
        show_table(table.rename(columns=shown))

    flaky = frames["flaky"]
    if section(
        "Flakiest jobs (failed, then passed on retry)", flaky, "No job failed and then passed on retry in range."
    ):
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

    reasons = frames["reasons"]
    if not section("Failure reasons", reasons, "No failed jobs in range."):
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
