"""The `job_logs` transformer: each finished job's log fetched once with aiohttp, scanned and redacted as it streams.

See https://docs.gitlab.com/api/jobs/#get-a-log-file
"""

import asyncio
import codecs
import email.utils
import logging
import random
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, AsyncIterator, Deque, Dict, List, Mapping, Optional, Set, Tuple
from urllib.parse import urlsplit

import aiohttp
import dlt
from dlt.common.configuration import configspec, resolve_configuration
from dlt.common.configuration.specs import BaseConfiguration
from dlt.common.typing import TSecretStrValue
from dlt.sources import DltResource

from gitlab.errors import GitLabSourceError
from gitlab.log_sections import GitLabSectionParser
from gitlab.secrets_scan import (
    Fingerprinter,
    GitLabSecretScanner,
    SecretDetector,
    build_detectors,
    load_or_create_fingerprint_key,
    strip_ansi,
)
from gitlab.settings import (
    GITLAB_COM_HOSTS,
    JOB_FINISHED_STATUSES,
    TRACE_BACKOFF_BASE_SECONDS,
    TRACE_BACKOFF_CAP_SECONDS,
    TRACE_CHUNK_BYTES,
    TRACE_CONCURRENCY,
    TRACE_CONCURRENCY_GITLAB_COM,
    TRACE_CONNECT_TIMEOUT_SECONDS,
    TRACE_MAX_ATTEMPTS,
    TRACE_MAX_BYTES,
    TRACE_MAX_LINE_BYTES,
    TRACE_MAX_RATE_LIMIT_WAITS,
    TRACE_MAX_WAIT_SECONDS,
    TRACE_PENDING_MAX_RUNS,
    TRACE_RATE_LIMIT_LOW_FRACTION,
    TRACE_READ_TIMEOUT_SECONDS,
    TRACE_REQUESTS_PER_MINUTE_GITLAB_COM,
    TRACE_STORE_TEXT,
    TRACE_STRIP_ANSI,
)
from gitlab.transforms import to_utc_iso
from rest_api.auth import auth_headers

logger = logging.getLogger(__name__)

TJob = Dict[str, Any]
TRow = Dict[str, Any]
USER_AGENT = "gitlab-dlt"
TRUNCATION_MARKER = "\n[… {omitted} bytes of this log are not stored (sources.gitlab.trace_max_bytes) …]\n"

JOB_LOGS_COLUMNS: Dict[str, Dict[str, Any]] = {
    "job_id": {"data_type": "bigint", "nullable": False},
    "project_id": {"data_type": "bigint"},
    "pipeline_id": {"data_type": "bigint"},
    "finished_at": {"data_type": "timestamp"},
    "fetched_at": {"data_type": "timestamp"},
    "log_status": {"data_type": "text"},
    "size_bytes": {"data_type": "bigint"},
    "stored_bytes": {"data_type": "bigint"},
    "line_count": {"data_type": "bigint"},
    "truncated": {"data_type": "bool"},
    "finding_count": {"data_type": "bigint"},
    "section_count": {"data_type": "bigint"},
    "log": {"data_type": "text", "nullable": True},
}
SECTION_COLUMNS: Dict[str, Dict[str, Any]] = {
    "job_id": {"data_type": "bigint", "nullable": False},
    "section_index": {"data_type": "bigint", "nullable": False},
    "parent_name": {"data_type": "text", "nullable": True},
    "end_line": {"data_type": "bigint", "nullable": True},
    "started_at": {"data_type": "timestamp"},
    "ended_at": {"data_type": "timestamp", "nullable": True},
    "duration_seconds": {"data_type": "double", "nullable": True},
}
FINDING_COLUMNS: Dict[str, Dict[str, Any]] = {
    "job_id": {"data_type": "bigint", "nullable": False},
    "finding_index": {"data_type": "bigint", "nullable": False},
    "line_number": {"data_type": "bigint"},
    "detected_at": {"data_type": "timestamp"},
}


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
            f"Job logs: {self.fetched} fetched ({self.missing} without a log), {self.findings} secret finding(s),"
            f" {self.requests} trace requests ({self.retries} retried, {self.rate_limited} rate-limited);"
            f" skipped {self.skipped_fetched_before} fetched before and {self.skipped_unfinished} unfinished"
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
class GitLabRetryPolicy:
    """When to retry a trace request and how long to wait: kept apart from the code that fetches.

    Retried: 5xx, 408, timeouts and dropped connections (up to `max_attempts`), and 429 (up to
    `max_rate_limit_waits`, waiting as GitLab says).
    """

    max_attempts: int = TRACE_MAX_ATTEMPTS
    max_rate_limit_waits: int = TRACE_MAX_RATE_LIMIT_WAITS
    backoff_base_seconds: float = TRACE_BACKOFF_BASE_SECONDS
    backoff_cap_seconds: float = TRACE_BACKOFF_CAP_SECONDS
    max_wait_seconds: float = TRACE_MAX_WAIT_SECONDS

    def is_retryable(self, status: Optional[int]) -> bool:
        """True for a dropped connection or timeout (status None), 408, 429 and every 5xx."""
        return status is None or status in (408, 429) or status >= 500

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter: half of min(cap, base * 2^(attempt-1)) plus a random other half."""
        ceiling = min(self.backoff_cap_seconds, self.backoff_base_seconds * 2 ** (attempt - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def retry_delay(self, headers: Optional[Mapping[str, str]], attempt: int) -> float:
        """Seconds to wait before attempt `attempt + 1`: what `Retry-After` or `RateLimit-Reset` say, else backoff."""
        told = _told_wait_seconds(headers) if headers is not None else None
        if told is None:
            return self.backoff(attempt)
        return min(told, self.max_wait_seconds) + random.uniform(0, self.backoff_base_seconds / 2)


def _told_wait_seconds(headers: Mapping[str, str]) -> Optional[float]:
    """The wait a 429 asks for: `Retry-After` (seconds or HTTP date), else `RateLimit-Reset` (unix seconds)."""
    retry_after = headers.get("Retry-After")
    if retry_after:
        if retry_after.strip().isdigit():
            return float(retry_after)
        try:
            moment = email.utils.parsedate_to_datetime(retry_after)
            return max(0.0, moment.timestamp() - time.time())
        except (TypeError, ValueError):
            pass
    reset = headers.get("RateLimit-Reset")
    if reset and reset.strip().isdigit():
        return max(0.0, int(reset) - time.time())
    return None


class _RequestGate:
    """Spaces trace requests: a fixed cap a minute, a pause after a 429, and slower as the budget runs low."""

    def __init__(self, requests_per_minute: Optional[int], low_fraction: float) -> None:
        self._cap_interval = 60.0 / requests_per_minute if requests_per_minute else 0.0
        self._budget_interval = 0.0
        self._low_fraction = low_fraction
        self._next_start = 0.0
        self._paused_until = 0.0

    async def wait(self) -> None:
        """Waits for this request's turn (reserving it before sleeping, so turns never collide)."""
        now = time.monotonic()
        start = max(now, self._next_start, self._paused_until)
        self._next_start = start + max(self._cap_interval, self._budget_interval)
        if start > now:
            await asyncio.sleep(start - now)

    def pause(self, seconds: float) -> None:
        """Holds every request for `seconds`, after a 429."""
        self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    def observe(self, headers: Mapping[str, str]) -> None:
        """Reads `RateLimit-*`: below `low_fraction` of the limit, the rest of the budget is spread until reset."""
        try:
            limit = int(headers["RateLimit-Limit"])
            remaining = int(headers["RateLimit-Remaining"])
            reset = int(headers["RateLimit-Reset"])
        except (KeyError, ValueError):
            return
        if remaining > limit * self._low_fraction:
            self._budget_interval = 0.0
            return
        seconds_left = max(reset - time.time(), 0.0)
        if remaining <= 0:
            self.pause(seconds_left)
        self._budget_interval = seconds_left / max(remaining, 1)


class _HeadTail:
    """Keeps at most `max_bytes` of a text: the first half as it came, the last half as a moving window."""

    def __init__(self, max_bytes: int) -> None:
        self.head_limit = max_bytes // 2
        self.tail_limit = max_bytes - self.head_limit
        self.head: List[str] = []
        self.head_bytes = 0
        self.tail: Deque[Tuple[str, int]] = deque()
        self.tail_bytes = 0
        self.omitted_bytes = 0

    def add(self, text: str) -> None:
        """Appends `text`, dropping the middle of the log once it is over the cap."""
        size = len(text.encode("utf-8"))
        room = self.head_limit - self.head_bytes
        if not self.tail and size <= room:
            self.head.append(text)
            self.head_bytes += size
            return
        if not self.tail and room > 0:
            part = text.encode("utf-8")[:room].decode("utf-8", "ignore")
            self.head.append(part)
            self.head_bytes += len(part.encode("utf-8"))
            text = text[len(part):]
            size = len(text.encode("utf-8"))
        self.tail.append((text, size))
        self.tail_bytes += size
        while self.tail_bytes > self.tail_limit:
            first, first_size = self.tail.popleft()
            excess = self.tail_bytes - self.tail_limit
            if first_size > excess:
                kept = first.encode("utf-8")[excess:].decode("utf-8", "ignore")
                kept_size = len(kept.encode("utf-8"))
                self.tail.appendleft((kept, kept_size))
                self.omitted_bytes += first_size - kept_size
                self.tail_bytes += kept_size - first_size
            else:
                self.omitted_bytes += first_size
                self.tail_bytes -= first_size

    def text(self) -> str:
        """The kept text, with a marker where the middle was dropped."""
        middle = TRUNCATION_MARKER.format(omitted=self.omitted_bytes) if self.omitted_bytes else ""
        return "".join(self.head) + middle + "".join(piece for piece, _ in self.tail)


class _TraceReader:
    """Turns a streamed log into its rows: decodes chunks, cuts whole lines, redacts, finds sections, stores."""

    def __init__(self, settings: "_Settings", fingerprinter: Fingerprinter) -> None:
        self.settings = settings
        self.scanner = GitLabSecretScanner(settings.detectors, fingerprinter)
        self.sections = GitLabSectionParser()
        self.stored = _HeadTail(settings.max_bytes) if settings.store_text else None
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._carry = ""
        self.size_bytes = 0
        self.next_line = 1
        self.line_count = 0

    def feed(self, chunk: bytes) -> None:
        """Reads one chunk of the body; complete lines are processed, the unfinished one is carried."""
        self.size_bytes += len(chunk)
        text = self._carry + self._decoder.decode(chunk)
        cut = text.rfind("\n") + 1
        if cut == 0 and len(text) > TRACE_MAX_LINE_BYTES:
            cut = max(text.rfind(" ", 0, TRACE_MAX_LINE_BYTES), TRACE_MAX_LINE_BYTES // 2) + 1
        self._carry = text[cut:]
        if cut:
            self._process(text[:cut])

    def finish(self) -> None:
        """Processes the last line (without a newline) and closes what is still open."""
        text = self._carry + self._decoder.decode(b"", final=True)
        self._carry = ""
        if text:
            self._process(text)
            self.line_count += 1
        self.scanner.finish()

    def _process(self, raw: str) -> None:
        plain = strip_ansi(raw)
        redacted_raw, redacted_plain = self.scanner.scan(raw, plain, self.next_line)
        self.sections.feed(redacted_plain, self.next_line)
        if self.stored is not None:
            self.stored.add(redacted_plain if self.settings.strip_ansi else redacted_raw)
        newlines = raw.count("\n")
        self.next_line += newlines
        self.line_count += newlines


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
    reader: Optional[_TraceReader] = None
    reason: str = ""


def _job_keys(job: TJob) -> Dict[str, Any]:
    pipeline = job.get("pipeline") or {}
    return {
        "job_id": job["id"],
        "project_id": job.get("project_id") or pipeline.get("project_id"),
        "pipeline_id": pipeline.get("id") or job.get("pipeline_id"),
    }


def _finished_at(job: TJob) -> str:
    """The moment the job finished, as UTC text that sorts in time order; the watermark's unit."""
    moment = job.get("finished_at") or job.get("started_at") or job.get("created_at")
    return to_utc_iso(moment) if moment else ""


def _trace_rows(job: TJob, reader: _TraceReader, fetched_at: datetime) -> Tuple[TRow, List[TRow], List[TRow]]:
    """The `job_logs` row of one fetched log, its `job_log_sections` rows and its `secret_findings` rows."""
    keys = _job_keys(job)
    text = reader.stored.text() if reader.stored is not None else None
    sections = [{**keys, **row} for row in reader.sections.rows()]
    findings = [
        {
            **keys,
            "finding_index": index,
            "kind": finding.kind,
            "line_number": finding.line_number,
            "preview": finding.preview,
            "fingerprint": finding.fingerprint,
            "web_url": job.get("web_url"),
            "job_name": job.get("name"),
            "detected_at": fetched_at,
        }
        for index, finding in enumerate(reader.scanner.findings)
    ]
    log_row = {
        **keys,
        "job_name": job.get("name"),
        "job_status": job.get("status"),
        "web_url": job.get("web_url"),
        "finished_at": job.get("finished_at"),
        "fetched_at": fetched_at,
        "log_status": "fetched",
        "size_bytes": reader.size_bytes,
        "stored_bytes": len(text.encode("utf-8")) if text is not None else 0,
        "line_count": reader.line_count,
        "truncated": bool(reader.stored and reader.stored.omitted_bytes),
        "finding_count": reader.scanner.finding_count,
        "section_count": len(sections),
        "log": text,
    }
    return log_row, sections, findings


def _missing_row(job: TJob, fetched_at: datetime) -> TRow:
    """The `job_logs` row of a job GitLab has no log for (404): recorded, so it is not asked for again."""
    return {
        **_job_keys(job),
        "job_name": job.get("name"),
        "job_status": job.get("status"),
        "web_url": job.get("web_url"),
        "finished_at": job.get("finished_at"),
        "fetched_at": fetched_at,
        "log_status": "missing",
        "size_bytes": 0,
        "stored_bytes": 0,
        "line_count": 0,
        "truncated": False,
        "finding_count": 0,
        "section_count": 0,
        "log": None,
    }


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

    def fetched_before(self, job: TJob) -> bool:
        """True when an earlier run stored this job's log."""
        if str(job["id"]) in self.pending:
            return False
        mark = self.baseline.get(str(_job_keys(job)["project_id"]))
        if mark is None:
            return False
        finished = _finished_at(job)
        return finished < mark[0] or (finished == mark[0] and job["id"] in mark[1])

    def record_done(self, job: TJob) -> None:
        """Moves the project's watermark past a log that was stored (or is known to be missing)."""
        self.pending.pop(str(job["id"]), None)
        project = str(_job_keys(job)["project_id"])
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
    keys = _job_keys(job)
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
        self.gate = _RequestGate(settings.requests_per_minute, TRACE_RATE_LIMIT_LOW_FRACTION)
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
        self._denied: Set[int] = set()
        self._pending_taken = False

    def __repr__(self) -> str:
        return f"GitLabTraceFetcher(api_url={self.api_url!r}, token='*****')"

    def logs_of_page(self, jobs: Any) -> Optional[AsyncIterator[Any]]:
        """The transformer: picks the page's finished jobs not fetched before, and returns their rows' generator.

        Runs on dlt's main thread, where the resource state is at hand; the returned async generator
        runs on dlt's extract loop.
        """
        page: List[TJob] = jobs if isinstance(jobs, list) else [jobs]
        state = self._run_state()
        wanted: Dict[int, TJob] = {}
        if state.pending and not self._pending_taken:
            self._pending_taken = True
            wanted.update((entry["id"], entry) for entry in state.pending.values())
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
            self._pending_taken = False
            self._denied = set()
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
        if logs:
            yield dlt.mark.with_hints(logs, _LOG_HINTS, create_table_variant=True)
        if sections:
            yield dlt.mark.with_hints(sections, _SECTION_HINTS, create_table_variant=True)
        if findings:
            yield dlt.mark.with_hints(findings, _FINDING_HINTS, create_table_variant=True)

    def _account(
        self, outcome: _Outcome, state: _LogState, logs: List[TRow], sections: List[TRow], findings: List[TRow]
    ) -> None:
        """Adds one outcome to the rows, the run's stats and the state."""
        job, now = outcome.job, datetime.now(timezone.utc)
        keys = _job_keys(job)
        if outcome.status == "fetched" and outcome.reader is not None:
            log_row, section_rows, finding_rows = _trace_rows(job, outcome.reader, now)
            logs.append(log_row)
            sections += section_rows
            findings += finding_rows
            self.stats.fetched += 1
            self.stats.findings += outcome.reader.scanner.finding_count
            state.record_done(job)
        elif outcome.status == "missing":
            logs.append(_missing_row(job, now))
            self.stats.fetched += 1
            self.stats.missing += 1
            state.record_done(job)
        elif outcome.status == "denied":
            self.stats.denied_projects[keys["project_id"]] = outcome.reason
        else:
            self.stats.failed[job["id"]] = outcome.reason
            given_up = state.record_failed(job, outcome.reason)
            logger.warning(
                "could not fetch the log of job %s (project %s): %s; %s",
                job["id"], keys["project_id"], outcome.reason,
                "giving up on it" if given_up else "it will be fetched on the next run",
            )
            if given_up:
                self.stats.given_up[job["id"]] = given_up

    async def _fetch_trace(self, session: aiohttp.ClientSession, context: _ExtractContext, job: TJob) -> _Outcome:
        """Streams one log through a `_TraceReader`, retrying as the policy says.

        Every outcome for the one log is returned, failures included; only a 401 (a bad token, so
        every other log would fail too) raises.
        """
        keys = _job_keys(job)
        path = f"/projects/{keys['project_id']}/jobs/{job['id']}/trace"
        policy = self.settings.retry
        errors = waits = 0
        while True:
            if keys["project_id"] in self._denied:
                return _Outcome(job, "denied", reason=self.stats.denied_projects.get(keys["project_id"], ""))
            await context.gate.wait()
            status: Optional[int] = None
            headers: Optional[Mapping[str, str]] = None
            body, failure = b"", ""
            async with context.semaphore:
                self.stats.requests += 1
                try:
                    async with session.get(self.api_url + path) as response:
                        context.gate.observe(response.headers)
                        status, headers = response.status, response.headers
                        if status == 200:
                            assert self._fingerprinter is not None
                            reader = _TraceReader(self.settings, self._fingerprinter)
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
                context.gate.pause(policy.retry_delay(headers, waits))
                continue
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
        project = _job_keys(job)["project_id"]
        reason = (
            f"GitLab answered 403 Forbidden on {path}: the token may not read job logs here"
            " (it needs at least the Reporter role in the project)"
        )
        if project not in self._denied:
            self._denied.add(project)
            logger.warning("%s; skipping the job logs of project %s in this run", reason, project)
        return _Outcome(job, "denied", reason=reason)


# Each table gets its hints as a variant: a variant starts from the resource's hints, so those stay bare.
_LOG_HINTS = dlt.mark.make_hints(
    table_name="job_logs", write_disposition="merge", primary_key="job_id", columns=JOB_LOGS_COLUMNS
)
_SECTION_HINTS = dlt.mark.make_hints(
    table_name="job_log_sections",
    write_disposition="merge",
    primary_key=["job_id", "section_index"],
    columns=SECTION_COLUMNS,
)
_FINDING_HINTS = dlt.mark.make_hints(
    table_name="secret_findings",
    write_disposition="merge",
    primary_key=["job_id", "finding_index"],
    columns=FINDING_COLUMNS,
)


def _settings(api_url: str, config: JobLogsConfiguration) -> _Settings:
    """Resolves presets and validates the configuration once, when the source is built."""
    on_gitlab_com = (urlsplit(api_url).hostname or "").lower() in GITLAB_COM_HOSTS
    concurrency = config.trace_concurrency or (TRACE_CONCURRENCY_GITLAB_COM if on_gitlab_com else TRACE_CONCURRENCY)
    per_minute = config.trace_requests_per_minute or (TRACE_REQUESTS_PER_MINUTE_GITLAB_COM if on_gitlab_com else None)
    if concurrency < 1 or (per_minute is not None and per_minute < 1):
        raise GitLabSourceError("sources.gitlab.trace_concurrency and trace_requests_per_minute must be at least 1")
    if config.trace_max_bytes < 1_024:
        raise GitLabSourceError("sources.gitlab.trace_max_bytes must be at least 1024")
    return _Settings(
        concurrency=concurrency,
        requests_per_minute=per_minute,
        max_bytes=config.trace_max_bytes,
        store_text=config.store_log_text,
        strip_ansi=config.strip_ansi,
        detectors=build_detectors(config.secret_patterns),
        retry=GitLabRetryPolicy(),
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

    return dlt.transformer(
        _logs_of_page,
        data_from=jobs,
        name="job_logs",
        write_disposition="merge",
        primary_key="job_id",
    )
