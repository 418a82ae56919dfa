"""The GitLab CI and delivery dashboard: `streamlit run app/gitlab_dashboard.py` where you ran the load.

It reads `gitlab_pipeline`'s dataset through dlt (DuckDB by default, or PostgreSQL), read-only.
"""

import sys
from datetime import date
from pathlib import Path
from typing import Any, Callable, Optional, Tuple

import streamlit as st

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # `streamlit run` executes this file as a script: make the `app` package importable
    sys.path.insert(0, str(REPO))

from app import data  # noqa: E402
from app.data import Catalog, DashboardDataError  # noqa: E402
from app.queries import Filters  # noqa: E402
from app.views import ci_health, delivery, job_time, jobs, secret_findings  # noqa: E402

TRender = Callable[[Filters, Catalog], None]

# (title, url path, icon, render); the first page is the default one, served at the root URL
PAGES: Tuple[Tuple[str, str, str, TRender], ...] = (
    ("CI health", "ci_health", ":material/monitor_heart:", ci_health.render),
    ("Jobs", "jobs", ":material/work_history:", jobs.render),
    ("Time inside jobs", "job_time", ":material/timer:", job_time.render),
    ("Secret findings", "secrets", ":material/key_off:", secret_findings.render),
    ("Delivery", "delivery", ":material/rocket_launch:", delivery.render),
)


def _date_range(catalog: Catalog) -> Tuple[date, date]:
    picked: Any = st.sidebar.date_input(  # a date, or a tuple of one or two while a range is picked
        "Date range (UTC)",
        value=(catalog.first_day, catalog.last_day),
        help="pipelines and jobs by creation, merge requests by merge, issues by opening and closing",
    )
    if not isinstance(picked, tuple):
        return picked, picked
    if len(picked) == 1:  # the second click of the range picker is still to come
        return picked[0], catalog.last_day
    return picked[0], picked[1]


def sidebar(catalog: Catalog) -> Filters:
    """The filters: a group (with its subgroups), projects within it, and a date range."""
    st.sidebar.title("GitLab")
    group: Optional[str] = st.sidebar.selectbox(
        "Group",
        [None, *catalog.groups["full_path"]],
        format_func=lambda path: "All groups" if path is None else path,
        help="includes the projects of its subgroups",
    )
    in_group = catalog.projects_of_group(group)
    paths = catalog.project_paths()
    chosen = st.sidebar.multiselect(
        "Projects",
        in_group,
        format_func=lambda project_id: paths.get(project_id, str(project_id)),
        placeholder="All projects of the group",
    )
    start, end = _date_range(catalog)
    if st.sidebar.button("Reload data", help="forget cached results and read the latest load"):
        data.refresh()
        st.rerun()
    destination = data.pipeline()
    st.sidebar.caption(f"Data: {destination.destination.destination_name}, dataset `{destination.dataset_name}`")
    return Filters(tuple(sorted(chosen or in_group)), min(start, end), max(start, end))


def _page(render: TRender, filters: Filters, catalog: Catalog) -> Callable[[], None]:
    def run() -> None:
        try:
            render(filters, catalog)
        except DashboardDataError as exc:
            st.error(str(exc))

    return run


def main() -> None:
    """Renders the sidebar, then the page the URL names."""
    st.set_page_config(page_title="GitLab CI and delivery", page_icon=":material/insights:", layout="wide")
    try:
        catalog = data.catalog()
    except DashboardDataError as exc:
        st.error(str(exc))
        st.stop()
    filters = sidebar(catalog)
    pages = [
        st.Page(_page(render, filters, catalog), title=title, url_path=url_path, icon=icon, default=index == 0)
        for index, (title, url_path, icon, render) in enumerate(PAGES)
    ]
    st.navigation(pages).run()


main()
