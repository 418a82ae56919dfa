"""Leaves out rows of `groups` and `projects` that a run would send again unchanged.

GitLab has no `updated_after` for groups and projects, and they are the run's scope, read whole every
run; merging them again would give a run with nothing new a load of its own. Each table keeps one
short digest per row as last loaded, in its dlt resource state (so it is saved, restored and reset
with the data), and lets a row through only when its digest differs.
"""

import hashlib
import json
from typing import Any, Dict

import dlt

from gitlab.tables import TABLE

DIGEST_BYTES = 8  # 16 hex characters a row in dlt state; two different rows share one with odds of 2**-64

TDataItem = Dict[str, Any]


def row_digest(row: TDataItem) -> str:
    """A digest of `row`'s content, the same whatever the order of its keys."""
    content = json.dumps(row, sort_keys=True, default=str).encode()
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
