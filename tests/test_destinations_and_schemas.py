"""PostgreSQL and AlloyDB destinations, the curated import schema, and schema evolution or contracts."""

import yaml

from gitlab_emulator import TOKENS
from tests.utils import DATASET, TABLE_KEYS, Workspace, assert_load_equals_truth


def _columns(workspace: Workspace, table: str) -> dict:
    rows = workspace.query(
        "select column_name, data_type from information_schema.columns"
        f" where table_schema = '{DATASET}' and table_name = '{table}'"
    )
    return {name: data_type.lower() for name, data_type in rows}


def _counts(workspace: Workspace) -> dict:
    return {table: workspace.query(f"select count(*) from {DATASET}.{table}")[0][0] for table in TABLE_KEYS}


def test_alloydb_is_a_named_postgres_destination_with_its_own_credentials(emulator, tmp_path, postgres_dsn):
    workspace = Workspace(tmp_path, TOKENS["maintainer"], "alloydb", postgres_dsn)
    result = workspace.run("--base-url", emulator.base_url, "--group", "acme")
    assert result.returncode == 0, result.output
    assert "DESTINATION__POSTGRES__CREDENTIALS" not in workspace.env()
    assert_load_equals_truth(workspace, emulator)
    assert "alloydb 127.0.0.1/" in result.stdout


def test_a_refused_database_password_gives_one_line(emulator, tmp_path, postgres_dsn):
    wrong = postgres_dsn.replace(":pw-", ":wrong-pw-")
    workspace = Workspace(tmp_path, TOKENS["maintainer"], "postgres", wrong)
    result = workspace.run("--base-url", emulator.base_url, "--group", "acme")
    assert "cannot connect to the database" in result.error
    assert "password authentication failed" in result.error
    assert "wrong-pw" not in result.output


def test_missing_database_credentials_give_one_line(emulator, tmp_path):
    workspace = Workspace(tmp_path, TOKENS["maintainer"], "postgres")
    result = workspace.run("--base-url", emulator.base_url, "--group", "acme")
    assert "missing configuration" in result.error and "credentials" in result.error


def test_the_curated_import_schema_types_columns_gitlab_leaves_empty(emulator, any_workspace):
    assert any_workspace.run("--base-url", emulator.base_url, "--group", "acme").returncode == 0
    jobs = _columns(any_workspace, "jobs")
    assert jobs["erased_at"].startswith("timestamp") and jobs["coverage"] in ("double", "double precision")
    assert _columns(any_workspace, "issues")["due_date"] == "date"
    assert _columns(any_workspace, "pipelines")["id"] == "bigint"


def test_new_fields_evolve_into_new_columns_and_keep_every_row(emulator, any_workspace):
    args = ["--base-url", emulator.base_url, "--group", "acme"]
    assert any_workspace.run(*args).returncode == 0
    drifted_at = emulator.now
    emulator.apply_schema_drift()
    result = any_workspace.run(*args)
    assert result.returncode == 0, result.output

    assert_load_equals_truth(any_workspace, emulator)
    # every row GitLab served again carries the new fields, and only those: the rows updated since the drift,
    # and the jobs of the pipelines updated since (the others keep NULL in the new columns)
    changed_issues = emulator.changed_since("issues", drifted_at)
    drifted = {row["id"] for row in emulator.truth_rows("issues") if (row["project_id"], row["iid"]) in changed_issues}
    loaded = {issue for (issue,) in any_workspace.query(
        f"select id from {DATASET}.issues where imported_from = 'none'")}
    assert len(drifted) == 3 and loaded == drifted
    changed_merge_requests = emulator.changed_since("merge_requests", drifted_at)
    assert len(changed_merge_requests) == 2 and set(any_workspace.query(
        f"select project_id, iid from {DATASET}.merge_requests where imported_from = 'none'")) == changed_merge_requests
    changed_pipelines = emulator.changed_since("pipelines", drifted_at)
    rerun_jobs = {row["id"] for row in emulator.truth_rows("jobs") if row["pipeline"]["id"] in changed_pipelines}
    assert rerun_jobs and {job for (job,) in any_workspace.query(
        f"select id from {DATASET}.jobs where runner_manager__version is not null")} == rerun_jobs
    # issue weight turned from integer into text: every value is kept, in the column or its variant
    weights = {row["id"]: str(row["weight"]) for row in emulator.truth_rows("issues") if row.get("weight") is not None}
    variant = "weight__v_text" in _columns(any_workspace, "issues")
    stored = any_workspace.query(
        f"select id, {'coalesce(cast(weight as text), weight__v_text)' if variant else 'cast(weight as text)'}"
        f" from {DATASET}.issues where id in ({', '.join(map(str, loaded))})"
    )
    expected_weights = {issue: weights[issue] for issue, _ in stored if issue in weights}
    assert expected_weights and {issue: weight for issue, weight in stored if weight is not None} == expected_weights

    exported = yaml.safe_load((any_workspace.schema_export_dir / "gitlab.schema.yaml").read_text())
    assert "imported_from" in exported["tables"]["issues"]["columns"]
    assert "runner_manager__version" in exported["tables"]["jobs"]["columns"]


def test_a_frozen_contract_stops_on_a_new_column_and_evolve_loads_it_later(emulator, any_workspace):
    args = ["--base-url", emulator.base_url, "--group", "acme"]
    assert any_workspace.run(*args).returncode == 0
    counts = _counts(any_workspace)
    emulator.apply_schema_drift()

    frozen = any_workspace.run(*args, "--schema-contract", "columns=freeze")
    assert "schema contract columns=freeze stops the load" in frozen.error
    assert any(f"column '{column}' of table '{table}'" in frozen.error for table, column in (
        ("issues", "imported_from"), ("merge_requests", "imported_from"), ("jobs", "runner_manager__id"))), frozen.error
    assert _counts(any_workspace) == counts
    assert "imported_from" not in _columns(any_workspace, "issues")

    assert any_workspace.run(*args, "--schema-contract", "evolve").returncode == 0
    assert_load_equals_truth(any_workspace, emulator)
    assert "imported_from" in _columns(any_workspace, "issues")
