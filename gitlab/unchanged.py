"""Digests of rows, so that a run leaves out what it would send again unchanged.

GitLab has no `updated_after` for groups and projects, nor for the lists it only returns whole; they are
read every run, and loading them again would give a run with nothing new a load of its own. Digests of
what was last loaded are kept in dlt resource state (saved, restored and reset with the data): one per
row of `groups` and `projects` (merged by key), one per whole list (see `gitlab.whole_lists`).
"""

import hashlib
import json
from typing import Any, Dict, List

import dlt

from gitlab.tables import TABLE

DIGEST_BYTES = 8  # 16 hex characters a row in dlt state; two different rows share one with odds of 2**-64

TDataItem = Dict[str, Any]


def row_digest(row: TDataItem) -> str:
    """A digest of `row`'s content, the same whatever the order of its keys."""
    content = json.dumps(row, sort_keys=True, default=str).encode()
    return hashlib.blake2b(content, digest_size=DIGEST_BYTES).hexdigest()


def table_digest(rows: List[TDataItem]) -> str:
    """A digest of all of `rows`, the same whatever their order."""
    content = "".join(sorted(row_digest(row) for row in rows)).encode()
    return hashlib.blake2b(content, digest_size=DIGEST_BYTES).hexdigest()


class SkipUnchanged:
    """Filter step of a merge table without a cursor: passes new and changed rows, remembering what they were."""

    def __init__(self, table: str) -> None:
        self.table = table
        self.primary_key = TABLE[table].primary_key

    def __call__(self, row: TDataItem) -> bool:
        digests: Dict[str, str] = dlt.current.resource_state(self.table).setdefault("digests", {})
        key = "/".join(str(row[column]) for column in self.primary_key)
        digest = row_digest(row)
        if digests.get(key) == digest:
            return False
        digests[key] = digest
        return True
