"""Helpers shared by the tests: running the CLI for real, and reading what it loaded."""

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Set, Tuple

import duckdb
import psycopg2

from gitlab_emulator.truth import TABLE_KEYS as EMULATOR_TABLE_KEYS

REPO = Path(__file__).resolve().parent.parent
CLI = REPO / "gitlab_pipeline.py"
DATASET = "gitlab_data"

# The keys a correct load is compared on, per table: the emulator's, as GitLab identifies its rows
# (tests/gitlab/test_resources.py checks that the source's table list agrees).
TABLE_KEYS: Dict[str, Tuple[str, ...]] = EMULATOR_TABLE_KEYS


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    @property
    def error(self) -> str:
        """The one `error:` line a failed run must print (warnings may precede it), without traceback."""
        assert self.returncode != 0, self.output
        assert "Traceback" not in self.output, self.output
        errors = [line for line in self.stderr.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1 and self.stderr.rstrip().endswith(errors[0]), self.stderr
        return errors[0]


class Workspace:
    """A folder where the CLI runs as a user would: its own .dlt, dlt data dir and destination.

    `destination` is "duckdb" (a file in the folder), or "postgres"/"alloydb" with `database_dsn`
    pointing at a real PostgreSQL server; credentials reach the CLI the dlt way, by environment.
    """

    def __init__(
        self, root: Path, token: Optional[str], destination: str = "duckdb", database_dsn: Optional[str] = None
    ) -> None:
        self.root = root
        self.token = token
        self.destination = destination
        self.database_dsn = database_dsn
        self.data_dir = root / "dlt_data"
        self.schema_export_dir = root / "schemas_export"
        (root / ".dlt").mkdir(parents=True, exist_ok=True)
        (root / ".dlt" / "config.toml").write_text((REPO / ".dlt" / "config.toml").read_text())

    @property
    def duckdb_path(self) -> Path:
        return self.root / "gitlab_pipeline.duckdb"

    def env(self, extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "DESTINATION__", "GITLAB_"))}
        env["DLT_DATA_DIR"] = str(self.data_dir)
        env["PYTHONPATH"] = str(REPO)
        env["GITLAB_PIPELINE__EXPORT_SCHEMA_PATH"] = str(self.schema_export_dir)
        if self.database_dsn:
            env[f"DESTINATION__{self.destination.upper()}__CREDENTIALS"] = self.database_dsn
        if self.token:
            env["GITLAB_TOKEN"] = self.token
        env.update(extra or {})
        return env

    def run(self, *args: str, env: Optional[Dict[str, str]] = None, timeout: float = 300) -> CliResult:
        destination = ["--destination", self.destination] if self.destination != "duckdb" else []
        proc = subprocess.run(
            [sys.executable, str(CLI), *args, *destination],
            cwd=self.root,
            env=self.env(env),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return CliResult(proc.returncode, proc.stdout, proc.stderr)

    def query(self, sql: str) -> List[tuple]:
        if self.database_dsn:
            with psycopg2.connect(self.database_dsn) as con, con.cursor() as cursor:
                cursor.execute(sql)
                return cursor.fetchall()
        if not self.duckdb_path.exists():
            return []
        with duckdb.connect(str(self.duckdb_path), read_only=True) as con:
            return con.execute(sql).fetchall()

    def tables(self) -> Set[str]:
        rows = self.query(
            f"select table_name from information_schema.tables where table_schema = '{DATASET}'"
        )
        return {name for (name,) in rows if not name.startswith("_dlt")}

    def keys(self, table: str) -> List[tuple]:
        columns = ", ".join(TABLE_KEYS[table])
        return self.query(f"select {columns} from {DATASET}.{table}")


def key_set(rows: Iterable[Sequence]) -> Set[tuple]:
    return {tuple(row) for row in rows}


def files_containing(root: Path, needle: str) -> List[Path]:
    """Every file under `root` whose bytes contain `needle`."""
    data = needle.encode()
    return [path for path in root.rglob("*") if path.is_file() and data in path.read_bytes()]


# child table → (its parent-key column, parent table, the parent's key column)
PARENT_KEYS = [
    ("jobs", "pipeline__id", "pipelines", "id"),
    ("issue_notes", "noteable_id", "issues", "id"),
    ("merge_request_notes", "noteable_id", "merge_requests", "id"),
    ("group_members", "group_id", "groups", "id"),
    *[(table, "project_id", "projects", "id") for table in (
        "project_members", "pipelines", "environments", "deployments", "issues", "milestones", "labels",
        "merge_requests", "commits", "branches", "tags", "releases")],
]


def assert_load_equals_truth(workspace: Workspace, emulator, **scope) -> None:
    loaded_tables = workspace.tables()
    for table in TABLE_KEYS:
        truth = emulator.truth(table, **scope)
        rows = workspace.keys(table) if table in loaded_tables else []
        assert len(rows) == len(set(rows)), f"{table} has duplicate keys"
        assert key_set(rows) == truth, f"{table}: missing {truth - key_set(rows)}, extra {key_set(rows) - truth}"


def assert_children_carry_parent_keys(workspace: Workspace) -> None:
    loaded_tables = workspace.tables()
    for child, column, parent, parent_column in PARENT_KEYS:
        if child not in loaded_tables:
            continue
        orphans = workspace.query(
            f"select count(*) from {DATASET}.{child} where {column} is null or {column} not in"
            f" (select {parent_column} from {DATASET}.{parent})"
        )[0][0]
        assert orphans == 0, f"{child}.{column} has {orphans} rows without a parent in {parent}"


def assert_job_logs_equal_truth(workspace: Workspace, emulator, **scope) -> None:
    """Every finished job in scope has exactly one `job_logs` row, and no other job has one."""
    finished = {job["id"] for job in emulator.truth_rows("jobs", **scope)
                if job["status"] in ("success", "failed", "canceled")}
    logs = [job_id for (job_id,) in workspace.query(f"select job_id from {DATASET}.job_logs")]
    assert len(logs) == len(set(logs)), "job_logs has duplicate keys"
    assert set(logs) == finished, f"job_logs: missing {finished - set(logs)}, extra {set(logs) - finished}"
