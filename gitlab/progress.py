"""The CLI's progress: what a run has done so far, as one live line on a terminal or a line every few seconds in a log.

dlt's own collectors count "Resources: 0/2" (dlt's view of a source whose 21 tables hang off two
roots) and name steps by load id; this one reports what a GitLab load does: rows per table, requests,
job logs fetched of those wanted and their rate, and rate-limit waits.
"""

import logging
import sys
import threading
import time
from collections import defaultdict
from typing import DefaultDict, Optional, TextIO

from dlt.common.runtime.collector_base import Collector

from gitlab.run_stats import GitLabRunStats

LIVE_REDRAW_SECONDS = 0.2
CLEAR_LINE = "\r\x1b[K"
DLT_COUNTERS = ("Resources", "Files", "Items", "Jobs")  # what dlt counts besides tables
STEP_WORDS = {"extract": "extracting", "normalize": "normalizing", "load": "loading"}


class _ClearLiveLine(logging.Filter):
    """Clears the live line before a log record is written to the same terminal, so the two do not run together."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self.stream = stream

    def filter(self, record: logging.LogRecord) -> bool:
        self.stream.write(CLEAR_LINE)
        self.stream.flush()
        return True


class GitLabProgress(Collector):
    """A dlt progress collector for `dlt.pipeline(progress=...)`.

    Args:
        stats (GitLabRunStats): The run's request and job-log counters, shown as they grow.
        period_seconds (float): Seconds between two lines when not on a terminal.
        stream (TextIO, optional): Where to write; standard output by default.
        live (bool, optional): Redraw one line in place; by default when `stream` is a terminal.
    """

    def __init__(
        self,
        stats: GitLabRunStats,
        period_seconds: float,
        stream: Optional[TextIO] = None,
        live: Optional[bool] = None,
    ) -> None:
        self.stats = stats
        self.stream = stream or sys.stdout
        self.live = self.stream.isatty() if live is None else live
        self.period_seconds = LIVE_REDRAW_SECONDS if self.live else period_seconds
        self.step = ""
        self.rows: DefaultDict[str, int] = defaultdict(int)
        self.done = 0
        self.total = 0
        self._started = time.monotonic()
        self._next_line_at = self._started + self.period_seconds
        self._stop_ticking = threading.Event()
        self._ticker: Optional[threading.Thread] = None
        self._filter = _ClearLiveLine(self.stream)

    def update(
        self,
        name: str,
        inc: int = 1,
        total: Optional[int] = None,
        inc_total: Optional[int] = None,
        message: Optional[str] = None,
        label: Optional[str] = None,
    ) -> None:
        if name in DLT_COUNTERS:
            if name in ("Files", "Jobs") and not label:  # the normalize and load steps' own progress
                self.done += inc
                self.total = total if total is not None else self.total + (inc_total or 0)
        elif self._step_word() == STEP_WORDS["extract"] and not name.startswith("_dlt"):
            self.rows[name] += inc

    def line(self) -> str:
        """What the run has done so far, in one line."""
        parts = [
            f"{self._step_word()}: {sum(self.rows.values()):,} rows in {len(self.rows)} tables",
            f"{self.stats.requests + self.stats.job_logs.requests:,} requests",
        ]
        logs = self.stats.job_logs
        if logs.queued:
            elapsed = max(time.monotonic() - self._started, 1e-9)
            parts.append(f"job logs {logs.fetched:,} of {logs.queued:,} ({logs.fetched / elapsed:.0f}/s)")
        if logs.rate_limited:
            parts.append(f"{logs.rate_limited:,} rate-limited")
        if self._step_word() != STEP_WORDS["extract"] and self.total:
            what = "files" if self._step_word() == STEP_WORDS["normalize"] else "table files"
            parts.append(f"{self.done} of {self.total} {what}")
        return " · ".join(parts)

    def _step_word(self) -> str:
        return STEP_WORDS.get(self.step.split(" ", 1)[0].lower(), self.step)

    def _start(self, step: str) -> None:
        self.step, self.done, self.total = step, 0, 0
        if self.live:
            for handler in logging.getLogger().handlers:
                handler.addFilter(self._filter)
        self._stop_ticking.clear()
        self._ticker = threading.Thread(target=self._tick, name="gitlab-progress", daemon=True)
        self._ticker.start()

    def _stop(self) -> None:
        self._stop_ticking.set()
        if self._ticker is not None:
            self._ticker.join()
        if self.live:
            self.stream.write(CLEAR_LINE)
            self.stream.flush()
            for handler in logging.getLogger().handlers:
                handler.removeFilter(self._filter)

    def _tick(self) -> None:
        """Writes the line every period, counted across dlt's steps (each starts and stops this thread)."""
        while not self._stop_ticking.wait(max(self._next_line_at - time.monotonic(), 0)):
            self._next_line_at = time.monotonic() + self.period_seconds
            if self.live:
                self.stream.write(CLEAR_LINE + self.line())
            else:
                self.stream.write(f"Progress: {self.line()}\n")
            self.stream.flush()
