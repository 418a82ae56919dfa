"""Offset and keyset pagination with GitLab's headers (https://docs.gitlab.com/api/rest/#pagination)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence, TypeVar
from urllib.parse import urlencode

from gitlab_emulator.params import ApiError, Params

T = TypeVar("T")

DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100
COUNT_LIMIT = 10_000
"""Above this many rows GitLab omits X-Total, X-Total-Pages and the rel="last" link."""

KEYSET_UNSUPPORTED = ApiError(405, {"error": "Keyset pagination is not yet available for this type of request"})


@dataclass(frozen=True)
class PageRequest:
    """The parts of a request needed to build absolute pagination links.

    Args:
        base_url (str): Scheme and authority the client used, e.g. "http://127.0.0.1:8080".
        path (str): The raw (still percent-encoded) path.
        query (tuple[tuple[str, str], ...]): The query parameters in their original order.
    """

    base_url: str
    path: str
    query: tuple[tuple[str, str], ...]

    def url(self, drop: tuple[str, ...] = (), **overrides: str) -> str:
        """Returns the request URL with parameters replaced in place, added at the end, or dropped."""
        items: list[tuple[str, str]] = []
        pending = dict(overrides)
        for key, value in self.query:
            if key in drop:
                continue
            if key in overrides:
                if key in pending:
                    items.append((key, pending.pop(key)))
                continue
            items.append((key, value))
        items.extend(pending.items())
        return f"{self.base_url}{self.path}?{urlencode(items)}"


def per_page(params: Params) -> int:
    """The page size: default 20, at most 100 (larger values are clamped, as GitLab does)."""
    size = params.integer("per_page", DEFAULT_PER_PAGE)
    assert size is not None
    if size < 1:
        return DEFAULT_PER_PAGE
    return min(size, MAX_PER_PAGE)


def offset_page(rows: Sequence[T], params: Params, request: PageRequest,
                count_limit: int = COUNT_LIMIT) -> tuple[list[T], dict[str, str]]:
    """Cuts one page out of `rows` and builds GitLab's offset pagination headers.

    Args:
        rows (Sequence[T]): The whole filtered and ordered collection.
        params (Params): The request's parameters (`page`, `per_page`).
        request (PageRequest): For the absolute URLs of the Link header.
        count_limit (int): Above this many rows, totals and rel="last" are omitted. Defaults to 10,000.
    Returns:
        tuple[list[T], dict[str, str]]: The page's rows and the response headers.
    """
    page = params.integer("page", 1) or 1
    page = max(page, 1)
    size = per_page(params)
    total = len(rows)
    counted = total <= count_limit
    total_pages = max(1, math.ceil(total / size))
    start = (page - 1) * size
    items = list(rows[start : start + size])
    next_page = page + 1 if start + size < total else None
    if counted:
        prev_page = page - 1 if 1 < page <= total_pages else None
    else:
        prev_page = page - 1 if page > 1 else None
    headers = {
        "X-Page": str(page), "X-Per-Page": str(size), "X-Prev-Page": str(prev_page or ""),
        "X-Next-Page": str(next_page or ""),
    }
    if counted:
        headers["X-Total"] = str(total)
        headers["X-Total-Pages"] = str(total_pages)
    links = []
    if prev_page:
        links.append(f'<{request.url(page=str(prev_page), per_page=str(size))}>; rel="prev"')
    if next_page:
        links.append(f'<{request.url(page=str(next_page), per_page=str(size))}>; rel="next"')
    links.append(f'<{request.url(page="1", per_page=str(size))}>; rel="first"')
    if counted:
        links.append(f'<{request.url(page=str(total_pages), per_page=str(size))}>; rel="last"')
    headers["Link"] = ", ".join(links)
    return items, headers


def keyset_page(rows: Sequence[T], params: Params, request: PageRequest, cursor_of: Callable[[T], dict[str, str]],
                drop: tuple[str, ...]) -> tuple[list[T], dict[str, str]]:
    """Takes the first page of `rows` (already ordered and past the cursor) and links the next one.

    Keyset answers carry no totals and no page numbers: only `Link: <...>; rel="next"` while more
    rows remain.

    Args:
        rows (Sequence[T]): The ordered rows after the current cursor.
        params (Params): The request's parameters (`per_page`).
        request (PageRequest): For the absolute URL of the next page.
        cursor_of (Callable): Builds the next page's cursor parameters from the page's last row.
        drop (tuple[str, ...]): Cursor parameters of the current request to leave out of the link.
    Returns:
        tuple[list[T], dict[str, str]]: The page's rows and the response headers.
    """
    size = per_page(params)
    items = list(rows[:size])
    headers: dict[str, str] = {}
    if len(rows) > size and items:
        headers["Link"] = f'<{request.url(drop=drop, **cursor_of(items[-1]))}>; rel="next"'
    return items, headers
