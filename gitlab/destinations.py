"""The destinations a load can go to, by the name the CLI and the Airflow DAG take."""

from typing import Any

import dlt

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
    if name == "alloydb":
        return dlt.destinations.postgres(destination_name="alloydb")
    if name == "duckdb":
        return dlt.destinations.duckdb(preferred_loader_file_format=DUCKDB_LOADER_FILE_FORMAT)
    return name
