"""Fixtures of the browser tests: the demo data loaded once by the CLI, and a headless Chromium driven by Playwright."""

from typing import Iterator

import dlt
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from gitlab_emulator import TOKENS, GitLabEmulator
from tests.app.browser_utils import CHROMIUM, CHROMIUM_ARGS, VIEWPORT, DemoData
from tests.utils import DATASET, Workspace

JOB_LOGS_FINGERPRINT_KEY = "tests-app-fingerprint-key"


def _load_job_logs(ws: Workspace, emu: GitLabEmulator) -> None:
    """Loads `job_logs`, `job_log_sections` and `secret_findings` of the demo jobs into the workspace's dataset.

    Only while the source does not load job logs itself: it fetches the emulator's traces with the
    project's own `job_logs` transformer, into the same DuckDB file and dataset as the CLI's load.
    """
    from gitlab.credentials import gitlab_credentials
    from gitlab.job_logs import job_logs
    from gitlab.job_logs.config import JobLogsConfiguration

    rows = emu.truth_rows("jobs")
    jobs = dlt.resource(lambda: (yield rows), name="demo_jobs", selected=False)
    logs = job_logs(
        jobs, gitlab_credentials(access_token=TOKENS["maintainer"], base_url=emu.base_url),
        config=JobLogsConfiguration(fingerprint_key=JOB_LOGS_FINGERPRINT_KEY),
    )
    pipeline = dlt.pipeline(
        "tests_app_job_logs",
        pipelines_dir=str(ws.root / "job_logs_pipelines"),
        destination=dlt.destinations.duckdb(str(ws.duckdb_path)),
        dataset_name=DATASET,
    )
    pipeline.run(logs).raise_on_failed_jobs()


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory) -> DemoData:
    """The demo world (group `acme`) loaded by the CLI into DuckDB, job logs included, once per session."""
    ws = Workspace(tmp_path_factory.mktemp("app_demo"), TOKENS["maintainer"])
    with GitLabEmulator() as emu:
        result = ws.run("--base-url", emu.base_url, "--group", "acme")
        assert result.returncode == 0, result.output
        if "job_log_sections" not in ws.tables():
            _load_job_logs(ws, emu)
        planted = [secret.value for secret in emu.planted_secrets]
    assert {"pipelines", "jobs", "merge_requests", "issues", "job_log_sections", "secret_findings"} <= ws.tables()
    return DemoData(ws, planted)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """The OS's Chromium, headless, through Playwright (which cannot download its own browsers here).

    Module scope: Playwright's sync API keeps an asyncio loop running while it is open, which would
    break every later test that calls `asyncio.run`."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} not found: run `bash tools/install-chromium.sh` (or set CHROMIUM)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context and page per test."""
    context = browser.new_context(viewport=VIEWPORT)
    try:
        yield context.new_page()
    finally:
        context.close()
