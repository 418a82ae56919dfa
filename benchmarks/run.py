"""Backfill benchmark against the emulator at 50 ms latency: `python benchmarks/run.py` prints the tables.

For each size (`--sizes`, default ~1,000 and ~20,000 finished jobs in the perf world, all of group `acme`:
10 projects), measured side by side in one run, each variant in its own process:
- python-gitlab, sequential: list a project's jobs, `job.trace()` each (on `--baseline-jobs` logs; first size);
- bare aiohttp at the same concurrency, bodies thrown away: what the emulator itself can serve (first size);
- the `job_logs` resource alone, fed the already listed jobs;
- the whole pipeline: every table and every log (sections, findings) → DuckDB, first load, as the CLI runs
  it (the repo's `.dlt/config.toml` and import schema); extract, normalize and load timed apart, with the
  peak RSS of each step (`VmHWM`, reset between steps through `/proc/self/clear_refs`);
- the same pipeline again with nothing new (the rerun);
- the first load with DuckDB's other settings measured: dlt's INSERT load files instead of Parquet, dlt's own
  DuckDB client (its merge) instead of gitlab/bounded_duckdb.py, and a DuckDB memory_limit;
- every table but logs → DuckDB, next to Airbyte's `source-gitlab read` on the same streams (its own pinned
  venv, built on first use in `--airbyte-venv`);
- the whole pipeline → PostgreSQL (`--postgres`, a throwaway server from tests/postgres_server.py).
The emulator logs every request it answers (`--request-log`), so each variant's requests are counted per route.
Then the issue's targets (issue 10), met or not. Raw numbers go to benchmarks/out/results.json.
"""

import argparse
import json
import math
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time

STARTED = time.perf_counter()  # a variant's start-up (its imports) is counted from here
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "benchmarks" / "out"
GROUP = "acme"  # the default world's projects and the perf world's four, 10 in all
FINISHED = ("success", "failed", "canceled")
KEY = "benchmark-fingerprint-key-not-a-secret"
sys.path.insert(0, str(REPO))  # the variants import the repo's `gitlab` and `gitlab_emulator`
AIRBYTE_REQUIREMENTS = REPO / "benchmarks" / "airbyte-requirements.txt"
AIRBYTE_VENV = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "gitlab-dlt-bench" / "airbyte"
# Airbyte's streams that are tables of ours too (it has no environments or notes; we have no epics or users)
AIRBYTE_STREAMS = ("groups", "group_members", "projects", "project_members", "project_milestones", "project_labels",
                   "branches", "tags", "releases", "commits", "issues", "merge_requests", "pipelines", "deployments",
                   "jobs")
LOG_TABLES = ("job_logs",)  # the resource that fetches logs (it also loads job_log_sections, secret_findings)
JOB_LISTING_ROUTES = ("GET /projects/:id/jobs", "GET /projects/:id/pipelines/:pipeline_id/jobs")
TRACE_ROUTE = "GET /projects/:id/jobs/:job_id/trace"
STEPS = ("extract", "normalize", "load")

CANDIDATE_MEMORY_LIMIT = "256MB"  # holds ~10 KB logs; a table of long ones fails under it as it grows (bounded_duckdb.py)

TARGET_SPEEDUP = 30  # whole pipeline over python-gitlab, sequential, per log
TARGET_MOONSHOT = 1.2  # whole pipeline ÷ resource alone, in seconds
TARGET_MIN_LOGS = 14_000
TARGET_RSS_GROWTH = 1.2  # peak RSS at the largest size ÷ at the smallest
TARGET_OF_AIRBYTE = 0.1  # full load without logs ÷ Airbyte's wall time
TARGET_RERUN_SECONDS = 5.0
JOBS_PER_LISTING = 100


def _token() -> str:
    from gitlab_emulator import TOKENS

    return TOKENS["maintainer"]


# ----- the variants, each run as `run.py --variant NAME ...` in a child process -----

def _read_jobs(path: str, page_size: int) -> Iterator[List[Dict[str, Any]]]:
    page: List[Dict[str, Any]] = []
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            page.append(json.loads(line))
            if len(page) == page_size:
                yield page
                page = []
    if page:
        yield page


def _resource_variant(args: argparse.Namespace) -> Dict[str, Any]:
    """Iterates `job_logs` over the jobs listed in `--jobs-file`, read lazily so memory stays the resource's."""
    import dlt

    from gitlab.credentials import gitlab_credentials
    from gitlab.job_logs import job_logs
    from gitlab.job_logs.config import JobLogsConfiguration
    from gitlab.run_stats import JobLogStats

    stats = JobLogStats()
    config = JobLogsConfiguration(trace_concurrency=args.concurrency, fingerprint_key=KEY)
    credentials = gitlab_credentials(access_token=_token(), base_url=args.url)
    jobs = dlt.resource(_read_jobs(args.jobs_file, args.page_size), name="jobs")
    resource = job_logs(jobs, credentials, config=config, stats=stats)
    started = time.perf_counter()
    for _ in resource:
        pass
    seconds = time.perf_counter() - started
    return {"logs": stats.fetched, "seconds": seconds, "failed": len(stats.failed)}


def _raw_variant(args: argparse.Namespace) -> Dict[str, Any]:
    """Fetches the same traces with bare aiohttp and throws the bodies away: the emulator's own ceiling."""
    import asyncio

    import aiohttp

    async def fetch_all() -> int:
        semaphore = asyncio.Semaphore(args.concurrency)
        connector = aiohttp.TCPConnector(limit=args.concurrency)
        async with aiohttp.ClientSession(headers={"PRIVATE-TOKEN": _token()}, connector=connector) as session:

            async def fetch(job: Dict[str, Any]) -> None:
                async with semaphore:
                    path = f"/projects/{job['pipeline']['project_id']}/jobs/{job['id']}/trace"
                    async with session.get(f"{args.url}/api/v4{path}") as response:
                        async for _ in response.content.iter_chunked(65_536):
                            pass

            jobs = [job for page in _read_jobs(args.jobs_file, 1_000) for job in page]
            await asyncio.gather(*(fetch(job) for job in jobs))
            return len(jobs)

    started = time.perf_counter()
    count = asyncio.run(fetch_all())
    return {"logs": count, "seconds": time.perf_counter() - started}


def _reset_peak_rss() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM (Linux ≥ 4.0)


def _pipeline_variant(args: argparse.Namespace) -> Dict[str, Any]:
    """Runs the source (every table, or every table but logs) as the CLI would, one step at a time."""
    os.environ.update({"SOURCES__GITLAB__TRACE_CONCURRENCY": str(args.concurrency),
                       "SOURCES__GITLAB__FINGERPRINT_KEY": KEY, "DLT_DISABLE_PLUGINS": "true"})
    sys.modules.setdefault("dlthub", None)  # type: ignore[arg-type]  # as gitlab_pipeline.py starts: no dlt.hub
    import dlt
    from dlt.common.schema.utils import get_write_disposition

    from gitlab import gitlab_source
    from gitlab.bounded_duckdb import bounded_duckdb
    from gitlab.credentials import gitlab_credentials
    from gitlab.destinations import DUCKDB_LOADER_FILE_FORMAT, make_destination

    started = time.perf_counter()
    source = gitlab_source(credentials=gitlab_credentials(access_token=_token(), base_url=args.url), groups=[GROUP])
    if args.no_logs:
        source = source.with_resources(*(name for name in source.selected_resources if name not in LOG_TABLES))
    workdir = Path(args.workdir)
    # the destination as the CLI makes it (credentials the dlt way), or a candidate setting of DuckDB's
    os.environ["DESTINATION__POSTGRES__CREDENTIALS" if args.dsn else "DESTINATION__DUCKDB__CREDENTIALS"] = (
        args.dsn or str(workdir / "benchmark.duckdb"))
    destination = make_destination("postgres" if args.dsn else "duckdb")
    if args.insert_values:
        destination = bounded_duckdb(preferred_loader_file_format="insert_values")
    if args.dlt_duckdb:  # dlt's own client, with its merge
        destination = dlt.destinations.duckdb(preferred_loader_file_format=DUCKDB_LOADER_FILE_FORMAT)
    if args.memory_limit:
        destination = bounded_duckdb(
            credentials={"database": str(workdir / "benchmark.duckdb"),
                         "global_config": {"memory_limit": args.memory_limit}},
            preferred_loader_file_format=DUCKDB_LOADER_FILE_FORMAT)
    pipeline = dlt.pipeline(
        "benchmark_pipeline", destination=destination, dataset_name="gitlab_data",
        pipelines_dir=str(workdir / "pipelines"), import_schema_path=str(REPO / "schemas" / "import"),
    )
    seconds: Dict[str, float] = {"startup": started - STARTED}
    peaks: Dict[str, float] = {}
    normalize_info = None
    for step in STEPS:
        _reset_peak_rss()
        began = time.perf_counter()
        if step == "extract":
            pipeline.extract(source)
        elif step == "normalize":
            normalize_info = pipeline.normalize()
        else:
            pipeline.load().raise_on_failed_jobs()
        seconds[step] = time.perf_counter() - began
        peaks[step] = _peak_rss_mb()
    finished = time.perf_counter()
    total = finished - started
    rows = {table: count for table, count in (normalize_info.row_counts if normalize_info else {}).items()
            if not table.startswith("_dlt")}
    merge_rows = sum(count for table, count in rows.items()
                     if get_write_disposition(pipeline.default_schema.tables, table) == "merge")
    with pipeline.sql_client() as client:
        counts = {table: client.execute_sql(f"select count(*) from {table}")[0][0]
                  for table in ("job_logs", "jobs", "projects") if table in pipeline.default_schema.tables}
    return {"logs": counts.get("job_logs", 0), "jobs": counts.get("jobs", 0), "projects": counts.get("projects", 0),
            "seconds": total, "steps": seconds, "step_rss_mb": peaks, "rows": rows, "merge_rows": merge_rows,
            "counting_s": time.perf_counter() - finished}


# ----- the parent: emulator, listing, children, tables -----

class Emulator:
    """The standalone emulator in its own process, logging each request's route to a file."""

    def __init__(self, jobs: int, latency_ms: float, workdir: Path) -> None:
        self.request_log = workdir / f"requests-{jobs}.log"
        self.request_log.write_text("")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gitlab_emulator", "--port", "0", "--latency-ms", str(latency_ms), "--jobs",
             str(jobs), "--request-log", str(self.request_log)],
            cwd=REPO, stdout=subprocess.PIPE, text=True,
        )
        line = self.process.stdout.readline().strip() if self.process.stdout else ""
        if not line.startswith("GITLAB_EMULATOR_URL="):
            self.process.kill()
            raise RuntimeError(f"the emulator did not start: {line!r}")
        self.url = line.split("=", 1)[1]

    def logged_requests(self) -> int:
        return len(self.request_log.read_text().splitlines())

    def routes_since(self, logged: int) -> Counter:
        """Requests per route since the first `logged` ones, once the emulator has written them (every 0.5 s)."""
        time.sleep(1.0)
        routes: Counter = Counter()
        for line in self.request_log.read_text().splitlines()[logged:]:
            route, status = line.rsplit(" ", 1)
            routes[route if status in ("200", "201") else f"{route} → {status}"] += 1
        return routes

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _list_jobs(url: str, path: Path) -> int:
    """Lists the group's finished jobs into a JSON-lines file and warms their logs (setup, not timed)."""
    import requests  # plain: a project that denies its jobs (acme/data/restricted) is skipped

    headers = {"PRIVATE-TOKEN": _token()}
    api = f"{url}/api/v4"
    projects = requests.get(f"{api}/groups/{GROUP}/projects", headers=headers,
                            params={"per_page": 100, "include_subgroups": "true", "archived": "false",
                                    "with_shared": "false"}).json()

    def project_jobs(project_id: int) -> List[Dict[str, Any]]:
        jobs: List[Dict[str, Any]] = []
        response = requests.get(f"{api}/projects/{project_id}/jobs", headers=headers,
                                params={"pagination": "keyset", "order_by": "id", "sort": "desc", "per_page": 100})
        while response.status_code == 200:
            jobs += [job for job in response.json() if job["status"] in FINISHED]
            if "next" not in response.links:
                break
            response = requests.get(response.links["next"]["url"], headers=headers)
        return jobs

    with ThreadPoolExecutor(16) as pool:
        listed = [job for jobs in pool.map(project_jobs, [p["id"] for p in projects]) for job in jobs]
        # GitLab serves a finished log from storage; the emulator renders it once and then serves it from memory
        for response in pool.map(lambda job: requests.get(
                f"{api}/projects/{job['pipeline']['project_id']}/jobs/{job['id']}/trace", headers=headers), listed):
            response.raise_for_status()
    with open(path, "w", encoding="utf-8") as out:
        out.writelines(json.dumps(job) + "\n" for job in sorted(listed, key=lambda job: job["id"]))
    return len(listed)


def _peak_rss_mb() -> float:
    """This process's peak RSS since exec or the last reset (`ru_maxrss` of a child counts the parent's too)."""
    status = Path("/proc/self/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))) / 1024


def _child(command: List[str], emulator: Emulator, cwd: Optional[Path] = None, env: Optional[Dict[str, str]] = None,
           stdout: Optional[Path] = None, may_fail: bool = False) -> Dict[str, Any]:
    """Runs one variant in a child process; adds its wall and CPU time, the emulator's CPU and requests.

    A variant that `may_fail` (a candidate setting) and fails is recorded with the last line it printed to stderr.
    """
    emulator_before = _cpu_seconds(emulator.process.pid)
    logged = emulator.logged_requests()
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as errors, open(stdout or os.devnull, "w") as sink:
        process = subprocess.Popen(command, cwd=cwd or REPO, stdout=sink if stdout else subprocess.PIPE, stderr=errors,
                                   text=True, env={**os.environ, "RUNTIME__LOG_LEVEL": "ERROR", **(env or {})})
        output = process.stdout.read() if process.stdout else ""
        _, status, usage = os.wait4(process.pid, 0)
        errors.seek(0)
        stderr = errors.read()
    wall = time.perf_counter() - started
    result: Dict[str, Any] = {}
    if os.waitstatus_to_exitcode(status) != 0:
        last = next((line.strip() for line in reversed(stderr.splitlines()) if "Error" in line), "exit code "
                    f"{os.waitstatus_to_exitcode(status)}")
        if not may_fail:
            sys.stderr.write(stderr)
            raise RuntimeError(f"benchmark variant {command[1:4]} failed: {last}")
        result["error"] = last
    elif not stdout:
        result = json.loads(output.strip().splitlines()[-1])
    result["wall_s"] = wall - result.get("counting_s", 0.0)  # the benchmark's own row counts are not the run's
    result["cpu_s"] = usage.ru_utime + usage.ru_stime
    result["emulator_cpu_s"] = _cpu_seconds(emulator.process.pid) - emulator_before
    result["routes"] = dict(emulator.routes_since(logged))
    return result


def _variant(name: str, emulator: Emulator, args: argparse.Namespace, *extra: str,
             may_fail: bool = False) -> Dict[str, Any]:
    return _child([sys.executable, __file__, "--variant", name, "--url", emulator.url, "--concurrency",
                   str(args.concurrency), *extra], emulator, may_fail=may_fail)


# ----- Airbyte's source-gitlab, in its own venv -----

def _airbyte_venv(venv: Path) -> Path:
    """Builds (once) the venv with the pinned `airbyte-source-gitlab`; returns its `source-gitlab` command."""
    command = venv / "bin" / "source-gitlab"
    marker = venv / "requirements.txt"
    if command.exists() and marker.exists() and marker.read_text() == AIRBYTE_REQUIREMENTS.read_text():
        return command
    print(f"Building Airbyte's source-gitlab venv in {venv} (once)...", flush=True)
    shutil.rmtree(venv, ignore_errors=True)
    python = shutil.which("python3.11") or sys.executable  # airbyte-cdk 4 wants Python 3.10 or 3.11
    subprocess.run([python, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--no-deps", "-r", str(AIRBYTE_REQUIREMENTS)],
                   check=True)
    shutil.copy(AIRBYTE_REQUIREMENTS, marker)
    return command


def _airbyte_variant(command: Path, emulator: Emulator, workdir: Path) -> Dict[str, Any]:
    """`source-gitlab read` of AIRBYTE_STREAMS of group `acme`, as a new user configures it (no start date)."""
    config = workdir / "airbyte-config.json"
    config.write_text(json.dumps({"credentials": {"auth_type": "access_token", "access_token": _token()},
                                  "api_url": emulator.url, "groups_list": [GROUP]}))
    discovered = subprocess.run([str(command), "discover", "--config", str(config)], capture_output=True,
                                text=True, check=True).stdout
    streams = next(json.loads(line)["catalog"]["streams"] for line in discovered.splitlines()
                   if line.startswith("{") and json.loads(line).get("type") == "CATALOG")
    catalog = workdir / "airbyte-catalog.json"
    catalog.write_text(json.dumps({"streams": [
        {"stream": stream, "sync_mode": "full_refresh", "destination_sync_mode": "overwrite"}
        for stream in streams if stream["name"] in AIRBYTE_STREAMS]}))
    records = workdir / "airbyte-records.jsonl"
    result = _child([str(command), "read", "--config", str(config), "--catalog", str(catalog)], emulator,
                    cwd=workdir, stdout=records)
    counts: Counter = Counter()
    with open(records, encoding="utf-8") as lines:
        for line in lines:
            if line.startswith('{"type":"RECORD"') or '"type": "RECORD"' in line[:40]:
                counts[json.loads(line)["record"]["stream"]] += 1
    records.unlink()
    result["rows"] = dict(counts)
    return result


# ----- output -----

def _machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor() or "?")
    memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{model}, {os.cpu_count()} CPU(s), {memory_gb:.0f} GiB RAM, {platform.system()} {platform.release()},"
            f" Python {platform.python_version()}; load average {os.getloadavg()[0]:.2f} at start")


def _markdown(header: List[str], rows: List[List[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def _rss(result: Dict[str, Any]) -> str:
    if "step_rss_mb" in result:
        return " / ".join(f"{peak:,.0f}" for peak in result["step_rss_mb"].values())  # another checkout's steps too
    return f"{result['rss_mb']:,.0f}" if result.get("rss_mb") else "n/a"


def _steps(result: Dict[str, Any]) -> str:
    return " / ".join(f"{result['steps'][step]:.1f}" for step in ("startup", *STEPS)) if "steps" in result else ""


def _results_table(raw: Dict[str, Dict[str, Any]], baseline_rate: float) -> str:
    rows = []
    for key, result in raw.items():
        if "error" in result:
            rows.append([result["name"], f"{result['size']:,}", f"**failed**: {result['error'][:100]}", "",
                         f"{result['wall_s']:.1f}", "", "", "", "", f"{result['cpu_s']:.1f}",
                         f"{result['emulator_cpu_s']:.1f}", f"{sum(result['routes'].values()):,}"])
            continue
        logs = result.get("logs", 0)
        seconds = result.get("seconds", result["wall_s"])
        rate = logs / seconds if logs else 0.0
        rows.append([
            result["name"], f"{result.get('size', 0):,}", f"{logs:,}", f"{seconds:.1f}", f"{result['wall_s']:.1f}",
            _steps(result), f"{rate:,.0f}" if rate else "", f"{rate / baseline_rate:.1f}×" if rate else "",
            _rss(result), f"{result['cpu_s']:.1f}", f"{result['emulator_cpu_s']:.1f}",
            f"{sum(result['routes'].values()):,}",
        ])
    return _markdown(["variant", "perf jobs", "logs", "seconds", "process s", "start-up / extract / normalize / load s",
                      "logs/s", "vs python-gitlab", "peak RSS MB (per step)", "client CPU s", "emulator CPU s",
                      "requests"], rows)


def _routes_table(raw: Dict[str, Dict[str, Any]], keys: List[str]) -> str:
    routes = sorted({route for key in keys for route in raw[key]["routes"]})
    rows = [[f"`{route}`", *(f"{raw[key]['routes'].get(route, 0):,}" for key in keys)] for route in routes]
    rows.append(["**all**", *(f"{sum(raw[key]['routes'].values()):,}" for key in keys)])
    return _markdown(["route", *(raw[key]["name"] + f" ({raw[key]['size']:,})" for key in keys)], rows)


def _met(condition: bool) -> str:
    return "yes" if condition else "**no**"


def _targets_table(raw: Dict[str, Dict[str, Any]], sizes: List[int], baseline_rate: float) -> str:
    """Issue 10's targets against what this run measured."""
    rows: List[List[str]] = []
    for size in sizes:
        full = raw[f"pipeline-{size}"]
        rate = full["logs"] / full["seconds"]
        speedup = rate / baseline_rate
        met = speedup >= TARGET_SPEEDUP if full["logs"] >= TARGET_MIN_LOGS else None
        rows.append([f"1. whole pipeline ≥ {TARGET_SPEEDUP}× python-gitlab per log ({full['logs']:,} logs)",
                     f"{speedup:.1f}×", _met(met) if met is not None else f"(< {TARGET_MIN_LOGS:,} logs)"])
        alone = raw[f"resource-{size}"]
        slowdown = full["seconds"] / alone["seconds"]
        rows.append([f"1. moonshot: whole pipeline ≤ {TARGET_MOONSHOT:g}× the resource alone ({full['logs']:,} logs)",
                     f"{slowdown:.1f}×", _met(slowdown <= TARGET_MOONSHOT)])
    first, last = sizes[0], sizes[-1]
    for destination, key in (("DuckDB", "pipeline"), ("PostgreSQL", "postgres")):
        if f"{key}-{last}" in raw and f"{key}-{first}" in raw and last != first:
            big, small = raw[f"{key}-{last}"]["step_rss_mb"], raw[f"{key}-{first}"]["step_rss_mb"]
            growth = max(big.values()) / max(small.values())
            per_step = ", ".join(f"{step} ×{big[step] / small[step]:.2f}" for step in big if step in small)
            rows.append([f"2. peak RSS at {last:,} ≤ {TARGET_RSS_GROWTH:g}× at {first:,}, {destination}",
                         f"×{growth:.2f} ({max(small.values()):,.0f} → {max(big.values()):,.0f} MB; {per_step})",
                         _met(growth <= TARGET_RSS_GROWTH) if destination == "DuckDB" else "(reported)"])
    for size in sizes:
        full = raw[f"pipeline-{size}"]
        listing = sum(full["routes"].get(route, 0) for route in JOB_LISTING_ROUTES)
        bound = full["jobs"] / JOBS_PER_LISTING + full["projects"]
        rows.append([f"3. first load: job listing requests ≤ jobs/100 + projects ({full['jobs']:,} jobs,"
                     f" {full['projects']} projects)", f"{listing:,} (bound {bound:,.0f})", _met(listing <= bound)])
        traces = full["routes"].get(TRACE_ROUTE, 0)
        rows.append([f"6. first load: each log fetched once ({full['logs']:,} logs)", f"{traces:,} trace requests",
                     _met(traces == full["logs"])])
    for size in sizes:
        if f"airbyte-{size}" in raw:
            ours, theirs = raw[f"no-logs-{size}"]["wall_s"], raw[f"airbyte-{size}"]["wall_s"]
            rows.append([f"4. every table but logs ≤ {TARGET_OF_AIRBYTE:g}× Airbyte's wall time ({size:,} perf jobs)",
                         f"{ours / theirs:.2f}× ({ours:.1f} s vs {theirs:.1f} s)", _met(ours / theirs <= TARGET_OF_AIRBYTE)])
    for size in sizes:
        rerun = raw[f"rerun-{size}"]
        traces = rerun["routes"].get(TRACE_ROUTE, 0)
        rows.append([f"5. rerun with nothing new ≤ {TARGET_RERUN_SECONDS:g} s ({size:,} perf jobs)",
                     f"{rerun['seconds']:.1f} s (process {rerun['wall_s']:.1f} s), {sum(rerun['routes'].values())}"
                     f" requests, {traces} logs, {rerun['merge_rows']} rows to merge tables",
                     _met(rerun["seconds"] <= TARGET_RERUN_SECONDS and traces == 0 and rerun["merge_rows"] == 0)])
    return _markdown(["target", "measured", "met?"], rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variant", choices=("resource", "pipeline", "raw"), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--jobs-file", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    parser.add_argument("--dsn", help=argparse.SUPPRESS)
    parser.add_argument("--no-logs", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--insert-values", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--dlt-duckdb", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--memory-limit", help=argparse.SUPPRESS)
    parser.add_argument("--sizes", default="1000,20000", help="perf-world jobs per run, comma-separated"
                        " (default 1000,20000)")
    parser.add_argument("--latency-ms", type=float, default=50.0, help="latency the emulator adds (default 50)")
    parser.add_argument("--concurrency", type=int, default=64, help="trace_concurrency (default 64)")
    parser.add_argument("--page-size", type=int, default=100, help="jobs per page fed to the resource alone"
                        " (default 100, a listing page)")
    parser.add_argument("--baseline-jobs", type=int, default=300, help="logs python-gitlab fetches (default 300)")
    parser.add_argument("--no-airbyte", action="store_true", help="skip Airbyte's source-gitlab")
    parser.add_argument("--airbyte-venv", type=Path, default=AIRBYTE_VENV, help=f"default {AIRBYTE_VENV}")
    parser.add_argument("--no-postgres", action="store_true", help="skip the PostgreSQL runs")
    parser.add_argument("--airbyte-sizes", help="sizes Airbyte runs at, comma-separated (default: all)")
    parser.add_argument("--also-from", type=Path, action="append", default=[], metavar="DIR",
                        help="also run the whole pipeline → DuckDB first load from another checkout of the repo"
                        " (its code and .dlt/config.toml), side by side; repeatable")
    parser.add_argument("--no-candidates", action="store_true", help="skip the other DuckDB settings measured"
                        " (dlt's INSERT load files; dlt's own DuckDB client;"
                        f" memory_limit = {CANDIDATE_MEMORY_LIMIT})")
    args = parser.parse_args()
    variants = {"resource": _resource_variant, "pipeline": _pipeline_variant, "raw": _raw_variant}
    if args.variant:
        print(json.dumps({**variants[args.variant](args), "rss_mb": _peak_rss_mb()}))
        return 0

    OUT.mkdir(parents=True, exist_ok=True)
    sizes = [int(size) for size in args.sizes.split(",")]
    airbyte_sizes = [int(size) for size in args.airbyte_sizes.split(",")] if args.airbyte_sizes else sizes
    airbyte = None if args.no_airbyte else _airbyte_venv(args.airbyte_venv)
    machine = _machine()
    print(f"Machine: {machine}", flush=True)
    raw: Dict[str, Dict[str, Any]] = {}
    baseline_rate = 0.0
    postgres = None
    if not args.no_postgres:
        from tests.postgres_server import PostgresServer

        postgres = PostgresServer()
        postgres.start()
        postgres.create_role("loader", "loader")
    try:
        for size in sizes:
            with tempfile.TemporaryDirectory() as scratch:
                workdir = Path(scratch)
                emulator = Emulator(size, args.latency_ms, OUT)
                try:
                    jobs_file = OUT / f"jobs-{size}.jsonl"
                    listed = _list_jobs(emulator.url, jobs_file)
                    print(f"{size:,} perf jobs: emulator at {emulator.url}, {listed:,} finished jobs listed and their"
                          f" logs warmed; load average {os.getloadavg()[0]:.2f}", flush=True)

                    def record(key: str, name: str, result: Dict[str, Any]) -> None:
                        raw[f"{key}-{size}"] = {**result, "name": name, "size": size}
                        outcome = f"failed: {result['error']}" if "error" in result else "done"
                        print(f"  {name}: {result.get('seconds', result['wall_s']):.1f} s, {outcome}", flush=True)
                        (OUT / "results.json").write_text(json.dumps({"machine": machine, "results": raw}, indent=2))

                    if not baseline_rate:
                        result = _child([sys.executable, str(REPO / "benchmarks" / "python_gitlab_baseline.py"),
                                         "--url", emulator.url, "--token", _token(), "--jobs", str(args.baseline_jobs)],
                                        emulator, cwd=REPO / "benchmarks")
                        result["logs"] = result.pop("jobs")
                        baseline_rate = result["logs"] / result["seconds"]
                        record("python-gitlab", "python-gitlab, sequential (subset)", result)
                        record("raw", "bare aiohttp, bodies discarded (ceiling)",
                               _variant("raw", emulator, args, "--jobs-file", str(jobs_file)))
                    record("resource", "job_logs resource alone", _variant(
                        "resource", emulator, args, "--jobs-file", str(jobs_file), "--page-size", str(args.page_size)))
                    duckdb_dir = workdir / "duckdb"
                    record("pipeline", "whole pipeline → DuckDB, first load",
                           _variant("pipeline", emulator, args, "--workdir", str(duckdb_dir)))
                    for index, other in enumerate(args.also_from):
                        record(f"pipeline-from-{index}", f"whole pipeline → DuckDB, first load, from {other}", _child(
                            [sys.executable, str(other / "benchmarks" / "run.py"), "--variant", "pipeline", "--url",
                             emulator.url, "--concurrency", str(args.concurrency), "--workdir",
                             str(workdir / f"from-{index}")], emulator, cwd=other))
                    result = _variant("pipeline", emulator, args, "--workdir", str(duckdb_dir))
                    result["logs_stored"], result["logs"] = result["logs"], result["routes"].get(TRACE_ROUTE, 0)
                    record("rerun", "whole pipeline → DuckDB, rerun with nothing new", result)
                    record("no-logs", "every table but logs → DuckDB", _variant(
                        "pipeline", emulator, args, "--workdir", str(workdir / "no-logs"), "--no-logs"))
                    if not args.no_candidates:
                        record("insert-values", "whole pipeline → DuckDB, INSERT load files (dlt's default)", _variant(
                            "pipeline", emulator, args, "--workdir", str(workdir / "insert"), "--insert-values",
                            may_fail=True))
                        record("dlt-duckdb", "whole pipeline → DuckDB, dlt's own DuckDB client (its merge)",
                               _variant("pipeline", emulator, args, "--workdir", str(workdir / "dlt-duckdb"),
                                        "--dlt-duckdb", may_fail=True))
                        record("memory-limit", f"whole pipeline → DuckDB, memory_limit {CANDIDATE_MEMORY_LIMIT}",
                               _variant("pipeline", emulator, args, "--workdir", str(workdir / "memory"),
                                        "--memory-limit", CANDIDATE_MEMORY_LIMIT, may_fail=True))
                    if airbyte and size in airbyte_sizes:
                        record("airbyte", "Airbyte source-gitlab read, same streams",
                               _airbyte_variant(airbyte, emulator, workdir))
                    if postgres:
                        database = f"bench_{size}"
                        postgres.create_database(database, owner="loader")
                        record("postgres", "whole pipeline → PostgreSQL, first load", _variant(
                            "pipeline", emulator, args, "--workdir", str(workdir / "postgres"), "--dsn",
                            postgres.dsn(database, user="loader", password="loader")))
                finally:
                    emulator.stop()
    finally:
        if postgres:
            postgres.stop()
    print(f"\nLatency {args.latency_ms:.0f} ms, {args.concurrency} logs in flight; python-gitlab on"
          f" {args.baseline_jobs} logs. Load average at the end: {os.getloadavg()[0]:.2f}.\n")
    print(_results_table(raw, baseline_rate))
    for size in sizes:
        keys = [f"{key}-{size}" for key in ("pipeline", "rerun", "no-logs", "airbyte") if f"{key}-{size}" in raw]
        print(f"\nRequests per route, {size:,} perf jobs:\n")
        print(_routes_table(raw, keys))
    print("\nTargets (issue 10):\n")
    print(_targets_table(raw, sizes, baseline_rate))
    return 0


if __name__ == "__main__":
    sys.exit(main())
