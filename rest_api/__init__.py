"""GitLab's dialect of dlt's rest_api: token auth and paginators, registered by name once."""

from dlt.sources.rest_api.config_setup import AUTH_MAP, PAGINATOR_MAP, register_auth, register_paginator

from rest_api.auth import GitLabTokenAuth, auth_headers, token_kind
from rest_api.paginators import GitLabKeysetPaginator, GitLabLinkPaginator

_PAGINATORS = {"gitlab_link": GitLabLinkPaginator, "gitlab_keyset": GitLabKeysetPaginator}
_AUTHS = {"gitlab_token": GitLabTokenAuth}

for _name, _paginator in _PAGINATORS.items():
    if PAGINATOR_MAP.get(_name) is not _paginator:
        register_paginator(_name, _paginator)
for _name, _auth in _AUTHS.items():
    if AUTH_MAP.get(_name) is not _auth:
        register_auth(_name, _auth)

__all__ = [
    "GitLabKeysetPaginator",
    "GitLabLinkPaginator",
    "GitLabTokenAuth",
    "auth_headers",
    "token_kind",
]
