"""GitLab's collapsible log sections: `section_start` / `section_end` markers turned into timed steps.

See https://docs.gitlab.com/ci/jobs/job_logs/#custom-collapsible-sections
"""

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional

MAX_SECTIONS_PER_LOG = 10_000

# `section_start:<unix seconds>:<name>[options]` and `section_end:<unix seconds>:<name>`, anywhere in a line
_MARKER = re.compile(r"section_(?P<edge>start|end):(?P<ts>\d{1,12}):(?P<name>[A-Za-z0-9_.-]+)(?P<options>\[[^\]\r\n]*\])?")


@dataclass
class LogSection:
    """One section of a log, open until its end marker is read."""

    index: int
    name: str
    depth: int
    parent: Optional[str]
    collapsed: bool
    header: str
    start_line: int
    started_at: datetime
    end_line: Optional[int] = None
    ended_at: Optional[datetime] = None

    def row(self) -> Dict[str, Any]:
        """The `job_log_sections` columns this section fills (the job's keys are added by the caller)."""
        duration = (self.ended_at - self.started_at).total_seconds() if self.ended_at else None
        return {
            "section_index": self.index,
            "name": self.name,
            "depth": self.depth,
            "parent_name": self.parent,
            "collapsed": self.collapsed,
            "header": self.header,
            "start_line": self.start_line,
            "end_line": self.end_line,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "duration_seconds": duration,
        }


def _moment(unix_seconds: str) -> datetime:
    return datetime.fromtimestamp(int(unix_seconds), tz=timezone.utc)


class GitLabSectionParser:
    """Reads section markers line by line; nested sections close their inner ones when they end.

    An end marker whose name matches no open section is ignored; sections still open when the log
    ends (a cancelled job, or a log cut by the runner) keep `ended_at` empty.
    """

    def __init__(self) -> None:
        self.sections: List[LogSection] = []
        self._open: List[LogSection] = []

    def feed(self, text: str, first_line: int) -> None:
        """Reads the markers in a block of ANSI-stripped, redacted lines starting at line `first_line`."""
        if "section_" not in text:
            return
        markers = list(_MARKER.finditer(text))
        line, counted = first_line, 0
        for position, marker in enumerate(markers):
            line += text.count("\n", counted, marker.start())
            counted = marker.start()
            if marker.group("edge") == "start":
                line_end = text.find("\n", marker.end())
                stop = len(text) if line_end < 0 else line_end
                if position + 1 < len(markers):
                    stop = min(stop, markers[position + 1].start())
                self._start(marker, text[marker.end():stop], line)
            else:
                self._end(marker, line)

    def _start(self, marker: "re.Match[str]", rest: str, line_number: int) -> None:
        if len(self.sections) >= MAX_SECTIONS_PER_LOG:
            return
        section = LogSection(
            index=len(self.sections),
            name=marker.group("name"),
            depth=len(self._open),
            parent=self._open[-1].name if self._open else None,
            collapsed="collapsed=true" in (marker.group("options") or ""),
            header=rest.lstrip("\r").strip(),
            start_line=line_number,
            started_at=_moment(marker.group("ts")),
        )
        self.sections.append(section)
        self._open.append(section)

    def _end(self, marker: "re.Match[str]", line_number: int) -> None:
        name = marker.group("name")
        if not any(section.name == name for section in self._open):
            return
        ended_at = _moment(marker.group("ts"))
        while self._open:
            section = self._open.pop()
            section.end_line, section.ended_at = line_number, ended_at
            if section.name == name:
                return

    def rows(self) -> List[Dict[str, Any]]:
        """One row per section, in the order the sections started."""
        return [section.row() for section in self.sections]
