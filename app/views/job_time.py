"""Where time goes inside jobs: the runner's log sections (prepare, get sources, script, cache, artifacts)."""

import streamlit as st

from app import charts, formatting, queries
from app.data import Catalog
from app.queries import Filters
from app.views import fetch_filtered, metric_row, page_header, show_table

SECTIONS_HELP = "top-level sections of fetched job logs; nested sections are inside their parent's time"


def render(filters: Filters, catalog: Catalog) -> None:
    """The time-in-jobs page."""
    if not page_header("Where time goes inside jobs", catalog, queries.JOB_LOG_TABLES, "job logs"):
        return
    if queries.SECTIONS_TABLE not in catalog.tables:
        st.info("The loaded job logs have no runner sections (`section_start`/`section_end` lines) to measure.")
        return
    frames = fetch_filtered(
        filters,
        {
            "summary": queries.SECTION_SUMMARY_SQL,
            "totals": queries.SECTION_TOTALS_SQL,
            "by_job": queries.SECTIONS_BY_JOB_SQL,
        },
    )
    summary, totals = frames["summary"].iloc[0], frames["totals"]

    top = totals.iloc[0] if not totals.empty else None
    metric_row(
        [
            ("Jobs with sections", formatting.count(summary["jobs"]), SECTIONS_HELP),
            ("Time in sections", formatting.seconds(summary["total_seconds"]), SECTIONS_HELP),
            ("Costliest section", top["section"] if top is not None else formatting.NONE_SHOWN, None),
            (
                "Costliest section share",
                formatting.percent(top["total_seconds"], summary["total_seconds"])
                if top is not None
                else formatting.NONE_SHOWN,
                None,
            ),
        ]
    )
    if totals.empty:
        st.caption("No job log sections in range.")
        return

    st.subheader("Total time per section")
    totals["hours"] = totals["total_seconds"] / 3600.0
    st.altair_chart(charts.bars(totals, "section", "hours", "hours", value_format=",.2f"))
    table = totals[["section", "jobs", "total_seconds", "p50_seconds", "p95_seconds"]].copy()
    for column in ("total_seconds", "p50_seconds", "p95_seconds"):
        table[column] = table[column].map(formatting.seconds)
    show_table(table.rename(columns={"total_seconds": "total", "p50_seconds": "p50", "p95_seconds": "p95"}))

    st.subheader("Per job name: time per section")
    by_job = frames["by_job"]
    by_job["minutes"] = by_job["total_seconds"] / 60.0
    st.altair_chart(charts.bars(by_job, "job_name", "minutes", "minutes", color="section"))
