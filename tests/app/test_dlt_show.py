"""`dlt pipeline gitlab_pipeline show` after the load: dlt's dashboard lists the GitLab tables and runs a query."""

import os
import sys
from pathlib import Path
from typing import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.app.browser_utils import DemoData, Server, save_screenshot
from tests.utils import DATASET, TABLE_KEYS

VENV_BIN = Path(sys.executable).parent  # `dlt` and the `marimo` it runs come from the project's virtualenv
LOAD_TIMEOUT_MS = 90_000
QUERY = "SELECT status, COUNT(*) AS pipeline_count FROM pipelines GROUP BY status ORDER BY status"


@pytest.fixture(scope="module")
def dlt_show(demo_data: DemoData) -> Iterator[str]:
    """Runs the README's command in the workspace, as a user would, and yields the URL it prints."""
    ws = demo_data.ws
    env = ws.env({"PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}", "BROWSER": "true"})
    server = Server([str(VENV_BIN / "dlt"), "pipeline", "gitlab_pipeline", "show"], cwd=ws.root, env=env,
                    log=ws.root / "dlt_show.log")
    try:
        yield server.wait_for_line(r"URL: (http://\S+)").group(1)
    finally:
        server.stop()


def test_dlt_pipeline_show_lists_the_gitlab_tables_and_runs_a_query(dlt_show: str, page: Page, demo_data: DemoData):
    page.goto(dlt_show)
    expect(page.get_by_role("heading", name="Pipeline gitlab_pipeline")).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    expect(page.get_by_role("heading", name="Dataset: Browse Data and State")).to_be_visible(timeout=LOAD_TIMEOUT_MS)

    # the table list shows 10 rows a page: show them all, then read the names
    tables = page.get_by_role("table").filter(has_text="write_disposition")
    expect(tables).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    page.get_by_role("button", name="10 / page").click()
    page.get_by_role("menuitem", name="100", exact=True).click()
    for name in TABLE_KEYS:
        expect(tables.get_by_role("cell", name=name, exact=True).first).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    listed = {row.get_by_role("cell").nth(1).inner_text().strip() for row in tables.get_by_role("row").all()[1:]}
    assert set(TABLE_KEYS) <= listed <= demo_data.ws.tables(), sorted(listed)

    editor = page.locator(".cm-content").first
    editor.click()
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.insert_text(QUERY)
    page.get_by_role("button", name="Run Query").click()
    result = page.get_by_role("table").filter(has_text="pipeline_count").filter(has_not_text="row_count")
    expect(result).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    expected = demo_data.ws.query(
        f"select status, count(*) from {DATASET}.pipelines group by status order by status"
    )
    assert len(expected) > 1
    rows = result.get_by_role("row")
    expect(rows).to_have_count(len(expected) + 1)  # and the header
    shown = [tuple(cell.inner_text().strip() for cell in row.get_by_role("cell").all() if cell.inner_text().strip())
             for row in rows.all()[1:]]
    assert shown == [(status, str(count)) for status, count in expected]
    result.scroll_into_view_if_needed()
    save_screenshot(page, "dlt-pipeline-show")
