"""The emulator's tokens and how a request's credentials are found, as GitLab's API does it.

See https://docs.gitlab.com/api/rest/authentication/: personal access tokens go in `PRIVATE-TOKEN`
or `Authorization: Bearer`, OAuth tokens in `Authorization: Bearer`, CI job tokens in `JOB-TOKEN`,
and each may also come as the `private_token`, `access_token` or `job_token` query parameter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from gitlab_emulator.model import MAINTAINER, MAINTAINER_USER_ID, REPORTER, REPORTER_USER_ID

TOKENS: dict[str, str] = {
    "maintainer": "glpat-emulator-maint",
    "reporter": "glpat-emulator-report",
    "oauth": "5e1f0c2a9b7d4e3f8a6c1b0d2e4f6a8c9b7d5e3f1a0c2e4b6d8f0a1c3e5b7d9f",
    "job": "glcbt-emulator-job",
}
"""Deterministic credentials: two personal access tokens, an OAuth token and a CI job token."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a token acts as: the user and the access level it has on every visible project."""

    token_name: str
    token_type: str
    user_id: int
    access_level: int


_PRINCIPALS: dict[str, Principal] = {
    TOKENS["maintainer"]: Principal("maintainer", "personal", MAINTAINER_USER_ID, MAINTAINER),
    TOKENS["reporter"]: Principal("reporter", "personal", REPORTER_USER_ID, REPORTER),
    TOKENS["oauth"]: Principal("oauth", "oauth", MAINTAINER_USER_ID, MAINTAINER),
    TOKENS["job"]: Principal("job", "job", MAINTAINER_USER_ID, MAINTAINER),
}

_ACCEPTED = {
    "private-token-header": ("personal",),
    "bearer": ("personal", "oauth"),
    "job-token-header": ("job",),
    "private_token": ("personal",),
    "access_token": ("personal", "oauth"),
    "job_token": ("job",),
}


def find_credential(headers: Mapping[str, str], query: Mapping[str, str]) -> tuple[str | None, str | None, str | None]:
    """Finds the credential a request carries, in GitLab's order of precedence.

    Args:
        headers (Mapping[str, str]): Case-insensitive request headers.
        query (Mapping[str, str]): Query parameters.
    Returns:
        tuple: (token, token_kind for RequestRecord, channel) or (None, None, None) when there is none.
    """
    if headers.get("PRIVATE-TOKEN"):
        return headers["PRIVATE-TOKEN"], "private-token-header", "private-token-header"
    authorization = headers.get("Authorization", "")
    if authorization[:7].lower() == "bearer ":
        return authorization[7:].strip(), "bearer", "bearer"
    if headers.get("JOB-TOKEN"):
        return headers["JOB-TOKEN"], "job-token-header", "job-token-header"
    for name in ("private_token", "access_token", "job_token"):
        if query.get(name):
            return query[name], "query", name
    return None, None, None


def authenticate(token: str | None, channel: str | None) -> Principal | None:
    """Resolves a token sent over a channel to a principal; None means 401.

    Args:
        token (str | None): The credential.
        channel (str | None): Where it came from (see `find_credential`).
    Returns:
        Principal | None: The principal, or None when the token is unknown or sent the wrong way.
    """
    if token is None or channel is None:
        return None
    principal = _PRINCIPALS.get(token)
    if principal is None or principal.token_type not in _ACCEPTED[channel]:
        return None
    return principal


def user_id_of(token_name: str) -> int:
    """The user a token of TOKENS acts as, e.g. "reporter"."""
    return _PRINCIPALS[TOKENS[token_name]].user_id
