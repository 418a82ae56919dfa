"""The DuckDB destination the CLI loads into: merges that keep to a memory limit, when one is configured.

Real dlt pipelines into real DuckDB files; what is checked is what lands in the tables.
"""

import shutil
from pathlib import Path
from typing import Any, Dict, Iterator, List

import dlt
import pytest
from dlt.pipeline.exceptions import PipelineStepFailed

from gitlab.bounded_duckdb import bounded_duckdb
from gitlab.destinations import DUCKDB_LOADER_FILE_FORMAT, make_destination


def _pipeline(tmp_path: Path, name: str, destination: Any = None) -> dlt.Pipeline:
    return dlt.pipeline(
        name,
        destination=destination or bounded_duckdb(str(tmp_path / f"{name}.duckdb"),
                                                  preferred_loader_file_format=DUCKDB_LOADER_FILE_FORMAT),
        dataset_name="data",
        pipelines_dir=str(tmp_path / "pipelines"),
    )


def _rows(pipeline: dlt.Pipeline, sql: str) -> List[tuple]:
    with pipeline.sql_client() as client:
        return [tuple(row) for row in client.execute_sql(sql)]


@dlt.resource(name="builds", primary_key="id", write_disposition="merge")
def _builds(rows: List[Dict[str, Any]]) -> Iterator[Dict[str, Any]]:
    yield from rows


@dlt.resource(name="runs", primary_key="id", write_disposition="merge")
def _runs(rows: List[Dict[str, Any]]) -> Iterator[Dict[str, Any]]:
    yield from rows


def _log_text(build_id: int, size: int) -> str:
    """Text like a job log: lines that repeat with small changes, so DuckDB compresses it as it would a log."""
    line = "{n:06d} job {build_id} step {step}: compiling module {module} of the project\n"
    count = size // len(line.format(n=0, build_id=build_id, step=0, module=0))
    return "".join(line.format(n=n, build_id=build_id, step=n % 7, module=n * 31 % 997) for n in range(count))


def test_the_cli_loads_duckdb_through_this_destination_by_dlts_name_for_it():
    destination = make_destination("duckdb")
    assert isinstance(destination, bounded_duckdb)
    # the pipeline's state, `dlt pipeline show` and the dashboard know it as dlt's DuckDB
    assert destination.destination_type == "dlt.destinations.duckdb"
    assert destination.destination_name == "duckdb"


def test_a_configured_memory_limit_applies_to_the_load(tmp_path, monkeypatch):
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS__GLOBAL_CONFIG", '{"memory_limit": "256MB"}')
    pipeline = _pipeline(tmp_path, "limited")
    pipeline.run(_builds([{"id": 1}])).raise_on_failed_jobs()
    assert _rows(pipeline, "select current_setting('memory_limit')") == [("244.1 MiB",)]  # 256 MB


def test_a_key_sent_twice_in_one_load_keeps_one_row_and_only_that_rows_nested_rows(tmp_path):
    pipeline = _pipeline(tmp_path, "twice")
    pipeline.run(_builds([{"id": 1, "name": "first", "tags": ["a"]},
                          {"id": 1, "name": "again", "tags": ["b", "c"]},
                          {"id": 2, "name": "other", "tags": ["d"]}])).raise_on_failed_jobs()

    names = dict(_rows(pipeline, "select id, name from data.builds"))
    assert sorted(names) == [1, 2] and names[1] in ("first", "again") and names[2] == "other"
    tags_of = {"first": ["a"], "again": ["b", "c"], "other": ["d"]}
    tags = _rows(pipeline, "select b.name, t.value from data.builds__tags t"
                           " join data.builds b on t._dlt_parent_id = b._dlt_id")
    assert sorted(tags) == sorted((name, tag) for name in names.values() for tag in tags_of[name])
    assert _rows(pipeline, "select count(*) from data.builds__tags")[0][0] == len(tags)


def test_a_load_file_copied_twice_into_staging_loads_each_row_once(tmp_path):
    """A load resumed after a kill copies again a file whose copy had committed: the merge drops the copy."""
    pipeline = _pipeline(tmp_path, "resumed")
    pipeline.run([_builds([{"id": 1, "name": "old", "tags": ["x"]}]), _runs([{"id": 1, "name": "old"}])])
    pipeline.extract([_builds([{"id": 1, "name": "new", "tags": ["y", "z"]}, {"id": 2, "name": "two", "tags": []}]),
                      _runs([{"id": 1, "name": "new"}, {"id": 2, "name": "two"}])])
    pipeline.normalize()
    (package,) = pipeline.list_normalized_load_packages()
    new_jobs = Path(pipeline.working_dir) / "load" / "normalized" / package / "new_jobs"
    copied = []
    for job_file in new_jobs.glob("*.parquet"):
        table, file_id, retry, extension = job_file.name.split(".", 3)
        if not table.startswith("_dlt"):
            shutil.copy(job_file, job_file.with_name(f"{table}.{file_id}copy.{retry}.{extension}"))
            copied.append(table)
    assert sorted(copied) == ["builds", "builds__tags", "runs"]  # a table with a nested table, and one alone

    pipeline.load().raise_on_failed_jobs()

    assert _rows(pipeline, "select id, name from data.builds order by id") == [(1, "new"), (2, "two")]
    assert sorted(_rows(pipeline, "select value from data.builds__tags")) == [("y",), ("z",)]
    assert _rows(pipeline, "select id, name from data.runs order by id") == [(1, "new"), (2, "two")]


def test_a_merge_far_larger_than_the_memory_limit_loads_where_dlts_own_merge_runs_out(tmp_path, monkeypatch):
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS__GLOBAL_CONFIG", '{"memory_limit": "64MB"}')
    monkeypatch.setenv("LOAD__RAISE_ON_MAX_RETRIES", "1")  # an out-of-memory error is transient to dlt
    rows = [{"id": build_id, "log": _log_text(build_id, 4_000)} for build_id in range(8_000)]  # ~32 MB of text

    pipeline = _pipeline(tmp_path, "bounded")
    pipeline.run(_builds(rows)).raise_on_failed_jobs()
    assert _rows(pipeline, "select count(*), sum(length(log)) from data.builds") == [
        (len(rows), sum(len(row["log"]) for row in rows))]

    # the same load with dlt's own DuckDB client, whose de-duplicating window cannot spill
    unbounded = _pipeline(tmp_path, "unbounded", dlt.destinations.duckdb(
        str(tmp_path / "unbounded.duckdb"), preferred_loader_file_format=DUCKDB_LOADER_FILE_FORMAT))
    with pytest.raises(PipelineStepFailed, match="Out of Memory"):
        unbounded.run(_builds(rows))
