"""`dlt pipeline gitlab_pipeline show` after a load into DuckDB and into PostgreSQL: dlt's dashboard lists the GitLab
tables, loads their row counts, lists the loads with each one's row counts, and runs a query; every number equals
SQL run on the destination here."""

import os
import shutil
import sys
from pathlib import Path
from typing import Dict, Iterator, List

import pytest
from playwright.sync_api import Locator, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from gitlab_emulator import TOKENS, GitLabEmulator
from tests.app.browser_utils import Server, save_screenshot
from tests.utils import DATASET, TABLE_KEYS, Workspace, counts_by_sql, dataset_tables

VENV_BIN = Path(sys.executable).parent  # `dlt` and the `marimo` it runs come from the project's virtualenv
LOAD_TIMEOUT_MS = 90_000
QUERY = "SELECT status, COUNT(*) AS pipeline_count FROM pipelines GROUP BY status ORDER BY status"
SCHEMA = "gitlab"  # the source's schema: the dashboard lists the loads of the pipeline's schemas
POSTGRES_DATABASE = "t_dlt_show"
MARIMO_PAGE_ROWS = 10
# The dashboard runs all its sections again a second after it opens (marimo's `mo.watch.file` on the pipeline's
# trace starts from mtime 0): that re-run drops a load selected meanwhile, so the test selects it again, as a user
# would; on a loaded machine the re-run can take longer than the first selection.
SELECT_ATTEMPTS = 4
SELECT_TIMEOUT_MS = 30_000


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def loaded(request, tmp_path_factory) -> Workspace:
    """A workspace holding a load of the demo world (group `acme`), made by the CLI.

    DuckDB: the browser tests' session-wide demo data (one load). PostgreSQL: loaded here on the throwaway
    server, twice (the second run incremental, after the emulator's world has moved on a day)."""
    if request.param == "duckdb":
        return request.getfixturevalue("demo_data").ws
    server = request.getfixturevalue("postgres_server")
    password = f"pw-{POSTGRES_DATABASE}"
    server.create_role(POSTGRES_DATABASE, password=password)
    server.create_database(POSTGRES_DATABASE, owner=POSTGRES_DATABASE)
    ws = Workspace(tmp_path_factory.mktemp("dlt_show_postgres"), TOKENS["maintainer"], "postgres",
                   server.dsn(POSTGRES_DATABASE, user=POSTGRES_DATABASE, password=password))
    with GitLabEmulator() as emu:
        for run in range(2):
            if run:
                emu.advance()
            result = ws.run("--base-url", emu.base_url, "--group", "acme")
            assert result.returncode == 0, result.output
    return ws


@pytest.fixture(scope="module")
def truth(loaded: Workspace, tmp_path_factory) -> Workspace:
    """What the tests compare the dashboard with. For DuckDB, a copy of the file made before `show` starts: the
    dashboard opens the file to write, and a reader here at the same moment makes the dashboard's query fail."""
    if loaded.database_dsn:
        return loaded
    copy = Workspace(tmp_path_factory.mktemp("dlt_show_truth"), loaded.token)
    shutil.copyfile(loaded.duckdb_path, copy.duckdb_path)
    wal = loaded.duckdb_path.with_name(loaded.duckdb_path.name + ".wal")
    if wal.exists():
        shutil.copyfile(wal, copy.duckdb_path.with_name(wal.name))
    return copy


@pytest.fixture(scope="module")
def dlt_show(loaded: Workspace, truth: Workspace) -> Iterator[str]:
    """Runs the README's command in the workspace, as a user would, and yields the URL it prints."""
    env = loaded.env({"PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}", "BROWSER": "true"})
    server = Server([str(VENV_BIN / "dlt"), "pipeline", "gitlab_pipeline", "show"], cwd=loaded.root, env=env,
                    log=loaded.root / "dlt_show.log")
    try:
        yield server.wait_for_line(r"URL: (http://\S+)").group(1)
    finally:
        server.stop()


def open_dashboard(page: Page, url: str) -> Locator:
    """Opens the dashboard and returns its table list, once drawn."""
    page.goto(url)
    expect(page.get_by_role("heading", name="Pipeline gitlab_pipeline")).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    expect(page.get_by_role("heading", name="Dataset: Browse Data and State")).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    tables = page.get_by_role("table").filter(has_text="write_disposition")
    expect(tables).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    return tables


def show_100_rows(page: Page, table: Locator) -> None:
    """Marimo's tables show `MARIMO_PAGE_ROWS` rows a page: show up to 100 (this dataset has fewer tables)."""
    page_size = table.locator("xpath=ancestor::*[.//button[normalize-space()='10 / page']][1]").get_by_role(
        "button", name="10 / page")
    page_size.click()
    page.get_by_role("menuitem", name="100", exact=True).click()


def cells(table: Locator) -> List[Dict[str, str]]:
    """The rows of a marimo table as {column: text shown}; the selection column has no name."""
    header, *rows = table.evaluate("t => [...t.rows].map(r => [...r.cells].map(c => c.innerText.trim()))")
    names = [text.split("\n")[0] for text in header]  # a query result's headers add the column's type below
    return [dict(zip(names, row)) for row in rows]


def shown_counts(rows: List[Dict[str, str]]) -> Dict[str, int]:
    """{table: row count} of the rows shown, counts written with thousands separators."""
    counts = {row["name"]: int(row["row_count"].replace(",", "")) for row in rows}
    assert len(counts) == len(rows), rows
    return counts


def test_dlt_pipeline_show_lists_the_gitlab_tables_and_runs_a_query(dlt_show: str, page: Page, truth: Workspace):
    tables = open_dashboard(page, dlt_show)
    show_100_rows(page, tables)
    for name in TABLE_KEYS:
        expect(tables.get_by_role("cell", name=name, exact=True).first).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    listed = {row["name"] for row in cells(tables)}
    assert set(TABLE_KEYS) <= listed <= truth.tables(), sorted(listed)

    editor = page.locator(".cm-content").first
    editor.click()
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.insert_text(QUERY)
    page.get_by_role("button", name="Run Query").click()
    result = page.get_by_role("table").filter(has_text="pipeline_count").filter(has_not_text="row_count")
    expect(result).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    expected = truth.query(f"select status, count(*) from {DATASET}.pipelines group by status order by status")
    assert len(expected) > 1
    expect(result.get_by_role("row")).to_have_count(len(expected) + 1)  # and the header
    shown = [(row["status"], row["pipeline_count"]) for row in cells(result)]
    assert shown == [(status, str(count)) for status, count in expected]
    if truth.destination == "duckdb":  # the README's picture
        result.scroll_into_view_if_needed()
        save_screenshot(page, "dlt-pipeline-show")


def test_load_row_counts_shows_the_rows_of_every_table(dlt_show: str, page: Page, truth: Workspace):
    tables = open_dashboard(page, dlt_show)
    page.get_by_role("switch", name="Show internal tables").click()  # _dlt_loads and co. too
    expect(tables.get_by_role("cell", name="_dlt_loads", exact=True).first).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    assert "row_count" not in cells(tables)[0]  # counted only on request: it queries every table
    for attempt in range(1, SELECT_ATTEMPTS + 1):  # again when the dashboard's own re-run dropped the counts
        try:
            page.get_by_role("button", name="Load row counts").click(timeout=SELECT_TIMEOUT_MS)
            expect(tables.get_by_role("columnheader", name="row_count")).to_be_visible(timeout=SELECT_TIMEOUT_MS)
            show_100_rows(page, tables)
            break
        except (AssertionError, PlaywrightTimeoutError):
            if attempt == SELECT_ATTEMPTS:
                raise
            internal = page.get_by_role("switch", name="Show internal tables")
            if internal.count() and not internal.is_checked():
                internal.click()
    expect(tables.get_by_role("cell", name="pipelines", exact=True).first).to_be_visible(timeout=LOAD_TIMEOUT_MS)

    expected = counts_by_sql(truth, dataset_tables(truth))
    assert {"jobs", "issues__labels", "_dlt_loads", "_dlt_pipeline_state", "_dlt_version"} <= set(expected)
    expect(tables.get_by_role("row")).to_have_count(len(expected) + 1, timeout=LOAD_TIMEOUT_MS)  # and the header
    assert shown_counts(cells(tables)) == expected


def open_load_details(page: Page, index: int, load_id: str, tables: int) -> Dict[str, int]:
    """Selects the `index`-th load of the loads table and returns the row counts its details show, all `tables`."""
    loads = page.get_by_role("table").filter(has_text="schema_version_hash")
    for attempt in range(1, SELECT_ATTEMPTS + 1):
        try:
            expect(loads).to_be_visible(timeout=SELECT_TIMEOUT_MS)
            loads.get_by_role("row").nth(index + 1).get_by_role("checkbox", name="Select row").click(
                timeout=SELECT_TIMEOUT_MS
            )
            expect(page.get_by_text(f"Load Details for Load ID: {load_id}")).to_be_visible(timeout=SELECT_TIMEOUT_MS)
            details = page.get_by_role("table").filter(has=page.get_by_role("columnheader", name="row_count"))
            expect(details).to_be_visible(timeout=SELECT_TIMEOUT_MS)
            if tables > MARIMO_PAGE_ROWS:
                show_100_rows(page, details)
            expect(details.get_by_role("row")).to_have_count(tables + 1, timeout=SELECT_TIMEOUT_MS)  # and the header
            return shown_counts(cells(details))
        except (AssertionError, PlaywrightTimeoutError):
            if attempt == SELECT_ATTEMPTS:
                raise
            switch = loads_section_switch(page)
            if switch.count() and not switch.is_checked():  # the re-run closed the section: open it again
                switch.click()
    raise AssertionError(f"load {load_id} was never shown")


def loads_section_switch(page: Page) -> Locator:
    return page.get_by_role("heading", name="Pipeline Loads").locator("xpath=ancestor::div[1]").get_by_role("switch")


def test_pipeline_loads_lists_the_loads_and_the_rows_each_one_loaded(dlt_show: str, page: Page, truth: Workspace):
    open_dashboard(page, f"{dlt_show}?sections=loads")  # the dashboard's link to the section: opened at its start
    loads = page.get_by_role("table").filter(has_text="schema_version_hash")
    expect(loads).to_be_visible(timeout=LOAD_TIMEOUT_MS)

    expected = truth.query(
        f"select load_id, status from {DATASET}._dlt_loads where schema_name = '{SCHEMA}' order by inserted_at desc"
    )
    assert len(expected) == 2 if truth.destination == "postgres" else len(expected) >= 1  # the fixture's runs
    shown = [(row["load_id"], row["status"]) for row in cells(loads)]
    assert shown == [(load_id, str(status)) for load_id, status in expected]

    # each load's details: the rows it wrote to each table that records its load (child tables join their parent)
    with_load_id = dataset_tables(truth, "_dlt_load_id")
    assert "jobs" in with_load_id and "issues__labels" not in with_load_id
    loaded_rows = []
    for index, (load_id, _) in enumerate(expected):
        expected_rows = counts_by_sql(truth, with_load_id, f"where _dlt_load_id = '{load_id}'")
        assert open_load_details(page, index, load_id, len(expected_rows)) == expected_rows, load_id
        loaded_rows.append(sum(expected_rows.values()))
    assert all(loaded_rows) and loaded_rows == sorted(loaded_rows)  # newest first: the incremental load is smaller
