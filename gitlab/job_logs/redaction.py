"""Redaction of secrets in log text: ANSI stripping, markers in place of secrets, short previews."""

import re
from typing import Dict, List, Tuple

REDACTED = "[REDACTED:{kind}]"
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b\n]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")

TSpan = Tuple[int, int, str, int]
"""(start, end, kind, shown_prefix): a secret's place in a text and how much of it is a public prefix."""


def strip_ansi(text: str) -> str:
    """Removes ANSI escape sequences (colours, erase-line) from `text`; newlines are never touched."""
    return _ANSI.sub("", text) if "\x1b" in text else text


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


def redact(text: str, spans: List[TSpan]) -> str:
    """`text` with each span replaced by its `[REDACTED:<kind>]` marker."""
    pieces, cursor = [], 0
    for start, end, kind, _ in sorted(spans):
        pieces += [text[cursor:start], REDACTED.format(kind=kind)]
        cursor = end
    pieces.append(text[cursor:])
    return "".join(pieces)


def redact_raw(raw: str, plain: str, spans: List[TSpan], redacted_plain: str) -> str:
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
