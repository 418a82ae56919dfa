"""Small row and response transforms that GitLab's data needs before dlt sees it."""

import json
from datetime import UTC, datetime
from typing import Any, Callable, Dict

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
