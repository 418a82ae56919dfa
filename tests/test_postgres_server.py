"""Tests of the throwaway PostgreSQL server (`tests/postgres_server.py`) and a dlt load into it."""

import os
import pathlib
import socket
from typing import Iterator

import dlt
import psycopg2
import pytest
from psycopg2 import errors

from tests import postgres_server
from tests.postgres_server import PostgresNotInstalledError, PostgresServer

LOADER_ROLE = "gitlab_loader"
LOADER_PASSWORD = "loader pass: 'quoted' @/% chars"  # must survive the DSN's URL quoting
LOADER_DATABASE = "gitlab_test"


@pytest.fixture(scope="module")
def server() -> Iterator[PostgresServer]:
    """One running server for the module, with a least-privilege loader role owning a database."""
    with PostgresServer() as pg:
        pg.create_role(LOADER_ROLE, LOADER_PASSWORD)
        pg.create_database(LOADER_DATABASE, owner=LOADER_ROLE)
        yield pg


def test_superuser_connects_with_password(server: PostgresServer) -> None:
    conn = psycopg2.connect(
        host=server.host,
        port=server.port,
        user=server.user,
        password=server.password,
        dbname="postgres",
    )
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT current_user, inet_server_addr()::text, current_setting('port')")
            assert cur.fetchone() == (server.user, "127.0.0.1/32", str(server.port))
    finally:
        conn.close()
    assert server.execute("SHOW listen_addresses") == [("127.0.0.1",)]
    assert server.execute("SHOW password_encryption") == [("scram-sha-256",)]


def test_wrong_password_is_refused(server: PostgresServer) -> None:
    for user, password in [(server.user, "wrong"), (LOADER_ROLE, server.password)]:
        with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
            psycopg2.connect(server.dsn("postgres", user=user, password=password))


def test_missing_password_is_refused(
    server: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", os.devnull)
    with pytest.raises(psycopg2.OperationalError, match="no password supplied"):
        psycopg2.connect(server.dsn("postgres", user=server.user, password=""))


def test_a_trusted_role_logs_in_without_a_password_and_no_other_does(
    server: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", os.devnull)
    server.create_role("trusted_loader", "unused")
    server.trust_role("trusted_loader")
    conn = psycopg2.connect(server.dsn("postgres", user="trusted_loader"))
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT current_user")
            assert cur.fetchone() == ("trusted_loader",)
    finally:
        conn.close()
    with pytest.raises(psycopg2.OperationalError, match="no password supplied"):
        psycopg2.connect(server.dsn("postgres", user=LOADER_ROLE, password=""))


def test_dsn_quotes_credentials(server: PostgresServer) -> None:
    dsn = server.dsn(LOADER_DATABASE, user=LOADER_ROLE, password=LOADER_PASSWORD)
    assert dsn.startswith(f"postgresql://{LOADER_ROLE}:loader%20pass%3A%20%27quoted%27%20%40%2F%25")
    assert dsn.endswith(f"@127.0.0.1:{server.port}/{LOADER_DATABASE}")
    assert server.dsn("postgres") == (
        f"postgresql://{server.user}:{server.password}@127.0.0.1:{server.port}/postgres"
    )


def test_least_privilege_role(server: PostgresServer) -> None:
    flags = server.execute(
        "SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolcanlogin"
        " FROM pg_roles WHERE rolname = %s",
        (LOADER_ROLE,),
    )
    assert flags == [(False, False, False, False, True)]
    owner = server.execute(
        "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s", (LOADER_DATABASE,)
    )
    assert owner == [(LOADER_ROLE,)]

    conn = psycopg2.connect(server.dsn(LOADER_DATABASE, LOADER_ROLE, LOADER_PASSWORD))
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            # in its own database it may create a schema and tables: all a dlt loader needs
            cur.execute("CREATE SCHEMA scratch")
            cur.execute("CREATE TABLE scratch.t (id int)")
            cur.execute("DROP SCHEMA scratch CASCADE")
            for statement in (
                "CREATE DATABASE other",
                "CREATE ROLE other",
                "ALTER SYSTEM SET fsync = on",
            ):
                with pytest.raises(errors.InsufficientPrivilege):
                    cur.execute(statement)
    finally:
        conn.close()


def test_stop_removes_cluster_and_frees_port() -> None:
    with PostgresServer() as pg:
        base_dir, port = pg.base_dir, pg.port
        assert base_dir is not None and os.path.isdir(os.path.join(base_dir, "data"))
        assert pg.execute("SELECT 1") == [(1,)]
    assert not os.path.exists(base_dir)
    assert pg.base_dir is None
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0, "the server still accepts connections"
    pg.stop()  # stopping twice is harmless


def test_missing_binaries_fail_with_install_hint(
    monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(postgres_server, "DEBIAN_BIN_GLOB", str(tmp_path / "*" / "bin"))
    with pytest.raises(PostgresNotInstalledError, match=r"run `bash \.ci/install-postgres\.sh`"):
        PostgresServer().start()


def test_dlt_loads_into_postgres(server: PostgresServer, tmp_path: pathlib.Path) -> None:
    rows = [{"id": 1, "name": "alpha"}, {"id": 2, "name": "beta"}, {"id": 3, "name": "gamma"}]
    pipeline = dlt.pipeline(
        pipeline_name="postgres_server_smoke",
        pipelines_dir=str(tmp_path),
        destination=dlt.destinations.postgres(
            credentials=server.dsn(LOADER_DATABASE, LOADER_ROLE, LOADER_PASSWORD)
        ),
        dataset_name="smoke",
    )
    info = pipeline.run(rows, table_name="items", primary_key="id", write_disposition="merge")
    assert not info.has_failed_jobs
    assert len(info.loads_ids) == 1

    with pipeline.sql_client() as client:
        loaded = client.execute_sql("SELECT id, name FROM items ORDER BY id")
    assert loaded is not None
    assert [tuple(row) for row in loaded] == [(1, "alpha"), (2, "beta"), (3, "gamma")]

    owner = server.execute(
        "SELECT tableowner FROM pg_tables WHERE schemaname = 'smoke' AND tablename = 'items'",
        database=LOADER_DATABASE,
    )
    assert owner == [(LOADER_ROLE,)]
