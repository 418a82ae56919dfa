"""`erase-leaky-jobs` from the CLI: a job is done only when GitLab erased it (or it is gone from a project the
token sees), the dry run needs no token, and the token only ever goes to the GitLab the findings came from."""

from typing import Set

from gitlab_emulator import TOKENS, GitLabEmulator
from tests.utils import DATASET, Workspace

ERASE = "erase-leaky-jobs"
ERASE_PATH = r"^/api/v4/projects/\d+/jobs/\d+/erase$"
LOGS_ONLY = ["--resources", "job_logs"]  # the jobs are read, only the logs and their findings are loaded


def _leaky_jobs(workspace: Workspace) -> Set[int]:
    return {job for (job,) in workspace.query(f"select distinct job_id from {DATASET}.secret_findings")}


def test_a_readers_yes_then_a_maintainers_yes_erases_every_leaky_job(emulator, workspace):
    # the workspace's .dlt/config.toml says base_url = "https://gitlab.com": erase must not go there
    loaded = workspace.run("--base-url", emulator.base_url, "--group", "acme/platform", *LOGS_ONLY)
    assert loaded.returncode == 0, loaded.output
    leaky = _leaky_jobs(workspace)
    assert leaky == {s.job_id for s in emulator.planted_secrets if s.job_id in leaky} and len(leaky) > 5
    # the reader is no member of the private worker project; a pipeline of api was deleted in GitLab
    worker = emulator.world.project_by_path["acme/platform/worker"].id
    api = emulator.world.project_by_path["acme/platform/api"].id
    hidden = {s.job_id for s in emulator.planted_secrets if s.project_id == worker and s.job_id in leaky}
    deleted_pipeline = next(s.pipeline_id for s in emulator.planted_secrets if s.project_id == api)
    gone = {s.job_id for s in emulator.planted_secrets if s.pipeline_id == deleted_pipeline}
    assert hidden and gone <= leaky
    emulator.revoke_project_access("reporter", "acme/platform/worker")
    emulator.delete_pipeline(deleted_pipeline)
    emulator.reset_counters()

    dry = workspace.run(ERASE, env={"GITLAB_TOKEN": ""})
    assert dry.returncode == 0 and dry.stderr == "", dry.output
    assert all(f"job {job} " in dry.stdout for job in leaky), dry.stdout
    assert emulator.requests == []  # the dry run reads the destination only

    reader = workspace.run(ERASE, "--yes", env={"GITLAB_TOKEN": TOKENS["reporter"]})
    assert reader.returncode == 1, reader.output
    assert emulator.erased_job_ids == set()
    assert "403 Forbidden" in reader.stdout and f"project {worker}" in reader.stdout
    pending = workspace.run(ERASE, env={"GITLAB_TOKEN": ""})
    assert all(f"job {job} " in pending.stdout for job in leaky - gone), "a job the reader could not erase was dropped"

    maintainer = workspace.run(ERASE, "--yes")
    assert maintainer.returncode == 0, maintainer.output
    assert emulator.erased_job_ids == leaky - gone
    recorded = dict(workspace.query(f"select job_id, outcome from {DATASET}.job_erasures"))
    assert {job: recorded[job] for job in leaky} == {job: "gone" if job in gone else "erased" for job in leaky}

    posts = emulator.request_count(ERASE_PATH, method="POST")
    again = workspace.run(ERASE, "--yes")
    assert again.returncode == 0 and "No job with secret findings left to erase." in again.stdout
    assert emulator.request_count(ERASE_PATH, method="POST") == posts


def test_erase_goes_only_to_the_gitlab_the_findings_came_from(emulator, postgres_dsn, tmp_path):
    loader = Workspace(tmp_path / "loader", TOKENS["maintainer"], "postgres", postgres_dsn)
    loaded = loader.run("--base-url", emulator.base_url, "--project", "acme/website", *LOGS_ONLY)
    assert loaded.returncode == 0, loaded.output
    leaky = _leaky_jobs(loader)
    assert leaky
    # another machine, no local state: what it knows of the load comes from the database
    other_machine = Workspace(tmp_path / "other", TOKENS["maintainer"], "postgres", postgres_dsn)
    dry = other_machine.run(ERASE, env={"GITLAB_TOKEN": ""})
    assert dry.returncode == 0 and all(f"job {job} " in dry.stdout for job in leaky), dry.output
    with GitLabEmulator() as elsewhere:
        emulator.reset_counters()
        refused = other_machine.run(ERASE, "--yes", "--base-url", elsewhere.base_url)
        assert emulator.base_url in refused.error and "--confirm-base-url" in refused.error
        assert refused.stderr.strip() == refused.error
        assert elsewhere.requests == [] and emulator.requests == []

        confirmed = other_machine.run(ERASE, "--yes", "--base-url", elsewhere.base_url, "--confirm-base-url")
        assert confirmed.returncode == 0, confirmed.output
        assert elsewhere.erased_job_ids == leaky and emulator.erased_job_ids == set()
