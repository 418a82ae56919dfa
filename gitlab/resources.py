"""The declarative part of the source: dlt rest_api resources per GitLab family, as data.

Each entry started as an endpoint of the generated catalogue (`rest_api/generated/`) and adds what
curation knows: parent→child `resolve`, keys unique across projects, `merge` or `replace`, cursors.
"""

from typing import Any, Dict, List, Optional

from dlt.sources.rest_api import EndpointResource

from gitlab.cursors import CURSORS_RESOURCE, INCREMENTAL_TABLES, CursorFilter
from gitlab.transforms import commit_dates_in_utc, rename_parent_key

TResponseAction = Any

PROJECT = "/projects/{resources.projects.id}"
# Incremental endpoints hang off `project_cursors`, whose rows carry each project's resume points.
CURSOR_PROJECT = f"/projects/{{resources.{CURSORS_RESOURCE}.id}}"
NEWEST_LAST = {"order_by": "updated_at", "sort": "asc"}
WITH_PROJECT_ID = {
    "include_from_parent": ["id"],
    "processing_steps": [{"map": rename_parent_key("_projects_id", "project_id")}],
}
# Lists that GitLab only ever returns whole: a full reload makes deleted items disappear.
SNAPSHOT = {"write_disposition": "replace"}
MERGED = {"write_disposition": "merge"}
# One request per parent row (pipeline, issue, merge request): dlt fetches them on its `[extract] workers` pool.
PER_PARENT = {"write_disposition": "merge", "parallelized": True}


def incremental_resource(
    table: str,
    path: str,
    params: Optional[Dict[str, Any]] = None,
    rows_have_project_id: bool = True,
    **endpoint: Any,
) -> EndpointResource:
    """A merged resource under `project_cursors` that resumes at each project's own cursor.

    Args:
        table (str): Table name, a key of `INCREMENTAL_TABLES`.
        path (str): Endpoint path below `/projects/:id`.
        params (dict, optional): Further query parameters.
        rows_have_project_id (bool): False when GitLab's rows lack `project_id`, which is then added.
        **endpoint: Further endpoint settings, e.g. `response_actions`.

    Returns:
        EndpointResource: The resource's declaration.
    """
    _, cursor_param = INCREMENTAL_TABLES[table]
    steps: List[Dict[str, Any]] = []
    resource: Dict[str, Any] = {}
    if not rows_have_project_id:
        resource["include_from_parent"] = ["id"]
        steps.append({"map": rename_parent_key(f"_{CURSORS_RESOURCE}_id", "project_id")})
    steps.append({"filter": CursorFilter(table)})
    return {
        "name": table,
        "primary_key": ["project_id", "id"] if table == "commits" else "id",
        **MERGED,
        "endpoint": {
            "path": f"{CURSOR_PROJECT}/{path}",
            "params": {cursor_param: f"{{resources.{CURSORS_RESOURCE}.{table}_since}}", **(params or {})},
            **endpoint,
        },
        "processing_steps": steps,
        **resource,
    }


def member_resources() -> List[EndpointResource]:
    """`group_members` and `project_members`: direct members, replaced each run so removals show."""
    return [
        {
            "name": "group_members",
            "primary_key": ["group_id", "id"],
            **SNAPSHOT,
            "endpoint": {"path": "/groups/{resources.groups.id}/members"},
            "include_from_parent": ["id"],
            "processing_steps": [{"map": rename_parent_key("_groups_id", "group_id")}],
        },
        {
            "name": "project_members",
            "primary_key": ["project_id", "id"],
            **SNAPSHOT,
            "endpoint": {"path": f"{PROJECT}/members"},
            **WITH_PROJECT_ID,
        },
    ]


def ci_resources() -> List[EndpointResource]:
    """`pipelines` (by `updated_after`), their `jobs` (retried too), `environments`, `deployments`."""
    return [
        incremental_resource("pipelines", "pipelines", NEWEST_LAST),
        {
            "name": "jobs",
            "primary_key": "id",
            **PER_PARENT,
            "endpoint": {
                "path": "/projects/{resources.pipelines.project_id}/pipelines/{resources.pipelines.id}/jobs",
                "params": {"include_retried": "true"},
            },
        },
        {
            "name": "environments",
            "primary_key": "id",
            **SNAPSHOT,
            "endpoint": {"path": f"{PROJECT}/environments"},
            **WITH_PROJECT_ID,
        },
        incremental_resource("deployments", "deployments", NEWEST_LAST, rows_have_project_id=False),
    ]


def issue_resources() -> List[EndpointResource]:
    """`issues` (by `updated_after`) with their `issue_notes`, `milestones`, project `labels`."""
    return [
        incremental_resource("issues", "issues", {"scope": "all", "state": "all", **NEWEST_LAST}),
        {
            "name": "issue_notes",
            "primary_key": "id",
            **PER_PARENT,
            "endpoint": {
                "path": "/projects/{resources.issues.project_id}/issues/{resources.issues.iid}/notes"
            },
        },
        {
            "name": "milestones",
            "primary_key": "id",
            **SNAPSHOT,
            "endpoint": {"path": f"{PROJECT}/milestones"},
        },
        {
            "name": "labels",
            "primary_key": "id",
            **SNAPSHOT,
            # group labels would repeat once per project; they are not this table's rows
            "endpoint": {"path": f"{PROJECT}/labels", "params": {"include_ancestor_groups": "false"}},
            **WITH_PROJECT_ID,
        },
    ]


def merge_request_resources() -> List[EndpointResource]:
    """`merge_requests` (by `updated_after`) with their `merge_request_notes`."""
    return [
        incremental_resource(
            "merge_requests", "merge_requests", {"scope": "all", "state": "all", **NEWEST_LAST}
        ),
        {
            "name": "merge_request_notes",
            "primary_key": "id",
            **PER_PARENT,
            "endpoint": {
                "path": "/projects/{resources.merge_requests.project_id}/merge_requests/"
                "{resources.merge_requests.iid}/notes"
            },
        },
    ]


def repository_resources(denied_actions: List[TResponseAction]) -> List[EndpointResource]:
    """`commits` (by `since`), `branches`, `tags` and `releases`."""
    return [
        incremental_resource(
            "commits",
            "repository/commits",
            rows_have_project_id=False,
            response_actions=[*denied_actions, {"status_code": 200, "action": commit_dates_in_utc}],
        ),
        {
            "name": "branches",
            "primary_key": ["project_id", "name"],
            **SNAPSHOT,
            "endpoint": {"path": f"{PROJECT}/repository/branches"},
            **WITH_PROJECT_ID,
        },
        {
            "name": "tags",
            "primary_key": ["project_id", "name"],
            **SNAPSHOT,
            "endpoint": {"path": f"{PROJECT}/repository/tags"},
            **WITH_PROJECT_ID,
        },
        {
            "name": "releases",
            "primary_key": ["project_id", "tag_name"],
            **SNAPSHOT,
            "endpoint": {"path": f"{PROJECT}/releases"},
            **WITH_PROJECT_ID,
        },
    ]


def declared_resources(denied_actions: List[TResponseAction]) -> List[EndpointResource]:
    """All declarative resources, children of `groups`, `projects` and `project_cursors`."""
    return [
        *member_resources(),
        *ci_resources(),
        *issue_resources(),
        *merge_request_resources(),
        *repository_resources(denied_actions),
    ]
