"""Every bad input the CLI can be given (here and in the README): one `error:` line naming the cause, exit 1,
nothing written; and what `--help` tells before anything runs."""

import os
import re
import subprocess
import sys
from typing import Dict, List, Optional, Tuple

import pytest

from gitlab_emulator import TOKENS
from tests.utils import CLI, REPO, TABLE_KEYS, Workspace

LOG_TABLES = ("job_logs", "job_log_sections", "secret_findings")
BAD_SECRETS_TOML = '[sources.gitlab]\nsecret_patterns = {internal_key = "key-\\d+"}\n'  # "\d" is no TOML escape
WRONG_PASSWORD = "postgresql://loader:wrong-password@127.0.0.1:{port}/nowhere"


# case: (arguments, environment, file written into the workspace first, words the error line must hold)
BAD_INPUTS: Dict[str, Tuple[List[str], Dict[str, str], Optional[Tuple[str, str]], Tuple[str, ...]]] = {
    "no token": (["--group", "acme"], {"GITLAB_TOKEN": ""}, None, ("no GitLab token", "GITLAB_TOKEN")),
    "rejected token": (["--group", "acme"], {"GITLAB_TOKEN": "glpat-revoked"}, None, ("401 Unauthorized",)),
    "CI job token": (["--group", "acme"], {"GITLAB_TOKEN": TOKENS["job"]}, None, ("CI job token", "read_api")),
    "job token type": (["--group", "acme"], {"SOURCES__GITLAB__TOKEN_TYPE": "job"}, None, ("CI job token",)),
    "unknown group": (["--group", "no-such-group"], {}, None, ("group 'no-such-group'",)),
    "empty group": (["--group", ""], {}, None, ("--group ''", "empty")),
    "blank group": (["--group", "acme", "--group", "  "], {}, None, ("--group '  '", "empty")),
    "empty project": (["--project", ""], {}, None, ("--project ''", "empty")),
    "unknown project": (["--project", "acme/no-such-project"], {}, None, ("project 'acme/no-such-project'",)),
    "invisible project": (["--project", "acme/secret-project"], {}, None, ("project 'acme/secret-project'",)),
    "nothing to load": ([], {}, None, ("name at least one group or project",)),
    "bad --since": (
        ["--group", "acme", "--since", "last tuesday"],
        {},
        None,
        ("'last tuesday'", "--since", "ISO 8601"),
    ),
    "future --since": (["--group", "acme", "--since", "2099-01-01"], {}, None, ("'2099-01-01'", "--since", "future")),
    "unknown resource": (["--group", "acme", "--resources", "jobs,wikis"], {}, None, ("unknown resource(s) wikis",)),
    "internal resource": (
        ["--group", "acme", "--resources", "project_cursors"],
        {},
        None,
        ("unknown resource(s) project_cursors",),
    ),
    "unknown destination": (
        ["--group", "acme", "--destination", "oracle"],
        {},
        None,
        ("unknown destination 'oracle'",),
    ),
    "bad dataset name": (
        ["--group", "acme", "--dataset", "bad name;drop"],
        {},
        None,
        ("--dataset 'bad name;drop'", "'bad_name_drop'"),
    ),
    "dataset name dlt would change": (
        ["--group", "acme", "--dataset", "GitLab-Data"],
        {},
        None,
        ("--dataset 'GitLab-Data'", "'git_lab_data'"),
    ),
    "bad schema contract": (
        ["--group", "acme", "--schema-contract", "lenient"],
        {},
        None,
        ("schema contract 'lenient'",),
    ),
    "base URL without scheme": (["--group", "acme", "--base-url", "gitlab.example.com"], {}, None, ("http(s) URL",)),
    "unreachable GitLab": (
        ["--group", "acme", "--base-url", "http://127.0.0.1:9"],
        {},
        None,
        ("cannot reach http://127.0.0.1:9",),
    ),
    "bad secrets.toml": (
        ["--group", "acme"],
        {},
        (".dlt/secrets.toml", BAD_SECRETS_TOML),
        (".dlt/secrets.toml", "line 2"),
    ),
    "bad config.toml": (
        ["--group", "acme"],
        {},
        (".dlt/config.toml", "[sources.gitlab\n"),
        (".dlt/config.toml", "line 1"),
    ),
    "refused database password": (
        ["--group", "acme", "--destination", "postgres"],
        {"DESTINATION__POSTGRES__CREDENTIALS": WRONG_PASSWORD},
        None,
        ("cannot connect to the database", "password"),
    ),
    "erase: unknown destination": (
        ["erase-leaky-jobs", "--destination", "oracle"],
        {},
        None,
        ("unknown destination 'oracle'",),
    ),
    "erase: bad dataset name": (
        ["erase-leaky-jobs", "--dataset", "bad name;drop"],
        {},
        None,
        ("--dataset 'bad name;drop'", "'bad_name_drop'"),
    ),
    "erase: base URL without scheme": (
        ["erase-leaky-jobs", "--yes", "--base-url", "gitlab.example.com"],
        {},
        None,
        ("http(s) URL",),
    ),
}


def _data_tables(workspace: Workspace) -> List[str]:
    """Every table the run may have created, in any dataset (a refused dataset name included)."""
    return [
        name
        for (name,) in workspace.query(
            "select table_schema || '.' || table_name from information_schema.tables"
            " where table_schema not in ('information_schema', 'pg_catalog', 'main')"
        )
    ]


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_gives_one_line_naming_the_cause_and_writes_nothing(emulator, workspace, request, case):
    args, env, file, words = BAD_INPUTS[case]
    if file:
        (workspace.root / file[0]).write_text(file[1])
    if "DESTINATION__POSTGRES__CREDENTIALS" in env:
        env = {
            **env,
            "DESTINATION__POSTGRES__CREDENTIALS": WRONG_PASSWORD.format(
                port=request.getfixturevalue("postgres_server").port
            ),
        }
    base_url = [] if "--base-url" in args or args[:1] == ["erase-leaky-jobs"] else ["--base-url", emulator.base_url]
    result = workspace.run(*args, *base_url, env=env)
    assert result.returncode == 1, result.output
    error = result.error  # exactly one line, starting with "error: ", no traceback
    assert result.stderr.strip() == error, "nothing but the error line"
    for word in words:
        assert word in error, (word, error)
    assert _data_tables(workspace) == []
    assert not workspace.schema_export_dir.exists() or list(workspace.schema_export_dir.iterdir()) == []


def test_the_resources_offered_are_the_tables_a_user_can_load(emulator, workspace):
    result = workspace.run("--base-url", emulator.base_url, "--group", "acme", "--resources", "wikis")
    offered = set(re.split(r",\s*", result.error.split("choose from", 1)[1].strip()))
    assert offered == set(TABLE_KEYS) | set(LOG_TABLES)


@pytest.mark.parametrize("table", ["secret_findings", "job_log_sections"])
def test_a_log_table_is_selectable_by_its_name(emulator, workspace, table):
    result = workspace.run("--base-url", emulator.base_url, "--project", "acme/website", "--resources", table)
    assert result.returncode == 0, result.output
    loaded = workspace.tables()
    assert table in loaded and not loaded & set(TABLE_KEYS), loaded  # the logs' parents are read, not loaded
    assert workspace.query(f"select count(*) from gitlab_data.{table}")[0][0] > 0


def test_a_postgres_url_without_a_password_loads(emulator, postgres_server, tmp_path, monkeypatch):
    """Trust or IAM auth (the AlloyDB Auth Proxy): the URL carries a user, no password."""
    role = "passwordless_loader"
    postgres_server.create_role(role, password="never-sent")
    postgres_server.create_database(role, owner=role)
    postgres_server.trust_role(role)
    dsn = postgres_server.dsn(role, user=role)
    assert ":" not in dsn.split("//", 1)[1].split("@", 1)[0]
    workspace = Workspace(tmp_path, TOKENS["maintainer"], "alloydb", dsn)
    result = workspace.run("--base-url", emulator.base_url, "--project", "acme/website", env={"PGPASSFILE": os.devnull})
    assert result.returncode == 0, result.output
    assert workspace.query("select count(*) from gitlab_data.projects") == [(1,)]


def _help(*args: str) -> str:
    proc = subprocess.run(
        [sys.executable, str(CLI), *args, "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    return proc.stdout


def test_help_covers_the_token_the_tables_the_defaults_and_the_subcommand():
    text = _help()
    for word in (
        "GITLAB_TOKEN",
        "read_api",
        "erase-leaky-jobs",
        "https://gitlab.com",
        "2000-01-01",
        "gitlab_data",
        "duckdb",
        "postgres",
        "alloydb",
        ".dlt/config.toml",
        ".dlt/secrets.toml",
    ):
        assert word in text, word
    for table in (*TABLE_KEYS, *LOG_TABLES):
        assert re.search(rf"\b{table}\b", text), table
    assert "project_cursors" not in text


def test_erase_help_covers_the_token_the_dry_run_and_where_the_jobs_come_from():
    text = _help("erase-leaky-jobs")
    for word in (
        "GITLAB_TOKEN",
        "api scope",
        "Maintainer",
        "--yes",
        "dry run",
        "secret_findings",
        "job_erasures",
        "--base-url",
        "--confirm-base-url",
        "gitlab_data",
        "duckdb",
    ):
        assert word in text, word
