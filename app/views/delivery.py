"""Delivery: merge request lead time (created → merged) and issue throughput (opened and closed)."""

import streamlit as st

from app import charts, formatting, queries
from app.data import Catalog, fetch_all
from app.queries import Filters, build
from app.views import metric_row, show_table, tables_missing

LEAD_HELP = "from a merge request's creation to its merge, for merge requests merged in range"


def render(filters: Filters, catalog: Catalog) -> None:
    """The delivery page."""
    st.header("Delivery")
    if tables_missing(catalog, queries.DELIVERY_TABLES, "merge requests or issues"):
        return
    frames = fetch_all(
        {
            "lead": build(queries.MR_LEAD_SUMMARY_SQL, filters),
            "issues": queries.issue_summary(filters),
            "trend": build(queries.MR_LEAD_TREND_SQL, filters),
            "throughput": build(queries.ISSUE_THROUGHPUT_SQL, filters, ranges=2),
            "by_project": build(queries.MR_LEAD_BY_PROJECT_SQL, filters),
        }
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
        st.subheader(f"MR lead time p50, by {filters.bucket}")
        trend = frames["trend"]
        if trend.empty:
            st.caption("No merge requests merged in range.")
        else:
            trend["lead time p50 (days)"] = trend["lead_p50"] / 86_400.0
            st.altair_chart(charts.trend(trend, "lead time p50 (days)", "days"))
    with right:
        st.subheader(f"Issues opened and closed, by {filters.bucket}")
        throughput = frames["throughput"]
        if throughput.empty:
            st.caption("No issues opened or closed in range.")
        else:
            st.altair_chart(charts.trend_lines(throughput, ["opened", "closed"], "issues", y_format=",d"))

    st.subheader("MR lead time per project")
    by_project = frames["by_project"]
    if by_project.empty:
        st.caption("No merge requests merged in range.")
        return
    by_project["project"] = by_project["project_id"].map(catalog.project_paths())
    by_project["lead time p50 (days)"] = by_project["lead_p50"] / 86_400.0
    st.altair_chart(charts.bars(by_project, "project", "lead time p50 (days)", "days"))
    table = by_project[["project", "merged", "lead_p50", "lead_p95"]].copy()
    for column in ("lead_p50", "lead_p95"):
        table[column] = table[column].map(formatting.seconds)
    show_table(table.rename(columns={"lead_p50": "lead time p50", "lead_p95": "lead time p95"}))
