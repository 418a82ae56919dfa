"""GitLab's collapsible log sections: `section_start` / `section_end` markers turned into timed steps.

See https://docs.gitlab.com/ci/jobs/job_logs/#custom-collapsible-sections
"""

import re
from datetime import UTC, datetime
from typing import Any, Dict, List, Optional

MAX_SECTIONS_PER_LOG = 10_000

# `section_start:<unix seconds>:<name>[options]` and `section_end:<unix seconds>:<name>`, anywhere in a line
_MARKER = re.compile(r"section_(start|end):(\d{1,12}):([A-Za-z0-9_.-]+)(\[[^\]\r\n]*\])?")
_MARKER_TEXT = "section_"


class _Section:
    """One section of a log, open until its end marker is read (a slotted record: logs have many)."""

    __slots__ = (
        "collapsed",
        "depth",
        "end_line",
        "ended",
        "header",
        "index",
        "name",
        "parent",
        "start_line",
        "started",
    )

    def __init__(
        self, index: int, name: str, depth: int, parent: Optional[str], options: str, header: str, line: int, ts: int
    ) -> None:
        self.index, self.name, self.depth, self.parent = index, name, depth, parent
        self.collapsed = "collapsed=true" in options
        self.header, self.start_line, self.started = header, line, ts
        self.end_line: Optional[int] = None
        self.ended: Optional[int] = None

    def row(self) -> Dict[str, Any]:
        """The `job_log_sections` columns of this section (the job's keys are added by the caller)."""
        return {
            "section_index": self.index,
            "name": self.name,
            "depth": self.depth,
            "parent_name": self.parent,
            "collapsed": self.collapsed,
            "header": self.header,
            "start_line": self.start_line,
            "end_line": self.end_line,
            "started_at": _moment(self.started),
            "ended_at": _moment(self.ended) if self.ended is not None else None,
            "duration_seconds": float(self.ended - self.started) if self.ended is not None else None,
        }


def _moment(unix_seconds: int) -> datetime:
    return datetime.fromtimestamp(unix_seconds, tz=UTC)


class GitLabSectionParser:
    """Reads section markers block by block; a section that ends closes the sections opened inside it.

    An end marker whose name matches no open section is ignored; sections still open when the log
    ends (a cancelled job, or a log cut by the runner) keep `ended_at` empty.
    """

    def __init__(self) -> None:
        self.sections: List[_Section] = []
        self._open: List[_Section] = []

    def feed(self, text: str, first_line: int) -> None:
        """Reads the markers in a block of ANSI-stripped, redacted lines that starts at line `first_line`."""
        index = text.find(_MARKER_TEXT)
        line, counted = first_line, 0
        while index >= 0:  # str.find, then an anchored match: several times faster than finditer here
            marker = _MARKER.match(text, index)
            index = text.find(_MARKER_TEXT, index + 1)
            if marker is None:
                continue
            line += text.count("\n", counted, marker.start())
            counted = marker.start()
            edge, ts, name, options = marker.groups()
            if edge == "end":
                self._end(name, line, int(ts))
                continue
            line_end = text.find("\n", marker.end())
            stop = len(text) if line_end < 0 else line_end
            if 0 <= index < stop:
                stop = index
            self._start(name, options or "", text[marker.end() : stop].lstrip("\r").strip(), line, int(ts))

    def _start(self, name: str, options: str, header: str, line: int, ts: int) -> None:
        if len(self.sections) >= MAX_SECTIONS_PER_LOG:
            return
        parent = self._open[-1].name if self._open else None
        section = _Section(len(self.sections), name, len(self._open), parent, options, header, line, ts)
        self.sections.append(section)
        self._open.append(section)

    def _end(self, name: str, line: int, ts: int) -> None:
        if not any(section.name == name for section in self._open):
            return
        while self._open:
            section = self._open.pop()
            section.end_line, section.ended = line, ts
            if section.name == name:
                return

    def rows(self) -> List[Dict[str, Any]]:
        """One row per section, in the order the sections started."""
        return [section.row() for section in self.sections]
