"""The CLI end to end against the GitLab emulator over real HTTP: exact loads, increments, bad input."""

import re
import shutil
from datetime import datetime, timezone

import pytest

from gitlab_emulator import TOKENS
from tests.utils import (
    DATASET,
    FINISHED_JOB_STATUSES,
    REPO,
    TABLE_KEYS,
    Workspace,
    assert_children_carry_parent_keys,
    assert_load_equals_truth,
    fingerprint,
    requested_ids,
    secret_needles,
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
    assert requested_ids(emulator, r"/api/v4/projects/\d+/pipelines/(\d+)/jobs") == changed_pipelines
    for table, path in (("issues", "issues"), ("merge_requests", "merge_requests")):
        changed = emulator.changed_since(table, before)
        assert changed
        assert requested_ids(emulator, rf"/api/v4/projects/(\d+)/{path}/(\d+)/notes") == changed

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


@pytest.mark.parametrize(
    "case, args, env, message",
    [
        ("no token", ["--group", "acme"], {"GITLAB_TOKEN": ""}, "no GitLab token"),
        ("rejected token", ["--group", "acme"], {"GITLAB_TOKEN": "glpat-revoked"}, "401 Unauthorized"),
        ("unknown group", ["--group", "no-such-group"], {}, "group 'no-such-group'"),
        ("unknown project", ["--project", "acme/no-such-project"], {}, "project 'acme/no-such-project'"),
        ("invisible project", ["--project", "acme/secret-project"], {}, "project 'acme/secret-project'"),
        ("bad --since", ["--group", "acme", "--since", "last tuesday"], {}, "--since 'last tuesday'"),
        ("unknown resource", ["--group", "acme", "--resources", "jobs,wikis"], {}, "unknown resource(s) wikis"),
        ("unknown destination", ["--group", "acme", "--destination", "oracle"], {}, "unknown destination 'oracle'"),
        ("nothing to load", [], {}, "name at least one group or project"),
    ],
)
def test_bad_input_gives_one_line_and_a_non_zero_exit(emulator, workspace, case, args, env, message):
    result = workspace.run("--base-url", emulator.base_url, *args, env=env)
    assert message in result.error
    assert result.stderr.strip() == result.error, "nothing but the error line"
    assert not workspace.duckdb_path.exists() or not (workspace.tables() & set(TABLE_KEYS))


def test_unreachable_gitlab_gives_one_line(workspace):
    result = workspace.run("--base-url", "http://127.0.0.1:9", "--group", "acme")
    assert result.error == (
        "error: cannot reach http://127.0.0.1:9/api/v4/groups/acme: check --base-url and the network (ConnectionError)"
    )


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
    "kind, where, destination",
    [("maintainer", "GITLAB_TOKEN", "duckdb"), ("oauth", "GITLAB_TOKEN", "duckdb"),
     ("job", "SOURCES__GITLAB__ACCESS_TOKEN", "duckdb"), ("maintainer", "secrets.toml", "duckdb"),
     ("maintainer", "GITLAB_TOKEN", "postgres")],
)
def test_the_token_never_leaves_the_wire(emulator, tmp_path, request, kind, where, destination):
    dsn = request.getfixturevalue("postgres_dsn") if destination == "postgres" else None
    workspace = Workspace(tmp_path, None, destination, dsn)
    token = TOKENS[kind]
    secrets = workspace.root / ".dlt" / "secrets.toml"
    if where == "secrets.toml":
        secrets.write_text(f'[sources.gitlab]\naccess_token = "{token}"\n')
    env = {} if where == "secrets.toml" else {where: token}
    result = workspace.run("--base-url", emulator.base_url, "--group", "acme", env=env)
    assert result.returncode == 0, result.output
    assert_load_equals_truth(workspace, emulator)
    assert all(token not in r.path and token not in str(r.query) for r in emulator.requests)
    allowed = [secrets] if where == "secrets.toml" else []
    workspace.leak_search({"output": result.output}, allowed_files=allowed).assert_nowhere([token])


def test_job_logs_load_redacted_and_leaky_jobs_are_erased_from_the_cli(emulator, any_workspace):
    workspace = any_workspace
    key = "fingerprint-key-of-the-cli-test"
    env = {"SOURCES__GITLAB__FINGERPRINT_KEY": key}
    args = ["--base-url", emulator.base_url, "--group", "acme"]
    loaded = workspace.run(*args, env=env)
    assert loaded.returncode == 0, loaded.output
    finished = {job["id"] for job in emulator.truth_rows("jobs") if job["status"] in FINISHED_JOB_STATUSES}
    logged = [job for (job,) in workspace.query(f"select job_id from {DATASET}.job_logs")]
    assert len(logged) == len(set(logged)) and set(logged) == finished
    planted = [secret for secret in emulator.planted_secrets if secret.job_id in finished]
    findings = workspace.query(f"select job_id, kind, line_number, fingerprint from {DATASET}.secret_findings")
    assert len(findings) == len(set(findings))
    assert set(findings) == {(s.job_id, s.kind, s.line_number, fingerprint(key, s.value)) for s in planted}
    leaky = {secret.job_id for secret in planted}
    assert len(leaky) > 5

    dry = workspace.run("erase-leaky-jobs", "--base-url", emulator.base_url, env=env)
    assert dry.returncode == 0, dry.output
    assert {int(job) for job in re.findall(r"job (\d+) ", dry.stdout)} == leaky and emulator.erased_job_ids == set()

    denied = workspace.run("erase-leaky-jobs", "--yes", "--base-url", emulator.base_url,
                           env={**env, "GITLAB_TOKEN": TOKENS["reporter"]})
    assert denied.returncode != 0 and "403 Forbidden" in denied.stdout and emulator.erased_job_ids == set()

    erased = workspace.run("erase-leaky-jobs", "--yes", "--base-url", emulator.base_url, env=env)
    assert erased.returncode == 0, erased.output
    assert emulator.erased_job_ids == leaky
    again = workspace.run("erase-leaky-jobs", "--yes", "--base-url", emulator.base_url, env=env)
    assert again.returncode == 0 and "No job with secret findings left to erase." in again.stdout
    assert emulator.erased_job_ids == leaky

    outputs = {"load": loaded.output, "dry run": dry.output, "denied erase": denied.output,
               "erase": erased.output, "second erase": again.output}
    workspace.leak_search(outputs).assert_nowhere([TOKENS["maintainer"], TOKENS["reporter"], *secret_needles(planted)])

