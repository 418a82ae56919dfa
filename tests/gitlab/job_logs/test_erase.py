"""Erasing leaky jobs against the emulator: a dry run changes nothing, --yes erases exactly the leaky jobs."""

from pathlib import Path
from typing import Any, Dict, List, Set, Tuple

import dlt

from gitlab.credentials import gitlab_credentials
from gitlab.job_logs.erase import erase_leaky_jobs, leaky_jobs
from gitlab_emulator import TOKENS, GitLabEmulator
from tests.gitlab.helpers import finished_job_ids, job_logs_pipeline, list_jobs, query, run_job_logs

ERASE = r"^/api/v4/projects/\d+/jobs/\d+/erase$"


def _leaky(emu: GitLabEmulator, job_ids: Set[int]) -> Set[int]:
    return {secret.job_id for secret in emu.planted_secrets if secret.job_id in job_ids}


def _leaky_and_some_clean_jobs(emu: GitLabEmulator) -> List[List[Dict[str, Any]]]:
    """One page: the finished jobs that leak, and as many that do not (keeps the loads small)."""
    jobs = [job for page in list_jobs(emu, per_page=100) for job in page]
    leaky = _leaky(emu, finished_job_ids([jobs]))
    clean = [job for job in jobs if job["id"] not in leaky][: len(leaky)]
    return [[job for job in jobs if job["id"] in leaky] + clean]


def _loaded(emu: GitLabEmulator, tmp_path: Path, name: str = "job_logs_test") -> Tuple[dlt.Pipeline, Set[int]]:
    """A pipeline that loaded the logs of the leaky jobs and as many clean ones, and the leaky jobs' ids."""
    pages = _leaky_and_some_clean_jobs(emu)
    pipeline = job_logs_pipeline(tmp_path, name)
    run_job_logs(pipeline, emu, pages)
    return pipeline, _leaky(emu, finished_job_ids(pages))


def test_dry_run_changes_nothing_and_yes_erases_exactly_the_leaky_jobs_once(tmp_path):
    with GitLabEmulator() as emu:
        pipeline, leaky = _loaded(emu, tmp_path)
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
        assert set(query(pipeline, "select job_id, outcome from job_erasures")) == {(job, "erased") for job in leaky}
        assert _leaky(emu, leaky) == set()  # the emulator's traces no longer print them

        again = erase_leaky_jobs(pipeline, gitlab_credentials(access_token=TOKENS["maintainer"], base_url=emu.base_url), yes=True)
        assert again.jobs == [] and again.lines() == ["No job with secret findings left to erase."]
        assert emu.request_count(ERASE, method="POST") == len(leaky)


def test_a_reporter_token_gets_one_line_and_nothing_is_erased_or_lost(tmp_path):
    with GitLabEmulator() as emu:
        pipeline, leaky = _loaded(emu, tmp_path)

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
        first, second = job_logs_pipeline(tmp_path, "first"), job_logs_pipeline(tmp_path, "second")
        run_job_logs(first, emu, pages)
        run_job_logs(second, emu, pages)
        leaky = _leaky(emu, finished_job_ids(pages))
        erase_leaky_jobs(first, gitlab_credentials(access_token=TOKENS["maintainer"], base_url=emu.base_url), yes=True)

        report = erase_leaky_jobs(second, gitlab_credentials(access_token=TOKENS["maintainer"], base_url=emu.base_url), yes=True)
        assert {result.outcome for result in report.results} == {"already_erased"} and report.exit_code == 0
        assert emu.erased_job_ids == leaky
        assert leaky_jobs(second) == []


def test_a_404_counts_as_gone_only_in_a_project_the_token_sees(tmp_path):
    with GitLabEmulator() as emu:
        pipeline, leaky = _loaded(emu, tmp_path)
        planted = [secret for secret in emu.planted_secrets if secret.job_id in leaky]
        hidden_project = planted[0].project_id
        hidden = {secret.job_id for secret in planted if secret.project_id == hidden_project}
        deleted_pipeline = next(secret.pipeline_id for secret in planted if secret.project_id != hidden_project)
        gone = {secret.job_id for secret in planted if secret.pipeline_id == deleted_pipeline}
        emu.revoke_project_access("maintainer", emu.world.projects[hidden_project].path_with_namespace)
        emu.delete_pipeline(deleted_pipeline)

        report = erase_leaky_jobs(pipeline, gitlab_credentials(access_token=TOKENS["maintainer"], base_url=emu.base_url), yes=True)
        outcomes = {result.job.job_id: result.outcome for result in report.results}
        expected = {job: "not_visible" if job in hidden else "gone" if job in gone else "erased" for job in leaky}
        assert outcomes == expected and report.exit_code == 1
        assert emu.erased_job_ids == leaky - hidden - gone
        assert any(f"cannot see project {hidden_project}" in line for line in report.lines())
        assert {job.job_id for job in leaky_jobs(pipeline)} == hidden  # listed again for a token that sees them
