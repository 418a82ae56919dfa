"""Secret detection in CI job logs: finds, redacts and fingerprints leaked credentials as a log streams."""

import hmac
import re
from dataclasses import dataclass
from typing import List, Optional, Tuple

from gitlab.job_logs.detectors import SecretDetector, non_overlapping
from gitlab.job_logs.fingerprints import FINGERPRINT_HEX_CHARS, Fingerprinter
from gitlab.job_logs.redaction import TSpan, preview, redact, redact_raw

MAX_FINDINGS_PER_LOG = 1_000  # a log printing more is still redacted in full, but keeps this many rows
_PEM_BEGIN = re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")
_PEM_END = re.compile(r"-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")
_PEM_BODY = re.compile(r"[A-Za-z0-9+/=]*|[A-Za-z-]+: .*")  # base64 lines, or headers like Proc-Type


@dataclass(frozen=True)
class SecretFinding:
    """A secret found in a log, in the form that may be stored: never the value itself."""

    kind: str
    line_number: int
    preview: str
    fingerprint: str


class _PemBlock:
    """A private key being read across lines: where it began and its running fingerprint."""

    def __init__(self, line_number: int, header: str, digest: "hmac.HMAC") -> None:
        self.line_number = line_number
        self.header = header
        self.digest = digest


class GitLabSecretScanner:
    """Scans one log, block after block of whole lines in order, and redacts what it finds.

    Detectors run on the ANSI-stripped text, so colour codes cannot hide or split a token. A PEM
    private key spans lines, and blocks: the scanner carries the open key from one block to the
    next, redacts each of its lines and records one finding at its BEGIN line.
    """

    def __init__(self, detectors: List[SecretDetector], fingerprinter: Fingerprinter) -> None:
        self.detectors = detectors
        self.fingerprinter = fingerprinter
        self.findings: List[SecretFinding] = []
        self.finding_count = 0
        self._pem: Optional[_PemBlock] = None

    def scan(self, raw: str, plain: str, first_line: int) -> Tuple[str, str]:
        """Redacts a block of lines.

        Args:
            raw (str): The block as GitLab sent it; whole lines, the last one possibly unfinished.
            plain (str): `strip_ansi(raw)`.
            first_line (int): 1-based number of the block's first line in the log.

        Returns:
            Tuple[str, str]: `raw` and `plain`, each with every secret replaced by `[REDACTED:<kind>]`.
        """
        spans: List[TSpan] = []
        position = 0
        while position < len(plain):
            if self._pem is not None:
                position = self._pem_lines(plain, position, first_line, spans)
                continue
            begin = _PEM_BEGIN.search(plain, position)
            stop = begin.start() if begin else len(plain)
            spans += self._detect(plain, position, stop, first_line)
            position = self._pem_begin(plain, begin, first_line, spans) if begin else stop
        if not spans:
            return raw, plain
        redacted_plain = redact(plain, spans)
        return redact_raw(raw, plain, spans, redacted_plain), redacted_plain

    def finish(self) -> None:
        """Ends the log: a key still open (no END line) is recorded as it is."""
        if self._pem is not None:
            self._close_pem()

    def _detect(self, plain: str, start: int, stop: int, first_line: int) -> List[TSpan]:
        candidates = [
            (detector.priority, span) for detector in self.detectors for span in detector.find(plain, start, stop)
        ]
        kept = non_overlapping(candidates)
        line, counted = first_line, 0
        for span_start, span_end, kind, shown in kept:
            line += plain.count("\n", counted, span_start)
            counted = span_start
            value = plain[span_start:span_end]
            self._add(SecretFinding(kind, line, preview(value, shown), self.fingerprinter.fingerprint(value)))
        return kept

    def _pem_begin(self, plain: str, begin: "re.Match[str]", first_line: int, spans: List[TSpan]) -> int:
        """Handles a BEGIN line; returns where scanning goes on."""
        line_end = plain.find("\n", begin.start())
        line_end = len(plain) if line_end < 0 else line_end
        line_number = first_line + plain.count("\n", 0, begin.start())
        end = _PEM_END.search(plain, begin.end(), line_end)  # a key escaped into one line, as in JSON
        if end is not None:
            value = plain[begin.start() : end.end()]
            spans.append((begin.start(), end.end(), "private_key", 0))
            self._add(
                SecretFinding("private_key", line_number, begin.group(0) + "…", self.fingerprinter.fingerprint(value))
            )
            return end.end()
        self._pem = _PemBlock(line_number, begin.group(0), self.fingerprinter.start())
        self._pem.digest.update(plain[begin.start() : line_end].rstrip("\r").encode("utf-8"))
        spans.append((begin.start(), line_end, "private_key", 0))
        return line_end + 1

    def _pem_lines(self, plain: str, position: int, first_line: int, spans: List[TSpan]) -> int:
        """Consumes the lines of an open key from `position`; returns where ordinary scanning resumes."""
        assert self._pem is not None
        while position < len(plain):
            line_end = plain.find("\n", position)
            line_end = len(plain) if line_end < 0 else line_end
            line = plain[position:line_end]
            end = _PEM_END.search(line)
            if end is not None:
                self._pem.digest.update(b"\n" + line[: end.end()].encode("utf-8"))
                spans.append((position, position + end.end(), "private_key", 0))
                self._close_pem()
                return position + end.end()
            if not _PEM_BODY.fullmatch(line.strip()):
                self._close_pem()  # the key stopped without its END line
                return position
            self._pem.digest.update(b"\n" + line.rstrip("\r").encode("utf-8"))
            spans.append((position, line_end, "private_key", 0))
            position = line_end + 1
        return len(plain)

    def _close_pem(self) -> None:
        assert self._pem is not None
        fingerprint = self._pem.digest.hexdigest()[:FINGERPRINT_HEX_CHARS]
        self._add(SecretFinding("private_key", self._pem.line_number, self._pem.header + "…", fingerprint))
        self._pem = None

    def _add(self, finding: SecretFinding) -> None:
        self.finding_count += 1
        if len(self.findings) < MAX_FINDINGS_PER_LOG:
            self.findings.append(finding)
