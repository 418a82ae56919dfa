"""The CLI end to end against the GitLab emulator over real HTTP: exact loads, increments, bad input."""

import re
import shutil
from datetime import datetime, timezone

import pytest

from gitlab_emulator import TOKENS
from tests.utils import (
    DATASET,
    REPO,
    TABLE_KEYS,
    assert_children_carry_parent_keys,
    assert_load_equals_truth,
    files_containing,
)

SCOPES = {
    "group with nested subgroups": (["--group", "acme"], {}),
    "no subgroups": (["--group", "acme", "--no-subgroups"], {"include_subgroups": False}),
    "archived included": (["--group", "acme", "--include-archived"], {"include_archived": True}),
    "project list": (
        ["--project", "acme/platform/legacy", "--project", "105"],
        {"groups": (), "projects": ("acme/platform/legacy", "105")},
    ),
    "group and a project outside it": (
        ["--group", "acme/platform", "--project", "acme/website"],
        {"groups": ("acme/platform",), "projects": ("acme/website",)},
    ),
}
@pytest.mark.parametrize("scope_name", list(SCOPES))
def test_first_load_equals_the_emulators_truth(emulator, any_workspace, scope_name):
    args, scope = SCOPES[scope_name]
    result = any_workspace.run("--base-url", emulator.base_url, *args)
    assert result.returncode == 0, result.output
    assert "Traceback" not in result.output
    assert_load_equals_truth(any_workspace, emulator, **scope)
    assert_children_carry_parent_keys(any_workspace)


def _requested_ids(emulator, pattern: str) -> set:
    return {tuple(int(g) for g in m.groups()) for r in emulator.requests if (m := re.fullmatch(pattern, r.path))}


def test_incremental_run_merges_changes_and_fetches_only_changed_parents(emulator, any_workspace):
    workspace = any_workspace
    args = ["--base-url", emulator.base_url, "--group", "acme"]
    assert workspace.run(*args).returncode == 0
    before = emulator.now
    emulator.advance(hours=24)
    emulator.reset_counters()

    result = workspace.run(*args)
    assert result.returncode == 0, result.output
    assert_load_equals_truth(workspace, emulator)
    assert_children_carry_parent_keys(workspace)

    # updated rows carry GitLab's new values, not the first run's
    for table, columns in {"pipelines": ("id", "status", "updated_at"), "issues": ("id", "title", "state"),
                           "merge_requests": ("id", "state", "merged_at")}.items():
        truth = {tuple(str(row[c]) if row[c] is not None else None for c in columns)
                 for row in emulator.truth_rows(table)}
        loaded = workspace.query(f"select {', '.join(columns)} from {DATASET}.{table}")
        normalised = {tuple(_as_gitlab_text(v) for v in row) for row in loaded}
        assert normalised == truth, table

    # children were fetched again only for the parents that changed
    changed_pipelines = {(p,) for p in emulator.changed_since("pipelines", before)}
    assert changed_pipelines, "time travel changed no pipeline"
    assert _requested_ids(emulator, r"/api/v4/projects/\d+/pipelines/(\d+)/jobs") == changed_pipelines
    for table, path in (("issues", "issues"), ("merge_requests", "merge_requests")):
        changed = emulator.changed_since(table, before)
        assert changed
        assert _requested_ids(emulator, rf"/api/v4/projects/(\d+)/{path}/(\d+)/notes") == changed

    # a run with nothing new adds nothing and reads no child again
    emulator.reset_counters()
    counts = {table: workspace.query(f"select count(*) from {DATASET}.{table}")[0][0] for table in TABLE_KEYS}
    assert workspace.run(*args).returncode == 0
    assert counts == {table: workspace.query(f"select count(*) from {DATASET}.{table}")[0][0] for table in TABLE_KEYS}
    assert emulator.request_count(r"/jobs$") == 0
    assert emulator.request_count(r"/notes$") == 0


def _as_gitlab_text(value):
    """DuckDB hands timestamps back as datetimes; GitLab prints them as `...T...000Z`."""
    if isinstance(value, datetime):
        utc = value.astimezone(timezone.utc)
        return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
    return None if value is None else str(value)


def test_a_forbidden_project_is_warned_once_and_counted(emulator, workspace):
    result = workspace.run("--base-url", emulator.base_url, "--group", "acme/data")
    assert result.returncode == 0, result.output
    restricted = next(p["id"] for p in emulator.truth_rows("projects", groups=("acme/data",))
                      if p["path_with_namespace"] == "acme/data/restricted")
    warnings = [line for line in result.stderr.splitlines() if "403" in line and f"/projects/{restricted}/" in line]
    assert len(warnings) == 1, result.stderr
    assert f"project {restricted}: 3 endpoint(s) denied" in result.stdout


def test_a_failed_first_run_leaves_the_reference_export_schema_as_it_was(workspace):
    # a fresh clone: the committed reference export, and no pipeline yet
    workspace.schema_export_dir.mkdir()
    exported = workspace.schema_export_dir / "gitlab.schema.yaml"
    shutil.copyfile(REPO / "schemas" / "export" / "gitlab.schema.yaml", exported)
    failed = workspace.run("--base-url", "http://127.0.0.1:9", "--group", "acme")
    assert failed.returncode != 0 and failed.error.startswith("error: cannot reach")
    assert exported.read_bytes() == (REPO / "schemas" / "export" / "gitlab.schema.yaml").read_bytes()
    assert [path.name for path in workspace.schema_export_dir.iterdir()] == ["gitlab.schema.yaml"]


def test_a_failed_run_leaves_the_previous_load_intact(emulator, workspace):
    args = ["--base-url", emulator.base_url, "--group", "acme"]
    assert workspace.run(*args).returncode == 0
    counts = {table: workspace.query(f"select count(*) from {DATASET}.{table}")[0][0] for table in TABLE_KEYS}
    emulator.advance(hours=24)
    failed = workspace.run(*args, env={"GITLAB_TOKEN": "glpat-revoked"})
    assert failed.returncode != 0
    assert counts == {table: workspace.query(f"select count(*) from {DATASET}.{table}")[0][0] for table in TABLE_KEYS}
    assert workspace.run(*args).returncode == 0
    assert_load_equals_truth(workspace, emulator)


@pytest.mark.parametrize(
    "kind, where",
    [("maintainer", "GITLAB_TOKEN"), ("oauth", "GITLAB_TOKEN"), ("maintainer", "SOURCES__GITLAB__ACCESS_TOKEN"),
     ("maintainer", "secrets.toml")],
)
def test_the_token_never_leaves_the_wire(emulator, workspace, kind, where):
    token = TOKENS[kind]
    secrets = workspace.root / ".dlt" / "secrets.toml"
    if where == "secrets.toml":
        secrets.write_text(f'[sources.gitlab]\naccess_token = "{token}"\n')
    env = {"GITLAB_TOKEN": ""} if where == "secrets.toml" else {"GITLAB_TOKEN": "", where: token}
    result = workspace.run("--base-url", emulator.base_url, "--group", "acme", env=env)
    assert result.returncode == 0, result.output
    assert token not in result.output
    assert [path for path in files_containing(workspace.root, token) if path != secrets] == []
    assert all(token not in r.path and token not in str(r.query) for r in emulator.requests)


def test_job_logs_load_redacted_and_leaky_jobs_are_erased_from_the_cli(emulator, any_workspace):
    workspace = any_workspace
    args = ["--base-url", emulator.base_url, "--group", "acme"]
    loaded = workspace.run(*args)
    assert loaded.returncode == 0, loaded.output
    finished = {job["id"] for job in emulator.truth_rows("jobs") if job["finished_at"] and job["status"] != "skipped"}
    logged = {job for (job,) in workspace.query(f"select job_id from {DATASET}.job_logs")}
    assert logged <= finished and len(logged) == len(workspace.query(f"select job_id from {DATASET}.job_logs"))
    planted = [secret for secret in emulator.planted_secrets if secret.job_id in logged]
    leaky = {secret.job_id for secret in planted}
    found = {job for (job,) in workspace.query(f"select distinct job_id from {DATASET}.secret_findings")}
    assert leaky and found == leaky

    dry = workspace.run("erase-leaky-jobs", "--base-url", emulator.base_url)
    assert dry.returncode == 0, dry.output
    assert all(f"job {job} " in dry.stdout for job in leaky) and emulator.erased_job_ids == set()

    denied = workspace.run("erase-leaky-jobs", "--yes", "--base-url", emulator.base_url,
                           env={"GITLAB_TOKEN": TOKENS["reporter"]})
    assert denied.returncode != 0 and "403 Forbidden" in denied.stdout and emulator.erased_job_ids == set()

    erased = workspace.run("erase-leaky-jobs", "--yes", "--base-url", emulator.base_url)
    assert erased.returncode == 0, erased.output
    assert emulator.erased_job_ids == leaky
    again = workspace.run("erase-leaky-jobs", "--yes", "--base-url", emulator.base_url)
    assert again.returncode == 0 and "No job with secret findings left to erase." in again.stdout
    assert emulator.erased_job_ids == leaky

    for secret in planted:
        assert secret.value not in loaded.output + dry.output + erased.output
        assert files_containing(workspace.root, secret.value) == [], secret.kind
