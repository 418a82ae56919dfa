"""The destinations a load can go to, by the name the CLI and the Airflow DAG take."""

from typing import Any

import dlt

from gitlab.errors import GitLabSourceError

DESTINATIONS = ("duckdb", "postgres", "alloydb")


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
    return name
