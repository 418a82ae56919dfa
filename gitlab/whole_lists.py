"""Lists GitLab only returns whole: members, environments, milestones, labels, branches, tags, releases.

Each is a "replace" table, so that what was deleted in GitLab disappears. A run reads the list of every
group or project in scope at once, and loads the table again only when its content changed since its
last load: one digest of the whole table is kept in its dlt resource state. Only a whole table can be
compared, and dlt's rest_api hands on one parent's rows at a time, so these lists are read here, each
page with dlt's REST client.
"""

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterator, List, Optional

import dlt
from dlt.common.schema.typing import TWriteDisposition
from dlt.common.schema.utils import has_table_seen_data
from dlt.sources import DltResource
from dlt.sources.helpers.rest_client import RESTClient

from gitlab.settings import PER_PAGE
from gitlab.tables import REPLACE, hints
from gitlab.unchanged import table_digest

TDataItem = Dict[str, Any]

PARENTS_AT_ONCE = 8  # lists of one table asked at once; the tables themselves run on dlt's `[extract] workers`


@dataclass(frozen=True)
class WholeList:
    """One list: its `table`, its `path` with the parent's `{id}`, and whether its parent is a group or project.

    `key_from_parent` names the column that carries the parent's id when GitLab's rows lack it.
    """

    table: str
    path: str
    key_from_parent: Optional[str] = None
    params: Dict[str, str] = field(default_factory=dict)

    @property
    def of_groups(self) -> bool:
        return self.path.startswith("/groups/")


def _replaced(_: Any) -> TWriteDisposition:
    """Says `replace` for every row: as a function, since dlt truncates a `replace` resource that yields nothing."""
    return REPLACE


def _has_data(table: str) -> bool:
    schema = dlt.current.source_schema().tables.get(table)
    return schema is not None and has_table_seen_data(schema)


def whole_list_resource(
    declared: WholeList,
    parents: Callable[[], List[TDataItem]],
    client: RESTClient,
    hooks: Optional[Dict[str, Any]],
) -> DltResource:
    """The resource of one list: every parent's rows, yielded only when the table differs from its last load.

    Args:
        declared (WholeList): The list.
        parents (Callable): Returns the groups or projects in scope.
        client (RESTClient): The run's client.
        hooks (dict, optional): Response hooks (a 403 or 404 skips the parent's list).

    Returns:
        DltResource: The table's resource, parallel to the others on dlt's workers.
    """

    def _rows_of(parent: TDataItem) -> List[TDataItem]:
        params = {"per_page": PER_PAGE, **declared.params}
        rows = [
            row
            for page in client.paginate(declared.path.format(id=parent["id"]), params=params, hooks=hooks)
            for row in page
        ]
        if declared.key_from_parent:
            for row in rows:
                row[declared.key_from_parent] = parent["id"]
        return rows

    def _table() -> Iterator[Any]:
        with ThreadPoolExecutor(PARENTS_AT_ONCE) as pool:
            rows = [row for rows in pool.map(_rows_of, parents()) for row in rows]
        state = dlt.current.resource_state(declared.table)
        digest = table_digest(rows)
        if state.get("digest") == digest:
            return
        state["digest"] = digest
        if rows:
            yield rows
        elif _has_data(declared.table):  # emptied in GitLab: this empty list, with plain hints, makes dlt truncate it
            yield dlt.mark.with_hints(
                dlt.mark.materialize_table_schema(),
                dlt.mark.make_hints(table_name=declared.table, write_disposition=REPLACE),
            )

    def _table_name(_: Any) -> str:  # dlt takes a function for one hint only when the table name is one too
        return declared.table

    return dlt.resource(
        _table,
        name=declared.table,
        table_name=_table_name,
        primary_key=hints(declared.table)["primary_key"],
        write_disposition=_replaced,
        parallelized=True,
    )
