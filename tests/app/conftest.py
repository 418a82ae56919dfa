"""Fixtures of the browser tests: the demo data loaded once by the CLI, and a headless Chromium driven by Playwright."""

from typing import Iterator

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from gitlab_emulator import TOKENS, GitLabEmulator
from tests.app.browser_utils import CHROMIUM, CHROMIUM_ARGS, VIEWPORT, DemoData
from tests.utils import Workspace


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory) -> DemoData:
    """The demo world (group `acme`) loaded by the CLI into DuckDB, job logs included, once per session."""
    ws = Workspace(tmp_path_factory.mktemp("app_demo"), TOKENS["maintainer"])
    with GitLabEmulator() as emu:
        result = ws.run("--base-url", emu.base_url, "--group", "acme")
        assert result.returncode == 0, result.output
        planted = [secret.value for secret in emu.planted_secrets]
    # the CLI loaded the job logs itself (the fixture adds nothing, so a CLI that stops loading them fails here)
    needed = {"pipelines", "jobs", "merge_requests", "issues", "job_logs", "job_log_sections", "secret_findings"}
    assert needed <= ws.tables(), needed - ws.tables()
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
