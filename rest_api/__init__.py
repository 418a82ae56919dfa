"""GitLab's dialect of dlt's rest_api: token auth and paginators."""

from rest_api.auth import GitLabTokenAuth, auth_headers, token_kind
from rest_api.paginators import GitLabKeysetPaginator, GitLabLinkPaginator

__all__ = [
    "GitLabKeysetPaginator",
    "GitLabLinkPaginator",
    "GitLabTokenAuth",
    "auth_headers",
    "token_kind",
]
