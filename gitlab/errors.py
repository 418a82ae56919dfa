"""Errors of the GitLab source, and their translation into one line a person can act on."""

import os
from typing import Iterator, Optional
from urllib.parse import urlsplit, urlunsplit

import tomlkit
import tomlkit.exceptions
from dlt.common.configuration.exceptions import ConfigFieldMissingException
from dlt.common.configuration.providers.toml import TomlProviderReadException
from dlt.common.exceptions import SignalReceivedException
from dlt.common.schema.exceptions import DataValidationError
from requests import ConnectionError as RequestsConnectionError
from requests import HTTPError, Response, Timeout


class GitLabSourceError(Exception):
    """A problem with the user's input or GitLab's answer, already phrased for a person."""


def strip_query(url: str) -> str:
    """Drops the query string from `url`, so messages never carry parameters."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(query="", fragment=""))


def http_error_message(response: Response, what: str) -> str:
    """Phrases GitLab's error `response` while fetching `what` as one actionable line."""
    url = strip_query(response.url)
    status = response.status_code
    if status == 401:
        return (
            f"GitLab answered 401 Unauthorized on {url}: the token is missing, expired or revoked;"
            " set sources.gitlab.access_token (or GITLAB_TOKEN) to a token with read_api scope"
        )
    if status == 403:
        return f"GitLab answered 403 Forbidden on {url}: the token may not read {what}"
    if status == 404:
        return f"GitLab has no {what} at {url} (or the token cannot see it)"
    return f"GitLab answered {status} {response.reason} on {url} while fetching {what}"


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen = set()
    current: Optional[BaseException] = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        nested = getattr(current, "exception", None)  # dlt's PipelineStepFailed keeps it here
        current = current.__cause__ or current.__context__ or (nested if isinstance(nested, BaseException) else None)


def _contract_message(error: DataValidationError) -> str:
    table = f"table {error.table_name!r}"
    what = f"column {error.column_name!r} of {table}" if error.column_name else table
    return (
        f"schema contract {error.schema_entity}={error.contract_mode} stops the load: GitLab sent a new"
        f" {what}; nothing was loaded (rerun with --schema-contract evolve to accept it)"
    )


def _config_message(error: ConfigFieldMissingException) -> str:
    fields = ", ".join(error.fields)
    return f"missing configuration {fields} for {error.spec_name}: set it in .dlt/secrets.toml or the environment"


def _toml_message(error: TomlProviderReadException) -> str:
    """Names the settings file dlt could not read (it only lists the paths it tried) and where it is broken."""
    for path in error.full_paths:
        try:
            with open(path, encoding="utf-8") as settings:
                tomlkit.parse(settings.read())
        except OSError:
            continue
        except tomlkit.exceptions.ParseError as parse_error:
            return (
                f"cannot read {os.path.relpath(path)}: {parse_error}; fix the TOML there (in double quotes a"
                " backslash starts an escape: write regexes in single quotes)"
            )
    return f"cannot read {error.file_name}: {_first_line(error)}"


def describe_failure(exc: BaseException) -> str:
    """Finds the root cause of a failed run in `exc`'s chain and says it in one line."""
    for cause in _causes(exc):
        if isinstance(cause, GitLabSourceError):
            return str(cause)
        if isinstance(cause, DataValidationError):
            return _contract_message(cause)
        if isinstance(cause, ConfigFieldMissingException):
            return _config_message(cause)
        if isinstance(cause, TomlProviderReadException):
            return _toml_message(cause)
        if type(cause).__name__ == "OperationalError" and type(cause).__module__.startswith("psycopg2"):
            return f"cannot connect to the database: {_first_line(cause)}; check the destination credentials"
    for cause in _causes(exc):
        if isinstance(cause, HTTPError) and cause.response is not None:
            return http_error_message(cause.response, "this resource")
        if isinstance(cause, (RequestsConnectionError, Timeout)):
            request = getattr(cause, "request", None)
            where = strip_query(request.url) if request is not None and request.url else "GitLab"
            return f"cannot reach {where}: check --base-url and the network ({type(cause).__name__})"
    root = list(_causes(exc))[-1]
    return f"{type(root).__name__}: {_first_line(root)}"


def interrupted(exc: BaseException) -> bool:
    """True when `exc` comes from Ctrl-C (or SIGTERM), as such or as dlt's step failure around it."""
    return any(isinstance(cause, (KeyboardInterrupt, SignalReceivedException)) for cause in _causes(exc))


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [""])[0]
