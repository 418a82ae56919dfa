"""`job_logs` against the emulator over real HTTP: exactly-once logs, faults, 429s, state, secrets nowhere."""

import json
import logging
import re
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, List, Optional, Set, Tuple

import dlt
import pytest
import yaml
from dlt.extract.items import TableNameMeta
from dlt.pipeline.exceptions import PipelineStepFailed

from gitlab import gitlab_source
from gitlab.credentials import gitlab_credentials
from gitlab.errors import GitLabSourceError, describe_failure
from gitlab.job_logs import job_logs
from gitlab.job_logs.config import JobLogsConfiguration, resolve_settings
from gitlab.job_logs.retry import GitLabRetryPolicy
from gitlab.job_logs.sections import GitLabSectionParser
from gitlab.run_stats import GitLabRunStats
from gitlab_emulator import TOKENS, GitLabEmulator, seed_world
from tests.gitlab.helpers import KEY, duckdb_path, finished_job_ids, job_logs_pipeline, list_jobs, query, run_job_logs
from tests.utils import FINISHED_JOB_STATUSES, REPO, LeakSearch, fingerprint, secret_needles

TRACE_PATH = re.compile(r"^/api/v4/projects/(\d+)/jobs/(\d+)/trace$")
RESTRICTED_PROJECT = 106  # acme/data/restricted: its CI is closed to the emulator's tokens (403)


# ----- helpers -----


def _logged_job_ids(pipeline: dlt.Pipeline) -> List[int]:
    return [row[0] for row in query(pipeline, "select job_id from job_logs")]


def _planted(emu: GitLabEmulator, job_ids: Set[int]) -> Set[Tuple[int, str, int, str]]:
    return {
        (secret.job_id, secret.kind, secret.line_number, fingerprint(KEY, secret.value))
        for secret in emu.planted_secrets
        if secret.job_id in job_ids
    }


def _findings(pipeline: dlt.Pipeline) -> List[Tuple[int, str, int, str]]:
    return query(pipeline, "select job_id, kind, line_number, fingerprint from secret_findings")


def _trace_requests(emu: GitLabEmulator, status: Optional[int] = None) -> List[int]:
    """Job ids of the trace requests the emulator received (with that status, if given)."""
    return [
        int(match.group(2))
        for record in emu.requests
        if (match := TRACE_PATH.match(record.path)) and (status is None or record.status == status)
    ]


def _assert_nowhere(emu: GitLabEmulator, pipeline: dlt.Pipeline, tmp_path: Path, *texts: str) -> None:
    """No planted secret in the destination, the working files, dlt state or the given texts (see LeakSearch)."""
    haystacks = {f"text {index}": text for index, text in enumerate(texts)}
    haystacks["dlt state"] = json.dumps(pipeline.state, default=str)
    search = LeakSearch(haystacks, [tmp_path], [duckdb_path(tmp_path, pipeline.pipeline_name)])
    search.assert_nowhere(secret_needles(emu.planted_secrets))


def _section_truth(text: str) -> List[Tuple[str, int, Optional[int], datetime]]:
    """(name, start line, end line, start) of each section, read from the raw text without the parser."""
    found: List[List[Any]] = []
    stack: List[List[Any]] = []
    for number, line in enumerate(text.split("\n"), start=1):
        for edge, ts, name in re.findall(r"section_(start|end):(\d+):([\w.-]+)", line):
            if edge == "start":
                entry = [name, number, None, datetime.fromtimestamp(int(ts), tz=timezone.utc)]
                found.append(entry)
                stack.append(entry)
            elif any(open_[0] == name for open_ in stack):
                while stack:
                    closed = stack.pop()
                    closed[2] = number
                    if closed[0] == name:
                        break
    return [tuple(entry) for entry in found]  # type: ignore[misc]


# ----- exactness under faults and rate limits -----


def test_every_finished_log_is_stored_once_and_findings_equal_planted_secrets_under_faults(tmp_path, caplog, capfd):
    caplog.set_level(logging.DEBUG)
    with GitLabEmulator(fault_rate=0.05, fault_path_pattern=r"/trace$", latency_seconds=0.002) as emu:
        pages = list_jobs(emu)
        emu.reset_counters()
        pipeline = job_logs_pipeline(tmp_path)
        stats = run_job_logs(pipeline, emu, pages, trace_concurrency=8, trace_backoff_base_seconds=0.05)

        finished = finished_job_ids(pages)
        logged = _logged_job_ids(pipeline)
        assert len(logged) == len(set(logged)) and set(logged) == finished
        assert stats.failed == {} and stats.fetched == len(finished)
        faults = [
            record for record in emu.requests if TRACE_PATH.match(record.path) and record.status in (0, 500, 502, 503)
        ]
        assert faults, "the emulator injected no fault: the test proves nothing"
        assert Counter(_trace_requests(emu, status=200)) == Counter(finished)  # each log fetched exactly once
        assert set(_trace_requests(emu)) == finished  # running jobs are never asked for
        assert emu.peak_in_flight <= 8

        findings = _findings(pipeline)
        assert len(findings) == len(set(findings))
        assert set(findings) == _planted(emu, finished)
        out, err = capfd.readouterr()
        _assert_nowhere(emu, pipeline, tmp_path, caplog.text, out, err, *stats.summary_lines())


@pytest.mark.parametrize(
    "limits, provoked",
    [
        ({"rate_limit": (120, 1.0)}, False),  # RateLimit-* on every answer: paced before the limit
        ({"route_limits": [(r"/trace$", 60, 1.0)]}, True),  # a per-endpoint limit: 429s without headers
    ],
)
def test_rate_limits_are_waited_out_and_nothing_is_lost(tmp_path, limits, provoked):
    with GitLabEmulator(**limits) as emu:
        pages = list_jobs(emu, per_page=100)
        emu.reset_counters()
        pipeline = job_logs_pipeline(tmp_path)
        stats = run_job_logs(pipeline, emu, pages, trace_concurrency=16)

        finished = finished_job_ids(pages)
        limited = sum(record.status == 429 for record in emu.requests)
        assert (limited > 0) == provoked and stats.rate_limited == limited
        assert stats.failed == {}
        logged = _logged_job_ids(pipeline)
        assert len(logged) == len(set(logged)) and set(logged) == finished
        assert Counter(_trace_requests(emu, status=200)) == Counter(finished)
        assert set(_findings(pipeline)) == _planted(emu, finished)
        assert emu.peak_in_flight <= 16


def test_concurrency_spans_pages_and_never_exceeds_the_setting(tmp_path):
    with GitLabEmulator() as emu:
        jobs = [job for page in list_jobs(emu, per_page=100) for job in page]
        pages = [jobs[start : start + 2] for start in range(0, len(jobs), 2)]
        emu.reset_counters()
        emu.hold_until_in_flight(6)  # the first trace requests are held until six are in flight at once
        run_job_logs(job_logs_pipeline(tmp_path), emu, pages, trace_concurrency=6)
        assert emu.peak_in_flight == 6  # pages hold 2 jobs: six in flight means pages overlap, and no more than six


# ----- fetched once, across runs -----


def test_a_second_run_fetches_nothing_and_jobs_finished_since_are_fetched_once(tmp_path):
    with GitLabEmulator() as emu:
        pipeline = job_logs_pipeline(tmp_path)
        first_pages = list_jobs(emu)
        first = finished_job_ids(first_pages)
        assert {job["id"] for page in first_pages for job in page} - first, "the world has no running job"
        run_job_logs(pipeline, emu, first_pages)

        emu.reset_counters()
        stats = run_job_logs(pipeline, emu, first_pages)
        assert _trace_requests(emu) == [] and stats.skipped_fetched_before == len(first)

        emu.advance(hours=24)
        later_pages = list_jobs(emu)
        later = finished_job_ids(later_pages)
        assert later > first
        emu.reset_counters()
        run_job_logs(pipeline, emu, later_pages)
        assert Counter(_trace_requests(emu)) == Counter(later - first)
        logged = _logged_job_ids(pipeline)
        assert len(logged) == len(set(logged)) and set(logged) == later
        findings = _findings(pipeline)
        assert len(findings) == len(set(findings)) and set(findings) == _planted(emu, later)


@pytest.mark.parametrize("dlt_adds_its_columns", [False, True], ids=["dlt-defaults", "parquet-normalizer-adds-ids"])
def test_the_three_tables_keep_the_reference_columns_and_dlt_row_ids_over_two_loads(
    tmp_path, monkeypatch, dlt_adds_its_columns
):
    if dlt_adds_its_columns:  # a user's own pipeline may have dlt add them to every Arrow table
        monkeypatch.setenv("NORMALIZE__PARQUET_NORMALIZER__ADD_DLT_ID", "true")
        monkeypatch.setenv("NORMALIZE__PARQUET_NORMALIZER__ADD_DLT_LOAD_ID", "true")
    reference = yaml.safe_load((REPO / "schemas" / "export" / "gitlab.schema.yaml").read_text())["tables"]
    with GitLabEmulator() as emu:
        pipeline = job_logs_pipeline(tmp_path)
        run_job_logs(pipeline, emu, list_jobs(emu))
        emu.advance(hours=24)
        run_job_logs(pipeline, emu, list_jobs(emu))
        loads = {row[0] for row in query(pipeline, "select load_id from _dlt_loads where status = 0")}
        assert len(loads) == 2
        for table in ("job_logs", "job_log_sections", "secret_findings"):
            columns = pipeline.default_schema.get_table_columns(table)
            for name, hints in reference[table]["columns"].items():  # the columns only gain, never lose
                assert {hint: columns[name].get(hint, True) for hint in hints} == hints, (table, name)
            ids = query(pipeline, f"select _dlt_id, _dlt_load_id from {table}")
            assert ids and len({row_id for row_id, _ in ids}) == len(ids), table
            assert {load_id for _, load_id in ids} == loads, table
        types = dict(
            query(
                pipeline,
                "select column_name, data_type from information_schema.columns where table_name = 'job_logs'",
            )
        )
        assert (types["finished_at"], types["fetched_at"], types["job_id"], types["truncated"]) == (
            "TIMESTAMP WITH TIME ZONE",
            "TIMESTAMP WITH TIME ZONE",
            "BIGINT",
            "BOOLEAN",
        )
        finished = dict(query(pipeline, "select job_id, finished_at from job_logs"))
        truth = {job["id"]: job["finished_at"] for page in list_jobs(emu) for job in page if job["id"] in finished}
        assert {job_id: moment.isoformat() for job_id, moment in finished.items()} == {
            job_id: datetime.fromisoformat(value).isoformat() for job_id, value in truth.items()
        }


def test_a_log_that_keeps_failing_is_named_and_fetched_on_the_next_run(tmp_path):
    world = seed_world()
    pipeline = job_logs_pipeline(tmp_path)
    with GitLabEmulator(world=world) as emu:
        pages = list_jobs(emu)[:3]  # a few pages are enough here
    finished = finished_job_ids(pages)
    victim = min(finished)
    with GitLabEmulator(world=world, fault_rate=1.0, fault_path_pattern=rf"/jobs/{victim}/trace$") as emu:
        stats = run_job_logs(pipeline, emu, pages, trace_max_attempts=3, trace_backoff_base_seconds=0.01)
        assert list(stats.failed) == [victim]
        assert any(f"job {victim}:" in line and "after 3 attempts" in line for line in stats.summary_lines())
        assert _trace_requests(emu).count(victim) == 3
        assert set(_logged_job_ids(pipeline)) == finished - {victim}
        assert (
            str(victim) in pipeline.state["sources"][pipeline.default_schema_name]["resources"]["job_logs"]["pending"]
        )
    with GitLabEmulator(world=world) as emu:
        stats = run_job_logs(pipeline, emu, pages)
        assert _trace_requests(emu) == [victim] and stats.failed == {}
        logged = _logged_job_ids(pipeline)
        assert len(logged) == len(set(logged)) and set(logged) == finished
        assert pipeline.state["sources"][pipeline.default_schema_name]["resources"]["job_logs"]["pending"] == {}


def test_a_job_without_a_log_is_recorded_once_and_not_asked_for_again(tmp_path):
    ghost = {
        "id": 99_999_999,
        "status": "success",
        "name": "ghost",
        "finished_at": "2026-01-01T00:00:00.000Z",
        "pipeline": {"id": 60_000, "project_id": 100},
        "web_url": "http://example.invalid/-/jobs/99999999",
    }
    with GitLabEmulator() as emu:
        pipeline = job_logs_pipeline(tmp_path)
        stats = run_job_logs(pipeline, emu, [[ghost]])
        assert stats.missing == 1 and _trace_requests(emu) == [ghost["id"]]
        assert query(pipeline, "select job_id, log_status, size_bytes, log from job_logs") == [
            (ghost["id"], "missing", 0, None)
        ]
        emu.reset_counters()
        run_job_logs(pipeline, emu, [[ghost]])
        assert _trace_requests(emu) == []


# ----- permissions -----


def test_a_forbidden_project_is_skipped_with_one_clear_warning(tmp_path, caplog):
    world = seed_world()
    jobs = [
        {
            "id": job.id,
            "status": job.status,
            "name": job.name,
            "pipeline": {"id": job.pipeline_id, "project_id": job.project_id},
            "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        }
        for job in world.project_jobs[RESTRICTED_PROJECT]
        if job.status in FINISHED_JOB_STATUSES
    ]
    assert len(jobs) > 2
    with GitLabEmulator(world=world) as emu:
        stats = run_job_logs(job_logs_pipeline(tmp_path), emu, [jobs], trace_concurrency=2)
        assert len(_trace_requests(emu, status=403)) <= 2  # the project is skipped after its first 403s
    reason = stats.denied_projects[RESTRICTED_PROJECT]
    assert reason.startswith("GitLab answered 403 Forbidden on /projects/106/jobs/") and "Reporter" in reason
    warnings = [r.getMessage() for r in caplog.records if "403" in r.getMessage()]
    assert len(warnings) == 1 and "skipping the job logs of project 106" in warnings[0]
    assert stats.fetched == 0 and stats.failed == {}


def test_a_bad_token_fails_the_run_with_one_line_that_names_the_setting(tmp_path):
    bad_token = "glpat-not-a-valid-token-00000"
    with GitLabEmulator() as emu:
        pages = list_jobs(emu)
        with pytest.raises(PipelineStepFailed) as failure:
            run_job_logs(job_logs_pipeline(tmp_path), emu, pages, token=bad_token)
    line = describe_failure(failure.value)
    assert line.startswith("GitLab answered 401 on /projects/") and "sources.gitlab.access_token" in line
    assert "\n" not in line and bad_token not in line and bad_token not in str(failure.value)


# ----- what is stored -----


def test_a_long_log_keeps_its_head_and_tail_and_records_its_full_size(tmp_path):
    with GitLabEmulator() as emu:
        pages = list_jobs(emu, per_page=100)
        by_size = sorted(
            (job for page in pages for job in page if job["status"] in FINISHED_JOB_STATUSES),
            key=lambda job: len(emu.trace_text(job["id"])),
        )
        big = by_size[-1]
        text = emu.trace_text(big["id"])
        assert len(text) > 1_000_000
        pipeline = job_logs_pipeline(tmp_path)
        run_job_logs(pipeline, emu, [[big]], trace_max_bytes=65_536)
    [(size, stored, lines, truncated, log, sections)] = query(
        pipeline, "select size_bytes, stored_bytes, line_count, truncated, log, section_count from job_logs"
    )
    assert truncated and size == len(text.encode("utf-8")) and lines == text.count("\n")
    assert stored == len(log.encode("utf-8")) <= 65_536 + 200
    plain = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text)
    assert log.startswith(plain[:1_000]) and log.endswith(plain[-1_000:])
    assert "bytes of this log are not stored" in log
    assert sections == len(_section_truth(text))


def test_sections_follow_the_markers_and_their_timestamps(tmp_path):
    with GitLabEmulator() as emu:
        pages = list_jobs(emu, per_page=100)
        sample = [job for job in pages[0] if job["status"] in FINISHED_JOB_STATUSES][:15]
        pipeline = job_logs_pipeline(tmp_path)
        run_job_logs(pipeline, emu, [sample])
        truth = {
            (job["id"], index, name, start, end, started)
            for job in sample
            for index, (name, start, end, started) in enumerate(_section_truth(emu.trace_text(job["id"])))
        }
    rows = query(
        pipeline,
        "select job_id, section_index, name, start_line, end_line, started_at, ended_at, duration_seconds, depth"
        " from job_log_sections",
    )
    assert {row[:5] + (row[5].astimezone(timezone.utc),) for row in rows} == truth
    assert all(row[7] == (row[6] - row[5]).total_seconds() >= 0 for row in rows if row[6] is not None)
    assert any(row[8] == 1 for row in rows), "no nested section in the sample"


def test_log_text_can_be_left_out_or_kept_with_its_colours_and_stays_redacted(tmp_path):
    with GitLabEmulator() as emu:
        pages = list_jobs(emu, per_page=100)
        leaky = {secret.job_id for secret in emu.planted_secrets if secret.kind == "private_key"}
        sample = [[job for page in pages for job in page if job["id"] in leaky][:6]]
        assert sample[0]
        without_text = job_logs_pipeline(tmp_path, "without_text")
        run_job_logs(without_text, emu, sample, store_log_text=False)
        coloured = job_logs_pipeline(tmp_path, "coloured")
        run_job_logs(coloured, emu, sample, strip_ansi=False)
    assert {row[0] for row in query(without_text, "select log from job_logs")} == {None}
    assert set(_findings(without_text)) == set(_findings(coloured)) == _planted(emu, {job["id"] for job in sample[0]})
    logs = [row[0] for row in query(coloured, "select log from job_logs")]
    assert all("\x1b[" in log for log in logs) and any("[REDACTED:private_key]" in log for log in logs)
    _assert_nowhere(emu, coloured, tmp_path)


def test_as_part_of_the_source_fed_by_its_jobs_resource(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCES__GITLAB__FINGERPRINT_KEY", KEY)  # resolved from config, as in the CLI
    monkeypatch.setenv("SOURCES__GITLAB__TRACE_CONCURRENCY", "8")
    monkeypatch.setenv("EXTRACT__WORKERS", "2")  # dlt's pool for the parallelized per-pipeline `jobs` listings
    with GitLabEmulator(latency_seconds=0.005) as emu:
        stats = GitLabRunStats()
        credentials = gitlab_credentials(access_token=TOKENS["maintainer"], base_url=emu.base_url)
        source = gitlab_source(credentials=credentials, groups=["acme/platform"], run_stats=stats)
        pipeline = job_logs_pipeline(tmp_path)
        pipeline.run(source.with_resources("jobs", "job_logs")).raise_on_failed_jobs()
        jobs = emu.truth_rows("jobs", groups=("acme/platform",))
        finished = {row["id"] for row in jobs if row["status"] in FINISHED_JOB_STATUSES}
        logged = _logged_job_ids(pipeline)
        assert len(logged) == len(set(logged)) and set(logged) == finished
        loaded_finished = query(pipeline, "select count(*) from jobs where status in ('success', 'failed', 'canceled')")
        assert loaded_finished == [(len(finished),)]
        assert set(_findings(pipeline)) == _planted(emu, finished)
        assert stats.job_logs.fetched == len(finished) and stats.job_logs.failed == {}
        assert emu.peak_in_flight <= 8 + 2  # the logs, and the `jobs` listings on dlt's two workers


# ----- without HTTP -----


def test_the_three_tables_merge_on_their_keys():
    jobs = dlt.resource([], name="jobs")
    resource = job_logs(
        jobs,
        gitlab_credentials(access_token="token", base_url="https://gitlab.example.com"),
        config=JobLogsConfiguration(fingerprint_key=KEY),
    )
    assert resource.name == "job_logs" and resource.write_disposition == "merge"
    assert resource._hints["primary_key"] == "job_id"
    for table, key in (
        ("job_logs", ["job_id"]),
        ("job_log_sections", ["job_id", "section_index"]),
        ("secret_findings", ["job_id", "finding_index"]),
    ):
        schema = resource.compute_table_schema(meta=TableNameMeta(table))
        assert schema["write_disposition"] == "merge", table
        assert [name for name, column in schema["columns"].items() if column.get("primary_key")] == key


def test_gitlab_com_gets_the_preset_and_other_hosts_the_default():
    def settings(url: str, **config: Any) -> Any:
        return resolve_settings(url, JobLogsConfiguration(**config))

    assert settings("https://gitlab.com/api/v4").concurrency == 10
    assert settings("https://git.example.com/api/v4").concurrency == 64
    assert settings("https://gitlab.com/api/v4", trace_concurrency=3).concurrency == 3
    with pytest.raises(GitLabSourceError, match="trace_concurrency"):
        settings("https://git.example.com/api/v4", trace_concurrency=-1)
    with pytest.raises(GitLabSourceError, match="secret_patterns.acme_key is not a valid regular expression"):
        settings("https://git.example.com/api/v4", secret_patterns={"acme_key": "acme_[0-9"})


def test_retry_waits_what_gitlab_says_else_backs_off_exponentially():
    policy = GitLabRetryPolicy(backoff_base_seconds=1.0, backoff_cap_seconds=8.0)
    assert 7 <= policy.retry_delay({"Retry-After": "7"}, 1) <= 7.5
    reset = str(int(datetime.now(timezone.utc).timestamp()) + 20)
    assert policy.retry_delay({"RateLimit-Reset": reset}, 1) <= 1.0  # a reset time is the request budget's
    assert 0.5 <= policy.retry_delay(None, 1) <= 1.0
    assert 4.0 <= policy.retry_delay({}, 10) <= 8.0  # capped
    assert all(policy.is_retryable(status) for status in (None, 408, 500, 502, 503))
    assert not any(policy.is_retryable(status) for status in (400, 401, 403, 404, 429))


def test_section_parser_closes_inner_sections_and_ignores_strays():
    parser = GitLabSectionParser()
    parser.feed("section_start:100:outer\rOuter\nsection_start:110:inner[collapsed=true]\rInner\n", 1)
    parser.feed("section_end:999:nobody\nsection_end:130:outer\n", 3)
    rows = parser.rows()
    assert [
        (
            r["name"],
            r["depth"],
            r["parent_name"],
            r["collapsed"],
            r["header"],
            r["start_line"],
            r["end_line"],
            r["duration_seconds"],
        )
        for r in rows
    ] == [
        ("outer", 0, None, False, "Outer", 1, 4, 30.0),
        ("inner", 1, "outer", True, "Inner", 2, 4, 20.0),
    ]
