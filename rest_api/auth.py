"""GitLab's authentication for dlt's REST client: the header depends on the kind of token.

See https://docs.gitlab.com/api/rest/authentication/
"""

import re
from typing import Any, Dict, Optional, Tuple

from dlt.common.configuration.specs.base_configuration import configspec
from dlt.common.typing import TSecretStrValue
from dlt.sources.helpers.rest_client.auth import AuthConfigBase
from requests import PreparedRequest

TOKEN_TYPES: Tuple[str, ...] = ("auto", "private", "oauth", "job")

JOB_TOKEN_PREFIX = "glcbt-"
# OAuth access tokens issued by GitLab's Doorkeeper are 64 hex characters without a prefix.
_OAUTH_TOKEN_PATTERN = re.compile(r"[0-9a-f]{64}")


def token_kind(token: str, token_type: str = "auto") -> str:
    """Tells how GitLab expects `token` to be sent: "private", "oauth" or "job".

    Args:
        token (str): The access token.
        token_type (str): One of `TOKEN_TYPES`; "auto" guesses from the token's prefix.

    Returns:
        str: "private" (personal, group and project access tokens), "oauth" or "job".
    """
    if token_type not in TOKEN_TYPES:
        raise ValueError(f"unknown token_type {token_type!r}: use one of {', '.join(TOKEN_TYPES)}")
    if token_type != "auto":
        return token_type
    if token.startswith(JOB_TOKEN_PREFIX):
        return "job"
    if _OAUTH_TOKEN_PATTERN.fullmatch(token):
        return "oauth"
    return "private"


def auth_headers(token: str, token_type: str = "auto") -> Dict[str, str]:
    """Builds the one header that carries `token` to GitLab; the token never goes into a URL.

    Args:
        token (str): The access token.
        token_type (str): One of `TOKEN_TYPES`, "auto" by default.

    Returns:
        Dict[str, str]: `PRIVATE-TOKEN`, `Authorization: Bearer` or `JOB-TOKEN`.
    """
    kind = token_kind(token, token_type)
    if kind == "oauth":
        return {"Authorization": f"Bearer {token}"}
    if kind == "job":
        return {"JOB-TOKEN": token}
    return {"PRIVATE-TOKEN": token}


@configspec
class GitLabTokenAuth(AuthConfigBase):
    """Sends a GitLab token in the header its kind needs (see `auth_headers`)."""

    token: Optional[TSecretStrValue] = None
    token_type: str = "auto"

    def __init__(self, token: Optional[str] = None, token_type: str = "auto") -> None:
        self.token = token
        self.token_type = token_type
        token_kind(token or "", token_type)  # fail early on a bad token_type

    def parse_native_representation(self, value: Any) -> None:
        if not isinstance(value, str):
            raise ValueError("GitLabTokenAuth takes the token as a string")
        self.token = value

    def __call__(self, request: PreparedRequest) -> PreparedRequest:
        request.headers.update(auth_headers(self.token or "", self.token_type))
        return request

    def __repr__(self) -> str:
        return f"GitLabTokenAuth(token='*****', token_type={self.token_type!r})"

    __str__ = __repr__
