"""Every table the source loads, declared once: its key, how it is kept, its cursor and its family.

The rest_api resources, the per-project cursors, the Airflow DAG's task families, the job-log
tables' hints and the tests' key map are all derived from `TABLES`.
"""

from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple, TypedDict, Union

from dlt.common.schema.typing import TWriteDisposition

MERGE: TWriteDisposition = "merge"
REPLACE: TWriteDisposition = "replace"


class TTableHints(TypedDict):
    """The hints of one table as `dlt.resource` and rest_api's `EndpointResource` take them."""

    name: str
    primary_key: Union[str, List[str]]
    write_disposition: TWriteDisposition


@dataclass(frozen=True)
class Table:
    """One table: its `name`, `primary_key`, `write_disposition` and the Airflow `family` it loads in.

    `cursor` is (field in GitLab's rows, request parameter that takes it) for tables read
    incrementally per project; "replace" tables are lists GitLab only returns whole.
    """

    name: str
    primary_key: Tuple[str, ...]
    write_disposition: TWriteDisposition
    family: str
    cursor: Optional[Tuple[str, str]] = None


UPDATED_AFTER = ("updated_at", "updated_after")

TABLES: Tuple[Table, ...] = (
    Table("groups", ("id",), MERGE, "scope"),
    Table("group_members", ("group_id", "id"), REPLACE, "scope"),
    Table("projects", ("id",), MERGE, "scope"),
    Table("project_members", ("project_id", "id"), REPLACE, "scope"),
    Table("pipelines", ("id",), MERGE, "ci", UPDATED_AFTER),
    Table("jobs", ("id",), MERGE, "ci"),
    Table("environments", ("id",), REPLACE, "ci"),
    Table("deployments", ("id",), MERGE, "ci", UPDATED_AFTER),
    Table("job_logs", ("job_id",), MERGE, "ci"),
    Table("job_log_sections", ("job_id", "section_index"), MERGE, "ci"),
    Table("secret_findings", ("job_id", "finding_index"), MERGE, "ci"),
    Table("issues", ("id",), MERGE, "issues", UPDATED_AFTER),
    Table("issue_notes", ("id",), MERGE, "issues"),
    Table("milestones", ("id",), REPLACE, "issues"),
    Table("labels", ("id",), REPLACE, "issues"),
    Table("merge_requests", ("id",), MERGE, "merge_requests", UPDATED_AFTER),
    Table("merge_request_notes", ("id",), MERGE, "merge_requests"),
    Table("commits", ("project_id", "id"), MERGE, "repository", ("committed_date", "since")),
    Table("branches", ("project_id", "name"), REPLACE, "repository"),
    Table("tags", ("project_id", "name"), REPLACE, "repository"),
    Table("releases", ("project_id", "tag_name"), REPLACE, "repository"),
)
TABLE: Dict[str, Table] = {table.name: table for table in TABLES}
INCREMENTAL_TABLES: Tuple[Table, ...] = tuple(table for table in TABLES if table.cursor)


def families() -> Dict[str, List[str]]:
    """Table names per family, in declaration order; the first family (`scope`) is everyone's parent."""
    grouped: Dict[str, List[str]] = {}
    for table in TABLES:
        grouped.setdefault(table.family, []).append(table.name)
    return grouped


def cursor_of(name: str) -> Tuple[str, str]:
    """(cursor field in the rows, request parameter) of the incremental table `name`."""
    cursor = TABLE[name].cursor
    if cursor is None:
        raise KeyError(f"table {name!r} has no cursor")
    return cursor


def hints(name: str) -> TTableHints:
    """The dlt hints of table `name`: `name`, `primary_key` and `write_disposition`."""
    table = TABLE[name]
    key = table.primary_key
    return {
        "name": name,
        "primary_key": key[0] if len(key) == 1 else list(key),
        "write_disposition": table.write_disposition,
    }
