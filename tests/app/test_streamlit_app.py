"""The Streamlit dashboard in headless Chromium: every page renders, fits the screen, and its figures equal SQL.

The expected figures are computed here, independently of `app/queries.py`, with SQL that runs on DuckDB and
PostgreSQL alike, and Python.
"""

import io
import re
import shlex
import statistics
import subprocess
import sys
import time as clock
from collections import defaultdict
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any, Dict, Iterator, List, Sequence, Set, Tuple

import pandas as pd
import pytest
from PIL import Image
from playwright.sync_api import Browser, Locator, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from app.data import Catalog
from app.views.secret_findings import erase_command
from gitlab_emulator import TOKENS, GitLabEmulator, seed_world
from tests.app.browser_utils import DemoData, Server, free_port, save_screenshot
from tests.utils import DATASET, REPO, Workspace

APP = REPO / "app" / "gitlab_dashboard.py"
RENDER_TIMEOUT_MS = 60_000
D = DATASET
# a laptop and a desktop; the README's screenshots are taken on the first
SCREENS = ({"width": 1280, "height": 800}, {"width": 1920, "height": 1080})
LAYOUT_TIMEOUT_MS = 20_000
BROWSER_OPEN_TIMEOUT_SECONDS = 60.0
TABLE_HEADER_PX = 35  # st.dataframe's header and row height, below a 1 px border
TABLE_ROW_PX = 35

# url path, heading and the labels of its figures, per page
PAGES = {
    "ci_health": ("", "CI health", ("Pipelines", "Pipeline success rate", "Pipeline duration p50",
                                     "Pipeline duration p95", "Job queue time p50", "Job queue time p95")),
    "jobs": ("jobs", "Jobs", ("Job attempts", "Job failure rate", "Retried attempts", "Flaky job runs")),
    "job_time": ("job_time", "Where time goes inside jobs", ("Jobs with sections", "Time in sections",
                                                             "Costliest section", "Costliest section share")),
    "secrets": ("secrets", "Secrets in job logs", ("Job logs scanned", "Secret findings", "Distinct secrets",
                                                   "Jobs with secrets", "Jobs to erase")),
    "delivery": ("delivery", "Delivery", ("Merged MRs", "MR lead time p50", "MR lead time p95", "Issues opened",
                                          "Issues closed")),
}
SCREENSHOT_NAMES = {
    "ci_health": "app-ci-health", "jobs": "app-jobs", "job_time": "app-time-inside-jobs",
    "secrets": "app-secret-findings", "delivery": "app-delivery",
}
UNITS_SECONDS = {"s": 1.0, "min": 60.0, "h": 3_600.0, "d": 86_400.0}


def _desktop(ws: Workspace) -> Tuple[Dict[str, str], Path]:
    """The environment of a first `streamlit run` on a desktop: a display, a home without Streamlit's
    credentials, and an `xdg-open` that notes the URL it is asked to open (the file it writes to)."""
    home = ws.root / "desktop_home"
    tools = home / "bin"
    tools.mkdir(parents=True, exist_ok=True)
    opened = home / "opened_urls"
    opener = tools / "xdg-open"
    opener.write_text(f'#!/bin/sh\necho "$1" >> {shlex.quote(str(opened))}\n')
    opener.chmod(0o755)
    env = ws.env({"HOME": str(home), "DISPLAY": ":0"})
    env["PATH"] = f"{tools}:{env.get('PATH', '')}"
    return env, opened


def start_dashboard(ws: Workspace, log_name: str) -> Tuple[Server, str]:
    """`streamlit run app/gitlab_dashboard.py` in the workspace, as a user would after the load; and its URL.

    It starts as on a desktop the first time: with no `--server.headless` and no Streamlit credentials it
    would stop at Streamlit's e-mail prompt (stdin is empty, so it would end) unless the app's config
    turns the prompt off; then it opens the browser.
    """
    port = free_port()
    env, opened = _desktop(ws)
    server = Server(
        [sys.executable, "-m", "streamlit", "run", str(APP),
         "--server.port", str(port), "--server.address", "127.0.0.1", "--server.fileWatcherType", "none"],
        cwd=ws.root, env=env, log=ws.root / log_name,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        server.wait_until_healthy(f"{url}/_stcore/health")
        _wait_for_browser(opened, port, server)
    except BaseException:
        server.stop()
        raise
    return server, url


def _wait_for_browser(opened: Path, port: int, server: Server) -> None:
    """Waits until Streamlit asked the desktop to open its URL, as it does when it is not headless."""
    deadline = clock.monotonic() + BROWSER_OPEN_TIMEOUT_SECONDS
    while not (opened.exists() and f":{port}" in opened.read_text()):
        if clock.monotonic() > deadline:
            pytest.fail(f"Streamlit did not open a browser at port {port}; output:\n{server.output()}")
        clock.sleep(0.2)  # the poll interval, not a synchronisation


@pytest.fixture(scope="module")
def page(browser: Browser) -> Iterator[Page]:
    """One page for all of this module's visits: Streamlit's scripts load once; each visit is a new session."""
    context = browser.new_context(viewport=SCREENS[0])
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture(scope="module")
def dashboard(demo_data: DemoData) -> Iterator[str]:
    """The dashboard's URL, served over the demo data."""
    server, url = start_dashboard(demo_data.ws, "streamlit.log")
    try:
        yield url
    finally:
        server.stop()


def open_page(page: Page, base_url: str, url_path: str, heading: str, labels: Sequence[str] = ()) -> None:
    """Opens one page and waits until its script has run and its figures, charts and tables are drawn.

    Streamlit loads some elements' code on first use, so each is awaited, not only the script's end.
    """
    page.goto(f"{base_url}/{url_path}")
    expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible(timeout=RENDER_TIMEOUT_MS)
    expect(page.get_by_test_id("stApp")).to_have_attribute(
        "data-test-script-state", "notRunning", timeout=RENDER_TIMEOUT_MS
    )
    for label in labels:
        expect(metric_value(page, label)).to_be_visible(timeout=RENDER_TIMEOUT_MS)
    for chart in page.get_by_test_id("stVegaLiteChart").all():
        expect(chart.locator("canvas, svg").first).to_be_visible(timeout=RENDER_TIMEOUT_MS)
    for table in page.get_by_test_id("stDataFrame").all():
        expect(table.locator("canvas").first).to_be_visible(timeout=RENDER_TIMEOUT_MS)


def metric_value(page: Page, label: str) -> Locator:
    """The value of the st.metric labelled `label`."""
    label_element = page.get_by_test_id("stMetricLabel").get_by_text(label, exact=True)
    return page.get_by_test_id("stMetric").filter(has=label_element).get_by_test_id("stMetricValue")


def assert_no_errors(page: Page) -> None:
    """No exception box and no error box on the page."""
    exceptions = page.get_by_test_id("stException")
    assert exceptions.count() == 0, exceptions.all_inner_texts()
    errors = page.get_by_test_id("stAlertContentError")
    assert errors.count() == 0, errors.all_inner_texts()


# Everything the page shows that is cut, runs out of its box, or is still being laid out, as sentences.
LAYOUT_PROBLEMS_JS = r"""
() => {
  const problems = [];
  const main = document.querySelector('[data-testid=stMain]');
  const page = main.getBoundingClientRect();
  const within = (inner, outer, vertically) => inner.left >= outer.left - 1 && inner.right <= outer.right + 1
      && (!vertically || (inner.top >= outer.top - 1 && inner.bottom <= outer.bottom + 1));
  const cut = el => el.clientWidth > 0 && el.scrollWidth > el.clientWidth;
  if (main.scrollWidth > main.clientWidth) {
    problems.push(`the page scrolls sideways (${main.scrollWidth} > ${main.clientWidth} px)`);
  }
  for (const metric of document.querySelectorAll('[data-testid=stMetric]')) {
    for (const part of metric.querySelectorAll('[data-testid=stMetricLabel], [data-testid=stMetricValue]')) {
      if ([part, ...part.querySelectorAll('*')].some(cut)) problems.push(`metric cut: "${part.innerText}"`);
    }
    if (!within(metric.getBoundingClientRect(), page)) problems.push(`metric out of the page: "${metric.innerText}"`);
  }
  for (const table of document.querySelectorAll('[data-testid=stDataFrame]')) {
    const grid = table.querySelector('.dvn-scroller');
    const box = table.getBoundingClientRect();
    const name = `table of ${Math.round(box.width)} px`;
    if (!grid || Math.abs(grid.clientWidth + 2 - box.width) > 2) {
      problems.push(`${name}: not laid out yet`);
      continue;
    }
    if (grid.scrollWidth > grid.clientWidth) {
      problems.push(`${name}: columns cut on the right (${grid.scrollWidth} > ${grid.clientWidth} px)`);
    }
    if (!within(box, page)) problems.push(`${name}: out of the page`);
    if (grid.scrollHeight > grid.clientHeight) {
      const next = table.closest('[data-testid=stElementContainer]').nextElementSibling;
      if (!next || !/ rows shown: scroll the table/.test(next.innerText)) {
        problems.push(`${name}: rows cut at the bottom, unannounced`);
      }
    }
  }
  for (const chart of document.querySelectorAll('[data-testid=stVegaLiteChart]')) {
    const svg = chart.querySelector('svg');
    const box = chart.getBoundingClientRect();
    if (!svg || Math.abs(svg.getBoundingClientRect().width - box.width) > 1) {
      problems.push('chart not laid out yet');
      continue;
    }
    const frame = svg.getBoundingClientRect();
    if (!within(frame, page)) problems.push('chart out of the page');
    for (const text of svg.querySelectorAll('text')) {
      if (text.getAttribute('opacity') === '0' || !text.textContent) continue;
      if (text.textContent.endsWith('…')) problems.push(`chart label cut: "${text.textContent}"`);
      if (!within(text.getBoundingClientRect(), frame, true)) {
        problems.push(`chart text out of its box: "${text.textContent}"`);
      }
    }
    for (const legend of svg.querySelectorAll('g.role-legend')) {
      if (!within(legend.getBoundingClientRect(), frame, true)) {
        problems.push(`legend out of its chart: ${legend.getAttribute('aria-label')}`);
      }
    }
    // a discrete axis (bars, heatmap rows and columns) labels every value: none dropped for overlapping
    for (const axis of svg.querySelectorAll('g.role-axis')) {
      const values = /discrete scale with (\d+) value/.exec(axis.getAttribute('aria-label') || '');
      const shown = [...axis.querySelectorAll('g.role-axis-label text')]
        .filter(t => t.getAttribute('opacity') !== '0' && t.textContent);
      if (values && shown.length !== Number(values[1])) {
        problems.push(`${axis.getAttribute('aria-label')}: ${shown.length} labels shown`);
      }
    }
  }
  return problems;
}
"""


def assert_fits(page: Page) -> None:
    """On a laptop's and a desktop's screen, no metric, table, chart label or legend is cut or out of its box."""
    for screen in SCREENS:
        page.set_viewport_size(screen)
        try:  # charts and tables lay out again after a resize: wait until they have, and nothing is cut
            page.wait_for_function(f"() => ({LAYOUT_PROBLEMS_JS})().length === 0", timeout=LAYOUT_TIMEOUT_MS)
        except PlaywrightTimeoutError:
            pytest.fail(f"at {screen['width']}x{screen['height']}: {page.evaluate(LAYOUT_PROBLEMS_JS)}")
    page.set_viewport_size(SCREENS[0])


def assert_distinct_labels(page: Page, labels: Sequence[str]) -> None:
    """The page's metrics are exactly `labels`, each shown once."""
    shown = [label.strip() for label in page.get_by_test_id("stMetricLabel").all_inner_texts()]
    assert sorted(shown) == sorted(labels), shown


def metrics(page: Page) -> Dict[str, str]:
    """The page's st.metric figures: label → value as shown."""
    shown = {}
    for metric in page.get_by_test_id("stMetric").all():
        label = metric.get_by_test_id("stMetricLabel").inner_text().strip()
        shown[label] = metric.get_by_test_id("stMetricValue").inner_text().strip()
    return shown


def visit(page: Page, base_url: str, key: str) -> Dict[str, str]:
    """Opens the page `key` of PAGES: no error, each of its figures labelled once; returns the figures shown."""
    open_page(page, base_url, *PAGES[key])
    assert_no_errors(page)
    assert_distinct_labels(page, PAGES[key][2])
    return metrics(page)


def assert_fits_and_save(page: Page, key: str, charts: int = 0) -> None:
    """At least `charts` charts, nothing cut or out of its box; then the page's picture."""
    assert page.get_by_test_id("stVegaLiteChart").count() >= charts
    assert_fits(page)
    save_screenshot(page, SCREENSHOT_NAMES[key], '[data-testid="stMain"]')


def assert_count(shown: str, expected: int) -> None:
    assert int(shown.replace(",", "")) == expected, (shown, expected)


def assert_percent(shown: str, part: float, whole: float) -> None:
    """`72.3%` is `part / whole` to the one decimal shown."""
    number = float(shown.rstrip("%"))
    assert abs(number - 100.0 * part / whole) <= 0.05 + 1e-9, (shown, part, whole)


def assert_seconds(shown: str, expected: float) -> None:
    """`7.3 min` is `expected` seconds to the one decimal shown, in the unit shown."""
    match = re.fullmatch(r"(-?[\d.]+) (s|min|h|d)", shown)
    assert match, shown
    unit = UNITS_SECONDS[match.group(2)]
    assert abs(float(match.group(1)) - expected / unit) <= 0.05 + 1e-9, (shown, expected)
    larger = [size for size in UNITS_SECONDS.values() if size > unit]
    assert not larger or abs(expected) < min(larger), (shown, expected)  # the largest unit it fills


def quantile(values: Sequence[float], q: float) -> float:
    """Linear-interpolation quantile (what percentile_cont computes)."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


class Expected:
    """The figures each page must show, from the DuckDB file, over the dashboard's default date range."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        firsts, lasts = [], []
        for table in ("pipelines", "merge_requests", "issues"):
            [(first, last)] = ws.query(f"select min(created_at), max(created_at) from {D}.{table}")
            firsts.append(first)
            lasts.append(last)
        self.since = self._midnight(min(firsts).astimezone(timezone.utc).date())
        self.until = self._midnight(max(lasts).astimezone(timezone.utc).date() + timedelta(days=1))

    @staticmethod
    def _midnight(day: date) -> datetime:
        return datetime.combine(day, time.min, tzinfo=timezone.utc)

    def rows(self, sql: str) -> List[Tuple[Any, ...]]:
        """`sql` with `:since`/`:until` as the range's bounds (timestamptz literals)."""
        return self.ws.query(
            sql.replace(":since", f"TIMESTAMPTZ '{self.since.isoformat()}'")
            .replace(":until", f"TIMESTAMPTZ '{self.until.isoformat()}'")
        )

    def in_range(self, moment: datetime) -> bool:
        return moment is not None and self.since <= moment < self.until


@pytest.fixture(scope="module")
def expected(demo_data: DemoData) -> Expected:
    return Expected(demo_data.ws)


def check_ci_health(shown: Dict[str, str], expected: Expected) -> None:
    """The CI health figures: pipelines, success rate, pipeline duration and job queue time percentiles."""
    pipelines = expected.rows(
        f"select p.id, p.status, coalesce(p.duration,"
        f" extract(epoch from max(j.finished_at)) - extract(epoch from min(j.started_at)))"
        f" from {D}.pipelines p left join {D}.jobs j on j.pipeline__id = p.id"
        f" where p.created_at >= :since and p.created_at < :until group by p.id, p.status, p.duration"
    )
    statuses = [status for _, status, _ in pipelines]
    finished = [float(seconds) for _, status, seconds in pipelines
                if status in ("success", "failed") and seconds is not None]
    queued = [float(q) for (q,) in expected.rows(
        f"select queued_duration from {D}.jobs where created_at >= :since and created_at < :until"
        f" and queued_duration is not null"
    )]
    assert len(pipelines) > 50 and len(finished) > 40 and len(queued) > 200  # the demo has data to measure

    assert_count(shown["Pipelines"], len(pipelines))
    assert_percent(shown["Pipeline success rate"], statuses.count("success"),
                   statuses.count("success") + statuses.count("failed"))
    assert_seconds(shown["Pipeline duration p50"], quantile(finished, 0.5))
    assert_seconds(shown["Pipeline duration p95"], quantile(finished, 0.95))
    assert_seconds(shown["Job queue time p50"], quantile(queued, 0.5))
    assert_seconds(shown["Job queue time p95"], quantile(queued, 0.95))


def _rgb(colour: str) -> Tuple[int, ...]:
    """`rgb(1, 2, 3)` or `#010203` as (1, 2, 3)."""
    if colour.startswith("#"):
        return tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return tuple(int(part) for part in re.findall(r"\d+", colour)[:3])


def _greenish(rgb: Sequence[int]) -> bool:
    return rgb[1] > rgb[0] + 40 and rgb[1] > rgb[2] + 10


def _reddish(rgb: Sequence[int]) -> bool:
    return rgb[0] > rgb[1] + 60 and rgb[0] > rgb[2] + 40


def check_heatmap(page: Page, expected: Expected) -> None:
    """The branch heatmap has a cell per project and branch with a finished pipeline, labels every branch, and
    colours a success rate of 100 % green and of 0 % red."""
    rated = expected.rows(
        f"select r.path_with_namespace, p.ref, count(case when p.status = 'success' then 1 end),"
        f" count(case when p.status = 'failed' then 1 end)"
        f" from {D}.pipelines p join {D}.projects r on r.id = p.project_id"
        f" where p.created_at >= :since and p.created_at < :until"
        f" group by 1, 2 having count(case when p.status in ('success', 'failed') then 1 end) > 0"
    )
    assert len(rated) <= 40  # the page shows the 40 busiest branches: all of them here
    heatmap = page.get_by_test_id("stVegaLiteChart").filter(has=page.locator("g.role-legend[aria-label^=Gradient]"))
    cells = heatmap.locator("g.role-mark path").evaluate_all(
        "paths => paths.map(p => [p.getAttribute('aria-label'), p.getAttribute('fill')])")
    drawn = {}
    for label, fill in cells:
        fields = dict(part.split(": ", 1) for part in label.split("; "))
        drawn[(fields["project"], fields["ref"])] = (int(fields["success rate"].rstrip("%")), _rgb(fill))
    assert set(drawn) == {(project, ref) for project, ref, _, _ in rated}
    for project, ref, succeeded, failed in rated:
        percent, colour = drawn[(project, ref)]
        assert abs(percent - 100 * succeeded / (succeeded + failed)) <= 0.5, (project, ref, percent)
        if succeeded == succeeded + failed:
            assert _greenish(colour), (project, ref, colour)
        if succeeded == 0:
            assert _reddish(colour), (project, ref, colour)
    labels = heatmap.locator("g.role-axis[aria-label^='X-axis'] g.role-axis-label text").all_text_contents()
    assert sorted(labels) == sorted({ref for _, ref, _, _ in rated})
    assert {100, 0} <= {percent for percent, _ in drawn.values()}  # both ends of the scale were checked


def check_success_rate_bars(page: Page) -> None:
    """In the table of branches, a success-rate bar longer than half is green and a shorter one red: a full
    (100 %) bar is green. Read from the table's pixels, row by row."""
    table = page.get_by_test_id("stDataFrame").last
    picture = Image.open(io.BytesIO(table.screenshot())).convert("RGB")
    bars: List[Tuple[int, str]] = []
    for row in range((picture.height - 1 - TABLE_HEADER_PX) // TABLE_ROW_PX):
        middle = 1 + TABLE_HEADER_PX + row * TABLE_ROW_PX + TABLE_ROW_PX // 2
        coloured = {(x, "green" if _greenish(rgb) else "red")
                    for y in range(middle - 3, middle + 4) for x in range(picture.width)
                    for rgb in [picture.getpixel((x, y))] if _greenish(rgb) or _reddish(rgb)}
        if coloured:
            colours = {colour for _, colour in coloured}
            assert len(colours) == 1, (row, colours)
            bars.append((len({x for x, _ in coloured}), colours.pop()))
    full = max(length for length, _ in bars)
    for length, colour in bars:
        if length > 0.55 * full:
            assert colour == "green", (length, full, bars)
        if length < 0.45 * full:
            assert colour == "red", (length, full, bars)
    assert {"green", "red"} == {colour for _, colour in bars}, bars


def test_ci_health_page_shows_success_rate_durations_and_queue_time(page, dashboard, expected):
    check_ci_health(visit(page, dashboard, "ci_health"), expected)
    check_heatmap(page, expected)
    check_success_rate_bars(page)
    assert_fits_and_save(page, "ci_health", charts=4)  # success trend, duration, queue, branch heatmap


def check_jobs(shown: Dict[str, str], expected: Expected) -> None:
    """The jobs figures: attempts, failure rate, retries, and flakes (failed, then passed on retry)."""
    attempts = expected.rows(
        f"select pipeline__id, name, id, status from {D}.jobs where created_at >= :since and created_at < :until"
    )
    by_run: Dict[Tuple[int, str], List[Tuple[int, str]]] = defaultdict(list)
    for pipeline_id, name, job_id, status in attempts:
        by_run[(pipeline_id, name)].append((job_id, status))

    def flaky(run: List[Tuple[int, str]]) -> bool:
        ordered = [status for _, status in sorted(run)]
        return "failed" in ordered and "success" in ordered[ordered.index("failed"):]

    statuses = [status for *_, status in attempts]
    flaky_runs = sum(1 for run in by_run.values() if flaky(run))
    assert flaky_runs > 0 and statuses.count("failed") > 0

    assert_count(shown["Job attempts"], len(attempts))
    assert_percent(shown["Job failure rate"], statuses.count("failed"),
                   statuses.count("failed") + statuses.count("success"))
    assert_count(shown["Retried attempts"], len(attempts) - len(by_run))
    assert_count(shown["Flaky job runs"], flaky_runs)


def test_jobs_page_shows_failures_retries_and_flaky_jobs(page, dashboard, expected):
    check_jobs(visit(page, dashboard, "jobs"), expected)
    slowest = expected.rows(
        f"select name from {D}.jobs where created_at >= :since and created_at < :until"
        f" and status in ('success', 'failed') and duration is not null"
        f" group by pipeline__project_id, name"
        f" order by quantile_cont(duration, 0.95) desc, pipeline__project_id, name limit 1"
    )[0][0]
    expect(page.get_by_test_id("stDataFrame").first).to_contain_text(slowest)
    reasons = dict(expected.rows(
        f"select coalesce(failure_reason, 'unknown'), count(*) from {D}.jobs where status = 'failed'"
        f" and created_at >= :since and created_at < :until group by 1"
    ))
    failure_table = page.get_by_test_id("stDataFrame").last
    for reason in reasons:
        expect(failure_table).to_contain_text(reason)
    assert_fits_and_save(page, "jobs", charts=3)  # slowest, flakiest, failure reasons


def check_job_time(shown: Dict[str, str], expected: Expected) -> None:
    """The time-inside-jobs figures: jobs with sections, their total time, and the costliest section."""
    sections = expected.rows(
        f"select job_id, name, duration_seconds from {D}.job_log_sections"
        f" where depth = 0 and duration_seconds is not null and started_at >= :since and started_at < :until"
    )
    totals: Dict[str, float] = defaultdict(float)
    for _, name, seconds in sections:
        totals[name] += float(seconds)
    top = max(totals, key=lambda name: (totals[name], name))
    total = sum(totals.values())
    assert len(sections) > 100

    assert_count(shown["Jobs with sections"], len({job_id for job_id, *_ in sections}))
    assert_seconds(shown["Time in sections"], total)
    assert shown["Costliest section"] == top
    assert_percent(shown["Costliest section share"], totals[top], total)


def test_time_inside_jobs_page_adds_up_the_log_sections(page, dashboard, expected):
    check_job_time(visit(page, dashboard, "job_time"), expected)
    assert_fits_and_save(page, "job_time", charts=2)


def _logs_scanned(expected: Expected) -> int:
    """Job logs loaded for jobs created in range."""
    [(logs,)] = expected.rows(
        f"select count(*) from {D}.job_logs l join {D}.jobs j on j.id = l.job_id"
        f" where j.created_at >= :since and j.created_at < :until"
    )
    return logs


def _gitlab_root(ws: Workspace) -> str:
    """The loaded GitLab's URL: every project's `web_url` is it followed by the project's path."""
    roots = {url[: -len(path) - 1] for url, path in ws.query(f"select web_url, path_with_namespace from {D}.projects")
             if url.endswith("/" + path)}
    assert len(roots) == 1, roots
    return roots.pop()


def check_secrets(page: Page, expected: Expected, planted_secrets: Sequence[str]) -> None:
    """The secret findings figures, no secret on the page, and erase commands that work as shown."""
    shown = metrics(page)
    findings = expected.rows(
        f"select f.job_id, f.project_id, f.fingerprint, j.erased_at is null from {D}.secret_findings f"
        f" left join {D}.jobs j on j.id = f.job_id"
        f" where coalesce(j.created_at, f.detected_at) >= :since and coalesce(j.created_at, f.detected_at) < :until"
    )
    to_erase = {(project_id, job_id) for job_id, project_id, _, not_erased in findings if not_erased}
    assert len(findings) > 5 and to_erase

    assert_count(shown["Job logs scanned"], _logs_scanned(expected))
    assert_count(shown["Secret findings"], len(findings))
    assert_count(shown["Distinct secrets"], len({fingerprint for _, _, fingerprint, _ in findings}))
    assert_count(shown["Jobs with secrets"], len({job_id for job_id, *_ in findings}))
    assert_count(shown["Jobs to erase"], len(to_erase))
    content = page.content()
    leaked = [secret for secret in planted_secrets if secret in content]
    assert planted_secrets and leaked == []  # only redacted previews reach the page
    check_erase_commands(page, expected.ws, to_erase)


def check_erase_commands(page: Page, ws: Workspace, to_erase: Set[Tuple[int, int]]) -> None:
    """The page shows `gitlab_pipeline.py erase-leaky-jobs` for the loaded GitLab, its destination and dataset,
    as a dry run and with --yes; the dry run, pasted as shown into a shell where the dashboard runs, lists
    exactly the jobs to erase."""
    lines = [line for line in page.get_by_test_id("stCode").inner_text().splitlines()
             if line.strip() and not line.startswith("#")]
    dry_run, erase = lines
    assert erase == f"{dry_run} --yes"
    words = shlex.split(dry_run)
    assert re.fullmatch(r"python[\d.]*", Path(words[0]).name) and words[1:3] == [
        str(REPO / "gitlab_pipeline.py"), "erase-leaky-jobs"], words  # absolute: the dashboard runs outside the repo
    options = dict(zip(words[3::2], words[4::2]))
    assert options.pop("--base-url") == _gitlab_root(ws)
    assert options == ({"--destination": ws.destination} if ws.destination != "duckdb" else {})
    run = subprocess.run(words, cwd=ws.root, env=ws.env({"GITLAB_TOKEN": TOKENS["maintainer"]}),
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    listed = {(int(project), int(job)) for job, project in re.findall(r"job (\d+) \(project (\d+)\)", run.stdout)}
    assert listed == to_erase, run.stdout  # the default date range holds every job with findings
    expect(page.get_by_test_id("stCaptionContainer").filter(has_text="erase-leaky-jobs")).to_contain_text(
        f"{len(to_erase)} job(s), {len(to_erase)} of them in the filters")


def test_the_erase_command_names_the_loaded_gitlab_and_dataset(tmp_path, monkeypatch):
    """A GitLab under a relative root on its own host: its URL comes from the projects' `web_url`; the command
    reads `.venv/bin/python gitlab_pipeline.py ...` in the repository, and the CLI takes it as shown elsewhere
    (a dry run of a dataset without findings lists nothing and contacts nobody)."""
    projects = pd.DataFrame({
        "id": [1, 2, 3],
        "path_with_namespace": ["team/app", "team/tools/lint", "team/no-url"],
        "namespace_path": ["team", "team/tools", "team"],
        "web_url": ["https://git.corp.test/gitlab/team/app", "https://git.corp.test/gitlab/team/tools/lint", None],
    })
    catalog = Catalog(pd.DataFrame(columns=["id", "full_path"]), projects, date(2025, 1, 1), date(2025, 1, 31),
                      frozenset())
    assert catalog.gitlab_urls() == ["https://git.corp.test/gitlab"]

    monkeypatch.chdir(REPO)
    words = shlex.split(erase_command("https://git.corp.test/gitlab", "duckdb", "gitlab_corp"))
    assert words[1] == "gitlab_pipeline.py" and (REPO / words[0]).resolve() == Path(sys.executable).resolve()
    monkeypatch.chdir(tmp_path)
    words = shlex.split(erase_command("https://git.corp.test/gitlab", "duckdb", "gitlab_corp"))
    assert words[2:] == ["erase-leaky-jobs", "--base-url", "https://git.corp.test/gitlab", "--dataset", "gitlab_corp"]
    ws = Workspace(tmp_path, TOKENS["maintainer"])
    run = subprocess.run(words, cwd=ws.root, env=ws.env(), capture_output=True, text=True, timeout=300)
    assert (run.returncode, run.stdout.strip()) == (0, "No job with secret findings left to erase."), run.stderr


def test_secret_findings_page_is_redacted_and_lists_the_erase_commands(page, dashboard, expected, demo_data):
    visit(page, dashboard, "secrets")
    check_secrets(page, expected, demo_data.planted_secrets)
    assert_fits_and_save(page, "secrets")


def check_delivery(shown: Dict[str, str], expected: Expected) -> None:
    """The delivery figures: merged MRs and their lead time percentiles, issues opened and closed."""
    lead = [float(seconds) for (seconds,) in expected.rows(
        f"select extract(epoch from merged_at) - extract(epoch from created_at) from {D}.merge_requests"
        f" where state = 'merged' and merged_at >= :since and merged_at < :until and created_at is not null"
    )]
    issues = expected.ws.query(f"select created_at, closed_at from {D}.issues")
    assert len(lead) > 5

    assert_count(shown["Merged MRs"], len(lead))
    assert_seconds(shown["MR lead time p50"], statistics.median(lead))
    assert_seconds(shown["MR lead time p95"], quantile(lead, 0.95))
    assert_count(shown["Issues opened"], sum(1 for created, _ in issues if expected.in_range(created)))
    assert_count(shown["Issues closed"], sum(1 for _, closed in issues if expected.in_range(closed)))


def test_delivery_page_shows_lead_time_and_issue_throughput(page, dashboard, expected):
    check_delivery(visit(page, dashboard, "delivery"), expected)
    assert_fits_and_save(page, "delivery", charts=3)


def _pipeline_figures(ws: Workspace, where: str) -> Tuple[str, str]:
    """The CI health page's "Pipelines" and "Pipeline success rate" as shown, for the pipelines `where` selects."""
    [(total, succeeded, failed)] = ws.query(
        f"select count(*), count(*) filter (status = 'success'), count(*) filter (status = 'failed')"
        f" from {D}.pipelines p join {D}.projects r on r.id = p.project_id where {where}"
    )
    return str(total), f"{100.0 * succeeded / (succeeded + failed):.1f}%"


def _expect_figures(page: Page, figures: Tuple[str, str]) -> None:
    """Waits for the rerun a filter change starts, until the page shows `figures`."""
    for label, value in zip(("Pipelines", "Pipeline success rate"), figures, strict=True):
        expect(metric_value(page, label)).to_have_text(value, timeout=RENDER_TIMEOUT_MS)
    expect(page.get_by_test_id("stApp")).to_have_attribute("data-test-script-state", "notRunning")
    assert_no_errors(page)


def _type_date(page: Page, which: str, day: date) -> None:
    """Types a day into the sidebar's date range field (`which` is "start" or "end")."""
    field = page.get_by_test_id("stSidebar").get_by_test_id("stDateInput")
    field.get_by_role("spinbutton", name=f"year, Date range (UTC) {which} date").click()
    page.keyboard.type(day.strftime("%Y%m%d"))


def test_group_project_and_date_filters_narrow_the_figures(page, dashboard, expected):
    ws = expected.ws
    open_page(page, dashboard, *PAGES["ci_health"])
    sidebar = page.get_by_test_id("stSidebar")
    group = "acme/platform"
    in_group = f"(r.namespace__full_path = '{group}' or r.namespace__full_path like '{group}/%')"
    assert _pipeline_figures(ws, in_group) != _pipeline_figures(ws, "true")

    sidebar.get_by_test_id("stSelectbox").filter(has_text="Group").click()
    page.get_by_role("option", name=group, exact=True).click()
    _expect_figures(page, _pipeline_figures(ws, in_group))

    [(first, last)] = ws.query(f"select min(created_at), max(created_at) from {D}.pipelines")
    start, end = first.date() + timedelta(days=5), last.date() - timedelta(days=5)
    _type_date(page, "start", start)
    _type_date(page, "end", end)
    page.get_by_role("heading", name="CI health").click()  # the field applies its value when it loses focus
    in_range = f"p.created_at >= '{start} 00:00:00+00' and p.created_at < '{end + timedelta(days=1)} 00:00:00+00'"
    _expect_figures(page, _pipeline_figures(ws, f"{in_group} and {in_range}"))

    project = "acme/platform/api"
    sidebar.get_by_test_id("stMultiSelect").click()
    page.get_by_role("option", name=project, exact=True).click()
    page.keyboard.press("Escape")
    _expect_figures(page, _pipeline_figures(ws, f"r.path_with_namespace = '{project}' and {in_range}"))


def test_postgresql_dashboard_says_what_is_not_loaded_then_shows_the_next_load(page, postgres_dsn, tmp_path,
                                                                              demo_data):
    ws = Workspace(tmp_path, token=None, destination="postgres", database_dsn=postgres_dsn)
    first = ws.run("--demo", "--dataset", DATASET, "--resources", "groups,projects")
    assert first.returncode == 0, first.output
    assert {table for table in ws.tables() if "__" not in table} == {"groups", "projects"}
    server, url = start_dashboard(ws, "streamlit.log")  # credentials reach it as DESTINATION__POSTGRES__CREDENTIALS
    try:
        for key, missing in (("ci_health", "No pipelines loaded yet"), ("jobs", "No jobs loaded yet"),
                             ("job_time", "No job logs loaded yet"), ("secrets", "No job logs loaded yet"),
                             ("delivery", "No merge requests or issues loaded yet")):
            open_page(page, url, *PAGES[key][:2])
            assert_no_errors(page)
            expect(page.get_by_test_id("stAlertContentInfo")).to_contain_text(missing)
        expect(page.get_by_test_id("stSidebar")).to_contain_text("Data: postgres, dataset gitlab_data")

        second = ws.run("--demo", "--dataset", DATASET)  # the same demo world as the DuckDB load, all of it
        assert second.returncode == 0, second.output
        assert {"job_logs", "job_log_sections", "secret_findings"} <= ws.tables()
        page.get_by_test_id("stSidebar").get_by_role("button", name="Reload data").click()
        expect(metric_value(page, "Merged MRs")).to_be_visible(timeout=RENDER_TIMEOUT_MS)
        on_postgres = Expected(ws)  # every figure from SQL on the PostgreSQL database the page reads
        for key, check in (("delivery", check_delivery), ("ci_health", check_ci_health), ("jobs", check_jobs),
                           ("job_time", check_job_time)):
            check(visit(page, url, key), on_postgres)
        visit(page, url, "secrets")
        check_secrets(page, on_postgres, demo_data.planted_secrets)  # the demo world's secrets
    finally:
        server.stop()


@pytest.fixture(scope="module")
def clean_logs(tmp_path_factory) -> Workspace:
    """The demo world with no secret in any job log, loaded by the CLI: there is no `secret_findings` table."""
    world = seed_world()
    for job in world.jobs.values():
        job.leaks = ()
    ws = Workspace(tmp_path_factory.mktemp("clean_logs"), TOKENS["maintainer"])
    with GitLabEmulator(world=world) as emu:
        assert emu.planted_secrets == []
        result = ws.run("--base-url", emu.base_url, "--group", "acme")
    assert result.returncode == 0, result.output
    assert {"job_logs", "job_log_sections"} <= ws.tables() and "secret_findings" not in ws.tables(), ws.tables()
    return ws


def test_clean_job_logs_get_their_time_page_and_a_findings_page_that_says_none_leaked(page, clean_logs):
    server, url = start_dashboard(clean_logs, "streamlit.log")
    try:
        expected = Expected(clean_logs)
        check_job_time(visit(page, url, "job_time"), expected)

        open_page(page, url, *PAGES["secrets"][:2], ("Job logs scanned", "Secret findings"))  # drawn, not just run
        assert_no_errors(page)
        scanned = _logs_scanned(expected)
        assert scanned > 100
        assert metrics(page) == {"Job logs scanned": f"{scanned:,}", "Secret findings": "0"}
        expect(page.get_by_test_id("stAlertContentSuccess")).to_contain_text(
            f"No secret found in the job logs: {scanned:,} scanned in range, none leaked.")
        assert_fits(page)
    finally:
        server.stop()
