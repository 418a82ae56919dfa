from typing import List

import dlt
from dlt.extract.source import DltResource

from rest_api import rest_api_source
from rest_api.typing import RESTAPIConfig


@dlt.source(name="gitlab_source", max_table_nesting=2)
def gitlab_source(
    api_key: str = dlt.secrets.value,
    base_url: str = dlt.config.value,
) -> List[DltResource]:

    # source configuration
    source_config: RESTAPIConfig = {
        "client": {
            "base_url": base_url,
            "auth": {
                "type": "api_key",
                "api_key": api_key,
                "name": "PRIVATE-TOKEN",
                "location": "header",
            },
            "paginator": {
                "type": "page_number",
                "page_param": "page",
                "total_path": "",
                "maximum_page": 20,
            },
        },
        "resources": [
            # Lists branches in name order, each with its head commit.
            {
                "name": "projects_repository_branches",
                "table_name": "branch",
                "endpoint": {
                    "data_selector": "$",
                    "path": "/projects/{id}/repository/branches",
                    "params": {
                        "id": "FILL_ME_IN",  # TODO: fill in required path parameter
                        # the parameters below can optionally be configured
                        # "per_page": "20",
                        # "search": "OPTIONAL_CONFIG",
                        # "regex": "OPTIONAL_CONFIG",
                    },
                    "paginator": {
                        "type": "page_number",
                        "page_param": "page",
                        "total_path": "[*].commit.stats.total",
                    },
                },
            },
            # Lists commits reachable from a ref (the default branch when omitted), or from every ref with `all`. `since`/`until` bound the committed date.
            {
                "name": "projects_repository_commits",
                "table_name": "commit",
                "primary_key": "id",
                "write_disposition": "merge",
                "endpoint": {
                    "data_selector": "$",
                    "path": "/projects/{id}/repository/commits",
                    "params": {
                        "id": "FILL_ME_IN",  # TODO: fill in required path parameter
                        # the parameters below can optionally be configured
                        # "per_page": "20",
                        # "ref_name": "OPTIONAL_CONFIG",
                        # "since": "OPTIONAL_CONFIG",
                        # "until": "OPTIONAL_CONFIG",
                        # "path": "OPTIONAL_CONFIG",
                        # "author": "OPTIONAL_CONFIG",
                        # "all": "false",
                        # "with_stats": "false",
                        # "first_parent": "false",
                        # "order": "default",
                        # "trailers": "false",
                    },
                    "paginator": {
                        "type": "page_number",
                        "page_param": "page",
                        "total_path": "[*].stats.total",
                    },
                },
            },
            # Lists the project's deployments; `updated_after`/`updated_before` need `order_by=updated_at` (GitLab rejects them with other orders).
            {
                "name": "projects_deployments",
                "table_name": "deployment",
                "primary_key": "id",
                "write_disposition": "merge",
                "endpoint": {
                    "data_selector": "$",
                    "path": "/projects/{id}/deployments",
                    "params": {
                        "id": "FILL_ME_IN",  # TODO: fill in required path parameter
                        # the parameters below can optionally be configured
                        # "per_page": "20",
                        # "updated_after": "OPTIONAL_CONFIG",
                        # "updated_before": "OPTIONAL_CONFIG",
                        # "finished_after": "OPTIONAL_CONFIG",
                        # "finished_before": "OPTIONAL_CONFIG",
                        # "environment": "OPTIONAL_CONFIG",
                        # "status": "OPTIONAL_CONFIG",
                        # "order_by": "id",
                        # "sort": "asc",
                    },
                    "paginator": {
                        "type": "page_number",
                        "page_param": "page",
                        "total_path": "[*].deployable.commit.stats.total",
                    },
                },
            },
            # Lists the project's deployment environments.
            {
                "name": "projects_environments",
                "table_name": "environment",
                "primary_key": "id",
                "write_disposition": "merge",
                "endpoint": {
                    "data_selector": "$",
                    "path": "/projects/{id}/environments",
                    "params": {
                        "id": "FILL_ME_IN",  # TODO: fill in required path parameter
                        # the parameters below can optionally be configured
                        # "per_page": "20",
                        # "name": "OPTIONAL_CONFIG",
                        # "search": "OPTIONAL_CONFIG",
                        # "states": "OPTIONAL_CONFIG",
                    },
                },
            },
            # Reads a single group by numeric ID or URL-encoded full path.
            {
                "name": "groups",
                "table_name": "group",
                "primary_key": "id",
                "write_disposition": "merge",
                "endpoint": {
                    "data_selector": "$",
                    "path": "/groups/{id}",
                    "params": {
                        "id": "FILL_ME_IN",  # TODO: fill in required path parameter
                        # the parameters below can optionally be configured
                        # "with_projects": "true",
                    },
                },
            },
            # Lists the subgroups of a group at every depth; the group itself is not included.
            {
                "name": "groups_descendant_groups",
                "table_name": "group",
                "primary_key": "id",
                "write_disposition": "merge",
                "endpoint": {
                    "data_selector": "$",
                    "path": "/groups/{id}/descendant_groups",
                    "params": {
                        "id": "FILL_ME_IN",  # TODO: fill in required path parameter
                        # the parameters below can optionally be configured
                        # "per_page": "20",
                        # "skip_groups[]": "OPTIONAL_CONFIG",
                        # "all_available": "OPTIONAL_CONFIG",
                        # "search": "OPTIONAL_CONFIG",
                        # "order_by": "name",
                        # "sort": "asc",
                        # "statistics": "false",
                        # "owned": "false",
                        # "min_access_level": "OPTIONAL_CONFIG",
                    },
                },
            },
            # Lists only the immediate child groups of a group.
            {
                "name": "groups_subgroups",
                "table_name": "group",
                "primary_key": "id",
                "write_disposition": "merge",
                "endpoint": {
                    "data_selector": "$",
                    "path": "/groups/{id}/subgroups",
                    "params": {
                        "id": "FILL_ME_IN",  # TODO: fill in required path parameter
                        # the parameters below can optionally be configured
                        # "per_page": "20",
                        # "skip_groups[]": "OPTIONAL_CONFIG",
                        # "all_available": "OPTIONAL_CONFIG",
                        # "search": "OPTIONAL_CONFIG",
                        # "order_by": "name",
                        # "sort": "asc",
                        # "statistics": "false",
                        # "owned": "false",
                        # "min_access_level": "OPTIONAL_CONFIG",
                    },
                },
            },
            # Lists a project's issues; `updated_after` with `order_by=updated_at` gives an incremental window.
            {
                "name": "projects_issues",
                "table_name": "issue",
                "primary_key": "id",
                "write_disposition": "merge",
                "endpoint": {
                    "data_selector": "$",
                    "path": "/projects/{id}/issues",
                    "params": {
                        "id": "FILL_ME_IN",  # TODO: fill in required path parameter
                        # the parameters below can optionally be configured
                        # "per_page": "20",
                        # "updated_after": "OPTIONAL_CONFIG",
                        # "updated_before": "OPTIONAL_CONFIG",
                        # "created_after": "OPTIONAL_CONFIG",
                        # "created_before": "OPTIONAL_CONFIG",
                        # "state": "OPTIONAL_CONFIG",
                        # "scope": "all",
                        # "labels": "OPTIONAL_CONFIG",
                        # "milestone": "OPTIONAL_CONFIG",
                        # "author_id": "OPTIONAL_CONFIG",
                        # "assignee_id": "OPTIONAL_CONFIG",
                        # "search": "OPTIONAL_CONFIG",
                        # "confidential": "OPTIONAL_CONFIG",
                        # "order_by": "created_at",
                        # "sort": "desc",
                    },
                    "paginator": {
                        "type": "page_number",
                        "page_param": "page",
                        "total_path": "[*].task_completion_status.count",
                    },
                },
            },
            # Lists the jobs of a pipeline; retried attempts are left out unless `include_retried` is set.
            {
                "name": "projects_pipelines_jobs",
                "table_name": "job",
                "primary_key": "id",
                "write_disposition": "merge",
                "endpoint": {
                    "data_selector": "$",
                    "path": "/projects/{id}/pipelines/{pipeline_id}/jobs",
                    "params": {
                        "pipeline_id": {
                            "type": "resolve",
                            "resource": "projects_pipelines",
                            "field": "id",
                        },
                        "id": "FILL_ME_IN",  # TODO: fill in required path parameter
                        # the parameters below can optionally be configured
                        # "per_page": "20",
                        # "scope[]": "OPTIONAL_CONFIG",
                        # "include_retried": "false",
                    },
                    "paginator": {
                        "type": "page_number",
                        "page_param": "page",
                        "total_path": "[*].commit.stats.total",
                    },
                },
            },
            # Lists every job of a project, newest first. Keyset pagination (`pagination=keyset`, `order_by=id`, `sort=desc`) is the way to walk long histories.
            {
                "name": "projects_jobs",
                "table_name": "job",
                "primary_key": "id",
                "write_disposition": "merge",
                "endpoint": {
                    "data_selector": "$",
                    "path": "/projects/{id}/jobs",
                    "params": {
                        "id": "FILL_ME_IN",  # TODO: fill in required path parameter
                        # the parameters below can optionally be configured
                        # "per_page": "20",
                        # "pagination": "OPTIONAL_CONFIG",
                        # "scope[]": "OPTIONAL_CONFIG",
                        # "order_by": "id",
                        # "sort": "desc",
                    },
                    "paginator": {
                        "type": "page_number",
                        "page_param": "page",
                        "total_path": "[*].commit.stats.total",
                    },
                },
            },
            # Lists the labels usable in a project, optionally with those inherited from its groups and usage counts.
            {
                "name": "projects_labels",
                "table_name": "label",
                "primary_key": "id",
                "write_disposition": "merge",
                "endpoint": {
                    "data_selector": "$",
                    "path": "/projects/{id}/labels",
                    "params": {
                        "id": "FILL_ME_IN",  # TODO: fill in required path parameter
                        # the parameters below can optionally be configured
                        # "per_page": "20",
                        # "with_counts": "false",
                        # "include_ancestor_groups": "true",
                        # "search": "OPTIONAL_CONFIG",
                    },
                },
            },
            # Lists users who are members of the group itself, without those inherited from parent groups.
            {
                "name": "groups_members",
                "table_name": "member",
                "primary_key": "id",
                "write_disposition": "merge",
                "endpoint": {
                    "data_selector": "$",
                    "path": "/groups/{id}/members",
                    "params": {
                        "id": "FILL_ME_IN",  # TODO: fill in required path parameter
                        # the parameters below can optionally be configured
                        # "per_page": "20",
                        # "query": "OPTIONAL_CONFIG",
                        # "user_ids[]": "OPTIONAL_CONFIG",
                        # "skip_users[]": "OPTIONAL_CONFIG",
                        # "state": "OPTIONAL_CONFIG",
                    },
                },
            },
            # Lists users who are members of the project itself, without those inherited from its groups.
            {
                "name": "projects_members",
                "table_name": "member",
                "primary_key": "id",
                "write_disposition": "merge",
                "endpoint": {
                    "data_selector": "$",
                    "path": "/projects/{id}/members",
                    "params": {
                        "id": "FILL_ME_IN",  # TODO: fill in required path parameter
                        # the parameters below can optionally be configured
                        # "per_page": "20",
                        # "query": "OPTIONAL_CONFIG",
                        # "user_ids[]": "OPTIONAL_CONFIG",
                        # "skip_users[]": "OPTIONAL_CONFIG",
                        # "state": "OPTIONAL_CONFIG",
                    },
                },
            },
            # Lists a project's merge requests; `updated_after` with `order_by=updated_at` gives an incremental window.
            {
                "name": "projects_merge_requests",
                "table_name": "merge_request",
                "primary_key": "id",
                "write_disposition": "merge",
                "endpoint": {
                    "data_selector": "$",
                    "path": "/projects/{id}/merge_requests",
                    "params": {
                        "id": "FILL_ME_IN",  # TODO: fill in required path parameter
                        # the parameters below can optionally be configured
                        # "per_page": "20",
                        # "updated_after": "OPTIONAL_CONFIG",
                        # "updated_before": "OPTIONAL_CONFIG",
                        # "created_after": "OPTIONAL_CONFIG",
                        # "created_before": "OPTIONAL_CONFIG",
                        # "state": "OPTIONAL_CONFIG",
                        # "scope": "all",
                        # "labels": "OPTIONAL_CONFIG",
                        # "milestone": "OPTIONAL_CONFIG",
                        # "author_id": "OPTIONAL_CONFIG",
                        # "assignee_id": "OPTIONAL_CONFIG",
                        # "search": "OPTIONAL_CONFIG",
                        # "source_branch": "OPTIONAL_CONFIG",
                        # "target_branch": "OPTIONAL_CONFIG",
                        # "view": "OPTIONAL_CONFIG",
                        # "order_by": "created_at",
                        # "sort": "desc",
                    },
                    "paginator": {
                        "type": "page_number",
                        "page_param": "page",
                        "total_path": "[*].task_completion_status.count",
                    },
                },
            },
            # Lists the project's own milestones, and those of its ancestor groups with `include_ancestors`.
            {
                "name": "projects_milestones",
                "table_name": "milestone",
                "primary_key": "id",
                "write_disposition": "merge",
                "endpoint": {
                    "data_selector": "$",
                    "path": "/projects/{id}/milestones",
                    "params": {
                        "id": "FILL_ME_IN",  # TODO: fill in required path parameter
                        # the parameters below can optionally be configured
                        # "per_page": "20",
                        # "state": "OPTIONAL_CONFIG",
                        # "title": "OPTIONAL_CONFIG",
                        # "search": "OPTIONAL_CONFIG",
                        # "include_ancestors": "false",
                        # "updated_after": "OPTIONAL_CONFIG",
                        # "updated_before": "OPTIONAL_CONFIG",
                    },
                },
            },
            # Lists the notes of an issue, system notes (state changes and the like) included.
            {
                "name": "projects_issues_notes",
                "table_name": "note",
                "primary_key": "id",
                "write_disposition": "merge",
                "endpoint": {
                    "data_selector": "$",
                    "path": "/projects/{id}/issues/{issue_iid}/notes",
                    "params": {
                        "issue_iid": {
                            "type": "resolve",
                            "resource": "projects_issues",
                            "field": "id",
                        },
                        "id": "FILL_ME_IN",  # TODO: fill in required path parameter
                        # the parameters below can optionally be configured
                        # "per_page": "20",
                        # "order_by": "created_at",
                        # "sort": "desc",
                    },
                },
            },
            # Lists the notes of a merge request, system notes and review comments included.
            {
                "name": "projects_merge_requests_notes",
                "table_name": "note",
                "primary_key": "id",
                "write_disposition": "merge",
                "endpoint": {
                    "data_selector": "$",
                    "path": "/projects/{id}/merge_requests/{merge_request_iid}/notes",
                    "params": {
                        "merge_request_iid": {
                            "type": "resolve",
                            "resource": "projects_merge_requests",
                            "field": "id",
                        },
                        "id": "FILL_ME_IN",  # TODO: fill in required path parameter
                        # the parameters below can optionally be configured
                        # "per_page": "20",
                        # "order_by": "created_at",
                        # "sort": "desc",
                    },
                },
            },
            # Lists a project's pipelines, newest first by default. `updated_after`/`updated_before` with `order_by=updated_at` give an incremental window.
            {
                "name": "projects_pipelines",
                "table_name": "pipeline",
                "primary_key": "id",
                "write_disposition": "merge",
                "endpoint": {
                    "data_selector": "$",
                    "path": "/projects/{id}/pipelines",
                    "params": {
                        "id": "FILL_ME_IN",  # TODO: fill in required path parameter
                        # the parameters below can optionally be configured
                        # "per_page": "20",
                        # "updated_after": "OPTIONAL_CONFIG",
                        # "updated_before": "OPTIONAL_CONFIG",
                        # "created_after": "OPTIONAL_CONFIG",
                        # "created_before": "OPTIONAL_CONFIG",
                        # "scope": "OPTIONAL_CONFIG",
                        # "status": "OPTIONAL_CONFIG",
                        # "ref": "OPTIONAL_CONFIG",
                        # "sha": "OPTIONAL_CONFIG",
                        # "source": "OPTIONAL_CONFIG",
                        # "username": "OPTIONAL_CONFIG",
                        # "name": "OPTIONAL_CONFIG",
                        # "yaml_errors": "OPTIONAL_CONFIG",
                        # "order_by": "id",
                        # "sort": "desc",
                    },
                },
            },
            # Lists the projects of a group, optionally with those of its subgroups and those shared with it. Supports keyset pagination (`pagination=keyset` with `order_by=id`), and `id_after` to resume after a known project.
            {
                "name": "groups_projects",
                "table_name": "project",
                "primary_key": "id",
                "write_disposition": "merge",
                "endpoint": {
                    "data_selector": "$",
                    "path": "/groups/{id}/projects",
                    "params": {
                        "id": "FILL_ME_IN",  # TODO: fill in required path parameter
                        # the parameters below can optionally be configured
                        # "per_page": "20",
                        # "pagination": "OPTIONAL_CONFIG",
                        # "id_after": "OPTIONAL_CONFIG",
                        # "id_before": "OPTIONAL_CONFIG",
                        # "include_subgroups": "false",
                        # "archived": "OPTIONAL_CONFIG",
                        # "with_shared": "true",
                        # "visibility": "OPTIONAL_CONFIG",
                        # "search": "OPTIONAL_CONFIG",
                        # "simple": "false",
                        # "owned": "false",
                        # "min_access_level": "OPTIONAL_CONFIG",
                        # "order_by": "created_at",
                        # "sort": "desc",
                    },
                },
            },
            # Reads a single project by numeric ID or URL-encoded full path.
            {
                "name": "projects",
                "table_name": "project",
                "primary_key": "id",
                "write_disposition": "merge",
                "endpoint": {
                    "data_selector": "$",
                    "path": "/projects/{id}",
                    "params": {
                        "id": "FILL_ME_IN",  # TODO: fill in required path parameter
                        # the parameters below can optionally be configured
                        # "statistics": "false",
                        # "license": "false",
                    },
                },
            },
            # Lists releases, newest release date first by default.
            {
                "name": "projects_releases",
                "table_name": "release",
                "endpoint": {
                    "data_selector": "$",
                    "path": "/projects/{id}/releases",
                    "params": {
                        "id": "FILL_ME_IN",  # TODO: fill in required path parameter
                        # the parameters below can optionally be configured
                        # "per_page": "20",
                        # "order_by": "released_at",
                        # "sort": "desc",
                        # "include_html_description": "false",
                    },
                    "paginator": {
                        "type": "page_number",
                        "page_param": "page",
                        "total_path": "[*].assets.count",
                    },
                },
            },
            # Lists Git tags, most recently updated first by default.
            {
                "name": "projects_repository_tags",
                "table_name": "tag",
                "endpoint": {
                    "data_selector": "$",
                    "path": "/projects/{id}/repository/tags",
                    "params": {
                        "id": "FILL_ME_IN",  # TODO: fill in required path parameter
                        # the parameters below can optionally be configured
                        # "per_page": "20",
                        # "order_by": "updated",
                        # "sort": "desc",
                        # "search": "OPTIONAL_CONFIG",
                    },
                    "paginator": {
                        "type": "page_number",
                        "page_param": "page",
                        "total_path": "[*].commit.stats.total",
                    },
                },
            },
            # Returns the job's console log as plain text; the body can be large and is best read as a stream.
            {
                "name": "projects_jobs_trace",
                "table_name": "trace",
                "endpoint": {
                    "path": "/projects/{id}/jobs/{job_id}/trace",
                    "params": {
                        "job_id": {
                            "type": "resolve",
                            "resource": "projects_jobs",
                            "field": "id",
                        },
                        "id": "FILL_ME_IN",  # TODO: fill in required path parameter
                    },
                },
            },
            # Returns the account behind the token; useful to check a token before loading anything.
            {
                "name": "user",
                "table_name": "user",
                "primary_key": "id",
                "write_disposition": "merge",
                "endpoint": {
                    "data_selector": "$",
                    "path": "/user",
                },
            },
        ],
    }

    return rest_api_source(source_config)
