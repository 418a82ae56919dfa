"""A dlt source for GitLab: groups, projects, members, CI, issues, merge requests, repositories.

See https://docs.gitlab.com/api/rest/ for the REST API v4 it reads.
"""

from typing import Any, Callable, Iterator, List, Optional, Sequence

import dlt
from dlt.sources import DltResource
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.rest_api import RESTAPIConfig, create_response_hooks, rest_api_resources
from dlt.sources.rest_api.typing import ResponseAction

from gitlab.credentials import GitLabCredentials, claim_dataset, gitlab_credentials
from gitlab.cursors import CURSORS_RESOURCE, CursorFilter, CursorHolds, first_load_start, project_cursors
from gitlab.errors import GitLabSourceError
from gitlab.http import make_session
from gitlab.job_listing import GitLabJobLister
from gitlab.job_logs import job_logs
from gitlab.rate_limit import RequestBudget, api_route, make_budget
from gitlab.resources import WHOLE_LISTS, declared_resources
from gitlab.run_stats import GitLabRunStats
from gitlab.scope import GitLabScope, TDataItem
from gitlab.settings import MAX_TABLE_NESTING, PER_PAGE, SOURCE_NAME, START_DATE
from gitlab.tables import TABLE, hints
from gitlab.transforms import drop_untyped_nulls
from gitlab.unchanged import SkipUnchanged
from gitlab.whole_lists import whole_list_resource
from rest_api import GitLabLinkPaginator, GitLabTokenAuth


def _deferred(pages: Callable[[], Iterator[List[TDataItem]]]) -> Callable[[], Iterator[List[TDataItem]]]:
    """Wraps a bound generator method as a plain function: dlt's rest_api deep-copies its config."""

    def _pages() -> Iterator[List[TDataItem]]:
        yield from pages()

    return _pages


@dlt.source(name=SOURCE_NAME, max_table_nesting=MAX_TABLE_NESTING)
def gitlab_source(
    groups: Sequence[str] = (),
    projects: Sequence[str] = (),
    include_subgroups: bool = True,
    include_archived: bool = False,
    start_date: str = START_DATE,
    # typed Any so that dlt's injection leaves it alone (it would resolve a spec under [sources.gitlab.credentials])
    credentials: Any = None,
    run_stats: Optional[GitLabRunStats] = None,
    request_budget: Optional[RequestBudget] = None,
) -> List[DltResource]:
    """Loads the groups and projects you name, and everything in them, from GitLab's REST API v4.

    Pipelines, issues, merge requests and deployments load incrementally by `updated_after`, commits
    by `since`; jobs and notes are re-read only for pipelines, issues and merge requests that changed.
    Branches, tags, labels, milestones, releases, environments and members are lists GitLab only
    returns whole: read each run, and replaced when they changed, so that deleted items disappear.
    Groups and projects are read each run too, and only new or changed ones are merged: a run with
    nothing new loads nothing. A 403 or 404 on
    one project's endpoint is warned about once and counted in `run_stats`, and that data is skipped.
    Finished jobs' logs are fetched once each, in parallel, scanned for secrets and stored redacted.

    Args:
        groups (Sequence[str]): Full paths (or ids) of groups to load, e.g. `my-org/platform`.
        projects (Sequence[str]): Full paths (or ids) of single projects to load as well.
        include_subgroups (bool): Follow subgroups of `groups` recursively. Defaults to True.
        include_archived (bool): Also load archived projects of `groups`. Defaults to False; a
            project named in `projects` is loaded even when archived.
        start_date (str): ISO 8601 initial value of every incremental cursor. Defaults to START_DATE.
        credentials (GitLabCredentials, optional): GitLab's URL and the token (read_api scope). Resolved
            from `[sources.gitlab]` (`access_token` in secrets, or `GITLAB_TOKEN`; `base_url`, default
            https://gitlab.com; `token_type`) when omitted; see `gitlab_credentials`.
        run_stats (GitLabRunStats, optional): Collects request counts and denied endpoints.
        request_budget (RequestBudget, optional): When each request may go, for the REST lists and the
            job logs alike (see `gitlab.rate_limit`). Made from `[sources.gitlab]` (`requests_per_minute`,
            `requests_per_hour`, `max_run_minutes`; a preset on gitlab.com) when omitted.

    Returns:
        List[DltResource]: `groups`, `projects`, `group_members`, `project_members`, `pipelines`,
        `jobs`, `environments`, `deployments`, `issues`, `issue_notes`, `milestones`, `labels`,
        `merge_requests`, `merge_request_notes`, `commits`, `branches`, `tags`, `releases`, and
        `job_logs` with `job_log_sections` and `secret_findings` (see `gitlab.job_logs`).
    """
    if not groups and not projects:
        raise GitLabSourceError("nothing to load: name at least one group or project (--group / --project)")
    stats = run_stats or GitLabRunStats()
    connection: GitLabCredentials = credentials or gitlab_credentials()
    auth = GitLabTokenAuth(connection.access_token, connection.token_type)
    url = connection.api_url
    start = first_load_start(start_date)
    budget = request_budget or make_budget(url)
    holds = CursorHolds()

    def skip_failed_part(failed_url: str, reason: str) -> None:
        stats.record_failed(failed_url, reason)
        holds.hold_endpoint(api_route(failed_url))

    session = make_session(stats, budget, on_failed=skip_failed_part)
    client = RESTClient(base_url=url, auth=auth, paginator=GitLabLinkPaginator(), session=session)
    scope = GitLabScope(
        client,
        groups,
        projects,
        include_subgroups,
        include_archived,
        before_first_request=lambda: claim_dataset(connection),
    )
    denied_actions: List[ResponseAction] = [
        {"status_code": status, "action": stats.record_denied} for status in (403, 404)
    ]
    pipelines_filter = CursorFilter("pipelines", "pipelines", holds)
    holds.register("jobs", pipelines_filter)  # a first load lists the project's jobs for its pipelines
    config: RESTAPIConfig = {
        "client": {"base_url": url, "auth": auth, "paginator": GitLabLinkPaginator(), "session": session},
        # every list is independent of the others once its parents are known: dlt's `[extract] workers` run them at once
        "resource_defaults": {
            "parallelized": True,
            "endpoint": {"params": {"per_page": PER_PAGE}, "response_actions": denied_actions},
        },
        "resources": [
            # read every run, as the scope of every list; loaded only when new or changed
            dlt.resource(_deferred(scope.groups), **hints("groups")).add_filter(SkipUnchanged("groups")),
            dlt.resource(_deferred(scope.projects), **hints("projects")).add_filter(SkipUnchanged("projects")),
            dlt.resource(project_cursors(start, scope.project_list), name=CURSORS_RESOURCE, selected=False),
            *declared_resources(denied_actions, holds, pipelines_filter),
        ],
    }
    resources = rest_api_resources(config)
    lister = GitLabJobLister(client, pipelines_filter, start, stats.record_denied)

    def _jobs(pipelines: List[TDataItem]) -> Iterator[List[TDataItem]]:  # dlt needs a function, not a method
        yield from lister.jobs_of_pipelines(pipelines)

    pipelines = next(resource for resource in resources if resource.name == "pipelines")
    jobs = dlt.transformer(_jobs, data_from=pipelines, parallelized=True, **hints("jobs"))
    hooks = create_response_hooks(denied_actions)
    whole_lists = [
        whole_list_resource(declared, scope.group_list if declared.of_groups else scope.project_list, client, hooks)
        for declared in WHOLE_LISTS
    ]
    tables = [*resources, jobs, *whole_lists]
    for resource in tables:
        if resource.name in TABLE:  # the tables, not the internal cursors
            resource.add_map(drop_untyped_nulls(resource.name))
    return [*tables, job_logs(jobs, connection, stats=stats.job_logs, budget=budget, holds=holds)]
