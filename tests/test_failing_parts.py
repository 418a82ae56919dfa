"""A part that keeps failing does not sink the rest: it is named, the rest loads, the exit code says so,
and the next run reads it again (issue 11)."""

import re
from typing import Any, Callable, Dict, Set, Tuple

from gitlab.settings import JOB_FINISHED_STATUSES
from tests.utils import (
    DATASET,
    TABLE_KEYS,
    assert_children_carry_parent_keys,
    assert_job_logs_equal_truth,
    assert_load_equals_truth,
)

ARGS = ("--group", "acme/data", "--project", "acme/website")
SCOPE = {"groups": ("acme/data",), "projects": ("acme/website",)}
EXIT_CODES = {0: "loaded", 2: "skipped", 1: "failed", 130: "interrupted"}
TRow = Dict[str, Any]


def _ends_in_0_or_5(number: int) -> bool:
    return number % 5 == 0


# Endpoints of acme/website that fail on every attempt: the endpoint as the summary names it, the regex of
# the stormed paths below the project, the table it fills, and which of the table's rows that leaves out.
STORMS: Dict[str, Tuple[str, str, Callable[[TRow], bool]]] = {
    "issues/:id/notes": (r"issues/\d*[05]/notes", "issue_notes", lambda row: _ends_in_0_or_5(row["noteable_iid"])),
    "repository/commits": (r"repository/commits", "commits", lambda row: True),
    "repository/branches": (r"repository/branches", "branches", lambda row: True),
}


def _project_of(row: TRow) -> Any:
    return row["project_id"] if "project_id" in row else row.get("pipeline", {}).get("project_id")


def _keys(rows, table: str) -> Set[tuple]:
    return {tuple(row[column] for column in TABLE_KEYS[table]) for row in rows}


def test_an_endpoint_that_keeps_failing_is_named_and_read_again_on_the_next_run(emulator, workspace):
    website = emulator.world.project_by_path["acme/website"].id
    warehouse = emulator.world.project_by_path["acme/data/warehouse"].id
    endpoints = "|".join(regex for regex, _, _ in STORMS.values())
    # and the logs of the warehouse's jobs with even ids
    storm = rf"^/api/v4/projects/{website}/({endpoints})$|^/api/v4/projects/{warehouse}/jobs/\d*[02468]/trace$"
    emulator.set_faults(1.0, storm)
    args = ["--base-url", emulator.base_url, *ARGS]

    partial = workspace.run(*args)

    assert partial.returncode == 2, partial.output
    assert "Traceback" not in partial.output
    named = [line for line in partial.stdout.splitlines() if f"project {website}:" in line]
    assert len(named) == 1 and all(endpoint in named[0] for endpoint in STORMS), partial.stdout
    assert "next run" in partial.stdout
    stormed_logs = {job["id"] for job in emulator.truth_rows("jobs", **SCOPE) if job["id"] % 2 == 0
                    and job["pipeline"]["project_id"] == warehouse and job["status"] in JOB_FINISHED_STATUSES}
    assert stormed_logs and all(f"job {job}:" in partial.stdout for job in stormed_logs), "the failed logs are named"
    # everything else is loaded, and nothing of the failed endpoints is made up
    stormed_tables = {table: left_out for _, table, left_out in STORMS.values()}
    for table in TABLE_KEYS:
        rows = emulator.truth_rows(table, **SCOPE)
        left_out = stormed_tables.get(table, lambda row: False)
        expected = _keys([row for row in rows if not (_project_of(row) == website and left_out(row))], table)
        assert set(workspace.keys(table)) == expected, table
        assert expected != _keys(rows, table) or table not in stormed_tables, f"the storm left no {table} out"
    logged = {job for (job,) in workspace.query(f"select job_id from {DATASET}.job_logs")}
    assert logged and not logged & stormed_logs

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
