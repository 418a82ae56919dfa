"""Fetching job logs with aiohttp on dlt's extract loop: one session, bounded concurrency, retries, accounting.

See https://docs.gitlab.com/api/jobs/#get-a-log-file
"""

import asyncio
import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, AsyncIterator, Dict, List, Mapping, Optional, Set

import aiohttp
import dlt
from dlt.common.configuration import resolve_configuration
from dlt.common.storages.exceptions import CurrentLoadPackageStateNotAvailable
from dlt.normalize.configuration import ItemsNormalizerConfiguration

from gitlab.credentials import GitLabCredentials
from gitlab.errors import GitLabSourceError
from gitlab.job_logs.config import JobLogsConfiguration, JobLogSettings, resolve_settings
from gitlab.job_logs.fingerprints import Fingerprinter
from gitlab.job_logs.reader import TraceReader
from gitlab.job_logs.rows import (
    FINDINGS_TABLE,
    JOB_LOGS_TABLE,
    SECTIONS_TABLE,
    TJob,
    TRow,
    arrow_rows,
    job_keys,
    load_arrow_conversions,
    log_row,
    trace_rows,
)
from gitlab.job_logs.state import LogState
from gitlab.rate_limit import RequestBudget
from gitlab.run_stats import JobLogStats
from gitlab.settings import (
    JOB_FINISHED_STATUSES,
    TRACE_CHUNK_BYTES,
    TRACE_CONNECT_TIMEOUT_SECONDS,
    TRACE_READ_TIMEOUT_SECONDS,
)

logger = logging.getLogger(__name__)


@dataclass
class _Outcome:
    """The result of fetching one job's log."""

    job: TJob
    status: str  # "fetched", "missing", "denied" or "failed"
    reader: Optional[TraceReader] = None
    reason: str = ""


@dataclass(frozen=True)
class _DltColumns:
    """What the Arrow rows need of dlt's own columns in this extract (see `arrow_rows`)."""

    load_id: Optional[str]  # None outside a pipeline's extract
    row_ids: bool  # False when dlt's `[normalize.parquet_normalizer] add_dlt_id` has dlt add them itself


def _dlt_columns() -> _DltColumns:
    """Read on dlt's main thread, where the load package and the pipeline's configuration are at hand."""
    try:
        load_id: Optional[str] = dlt.current.load_package_state()["load_id"]
    except CurrentLoadPackageStateNotAvailable:
        load_id = None
    normalizer = resolve_configuration(ItemsNormalizerConfiguration(), sections=("normalize", "parquet_normalizer"))
    return _DltColumns(load_id, not normalizer.add_dlt_id)


class _ExtractContext:
    """One extract's HTTP machinery on dlt's event loop: the session and the semaphore."""

    def __init__(self, loop: asyncio.AbstractEventLoop, settings: JobLogSettings) -> None:
        self.loop = loop
        self.semaphore = asyncio.Semaphore(settings.concurrency)
        self.session: Optional[aiohttp.ClientSession] = None
        self._holder: Optional[AsyncIterator[aiohttp.ClientSession]] = None
        self._opening = asyncio.Lock()

    async def open(self, headers: Dict[str, str], concurrency: int) -> aiohttp.ClientSession:
        """The extract's one session, opened on first use."""
        async with self._opening:
            if self.session is None:
                self._holder = _hold_session(headers, concurrency)
                self.session = await self._holder.__anext__()
        return self.session


async def _hold_session(headers: Dict[str, str], concurrency: int) -> AsyncIterator[aiohttp.ClientSession]:
    """Opens the session with `async with` and stays suspended inside it until the extract ends.

    dlt closes its extract loop with `loop.shutdown_asyncgens()`, which resumes this generator with
    GeneratorExit: the `async with` then closes the session and its connections, whatever happened.
    """
    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency, ttl_dns_cache=300)
    timeout = aiohttp.ClientTimeout(
        total=None, sock_connect=TRACE_CONNECT_TIMEOUT_SECONDS, sock_read=TRACE_READ_TIMEOUT_SECONDS
    )
    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, headers=headers, raise_for_status=False
    ) as session:
        yield session


class GitLabTraceFetcher:
    """Fetches, scans and turns into rows the logs of the jobs `jobs` yields, for one source.

    dlt feeds a transformer one page of jobs at a time, and a pipeline's page often holds 5 to 20
    jobs. To keep `trace_concurrency` requests in flight across pages, each page becomes an async
    generator that dlt runs on its extract loop next to the other pages (up to dlt's
    `max_parallel_items`); all of them share the extract's one session and semaphore, and the run's
    request budget with every other request to GitLab.
    """

    def __init__(
        self, credentials: GitLabCredentials, config: JobLogsConfiguration, stats: JobLogStats, budget: RequestBudget
    ) -> None:
        self.api_url = credentials.api_url
        self.stats = stats
        self.budget = budget
        self.config = config
        self.settings = resolve_settings(self.api_url, config)
        self._headers = credentials.headers()
        self._fingerprinter: Optional[Fingerprinter] = None
        self._context: Optional[_ExtractContext] = None
        self._state_dict: Optional[Dict[str, Any]] = None
        self._state: Optional[LogState] = None
        self._denied: Dict[int, str] = {}
        self._held: Set[str] = set()
        self._holding = threading.Lock()

    def __repr__(self) -> str:
        return f"GitLabTraceFetcher(api_url={self.api_url!r}, token='*****')"

    def logs_of_page(self, jobs: Any) -> Optional[AsyncIterator[Any]]:
        """The transformer: picks the page's finished jobs not fetched before, and returns their rows' generator.

        Runs on dlt's main thread, where the resource state is at hand; the returned async generator
        runs on dlt's extract loop.
        """
        page: List[TJob] = jobs if isinstance(jobs, list) else [jobs]
        if self._fingerprinter is None:  # a missing key fails the run at its first jobs, with work or without
            self._fingerprinter = Fingerprinter(self.config.fingerprint_key or "")
            load_arrow_conversions()
        state = self._run_state()
        wanted: Dict[int, TJob] = {entry["id"]: entry for entry in state.take_pending()}
        for job in page:
            if job.get("status") not in JOB_FINISHED_STATUSES:
                self.stats.skipped_unfinished += 1
            elif state.fetched_before(job):
                self.stats.skipped_fetched_before += 1
            else:
                wanted[job["id"]] = job
        if not wanted:
            return None
        self.stats.queued += len(wanted)
        return self._page_rows(list(wanted.values()), state, self._fingerprinter, _dlt_columns())

    def hold(self, project: str) -> None:
        """Some of `project`'s jobs were not listed in this run: its watermark must not pass them (any thread)."""
        with self._holding:
            self._held.add(project)
            if self._state is not None:
                self._state.hold(project)

    def _run_state(self) -> LogState:
        """This run's view of the resource state; a new state object means a new run."""
        state = dlt.current.resource_state()
        if state is not self._state_dict or self._state is None:
            with self._holding:
                self._state_dict = state
                self._state = LogState(state)
                for project in self._held:
                    self._state.hold(project)
            self._denied = {}
        return self._state

    def _extract_context(self) -> _ExtractContext:
        loop = asyncio.get_running_loop()
        if self._context is None or self._context.loop is not loop:
            self._context = _ExtractContext(loop, self.settings)  # one per extract: each has its own loop
        return self._context

    async def _page_rows(
        self, jobs: List[TJob], state: LogState, fingerprinter: Fingerprinter, dlt_columns: _DltColumns
    ) -> AsyncIterator[Any]:
        """Fetches one page's logs concurrently and yields the rows of the three tables, as Arrow tables."""
        context = self._extract_context()
        session = await context.open(self._headers, self.settings.concurrency)
        tasks = [asyncio.ensure_future(self._fetch_trace(session, context, job, fingerprinter)) for job in jobs]
        logs: List[TRow] = []
        sections: List[TRow] = []
        findings: List[TRow] = []
        try:
            for next_done in asyncio.as_completed(tasks):
                outcome = await next_done
                self._account(outcome, state, logs, sections, findings)
        finally:
            for task in tasks:
                task.cancel()
        for table, rows in ((JOB_LOGS_TABLE, logs), (SECTIONS_TABLE, sections), (FINDINGS_TABLE, findings)):
            if rows:  # the table's hints were set once, as a variant, in `job_logs`
                yield dlt.mark.with_table_name(arrow_rows(table, rows, dlt_columns.load_id, dlt_columns.row_ids), table)

    def _account(
        self, outcome: _Outcome, state: LogState, logs: List[TRow], sections: List[TRow], findings: List[TRow]
    ) -> None:
        """Adds one outcome to the rows, the run's stats and the state."""
        job, now = outcome.job, datetime.now(UTC)
        keys = job_keys(job)
        if outcome.status == "fetched" and outcome.reader is not None:
            row, section_rows, finding_rows = trace_rows(job, outcome.reader, now)
            logs.append(row)
            sections += section_rows
            findings += finding_rows
            self.stats.fetched += 1
            self.stats.findings += outcome.reader.scanner.finding_count
            state.record_done(job)
        elif outcome.status == "missing":
            logs.append(log_row(job, now, None))
            self.stats.fetched += 1
            self.stats.missing += 1
            state.record_done(job)
        elif outcome.status == "denied":
            self.stats.denied_projects.setdefault(keys["project_id"], outcome.reason)
        else:
            given_up = state.record_failed(job, outcome.reason)
            logger.warning(
                "could not fetch the log of job %s (project %s): %s; %s",
                job["id"],
                keys["project_id"],
                outcome.reason,
                "giving up on it" if given_up else "it will be fetched on the next run",
            )
            if given_up:
                self.stats.given_up[job["id"]] = given_up
            else:
                self.stats.failed[job["id"]] = outcome.reason

    async def _fetch_trace(
        self, session: aiohttp.ClientSession, context: _ExtractContext, job: TJob, fingerprinter: Fingerprinter
    ) -> _Outcome:
        """Streams one log through a `TraceReader`, retrying as the policy says; a 429 waits in the budget.

        Every outcome for the one log is returned, failures included; only a 401 (a bad token, so
        every other log would fail too) raises, and the budget when the run's deadline would pass.
        """
        keys = job_keys(job)
        path = f"/projects/{keys['project_id']}/jobs/{job['id']}/trace"
        policy = self.settings.retry
        errors = 0
        while True:
            status: Optional[int] = None
            headers: Optional[Mapping[str, str]] = None
            body, failure = b"", ""
            async with context.semaphore:
                if keys["project_id"] in self._denied:  # checked once in flight: a 403 may have come meanwhile
                    return _Outcome(job, "denied", reason=self._denied[keys["project_id"]])
                async with self.budget.request_async(self.api_url + path) as turn:
                    self.stats.requests += 1
                    try:
                        async with session.get(self.api_url + path) as response:
                            status, headers = response.status, response.headers
                            turn.observe(status, headers)
                            if status == 200:
                                reader = TraceReader(
                                    self.settings.detectors,
                                    fingerprinter,
                                    self.settings.max_bytes,
                                    self.settings.store_text,
                                    not self.settings.strip_ansi,
                                )
                                async for chunk in response.content.iter_chunked(TRACE_CHUNK_BYTES):
                                    reader.feed(chunk)
                                reader.finish()
                                return _Outcome(job, "fetched", reader=reader)
                            body = await response.content.read(2_048) if status in (401, 403) else b""
                    except (TimeoutError, aiohttp.ClientError) as exc:
                        status, failure = None, type(exc).__name__
            if status == 404:
                return _Outcome(job, "missing")
            if status in (401, 403):
                return self._denial(job, path, status, body)
            if status == 429:  # the budget learnt from it how long to hold every request
                self.stats.rate_limited += 1
                continue
            if status is not None and not policy.is_retryable(status):
                return _Outcome(job, "failed", reason=f"GitLab answered {status} on {path}")
            errors += 1
            what = f"HTTP {status}" if status is not None else failure
            if errors >= policy.max_attempts:
                return _Outcome(job, "failed", reason=f"{what} on {path} after {errors} attempts")
            self.stats.retries += 1
            await asyncio.sleep(policy.retry_delay(headers, errors))

    def _denial(self, job: TJob, path: str, status: int, body: bytes) -> _Outcome:
        """A 401 ends the run with a clear message; a 403 skips the project's logs for this run."""
        if status == 401 or b"insufficient_scope" in body:
            raise GitLabSourceError(
                f"GitLab answered {status} on {path}: check sources.gitlab.access_token"
                " (it must be valid and have the read_api scope)"
            )
        project = job_keys(job)["project_id"]
        reason = (
            f"GitLab answered 403 Forbidden on {path}: the token may not read job logs here"
            " (it needs at least the Reporter role in the project)"
        )
        if project not in self._denied:
            self._denied[project] = reason
            logger.warning("%s; skipping the job logs of project %s in this run", reason, project)
        return _Outcome(job, "denied", reason=reason)
