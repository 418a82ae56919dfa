"""Rows of `job_logs`, `job_log_sections` and `secret_findings`, and the hints of those three tables.

See https://docs.gitlab.com/api/jobs/#get-a-log-file
"""

from datetime import datetime
from typing import Any, Dict, List, Optional, Tuple, cast

from dlt.common.destination import DestinationCapabilitiesContext
from dlt.common.libs.pyarrow import columns_to_arrow
from dlt.common.libs.pyarrow import pyarrow as pa
from dlt.common.normalizers.utils import generate_dlt_ids
from dlt.common.schema.typing import C_DLT_ID, C_DLT_LOAD_ID, TTableSchemaColumns
from dlt.common.time import ensure_pendulum_datetime

from gitlab.job_logs.reader import TraceReader

TJob = Dict[str, Any]
TRow = Dict[str, Any]
JOB_LOGS_TABLE, SECTIONS_TABLE, FINDINGS_TABLE = "job_logs", "job_log_sections", "secret_findings"

# Every column of the three tables, in the order the exported schema has them: the rows go to dlt as Arrow
# tables (dlt then writes them to Parquet as they are, instead of normalizing ~200 MB of dicts row by row,
# benchmarks/RESULTS.md), and an Arrow table needs a type for each column up front.
JOB_LOGS_COLUMNS: Dict[str, Dict[str, Any]] = {
    "job_id": {"data_type": "bigint", "nullable": False},
    "project_id": {"data_type": "bigint"},
    "pipeline_id": {"data_type": "bigint"},
    "finished_at": {"data_type": "timestamp"},
    "fetched_at": {"data_type": "timestamp"},
    "log_status": {"data_type": "text"},
    "size_bytes": {"data_type": "bigint"},
    "stored_bytes": {"data_type": "bigint"},
    "line_count": {"data_type": "bigint"},
    "truncated": {"data_type": "bool"},
    "finding_count": {"data_type": "bigint"},
    "section_count": {"data_type": "bigint"},
    "log": {"data_type": "text"},
    "job_name": {"data_type": "text"},
    "job_status": {"data_type": "text"},
    "web_url": {"data_type": "text"},
}
SECTION_COLUMNS: Dict[str, Dict[str, Any]] = {
    "job_id": {"data_type": "bigint", "nullable": False},
    "section_index": {"data_type": "bigint", "nullable": False},
    "parent_name": {"data_type": "text"},
    "end_line": {"data_type": "bigint"},
    "started_at": {"data_type": "timestamp"},
    "ended_at": {"data_type": "timestamp"},
    "duration_seconds": {"data_type": "double"},
    "project_id": {"data_type": "bigint"},
    "pipeline_id": {"data_type": "bigint"},
    "name": {"data_type": "text"},
    "depth": {"data_type": "bigint"},
    "collapsed": {"data_type": "bool"},
    "header": {"data_type": "text"},
    "start_line": {"data_type": "bigint"},
}
FINDING_COLUMNS: Dict[str, Dict[str, Any]] = {
    "job_id": {"data_type": "bigint", "nullable": False},
    "finding_index": {"data_type": "bigint", "nullable": False},
    "line_number": {"data_type": "bigint"},
    "detected_at": {"data_type": "timestamp"},
    "project_id": {"data_type": "bigint"},
    "pipeline_id": {"data_type": "bigint"},
    "kind": {"data_type": "text"},
    "preview": {"data_type": "text"},
    "fingerprint": {"data_type": "text"},
    "web_url": {"data_type": "text"},
    "job_name": {"data_type": "text"},
}
# dlt adds these two to the rows it normalizes itself, not to Arrow tables (unless its global
# `[normalize.parquet_normalizer]` settings say so, which would change every other source of the process):
# the rows carry them as before, with dlt's own hints and values.
DLT_COLUMNS: Dict[str, Dict[str, Any]] = {
    C_DLT_LOAD_ID: {"data_type": "text", "nullable": False},
    C_DLT_ID: {"data_type": "text", "nullable": False, "unique": True, "row_key": True},
}
_ARROW_SCHEMAS = {
    table: columns_to_arrow(
        cast(TTableSchemaColumns, {name: {"name": name, **hints} for name, hints in columns.items()}),
        DestinationCapabilitiesContext.generic_capabilities(),
        "UTC",
    )
    for table, columns in (
        (JOB_LOGS_TABLE, JOB_LOGS_COLUMNS),
        (SECTIONS_TABLE, SECTION_COLUMNS),
        (FINDINGS_TABLE, FINDING_COLUMNS),
    )
}


# Each table gets its hints as a variant, set once on the resource: a variant starts from the
# resource's own hints, so those stay bare (primary key and disposition only). The Arrow tables carry every
# other column's type and nullability: dlt validates a variant's hints again for each Arrow table it is given,
# ~2 ms with all the columns against ~0.3 ms with these, about 600 times at 20,000 logs.
TABLE_HINTS: Dict[str, Dict[str, Any]] = {
    JOB_LOGS_TABLE: {"primary_key": "job_id", "columns": DLT_COLUMNS},
    SECTIONS_TABLE: {"primary_key": ["job_id", "section_index"], "columns": DLT_COLUMNS},
    FINDINGS_TABLE: {"primary_key": ["job_id", "finding_index"], "columns": DLT_COLUMNS},
}


def job_keys(job: TJob) -> Dict[str, Any]:
    """`job_id`, `project_id` and `pipeline_id` of a job as GitLab lists it (or as kept in state)."""
    pipeline = job.get("pipeline") or {}
    return {
        "job_id": job["id"],
        "project_id": job.get("project_id") or pipeline.get("project_id"),
        "pipeline_id": pipeline.get("id") or job.get("pipeline_id"),
    }


def log_row(job: TJob, fetched_at: datetime, reader: Optional[TraceReader]) -> TRow:
    """The `job_logs` row of one job: its fetched log (`reader`), or None when GitLab has no log (404).

    A missing log is recorded too, so that it is not asked for again.
    """
    text = reader.stored.text() if reader is not None and reader.stored is not None else None
    return {
        **job_keys(job),
        "job_name": job.get("name"),
        "job_status": job.get("status"),
        "web_url": job.get("web_url"),
        "finished_at": _moment(job.get("finished_at")),
        "fetched_at": fetched_at,
        "log_status": "fetched" if reader is not None else "missing",
        "size_bytes": reader.size_bytes if reader is not None else 0,
        "stored_bytes": len(text.encode("utf-8")) if text is not None else 0,
        "line_count": reader.line_count if reader is not None else 0,
        "truncated": bool(reader is not None and reader.stored and reader.stored.omitted_bytes),
        "finding_count": reader.scanner.finding_count if reader is not None else 0,
        "section_count": len(reader.sections.sections) if reader is not None else 0,
        "log": text,
    }


def trace_rows(job: TJob, reader: TraceReader, fetched_at: datetime) -> Tuple[TRow, List[TRow], List[TRow]]:
    """The `job_logs` row of one fetched log, its `job_log_sections` rows and its `secret_findings` rows."""
    keys = job_keys(job)
    sections = [{**keys, **row} for row in reader.sections.rows()]
    findings = [
        {
            **keys,
            "finding_index": index,
            "kind": finding.kind,
            "line_number": finding.line_number,
            "preview": finding.preview,
            "fingerprint": finding.fingerprint,
            "web_url": job.get("web_url"),
            "job_name": job.get("name"),
            "detected_at": fetched_at,
        }
        for index, finding in enumerate(reader.scanner.findings)
    ]
    return log_row(job, fetched_at, reader), sections, findings


def arrow_rows(table: str, rows: List[TRow], load_id: Optional[str], row_ids: bool) -> pa.Table:
    """`rows` of `table` as an Arrow table with its columns' types, and dlt's `_dlt_load_id` and `_dlt_id`.

    `load_id` is None outside a pipeline's extract (the resource iterated by itself); `row_ids` is False
    when dlt is configured to add `_dlt_id` to Arrow tables itself.
    """
    data = pa.Table.from_pylist(rows, schema=_ARROW_SCHEMAS[table])
    if load_id is not None:
        data = data.append_column(
            pa.field(C_DLT_LOAD_ID, pa.string(), nullable=False), pa.array([load_id] * len(rows), pa.string())
        )
    if row_ids:
        data = data.append_column(
            pa.field(C_DLT_ID, pa.string(), nullable=False), pa.array(generate_dlt_ids(len(rows)), pa.string())
        )
    return data


def load_arrow_conversions() -> None:
    """Has pyarrow import what it converts Python lists with (pandas, when installed) now, on dlt's main thread.

    pyarrow imports pandas on its first conversion; done on the extract loop's thread, dlt's main thread
    can meanwhile look at the half-imported module (`is_pandas_frame`) and fail the run.
    """
    pa.array([], pa.int64())


def _moment(value: Optional[str]) -> Optional[datetime]:
    """A GitLab timestamp (ISO 8601) as dlt reads one into a `timestamp` column."""
    return ensure_pendulum_datetime(value) if value else None
