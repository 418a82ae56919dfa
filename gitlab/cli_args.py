"""The command line of `gitlab_pipeline.py`: its flags and help, and each flag checked once, in one line if bad."""

import argparse
import textwrap
from typing import Dict, List, Optional, Sequence, cast

from dlt.common.destination import Destination
from dlt.common.normalizers.naming.snake_case import NamingConvention
from dlt.common.schema.typing import TSchemaContract

from gitlab.destinations import DESTINATIONS, make_destination
from gitlab.errors import GitLabSourceError
from gitlab.job_logs.rows import FINDINGS_TABLE, JOB_LOGS_TABLE, SECTIONS_TABLE
from gitlab.settings import DEFAULT_BASE_URL, DEFAULT_DATASET, DEMO_DATASET, START_DATE
from gitlab.tables import TABLE

ERASE_COMMAND = "erase-leaky-jobs"
DEFAULT_DESTINATION = "duckdb"
SCHEMA_CONTRACT_MODES = ("evolve", "freeze", "discard_row", "discard_value")
SCHEMA_CONTRACT_ENTITIES = ("tables", "columns", "data_type")
EPILOG_WIDTH = 100
LOG_TABLES = (JOB_LOGS_TABLE, SECTIONS_TABLE, FINDINGS_TABLE)  # one fetch of each log fills all three

TOKEN_HELP = (
    "The token: GITLAB_TOKEN, or access_token in [sources.gitlab] of .dlt/secrets.toml. A personal, group or"
    " project access token with the read_api scope (api to erase jobs), or an OAuth token; CI job tokens cannot"
    " read what this loads. It is never taken as a flag, as flags end up in shell history."
)
SETTINGS_HELP = (
    "Every option can also come from .dlt/config.toml ([sources.gitlab] groups, base_url, start_date, ...) or the"
    " environment the dlt way (SOURCES__GITLAB__GROUPS='[\"my-org\"]'); flags win."
)


EXIT_LOADED, EXIT_FAILED, EXIT_SKIPPED, EXIT_INTERRUPTED = 0, 1, 2, 130
EXIT_CODES_HELP = (
    "Exit codes: 0 everything loaded; 2 loaded, but parts GitLab kept failing on were skipped (named in the summary,"
    " read again on the next run); 1 failed, nothing of this run was loaded; 130 interrupted (one line says what"
    " was kept)."
)


def _epilog(*paragraphs: str) -> str:
    return "\n\n".join(textwrap.fill(paragraph, width=EPILOG_WIDTH, break_on_hyphens=False) for paragraph in paragraphs)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """The flags of a load (`gitlab_pipeline.py [--group PATH] ...`)."""
    tables = ", ".join(TABLE)
    parser = argparse.ArgumentParser(
        prog="gitlab_pipeline.py",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        usage=f"%(prog)s [--group PATH] [--project PATH] [options]\n       %(prog)s {ERASE_COMMAND} [--yes] [options]",
        description=_epilog(
            "Load GitLab groups and projects (CI pipelines, jobs and their logs, issues, merge"
            " requests, commits, ...) into DuckDB, PostgreSQL or AlloyDB with dlt; later runs fetch"
            " only what changed."
        ),
        epilog=_epilog(
            TOKEN_HELP,
            f"Tables: {tables}. {', '.join(LOG_TABLES)} come from one fetch of each finished job's log and load"
            " together.",
            SETTINGS_HELP,
            f"Subcommand: {ERASE_COMMAND} lists the jobs whose logs leaked secrets (a dry run) and, with --yes, erases"
            f" their logs in GitLab; see %(prog)s {ERASE_COMMAND} --help.",
            EXIT_CODES_HELP,
        ),
    )
    parser.add_argument(
        "--group",
        action="append",
        dest="groups",
        metavar="PATH",
        help="full path or id of a group to load (repeatable); its subgroups are followed",
    )
    parser.add_argument(
        "--project",
        action="append",
        dest="projects",
        metavar="PATH",
        help="full path or id of a project to load (repeatable)",
    )
    parser.add_argument(
        "--base-url", metavar="URL", help=f"GitLab's URL, with or without /api/v4 (default {DEFAULT_BASE_URL})"
    )
    parser.add_argument(
        "--resources",
        metavar="TABLES",
        help="comma-separated tables to load (default all, listed below); their parents are read, not loaded",
    )
    _add_destination_flags(parser)
    parser.add_argument(
        "--since",
        metavar="DATE",
        help=f"ISO date where a project's history starts on its first load (default {START_DATE[:10]})",
    )
    parser.add_argument(
        "--schema-contract",
        metavar="MODE",
        help="evolve (default), freeze, or per entity, e.g. columns=freeze,data_type=evolve",
    )
    parser.add_argument(
        "--full-refresh",
        action="store_true",
        help="drop this dataset's GitLab tables and state, and load everything again",
    )
    parser.add_argument("--no-subgroups", action="store_true", help="do not follow the subgroups of --group")
    parser.add_argument("--include-archived", action="store_true", help="also load the groups' archived projects")
    parser.add_argument(
        "--demo",
        action="store_true",
        help=f"load the built-in GitLab emulator (offline), into its own dataset ({DEMO_DATASET})",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    return parser.parse_args(argv)


def parse_erase_args(argv: Sequence[str]) -> argparse.Namespace:
    """The flags of `gitlab_pipeline.py erase-leaky-jobs`."""
    parser = argparse.ArgumentParser(
        prog=f"gitlab_pipeline.py {ERASE_COMMAND}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=_epilog(
            f"List the jobs whose logs leaked secrets ({FINDINGS_TABLE} of the dataset, less the jobs"
            " job_erasures records as done) and, with --yes, erase their logs and artifacts in"
            " GitLab. Without --yes it is a dry run: it reads only the destination and needs no"
            " token."
        ),
        epilog=_epilog(
            "Erasing needs a token of a user with the Maintainer role and the api scope: GITLAB_TOKEN, or"
            " access_token in [sources.gitlab] of .dlt/secrets.toml.",
            "It talks only to the GitLab the findings were loaded from. Each outcome is recorded in job_erasures:"
            " a job is done once GitLab erased it, or says it no longer exists in a project the token can see; a"
            " job the token may not erase (403) or cannot see (404) stays listed for the next run, e.g. with a"
            " Maintainer's token.",
        ),
    )
    parser.add_argument(
        "--yes",
        action="store_true",
        help="erase for real (needs the Maintainer role and the api scope); without it, a dry run",
    )
    parser.add_argument(
        "--base-url",
        metavar="URL",
        help="GitLab's URL; by default the one the findings were loaded from, and another one only"
        " with --confirm-base-url",
    )
    parser.add_argument(
        "--confirm-base-url",
        action="store_true",
        help="erase at --base-url although the findings were loaded from another URL (the GitLab moved)",
    )
    _add_destination_flags(parser)
    parser.add_argument("--demo", action="store_true", help=f"the demo's dataset ({DEMO_DATASET}); a dry run only")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    return parser.parse_args(argv)


def _add_destination_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--destination",
        default=DEFAULT_DESTINATION,
        metavar="NAME",
        help=f"one of {', '.join(DESTINATIONS)} (default {DEFAULT_DESTINATION}); credentials from"
        " [destination.<name>] in .dlt/secrets.toml or DESTINATION__<NAME>__CREDENTIALS",
    )
    parser.add_argument(
        "--dataset",
        metavar="NAME",
        help=f"dataset (schema) name: lower-case letters, digits and underscores (default {DEFAULT_DATASET})",
    )


def dataset_name(args: argparse.Namespace) -> str:
    """`--dataset` as given, or the default; refused when dlt would load into a name other than the one given."""
    name: str = args.dataset if args.dataset is not None else (DEMO_DATASET if args.demo else DEFAULT_DATASET)
    destination = Destination.from_reference(make_destination(args.destination))
    assert destination is not None  # make_destination names one of DESTINATIONS
    capabilities = destination.capabilities()
    used = NamingConvention(capabilities.max_identifier_length).normalize_table_identifier(name)
    if used != name:
        raise GitLabSourceError(
            f"--dataset {name!r} is not a name dlt uses as given: it would load into {used!r};"
            f" pass --dataset {used}, or a name of lower-case letters, digits and underscores"
        )
    return name


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


def resources_of(tables: Optional[str]) -> Optional[List[str]]:
    """The source's resources that load `--resources` (None: all); the log tables share the `job_logs` resource."""
    if tables is None:
        return None
    wanted = [name.strip() for name in tables.split(",") if name.strip()]
    unknown = sorted(set(wanted) - set(TABLE)) or ([] if wanted else [repr(tables)])
    if unknown:
        raise GitLabSourceError(f"unknown resource(s) {', '.join(unknown)}: choose from {', '.join(TABLE)}")
    return sorted({JOB_LOGS_TABLE if name in LOG_TABLES else name for name in wanted})
