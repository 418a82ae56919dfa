"""GitLab's dialect of dlt's rest_api: token auth and paginators."""

from dlt.sources.rest_api.config_setup import PAGINATOR_MAP, register_paginator

from rest_api.auth import GitLabTokenAuth, auth_headers, token_kind
from rest_api.paginators import GitLabKeysetPaginator, GitLabLinkPaginator

# The declarative config names GitLab's paginator; registered once, idempotently (imports may repeat).
GITLAB_LINK_PAGINATOR = "gitlab_link"
if PAGINATOR_MAP.get(GITLAB_LINK_PAGINATOR) is not GitLabLinkPaginator:
    register_paginator(GITLAB_LINK_PAGINATOR, GitLabLinkPaginator)

__all__ = [
    "GITLAB_LINK_PAGINATOR",
    "GitLabKeysetPaginator",
    "GitLabLinkPaginator",
    "GitLabTokenAuth",
    "auth_headers",
    "token_kind",
]
