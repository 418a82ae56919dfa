"""dlt's dataset API over what the CLI loaded: `dlt.attach("gitlab_pipeline").dataset()` counts rows and lists loads
as SQL on the destination does. `dlt pipeline gitlab_pipeline show` reads through these same calls ("Load row
counts", "Pipeline Loads"); they break when sqlglot drifts from what dlt was written for (see requirements.in)."""

import json
import subprocess
import sys
from typing import Any, Dict, List

from tests.utils import DATASET, Workspace, counts_by_sql, dataset_tables

# run in the workspace, as a user would after the load: dlt finds the pipeline, destination and credentials itself
READ_THROUGH_DLT = """
import json, dlt
dataset = dlt.attach("gitlab_pipeline").dataset()
loads = dataset._dlt_loads.order_by("load_id").arrow().to_pylist()
print(json.dumps({
    "row_counts": dataset.row_counts(dlt_tables=True).arrow().to_pylist(),
    "loads": [load["load_id"] for load in loads],
    "rows_of_each_load": {
        load["load_id"]: dataset.row_counts(load_id=load["load_id"]).arrow().to_pylist() for load in loads
    },
}))
"""


def read_through_dlt(ws: Workspace) -> Dict[str, Any]:
    proc = subprocess.run([sys.executable, "-c", READ_THROUGH_DLT], cwd=ws.root, env=ws.env(), capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def as_counts(rows: List[Dict[str, Any]]) -> Dict[str, int]:
    counts = {row["table_name"]: row["row_count"] for row in rows}
    assert len(counts) == len(rows), rows
    return counts


def test_dataset_row_counts_and_loads_equal_sql(emulator, any_workspace):
    ws = any_workspace
    args = ["--base-url", emulator.base_url, "--group", "acme"]
    assert (first := ws.run(*args)).returncode == 0, first.output
    emulator.advance()  # new pipelines, jobs and issues: the second load is incremental, and smaller
    assert (second := ws.run(*args)).returncode == 0, second.output

    read = read_through_dlt(ws)

    every_table = counts_by_sql(ws, dataset_tables(ws))
    assert {"pipelines", "jobs", "issues__labels", "_dlt_loads", "_dlt_pipeline_state"} <= set(every_table)
    assert as_counts(read["row_counts"]) == every_table

    loads = [load_id for (load_id,) in ws.query(f"select load_id from {DATASET}._dlt_loads order by load_id")]
    assert len(loads) == 2 and read["loads"] == loads
    # per load: the tables that record their load (root tables; child tables join their parent for it)
    with_load_id = [table for table in dataset_tables(ws, "_dlt_load_id") if not table.startswith("_dlt")]
    assert "jobs" in with_load_id and "issues__labels" not in with_load_id
    for load_id in loads:
        expected = counts_by_sql(ws, with_load_id, f"where _dlt_load_id = '{load_id}'")
        assert as_counts(read["rows_of_each_load"][load_id]) == expected, load_id
    first_rows, second_rows = (sum(as_counts(read["rows_of_each_load"][load_id]).values()) for load_id in loads)
    assert 0 < second_rows < first_rows
