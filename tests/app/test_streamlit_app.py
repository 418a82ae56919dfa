"""The Streamlit dashboard in headless Chromium: every page renders, and its figures equal SQL run on the DuckDB file.

The expected figures are computed here, independently of `app/queries.py`, with DuckDB SQL and Python.
"""

import re
import statistics
import sys
from collections import defaultdict
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Dict, Iterator, List, Sequence, Tuple

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.app.browser_utils import VIEWPORT, DemoData, Server, free_port, save_screenshot
from tests.utils import DATASET, REPO, Workspace

APP = REPO / "app" / "gitlab_dashboard.py"
RENDER_TIMEOUT_MS = 60_000
D = DATASET

# url path, heading and the labels of its figures, per page
PAGES = {
    "ci_health": ("", "CI health", ("Pipelines", "Pipeline success rate", "Pipeline duration p50",
                                     "Pipeline duration p95", "Job queue time p50", "Job queue time p95")),
    "jobs": ("jobs", "Jobs", ("Job attempts", "Job failure rate", "Retried attempts", "Flaky job runs")),
    "job_time": ("job_time", "Where time goes inside jobs", ("Jobs with sections", "Time in sections",
                                                             "Costliest section", "Costliest section share")),
    "secrets": ("secrets", "Secrets in job logs", ("Secret findings", "Distinct secrets", "Jobs with secrets",
                                                   "Jobs to erase")),
    "delivery": ("delivery", "Delivery", ("Merged MRs", "MR lead time p50", "MR lead time p95", "Issues opened",
                                          "Issues closed")),
}
SCREENSHOT_NAMES = {
    "ci_health": "app-ci-health", "jobs": "app-jobs", "job_time": "app-time-inside-jobs",
    "secrets": "app-secret-findings", "delivery": "app-delivery",
}
UNITS_SECONDS = {"s": 1.0, "min": 60.0, "h": 3_600.0, "d": 86_400.0}


def start_dashboard(ws: Workspace, log_name: str) -> Tuple[Server, str]:
    """`streamlit run app/gitlab_dashboard.py` in the workspace, as a user would after the load; and its URL."""
    port = free_port()
    server = Server(
        [sys.executable, "-m", "streamlit", "run", str(APP), "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"],
        cwd=ws.root, env=ws.env(), log=ws.root / log_name,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        server.wait_until_healthy(f"{url}/_stcore/health")
    except BaseException:
        server.stop()
        raise
    return server, url


@pytest.fixture(scope="module")
def page(browser: Browser) -> Iterator[Page]:
    """One page for all of this module's visits: Streamlit's scripts load once; each visit is a new session."""
    context = browser.new_context(viewport=VIEWPORT)
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


def metrics(page: Page) -> Dict[str, str]:
    """The page's st.metric figures: label → value as shown."""
    shown = {}
    for metric in page.get_by_test_id("stMetric").all():
        label = metric.get_by_test_id("stMetricLabel").inner_text().strip()
        shown[label] = metric.get_by_test_id("stMetricValue").inner_text().strip()
    return shown


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
        f"select p.id, p.status, coalesce(p.duration, epoch(max(j.finished_at)) - epoch(min(j.started_at)))"
        f" from {D}.pipelines p left join {D}.jobs j on j.pipeline__id = p.id"
        f" where p.created_at >= :since and p.created_at < :until group by p.id, p.status, p.duration"
    )
    statuses = [status for _, status, _ in pipelines]
    finished = [seconds for _, status, seconds in pipelines if status in ("success", "failed") and seconds is not None]
    queued = [q for (q,) in expected.rows(
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


def test_ci_health_page_shows_success_rate_durations_and_queue_time(page, dashboard, expected):
    open_page(page, dashboard, *PAGES["ci_health"])
    assert_no_errors(page)
    check_ci_health(metrics(page), expected)
    assert page.get_by_test_id("stVegaLiteChart").count() >= 4  # success trend, duration, queue, branch heatmap
    save_screenshot(page, SCREENSHOT_NAMES["ci_health"], '[data-testid="stMain"]')


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
    open_page(page, dashboard, *PAGES["jobs"])
    assert_no_errors(page)
    check_jobs(metrics(page), expected)
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
    assert page.get_by_test_id("stVegaLiteChart").count() >= 3  # slowest, flakiest, failure reasons
    save_screenshot(page, SCREENSHOT_NAMES["jobs"], '[data-testid="stMain"]')


def test_time_inside_jobs_page_adds_up_the_log_sections(page, dashboard, expected):
    open_page(page, dashboard, *PAGES["job_time"])
    assert_no_errors(page)
    shown = metrics(page)
    sections = expected.rows(
        f"select job_id, name, duration_seconds from {D}.job_log_sections"
        f" where depth = 0 and duration_seconds is not null and started_at >= :since and started_at < :until"
    )
    totals: Dict[str, float] = defaultdict(float)
    for _, name, seconds in sections:
        totals[name] += seconds
    top = max(totals, key=lambda name: (totals[name], name))
    total = sum(totals.values())
    assert len(sections) > 100

    assert_count(shown["Jobs with sections"], len({job_id for job_id, *_ in sections}))
    assert_seconds(shown["Time in sections"], total)
    assert shown["Costliest section"] == top
    assert_percent(shown["Costliest section share"], totals[top], total)
    assert page.get_by_test_id("stVegaLiteChart").count() >= 2
    save_screenshot(page, SCREENSHOT_NAMES["job_time"], '[data-testid="stMain"]')


def test_secret_findings_page_is_redacted_and_lists_the_erase_commands(page, dashboard, expected, demo_data):
    open_page(page, dashboard, *PAGES["secrets"])
    assert_no_errors(page)
    shown = metrics(page)
    findings = expected.rows(
        f"select f.job_id, f.project_id, f.fingerprint, j.erased_at is null from {D}.secret_findings f"
        f" left join {D}.jobs j on j.id = f.job_id"
        f" where coalesce(j.created_at, f.detected_at) >= :since and coalesce(j.created_at, f.detected_at) < :until"
    )
    to_erase = {(project_id, job_id) for job_id, project_id, _, not_erased in findings if not_erased}
    assert len(findings) > 5 and to_erase

    assert_count(shown["Secret findings"], len(findings))
    assert_count(shown["Distinct secrets"], len({fingerprint for _, _, fingerprint, _ in findings}))
    assert_count(shown["Jobs with secrets"], len({job_id for job_id, *_ in findings}))
    assert_count(shown["Jobs to erase"], len(to_erase))
    commands = page.get_by_test_id("stCode").inner_text()
    erase_urls = set(re.findall(r"/api/v4/projects/(\d+)/jobs/(\d+)/erase", commands))
    assert {(int(p), int(j)) for p, j in erase_urls} == to_erase
    assert commands.count('--header "PRIVATE-TOKEN: $GITLAB_TOKEN"') == len(to_erase)
    content = page.content()
    leaked = [secret for secret in demo_data.planted_secrets if secret in content]
    assert demo_data.planted_secrets and leaked == []  # only redacted previews reach the page
    save_screenshot(page, SCREENSHOT_NAMES["secrets"], '[data-testid="stMain"]')


def check_delivery(shown: Dict[str, str], expected: Expected) -> None:
    """The delivery figures: merged MRs and their lead time percentiles, issues opened and closed."""
    lead = [seconds for (seconds,) in expected.rows(
        f"select epoch(merged_at) - epoch(created_at) from {D}.merge_requests"
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
    open_page(page, dashboard, *PAGES["delivery"])
    assert_no_errors(page)
    check_delivery(metrics(page), expected)
    assert page.get_by_test_id("stVegaLiteChart").count() >= 3
    save_screenshot(page, SCREENSHOT_NAMES["delivery"], '[data-testid="stMain"]')


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


def test_postgresql_dashboard_says_what_is_not_loaded_then_shows_the_next_load(page, postgres_dsn, tmp_path, expected):
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
        page.get_by_test_id("stSidebar").get_by_role("button", name="Reload data").click()
        expect(metric_value(page, "Merged MRs")).to_be_visible(timeout=RENDER_TIMEOUT_MS)
        for key, check in (("delivery", check_delivery), ("ci_health", check_ci_health), ("jobs", check_jobs)):
            open_page(page, url, *PAGES[key])
            assert_no_errors(page)
            check(metrics(page), expected)
        for key in ("job_time", "secrets"):
            open_page(page, url, *PAGES[key][:2])
            assert_no_errors(page)
            if "job_log_sections" not in ws.tables():
                expect(page.get_by_test_id("stAlertContentInfo")).to_contain_text("No job logs loaded yet")
    finally:
        server.stop()
