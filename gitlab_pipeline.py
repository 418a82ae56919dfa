"""Load GitLab into DuckDB (or PostgreSQL/AlloyDB) with dlt: `.venv/bin/python gitlab_pipeline.py --group my-org`.

`--demo` runs the same load offline against the project's GitLab emulator, into its own dataset, and
`gitlab_pipeline.py erase-leaky-jobs [--yes]` erases the jobs whose logs leaked secrets. Flags are parsed and
checked in `gitlab.cli_args`, progress is drawn by `gitlab.progress`, and what a run keeps in its folder is
in `gitlab.project_folder`.
"""

import argparse
import logging
import os
import signal
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, cast

if __name__ == "__main__":
    # The CLI uses neither dlt.hub nor dlt's CLI plugins; with the dashboard's `dlthub` installed, dlt would import
    # it, and ibis and pandas with it, at every start: half a second of the imports (python -X importtime)
    sys.modules.setdefault("dlthub", None)  # type: ignore[arg-type]  # None: Python's "not importable" mark
    os.environ.setdefault("DLT_DISABLE_PLUGINS", "true")

import dlt
from dlt.common.schema.typing import TSchemaContract
from dlt.pipeline.pipeline import Pipeline

from gitlab import gitlab_source
from gitlab.cli_args import (
    ERASE_COMMAND,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_LOADED,
    EXIT_SKIPPED,
    dataset_name,
    parse_args,
    parse_erase_args,
    parse_schema_contract,
    resources_of,
)
from gitlab.credentials import GitLabCredentials, api_url, gitlab_credentials, loaded_from, same_gitlab
from gitlab.destinations import make_destination
from gitlab.errors import GitLabSourceError, describe_failure, interrupted
from gitlab.job_logs.erase import erase_leaky_jobs, leaky_jobs
from gitlab.job_logs.fingerprints import save_new_fingerprint_key
from gitlab.job_logs.rows import JOB_LOGS_TABLE
from gitlab.progress import GitLabProgress
from gitlab.project_folder import ExportedSchemas, pipelines_dir, show_command
from gitlab.rate_limit import RequestBudget, make_budget
from gitlab.run_stats import GitLabRunStats
from gitlab.settings import DEMO_PIPELINE_NAME, PIPELINE_NAME

SCHEMAS_DIR = Path(__file__).resolve().parent / "schemas"
DEMO_GROUP = "acme"
DEMO_FINGERPRINT_KEY = "gitlab-dlt-demo"  # the emulator's secrets are made up: no key to keep for them
PROGRESS_SECONDS = 10.0  # between two progress lines when not on a terminal
FINGERPRINT_KEY = "sources.gitlab.fingerprint_key"
INTERRUPTED_KEPT = "interrupted: the data this run extracted is kept, and the next run loads it first"
INTERRUPTED_NOTHING_KEPT = (
    "interrupted: nothing of this run was kept; the next run starts where the last finished run ended"
)

logger = logging.getLogger("gitlab_pipeline")


class RunInterrupted(Exception):
    """Ctrl-C ended the run; the message says whether its data is kept for the next run."""

    def __init__(self, kept: bool) -> None:
        super().__init__(INTERRUPTED_KEPT if kept else INTERRUPTED_NOTHING_KEPT)


def open_pipeline(args: argparse.Namespace, **options: Any) -> Pipeline:
    """The run's dlt pipeline, its state kept in this project's folder; the demo has a pipeline of its own."""
    return dlt.pipeline(
        pipeline_name=DEMO_PIPELINE_NAME if args.demo else PIPELINE_NAME,
        pipelines_dir=pipelines_dir(),
        destination=make_destination(args.destination),
        dataset_name=dataset_name(args),
        **options,
    )


def erase_credentials(args: argparse.Namespace, pipeline: Pipeline) -> GitLabCredentials:
    """The token, for the GitLab the findings were loaded from: never a default host, another one only if confirmed."""
    if args.demo:
        raise GitLabSourceError("the demo's GitLab is gone once the demo ends: erase-leaky-jobs --demo is a dry run")
    pipeline.sync_destination()  # on a machine that did not load, the state (and where it came from) is there
    recorded = loaded_from(pipeline)
    if recorded and args.base_url and not same_gitlab(recorded, args.base_url) and not args.confirm_base_url:
        raise GitLabSourceError(
            f"the findings were loaded from {recorded}, not {args.base_url}: leave out --base-url to erase there,"
            " or add --confirm-base-url if that GitLab now answers at the new URL"
        )
    if not recorded and not args.base_url:
        raise GitLabSourceError(
            f"dataset {pipeline.dataset_name} records no GitLab it was loaded from (nothing loaded yet, or by an older"
            " version): name it with --base-url"
        )
    return gitlab_credentials(base_url=args.base_url or recorded)


def erase(args: argparse.Namespace) -> int:
    """`erase-leaky-jobs`: the jobs come from the destination; the dry run needs no token."""
    if args.base_url is not None:
        api_url(args.base_url)  # a bad flag is refused even when there is nothing to erase
    pipeline = open_pipeline(args)
    to_erase = args.yes and bool(leaky_jobs(pipeline))  # nothing to erase needs no GitLab
    report = erase_leaky_jobs(pipeline, erase_credentials(args, pipeline) if to_erase else None, yes=args.yes)
    print("\n".join(report.lines()))
    return report.exit_code


def source_kwargs(args: argparse.Namespace) -> Dict[str, Any]:
    """Only the options given on the command line; dlt injects the rest from config and secrets."""
    kwargs: Dict[str, Any] = {}
    if args.groups is not None:
        kwargs["groups"] = args.groups
    if args.projects is not None:
        kwargs["projects"] = args.projects
    if args.since is not None:
        kwargs["start_date"] = args.since
    if args.no_subgroups:
        kwargs["include_subgroups"] = False
    if args.include_archived:
        kwargs["include_archived"] = True
    return kwargs


def ensure_fingerprint_key(args: argparse.Namespace, resources: Optional[List[str]]) -> None:
    """Job logs need a fingerprint key: the CLI keeps one in the project's .dlt/secrets.toml, made on first use."""
    if (resources is not None and JOB_LOGS_TABLE not in resources) or dlt.secrets.get(FINGERPRINT_KEY):
        return
    if args.demo:
        dlt.secrets[FINGERPRINT_KEY] = DEMO_FINGERPRINT_KEY
        return
    settings_dir = dlt.current.run_context().settings_dir
    dlt.secrets[FINGERPRINT_KEY] = save_new_fingerprint_key(settings_dir)
    print(
        f"Generated {FINGERPRINT_KEY} into {Path(settings_dir, 'secrets.toml')}: keep it with your other secrets"
        " (in CI: SOURCES__GITLAB__FINGERPRINT_KEY), or later fingerprints will not match earlier ones"
    )


def data_location(pipeline: Pipeline) -> str:
    """Where the loaded data lives, with no password in it."""
    credentials = pipeline.destination_client().config.credentials
    database = getattr(credentials, "database", None) or "?"
    if pipeline.destination.destination_type.endswith(".duckdb"):
        return f"DuckDB file {database}, dataset {pipeline.dataset_name}"
    host = getattr(credentials, "host", "?")
    return f"{pipeline.destination.destination_name} {host}/{database}, schema {pipeline.dataset_name}"


def summary_lines(pipeline: Pipeline, stats: GitLabRunStats, budget: RequestBudget, seconds: float) -> List[str]:
    normalized = pipeline.last_trace.last_normalize_info if pipeline.last_trace else None
    row_counts = normalized.row_counts if normalized else {}
    tables = {name: count for name, count in sorted(row_counts.items()) if not name.startswith("_dlt")}
    top_level = {name: count for name, count in tables.items() if "__" not in name}
    nested = {name: count for name, count in tables.items() if "__" in name}
    lines = [
        f"Loaded {sum(top_level.values())} rows into {len(top_level)} tables in {seconds:.1f} s"
        f" with {stats.requests + stats.job_logs.requests} GitLab requests:"
        + ("" if top_level else " nothing changed since the last load")
    ]
    width = max((len(name) for name in top_level), default=0)
    lines += [f"  {name:<{width}}  {count:>8}" for name, count in top_level.items()]
    if nested:
        lines.append(f"  and {sum(nested.values())} rows of nested lists in {len(nested)} child tables")
    lines += stats.job_logs.summary_lines()
    rate_limit = budget.summary_line()
    if rate_limit:
        lines.append(rate_limit)
    if stats.denied:
        lines.append(f"Skipped, the token may not read them ({len(stats.denied)} project(s)):")
        lines += [f"  {line}" for line in stats.denied_summary()]
    if stats.failed:
        failed = stats.failed_summary()
        lines.append(f"Skipped, GitLab kept failing after the retries; read again on the next run ({len(failed)}):")
        lines += [f"  {line}" for line in failed]
    lines.append(f"Data: {data_location(pipeline)}")
    lines.append(f"Look at it: {show_command(pipeline.pipeline_name)}")
    return lines


def start_afresh(pipeline: Pipeline) -> Pipeline:
    """Drops the dataset's tables of this source, dlt's own included, and the local state: the next run is a first one.

    dlt's `refresh="drop_sources"` loses the imported schema's hints in the run that refreshes (the
    next run then fails on child tables), so a full refresh is a first load into a clean dataset.
    Other tables in the dataset are left alone.
    """
    pipeline.sync_destination()
    if pipeline.default_schema_name:
        with pipeline.sql_client() as client:
            client.drop_tables(*pipeline.default_schema.tables)
    return pipeline.drop()


def finish_pending_load(pipeline: Pipeline) -> None:
    """Loads what an interrupted run left pending, so that this run then extracts and loads its own data.

    dlt's `run` would load the pending packages and stop there, leaving this run's data for yet another
    run. A package killed while load jobs were under way is dropped instead, with the state restored to
    before it, and its data extracted again by this run: dlt would run those jobs again, and one that had
    already written its rows would write them twice.
    """
    if not pipeline.has_pending_data:
        return
    normalized = pipeline.list_normalized_load_packages()
    cut_short = [load_id for load_id in normalized if pipeline.get_load_package_info(load_id).jobs["started_jobs"]]
    if cut_short:
        pipeline.abort_packages()
        print(
            f"Dropped load package(s) {', '.join(cut_short)} that a killed run left half-loaded;"
            " this run extracts their data again"
        )
        return
    pending = [*pipeline.list_extracted_load_packages(), *normalized]
    if pipeline.list_extracted_load_packages():
        pipeline.normalize()
    pipeline.load().raise_on_failed_jobs()
    print(f"Loaded what an interrupted run left pending: load package(s) {', '.join(sorted(pending))}")


def abort_pending_packages(pipeline: Pipeline) -> None:
    """After a failed run, drops what it left pending and restores the state from before it.

    Otherwise the next run would first retry the same package (e.g. one a frozen schema contract
    refused) while its cursors already moved on; with state restored, the next run fetches again.
    """
    try:
        if pipeline.has_pending_data:
            pipeline.abort_packages()
    except Exception:  # the original failure is what the user must see
        logger.debug("could not abort the pending packages", exc_info=True)


def close_on_ctrl_c(budget: RequestBudget, stack: ExitStack) -> None:
    """On Ctrl-C, first ends the waits for the request budget: dlt's extract then winds down its threads."""
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        return  # Ctrl-C is ignored, or handled by whoever called us

    def on_ctrl_c(signum: int, frame: Any) -> None:
        budget.close()
        signal.default_int_handler(signum, frame)

    signal.signal(signal.SIGINT, on_ctrl_c)
    stack.callback(signal.signal, signal.SIGINT, signal.default_int_handler)


def run(args: argparse.Namespace, stack: ExitStack) -> int:
    schema_contract = parse_schema_contract(
        args.schema_contract or dlt.config.get("sources.gitlab.schema_contract", str)
    )
    resources = resources_of(args.resources)
    kwargs = source_kwargs(args)
    connection = {"base_url": args.base_url}
    if args.demo:
        from gitlab_emulator import TOKENS, GitLabEmulator

        emulator = stack.enter_context(GitLabEmulator())
        connection = {"base_url": emulator.base_url, "access_token": TOKENS["maintainer"]}
        kwargs.setdefault("groups", [DEMO_GROUP])
        print(f"Demo: GitLab emulator at {emulator.base_url}, loading group(s) {', '.join(kwargs['groups'])}")
    ensure_fingerprint_key(args, resources)
    stats = GitLabRunStats()
    credentials = gitlab_credentials(**connection)
    budget = make_budget(credentials.api_url)
    stack.callback(budget.close)  # a request still waiting for its turn must not keep the process alive
    close_on_ctrl_c(budget, stack)
    source = gitlab_source(credentials=credentials, run_stats=stats, request_budget=budget, **kwargs)
    if resources is not None:
        source = source.with_resources(*resources)
    export_dir = Path(dlt.config.get("gitlab_pipeline.export_schema_path", str) or SCHEMAS_DIR / "export")
    exported = ExportedSchemas(export_dir)
    pipeline = open_pipeline(
        args,
        import_schema_path=str(SCHEMAS_DIR / "import"),
        export_schema_path=str(export_dir),
        progress=GitLabProgress(stats, dlt.config.get("gitlab_pipeline.progress_seconds", float) or PROGRESS_SECONDS),
    )
    if args.full_refresh or args.demo:  # the demo's emulator is a new GitLab, on a new port, each time
        pipeline = start_afresh(pipeline)
    started = time.monotonic()
    try:
        finish_pending_load(pipeline)
        load_info = pipeline.run(  # dlt takes None, though its annotation leaves None out
            source, schema_contract=cast(TSchemaContract, schema_contract)
        )
        load_info.raise_on_failed_jobs()
    except BaseException as exc:
        if interrupted(exc) and pipeline.has_pending_data:  # dlt resumes a package from where it stopped
            raise RunInterrupted(kept=True) from exc
        abort_pending_packages(pipeline)
        exported.restore()
        if interrupted(exc):
            raise RunInterrupted(kept=False) from exc
        raise
    exported.keep_unchanged()
    print("\n".join(summary_lines(pipeline, stats, budget, time.monotonic() - started)))
    return EXIT_SKIPPED if stats.skipped else EXIT_LOADED


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    erasing = argv[:1] == [ERASE_COMMAND]
    args = parse_erase_args(argv[1:]) if erasing else parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s: %(message)s")
    logging.getLogger("gitlab.rate_limit").setLevel(logging.INFO)  # its lines say why the run waits
    try:
        if erasing:
            return erase(args)
        with ExitStack() as stack:
            return run(args, stack)
    except RunInterrupted as stop:
        print(stop, file=sys.stderr)
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        print(INTERRUPTED_NOTHING_KEPT, file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # the CLI's contract: one line, non-zero exit
        if args.debug:
            logger.exception("run failed")
        print(f"error: {describe_failure(exc)}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
