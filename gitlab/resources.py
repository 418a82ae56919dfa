"""The declarative part of the source: dlt rest_api resources per GitLab family, as data.

Each entry started as an endpoint of the generated catalogue (`rest_api/generated_reference/`) and adds what
curation knows: parent→child `resolve` and cursors; keys and dispositions come from `gitlab.tables`.
"""

from typing import Any, Dict, List, Optional

from dlt.sources.rest_api import EndpointResource

from gitlab.cursors import CURSORS_RESOURCE, CursorFilter, CursorHolds
from gitlab.tables import cursor_of, hints
from gitlab.transforms import commit_dates_in_utc, rename_parent_key

TResponseAction = Dict[str, Any]

PROJECT = "/projects/{resources.projects.id}"
# Incremental endpoints hang off `project_cursors`, whose rows carry each project's resume points.
CURSOR_PROJECT = f"/projects/{{resources.{CURSORS_RESOURCE}.id}}"
NEWEST_LAST = {"order_by": "updated_at", "sort": "asc"}
WITH_PROJECT_ID: Dict[str, Any] = {
    "include_from_parent": ["id"],
    "processing_steps": [{"map": rename_parent_key("_projects_id", "project_id")}],
}
# One request per parent row (pipeline, issue, merge request): dlt fetches them on its `[extract] workers` pool.
PER_PARENT = {"parallelized": True}


def resource(table: str, path: str, **declaration: Any) -> EndpointResource:
    """The declaration of `table`: its hints from `gitlab.tables`, its endpoint `path`, and the rest as given."""
    endpoint: Dict[str, Any] = {"path": path, **declaration.pop("endpoint", {})}
    declared: EndpointResource = {**hints(table), "endpoint": endpoint, **declaration}  # type: ignore[typeddict-item]
    return declared


def project_list(table: str, path: str, **endpoint: Any) -> EndpointResource:
    """A list below each project whose rows lack `project_id`, which is added from the parent."""
    return resource(table, f"{PROJECT}/{path}", endpoint=endpoint, **WITH_PROJECT_ID)


def incremental_resource(
    table: str,
    path: str,
    holds: CursorHolds,
    params: Optional[Dict[str, Any]] = None,
    rows_have_project_id: bool = True,
    **endpoint: Any,
) -> EndpointResource:
    """A merged resource under `project_cursors` that resumes at each project's own cursor.

    Args:
        table (str): Table name, an incremental table of `gitlab.tables`.
        path (str): Endpoint path below `/projects/:id`.
        holds (CursorHolds): The run's cursor holds: a project whose endpoint failed keeps its cursor.
        params (dict, optional): Further query parameters.
        rows_have_project_id (bool): False when GitLab's rows lack `project_id`, which is then added.
        **endpoint: Further endpoint settings, e.g. `response_actions`.

    Returns:
        EndpointResource: The resource's declaration.
    """
    _, cursor_param = cursor_of(table)
    steps: List[Dict[str, Any]] = []
    from_parent: Dict[str, Any] = {}
    if not rows_have_project_id:
        from_parent["include_from_parent"] = ["id"]
        steps.append({"map": rename_parent_key(f"_{CURSORS_RESOURCE}_id", "project_id")})
    steps.append({"filter": CursorFilter(table, path, holds)})
    params = {cursor_param: f"{{resources.{CURSORS_RESOURCE}.{table}_since}}", **(params or {})}
    return resource(
        table, f"{CURSOR_PROJECT}/{path}", endpoint={"params": params, **endpoint}, processing_steps=steps, **from_parent
    )


def member_resources() -> List[EndpointResource]:
    """`group_members` and `project_members`: direct members, replaced each run so removals show."""
    return [
        resource(
            "group_members",
            "/groups/{resources.groups.id}/members",
            include_from_parent=["id"],
            processing_steps=[{"map": rename_parent_key("_groups_id", "group_id")}],
        ),
        project_list("project_members", "members"),
    ]


def ci_resources(holds: CursorHolds) -> List[EndpointResource]:
    """`pipelines` (by `updated_after`), their `jobs` (retried too), `environments`, `deployments`."""
    return [
        incremental_resource("pipelines", "pipelines", holds, NEWEST_LAST),
        resource(
            "jobs",
            "/projects/{resources.pipelines.project_id}/pipelines/{resources.pipelines.id}/jobs",
            endpoint={"params": {"include_retried": "true"}},
            **PER_PARENT,
        ),
        project_list("environments", "environments"),
        incremental_resource("deployments", "deployments", holds, NEWEST_LAST, rows_have_project_id=False),
    ]


def issue_resources(holds: CursorHolds) -> List[EndpointResource]:
    """`issues` (by `updated_after`) with their `issue_notes`, `milestones`, project `labels`."""
    return [
        incremental_resource("issues", "issues", holds, {"scope": "all", "state": "all", **NEWEST_LAST}),
        resource("issue_notes", "/projects/{resources.issues.project_id}/issues/{resources.issues.iid}/notes", **PER_PARENT),
        resource("milestones", f"{PROJECT}/milestones"),
        # group labels would repeat once per project; they are not this table's rows
        project_list("labels", "labels", params={"include_ancestor_groups": "false"}),
    ]


def merge_request_resources(holds: CursorHolds) -> List[EndpointResource]:
    """`merge_requests` (by `updated_after`) with their `merge_request_notes`."""
    return [
        incremental_resource(
            "merge_requests", "merge_requests", holds, {"scope": "all", "state": "all", **NEWEST_LAST}
        ),
        resource(
            "merge_request_notes",
            "/projects/{resources.merge_requests.project_id}/merge_requests/{resources.merge_requests.iid}/notes",
            **PER_PARENT,
        ),
    ]


def repository_resources(denied_actions: List[TResponseAction], holds: CursorHolds) -> List[EndpointResource]:
    """`commits` (by `since`), `branches`, `tags` and `releases`."""
    return [
        incremental_resource(
            "commits",
            "repository/commits",
            holds,
            rows_have_project_id=False,
            response_actions=[*denied_actions, {"status_code": 200, "action": commit_dates_in_utc}],
        ),
        project_list("branches", "repository/branches"),
        project_list("tags", "repository/tags"),
        project_list("releases", "releases"),
    ]


def declared_resources(denied_actions: List[TResponseAction], holds: CursorHolds) -> List[EndpointResource]:
    """All declarative resources, children of `groups`, `projects` and `project_cursors`.

    Args:
        denied_actions (list): Response actions that skip a project's endpoint the token may not read.
        holds (CursorHolds): Where the run holds the cursors of projects whose endpoints failed.

    Returns:
        List[EndpointResource]: The declarations, for dlt's rest_api.
    """
    return [
        *member_resources(),
        *ci_resources(holds),
        *issue_resources(holds),
        *merge_request_resources(holds),
        *repository_resources(denied_actions, holds),
    ]
