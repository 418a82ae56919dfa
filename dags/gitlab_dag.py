"""Airflow DAG that loads GitLab with dlt's Airflow helper: the scope first, then one parallel task per family.

See https://dlthub.com/docs/walkthroughs/deploy-a-pipeline/deploy-with-airflow-composer and docs/composer.md.
"""

from pathlib import Path
from typing import Dict, List, Optional, cast

import dlt
from airflow import DAG
from dlt.common import pendulum
from dlt.extract import DltSource
from dlt.helpers.airflow_helper import DEFAULT_RETRY_BACKOFF, PipelineTasksGroup

from gitlab import gitlab_source
from gitlab.destinations import make_destination
from gitlab.settings import DEFAULT_DATASET, PIPELINE_NAME
from gitlab.tables import families

DAG_ID = "gitlab_pipeline"
SCHEDULE = "@daily"
FIRST_LOGICAL_DATE = pendulum.datetime(2024, 1, 1, tz="UTC")
DEFAULT_DESTINATION = "alloydb"
# Tables per family (gitlab.tables), the first of which runs alone and creates the schema; the others run
# in parallel. Every family hangs off `projects`, so dlt's own decomposition would make them one task: each
# family here lists the projects again (a few requests) and keeps its incremental state in its own pipeline.
# A resource not listed goes with its nearest listed ancestor.
FAMILIES: Dict[str, List[str]] = families()
SCOPE_FAMILY = next(iter(FAMILIES))
IMPORT_SCHEMA_DIR = Path("schemas") / "import"  # beside this file in the bucket, one folder up in the repo


def split_by_family(source: DltSource) -> Dict[str, List[str]]:
    """The source's selected resources per family, in FAMILIES order, leaving out empty families.

    Args:
        source (DltSource): The GitLab source, as `gitlab_source()` returns it.

    Returns:
        Dict[str, List[str]]: Resource names per family; unlisted ones follow their parent, else `scope`.
    """
    parents = {child: parent for parent, child in source.resources.selected_dag if parent != child}
    family_of = {table: family for family, tables in FAMILIES.items() for table in tables}
    split: Dict[str, List[str]] = {family: [] for family in FAMILIES}
    for name in source.selected_resources:
        ancestor = name
        while ancestor not in family_of and ancestor in parents:
            ancestor = parents[ancestor]
        split[family_of.get(ancestor, SCOPE_FAMILY)].append(name)
    return {family: names for family, names in split.items() if names}


def family_pipeline_name(family: str) -> str:
    """`gitlab_pipeline` for the scope, as the CLI names its pipeline, else `gitlab_pipeline_<family>`."""
    return PIPELINE_NAME if family == SCOPE_FAMILY else f"{PIPELINE_NAME}_{family}"


def import_schema_path() -> Optional[str]:
    """The column types the CLI loads with (`schemas/import`), when they were uploaded with the DAG."""
    here = Path(__file__).resolve().parent
    found = [base / IMPORT_SCHEMA_DIR for base in (here, here.parent) if (base / IMPORT_SCHEMA_DIR).is_dir()]
    return str(found[0]) if found else None


def add_family_runs(tasks: PipelineTasksGroup, source: DltSource) -> None:
    """Adds one task per family to `tasks`: the scope first, then the other families in parallel.

    Each family runs under its own pipeline name, so the per-project cursors of parallel tasks never
    overwrite each other's state; with the local data wiped after every task, dlt restores that
    state from the destination on the next run.

    Args:
        tasks (PipelineTasksGroup): The group, created before any pipeline as the helper requires.
        source (DltSource): The GitLab source; it is lazy, so building it here sends no request.
    """
    destination = make_destination(dlt.config.get("gitlab_pipeline.destination", str) or DEFAULT_DESTINATION)
    dataset = dlt.config.get("gitlab_pipeline.dataset", str) or DEFAULT_DATASET
    first = None
    for family, resources in split_by_family(source).items():
        pipeline = dlt.pipeline(
            pipeline_name=family_pipeline_name(family),
            destination=destination,
            dataset_name=dataset,
            import_schema_path=cast(str, import_schema_path()),  # dlt takes None: no import schema
        )
        # the default trigger rule: with "all_done" a run whose scope task failed would still end green,
        # as Airflow judges a run by its leaves, the families
        run = tasks.add_run(pipeline, source.with_resources(*resources), decompose="none", retries=0)
        if first is None:
            first = run[-1]
        else:
            first >> run[0]


with DAG(
    dag_id=DAG_ID,
    schedule=SCHEDULE,
    start_date=FIRST_LOGICAL_DATE,
    catchup=False,
    max_active_runs=1,  # two runs at once would race on the same incremental state
    tags=["gitlab", "dlt"],
    doc_md=__doc__,
) as dag:
    # The group points dlt at the dags folder (its .dlt/) and a fresh data folder: create it first
    pipeline_tasks = PipelineTasksGroup(
        PIPELINE_NAME,
        use_data_folder=False,
        wipe_local_data=True,
        retry_policy=DEFAULT_RETRY_BACKOFF,  # retries the load step only; HTTP is retried by the source
    )
    add_family_runs(pipeline_tasks, gitlab_source())
