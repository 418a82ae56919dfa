"""Runs inside the Airflow virtualenv: parses the dags folder with a DagBag, then runs one DAG with `dag.test()`.

Usage: python dag_driver.py DAG_ID LOGICAL_DATE REPORT_JSON [--parse-only]. AIRFLOW_HOME, the dags folder
and every dlt setting come from the environment. Parsing runs with outgoing connections refused, so a DAG
file that talks to the network while Airflow parses it shows up as an import error. The report holds
the import errors, the tasks with their upstream task ids, the Airflow Variables the parse asked the secrets
backend for (with `recording_secrets.RecordingSecretsBackend` configured), and each task's final state.
"""

import json
import socket
import sys
from contextlib import contextmanager
from typing import Any, Dict, Iterator


@contextmanager
def _no_network() -> Iterator[None]:
    """Makes every `socket.connect` fail while parsing; DAG files must not do I/O at parse time."""
    original = socket.socket.connect

    def _refuse(self: socket.socket, address: Any) -> None:
        raise ConnectionRefusedError(f"network I/O while parsing DAG files: connect to {address!r}")

    socket.socket.connect = _refuse  # type: ignore[method-assign]
    try:
        yield
    finally:
        socket.socket.connect = original  # type: ignore[method-assign]


def _prepare_database() -> None:
    """Creates the SQLite metadata tables on the first call; later calls find them up to date."""
    from airflow.utils import db

    db.initdb()


def _parse_dags_folder() -> Any:
    """Parses the dags folder as Airflow's DAG processor does: as a bundle, whose path goes on `sys.path`."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import BundleDagBag

    (bundle,) = DagBundlesManager().get_all_dag_bundles()  # `dags-folder`: AIRFLOW__CORE__DAGS_FOLDER
    bundle.initialize()
    return BundleDagBag(bundle.path, bundle_path=bundle.path, bundle_name=bundle.name)


def main(argv: list) -> int:
    dag_id, logical_date, report_path = argv[:3]
    parse_only = "--parse-only" in argv[3:]
    _prepare_database()
    from airflow.sdk import timezone

    from recording_secrets import RecordingSecretsBackend

    with _no_network():
        dagbag = _parse_dags_folder()
    report: Dict[str, Any] = {
        "import_errors": {path: str(err) for path, err in dagbag.import_errors.items()},
        "variables_asked": list(RecordingSecretsBackend.variables_asked),
    }
    dag = dagbag.get_dag(dag_id)
    if dag is not None:
        report["tasks"] = {task.task_id: sorted(task.upstream_task_ids) for task in dag.tasks}
        if not parse_only and not report["import_errors"]:
            dag_run = dag.test(logical_date=timezone.parse(logical_date))
            report["state"] = str(dag_run.state)
            report["task_states"] = {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}
    with open(report_path, "w") as report_file:
        json.dump(report, report_file, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
