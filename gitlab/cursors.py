"""Per-project incremental cursors, kept in dlt resource state.

GitLab filters `updated_after`/`since` per project, and a project added later must still get its
history; one cursor per table (dlt's `incremental`) would skip it, so each project keeps its own.
"""

from datetime import UTC, datetime
from typing import Any, Callable, Dict, Iterator, List

import dlt

from gitlab.errors import GitLabSourceError
from gitlab.tables import INCREMENTAL_TABLES, cursor_of
from gitlab.transforms import to_utc_iso

TDataItem = Dict[str, Any]

CURSORS_RESOURCE = "project_cursors"


def first_load_start(start_date: str) -> str:
    """`start_date` in the UTC text form GitLab prints, so cursors compare it with GitLab's values.

    Raises:
        GitLabSourceError: It is not ISO 8601, or it lies in the future, where nothing would load.
    """
    where = f"start date {start_date!r} (--since, or start_date in [sources.gitlab])"
    try:
        start = to_utc_iso(str(start_date).strip())
    except ValueError:
        raise GitLabSourceError(f"{where} is not an ISO 8601 date, e.g. 2024-01-31 or 2024-01-31T12:00:00Z") from None
    if start > to_utc_iso(datetime.now(UTC).isoformat()):
        raise GitLabSourceError(
            f"{where} is in the future, so nothing would load: give a past date, e.g. 2024-01-31, or none to load"
            " all history"
        )
    return start


def _cursors(table: str) -> Dict[str, Any]:
    state: Dict[str, Any] = dlt.current.resource_state(table).setdefault("cursors", {})
    return state


def project_cursors(start_date: str) -> Callable[[List[TDataItem]], Iterator[List[TDataItem]]]:
    """Makes the transformer that pairs each project id with where each incremental table resumes.

    Args:
        start_date (str): Where a project's history starts when a table has no cursor for it yet.

    Returns:
        Callable: The transformer function; its rows feed the incremental endpoints' parameters.
    """

    def _with_cursors(projects: List[TDataItem]) -> Iterator[List[TDataItem]]:
        yield [
            {
                "id": project["id"],
                **{
                    f"{table.name}_since": _cursors(table.name).get(str(project["id"]), {}).get("at", start_date)
                    for table in INCREMENTAL_TABLES
                },
            }
            for project in projects
        ]

    return _with_cursors


class CursorFilter:
    """Filter step: drops rows already loaded at a project's cursor and moves the cursor forward.

    GitLab's `updated_after` and `since` include the boundary, so the rows at a cursor come back
    on the next run; remembering their ids keeps their children (jobs, notes) from being re-read.
    """

    def __init__(self, table: str) -> None:
        self.table = table
        self.cursor_field, _ = cursor_of(table)
        self._loaded_at_start: Dict[str, Dict[str, Any]] = {}

    def first_load(self, project: Any) -> bool:
        """True when the project had no cursor when this run first saw its rows: the table's first load of it."""
        return self._loaded_at_start.get(str(project)) == {}

    def __call__(self, row: TDataItem) -> bool:
        project = str(row["project_id"])
        cursors = _cursors(self.table)
        stored = cursors.get(project)
        previous = self._loaded_at_start.setdefault(
            project, {"at": stored["at"], "ids": set(stored["ids"])} if stored else {}
        )
        value = row[self.cursor_field]
        row_id = row.get("id")
        if previous and (value < previous["at"] or (value == previous["at"] and row_id in previous["ids"])):
            return False
        current = cursors.setdefault(project, {"at": value, "ids": []})
        if value > current["at"]:
            current.update(at=value, ids=[row_id])
        elif value == current["at"] and row_id not in current["ids"]:
            current["ids"].append(row_id)
        return True
