"""Query parameter parsing with GitLab's (Grape's) 400 answers for invalid values."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable

from multidict import MultiDictProxy

from gitlab_emulator.clock import parse_iso


class ApiError(Exception):
    """An error answer: HTTP status plus JSON body."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(f"{status} {body}")
        self.status = status
        self.body = body


def not_found(what: str | None = None) -> ApiError:
    """GitLab's 404: `{"message": "404 Project Not Found"}`, or `404 Not found` for plain records."""
    return ApiError(404, {"message": f"404 {what} Not Found" if what else "404 Not found"})


def forbidden(reason: str | None = None) -> ApiError:
    """GitLab's 403, optionally with a reason (`403 Forbidden  - Job is not erasable!`)."""
    return ApiError(403, {"message": f"403 Forbidden  - {reason}" if reason else "403 Forbidden"})


class Params:
    """Typed access to query parameters; invalid values raise ApiError(400) the way GitLab words it."""

    def __init__(self, query: MultiDictProxy[str]) -> None:
        self.query = query

    def raw(self, name: str) -> str | None:
        """The last value of a parameter, or None."""
        values = self.query.getall(name, [])
        return values[-1] if values else None

    def text(self, name: str, default: str | None = None) -> str | None:
        """A string parameter."""
        value = self.raw(name)
        return default if value is None else value

    def boolean(self, name: str, default: bool | None = None) -> bool | None:
        """A Grape Boolean: true/false/1/0/yes/no (case-insensitive); anything else is 400."""
        value = self.raw(name)
        if value is None or value == "":
            return default
        lowered = value.lower()
        if lowered in ("true", "1", "t", "yes", "y"):
            return True
        if lowered in ("false", "0", "f", "no", "n"):
            return False
        raise ApiError(400, {"error": f"{name} is invalid"})

    def integer(self, name: str, default: int | None = None) -> int | None:
        """An Integer parameter; non-integers are 400."""
        value = self.raw(name)
        if value is None or value == "":
            return default
        try:
            return int(value)
        except ValueError:
            raise ApiError(400, {"error": f"{name} is invalid"}) from None

    def moment(self, name: str) -> datetime | None:
        """A DateTime parameter in ISO 8601; malformed is 400 `{"error": "<name> is invalid"}`."""
        value = self.raw(name)
        if value is None:
            return None
        try:
            return parse_iso(value)
        except ValueError:
            raise ApiError(400, {"error": f"{name} is invalid"}) from None

    def choice(self, name: str, choices: Iterable[str], default: str | None = None) -> str | None:
        """A parameter limited to `choices`; others are 400 `does not have a valid value`."""
        value = self.raw(name)
        if value is None:
            return default
        if value not in tuple(choices):
            raise ApiError(400, {"error": f"{name} does not have a valid value"})
        return value

    def values(self, name: str) -> list[str]:
        """An Array parameter given as `name[]=a&name[]=b`, `name=a` or `name=a,b`."""
        found = self.query.getall(f"{name}[]", []) + self.query.getall(name, [])
        return [part for value in found for part in value.split(",") if part]
