"""The `job_logs` transformer: each finished job's log fetched once with aiohttp, scanned and redacted as it streams.

See https://docs.gitlab.com/api/jobs/#get-a-log-file
"""

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, AsyncIterator, Dict, List, Mapping, Optional, Set
from urllib.parse import urlsplit

import aiohttp
import dlt
from dlt.common.configuration import configspec, resolve_configuration
from dlt.common.configuration.specs import BaseConfiguration
from dlt.common.typing import TSecretStrValue
from dlt.sources import DltResource

from gitlab.errors import GitLabSourceError
from gitlab.log_rows import (
    FINDINGS_TABLE,
    JOB_LOGS_TABLE,
    SECTIONS_TABLE,
    TABLE_HINTS,
    TJob,
    TraceReader,
    TRow,
    job_keys,
    missing_row,
    trace_rows,
)
from gitlab.secrets_scan import Fingerprinter, SecretDetector, build_detectors, load_or_create_fingerprint_key
from gitlab.settings import (
    GITLAB_COM_HOSTS,
    JOB_FINISHED_STATUSES,
    TRACE_BACKOFF_BASE_SECONDS,
    TRACE_CHUNK_BYTES,
    TRACE_CONCURRENCY,
    TRACE_CONCURRENCY_GITLAB_COM,
    TRACE_CONNECT_TIMEOUT_SECONDS,
    TRACE_MAX_ATTEMPTS,
    TRACE_MAX_BYTES,
    TRACE_PENDING_MAX_RUNS,
    TRACE_RATE_LIMIT_LOW_FRACTION,
    TRACE_READ_TIMEOUT_SECONDS,
    TRACE_REQUESTS_PER_MINUTE_GITLAB_COM,
    TRACE_STORE_TEXT,
    TRACE_STRIP_ANSI,
)
from gitlab.trace_retry import GitLabRequestGate, GitLabRetryPolicy
from gitlab.transforms import to_utc_iso
from rest_api.auth import auth_headers

logger = logging.getLogger(__name__)

USER_AGENT = "gitlab-dlt"


@configspec
class JobLogsConfiguration(BaseConfiguration):
    """Tunables of `job_logs`, read from `[sources.gitlab]` (or `SOURCES__GITLAB__<NAME>`)."""

    trace_concurrency: Optional[int] = None
    """Trace requests in flight. None: TRACE_CONCURRENCY, or the gitlab.com preset on gitlab.com."""
    trace_requests_per_minute: Optional[int] = None
    """Cap on trace requests a minute. None: no cap, or the gitlab.com preset on gitlab.com."""
    trace_max_bytes: int = TRACE_MAX_BYTES
    store_log_text: bool = TRACE_STORE_TEXT
    strip_ansi: bool = TRACE_STRIP_ANSI
    secret_patterns: Optional[Dict[str, str]] = None
    """Kind → regex of your own secrets; the secret is group `secret`, else group 1, else the match."""
    trace_max_attempts: int = TRACE_MAX_ATTEMPTS
    """Attempts per log for 5xx, timeouts and dropped connections."""
    trace_backoff_base_seconds: float = TRACE_BACKOFF_BASE_SECONDS
    """First backoff; it doubles per attempt (with jitter) up to TRACE_BACKOFF_CAP_SECONDS."""
    fingerprint_key: Optional[TSecretStrValue] = None
    """HMAC key of the fingerprints. None: read from, or generated into, .dlt/secrets.toml."""


@dataclass
class JobLogStats:
    """What `job_logs` did in one run, for the summary: counts, and every log it could not fetch."""

    requests: int = 0
    fetched: int = 0
    missing: int = 0
    retries: int = 0
    rate_limited: int = 0
    skipped_unfinished: int = 0
    skipped_fetched_before: int = 0
    findings: int = 0
    failed: Dict[int, str] = field(default_factory=dict)
    denied_projects: Dict[int, str] = field(default_factory=dict)
    given_up: Dict[int, str] = field(default_factory=dict)

    def summary_lines(self) -> List[str]:
        """Lines for the CLI: totals, then one line per failed log and per denied project."""
        lines = [
            (
                f"Job logs: {self.fetched} fetched ({self.missing} without a log), {self.findings} secret"
                f" finding(s), {self.requests} trace requests ({self.retries} retried, {self.rate_limited}"
                f" rate-limited); skipped {self.skipped_fetched_before} fetched before and"
                f" {self.skipped_unfinished} unfinished"
            )
        ]
        if self.failed:
            lines.append(f"Job logs not fetched, kept to fetch on the next run ({len(self.failed)}):")
            lines += [f"  job {job_id}: {reason}" for job_id, reason in sorted(self.failed.items())]
        if self.denied_projects:
            lines.append(f"Job logs the token may not read ({len(self.denied_projects)} project(s)):")
            lines += [f"  project {project}: {reason}" for project, reason in sorted(self.denied_projects.items())]
        if self.given_up:
            lines.append(f"Job logs given up after {TRACE_PENDING_MAX_RUNS} runs ({len(self.given_up)}):")
            lines += [f"  job {job_id}: {reason}" for job_id, reason in sorted(self.given_up.items())]
        return lines


@dataclass(frozen=True)
class _Settings:
    """The resolved configuration one extract runs with."""

    concurrency: int
    requests_per_minute: Optional[int]
    max_bytes: int
    store_text: bool
    strip_ansi: bool
    detectors: List[SecretDetector]
    retry: GitLabRetryPolicy


@dataclass
class _Outcome:
    """The result of fetching one job's log."""

    job: TJob
    status: str  # "fetched", "missing", "denied" or "failed"
    reader: Optional[TraceReader] = None
    reason: str = ""


def _finished_at(job: TJob) -> str:
    """The moment the job finished, as UTC text that sorts in time order; the watermark's unit."""
    moment = job.get("finished_at") or job.get("started_at") or job.get("created_at")
    return to_utc_iso(moment) if moment else ""


class _LogState:
    """What `job_logs` keeps in dlt resource state, bounded by the number of projects and failures.

    Per project, a watermark: the latest `finished_at` among fetched logs and the ids fetched at that
    exact instant. A job finishes once, and a log does not change afterwards, so a finished job at
    or before the watermark (and not one of those ids) was fetched by an earlier run: jobs are fed
    again when their pipeline changes, and a job still running then finishes later than the
    watermark. Logs that failed wait in `pending` (a few fields each) and are fetched next run.
    Filtering uses the watermarks as they were when the run started; fetches move the live ones.
    """

    def __init__(self, state: Dict[str, Any]) -> None:
        self.watermarks: Dict[str, List[Any]] = state.setdefault("finished_through", {})
        self.pending: Dict[str, Dict[str, Any]] = state.setdefault("pending", {})
        self.baseline = {project: (mark[0], set(mark[1])) for project, mark in self.watermarks.items()}
        self.retrying: Set[int] = set()
        self._pending_taken = False

    def take_pending(self) -> List[TJob]:
        """The jobs whose logs failed in earlier runs, once per run; they stay pending until fetched."""
        if self._pending_taken:
            return []
        self._pending_taken = True
        self.retrying = {entry["id"] for entry in self.pending.values()}
        return list(self.pending.values())

    def fetched_before(self, job: TJob) -> bool:
        """True when an earlier run stored this job's log, or this run is already fetching it again."""
        if job["id"] in self.retrying:
            return True
        if str(job["id"]) in self.pending:
            return False
        mark = self.baseline.get(str(job_keys(job)["project_id"]))
        if mark is None:
            return False
        finished = _finished_at(job)
        return finished < mark[0] or (finished == mark[0] and job["id"] in mark[1])

    def record_done(self, job: TJob) -> None:
        """Moves the project's watermark past a log that was stored (or is known to be missing)."""
        self.pending.pop(str(job["id"]), None)
        project = str(job_keys(job)["project_id"])
        finished = _finished_at(job)
        mark = self.watermarks.get(project)
        if mark is None or finished > mark[0]:
            self.watermarks[project] = [finished, [job["id"]]]
        elif finished == mark[0] and job["id"] not in mark[1]:
            mark[1].append(job["id"])

    def record_failed(self, job: TJob, reason: str) -> Optional[str]:
        """Keeps a failed job to fetch next run; returns a reason when it has failed too many runs."""
        entry = self.pending.get(str(job["id"]))
        runs = (entry or {}).get("runs", 0) + 1
        if runs >= TRACE_PENDING_MAX_RUNS:
            self.pending.pop(str(job["id"]), None)
            return f"{reason}; failed in {runs} runs"
        self.pending[str(job["id"])] = {**_pending_job(job), "runs": runs, "reason": reason}
        return None


def _pending_job(job: TJob) -> Dict[str, Any]:
    """The few fields of a job its log row needs, as kept in state until the log is fetched."""
    keys = job_keys(job)
    return {
        "id": job["id"],
        "project_id": keys["project_id"],
        "pipeline": {"id": keys["pipeline_id"], "project_id": keys["project_id"]},
        "name": job.get("name"),
        "status": job.get("status"),
        "web_url": job.get("web_url"),
        "started_at": job.get("started_at"),
        "finished_at": job.get("finished_at"),
        "created_at": job.get("created_at"),
    }


class _ExtractContext:
    """One extract's HTTP machinery on dlt's event loop: the session, the semaphore and the gate."""

    def __init__(self, loop: asyncio.AbstractEventLoop, settings: _Settings) -> None:
        self.loop = loop
        self.semaphore = asyncio.Semaphore(settings.concurrency)
        self.gate = GitLabRequestGate(settings.requests_per_minute, TRACE_RATE_LIMIT_LOW_FRACTION)
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
    `max_parallel_items`); all of them share the extract's one session, semaphore and gate.
    """

    def __init__(
        self,
        api_url: str,
        access_token: str,
        token_type: str,
        config: JobLogsConfiguration,
        stats: JobLogStats,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.stats = stats
        self.config = config
        self.settings = _settings(api_url, config)
        self._headers = {**auth_headers(access_token, token_type), "User-Agent": USER_AGENT}
        self._fingerprinter: Optional[Fingerprinter] = None
        self._context: Optional[_ExtractContext] = None
        self._state_dict: Optional[Dict[str, Any]] = None
        self._state: Optional[_LogState] = None
        self._denied: Dict[int, str] = {}

    def __repr__(self) -> str:
        return f"GitLabTraceFetcher(api_url={self.api_url!r}, token='*****')"

    def logs_of_page(self, jobs: Any) -> Optional[AsyncIterator[Any]]:
        """The transformer: picks the page's finished jobs not fetched before, and returns their rows' generator.

        Runs on dlt's main thread, where the resource state is at hand; the returned async generator
        runs on dlt's extract loop.
        """
        page: List[TJob] = jobs if isinstance(jobs, list) else [jobs]
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
        if self._fingerprinter is None:
            self._fingerprinter = Fingerprinter(
                self.config.fingerprint_key or load_or_create_fingerprint_key(dlt.current.run_context().settings_dir)
            )
        return self._page_rows(list(wanted.values()), state)

    def _run_state(self) -> _LogState:
        """This run's view of the resource state; a new state object means a new run."""
        state = dlt.current.resource_state()
        if state is not self._state_dict or self._state is None:
            self._state_dict = state
            self._state = _LogState(state)
            self._denied = {}
        return self._state

    def _extract_context(self) -> _ExtractContext:
        loop = asyncio.get_running_loop()
        if self._context is None or self._context.loop is not loop:
            self._context = _ExtractContext(loop, self.settings)  # one per extract: each has its own loop
        return self._context

    async def _page_rows(self, jobs: List[TJob], state: _LogState) -> AsyncIterator[Any]:
        """Fetches one page's logs concurrently and yields the rows of the three tables."""
        context = self._extract_context()
        session = await context.open(self._headers, self.settings.concurrency)
        tasks = [asyncio.ensure_future(self._fetch_trace(session, context, job)) for job in jobs]
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
                yield dlt.mark.with_table_name(rows, table)

    def _account(
        self, outcome: _Outcome, state: _LogState, logs: List[TRow], sections: List[TRow], findings: List[TRow]
    ) -> None:
        """Adds one outcome to the rows, the run's stats and the state."""
        job, now = outcome.job, datetime.now(timezone.utc)
        keys = job_keys(job)
        if outcome.status == "fetched" and outcome.reader is not None:
            log_row, section_rows, finding_rows = trace_rows(job, outcome.reader, now)
            logs.append(log_row)
            sections += section_rows
            findings += finding_rows
            self.stats.fetched += 1
            self.stats.findings += outcome.reader.scanner.finding_count
            state.record_done(job)
        elif outcome.status == "missing":
            logs.append(missing_row(job, now))
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

    async def _fetch_trace(self, session: aiohttp.ClientSession, context: _ExtractContext, job: TJob) -> _Outcome:
        """Streams one log through a `TraceReader`, retrying as the policy says.

        Every outcome for the one log is returned, failures included; only a 401 (a bad token, so
        every other log would fail too) raises.
        """
        keys = job_keys(job)
        path = f"/projects/{keys['project_id']}/jobs/{job['id']}/trace"
        policy = self.settings.retry
        errors = waits = 0
        while True:
            await context.gate.wait()
            status: Optional[int] = None
            headers: Optional[Mapping[str, str]] = None
            body, failure = b"", ""
            async with context.semaphore:
                if keys["project_id"] in self._denied:  # checked once in flight: a 403 may have come meanwhile
                    return _Outcome(job, "denied", reason=self._denied[keys["project_id"]])
                self.stats.requests += 1
                try:
                    async with session.get(self.api_url + path) as response:
                        context.gate.observe(response.headers)
                        status, headers = response.status, response.headers
                        if status == 200:
                            assert self._fingerprinter is not None
                            reader = TraceReader(
                                self.settings.detectors, self._fingerprinter, self.settings.max_bytes,
                                self.settings.store_text, not self.settings.strip_ansi,
                            )
                            async for chunk in response.content.iter_chunked(TRACE_CHUNK_BYTES):
                                reader.feed(chunk)
                            reader.finish()
                            return _Outcome(job, "fetched", reader=reader)
                        body = await response.content.read(2_048) if status in (401, 403) else b""
                except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                    status, failure = None, type(exc).__name__
            if status == 404:
                return _Outcome(job, "missing")
            if status in (401, 403):
                return self._denial(job, path, status, body)
            if status is not None and not policy.is_retryable(status):
                return _Outcome(job, "failed", reason=f"GitLab answered {status} on {path}")
            if status == 429:
                waits += 1
                self.stats.rate_limited += 1
                if waits > policy.max_rate_limit_waits:
                    return _Outcome(job, "failed", reason=f"still 429 Too Many Requests on {path} after {waits} waits")
                context.gate.pause(policy.retry_delay(status, headers, waits))
                continue
            errors += 1
            what = f"HTTP {status}" if status is not None else failure
            if errors >= policy.max_attempts:
                return _Outcome(job, "failed", reason=f"{what} on {path} after {errors} attempts")
            self.stats.retries += 1
            await asyncio.sleep(policy.retry_delay(status, headers, errors))

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


def _settings(api_url: str, config: JobLogsConfiguration) -> _Settings:
    """Resolves presets and validates the configuration once, when the source is built."""
    on_gitlab_com = (urlsplit(api_url).hostname or "").lower() in GITLAB_COM_HOSTS
    concurrency = config.trace_concurrency or (TRACE_CONCURRENCY_GITLAB_COM if on_gitlab_com else TRACE_CONCURRENCY)
    per_minute = config.trace_requests_per_minute or (TRACE_REQUESTS_PER_MINUTE_GITLAB_COM if on_gitlab_com else None)
    if concurrency < 1 or (per_minute is not None and per_minute < 1):
        raise GitLabSourceError("sources.gitlab.trace_concurrency and trace_requests_per_minute must be at least 1")
    if config.trace_max_attempts < 1 or config.trace_backoff_base_seconds < 0:
        raise GitLabSourceError("sources.gitlab.trace_max_attempts must be at least 1, trace_backoff_base_seconds >= 0")
    if config.trace_max_bytes < 1_024:
        raise GitLabSourceError("sources.gitlab.trace_max_bytes must be at least 1024")
    return _Settings(
        concurrency=concurrency,
        requests_per_minute=per_minute,
        max_bytes=config.trace_max_bytes,
        store_text=config.store_log_text,
        strip_ansi=config.strip_ansi,
        detectors=build_detectors(config.secret_patterns),
        retry=GitLabRetryPolicy(
            max_attempts=config.trace_max_attempts, backoff_base_seconds=config.trace_backoff_base_seconds
        ),
    )


def job_logs(
    jobs: DltResource,
    api_url: str,
    access_token: str,
    token_type: str = "auto",
    config: Optional[JobLogsConfiguration] = None,
    stats: Optional[JobLogStats] = None,
) -> DltResource:
    """The `job_logs` transformer over `jobs`: finished jobs' logs, their sections and the secrets in them.

    Each finished job's log is fetched once: later runs skip it, and a job that was still running is
    fetched in the run after it finishes. Logs are streamed and scanned chunk by chunk; at most
    `trace_max_bytes` of each is stored (head and tail), with every secret replaced by
    `[REDACTED:<kind>]`. A log that fails after its retries is named in `stats` and fetched next run.

    Args:
        jobs (DltResource): The `jobs` resource; its rows need `id`, `status`, `pipeline` and `web_url`.
        api_url (str): GitLab's API root, ending in `/api/v4`.
        access_token (str): The source's token; it only goes into the request header.
        token_type (str): "auto", "private", "oauth" or "job", as for the source. Defaults to "auto".
        config (JobLogsConfiguration, optional): Tunables; resolved from `[sources.gitlab]` when omitted.
        stats (JobLogStats, optional): Collects the run's counts and failures for the summary.

    Returns:
        DltResource: `job_logs` (merge on `job_id`), also loading `job_log_sections` and `secret_findings`.
    """
    resolved = config if config is not None else resolve_configuration(
        JobLogsConfiguration(), sections=("sources", "gitlab")
    )
    fetcher = GitLabTraceFetcher(api_url, access_token, token_type, resolved, stats or JobLogStats())

    def _logs_of_page(jobs_page: Any) -> Optional[AsyncIterator[Any]]:  # dlt needs a function, not a method
        return fetcher.logs_of_page(jobs_page)

    resource = dlt.transformer(
        _logs_of_page, data_from=jobs, name=JOB_LOGS_TABLE, write_disposition="merge", primary_key="job_id"
    )
    for table, hints in TABLE_HINTS.items():
        resource.apply_hints(table_name=table, write_disposition="merge", create_table_variant=True, **hints)
    return resource
