"""Secret detection in CI job logs: finds, redacts and fingerprints leaked credentials as a log streams.

See https://docs.gitlab.com/security/tokens/#token-prefixes for GitLab's token prefixes.
"""

import hashlib
import hmac
import logging
import os
import re
import secrets
from dataclasses import dataclass
from typing import Callable, Dict, List, Mapping, Optional, Pattern, Tuple

import tomlkit
import tomlkit.exceptions

from gitlab.errors import GitLabSourceError
from gitlab.settings import FINGERPRINT_KEY_BYTES

logger = logging.getLogger(__name__)

FINGERPRINT_KEY_NAME = "fingerprint_key"

REDACTED = "[REDACTED:{kind}]"
MAX_FINDINGS_PER_LOG = 1_000  # a log printing more is still redacted in full, but keeps this many rows
FINGERPRINT_HEX_CHARS = 32  # 128 bits of HMAC-SHA256
MIN_ASSIGNED_VALUE_CHARS = 6

# GitLab's documented token prefixes; longer prefixes first so that `glrtr-` wins over `glrt-`.
GITLAB_TOKEN_KINDS: Dict[str, str] = {
    "glagent-": "gitlab_agent_token",
    "glffct-": "gitlab_feature_flags_token",
    "glsoat-": "gitlab_scim_token",
    "glpat-": "gitlab_pat",
    "glptt-": "gitlab_pipeline_trigger_token",
    "glcbt-": "gitlab_job_token",
    "glrtr-": "gitlab_runner_registration_token",
    "gloas-": "gitlab_oauth_app_secret",
    "glimt-": "gitlab_incoming_email_token",
    "gldt-": "gitlab_deploy_token",
    "glrt-": "gitlab_runner_token",
    "glft-": "gitlab_feed_token",
    "GR1348941": "gitlab_runner_registration_token",  # legacy runner registration tokens (LEGACY_RUNNER_PREFIX)
}
_ASSIGNMENT_KINDS = {
    "password": "password_assignment",
    "passwd": "password_assignment",
    "secret": "secret_assignment",
    "token": "token_assignment",
}
BUILT_IN_KINDS = frozenset(
    [*GITLAB_TOKEN_KINDS.values(), "aws_access_key_id", "private_key", *_ASSIGNMENT_KINDS.values()]
)

_GITLAB_TOKEN = re.compile(
    r"(?<![0-9A-Za-z_-])(?P<prefix>"
    + "|".join(re.escape(prefix) for prefix in GITLAB_TOKEN_KINDS)
    + r")[0-9A-Za-z_-]{20,}(?:\.[0-9A-Za-z_-]+)*"
)
LEGACY_RUNNER_PREFIX = "GR1348941"
_GITLAB_TOKEN_HINT = re.compile(r"gl(?:agent|ffct|soat|pat|ptt|cbt|rtr|oas|imt|dt|rt|ft)-")
_AWS_HINT = re.compile(r"A(?:KIA|SIA|BIA|CCA)[0-9A-Z]{16}")
_AWS_ACCESS_KEY_ID = re.compile(r"(?<![0-9A-Z])(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}(?![0-9A-Z])")
_PEM_BEGIN = re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")
_PEM_END = re.compile(r"-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")
_PEM_BODY = re.compile(r"[A-Za-z0-9+/=]*|[A-Za-z-]+: .*")  # base64 lines, or headers like Proc-Type
MAX_KEY_CHARS = 128
_KEY_CHARS = frozenset("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_.-")
_ASSIGNMENT = re.compile(  # matched at the start of a key that names one of the keywords
    r"(?P<quote>[\"']?)(?P<key>[0-9A-Za-z_.-]+)(?P=quote)(?:[ \t]*=[ \t]*|(?<=[\"'])[ \t]*:[ \t]*(?=[\"']))"
    r"(?P<value>\"[^\"\n]*\"|'[^'\n]*'|[^\s\"'`;&|<>]+)"
)
_NOT_A_VALUE = re.compile(r"^\$|\[MASKED\]|^<.*>$|\{\{|%s|\*{3}", re.IGNORECASE)
_KEY_NOT_A_SECRET = re.compile(r"(?i)_(?:file|path|dir|name|type|length|count|url)$")
_USER_KIND = re.compile(r"[a-z][a-z0-9_]{0,62}")
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b\n]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")

PRIORITY_SPECIFIC, PRIORITY_USER, PRIORITY_GENERIC = 0, 1, 2

TSpan = Tuple[int, int, str, int]
"""(start, end, kind, shown_prefix): a secret's place in a text and how much of it is a public prefix."""


def strip_ansi(text: str) -> str:
    """Removes ANSI escape sequences (colours, erase-line) from `text`; newlines are never touched."""
    return _ANSI.sub("", text) if "\x1b" in text else text


@dataclass(frozen=True)
class SecretFinding:
    """A secret found in a log, in the form that may be stored: never the value itself."""

    kind: str
    line_number: int
    preview: str
    fingerprint: str


@dataclass(frozen=True)
class SecretDetector:
    """One family of secrets: `find(text, start, stop)` returns the spans it sees in text[start:stop]."""

    name: str
    priority: int
    find: Callable[[str, int, int], List[TSpan]]


class Fingerprinter:
    """Keyed hash of secret values: the same secret always gives the same fingerprint, which reveals nothing.

    HMAC-SHA256 with a key kept in dlt secrets, never next to the data: without the key even a short
    password cannot be recovered by hashing guesses.
    """

    def __init__(self, key: str) -> None:
        if not key:
            raise GitLabSourceError("the fingerprint key is empty: set sources.gitlab.fingerprint_key")
        self._key = key.encode("utf-8")

    def fingerprint(self, value: str) -> str:
        """The hex fingerprint of `value`."""
        return hmac.new(self._key, value.encode("utf-8"), hashlib.sha256).hexdigest()[:FINGERPRINT_HEX_CHARS]

    def start(self) -> "hmac.HMAC":
        """An incremental HMAC, for a value (a PEM block) that arrives line by line."""
        return hmac.new(self._key, digestmod=hashlib.sha256)

    def __repr__(self) -> str:
        return "Fingerprinter(key='*****')"


def preview(value: str, shown_prefix: int) -> str:
    """A few leading characters of `value` and an ellipsis: enough to recognise it, never enough to use it.

    Args:
        value (str): The secret.
        shown_prefix (int): How many leading characters are a public prefix (6 for `glpat-`).

    Returns:
        str: e.g. `glpat-Ab3x…`: at most a quarter of the secret part, nothing of a short one.
    """
    rest = len(value) - shown_prefix
    shown = 4 if rest >= 16 else 2 if rest >= 8 else 0
    return value[: shown_prefix + shown] + "…"


def _gitlab_tokens(text: str, start: int, stop: int) -> List[TSpan]:
    """GitLab tokens by prefix; a fast literal search for `gl…-` narrows where the full pattern is tried."""
    hints = [m.start() for m in _GITLAB_TOKEN_HINT.finditer(text, start, stop)]
    legacy = text.find(LEGACY_RUNNER_PREFIX, start, stop)
    while legacy >= 0:
        hints.append(legacy)
        legacy = text.find(LEGACY_RUNNER_PREFIX, legacy + 1, stop)
    found = []
    for hint in sorted(hints):
        match = _GITLAB_TOKEN.match(text, hint, stop)
        if match is not None:
            found.append((match.start(), match.end(), GITLAB_TOKEN_KINDS[match.group("prefix")],
                          len(match.group("prefix"))))
    return found


def _aws_access_key_ids(text: str, start: int, stop: int) -> List[TSpan]:
    return [
        (m.start(), m.end(), "aws_access_key_id", 4)
        for hint in _AWS_HINT.finditer(text, start, stop)
        for m in [_AWS_ACCESS_KEY_ID.match(text, hint.start(), stop)]
        if m is not None
    ]


def _assigned_value(match: "re.Match[str]") -> Optional[Tuple[int, int]]:
    """The span of the assigned value, or None for a placeholder, a variable, a number or a short value."""
    start, end = match.span("value")
    if match.group("value")[:1] in "\"'":
        start, end = start + 1, end - 1
    value = match.string[start:end]
    if (
        len(value) < MIN_ASSIGNED_VALUE_CHARS
        or value.isdigit()
        or len(set(value)) == 1
        or _NOT_A_VALUE.search(value)
        or _KEY_NOT_A_SECRET.search(match.group("key"))
    ):
        return None
    return start, end


def _separators(text: str, start: int, stop: int) -> List[int]:
    """Positions of `=` and of the `:` of a quoted key (`"password": ...`): where an assignment can be."""
    found = []
    for needle, offset in (("=", 0), ('":', 1), ("':", 1)):
        index = text.find(needle, start, stop)
        while index >= 0:
            found.append(index + offset)
            index = text.find(needle, index + 1, stop)
    return sorted(found)


def _assignments(text: str, start: int, stop: int) -> List[TSpan]:
    """`password=`, `secret=`, `token=` style assignments: the key before each `=` is read backwards.

    Logs print far fewer `=` than words, so starting from the separators is much cheaper than
    searching every line for the keywords.
    """
    found: List[TSpan] = []
    for separator in _separators(text, start, stop):
        key_end = separator
        while key_end > start and text[key_end - 1] in " \t":
            key_end -= 1
        quote = text[key_end - 1] if key_end > start and text[key_end - 1] in "\"'" else ""
        key_end -= len(quote)
        key_start = key_end
        while key_start > start and key_end - key_start < MAX_KEY_CHARS and text[key_start - 1] in _KEY_CHARS:
            key_start -= 1
        key = text[key_start:key_end].lower()
        word = next((word for word in _ASSIGNMENT_KINDS if word in key), None)
        if word is None or (key_start > start and text[key_start - 1] in _KEY_CHARS):
            continue
        if quote and text[key_start - 1:key_start] == quote:
            key_start -= 1
        match = _ASSIGNMENT.match(text, key_start, stop)
        span = _assigned_value(match) if match is not None and match.start("value") > separator else None
        if span:
            found.append((span[0], span[1], _ASSIGNMENT_KINDS[word], 0))
    return found


def _user_detector(kind: str, pattern: Pattern[str]) -> Callable[[str, int, int], List[TSpan]]:
    group = "secret" if "secret" in pattern.groupindex else (1 if pattern.groups else 0)

    def _find(text: str, start: int, stop: int) -> List[TSpan]:
        return [
            (m.start(group), m.end(group), kind, 0)
            for m in pattern.finditer(text, start, stop)
            if m.end(group) > m.start(group) and "\n" not in m.group(group)
        ]

    return _find


def build_detectors(user_patterns: Optional[Mapping[str, str]] = None) -> List[SecretDetector]:
    """The built-in detectors plus one per user regex, validated.

    Args:
        user_patterns (Mapping[str, str], optional): Kind → regex, from `sources.gitlab.secret_patterns`.
            The secret is the group named `secret`, else group 1, else the whole match.

    Returns:
        List[SecretDetector]: GitLab tokens, AWS key ids, the user's patterns, then generic assignments.
    """
    detectors = [
        SecretDetector("gitlab_tokens", PRIORITY_SPECIFIC, _gitlab_tokens),
        SecretDetector("aws_access_key_ids", PRIORITY_SPECIFIC, _aws_access_key_ids),
    ]
    for kind, regex in (user_patterns or {}).items():
        if not _USER_KIND.fullmatch(kind) or kind in BUILT_IN_KINDS:
            raise GitLabSourceError(
                f"sources.gitlab.secret_patterns: kind {kind!r} must be lower_snake_case and not a"
                f" built-in kind ({', '.join(sorted(BUILT_IN_KINDS))}), e.g. acme_api_key"
            )
        try:
            pattern = re.compile(regex)
        except re.error as exc:
            raise GitLabSourceError(
                f"sources.gitlab.secret_patterns.{kind} is not a valid regular expression: {exc}"
            ) from None
        if pattern.match(""):
            raise GitLabSourceError(f"sources.gitlab.secret_patterns.{kind} matches the empty string")
        detectors.append(SecretDetector(kind, PRIORITY_USER, _user_detector(kind, pattern)))
    detectors.append(SecretDetector("assignments", PRIORITY_GENERIC, _assignments))
    return detectors


def _non_overlapping(candidates: List[Tuple[int, TSpan]]) -> List[TSpan]:
    """Keeps the most specific of overlapping spans (`token=glptt-...` is one trigger token), by position."""
    kept: List[TSpan] = []
    for _, span in sorted(candidates, key=lambda c: (c[0], c[1][0], -c[1][1])):
        if all(span[1] <= other[0] or span[0] >= other[1] for other in kept):
            kept.append(span)
    return sorted(kept)


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
        redacted_plain = _redact(plain, spans)
        return _redact_raw(raw, plain, spans, redacted_plain), redacted_plain

    def finish(self) -> None:
        """Ends the log: a key still open (no END line) is recorded as it is."""
        if self._pem is not None:
            self._close_pem()

    def _detect(self, plain: str, start: int, stop: int, first_line: int) -> List[TSpan]:
        candidates = [
            (detector.priority, span) for detector in self.detectors for span in detector.find(plain, start, stop)
        ]
        kept = _non_overlapping(candidates)
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
            value = plain[begin.start():end.end()]
            spans.append((begin.start(), end.end(), "private_key", 0))
            self._add(SecretFinding("private_key", line_number, begin.group(0) + "…",
                                    self.fingerprinter.fingerprint(value)))
            return end.end()
        self._pem = _PemBlock(line_number, begin.group(0), self.fingerprinter.start())
        self._pem.digest.update(plain[begin.start():line_end].rstrip("\r").encode("utf-8"))
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


def _redact(text: str, spans: List[TSpan]) -> str:
    """`text` with each span replaced by its `[REDACTED:<kind>]` marker."""
    pieces, cursor = [], 0
    for start, end, kind, _ in sorted(spans):
        pieces += [text[cursor:start], REDACTED.format(kind=kind)]
        cursor = end
    pieces.append(text[cursor:])
    return "".join(pieces)


def _redact_raw(raw: str, plain: str, spans: List[TSpan], redacted_plain: str) -> str:
    """Redacts the ANSI-coloured text line by line, replacing each secret's exact text.

    A line where a colour code sits inside a secret cannot be matched that way: it is stored as
    its redacted plain line, losing its colours but not the redaction.
    """
    if raw == plain:
        return redacted_plain
    raw_lines, plain_lines = raw.split("\n"), plain.split("\n")
    redacted_lines = redacted_plain.split("\n")
    if len(raw_lines) != len(plain_lines) or len(redacted_lines) != len(plain_lines):
        return redacted_plain
    line_starts, offset = [], 0
    for line in plain_lines:
        line_starts.append(offset)
        offset += len(line) + 1
    by_line: Dict[int, List[Tuple[str, str]]] = {}
    index = 0
    for start, end, kind, _ in sorted(spans):
        while index + 1 < len(line_starts) and line_starts[index + 1] <= start:
            index += 1
        by_line.setdefault(index, []).append((plain[start:end], REDACTED.format(kind=kind)))
    for index, replacements in by_line.items():
        line = raw_lines[index]
        for value, marker in replacements:
            if value and value not in line:
                line = redacted_lines[index]
                break
            line = line.replace(value, marker) if value else line
        else:
            if any(not value for value, _ in replacements):  # an empty line inside a key
                line = redacted_lines[index]
        raw_lines[index] = line
    return "\n".join(raw_lines)


def load_or_create_fingerprint_key(settings_dir: str) -> str:
    """The fingerprint key saved in `<settings_dir>/secrets.toml`, generated and saved there when absent.

    The key lives with the other dlt secrets, where the next run finds it as `sources.gitlab.fingerprint_key`,
    and never in dlt state: state is loaded into the destination, next to the fingerprints it would unlock.

    Args:
        settings_dir (str): dlt's settings folder, `.dlt` of the project (dlt.current.run_context()).

    Returns:
        str: The key.
    """
    path = os.path.join(settings_dir, "secrets.toml")
    try:
        document = tomlkit.document()
        if os.path.exists(path):
            with open(path, encoding="utf-8") as existing:
                document = tomlkit.parse(existing.read())
        section = document.setdefault("sources", tomlkit.table()).setdefault("gitlab", tomlkit.table())
        if section.get(FINGERPRINT_KEY_NAME):
            return str(section[FINGERPRINT_KEY_NAME])
        key = secrets.token_urlsafe(FINGERPRINT_KEY_BYTES)
        section[FINGERPRINT_KEY_NAME] = key
        os.makedirs(settings_dir, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(tomlkit.dumps(document))
    except (OSError, tomlkit.exceptions.TOMLKitError) as exc:
        raise GitLabSourceError(
            f"cannot keep a generated fingerprint key in {path} ({type(exc).__name__}): set"
            " sources.gitlab.fingerprint_key (or SOURCES__GITLAB__FINGERPRINT_KEY) to a long random string"
        ) from None
    logger.warning(
        "generated sources.gitlab.fingerprint_key and saved it in %s; keep it with your other secrets"
        " (in CI: SOURCES__GITLAB__FINGERPRINT_KEY), or later fingerprints will not match earlier ones",
        path,
    )
    return key
