"""The destinations a load can go to, by the name the CLI and the Airflow DAG take."""

from typing import Any, Optional

import dlt
from dlt.destinations.impl.postgres.configuration import PostgresCredentials

from gitlab.bounded_duckdb import bounded_duckdb
from gitlab.errors import GitLabSourceError

DESTINATIONS = ("duckdb", "postgres", "alloydb")
# DuckDB reads Parquet load files faster than dlt's INSERT text (benchmarks/RESULTS.md: a first load of 20,000
# jobs and logs took 69 s of CPU instead of 94 s); PostgreSQL keeps dlt's default.
DUCKDB_LOADER_FILE_FORMAT = "parquet"


def make_destination(name: str) -> Any:
    """dlt's destination called `name`; AlloyDB speaks PostgreSQL, so it is postgres under `[destination.alloydb]`.

    Args:
        name (str): One of DESTINATIONS.

    Returns:
        Any: A destination name or factory that `dlt.pipeline` takes.
    """
    if name not in DESTINATIONS:
        raise GitLabSourceError(f"unknown destination {name!r}: choose from {', '.join(DESTINATIONS)}")
    if name == "duckdb":
        return bounded_duckdb(preferred_loader_file_format=DUCKDB_LOADER_FILE_FORMAT)
    passwordless = _passwordless_credentials(name)
    if passwordless is None:
        return dlt.destinations.postgres(destination_name=name)
    return dlt.destinations.postgres(destination_name=name, credentials=passwordless)


def _passwordless_credentials(name: str) -> Optional[PostgresCredentials]:
    """The configured credentials when they name no password, else None (dlt resolves them as usual).

    Trust and IAM authentication (the AlloyDB Auth Proxy with --auto-iam-authn) take a user and no
    password, which dlt would report as missing; libpq then uses `~/.pgpass`, PGPASSWORD or nothing.
    """
    configured: Any = dlt.secrets.get(f"destination.{name}.credentials")
    if not configured:
        return None
    credentials = PostgresCredentials(configured)
    if credentials.password or not (credentials.username and credentials.host and credentials.database):
        return None
    credentials.password = ""
    credentials.resolve()
    return credentials
