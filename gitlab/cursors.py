"""Per-project incremental cursors, kept in dlt resource state.

GitLab filters `updated_after`/`since` per project, and a project added later must still get its
history; one cursor per table (dlt's `incremental`) would skip it, so each project keeps its own.
A project whose endpoint failed in a run keeps that table's cursor where the run found it.
"""

import re
import threading
from datetime import UTC, datetime
from typing import Any, Callable, Dict, Iterator, List, Optional, Protocol, Set, Tuple

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


def project_cursors(
    start_date: str, projects: Callable[[], List[TDataItem]]
) -> Callable[[], Iterator[List[TDataItem]]]:
    """Makes the resource function that pairs each project id with where each incremental table resumes.

    Args:
        start_date (str): Where a project's history starts when a table has no cursor for it yet.
        projects (Callable): Returns the projects in scope.

    Returns:
        Callable: The resource function; its rows feed the incremental endpoints' parameters.
    """

    def _with_cursors() -> Iterator[List[TDataItem]]:
        yield [
            {
                "id": project["id"],
                **{
                    f"{table.name}_since": _cursors(table.name).get(str(project["id"]), {}).get("at", start_date)
                    for table in INCREMENTAL_TABLES
                },
            }
            for project in projects()
        ]

    return _with_cursors


_PROJECT_PART = re.compile(r"^/projects/([^/]+)/(.+)$")


class Holder(Protocol):
    def hold(self, project: str) -> None:
        """Keeps `project`'s resume point where this run found it."""


class CursorHolds:
    """Which projects' cursors must stay where this run found them, because some of their data was not read.

    A failed child endpoint counts for its parent's table: the issues were loaded, but the next run
    must read them again to read their notes. One per run, shared by its cursor filters (copies of
    dlt's rest_api config included), the job logs' watermarks, and the HTTP session that sees the
    failures, from any thread.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._holders: List[Tuple[str, Holder]] = []  # (endpoint path below /projects/:id, what depends on it)

    def __deepcopy__(self, memo: Dict[int, Any]) -> "CursorHolds":
        return self

    def register(self, path: str, holder: Holder) -> None:
        """`holder` keeps a project's resume point when its endpoint `path` (or one below it) fails."""
        self._holders.append((path, holder))

    def hold_endpoint(self, route: str) -> None:
        """Holds what `route` (e.g. `/projects/12/issues/3/notes`, below /api/v4) was to be read for, if anything."""
        match = _PROJECT_PART.match(route)
        if match is None:
            return
        project, below = match.groups()
        with self.lock:
            for path, holder in self._holders:
                if below == path or below.startswith(f"{path}/"):
                    holder.hold(project)


class CursorFilter:
    """Filter step: drops rows already loaded at a project's cursor and moves the cursor forward.

    GitLab's `updated_after` and `since` include the boundary, so the rows at a cursor come back
    on the next run; remembering their ids keeps their children (jobs, notes) from being re-read.
    A held project's rows still load, but its cursor stays where the run found it.
    """

    def __init__(self, table: str, path: str, holds: CursorHolds) -> None:
        self.table = table
        self.cursor_field, _ = cursor_of(table)
        self.holds = holds
        self._loaded_at_start: Dict[str, Dict[str, Any]] = {}
        self._held: Set[str] = set()
        self._state: Optional[Dict[str, Any]] = None
        holds.register(path, self)

    def first_load(self, project: Any) -> bool:
        """True when the project had no cursor when this run first saw its rows: the table's first load of it."""
        return self._loaded_at_start.get(str(project)) == {}

    def __call__(self, row: TDataItem) -> bool:
        project = str(row["project_id"])
        with self.holds.lock:
            cursors = self._state = _cursors(self.table)
            stored = cursors.get(project)
            previous = self._loaded_at_start.setdefault(
                project, {"at": stored["at"], "ids": set(stored["ids"])} if stored else {}
            )
            value = row[self.cursor_field]
            row_id = row.get("id")
            if previous and (value < previous["at"] or (value == previous["at"] and row_id in previous["ids"])):
                return False
            if project in self._held:
                return True
            current = cursors.setdefault(project, {"at": value, "ids": []})
            if value > current["at"]:
                current.update(at=value, ids=[row_id])
            elif value == current["at"] and row_id not in current["ids"]:
                current["ids"].append(row_id)
            return True

    def hold(self, project: str) -> None:
        """Puts `project`'s cursor back where this run found it, and keeps it there (called under `holds.lock`)."""
        self._held.add(project)
        if self._state is None or project not in self._loaded_at_start:
            return  # no row of the project passed yet: its cursor has not moved
        start = self._loaded_at_start[project]
        if start:
            self._state[project] = {"at": start["at"], "ids": sorted(start["ids"])}
        else:
            self._state.pop(project, None)
