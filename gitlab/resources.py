"""The declarative part of the source: dlt rest_api resources per GitLab family, as data.

Each entry started as an endpoint of the generated catalogue (`rest_api/generated_reference/`) and adds what
curation knows: parent→child `resolve` and cursors; keys and dispositions come from `gitlab.tables`. The
lists GitLab only returns whole, the "replace" tables, are `WHOLE_LISTS` (read by `gitlab.whole_lists`).
"""

from typing import Any, Dict, List, Optional

from dlt.sources.rest_api import EndpointResource
from dlt.sources.rest_api.typing import Endpoint, ProcessingSteps, ResponseAction

from gitlab.cursors import CURSORS_RESOURCE, CursorFilter, CursorHolds
from gitlab.tables import cursor_of, hints
from gitlab.transforms import commit_dates_in_utc, rename_parent_key
from gitlab.whole_lists import WholeList

# Incremental endpoints hang off `project_cursors`, whose rows carry each project's resume points.
CURSOR_PROJECT = f"/projects/{{resources.{CURSORS_RESOURCE}.id}}"
NEWEST_LAST = {"order_by": "updated_at", "sort": "asc"}

WHOLE_LISTS = (
    WholeList("group_members", "/groups/{id}/members", key_from_parent="group_id"),
    WholeList("project_members", "/projects/{id}/members", key_from_parent="project_id"),
    WholeList("environments", "/projects/{id}/environments", key_from_parent="project_id"),
    WholeList("milestones", "/projects/{id}/milestones"),
    # group labels would repeat once per project; they are not this table's rows
    WholeList(
        "labels", "/projects/{id}/labels", key_from_parent="project_id", params={"include_ancestor_groups": "false"}
    ),
    WholeList("branches", "/projects/{id}/repository/branches", key_from_parent="project_id"),
    WholeList("tags", "/projects/{id}/repository/tags", key_from_parent="project_id"),
    WholeList("releases", "/projects/{id}/releases", key_from_parent="project_id"),
)


def resource(
    table: str,
    path: str,
    params: Optional[Dict[str, Any]] = None,
    key_from_parent: Optional[str] = None,
    steps: Optional[List[ProcessingSteps]] = None,
    response_actions: Optional[List[ResponseAction]] = None,
) -> EndpointResource:
    """The declaration of `table`: its hints from `gitlab.tables`, and its endpoint.

    Args:
        table (str): Table name in `gitlab.tables`.
        path (str): Endpoint path, with `{resources.<parent>.<field>}` placeholders.
        params (dict, optional): Query parameters.
        key_from_parent (str, optional): `project_id` or `group_id` when GitLab's rows lack their
            parent's key, which is then copied from the parent's `id`.
        steps (list, optional): Further processing steps, after the parent key is added.
        response_actions (list, optional): Replaces the default response actions.

    Returns:
        EndpointResource: The resource's declaration.
    """
    endpoint: Endpoint = {"path": path}
    if params:
        endpoint["params"] = params
    if response_actions:
        endpoint["response_actions"] = response_actions
    declared: EndpointResource = {**hints(table), "endpoint": endpoint}
    processing: List[ProcessingSteps] = []
    if key_from_parent:
        parent = path.split("{resources.", 1)[1].split(".", 1)[0]
        declared["include_from_parent"] = ["id"]
        processing.append({"map": rename_parent_key(f"_{parent}_id", key_from_parent)})
    processing += steps or []
    if processing:
        declared["processing_steps"] = processing
    return declared


def incremental_resource(
    table: str,
    path: str,
    holds: CursorHolds,
    params: Optional[Dict[str, Any]] = None,
    rows_have_project_id: bool = True,
    response_actions: Optional[List[ResponseAction]] = None,
    cursor_filter: Optional[CursorFilter] = None,
) -> EndpointResource:
    """A merged resource under `project_cursors` that resumes at each project's own cursor.

    Args:
        table (str): Table name, an incremental table of `gitlab.tables`.
        path (str): Endpoint path below `/projects/:id`.
        holds (CursorHolds): The run's cursor holds: a project whose endpoint failed keeps its cursor.
        params (dict, optional): Further query parameters.
        rows_have_project_id (bool): False when GitLab's rows lack `project_id`, which is then added.
        response_actions (list, optional): Replaces the default response actions.
        cursor_filter (CursorFilter, optional): The table's filter step, when others ask it about the run.

    Returns:
        EndpointResource: The resource's declaration.
    """
    _, cursor_param = cursor_of(table)
    return resource(
        table,
        f"{CURSOR_PROJECT}/{path}",
        params={cursor_param: f"{{resources.{CURSORS_RESOURCE}.{table}_since}}", **(params or {})},
        key_from_parent=None if rows_have_project_id else "project_id",
        steps=[{"filter": cursor_filter or CursorFilter(table, path, holds)}],
        response_actions=response_actions,
    )


def ci_resources(holds: CursorHolds, pipelines_filter: CursorFilter) -> List[EndpointResource]:
    """`pipelines` (by `updated_after`) and `deployments`; `jobs` are in `gitlab.job_listing`."""
    return [
        incremental_resource("pipelines", "pipelines", holds, NEWEST_LAST, cursor_filter=pipelines_filter),
        incremental_resource("deployments", "deployments", holds, NEWEST_LAST, rows_have_project_id=False),
    ]


def issue_resources(holds: CursorHolds) -> List[EndpointResource]:
    """`issues` (by `updated_after`) with their `issue_notes`."""
    return [
        incremental_resource("issues", "issues", holds, {"scope": "all", "state": "all", **NEWEST_LAST}),
        resource("issue_notes", "/projects/{resources.issues.project_id}/issues/{resources.issues.iid}/notes"),
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
        ),
    ]


def repository_resources(denied_actions: List[ResponseAction], holds: CursorHolds) -> List[EndpointResource]:
    """`commits` (by `since`)."""
    return [
        incremental_resource(
            "commits",
            "repository/commits",
            holds,
            rows_have_project_id=False,
            response_actions=[*denied_actions, {"status_code": 200, "action": commit_dates_in_utc}],
        ),
    ]


def declared_resources(
    denied_actions: List[ResponseAction], holds: CursorHolds, pipelines_filter: Optional[CursorFilter] = None
) -> List[EndpointResource]:
    """The rest_api resources: the incremental tables, children of `project_cursors`, and theirs.

    Args:
        denied_actions (list): Response actions that skip a project's endpoint the token may not read.
        holds (CursorHolds): Where the run holds the cursors of projects whose endpoints failed.
        pipelines_filter (CursorFilter, optional): The `pipelines` cursor filter, which `jobs`
            (`gitlab.job_listing`) asks whether a project loads for the first time; a new one when omitted.

    Returns:
        List[EndpointResource]: The declarations, for dlt's rest_api.
    """
    return [
        *ci_resources(holds, pipelines_filter or CursorFilter("pipelines", "pipelines", holds)),
        *issue_resources(holds),
        *merge_request_resources(holds),
        *repository_resources(denied_actions, holds),
    ]
