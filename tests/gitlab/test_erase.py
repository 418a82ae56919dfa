"""Erasing leaky jobs against the emulator: a dry run changes nothing, --yes erases exactly the leaky jobs."""

from typing import Any, Dict, List, Set

from gitlab.credentials import gitlab_credentials
from gitlab.job_logs.erase import erase_leaky_jobs, leaky_jobs
from gitlab_emulator import TOKENS, GitLabEmulator
from tests.gitlab.test_job_logs import _finished, _list_jobs, _pipeline, _query, _run

ERASE = r"^/api/v4/projects/\d+/jobs/\d+/erase$"


def _leaky(emu: GitLabEmulator, job_ids: Set[int]) -> Set[int]:
    return {secret.job_id for secret in emu.planted_secrets if secret.job_id in job_ids}


def _leaky_and_some_clean_jobs(emu: GitLabEmulator) -> List[List[Dict[str, Any]]]:
    """One page: the finished jobs that leak, and as many that do not (keeps the loads small)."""
    jobs = [job for page in _list_jobs(emu, per_page=100) for job in page]
    leaky = _leaky(emu, _finished([jobs]))
    clean = [job for job in jobs if job["id"] not in leaky][: len(leaky)]
    return [[job for job in jobs if job["id"] in leaky] + clean]


def test_dry_run_changes_nothing_and_yes_erases_exactly_the_leaky_jobs_once(tmp_path):
    with GitLabEmulator() as emu:
        pages = _leaky_and_some_clean_jobs(emu)
        pipeline = _pipeline(tmp_path)
        _run(pipeline, emu, pages)
        leaky = _leaky(emu, _finished(pages))
        assert len(leaky) > 5
        tables_before = set(pipeline.default_schema.tables)

        dry = erase_leaky_jobs(pipeline, gitlab_credentials(access_token=TOKENS["maintainer"], base_url=emu.base_url))
        assert dry.dry_run and {job.job_id for job in dry.jobs} == leaky and dry.exit_code == 0
        assert dry.lines()[0].startswith(f"Dry run: {len(leaky)} job(s) with secret findings")
        assert emu.request_count(ERASE, method=None) == 0 and emu.erased_job_ids == set()
        assert set(pipeline.default_schema.tables) == tables_before  # nothing recorded either

        done = erase_leaky_jobs(pipeline, gitlab_credentials(access_token=TOKENS["maintainer"], base_url=emu.base_url), yes=True)
        assert {result.job.job_id for result in done.results if result.outcome == "erased"} == leaky
        assert emu.erased_job_ids == leaky and emu.request_count(ERASE, method="POST") == len(leaky)
        assert (
            done.exit_code == 0
            and done.lines()[0] == f"Erased {len(leaky)} of {len(leaky)} job(s) with secret findings:"
        )
        assert set(_query(pipeline, "select job_id, outcome from job_erasures")) == {(job, "erased") for job in leaky}
        assert _leaky(emu, _finished(pages)) == set()  # the emulator's traces no longer print them

        again = erase_leaky_jobs(pipeline, gitlab_credentials(access_token=TOKENS["maintainer"], base_url=emu.base_url), yes=True)
        assert again.jobs == [] and again.lines() == ["No job with secret findings left to erase."]
        assert emu.request_count(ERASE, method="POST") == len(leaky)


def test_a_reporter_token_gets_one_line_and_nothing_is_erased_or_lost(tmp_path):
    with GitLabEmulator() as emu:
        pages = _leaky_and_some_clean_jobs(emu)
        pipeline = _pipeline(tmp_path)
        _run(pipeline, emu, pages)
        leaky = _leaky(emu, _finished(pages))

        denied = erase_leaky_jobs(pipeline, gitlab_credentials(access_token=TOKENS["reporter"], base_url=emu.base_url), yes=True)
        [line] = denied.lines()
        assert line.startswith("GitLab answered 403 Forbidden to every erase") and "Maintainer" in line
        assert denied.exit_code == 1 and emu.erased_job_ids == set()
        projects = {job.project_id for job in denied.jobs}
        assert emu.request_count(ERASE, method="POST") == len(projects)  # one try per project, then skipped
        assert {job.job_id for job in leaky_jobs(pipeline)} == leaky  # still listed for a maintainer to erase


def test_erasing_jobs_erased_elsewhere_does_no_harm(tmp_path):
    with GitLabEmulator() as emu:
        pages = _leaky_and_some_clean_jobs(emu)
        first, second = _pipeline(tmp_path, "first"), _pipeline(tmp_path, "second")
        _run(first, emu, pages)
        _run(second, emu, pages)
        leaky = _leaky(emu, _finished(pages))
        erase_leaky_jobs(first, gitlab_credentials(access_token=TOKENS["maintainer"], base_url=emu.base_url), yes=True)

        report = erase_leaky_jobs(second, gitlab_credentials(access_token=TOKENS["maintainer"], base_url=emu.base_url), yes=True)
        assert {result.outcome for result in report.results} == {"already_erased"} and report.exit_code == 0
        assert emu.erased_job_ids == leaky
        assert leaky_jobs(second) == []
