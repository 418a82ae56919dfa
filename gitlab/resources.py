"""The declarative part of the source: dlt rest_api resources per GitLab family, as data.

Each entry started as an endpoint of the generated catalogue (`rest_api/generated/`) and adds what
curation knows: parent→child `resolve`, keys unique across projects, `merge` or `replace`, cursors.
"""

from typing import Any, Dict, List

from dlt.sources.rest_api import EndpointResource

from gitlab.transforms import commit_dates_in_utc, rename_parent_key

TResponseAction = Any

PROJECT = "/projects/{resources.projects.id}"
WITH_PROJECT_ID = {
    "include_from_parent": ["id"],
    "processing_steps": [{"map": rename_parent_key("_projects_id", "project_id")}],
}
# Lists that GitLab only ever returns whole: a full reload makes deleted items disappear.
SNAPSHOT = {"write_disposition": "replace"}
MERGED = {"write_disposition": "merge"}


def _updated_since(start_date: str, cursor: str = "updated_at", param: str = "updated_after") -> Dict[str, Any]:
    return {
        "params": {param: "{incremental.start_value}"},
        "incremental": {"cursor_path": cursor, "initial_value": start_date},
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


def ci_resources(start_date: str) -> List[EndpointResource]:
    """`pipelines` (by `updated_after`), their `jobs` (retried too), `environments`, `deployments`."""
    return [
        {
            "name": "pipelines",
            "primary_key": "id",
            **MERGED,
            "endpoint": {
                "path": f"{PROJECT}/pipelines",
                **_merge_params(_updated_since(start_date), {"order_by": "updated_at", "sort": "asc"}),
            },
        },
        {
            "name": "jobs",
            "primary_key": "id",
            **MERGED,
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
        {
            "name": "deployments",
            "primary_key": "id",
            **MERGED,
            "endpoint": {
                "path": f"{PROJECT}/deployments",
                **_merge_params(_updated_since(start_date), {"order_by": "updated_at", "sort": "asc"}),
            },
            **WITH_PROJECT_ID,
        },
    ]


def issue_resources(start_date: str) -> List[EndpointResource]:
    """`issues` (by `updated_after`) with their `issue_notes`, `milestones`, project `labels`."""
    return [
        {
            "name": "issues",
            "primary_key": "id",
            **MERGED,
            "endpoint": {
                "path": f"{PROJECT}/issues",
                **_merge_params(
                    _updated_since(start_date),
                    {"scope": "all", "state": "all", "order_by": "updated_at", "sort": "asc"},
                ),
            },
        },
        {
            "name": "issue_notes",
            "primary_key": "id",
            **MERGED,
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


def merge_request_resources(start_date: str) -> List[EndpointResource]:
    """`merge_requests` (by `updated_after`) with their `merge_request_notes`."""
    return [
        {
            "name": "merge_requests",
            "primary_key": "id",
            **MERGED,
            "endpoint": {
                "path": f"{PROJECT}/merge_requests",
                **_merge_params(
                    _updated_since(start_date),
                    {"scope": "all", "state": "all", "order_by": "updated_at", "sort": "asc"},
                ),
            },
        },
        {
            "name": "merge_request_notes",
            "primary_key": "id",
            **MERGED,
            "endpoint": {
                "path": "/projects/{resources.merge_requests.project_id}/merge_requests/"
                "{resources.merge_requests.iid}/notes"
            },
        },
    ]


def repository_resources(start_date: str, denied_actions: List[TResponseAction]) -> List[EndpointResource]:
    """`commits` (by `since`), `branches`, `tags` and `releases`."""
    return [
        {
            "name": "commits",
            "primary_key": ["project_id", "id"],
            **MERGED,
            "endpoint": {
                "path": f"{PROJECT}/repository/commits",
                **_updated_since(start_date, cursor="committed_date", param="since"),
                "response_actions": [*denied_actions, {"status_code": 200, "action": commit_dates_in_utc}],
            },
            **WITH_PROJECT_ID,
        },
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


def _merge_params(endpoint: Dict[str, Any], params: Dict[str, Any]) -> Dict[str, Any]:
    return {**endpoint, "params": {**endpoint.get("params", {}), **params}}


def declared_resources(start_date: str, denied_actions: List[TResponseAction]) -> List[EndpointResource]:
    """All declarative resources, children of the hand-resolved `groups` and `projects`."""
    return [
        *member_resources(),
        *ci_resources(start_date),
        *issue_resources(start_date),
        *merge_request_resources(start_date),
        *repository_resources(start_date, denied_actions),
    ]
