"""Every SQL statement behind the dashboard, one named constant per question, portable between DuckDB and PostgreSQL.

Templates name tables as `{pipelines}`, `{jobs}`, ... (qualified with the dataset by `app.data`) and the
filters as `{project_ids}` (a list of `%s`) and `{bucket}` (day, week or month). Values are passed as
`%s` parameters. Ratios are computed in Python from counts, so integer division never differs by database.

Job-log tables come from `gitlab/job_logs.py`: if its column names change, only this module changes.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Dict, FrozenSet, Tuple

# Tables each page needs; a page whose tables are absent says what to load instead of failing.
CI_TABLES: FrozenSet[str] = frozenset({"projects", "pipelines", "jobs"})
JOB_LOG_TABLES: FrozenSet[str] = frozenset({"job_log_sections", "secret_findings"})
DELIVERY_TABLES: FrozenSet[str] = frozenset({"merge_requests", "issues"})
FINISHED_PIPELINE_STATUSES = ("success", "failed")
DAY_BUCKET_MAX_DAYS = 31
WEEK_BUCKET_MAX_DAYS = 366
TOP_ROWS = 15
FINDINGS_SHOWN = 1000

# --- catalogue: what the sidebar filters offer ------------------------------------------------------------------

EXISTING_TABLES_SQL = "SELECT table_name FROM information_schema.tables WHERE table_schema = %s"

GROUPS_SQL = "SELECT id, full_path FROM {groups} ORDER BY full_path"

PROJECTS_SQL = """
SELECT id, path_with_namespace, namespace__full_path AS namespace_path
FROM {projects}
ORDER BY path_with_namespace
"""

DATA_RANGE_SQL = "SELECT MIN(created_at) AS first_at, MAX(created_at) AS last_at FROM {table}"

# --- CI health: pipelines ----------------------------------------------------------------------------------------

# GitLab's pipeline list leaves `duration` empty, so a pipeline's duration falls back to the span of its jobs.
_PIPELINE_RUNS = """
pipeline_runs AS (
    SELECT p.id, p.project_id, p.ref, p.status, p.created_at,
           COALESCE(p.duration, EXTRACT(EPOCH FROM (MAX(j.finished_at) - MIN(j.started_at)))) AS duration_seconds
    FROM {pipelines} AS p
    LEFT JOIN {jobs} AS j ON j.pipeline__id = p.id
    WHERE p.project_id IN ({project_ids}) AND p.created_at >= %s AND p.created_at < %s
    GROUP BY p.id, p.project_id, p.ref, p.status, p.created_at, p.duration
)"""

_FINISHED_DURATION = "CASE WHEN status IN ('success', 'failed') THEN duration_seconds END"

PIPELINE_SUMMARY_SQL = f"""
WITH {_PIPELINE_RUNS}
SELECT COUNT(*) AS pipelines,
       COUNT(CASE WHEN status = 'success' THEN 1 END) AS succeeded,
       COUNT(CASE WHEN status = 'failed' THEN 1 END) AS failed,
       COUNT(CASE WHEN status = 'canceled' THEN 1 END) AS canceled,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY {_FINISHED_DURATION}) AS duration_p50,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY {_FINISHED_DURATION}) AS duration_p95
FROM pipeline_runs
"""

PIPELINE_TREND_SQL = f"""
WITH {_PIPELINE_RUNS}
SELECT date_trunc('{{bucket}}', created_at AT TIME ZONE 'UTC') AS period, project_id,
       COUNT(*) AS pipelines,
       COUNT(CASE WHEN status = 'success' THEN 1 END) AS succeeded,
       COUNT(CASE WHEN status = 'failed' THEN 1 END) AS failed,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY {_FINISHED_DURATION}) AS duration_p50,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY {_FINISHED_DURATION}) AS duration_p95
FROM pipeline_runs
GROUP BY 1, 2
ORDER BY 1, 2
"""

PIPELINE_DURATION_TREND_SQL = f"""
WITH {_PIPELINE_RUNS}
SELECT date_trunc('{{bucket}}', created_at AT TIME ZONE 'UTC') AS period,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY {_FINISHED_DURATION}) AS duration_p50,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY {_FINISHED_DURATION}) AS duration_p95
FROM pipeline_runs
GROUP BY 1
ORDER BY 1
"""

PIPELINES_BY_BRANCH_SQL = f"""
WITH {_PIPELINE_RUNS}
SELECT project_id, ref,
       COUNT(*) AS pipelines,
       COUNT(CASE WHEN status = 'success' THEN 1 END) AS succeeded,
       COUNT(CASE WHEN status = 'failed' THEN 1 END) AS failed,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY {_FINISHED_DURATION}) AS duration_p50
FROM pipeline_runs
GROUP BY 1, 2
ORDER BY pipelines DESC, project_id, ref
LIMIT 40
"""

# --- jobs: queue time, slowest, flakiest, failure reasons --------------------------------------------------------

_JOBS_IN_SCOPE = "j.pipeline__project_id IN ({project_ids}) AND j.created_at >= %s AND j.created_at < %s"

JOB_SUMMARY_SQL = f"""
SELECT COUNT(*) AS jobs,
       COUNT(CASE WHEN j.status = 'success' THEN 1 END) AS succeeded,
       COUNT(CASE WHEN j.status = 'failed' THEN 1 END) AS failed,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY j.queued_duration) AS queued_p50,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY j.queued_duration) AS queued_p95
FROM {{jobs}} AS j
WHERE {_JOBS_IN_SCOPE}
"""

JOB_QUEUE_TREND_SQL = f"""
SELECT date_trunc('{{bucket}}', j.created_at AT TIME ZONE 'UTC') AS period,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY j.queued_duration) AS queued_p50,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY j.queued_duration) AS queued_p95
FROM {{jobs}} AS j
WHERE {_JOBS_IN_SCOPE}
GROUP BY 1
ORDER BY 1
"""

SLOWEST_JOBS_SQL = f"""
SELECT j.pipeline__project_id AS project_id, j.name,
       COUNT(*) AS runs,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY j.duration) AS duration_p50,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY j.duration) AS duration_p95,
       MAX(j.duration) AS duration_max,
       SUM(j.duration) AS duration_total
FROM {{jobs}} AS j
WHERE {_JOBS_IN_SCOPE} AND j.status IN ('success', 'failed') AND j.duration IS NOT NULL
GROUP BY 1, 2
ORDER BY duration_p95 DESC, project_id, j.name
LIMIT {TOP_ROWS}
"""

# One row per job name in a pipeline: its attempts, and whether a failure was followed by a success (a flake).
_JOB_ATTEMPTS = f"""
attempts AS (
    SELECT j.pipeline__project_id AS project_id, j.pipeline__id AS pipeline_id, j.name,
           COUNT(*) AS attempts,
           MIN(CASE WHEN j.status = 'failed' THEN j.id END) AS first_failed_id,
           MAX(CASE WHEN j.status = 'success' THEN j.id END) AS last_success_id
    FROM {{jobs}} AS j
    WHERE {_JOBS_IN_SCOPE}
    GROUP BY 1, 2, 3
)"""

JOB_RETRY_SUMMARY_SQL = f"""
WITH {_JOB_ATTEMPTS}
SELECT COUNT(*) AS job_runs,
       SUM(attempts) - COUNT(*) AS retries,
       COUNT(CASE WHEN last_success_id > first_failed_id THEN 1 END) AS flaky_runs
FROM attempts
"""

FLAKY_JOBS_SQL = f"""
WITH {_JOB_ATTEMPTS}
SELECT project_id, name,
       COUNT(*) AS pipelines,
       COUNT(CASE WHEN last_success_id > first_failed_id THEN 1 END) AS flaky_pipelines,
       SUM(attempts) - COUNT(*) AS retries
FROM attempts
GROUP BY 1, 2
HAVING COUNT(CASE WHEN last_success_id > first_failed_id THEN 1 END) > 0
ORDER BY flaky_pipelines DESC, retries DESC, project_id, name
LIMIT {TOP_ROWS}
"""

FAILURE_REASONS_SQL = f"""
SELECT COALESCE(j.failure_reason, 'unknown') AS failure_reason,
       COUNT(*) AS failed_jobs,
       COUNT(CASE WHEN j.allow_failure THEN 1 END) AS allowed_to_fail
FROM {{jobs}} AS j
WHERE {_JOBS_IN_SCOPE} AND j.status = 'failed'
GROUP BY 1
ORDER BY failed_jobs DESC, failure_reason
"""

# --- where time goes inside jobs: job_log_sections ---------------------------------------------------------------

# Top-level sections only (depth 0): nested ones are inside their parent's time already.
_SECTIONS_IN_SCOPE = (
    "s.project_id IN ({project_ids}) AND s.started_at >= %s AND s.started_at < %s"
    " AND s.depth = 0 AND s.duration_seconds IS NOT NULL"
)

SECTION_SUMMARY_SQL = f"""
SELECT COUNT(DISTINCT s.job_id) AS jobs, COUNT(*) AS sections, SUM(s.duration_seconds) AS total_seconds
FROM {{job_log_sections}} AS s
WHERE {_SECTIONS_IN_SCOPE}
"""

SECTION_TOTALS_SQL = f"""
SELECT s.name AS section,
       COUNT(DISTINCT s.job_id) AS jobs,
       SUM(s.duration_seconds) AS total_seconds,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY s.duration_seconds) AS p50_seconds,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY s.duration_seconds) AS p95_seconds
FROM {{job_log_sections}} AS s
WHERE {_SECTIONS_IN_SCOPE}
GROUP BY 1
ORDER BY total_seconds DESC, section
"""

SECTIONS_BY_JOB_SQL = f"""
WITH by_job AS (
    SELECT COALESCE(j.name, 'job ' || CAST(s.job_id AS VARCHAR)) AS job_name, s.name AS section,
           SUM(s.duration_seconds) AS total_seconds
    FROM {{job_log_sections}} AS s
    LEFT JOIN {{jobs}} AS j ON j.id = s.job_id
    WHERE {_SECTIONS_IN_SCOPE}
    GROUP BY 1, 2
), top_jobs AS (
    SELECT job_name FROM by_job GROUP BY job_name ORDER BY SUM(total_seconds) DESC, job_name LIMIT {TOP_ROWS}
)
SELECT b.job_name, b.section, b.total_seconds
FROM by_job AS b JOIN top_jobs AS t ON t.job_name = b.job_name
ORDER BY b.job_name, b.section
"""

# --- secrets found in job logs -----------------------------------------------------------------------------------

_FINDINGS_IN_SCOPE = (
    "f.project_id IN ({project_ids})"
    " AND COALESCE(j.created_at, f.detected_at) >= %s AND COALESCE(j.created_at, f.detected_at) < %s"
)
# A job counts as erased when the loaded `jobs` row says so, or `job_erasures` (gitlab/erase.py) records it done.
ERASURES_JOIN = (
    "LEFT JOIN {job_erasures} AS e ON e.job_id = f.job_id AND e.outcome IN ('erased', 'already_erased', 'gone')"
)
NO_ERASURES_JOIN = "LEFT JOIN (SELECT CAST(NULL AS BIGINT) AS job_id) AS e ON e.job_id = f.job_id"
_NOT_ERASED = "j.erased_at IS NULL AND e.job_id IS NULL"

FINDING_SUMMARY_SQL = f"""
SELECT COUNT(*) AS findings,
       COUNT(DISTINCT f.job_id) AS jobs,
       COUNT(DISTINCT f.fingerprint) AS secrets,
       COUNT(DISTINCT f.project_id) AS projects,
       COUNT(DISTINCT CASE WHEN {_NOT_ERASED} THEN f.job_id END) AS jobs_to_erase
FROM {{secret_findings}} AS f
LEFT JOIN {{jobs}} AS j ON j.id = f.job_id
{{erasures_join}}
WHERE {_FINDINGS_IN_SCOPE}
"""

FINDINGS_BY_KIND_SQL = f"""
SELECT f.kind, COUNT(*) AS findings, COUNT(DISTINCT f.fingerprint) AS secrets
FROM {{secret_findings}} AS f
LEFT JOIN {{jobs}} AS j ON j.id = f.job_id
WHERE {_FINDINGS_IN_SCOPE}
GROUP BY 1
ORDER BY findings DESC, f.kind
"""

FINDINGS_SQL = f"""
SELECT f.project_id, f.pipeline_id, f.job_id, f.job_name, f.kind, f.line_number, f.preview, f.fingerprint,
       f.web_url, COALESCE(j.created_at, f.detected_at) AS job_created_at,
       CASE WHEN {_NOT_ERASED} THEN FALSE ELSE TRUE END AS erased
FROM {{secret_findings}} AS f
LEFT JOIN {{jobs}} AS j ON j.id = f.job_id
{{erasures_join}}
WHERE {_FINDINGS_IN_SCOPE}
ORDER BY job_created_at DESC, f.job_id, f.finding_index
LIMIT {FINDINGS_SHOWN}
"""

ERASE_JOBS_SQL = f"""
SELECT f.project_id, f.job_id, MIN(f.web_url) AS web_url
FROM {{secret_findings}} AS f
LEFT JOIN {{jobs}} AS j ON j.id = f.job_id
{{erasures_join}}
WHERE {_FINDINGS_IN_SCOPE} AND {_NOT_ERASED}
GROUP BY f.project_id, f.job_id
ORDER BY f.project_id, f.job_id
"""


def erasures_join(tables: FrozenSet[str]) -> str:
    """The `{erasures_join}` of the findings statements: `job_erasures` when the erase command has run."""
    return ERASURES_JOIN if "job_erasures" in tables else NO_ERASURES_JOIN


# --- delivery: merge request lead time and issue throughput ------------------------------------------------------

_MERGED_IN_SCOPE = (
    "m.project_id IN ({project_ids}) AND m.state = 'merged'"
    " AND m.merged_at >= %s AND m.merged_at < %s AND m.created_at IS NOT NULL"
)
_LEAD_SECONDS = "EXTRACT(EPOCH FROM (m.merged_at - m.created_at))"

MR_LEAD_SUMMARY_SQL = f"""
SELECT COUNT(*) AS merged,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY {_LEAD_SECONDS}) AS lead_p50,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY {_LEAD_SECONDS}) AS lead_p95
FROM {{merge_requests}} AS m
WHERE {_MERGED_IN_SCOPE}
"""

MR_LEAD_TREND_SQL = f"""
SELECT date_trunc('{{bucket}}', m.merged_at AT TIME ZONE 'UTC') AS period,
       COUNT(*) AS merged,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY {_LEAD_SECONDS}) AS lead_p50
FROM {{merge_requests}} AS m
WHERE {_MERGED_IN_SCOPE}
GROUP BY 1
ORDER BY 1
"""

MR_LEAD_BY_PROJECT_SQL = f"""
SELECT m.project_id,
       COUNT(*) AS merged,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY {_LEAD_SECONDS}) AS lead_p50,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY {_LEAD_SECONDS}) AS lead_p95
FROM {{merge_requests}} AS m
WHERE {_MERGED_IN_SCOPE}
GROUP BY 1
ORDER BY merged DESC, m.project_id
"""

ISSUE_SUMMARY_SQL = """
SELECT COUNT(CASE WHEN i.created_at >= %s AND i.created_at < %s THEN 1 END) AS opened,
       COUNT(CASE WHEN i.closed_at >= %s AND i.closed_at < %s THEN 1 END) AS closed
FROM {issues} AS i
WHERE i.project_id IN ({project_ids})
"""

ISSUE_THROUGHPUT_SQL = """
SELECT period, SUM(opened) AS opened, SUM(closed) AS closed
FROM (
    SELECT date_trunc('{bucket}', i.created_at AT TIME ZONE 'UTC') AS period, 1 AS opened, 0 AS closed
    FROM {issues} AS i
    WHERE i.project_id IN ({project_ids}) AND i.created_at >= %s AND i.created_at < %s
    UNION ALL
    SELECT date_trunc('{bucket}', i.closed_at AT TIME ZONE 'UTC') AS period, 0 AS opened, 1 AS closed
    FROM {issues} AS i
    WHERE i.project_id IN ({project_ids}) AND i.closed_at >= %s AND i.closed_at < %s
) AS events
GROUP BY period
ORDER BY period
"""


@dataclass(frozen=True)
class Filters:
    """What the sidebar selected: projects (a group's are expanded to their ids) and an inclusive date range (UTC)."""

    project_ids: Tuple[int, ...]
    start: date
    end: date

    @property
    def since(self) -> datetime:
        """The first instant in range: midnight UTC of `start`."""
        return datetime.combine(self.start, time.min, tzinfo=UTC)

    @property
    def until(self) -> datetime:
        """The first instant after the range: midnight UTC of the day after `end`."""
        return datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=UTC)

    @property
    def bucket(self) -> str:
        """The time bucket of trend charts: day for up to a month, week up to a year, else month."""
        days = (self.end - self.start).days
        if days <= DAY_BUCKET_MAX_DAYS:
            return "day"
        return "week" if days <= WEEK_BUCKET_MAX_DAYS else "month"


@dataclass(frozen=True)
class Query:
    """A statement ready for `app.data.fetch`: table names still as `{name}`, values as `%s` parameters."""

    sql: str
    params: Tuple[Any, ...]


class _KeepMissing(Dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def build(template: str, filters: Filters, ranges: int = 1, **fragments: str) -> Query:
    """Fills a template's filters: `{project_ids}` and `{bucket}` inline, the date range as parameters.

    Args:
        template (str): One of this module's `*_SQL` constants.
        filters (Filters): The sidebar's selection.
        ranges (int): How many times the template applies the project list and the date range. Defaults to 1.
        **fragments (str): SQL put in verbatim for other placeholders, e.g. `erasures_join`.

    Returns:
        Query: The statement with `%s` parameters in order: per range, the project ids then since, until.
    """
    ids = filters.project_ids or (None,)  # `IN (NULL)` matches nothing: an empty group shows nothing
    sql = template.format_map(
        _KeepMissing(project_ids=", ".join(["%s"] * len(ids)), bucket=filters.bucket, **fragments)
    )
    params: Tuple[Any, ...] = ()
    for _ in range(ranges):
        params += (*ids, filters.since, filters.until)
    return Query(sql, params)


def issue_summary(filters: Filters) -> Query:
    """`ISSUE_SUMMARY_SQL`: its two date ranges come before the project list."""
    ids = filters.project_ids or (None,)
    sql = ISSUE_SUMMARY_SQL.format_map(_KeepMissing(project_ids=", ".join(["%s"] * len(ids))))
    return Query(sql, (filters.since, filters.until, filters.since, filters.until, *ids))
