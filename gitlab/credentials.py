"""The one GitLab connection of a run: which GitLab, and the token that reads it.

See https://docs.gitlab.com/api/rest/authentication/
"""

import os
from typing import Any, ClassVar, Dict, Optional

from dlt.common.configuration import configspec, resolve_configuration
from dlt.common.configuration.specs import CredentialsConfiguration
from dlt.common.typing import TSecretStrValue

from gitlab.errors import GitLabSourceError
from gitlab.settings import API_PREFIX, DEFAULT_BASE_URL, TOKEN_ENV_VARS, USER_AGENT
from rest_api.auth import TOKEN_TYPES, auth_headers

CONFIG_SECTIONS = ("sources",)  # + the spec's own section, "gitlab"


def api_url(base_url: str) -> str:
    """`https://host[/prefix]` with or without `/api/v4` and slashes → `https://host[/prefix]/api/v4`."""
    url = base_url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise GitLabSourceError(f"base_url {base_url!r} is not an http(s) URL, e.g. https://gitlab.example.com")
    return url if url.endswith(API_PREFIX) else url + API_PREFIX


@configspec
class GitLabCredentials(CredentialsConfiguration):
    """GitLab's URL and an access token, from `[sources.gitlab]` in config and secrets (or `GITLAB_TOKEN`).

    Resolved once by dlt, checked once, and passed as one object to everything that talks to GitLab;
    `headers()` is the only place the token becomes a request header.
    """

    __section__: ClassVar[str] = "gitlab"  # the keys sit in [sources.gitlab] itself, not in a credentials table

    access_token: Optional[TSecretStrValue] = None
    """Personal, group or project access token (read_api), or an OAuth token; GITLAB_TOKEN as a fallback."""
    base_url: str = DEFAULT_BASE_URL
    """GitLab's URL, with or without /api/v4."""
    token_type: str = "auto"
    """"auto" (told from the token), "private", "oauth" or "job"."""

    def on_resolved(self) -> None:
        """Takes the token from `GITLAB_TOKEN` (as glab and python-gitlab do) when config has none; checks the rest."""
        token = self.access_token or next((os.environ[name] for name in TOKEN_ENV_VARS if os.environ.get(name)), None)
        if not token or not token.strip():
            raise GitLabSourceError(
                "no GitLab token: set sources.gitlab.access_token in .dlt/secrets.toml,"
                " or SOURCES__GITLAB__ACCESS_TOKEN or GITLAB_TOKEN in the environment"
            )
        self.access_token = token.strip()
        self.base_url = api_url(self.base_url)[: -len(API_PREFIX)]
        if self.token_type not in TOKEN_TYPES:
            raise GitLabSourceError(
                f"sources.gitlab.token_type is {self.token_type!r}: use one of {', '.join(TOKEN_TYPES)}"
            )

    @property
    def api_url(self) -> str:
        """GitLab's API root, `<base_url>/api/v4`."""
        return self.base_url + API_PREFIX

    def headers(self) -> Dict[str, str]:
        """The request headers that carry the token (in the header its kind needs) and our User-Agent."""
        return {**auth_headers(self.access_token or "", self.token_type), "User-Agent": USER_AGENT}

    def __str__(self) -> str:
        return f"GitLabCredentials(base_url={self.base_url!r}, token='*****')"

    __repr__ = __str__


def gitlab_credentials(**given: Optional[Any]) -> GitLabCredentials:
    """Resolves the credentials from dlt config and secrets; values `given` (e.g. from flags) win.

    Args:
        **given: `access_token`, `base_url` or `token_type`; None means "from config".

    Returns:
        GitLabCredentials: Resolved and normalised.
    """
    explicit = {name: value for name, value in given.items() if value is not None}
    return resolve_configuration(GitLabCredentials(), sections=CONFIG_SECTIONS, explicit_value=explicit or None)
