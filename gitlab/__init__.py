"""A dlt source for GitLab: groups, projects, members, CI, issues, merge requests, repositories.

See https://docs.gitlab.com/api/rest/ for the REST API v4 it reads.
"""

import os
from typing import Callable, Iterator, List, Optional, Sequence

import dlt
from dlt.sources import DltResource
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.rest_api import RESTAPIConfig, rest_api_resources

from gitlab.cursors import CURSORS_RESOURCE, project_cursors
from gitlab.errors import GitLabSourceError
from gitlab.http import GitLabRunStats, make_session
from gitlab.job_logs import job_logs
from gitlab.resources import declared_resources
from gitlab.scope import GitLabScope, TDataItem
from gitlab.settings import (
    API_PREFIX,
    DEFAULT_BASE_URL,
    MAX_TABLE_NESTING,
    PER_PAGE,
    START_DATE,
    TOKEN_ENV_VARS,
)
from rest_api import GitLabLinkPaginator, GitLabTokenAuth


def api_url(base_url: str) -> str:
    """`https://host[/prefix]` with or without `/api/v4` and slashes → `https://host[/prefix]/api/v4`."""
    url = base_url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise GitLabSourceError(f"base_url {base_url!r} is not an http(s) URL, e.g. https://gitlab.example.com")
    return url if url.endswith(API_PREFIX) else url + API_PREFIX


def resolve_token(access_token: Optional[str]) -> str:
    """The token from dlt config/secrets, else from `GITLAB_TOKEN` as glab and python-gitlab read it."""
    token = access_token or next((os.environ[name] for name in TOKEN_ENV_VARS if os.environ.get(name)), None)
    if not token:
        raise GitLabSourceError(
            "no GitLab token: set sources.gitlab.access_token in .dlt/secrets.toml,"
            " or SOURCES__GITLAB__ACCESS_TOKEN or GITLAB_TOKEN in the environment"
        )
    return token.strip()


def _deferred(pages: Callable[[], Iterator[List[TDataItem]]]) -> Callable[[], Iterator[List[TDataItem]]]:
    """Wraps a bound generator method as a plain function: dlt's rest_api deep-copies its config."""

    def _pages() -> Iterator[List[TDataItem]]:
        yield from pages()

    return _pages


@dlt.source(name="gitlab", max_table_nesting=MAX_TABLE_NESTING)
def gitlab_source(
    access_token: Optional[str] = dlt.secrets.value,
    base_url: str = DEFAULT_BASE_URL,
    groups: Sequence[str] = (),
    projects: Sequence[str] = (),
    include_subgroups: bool = True,
    include_archived: bool = False,
    start_date: str = START_DATE,
    token_type: str = "auto",
    run_stats: Optional[GitLabRunStats] = None,
) -> List[DltResource]:
    """Loads the groups and projects you name, and everything in them, from GitLab's REST API v4.

    Pipelines, issues, merge requests and deployments load incrementally by `updated_after`, commits
    by `since`; jobs and notes are re-read only for pipelines, issues and merge requests that changed.
    Branches, tags, labels, milestones, releases, environments and members are small lists GitLab
    only returns whole, so they are replaced each run and deleted items disappear. A 403 or 404 on
    one project's endpoint is warned about once and counted in `run_stats`, and that data is skipped.
    Finished jobs' logs are fetched once each, in parallel, scanned for secrets and stored redacted.

    Args:
        access_token (str): Personal, group or project access token (read_api scope), OAuth token or
            CI job token. From `[sources.gitlab] access_token` in secrets, or `GITLAB_TOKEN`.
        base_url (str): GitLab's URL, with or without `/api/v4`. Defaults to https://gitlab.com.
        groups (Sequence[str]): Full paths (or ids) of groups to load, e.g. `my-org/platform`.
        projects (Sequence[str]): Full paths (or ids) of single projects to load as well.
        include_subgroups (bool): Follow subgroups of `groups` recursively. Defaults to True.
        include_archived (bool): Also load archived projects of `groups`. Defaults to False; a
            project named in `projects` is loaded even when archived.
        start_date (str): ISO 8601 initial value of every incremental cursor. Defaults to START_DATE.
        token_type (str): "auto" (by the token's prefix), "private", "oauth" or "job".
        run_stats (GitLabRunStats, optional): Collects request counts and denied endpoints.

    Returns:
        List[DltResource]: `groups`, `projects`, `group_members`, `project_members`, `pipelines`,
        `jobs`, `environments`, `deployments`, `issues`, `issue_notes`, `milestones`, `labels`,
        `merge_requests`, `merge_request_notes`, `commits`, `branches`, `tags`, `releases`, and
        `job_logs` with `job_log_sections` and `secret_findings` (see `gitlab.job_logs`).
    """
    if not groups and not projects:
        raise GitLabSourceError("nothing to load: name at least one group or project (--group / --project)")
    stats = run_stats or GitLabRunStats()
    token = resolve_token(access_token)
    auth = GitLabTokenAuth(token, token_type)
    session = make_session(stats)
    url = api_url(base_url)
    scope = GitLabScope(
        RESTClient(base_url=url, auth=auth, paginator=GitLabLinkPaginator(), session=session),
        groups,
        projects,
        include_subgroups,
        include_archived,
    )
    denied_actions = [
        {"status_code": status, "action": stats.record_denied} for status in (403, 404)
    ]
    projects_resource = dlt.resource(
        _deferred(scope.projects), name="projects", primary_key="id", write_disposition="merge"
    )
    config: RESTAPIConfig = {
        "client": {"base_url": url, "auth": auth, "paginator": "gitlab_link", "session": session},
        "resource_defaults": {
            "endpoint": {"params": {"per_page": PER_PAGE}, "response_actions": denied_actions},
        },
        "resources": [
            dlt.resource(_deferred(scope.groups), name="groups", primary_key="id", write_disposition="merge"),
            projects_resource,
            dlt.transformer(project_cursors(start_date), data_from=projects_resource, name=CURSORS_RESOURCE, selected=False),
            *declared_resources(denied_actions),
        ],
    }
    resources = rest_api_resources(config)
    jobs = next(resource for resource in resources if resource.name == "jobs")
    return [*resources, job_logs(jobs, url, token, token_type, stats=stats.job_logs)]
