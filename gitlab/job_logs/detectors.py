"""The secret detectors run over job logs: GitLab tokens, AWS key ids, assignments, the user's own regexes.

See https://docs.gitlab.com/security/tokens/#token-prefixes for GitLab's token prefixes.
"""

import re
from dataclasses import dataclass
from typing import Callable, Dict, List, Mapping, Optional, Pattern, Tuple

from gitlab.errors import GitLabSourceError
from gitlab.job_logs.redaction import TSpan

MIN_ASSIGNED_VALUE_CHARS = 6

LEGACY_RUNNER_PREFIX = "GR1348941"  # legacy runner registration tokens
# GitLab's documented token prefixes, the one list every pattern below is built from; longer prefixes
# first so that `glrtr-` wins over `glrt-`.
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
    LEGACY_RUNNER_PREFIX: "gitlab_runner_registration_token",
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
# A literal `gl` first makes the search for candidates fast; the legacy prefix is searched apart.
_GITLAB_TOKEN_HINT = re.compile(
    "gl(?:" + "|".join(re.escape(prefix[2:-1]) for prefix in GITLAB_TOKEN_KINDS if prefix.startswith("gl")) + ")-"
)
_AWS_HINT = re.compile(r"A(?:KIA|SIA|BIA|CCA)[0-9A-Z]{16}")
_AWS_ACCESS_KEY_ID = re.compile(r"(?<![0-9A-Z])(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}(?![0-9A-Z])")
MAX_KEY_CHARS = 128
_KEY_CHARS = frozenset("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_.-")
_ASSIGNMENT = re.compile(  # matched at the start of a key that names one of the keywords
    r"(?P<quote>[\"']?)(?P<key>[0-9A-Za-z_.-]+)(?P=quote)(?:[ \t]*=[ \t]*|(?<=[\"'])[ \t]*:[ \t]*(?=[\"']))"
    r"(?P<value>\"[^\"\n]*\"|'[^'\n]*'|[^\s\"'`;&|<>]+)"
)
_NOT_A_VALUE = re.compile(r"^\$|\[MASKED\]|^<.*>$|\{\{|%s|\*{3}", re.IGNORECASE)
_KEY_NOT_A_SECRET = re.compile(r"(?i)_(?:file|path|dir|name|type|length|count|url)$")
_USER_KIND = re.compile(r"[a-z][a-z0-9_]{0,62}")

PRIORITY_SPECIFIC, PRIORITY_USER, PRIORITY_GENERIC = 0, 1, 2


@dataclass(frozen=True)
class SecretDetector:
    """One family of secrets: `find(text, start, stop)` returns the spans it sees in text[start:stop]."""

    name: str
    priority: int
    find: Callable[[str, int, int], List[TSpan]]


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
            found.append(
                (match.start(), match.end(), GITLAB_TOKEN_KINDS[match.group("prefix")], len(match.group("prefix")))
            )
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
        if quote and text[key_start - 1 : key_start] == quote:
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


def non_overlapping(candidates: List[Tuple[int, TSpan]]) -> List[TSpan]:
    """Keeps the most specific of overlapping spans (`token=glptt-...` is one trigger token), by position."""
    kept: List[TSpan] = []
    for _, span in sorted(candidates, key=lambda c: (c[0], c[1][0], -c[1][1])):
        if all(span[1] <= other[0] or span[0] >= other[1] for other in kept):
            kept.append(span)
    return sorted(kept)
