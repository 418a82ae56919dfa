"""GitLab's pagination for dlt's REST client: `Link rel="next"`, `X-Next-Page`, and keyset.

See https://docs.gitlab.com/api/rest/#pagination
"""

from typing import Any, Dict, List, Optional
from urllib.parse import parse_qsl, urlencode, urlparse, urlunparse

from dlt.sources.helpers.rest_client.paginators import HeaderLinkPaginator
from requests import Request, Response


def _with_query(url: str, **params: str) -> str:
    parts = urlparse(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    query.update(params)
    return urlunparse(parts._replace(query=urlencode(query)))


class GitLabLinkPaginator(HeaderLinkPaginator):
    """Follows `Link rel="next"`; falls back to `X-Next-Page` when a proxy strips the Link header.

    GitLab pages start at 1 and `X-Total`/`X-Total-Pages` vanish past 10,000 rows, so neither
    totals nor page arithmetic are trusted: only the server's own next reference.
    """

    def update_state(self, response: Response, data: Optional[List[Any]] = None) -> None:
        super().update_state(response, data)
        next_page = response.headers.get("X-Next-Page")
        if self._next_reference is None and next_page:
            self._next_reference = _with_query(str(response.request.url), page=next_page)


class GitLabKeysetPaginator(GitLabLinkPaginator):
    """Asks for keyset pagination, which GitLab offers on a few large collections.

    Offset pages get slower the deeper they go and are capped on large instances; keyset pages
    are not. Supported orders: projects and group projects by `id` (asc or desc), project jobs by
    `id` desc only.
    """

    def __init__(self, order_by: str = "id", sort: str = "asc") -> None:
        super().__init__()
        self.keyset_params: Dict[str, str] = {
            "pagination": "keyset",
            "order_by": order_by,
            "sort": sort,
        }

    def init_request(self, request: Request) -> None:
        given: Dict[str, Any] = dict(request.params or {})  # type: ignore[arg-type]  # a mapping here, never a str
        request.params = {**given, **self.keyset_params}

    def __str__(self) -> str:
        return f"{super().__str__()} keyset: {self.keyset_params}"
