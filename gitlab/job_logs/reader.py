"""A streamed job log read chunk by chunk: redacted, parsed for sections, and kept within a byte cap."""

import codecs
from collections import deque
from typing import Deque, List, Tuple

from gitlab.job_logs.detectors import SecretDetector
from gitlab.job_logs.fingerprints import Fingerprinter
from gitlab.job_logs.redaction import strip_ansi
from gitlab.job_logs.scanner import GitLabSecretScanner
from gitlab.job_logs.sections import GitLabSectionParser
from gitlab.settings import TRACE_MAX_LINE_BYTES

TRUNCATION_MARKER = "\n[… {omitted} bytes of this log are not stored (sources.gitlab.trace_max_bytes) …]\n"


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
            text = text[len(part) :]
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
