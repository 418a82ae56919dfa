"""A part that keeps failing does not sink the rest: it is named, the rest loads, the exit code says so,
and the next run reads it again (issue 11)."""

import re

from tests.utils import (
    DATASET,
    TABLE_KEYS,
    Workspace,
    assert_children_carry_parent_keys,
    assert_job_logs_equal_truth,
    assert_load_equals_truth,
)

# endpoints of one project that fail on every attempt (as the summary names them), and the tables they fill
STORMED_TABLES = {
    "issues/:id/notes": "issue_notes",
    "pipelines/:id/jobs": "jobs",
    "repository/commits": "commits",
    "repository/branches": "branches",
}
EXIT_CODES = {0: "loaded", 2: "skipped", 1: "failed", 130: "interrupted"}
ARGS = ("--group", "acme/data", "--project", "acme/website")
SCOPE = {"groups": ("acme/data",), "projects": ("acme/website",)}


def _project_id(emulator, path: str) -> int:
    return emulator.world.project_by_path[path].id


def _project_keys(workspace: Workspace, table: str, project: int) -> set:
    column = "pipeline__project_id" if table == "jobs" else "project_id"
    if table == "issue_notes":
        return set(workspace.query(
            f"select id from {DATASET}.issue_notes where noteable_id in"
            f" (select id from {DATASET}.issues where project_id = {project})"))
    return set(workspace.query(f"select {', '.join(TABLE_KEYS[table])} from {DATASET}.{table} where {column} = {project}"))


def test_an_endpoint_that_keeps_failing_is_named_and_read_again_on_the_next_run(emulator, workspace):
    website = _project_id(emulator, "acme/website")
    warehouse = _project_id(emulator, "acme/data/warehouse")
    endpoints = "|".join(endpoint.replace(":id", r"\d+") for endpoint in STORMED_TABLES)
    storm = rf"^/api/v4/projects/{website}/({endpoints})$|^/api/v4/projects/{warehouse}/jobs/\d+/trace$"
    emulator.set_faults(1.0, storm)
    args = ["--base-url", emulator.base_url, *ARGS]

    partial = workspace.run(*args)

    assert partial.returncode == 2, partial.output
    assert "Traceback" not in partial.output
    named = [line for line in partial.stdout.splitlines() if f"project {website}:" in line]
    assert len(named) == 1 and all(endpoint in named[0] for endpoint in STORMED_TABLES), partial.stdout
    assert "next run" in partial.stdout
    warehouse_jobs = {job["id"] for job in emulator.truth_rows("jobs", **SCOPE)
                      if job["pipeline"]["project_id"] == warehouse}
    assert any(f"job {job}:" in partial.stdout for job in warehouse_jobs), "the failed job logs are named"
    # everything else is loaded, and nothing of the failed endpoints is made up
    untouched = [table for table in TABLE_KEYS if table not in STORMED_TABLES.values()]
    for table in untouched:
        assert set(workspace.keys(table)) == emulator.truth(table, **SCOPE), table
    for table in STORMED_TABLES.values():
        assert _project_keys(workspace, table, website) == set(), table
        assert set(workspace.keys(table)) < emulator.truth(table, **SCOPE), table
    logged = {job for (job,) in workspace.query(f"select job_id from {DATASET}.job_logs")}
    assert logged and not logged & warehouse_jobs

    emulator.set_faults(0)
    emulator.advance(hours=24)
    healed = workspace.run(*args)

    assert healed.returncode == 0, healed.output
    assert f"project {website}:" not in healed.stdout
    assert_load_equals_truth(workspace, emulator, **SCOPE)
    assert_children_carry_parent_keys(workspace)
    assert_job_logs_equal_truth(workspace, emulator, **SCOPE)


def test_help_documents_the_exit_codes(workspace):
    result = workspace.run("--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    for code, word in EXIT_CODES.items():
        assert re.search(rf"\b{code}\b[^;.]*\b{word}", text), (code, text)
