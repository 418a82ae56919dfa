"""Helpers shared by the tests: running the CLI for real, reading what it loaded, and looking for leaks."""

import base64
import binascii
import gzip
import hashlib
import hmac
import json
import os
import re
import subprocess
import sys
import time
import uuid
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Set, Tuple

import duckdb
import psycopg2

from gitlab_emulator.truth import TABLE_KEYS as EMULATOR_TABLE_KEYS
from gitlab_emulator import PlantedSecret

REPO = Path(__file__).resolve().parent.parent
CLI = REPO / "gitlab_pipeline.py"
DATASET = "gitlab_data"
# Written out from GitLab's job statuses, not imported from the code under test: only these jobs have a final log.
FINISHED_JOB_STATUSES = ("success", "failed", "canceled")

# `dlt pipeline show` opens the DuckDB file read-write for each query it runs: a reader here waits its turn.
DUCKDB_LOCK_WAIT_SECONDS = 60

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
        with connect_read_only(self.duckdb_path) as con:
            return con.execute(sql).fetchall()

    def tables(self, dataset: str = DATASET) -> Set[str]:
        rows = self.query(
            f"select table_name from information_schema.tables where table_schema = '{dataset}'"
        )
        return {name for (name,) in rows if not name.startswith("_dlt")}

    def keys(self, table: str, dataset: str = DATASET) -> List[tuple]:
        columns = ", ".join(TABLE_KEYS[table])
        return self.query(f"select {columns} from {dataset}.{table}")

    def leak_search(self, texts: Mapping[str, str], allowed_files: Sequence[Path] = ()) -> "LeakSearch":
        """Everything a run leaves behind: the given texts, the folder (dlt's data dir, .dlt) and the destination."""
        return LeakSearch(
            texts=texts,
            folders=[self.root],
            duckdb_files=[] if self.database_dsn else [self.duckdb_path],
            postgres_dsns=[self.database_dsn] if self.database_dsn else [],
            allowed_files=allowed_files,
        )


def key_set(rows: Iterable[Sequence]) -> Set[tuple]:
    return {tuple(row) for row in rows}


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


def requested_ids(emulator, pattern: str) -> Set[tuple]:
    """The numbers captured by `pattern` in the paths of the requests the emulator received."""
    return {tuple(int(g) for g in m.groups()) for r in emulator.requests if (m := re.fullmatch(pattern, r.path))}


def fingerprint(key: str, value: str) -> str:
    """A secret's keyed fingerprint as the README describes it (HMAC-SHA256), computed apart from the product."""
    return hmac.new(key.encode(), value.encode(), hashlib.sha256).hexdigest()[:32]


def assert_load_equals_truth(workspace: Workspace, emulator, dataset: str = DATASET, **scope) -> None:
    loaded_tables = workspace.tables(dataset)
    for table in TABLE_KEYS:
        truth = emulator.truth(table, **scope)
        rows = workspace.keys(table, dataset) if table in loaded_tables else []
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


def dataset_tables(workspace: Workspace, having_column: str = "") -> List[str]:
    """Every table of the dataset on the destination, dlt's own included; with `having_column`, those that have it."""
    where_column = f" and column_name = '{having_column}'" if having_column else ""
    return sorted({name for (name,) in workspace.query(
        f"select table_name from information_schema.columns where table_schema = '{DATASET}'{where_column}"
    )})


def counts_by_sql(workspace: Workspace, tables: Iterable[str], where: str = "") -> Dict[str, int]:
    """Rows per table, counted by the destination itself; `where` filters each count."""
    return {table: workspace.query(f"select count(*) from {DATASET}.{table} {where}")[0][0] for table in tables}


# ----- leaks: a token or a secret from a job log must be nowhere but where the user put it -----

SYSTEM_SCHEMAS = ("information_schema", "pg_catalog", "pg_toast")
PROBE_SCHEMA = "leak_probe"
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/]{24,}={0,2}")


def secret_needles(secrets: Iterable[PlantedSecret]) -> List[str]:
    """Every planted value, and each body line of a planted private key (stored text may break the block up)."""
    needles = []
    for secret in secrets:
        needles.append(secret.value)
        if secret.kind == "private_key":
            needles += [line for line in secret.value.split("\n")[1:-1] if len(line) >= 16]
    return needles


def _unpacked(text: str) -> Iterator[str]:
    """The text, and what every base64 zlib blob in it holds: dlt keeps its state so in the destination."""
    yield text
    for blob in _BASE64_RUN.findall(text):
        try:
            yield zlib.decompress(base64.b64decode(blob)).decode("latin-1")
        except (binascii.Error, zlib.error, ValueError):
            continue


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("latin-1")
    return value if isinstance(value, str) else str(value)


def _database_texts(label: str, run: Callable[[str], Tuple[List[str], List[tuple]]]) -> Iterator[Tuple[str, str]]:
    """(place, every value of one column) for every column of every table in every schema, read with SQL."""
    _, tables = run(
        "select table_schema, table_name from information_schema.tables where table_type = 'BASE TABLE'"
        f" and table_catalog = current_database() and table_schema not in {SYSTEM_SCHEMAS}"
    )
    for schema, table in tables:
        columns, rows = run(f'select * from "{schema}"."{table}"')
        for index, column in enumerate(columns):
            yield f"{label} {schema}.{table}.{column}", "\0".join(_as_text(row[index]) for row in rows)


def connect_read_only(path: Path) -> duckdb.DuckDBPyConnection:
    """Opens a DuckDB file to read, waiting while another process (a dashboard) holds its write lock."""
    deadline = time.monotonic() + DUCKDB_LOCK_WAIT_SECONDS
    while True:
        try:
            return duckdb.connect(str(path), read_only=True)
        except duckdb.IOException as error:
            if "lock" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _duckdb_texts(path: Path) -> Iterator[Tuple[str, str]]:
    with connect_read_only(path) as con:

        def run(sql: str) -> Tuple[List[str], List[tuple]]:
            rows = con.execute(sql).fetchall()
            return [column[0] for column in con.description], rows

        yield from _database_texts(f"DuckDB {path}", run)


def _postgres_texts(dsn: str) -> Iterator[Tuple[str, str]]:
    with psycopg2.connect(dsn) as con, con.cursor() as cursor:

        def run(sql: str) -> Tuple[List[str], List[tuple]]:
            cursor.execute(sql)
            rows = cursor.fetchall()
            return [column[0] for column in cursor.description], rows

        yield from _database_texts(f"PostgreSQL {con.info.dbname}", run)
    con.close()


def _is_duckdb(data: bytes) -> bool:
    return data[8:12] == b"DUCK"  # the magic bytes of DuckDB's main header


def _file_texts(path: Path) -> Iterator[Tuple[str, str]]:
    """(place, text) of a file: its bytes, a gzip file's content, and a DuckDB database's columns read with SQL."""
    data = path.read_bytes()
    yield str(path), data.decode("latin-1")
    if data[:2] == b"\x1f\x8b":
        try:
            yield f"{path} (gunzipped)", gzip.decompress(data).decode("latin-1")
        except (OSError, EOFError):
            pass
    if _is_duckdb(data):
        yield from _duckdb_texts(path)


@dataclass
class LeakSearch:
    """Looks for secrets everywhere a run can leave them, and proves it can see each of those places.

    DuckDB compresses stored text, so a byte search of its file misses values; a PostgreSQL destination is not in any
    folder at all. So databases are read with SQL, every column of every table in every schema (dlt's own tables and
    staging dataset included), and base64 zlib blobs (dlt's stored state) are unpacked wherever they appear.

    Args:
        texts: Named texts a user sees: the CLI's output, task logs.
        folders: Every file under them: dlt's data dir, .dlt, a DuckDB file; gzip and DuckDB files are opened.
        duckdb_files: DuckDB destinations (searched even when outside `folders`).
        postgres_dsns: PostgreSQL destinations.
        allowed_files: Where the user put a secret on purpose, e.g. .dlt/secrets.toml.
    """

    texts: Mapping[str, str] = field(default_factory=dict)
    folders: Sequence[Path] = ()
    duckdb_files: Sequence[Path] = ()
    postgres_dsns: Sequence[str] = ()
    allowed_files: Sequence[Path] = ()

    def _places(self) -> Iterator[Tuple[str, str]]:
        yield from self.texts.items()
        allowed = {path.resolve() for path in self.allowed_files}
        files = {path.resolve() for folder in self.folders for path in folder.rglob("*") if path.is_file()}
        for path in sorted(files - allowed):
            yield from _file_texts(path)
        for database in self.duckdb_files:
            if database.resolve() not in files:
                yield from _duckdb_texts(database.resolve())
        for dsn in self.postgres_dsns:
            yield from _postgres_texts(dsn)

    def find(self, needles: Sequence[str]) -> Set[Tuple[str, int]]:
        """(place, index of the needle) for every needle found, in a text as given or unpacked."""
        found = set()
        for place, text in self._places():
            for haystack in _unpacked(text):
                found |= {(place, index) for index, needle in enumerate(needles) if needle in haystack}
        return found

    def assert_nowhere(self, needles: Sequence[str]) -> None:
        """No needle anywhere; then a canary planted in every place searched is found there (a positive control).

        The message names the places, never the secret: test output is a place too.
        """
        needles = list(needles)
        assert needles and all(needles), "nothing to look for: the check would pass whatever leaked"
        found = self.find(needles)
        assert not found, f"{len({i for _, i in found})} secret(s) leaked into {sorted({p for p, _ in found})}"
        self._assert_sees_every_place()

    def _assert_sees_every_place(self) -> None:
        canary, packed_canary = f"glpat-{uuid.uuid4().hex[:20]}", f"glpat-{uuid.uuid4().hex[:20]}"
        packed = base64.b64encode(zlib.compress(json.dumps({"token": packed_canary}).encode())).decode()
        expected = {(name, 0) for name in self.texts}
        probe_files = []
        for folder in self.folders:
            probe_files += [folder / "leak-probe.txt", folder / "leak-probe.gz"]
            probe_files[-2].write_text(canary)
            probe_files[-1].write_bytes(gzip.compress(canary.encode()))
            expected |= {(str(probe_files[-2].resolve()), 0), (f"{probe_files[-1].resolve()} (gunzipped)", 0)}
        probe_table = f'"{PROBE_SCHEMA}"."probe"'
        statements = [f'create schema "{PROBE_SCHEMA}"', f"create table {probe_table} (plain text, packed text)",
                      f"insert into {probe_table} values ('{canary}', '{packed}')"]
        for database in self.duckdb_files:
            assert database.exists(), f"the destination {database} does not exist: its check would pass on nothing"
            with duckdb.connect(str(database)) as con:
                for statement in statements:
                    con.execute(statement)
            label = f"DuckDB {database.resolve()}"
            expected |= {(f"{label} {PROBE_SCHEMA}.probe.plain", 0), (f"{label} {PROBE_SCHEMA}.probe.packed", 1)}
        for dsn in self.postgres_dsns:
            with psycopg2.connect(dsn) as con, con.cursor() as cursor:
                for statement in statements:
                    cursor.execute(statement)
                label = f"PostgreSQL {con.info.dbname}"
            con.close()
            expected |= {(f"{label} {PROBE_SCHEMA}.probe.plain", 0), (f"{label} {PROBE_SCHEMA}.probe.packed", 1)}
        probed = LeakSearch({name: text + canary for name, text in self.texts.items()}, self.folders,
                            self.duckdb_files, self.postgres_dsns, self.allowed_files)
        try:
            unseen = expected - probed.find([canary, packed_canary])
        finally:
            self._remove_probes(probe_files)
        assert not unseen, f"the leak search cannot see {sorted(unseen)}"

    def _remove_probes(self, probe_files: List[Path]) -> None:
        for path in probe_files:
            path.unlink(missing_ok=True)
        for database in self.duckdb_files:
            with duckdb.connect(str(database)) as con:
                con.execute(f'drop schema if exists "{PROBE_SCHEMA}" cascade')
        for dsn in self.postgres_dsns:
            with psycopg2.connect(dsn) as con, con.cursor() as cursor:
                cursor.execute(f'drop schema if exists "{PROBE_SCHEMA}" cascade')
            con.close()


def assert_job_logs_equal_truth(workspace: Workspace, emulator, **scope) -> None:
    """Every finished job in scope has exactly one `job_logs` row, and no other job has one."""
    finished = {job["id"] for job in emulator.truth_rows("jobs", **scope)
                if job["status"] in FINISHED_JOB_STATUSES}
    logs = [job_id for (job_id,) in workspace.query(f"select job_id from {DATASET}.job_logs")]
    assert len(logs) == len(set(logs)), "job_logs has duplicate keys"
    assert set(logs) == finished, f"job_logs: missing {finished - set(logs)}, extra {set(logs) - finished}"
