"""The `jobs` table: a project's first load lists all its jobs at once; later runs ask only the changed pipelines.

`GET /projects/:id/jobs` lists a project's jobs newest first, 100 a request, with keyset pagination (retried
jobs included, bridges not, like `GET /projects/:id/pipelines/:pipeline_id/jobs?include_retried=true`), where
asking each pipeline costs one request per pipeline of 5 to 20 jobs. GitLab allows 600 such requests a
minute per user by default (`project_jobs_api_rate_limit`, on gitlab.com and self-managed): the run's request
budget keeps to it (`gitlab/rate_limit.py`). A later run asks only the pipelines that changed since
(`updated_after`): a project's whole list would cost far more. See https://docs.gitlab.com/api/jobs/#list-project-jobs
"""

import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterator, List

from dlt.sources.helpers.rest_client import RESTClient
from requests import Response

from gitlab.cursors import CursorFilter
from gitlab.settings import JOB_LISTING_CONCURRENCY, PER_PAGE
from gitlab.transforms import to_utc_iso
from rest_api import GitLabKeysetPaginator, GitLabLinkPaginator

TDataItem = Dict[str, Any]
DENIED_STATUSES = (403, 404)


@dataclass
class _ProjectListing:
    """One project's first-load listing in this run: pipelines that arrive meanwhile wait in `waiting`."""

    done: bool = False
    newest_created_at: str = ""
    waiting: List[TDataItem] = field(default_factory=list)


class GitLabJobLister:
    """The `jobs` transformer over the pipelines of a run (those new or changed since the project's cursor).

    On a project's first load (no `pipelines` cursor yet) its first page of pipelines starts the project's
    listing; the listing keeps jobs of pipelines updated since the start date. Only pipelines that the listing
    cannot have seen whole are then asked for one by one: created before the start date (but updated since),
    or after the newest job listed (created while the run lists). Every other run asks each pipeline, many at
    once: a page of pipelines becomes concurrent requests, and dlt runs pages on its worker threads.

    Args:
        client (RESTClient): The source's REST client (session, auth, retries).
        pipelines_filter (CursorFilter): The `pipelines` cursor filter; tells a project's first load.
        start_date (str): Where a project's history starts (the cursors' initial value).
        on_denied (Callable): Called with a 403 or 404 response; raising `IgnoreResponseException` skips it.
    """

    def __init__(
        self,
        client: RESTClient,
        pipelines_filter: CursorFilter,
        start_date: str,
        on_denied: Callable[[Response], None],
    ) -> None:
        self.client = client
        self.pipelines_filter = pipelines_filter
        self.start_date = to_utc_iso(start_date)
        self.on_denied = on_denied
        self._listings: Dict[str, _ProjectListing] = {}
        self._lock = threading.Lock()

    def jobs_of_pipelines(self, pipelines: List[TDataItem]) -> Iterator[List[TDataItem]]:
        """The transformer: pages of jobs of one page of pipelines (a generator: dlt runs it on a worker)."""
        one_by_one: List[TDataItem] = []
        for project, rows in _by_project(pipelines).items():
            if not self.pipelines_filter.first_load(project):
                one_by_one += rows
                continue
            with self._lock:
                listing = self._listings.get(project)
                starts = listing is None
                if listing is None:
                    listing = self._listings[project] = _ProjectListing()
                elif not listing.done:
                    listing.waiting += rows
                    continue
            if starts:
                yield from self._list_project(project, listing)
                with self._lock:
                    listing.done = True
                    rows, listing.waiting = rows + listing.waiting, []
            one_by_one += [row for row in rows if self._missed_by_listing(row, listing)]
        yield from self._list_pipelines(one_by_one)

    def _list_project(self, project: str, listing: _ProjectListing) -> Iterator[List[TDataItem]]:
        """All the project's jobs of pipelines updated since the start date, newest first, a page at a time.

        Job ids grow with creation time, and a pipeline's jobs are created with it or later: after a page
        of jobs created before the start date, no later page holds a job of a pipeline created since.
        """
        for page in self.client.paginate(
            f"/projects/{project}/jobs",
            params={"per_page": PER_PAGE},
            paginator=GitLabKeysetPaginator(order_by="id", sort="desc"),
            hooks={"response": [self._check]},
        ):
            if page and not listing.newest_created_at:
                listing.newest_created_at = to_utc_iso(page[0]["created_at"])
            kept = [job for job in page if to_utc_iso(_pipeline_updated_at(job)) >= self.start_date]
            if kept:
                yield kept
            if all(to_utc_iso(job["created_at"]) < self.start_date for job in page):
                break

    def _check(self, response: Response, *args: Any, **kwargs: Any) -> None:
        """Response hook: a denied endpoint goes to `on_denied`, any other error raises."""
        if response.status_code in DENIED_STATUSES:
            self.on_denied(response)
        response.raise_for_status()

    def _missed_by_listing(self, pipeline: TDataItem, listing: _ProjectListing) -> bool:
        created = to_utc_iso(pipeline["created_at"])
        return created < self.start_date or created > listing.newest_created_at

    def _list_pipelines(self, pipelines: List[TDataItem]) -> Iterator[List[TDataItem]]:
        """Each pipeline's jobs (retried too), many pipelines at once; a page of jobs as each completes."""
        if not pipelines:
            return
        with ThreadPoolExecutor(min(JOB_LISTING_CONCURRENCY, len(pipelines))) as pool:
            for done in as_completed([pool.submit(self._pipeline_jobs, row) for row in pipelines]):
                jobs = done.result()
                if jobs:
                    yield jobs

    def _pipeline_jobs(self, pipeline: TDataItem) -> List[TDataItem]:
        return [
            job
            for page in self.client.paginate(
                f"/projects/{pipeline['project_id']}/pipelines/{pipeline['id']}/jobs",
                params={"per_page": PER_PAGE, "include_retried": "true"},
                paginator=GitLabLinkPaginator(),
                hooks={"response": [self._check]},
            )
            for job in page
        ]


def _pipeline_updated_at(job: TDataItem) -> str:
    """When the job's pipeline last changed. Older GitLab versions list only its id, ref, sha and status; then the
    job's creation stands in: a pipeline that gets a job changes then too."""
    return str(job["pipeline"].get("updated_at") or job["created_at"])


def _by_project(pipelines: List[TDataItem]) -> Dict[str, List[TDataItem]]:
    grouped: Dict[str, List[TDataItem]] = {}
    for pipeline in pipelines:
        grouped.setdefault(str(pipeline["project_id"]), []).append(pipeline)
    return grouped
