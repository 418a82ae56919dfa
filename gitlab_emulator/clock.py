"""Time helpers: the emulator's fixed epoch, GitLab's timestamp formats and ISO 8601 parsing."""

from __future__ import annotations

import functools
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

EPOCH = datetime(2026, 1, 15, 12, 0, 0, tzinfo=timezone.utc)
"""The emulator clock at seeding time; seeded data lies before it."""


def iso_ms(value: datetime | None) -> str | None:
    """Formats an aware datetime the way GitLab prints it: UTC, milliseconds and `Z`.

    Args:
        value (datetime | None): An aware datetime, or None.
    Returns:
        str | None: e.g. "2026-01-10T09:15:27.000Z", or None when value is None.
    """
    if value is None:
        return None
    if value.tzinfo is not timezone.utc:
        value = value.astimezone(timezone.utc)
    return value.isoformat(timespec="milliseconds")[:-6] + "Z"


def iso_offset(value: datetime, offset_minutes: int) -> str:
    """Formats a datetime in a fixed UTC offset, as GitLab prints commit dates.

    Args:
        value (datetime): An aware datetime.
        offset_minutes (int): The committer's UTC offset in minutes (e.g. 60 for +01:00).
    Returns:
        str: e.g. "2026-01-10T10:15:27.000+01:00".
    """
    return value.astimezone(_zone(offset_minutes)).isoformat(timespec="milliseconds")


@functools.lru_cache(maxsize=64)
def _zone(offset_minutes: int) -> timezone:
    """A cached fixed-offset timezone."""
    return timezone(timedelta(minutes=offset_minutes))


def iso_date(value: datetime | None) -> str | None:
    """Formats the date part only ("2026-01-10"), as GitLab prints due dates."""
    return None if value is None else value.astimezone(timezone.utc).strftime("%Y-%m-%d")


def parse_iso(text: str) -> datetime:
    """Parses ISO 8601 with or without fractional seconds, with `Z`, an offset or none (UTC).

    Args:
        text (str): The value of a query parameter such as `updated_after`.
    Returns:
        datetime: An aware datetime.
    Raises:
        ValueError: When the text is not ISO 8601.
    """
    value = text.strip()
    if not value:
        raise ValueError("empty timestamp")
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed


def http_date(unix_seconds: float) -> str:
    """Formats unix seconds as an RFC 7231 HTTP date ("Wed, 17 Jul 2019 00:58:57 GMT")."""
    return format_datetime(datetime.fromtimestamp(int(unix_seconds), tz=timezone.utc), usegmt=True)


class ManualClock:
    """A clock that moves only when told, for the rate limit's window (`GitLabEmulator(rate_limit_clock=...)`).

    Args:
        unix_seconds (float): The time it shows at first. Defaults to EPOCH.
    """

    def __init__(self, unix_seconds: float = EPOCH.timestamp()) -> None:
        self._now = unix_seconds

    def monotonic(self) -> float:
        """Seconds on the clock, as `time.monotonic` counts them."""
        return self._now

    def time(self) -> float:
        """The same, as unix seconds, as `time.time` counts them."""
        return self._now

    def advance(self, seconds: float) -> None:
        """Moves the clock forward."""
        self._now += seconds


def truncate_ms(value: datetime) -> datetime:
    """Drops sub-millisecond precision so stored times round-trip through `iso_ms` exactly."""
    return value.replace(microsecond=(value.microsecond // 1000) * 1000)
