"""Reads the loaded GitLab data through dlt, read-only: the destination and dataset the CLI's last run used.

The pipeline is attached from the project folder (`.dlt/pipelines`, or `$DLT_DATA_DIR/pipelines`), so DuckDB or
PostgreSQL and the dataset name come from the same state, config and secrets (`.dlt/`, `DESTINATION__...`) as the
load.
"""

import logging
import os
import string
import tempfile
import threading
from collections import Counter
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Dict, FrozenSet, List, Mapping, Optional, Sequence, Tuple

import dlt
import pandas as pd
import streamlit as st
from dlt.pipeline.exceptions import CannotRestorePipelineException

from app.queries import (
    DATA_RANGE_SQL,
    EXISTING_TABLES_SQL,
    GROUPS_SQL,
    PROJECTS_SQL,
    Query,
)
from gitlab.project_folder import pipelines_dir
from gitlab.settings import DEMO_PIPELINE_NAME

PIPELINE_NAME = "gitlab_pipeline"
DEFAULT_DATASET = "gitlab_data"
DEFAULT_DESTINATION = "duckdb"
CACHE_TTL_SECONDS = 300
RANGE_TABLES = ("pipelines", "merge_requests", "issues")

logger = logging.getLogger(__name__)


class DashboardDataError(Exception):
    """The data cannot be read; the message says why and what to do."""


@dataclass(frozen=True)
class Catalog:
    """What the filters offer: groups, projects and the span of the data."""

    groups: pd.DataFrame
    projects: pd.DataFrame
    first_day: date
    last_day: date
    tables: FrozenSet[str]

    def project_paths(self) -> Dict[int, str]:
        """Project id → `group/sub/project`."""
        return {int(row.id): str(row.path_with_namespace) for row in self.projects.itertuples()}  # type: ignore[arg-type]

    def gitlab_urls(self) -> List[str]:
        """The root URLs of the GitLab instances the projects were loaded from, most projects first.

        A project's `web_url` is its GitLab's URL (with any relative root, e.g. `/gitlab`) followed by
        `/<path_with_namespace>`; projects without one are left out.
        """
        roots: Counter = Counter()
        for row in self.projects.itertuples():
            suffix = f"/{row.path_with_namespace}"
            if isinstance(row.web_url, str) and row.web_url.endswith(suffix):
                roots[row.web_url[: -len(suffix)]] += 1
        return [root for root, _ in roots.most_common()]

    def projects_of_group(self, group_path: Optional[str]) -> List[int]:
        """Ids of the projects in `group_path` and its subgroups; every project when None."""
        if not group_path:
            return [int(i) for i in self.projects["id"]]
        namespaces = self.projects["namespace_path"].fillna("")
        inside = (namespaces == group_path) | namespaces.str.startswith(group_path + "/")
        return [int(i) for i in self.projects.loc[inside, "id"]]


@st.cache_resource(show_spinner=False)
def pipeline() -> dlt.Pipeline:
    """`gitlab_pipeline` as the CLI left it; without local state, the destination named in `[gitlab_dashboard]`."""
    # The dashboard never writes; a read-only DuckDB connection also lets `dlt pipeline ... show` read alongside.
    os.environ.setdefault("DESTINATION__DUCKDB__CREDENTIALS__READ_ONLY", "true")
    for name in (PIPELINE_NAME, DEMO_PIPELINE_NAME):  # a real load's state, else the demo's, in the project folder
        try:
            return dlt.attach(name, pipelines_dir=pipelines_dir())
        except CannotRestorePipelineException:
            continue
    destination = dlt.config.get("gitlab_dashboard.destination", str) or DEFAULT_DESTINATION
    dataset = dlt.config.get("gitlab_dashboard.dataset_name", str) or DEFAULT_DATASET
    logger.info("no local state of %s: reading %s dataset %s", PIPELINE_NAME, destination, dataset)
    # a throwaway working folder: the app leaves dlt's data dir as it found it
    scratch = tempfile.mkdtemp(prefix="gitlab_dashboard_")
    return dlt.pipeline(PIPELINE_NAME, pipelines_dir=scratch, destination=destination, dataset_name=dataset)


def _table_names(template: str) -> List[str]:
    return [field for _, field, _, _ in string.Formatter().parse(template) if field]


class _Reader:
    """One dlt SQL client for the app, opened for each batch of statements and closed right after.

    Opening a client costs about 0.1 s, so a page's statements share one connection; it is not kept
    open between pages, so a load can write the DuckDB file while the app is idle. Streamlit renders
    sessions on threads: the lock keeps one batch at a time on the shared client.
    """

    def __init__(self, client: Any) -> None:
        self.client = client
        self.lock = threading.Lock()

    def run(self, statements: Sequence[Tuple[str, str, Tuple]]) -> Dict[str, pd.DataFrame]:
        frames: Dict[str, pd.DataFrame] = {}
        with self.lock, self.client as client:
            for name, sql, params in statements:
                tables = {table: client.make_qualified_table_name(table) for table in _table_names(sql)}
                with client.execute_query(sql.format(**tables), *params) as cursor:
                    columns = [column[0] for column in cursor.description]
                    frames[name] = _frame(cursor.fetchall(), columns)
        return frames


def _frame(rows: List[Tuple], columns: List[str]) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(rows, columns=columns)
    # PostgreSQL returns NUMERIC (e.g. EXTRACT(EPOCH ...)) as Decimal: make every such column a float
    for column in frame.columns:
        if frame[column].dtype == object and frame[column].map(lambda v: isinstance(v, Decimal)).any():
            frame[column] = frame[column].astype(float)
    return frame


@st.cache_resource(show_spinner=False)
def _reader() -> _Reader:
    return _Reader(pipeline().sql_client())


@st.cache_data(ttl=CACHE_TTL_SECONDS, show_spinner=False, max_entries=256)
def _fetch_all(statements: Tuple[Tuple[str, str, Tuple], ...]) -> Dict[str, pd.DataFrame]:
    try:
        return _reader().run(statements)
    except Exception as exc:
        raise DashboardDataError(_explain(exc)) from exc


def fetch_all(statements: Mapping[str, Query]) -> Dict[str, pd.DataFrame]:
    """Runs a page's statements on one connection; cached for CACHE_TTL_SECONDS per statements and parameters.

    Args:
        statements (Mapping[str, Query]): Name → statement from `app.queries`; `{table}` names are qualified
            here with the dataset.

    Returns:
        Dict[str, pd.DataFrame]: Name → the statement's rows, one column per selected expression.
    """
    return _fetch_all(tuple((name, query.sql, query.params) for name, query in statements.items()))


def fetch(query: Query) -> pd.DataFrame:
    """Runs one statement (see `fetch_all`)."""
    return fetch_all({"rows": query})["rows"]


def _explain(exc: Exception) -> str:
    """One line on why a read failed and what to do."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    text = text.split("The actual reason given is: ")[-1]  # dlt wraps the database's own words
    if "lock" in text.lower():
        return f"the DuckDB file is busy (a load is writing it?): reload in a moment. ({text})"
    if isinstance(exc, CannotRestorePipelineException) or "does not exist" in text or "No such file" in text:
        return f"no GitLab data found: run `python gitlab_pipeline.py --demo` (or your load) first. ({text})"
    return f"reading the GitLab data failed: {text}"


def existing_tables() -> FrozenSet[str]:
    """Names of the dataset's tables, so pages can tell "not loaded yet" from an error."""
    try:
        dataset = pipeline().dataset_name
    except Exception as exc:
        raise DashboardDataError(_explain(exc)) from exc
    return frozenset(fetch(Query(EXISTING_TABLES_SQL, (dataset,)))["table_name"])


def catalog() -> Catalog:
    """Groups, projects and the first and last day with data, for the sidebar."""
    tables = existing_tables()
    if "projects" not in tables:
        raise DashboardDataError(
            "no GitLab data loaded yet: run `python gitlab_pipeline.py --demo` (or your load) first"
        )
    statements = {"projects": Query(PROJECTS_SQL, ())}
    if "groups" in tables:
        statements["groups"] = Query(GROUPS_SQL, ())
    for table in RANGE_TABLES:
        if table in tables:
            statements[table] = Query(DATA_RANGE_SQL.replace("{table}", "{" + table + "}"), ())
    frames = fetch_all(statements)
    groups = frames.get("groups", pd.DataFrame(columns=["id", "full_path"]))
    projects = frames["projects"]
    moments = [frames[table] for table in RANGE_TABLES if table in frames]
    firsts = [m["first_at"].iloc[0] for m in moments if not m.empty and pd.notna(m["first_at"].iloc[0])]
    lasts = [m["last_at"].iloc[0] for m in moments if not m.empty and pd.notna(m["last_at"].iloc[0])]
    today = pd.Timestamp.now(tz="UTC")
    first = min(firsts, default=today)
    last = max(lasts, default=today)
    return Catalog(groups, projects, _utc_day(first), _utc_day(last), tables)


def _utc_day(moment: Any) -> date:
    stamp = pd.Timestamp(moment)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC")
    return stamp.date()


def refresh() -> None:
    """Forgets cached results and the attached pipeline, so the next render reads the latest load."""
    _fetch_all.clear()
    _reader.clear()
    pipeline.clear()
