"""The tunables of `job_logs` (`[sources.gitlab]`), and the settings one extract runs with, validated once."""

from dataclasses import dataclass
from typing import Dict, List, Optional
from urllib.parse import urlsplit

from dlt.common.configuration import configspec
from dlt.common.configuration.specs import BaseConfiguration
from dlt.common.typing import TSecretStrValue

from gitlab.errors import GitLabSourceError
from gitlab.job_logs.detectors import SecretDetector, build_detectors
from gitlab.job_logs.retry import GitLabRetryPolicy
from gitlab.settings import (
    GITLAB_COM_HOSTS,
    TRACE_BACKOFF_BASE_SECONDS,
    TRACE_CONCURRENCY,
    TRACE_CONCURRENCY_GITLAB_COM,
    TRACE_MAX_ATTEMPTS,
    TRACE_MAX_BYTES,
    TRACE_STORE_TEXT,
    TRACE_STRIP_ANSI,
)


@configspec
class JobLogsConfiguration(BaseConfiguration):
    """Tunables of `job_logs`, read from `[sources.gitlab]` (or `SOURCES__GITLAB__<NAME>`)."""

    trace_concurrency: Optional[int] = None
    """Trace requests in flight. None: TRACE_CONCURRENCY, or the gitlab.com preset on gitlab.com. How many
    a minute is the run's request budget's to say (`requests_per_minute`, see `gitlab.rate_limit`)."""
    trace_max_bytes: int = TRACE_MAX_BYTES
    store_log_text: bool = TRACE_STORE_TEXT
    strip_ansi: bool = TRACE_STRIP_ANSI
    secret_patterns: Optional[Dict[str, str]] = None
    """Kind → regex of your own secrets; the secret is group `secret`, else group 1, else the match."""
    trace_max_attempts: int = TRACE_MAX_ATTEMPTS
    """Attempts per log for 5xx, timeouts and dropped connections."""
    trace_backoff_base_seconds: float = TRACE_BACKOFF_BASE_SECONDS
    """First backoff; it doubles per attempt (with jitter) up to TRACE_BACKOFF_CAP_SECONDS."""
    fingerprint_key: Optional[TSecretStrValue] = None
    """HMAC key of the fingerprints, kept with the secrets; the CLI generates one into .dlt/secrets.toml."""


@dataclass(frozen=True)
class JobLogSettings:
    """The resolved configuration one extract runs with."""

    concurrency: int
    max_bytes: int
    store_text: bool
    strip_ansi: bool
    detectors: List[SecretDetector]
    retry: GitLabRetryPolicy


def resolve_settings(api_url: str, config: JobLogsConfiguration) -> JobLogSettings:
    """Resolves presets and validates the configuration once, when the source is built."""
    on_gitlab_com = (urlsplit(api_url).hostname or "").lower() in GITLAB_COM_HOSTS
    concurrency = config.trace_concurrency or (TRACE_CONCURRENCY_GITLAB_COM if on_gitlab_com else TRACE_CONCURRENCY)
    if concurrency < 1:
        raise GitLabSourceError("sources.gitlab.trace_concurrency must be at least 1")
    if config.trace_max_attempts < 1 or config.trace_backoff_base_seconds < 0:
        raise GitLabSourceError("sources.gitlab.trace_max_attempts must be at least 1, trace_backoff_base_seconds >= 0")
    if config.trace_max_bytes < 1_024:
        raise GitLabSourceError("sources.gitlab.trace_max_bytes must be at least 1024")
    return JobLogSettings(
        concurrency=concurrency,
        max_bytes=config.trace_max_bytes,
        store_text=config.store_log_text,
        strip_ansi=config.strip_ansi,
        detectors=build_detectors(config.secret_patterns),
        retry=GitLabRetryPolicy(
            max_attempts=config.trace_max_attempts, backoff_base_seconds=config.trace_backoff_base_seconds
        ),
    )
