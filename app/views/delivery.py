"""Delivery: merge request lead time (created → merged) and issue throughput (opened and closed)."""

import streamlit as st

from app import charts, formatting, queries
from app.data import Catalog
from app.queries import Filters, build
from app.views import fetch_filtered, metric_row, page_header, section, show_table

LEAD_HELP = "from a merge request's creation to its merge, for merge requests merged in range"


def render(filters: Filters, catalog: Catalog) -> None:
    """The delivery page."""
    if not page_header("Delivery", catalog, queries.DELIVERY_TABLES, "merge requests or issues"):
        return
    frames = fetch_filtered(
        filters,
        {
            "lead": queries.MR_LEAD_SUMMARY_SQL,
            "issues": queries.issue_summary(filters),
            "trend": queries.MR_LEAD_TREND_SQL,
            "throughput": build(queries.ISSUE_THROUGHPUT_SQL, filters, ranges=2),
            "by_project": queries.MR_LEAD_BY_PROJECT_SQL,
        },
    )
    lead, issues = frames["lead"].iloc[0], frames["issues"].iloc[0]

    metric_row(
        [
            ("Merged MRs", formatting.count(lead["merged"]), None),
            ("MR lead time p50", formatting.seconds(lead["lead_p50"]), LEAD_HELP),
            ("MR lead time p95", formatting.seconds(lead["lead_p95"]), LEAD_HELP),
            ("Issues opened", formatting.count(issues["opened"]), None),
            ("Issues closed", formatting.count(issues["closed"]), None),
        ]
    )

    left, right = st.columns(2)
    with left:
        trend = frames["trend"]
        if section(f"MR lead time p50, by {filters.bucket}", trend, "No merge requests merged in range."):
            trend["lead time p50 (days)"] = trend["lead_p50"] / 86_400.0
            st.altair_chart(charts.trend(trend, "lead time p50 (days)", "days"))
    with right:
        throughput = frames["throughput"]
        if section(
            f"Issues opened and closed, by {filters.bucket}", throughput, "No issues opened or closed in range."
        ):
            st.altair_chart(charts.trend_lines(throughput, ["opened", "closed"], "issues", y_format=",d"))

    by_project = frames["by_project"]
    if not section("MR lead time per project", by_project, "No merge requests merged in range."):
        return
    by_project["project"] = by_project["project_id"].map(catalog.project_paths())
    by_project["lead time p50 (days)"] = by_project["lead_p50"] / 86_400.0
    st.altair_chart(charts.bars(by_project, "project", "lead time p50 (days)", "days"))
    table = by_project[["project", "merged", "lead_p50", "lead_p95"]].copy()
    for column in ("lead_p50", "lead_p95"):
        table[column] = table[column].map(formatting.seconds)
    show_table(table.rename(columns={"lead_p50": "lead time p50", "lead_p95": "lead time p95"}))
