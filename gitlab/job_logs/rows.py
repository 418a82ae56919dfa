"""A streamed job log turned into rows of `job_logs`, `job_log_sections` and `secret_findings`.

See https://docs.gitlab.com/api/jobs/#get-a-log-file
"""

import codecs
from collections import deque
from datetime import datetime
from typing import Any, Deque, Dict, List, Tuple

from gitlab.log_sections import GitLabSectionParser
from gitlab.secrets_scan import Fingerprinter, GitLabSecretScanner, SecretDetector, strip_ansi
from gitlab.settings import TRACE_MAX_LINE_BYTES

TJob = Dict[str, Any]
TRow = Dict[str, Any]
JOB_LOGS_TABLE, SECTIONS_TABLE, FINDINGS_TABLE = "job_logs", "job_log_sections", "secret_findings"
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


# Each table gets its hints as a variant, set once on the resource: a variant starts from the
# resource's own hints, so those stay bare (primary key and disposition only).
TABLE_HINTS: Dict[str, Dict[str, Any]] = {
    JOB_LOGS_TABLE: {"primary_key": "job_id", "columns": JOB_LOGS_COLUMNS},
    SECTIONS_TABLE: {"primary_key": ["job_id", "section_index"], "columns": SECTION_COLUMNS},
    FINDINGS_TABLE: {"primary_key": ["job_id", "finding_index"], "columns": FINDING_COLUMNS},
}


class HeadTail:
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


class TraceReader:
    """Reads one streamed log chunk by chunk: whole lines are redacted, then parsed for sections and stored.

    Only the unfinished last line and at most `max_bytes` of stored text stay in memory, however long
    the log is; every byte is scanned, stored or not.

    Args:
        detectors (List[SecretDetector]): From `build_detectors`.
        fingerprinter (Fingerprinter): Keyed hash for the findings.
        max_bytes (int): Stored text cap; the head and tail halves are kept (`trace_max_bytes`).
        store_text (bool): Keep the redacted text at all. Defaults to True.
        keep_ansi (bool): Store the ANSI colour codes too. Defaults to False.
    """

    def __init__(
        self,
        detectors: List[SecretDetector],
        fingerprinter: Fingerprinter,
        max_bytes: int,
        store_text: bool = True,
        keep_ansi: bool = False,
    ) -> None:
        self.keep_ansi = keep_ansi
        self.scanner = GitLabSecretScanner(detectors, fingerprinter)
        self.sections = GitLabSectionParser()
        self.stored = HeadTail(max_bytes) if store_text else None
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
            self.stored.add(redacted_raw if self.keep_ansi else redacted_plain)
        newlines = raw.count("\n")
        self.next_line += newlines
        self.line_count += newlines


def job_keys(job: TJob) -> Dict[str, Any]:
    """`job_id`, `project_id` and `pipeline_id` of a job as GitLab lists it (or as kept in state)."""
    pipeline = job.get("pipeline") or {}
    return {
        "job_id": job["id"],
        "project_id": job.get("project_id") or pipeline.get("project_id"),
        "pipeline_id": pipeline.get("id") or job.get("pipeline_id"),
    }


def trace_rows(job: TJob, reader: TraceReader, fetched_at: datetime) -> Tuple[TRow, List[TRow], List[TRow]]:
    """The `job_logs` row of one fetched log, its `job_log_sections` rows and its `secret_findings` rows."""
    keys = job_keys(job)
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


def missing_row(job: TJob, fetched_at: datetime) -> TRow:
    """The `job_logs` row of a job GitLab has no log for (404): recorded, so it is not asked for again."""
    return {
        **job_keys(job),
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
