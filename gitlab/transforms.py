"""Small row and response transforms that GitLab's data needs before dlt sees it."""

import json
from datetime import UTC, datetime
from typing import Any, Callable, Dict, Mapping

import dlt
from requests import Response

COMMIT_DATE_FIELDS = ("committed_date", "authored_date", "created_at")


def to_utc_iso(timestamp: str) -> str:
    """Rewrites an ISO 8601 date or timestamp, with any offset or none (UTC), as UTC with milliseconds and `Z`.

    Raises:
        ValueError: `timestamp` is not ISO 8601.
    """
    moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def commit_dates_in_utc(response: Response, *args: Any, **kwargs: Any) -> None:
    """Response hook: GitLab prints commit dates in the committer's offset; cursors compare them as text."""
    if response.status_code != 200:
        return
    commits = response.json()
    for commit in commits:
        for name in COMMIT_DATE_FIELDS:
            if commit.get(name):
                commit[name] = to_utc_iso(commit[name])
    response._content = json.dumps(commits).encode()


def rename_parent_key(parent_field: str, column: str) -> Callable[[Dict[str, Any]], Dict[str, Any]]:
    """Makes a map step that renames dlt's `_<parent>_<field>` column to a plain key column."""

    def _rename(row: Dict[str, Any]) -> Dict[str, Any]:
        row[column] = row.pop(parent_field)
        return row

    return _rename


def _drop_nulls(row: Dict[str, Any], tables: Mapping[str, Any], table: str, prefix: str = "") -> None:
    columns = tables.get(table, {}).get("columns", {})
    for key in list(row):
        value = row[key]
        if value is not None and not isinstance(value, (dict, list)):
            continue  # most fields: a value, whatever the schema says
        column = prefix + key
        if columns.get(column, {}).get("data_type") is not None:
            continue
        if value is None:
            del row[key]
        elif isinstance(value, dict):  # flattened into `<column>__<field>` columns
            _drop_nulls(value, tables, table, f"{column}__")
        elif isinstance(value, list):  # a child table, `<table>__<column>`
            for item in value:
                if isinstance(item, dict):
                    _drop_nulls(item, tables, f"{table}__{column}")


def drop_untyped_nulls(table: str) -> Callable[[Dict[str, Any]], Dict[str, Any]]:
    """Makes a map step that leaves out null fields whose column has no type yet in the schema.

    A null says nothing dlt can type, so dlt warns about every such column and creates none; GitLab
    sends many (an issue's `milestone` object is null until one is set, and its columns come with the
    first one). Columns the schema already types (from `schemas/import` or an earlier load) keep their
    nulls; `drop_untyped_nulls` only spares the warning.
    """

    def _drop(row: Dict[str, Any]) -> Dict[str, Any]:
        _drop_nulls(row, dlt.current.source_schema().tables, table)
        return row

    return _drop
