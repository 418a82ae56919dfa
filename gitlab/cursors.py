"""Per-project incremental cursors, kept in dlt resource state.

GitLab filters `updated_after`/`since` per project, and a project added later must still get its
history; one cursor per table (dlt's `incremental`) would skip it, so each project keeps its own.
"""

from typing import Any, Callable, Dict, Iterator, List

import dlt

from gitlab.tables import INCREMENTAL_TABLES, cursor_of

TDataItem = Dict[str, Any]

CURSORS_RESOURCE = "project_cursors"


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

    def __init__(self, table: str, project_key: str = "project_id") -> None:
        self.table = table
        self.cursor_field, _ = cursor_of(table)
        self.project_key = project_key
        self._loaded_at_start: Dict[str, Dict[str, Any]] = {}

    def __call__(self, row: TDataItem) -> bool:
        project = str(row[self.project_key])
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
