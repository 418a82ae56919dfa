"""Load GitLab into DuckDB (or PostgreSQL/AlloyDB) with dlt: `python gitlab_pipeline.py --group my-org`.

`--demo` runs the same load offline against the project's GitLab emulator, and
`python gitlab_pipeline.py erase-leaky-jobs [--yes]` erases the jobs whose logs leaked secrets.
"""

import argparse
import logging
import signal
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, cast

import dlt
from dlt.common.runtime.collector import LogCollector
from dlt.common.schema.typing import TSchemaContract
from dlt.common.typing import TRefreshMode
from dlt.pipeline.pipeline import Pipeline

from gitlab import gitlab_source
from gitlab.credentials import gitlab_credentials
from gitlab.destinations import DESTINATIONS, make_destination
from gitlab.errors import GitLabSourceError, describe_failure, interrupted
from gitlab.job_logs.erase import erase_leaky_jobs
from gitlab.rate_limit import RequestBudget, make_budget
from gitlab.run_stats import GitLabRunStats
from gitlab.settings import DEFAULT_DATASET, PIPELINE_NAME
from gitlab.transforms import to_utc_iso

SCHEMA_CONTRACT_MODES = ("evolve", "freeze", "discard_row", "discard_value")
SCHEMA_CONTRACT_ENTITIES = ("tables", "columns", "data_type")
SCHEMAS_DIR = Path(__file__).resolve().parent / "schemas"
DEMO_GROUP = "acme"
ERASE_COMMAND = "erase-leaky-jobs"
PROGRESS_LOG_PERIOD_SECONDS = 10.0
EXIT_LOADED, EXIT_FAILED, EXIT_SKIPPED, EXIT_INTERRUPTED = 0, 1, 2, 130
EXIT_CODES_HELP = (
    "exit codes: 0 everything loaded; 2 loaded, but parts GitLab kept failing on were skipped (named in the summary,"
    " read again on the next run); 1 failed, nothing of this run was loaded; 130 interrupted (one line says what"
    " was kept)"
)
INTERRUPTED_KEPT = "interrupted: the data this run extracted is kept, and the next run loads it first"
INTERRUPTED_NOTHING_KEPT = (
    "interrupted: nothing of this run was kept; the next run starts where the last finished run ended"
)

logger = logging.getLogger("gitlab_pipeline")


class RunInterrupted(Exception):
    """Ctrl-C ended the run; the message says whether its data is kept for the next run."""

    def __init__(self, kept: bool) -> None:
        super().__init__(INTERRUPTED_KEPT if kept else INTERRUPTED_NOTHING_KEPT)


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="gitlab_pipeline.py",
        description="Load GitLab groups and projects into a warehouse with dlt. Every option can"
        " also come from .dlt/config.toml ([sources.gitlab]) or the environment, the dlt way.",
        epilog=EXIT_CODES_HELP,
    )
    parser.add_argument("--group", action="append", dest="groups", metavar="PATH",
                        help="full path or id of a group to load (repeatable); subgroups are followed")
    parser.add_argument("--project", action="append", dest="projects", metavar="PATH",
                        help="full path or id of a project to load (repeatable)")
    parser.add_argument("--base-url", help="GitLab URL, e.g. https://gitlab.example.com (default gitlab.com)")
    parser.add_argument("--resources", help="comma-separated tables to load (default: all)")
    parser.add_argument("--destination", default="duckdb", help=f"one of {', '.join(DESTINATIONS)} (default duckdb)")
    parser.add_argument("--schema-contract", metavar="MODE",
                        help="evolve (default), freeze, or per entity, e.g. columns=freeze,data_type=evolve")
    parser.add_argument("--dataset", default=DEFAULT_DATASET, help=f"dataset/schema name (default {DEFAULT_DATASET})")
    parser.add_argument("--since", help="ISO date or datetime where the first incremental load starts")
    parser.add_argument("--full-refresh", action="store_true", help="drop this source's tables and state, reload all")
    parser.add_argument("--no-subgroups", action="store_true", help="do not follow subgroups of --group")
    parser.add_argument("--include-archived", action="store_true", help="also load archived projects")
    parser.add_argument("--demo", action="store_true", help="load the built-in GitLab emulator (offline)")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    return parser.parse_args(argv)


def parse_erase_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="gitlab_pipeline.py erase-leaky-jobs",
        description="List the jobs whose logs leaked secrets (from the destination's secret_findings) and,"
        " with --yes, erase their logs and artifacts in GitLab. A dry run by default.",
    )
    parser.add_argument("--yes", action="store_true", help="erase for real (needs Maintainer and the api scope)")
    parser.add_argument("--base-url", help="GitLab URL (default from [sources.gitlab] base_url)")
    parser.add_argument("--destination", default="duckdb", help=f"one of {', '.join(DESTINATIONS)} (default duckdb)")
    parser.add_argument("--dataset", default=DEFAULT_DATASET, help=f"dataset/schema name (default {DEFAULT_DATASET})")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    return parser.parse_args(argv)


def erase(args: argparse.Namespace) -> int:
    """`erase-leaky-jobs`: the jobs come from the destination, the token and URL from dlt config."""
    pipeline = dlt.pipeline(
        pipeline_name=PIPELINE_NAME, destination=make_destination(args.destination), dataset_name=args.dataset
    )
    report = erase_leaky_jobs(pipeline, gitlab_credentials(base_url=args.base_url), yes=args.yes)
    print("\n".join(report.lines()))
    return report.exit_code


def parse_since(value: str) -> str:
    """`--since` as the UTC text form GitLab prints, so cursors compare it with GitLab's values."""
    try:
        return to_utc_iso(value.strip())
    except ValueError:
        raise GitLabSourceError(
            f"--since {value!r} is not an ISO 8601 date, e.g. 2024-01-31 or 2024-01-31T12:00:00Z"
        ) from None


def parse_schema_contract(value: Optional[str]) -> Optional[TSchemaContract]:
    """`--schema-contract` as dlt takes it: one mode for everything, or a mode per entity."""
    if not value:
        return None
    value = value.strip()
    if "=" not in value:
        if value not in SCHEMA_CONTRACT_MODES:
            raise GitLabSourceError(
                f"unknown schema contract {value!r}: use one of {', '.join(SCHEMA_CONTRACT_MODES)}"
                f" or ENTITY=MODE pairs with ENTITY in {', '.join(SCHEMA_CONTRACT_ENTITIES)}"
            )
        return cast(TSchemaContract, value)
    contract: Dict[str, str] = {}
    for pair in value.split(","):
        entity, _, mode = (part.strip() for part in pair.partition("="))
        if entity not in SCHEMA_CONTRACT_ENTITIES or mode not in SCHEMA_CONTRACT_MODES:
            raise GitLabSourceError(
                f"bad schema contract {pair!r}: ENTITY=MODE with ENTITY in {', '.join(SCHEMA_CONTRACT_ENTITIES)}"
                f" and MODE in {', '.join(SCHEMA_CONTRACT_MODES)}"
            )
        contract[entity] = mode
    return cast(TSchemaContract, contract)


def source_kwargs(args: argparse.Namespace) -> Dict[str, Any]:
    """Only the options given on the command line; dlt injects the rest from config and secrets."""
    kwargs: Dict[str, Any] = {}
    if args.groups:
        kwargs["groups"] = args.groups
    if args.projects:
        kwargs["projects"] = args.projects
    if args.since:
        kwargs["start_date"] = parse_since(args.since)
    if args.no_subgroups:
        kwargs["include_subgroups"] = False
    if args.include_archived:
        kwargs["include_archived"] = True
    return kwargs


def select_resources(source: Any, resources: Optional[str]) -> Any:
    if not resources:
        return source
    wanted = [name.strip() for name in resources.split(",") if name.strip()]
    unknown = sorted(set(wanted) - set(source.resources))
    if unknown:
        raise GitLabSourceError(
            f"unknown resource(s) {', '.join(unknown)}: choose from {', '.join(source.resources)}"
        )
    return source.with_resources(*wanted)


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
    lines = [f"Loaded {sum(top_level.values())} rows into {len(top_level)} tables in {seconds:.1f} s"
             f" with {stats.requests} GitLab requests:"]
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
    lines.append(f"Look at it: dlt pipeline {pipeline.pipeline_name} show")
    return lines


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
        print(f"Dropped load package(s) {', '.join(cut_short)} that a killed run left half-loaded;"
              " this run extracts their data again")
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


def restore_exported_schemas(export_dir: Path, before: Dict[Path, bytes]) -> None:
    """Puts the exported schemas back as they were: dlt exports while it runs, a failed run must not."""
    for path in export_dir.glob("*.schema.yaml"):
        if path not in before:
            path.unlink()
    for path, content in before.items():
        path.write_bytes(content)


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
    destination = make_destination(args.destination)
    schema_contract = parse_schema_contract(
        args.schema_contract or dlt.config.get("sources.gitlab.schema_contract", str)
    )
    kwargs = source_kwargs(args)
    connection = {"base_url": args.base_url}
    if args.demo:
        from gitlab_emulator import TOKENS, GitLabEmulator

        emulator = stack.enter_context(GitLabEmulator())
        connection = {"base_url": emulator.base_url, "access_token": TOKENS["maintainer"]}
        kwargs.setdefault("groups", [DEMO_GROUP])
        print(f"Demo: GitLab emulator at {emulator.base_url}, loading group(s) {', '.join(kwargs['groups'])}")
    stats = GitLabRunStats()
    credentials = gitlab_credentials(**connection)
    budget = make_budget(credentials.api_url)
    stack.callback(budget.close)  # a request still waiting for its turn must not keep the process alive
    close_on_ctrl_c(budget, stack)
    source = gitlab_source(credentials=credentials, run_stats=stats, request_budget=budget, **kwargs)
    source = select_resources(source, args.resources)
    export_dir = Path(dlt.config.get("gitlab_pipeline.export_schema_path", str) or SCHEMAS_DIR / "export")
    exported_before = {path: path.read_bytes() for path in export_dir.glob("*.schema.yaml")}
    pipeline = dlt.pipeline(
        pipeline_name=PIPELINE_NAME,
        destination=destination,
        dataset_name=args.dataset,
        import_schema_path=str(SCHEMAS_DIR / "import"),
        export_schema_path=str(export_dir),
        progress=LogCollector(log_period=PROGRESS_LOG_PERIOD_SECONDS, logger=sys.stdout, dump_system_stats=False),
    )
    started = time.monotonic()
    try:
        finish_pending_load(pipeline)
        load_info = pipeline.run(  # dlt takes None for both, though its annotations leave None out
            source,
            refresh=cast(TRefreshMode, "drop_sources" if args.full_refresh else None),
            schema_contract=cast(TSchemaContract, schema_contract),
        )
        load_info.raise_on_failed_jobs()
    except BaseException as exc:
        if interrupted(exc) and pipeline.has_pending_data:  # dlt resumes a package from where it stopped
            raise RunInterrupted(kept=True) from exc
        abort_pending_packages(pipeline)
        restore_exported_schemas(export_dir, exported_before)
        if interrupted(exc):
            raise RunInterrupted(kept=False) from exc
        raise
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
