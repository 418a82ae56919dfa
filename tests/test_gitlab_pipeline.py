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


def test_a_failed_first_run_leaves_the_reference_export_schema_as_it_was(workspace):
    # a fresh clone: the committed reference export, and no pipeline yet
    workspace.schema_export_dir.mkdir()
    exported = workspace.schema_export_dir / "gitlab.schema.yaml"
    shutil.copyfile(REPO / "schemas" / "export" / "gitlab.schema.yaml", exported)
    failed = workspace.run("--base-url", "http://127.0.0.1:9", "--group", "acme")
    assert failed.returncode != 0 and failed.error.startswith("error: cannot reach")
    assert exported.read_bytes() == (REPO / "schemas" / "export" / "gitlab.schema.yaml").read_bytes()
    assert [path.name for path in workspace.schema_export_dir.iterdir()] == ["gitlab.schema.yaml"]


def test_a_run_failing_mid_extraction_is_rolled_back_and_the_next_run_starts_where_the_last_good_one_ended(
    emulator, workspace
):
    args = ["--base-url", emulator.base_url, "--group", "acme/platform"]
    assert workspace.run(*args).returncode == 0
    loaded = {table: sorted(workspace.keys(table)) for table in TABLE_KEYS}
    logged = workspace.query(f"select job_id from {DATASET}.job_logs order by job_id")
    last_good = emulator.now
    emulator.advance(hours=24)
    emulator.reset_counters()

    # the token is revoked when the third changed pipeline's jobs are asked for: other resources have extracted
    # by then (a 5xx would only skip that part, tests/test_failing_parts.py; a 401 ends the run)
    with emulator.outage(r"^/api/v4/projects/\d+/pipelines/\d+/jobs$", after=2, status=401) as outage:
        failed = workspace.run(*args)
    assert "401" in failed.error
    assert outage.matched > outage.after and outage.failed == outage.matched - outage.after
    assert emulator.request_count(r"^/api/v4/projects/\d+/(issues|merge_requests|repository/commits)$") > 0
    assert {table: sorted(workspace.keys(table)) for table in TABLE_KEYS} == loaded
    assert workspace.query(f"select job_id from {DATASET}.job_logs order by job_id") == logged

    emulator.reset_counters()
    result = workspace.run(*args)
    assert result.returncode == 0, result.output
    assert_load_equals_truth(workspace, emulator, groups=("acme/platform",))
    # no cursor kept what the failed run had read: every parent changed since the last good run is read again
    changed_pipelines = {(p,) for p in emulator.changed_since("pipelines", last_good, groups=("acme/platform",))}
    assert requested_ids(emulator, r"/api/v4/projects/\d+/pipelines/(\d+)/jobs") == changed_pipelines
    changed_issues = emulator.changed_since("issues", last_good, groups=("acme/platform",))
    assert requested_ids(emulator, r"/api/v4/projects/(\d+)/issues/(\d+)/notes") == changed_issues
    finished = {row["id"] for row in emulator.truth_rows("jobs", groups=("acme/platform",))
                if row["status"] in FINISHED_JOB_STATUSES}
    assert {job for (job,) in workspace.query(f"select job_id from {DATASET}.job_logs")} == finished


@pytest.mark.parametrize(
    "kind, where, destination",
    [("maintainer", "GITLAB_TOKEN", "duckdb"), ("oauth", "GITLAB_TOKEN", "duckdb"),
     ("maintainer", "SOURCES__GITLAB__ACCESS_TOKEN", "duckdb"), ("maintainer", "secrets.toml", "duckdb"),
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


# ----- the README's flags and settings -----


def _write_config(workspace: Workspace, **gitlab_settings) -> None:
    """A .dlt/config.toml holding only these `[sources.gitlab]` settings (values given as TOML)."""
    lines = ["[runtime]", "dlthub_telemetry = false", "", "[sources.gitlab]"]
    lines += [f"{name} = {value}" for name, value in gitlab_settings.items()]
    (workspace.root / ".dlt" / "config.toml").write_text("\n".join(lines) + "\n")


def _after(text: str, since: datetime) -> bool:
    return datetime.fromisoformat(text) >= since


def test_since_cuts_the_history_of_a_first_load(emulator, workspace):
    since = datetime(2026, 1, 1, tzinfo=timezone.utc)
    result = workspace.run("--base-url", emulator.base_url, "--group", "acme", "--since", "2026-01-01")
    assert result.returncode == 0, result.output

    # expected, read from the emulator's rows: what changed at or after --since, and the children of those parents
    expected = {table: emulator.truth(table) for table in TABLE_KEYS}
    cut = {table: {(row["id"],) for row in emulator.truth_rows(table) if _after(row["updated_at"], since)}
           for table in ("pipelines", "issues", "merge_requests", "deployments")}
    cut["commits"] = {(row["project_id"], row["id"]) for row in emulator.truth_rows("commits")
                      if _after(row["committed_date"], since)}
    cut["jobs"] = {(row["id"],) for row in emulator.truth_rows("jobs") if (row["pipeline"]["id"],) in cut["pipelines"]}
    for notes, parents in (("issue_notes", "issues"), ("merge_request_notes", "merge_requests")):
        cut[notes] = {(row["id"],) for row in emulator.truth_rows(notes) if (row["noteable_id"],) in cut[parents]}
    for table, rows in cut.items():
        assert rows and rows < expected[table], f"--since 2026-01-01 does not cut {table}: the test proves nothing"
    expected.update(cut)

    assert {table: set(workspace.keys(table)) for table in TABLE_KEYS} == expected
    finished = {row["id"] for row in emulator.truth_rows("jobs")
                if (row["id"],) in cut["jobs"] and row["status"] in FINISHED_JOB_STATUSES}
    assert {job for (job,) in workspace.query(f"select job_id from {DATASET}.job_logs")} == finished


def test_resources_loads_only_the_named_tables_and_reads_their_parents(emulator, workspace):
    result = workspace.run("--base-url", emulator.base_url, "--group", "acme/platform",
                           "--resources", "jobs,issue_notes")
    assert result.returncode == 0, result.output
    assert {table for table in workspace.tables() if "__" not in table} == {"jobs", "issue_notes"}
    for table in ("jobs", "issue_notes"):
        assert set(workspace.keys(table)) == emulator.truth(table, groups=("acme/platform",)), table
    # the parents were read (not loaded), and job logs were not fetched
    assert emulator.request_count(r"^/api/v4/projects/\d+/pipelines$") > 0
    assert emulator.request_count(r"^/api/v4/projects/\d+/issues$") > 0
    assert emulator.request_count(r"/trace$") == 0
    # one job as GitLab wrote it (tests/gitlab_emulator pins the same job's JSON), its nested objects flattened
    assert workspace.query(
        "select id, name, stage, status, duration, started_at, user__username, pipeline__id, commit__short_id,"
        f" runner__description from {DATASET}.jobs where id = 1000070"
    ) == [(1000070, "compile", "build", "success", 53.922, datetime(2025, 12, 17, 1, 11, 8, 503000, timezone.utc),
           "bob", 60012, "9e5016b0", "k8s-runner-acme")]


def test_full_refresh_drops_the_tables_and_state_and_loads_everything_again(emulator, workspace):
    assert workspace.run("--base-url", emulator.base_url, "--group", "acme/platform").returncode == 0
    emulator.reset_counters()
    result = workspace.run("--base-url", emulator.base_url, "--group", "acme/platform/infra", "--full-refresh")
    assert result.returncode == 0, result.output
    # the rows of the projects no longer named are gone: the tables were dropped, not merged into
    assert_load_equals_truth(workspace, emulator, groups=("acme/platform/infra",))
    # and the state: every project's jobs listed again (a first load lists them per project), every commit since
    # the default start and every finished log read again
    projects = emulator.truth("projects", groups=("acme/platform/infra",))
    assert projects and requested_ids(emulator, r"/api/v4/projects/(\d+)/jobs") == projects
    commit_cursors = {r.query.get("since") for r in emulator.requests if r.path.endswith("/repository/commits")}
    assert {datetime.fromisoformat(cursor) for cursor in commit_cursors} == {datetime(2000, 1, 1, tzinfo=timezone.utc)}
    finished = {(row["id"],) for row in emulator.truth_rows("jobs", groups=("acme/platform/infra",))
                if row["status"] in FINISHED_JOB_STATUSES}
    assert finished and requested_ids(emulator, r"/api/v4/projects/\d+/jobs/(\d+)/trace") == finished


def test_dataset_names_the_schema_the_tables_go_to(emulator, any_workspace):
    result = any_workspace.run("--base-url", emulator.base_url, "--group", "acme/platform/infra",
                               "--dataset", "ops_gitlab")
    assert result.returncode == 0, result.output
    assert_load_equals_truth(any_workspace, emulator, dataset="ops_gitlab", groups=("acme/platform/infra",))
    assert {"job_logs", "job_log_sections"} <= any_workspace.tables("ops_gitlab")
    schemas = {name for (name,) in any_workspace.query("select schema_name from information_schema.schemata")}
    assert not {name for name in schemas if name.startswith(DATASET)}, schemas


def test_flags_win_over_the_environment_which_wins_over_config_toml(emulator, tmp_path):
    unreachable = '"http://127.0.0.1:9"'
    cases = {
        "config.toml only": ({"base_url": f'"{emulator.base_url}"', "groups": '["acme/platform/infra"]'}, {}, [],
                             {"groups": ("acme/platform/infra",)}),
        "environment over config.toml": (
            {"base_url": unreachable, "groups": '["acme/platform/infra"]'},
            {"SOURCES__GITLAB__BASE_URL": emulator.base_url, "SOURCES__GITLAB__GROUPS": '["acme/data"]'}, [],
            {"groups": ("acme/data",)}),
        "flags over both": (
            {"base_url": unreachable, "groups": '["acme/platform/infra"]', "include_subgroups": "true"},
            {"SOURCES__GITLAB__BASE_URL": "http://127.0.0.1:9", "SOURCES__GITLAB__GROUPS": '["acme/data"]',
             "SOURCES__GITLAB__INCLUDE_SUBGROUPS": "true"},
            ["--base-url", emulator.base_url, "--group", "acme/platform", "--no-subgroups"],
            {"groups": ("acme/platform",), "include_subgroups": False}),
    }
    for name, (config, env, flags, scope) in cases.items():
        workspace = Workspace(tmp_path / name.replace(" ", "_"), TOKENS["maintainer"])
        _write_config(workspace, **config)
        result = workspace.run(*flags, "--resources", "projects,issues", env=env)
        assert result.returncode == 0, f"{name}: {result.output}"
        for table in ("projects", "issues"):
            assert set(workspace.keys(table)) == emulator.truth(table, **scope), f"{name}: {table}"


def test_token_type_in_config_toml_sends_a_personal_token_as_bearer(emulator, workspace):
    _write_config(workspace, token_type='"oauth"')
    result = workspace.run("--base-url", emulator.base_url, "--group", "acme/platform/infra")
    assert result.returncode == 0, result.output
    assert_load_equals_truth(workspace, emulator, groups=("acme/platform/infra",))
    assert emulator.request_count(r"/trace$") > 0
    assert {r.token_kind for r in emulator.requests} == {"bearer"}
