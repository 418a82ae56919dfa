"""The `job_logs` transformer: each finished job's log fetched once with aiohttp, scanned and redacted as it streams.

The package: `config` (tunables), `fetcher` (the aiohttp fetch loop), `retry` (retry policy), `reader` (a
streamed log → text, sections, findings), `rows` (the three tables' rows and hints), `state` (what is kept
between runs), `sections`, `detectors`, `scanner`, `redaction`, `fingerprints` (secret detection), and `erase`
(erasing leaky jobs in GitLab).

See https://docs.gitlab.com/api/jobs/#get-a-log-file
"""

from typing import Any, AsyncIterator, Optional

import dlt
from dlt.common.configuration import resolve_configuration
from dlt.sources import DltResource

from gitlab.credentials import GitLabCredentials
from gitlab.cursors import CursorHolds
from gitlab.job_logs.config import JobLogsConfiguration
from gitlab.job_logs.fetcher import GitLabTraceFetcher
from gitlab.job_logs.rows import JOB_LOGS_TABLE, TABLE_HINTS
from gitlab.rate_limit import RequestBudget, make_budget
from gitlab.run_stats import JobLogStats


def job_logs(
    jobs: DltResource,
    credentials: GitLabCredentials,
    config: Optional[JobLogsConfiguration] = None,
    stats: Optional[JobLogStats] = None,
    budget: Optional[RequestBudget] = None,
    holds: Optional[CursorHolds] = None,
) -> DltResource:
    """The `job_logs` transformer over `jobs`: finished jobs' logs, their sections and the secrets in them.

    Each finished job's log is fetched once: later runs skip it, and a job that was still running is
    fetched in the run after it finishes. Logs are streamed and scanned chunk by chunk; at most
    `trace_max_bytes` of each is stored (head and tail), with every secret replaced by
    `[REDACTED:<kind>]`. A log that fails after its retries is named in `stats` and fetched next run.

    Args:
        jobs (DltResource): The `jobs` resource; its rows need `id`, `status`, `pipeline` and `web_url`.
        credentials (GitLabCredentials): The GitLab and the token, as for the source; the token only
            goes into the request header.
        config (JobLogsConfiguration, optional): Tunables; resolved from `[sources.gitlab]` when omitted.
        stats (JobLogStats, optional): Collects the run's counts and failures for the summary.
        budget (RequestBudget, optional): When each request may go; the source shares its own with the
            REST lists, as GitLab counts them together. Made from `[sources.gitlab]` when omitted.
        holds (CursorHolds, optional): The source's cursor holds: when a project's pipelines or their jobs
            could not be listed, its jobs' logs are not taken for fetched in the next run.

    Returns:
        DltResource: `job_logs` (merge on `job_id`), also loading `job_log_sections` and `secret_findings`.
    """
    resolved = (
        config if config is not None else resolve_configuration(JobLogsConfiguration(), sections=("sources", "gitlab"))
    )
    fetcher = GitLabTraceFetcher(
        credentials, resolved, stats or JobLogStats(), budget or make_budget(credentials.api_url)
    )
    if holds is not None:
        holds.register("pipelines", fetcher)  # jobs are listed per pipeline, below /projects/:id/pipelines

    def _logs_of_page(jobs_page: Any) -> Optional[AsyncIterator[Any]]:  # dlt needs a function, not a method
        return fetcher.logs_of_page(jobs_page)

    resource = dlt.transformer(
        _logs_of_page, data_from=jobs, name=JOB_LOGS_TABLE, write_disposition="merge", primary_key="job_id"
    )
    for table, hints in TABLE_HINTS.items():
        resource.apply_hints(table_name=table, write_disposition="merge", create_table_variant=True, **hints)
    return resource
