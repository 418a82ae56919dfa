"""Benchmark of job log fetching against the emulator at 50 ms latency: `python benchmarks/run.py` prints a table.

Measured side by side, each variant in its own process (so its peak RSS is its own):
0. bare aiohttp at the same concurrency, bodies thrown away: what the emulator itself can serve;
1. python-gitlab, sequential (list jobs, fetch each trace), on a subset of `--baseline-jobs` logs;
2. the `job_logs` resource alone, fed the already listed jobs in pages of `--page-size`;
3. the whole pipeline: `jobs` + `job_logs` (fetch, scan, redact) → normalize → DuckDB, with the repo's
   `.dlt/config.toml` as the CLI runs it (3b. the same without logs: what listing and loading jobs costs;
   3c. with 16 extract workers instead of dlt's 5 for the per-pipeline `jobs` listings).
Then the resource alone at several concurrencies (`--sweep`), which is how TRACE_CONCURRENCY was chosen,
and the issue's targets, met or not.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "benchmarks" / "out"
GROUP = "acme/perf"
FINISHED = ("success", "failed", "canceled")
KEY = "benchmark-fingerprint-key-not-a-secret"
sys.path.insert(0, str(REPO))  # the variants import the repo's `gitlab` and `gitlab_emulator`
TARGET_SPEEDUP = 30  # over python-gitlab, sequential
TARGET_OF_BOUND = 0.8  # of concurrency ÷ latency
TARGET_PIPELINE_SLOWDOWN = 2.0  # whole pipeline ÷ resource alone, in seconds
TARGET_RSS_GROWTH = 1.2  # peak RSS at the largest size ÷ at the smallest


# ----- the variants, each run as `run.py --variant NAME ...` in a child process -----

def _token() -> str:
    from gitlab_emulator import TOKENS

    return TOKENS["maintainer"]


def _resource_variant(args: argparse.Namespace) -> Dict[str, Any]:
    """Iterates `job_logs` over the jobs listed in `--jobs-file`, read lazily so memory stays the resource's."""
    import dlt

    from gitlab.credentials import gitlab_credentials
    from gitlab.job_logs import job_logs
    from gitlab.job_logs.config import JobLogsConfiguration
    from gitlab.run_stats import JobLogStats

    def pages() -> Iterator[List[Dict[str, Any]]]:
        page: List[Dict[str, Any]] = []
        with open(args.jobs_file, encoding="utf-8") as lines:
            for line in lines:
                page.append(json.loads(line))
                if len(page) == args.page_size:
                    yield page
                    page = []
        if page:
            yield page

    stats = JobLogStats()
    config = JobLogsConfiguration(trace_concurrency=args.concurrency, fingerprint_key=KEY)
    credentials = gitlab_credentials(access_token=_token(), base_url=args.url)
    resource = job_logs(dlt.resource(pages, name="jobs"), credentials, config=config, stats=stats)
    started = time.perf_counter()
    for _ in resource:
        pass
    seconds = time.perf_counter() - started
    return {"jobs": stats.fetched, "seconds": seconds, "failed": len(stats.failed), "requests": stats.requests}


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

            with open(args.jobs_file, encoding="utf-8") as lines:
                jobs = [json.loads(line) for line in lines]
            await asyncio.gather(*(fetch(job) for job in jobs))
            return len(jobs)

    started = time.perf_counter()
    count = asyncio.run(fetch_all())
    return {"jobs": count, "seconds": time.perf_counter() - started}


def _pipeline_variant(args: argparse.Namespace) -> Dict[str, Any]:
    """Runs `jobs` + `job_logs` of the source into DuckDB, as the CLI would."""
    os.environ["SOURCES__GITLAB__TRACE_CONCURRENCY"] = str(args.concurrency)
    os.environ["SOURCES__GITLAB__FINGERPRINT_KEY"] = KEY
    import dlt

    from gitlab import gitlab_source
    from gitlab.credentials import gitlab_credentials

    credentials = gitlab_credentials(access_token=_token(), base_url=args.url)
    source = gitlab_source(credentials=credentials, groups=[GROUP])
    workdir = Path(args.workdir)
    pipeline = dlt.pipeline(
        "benchmark_pipeline",
        destination=dlt.destinations.duckdb(str(workdir / "benchmark.duckdb")),
        dataset_name="gitlab_data",
        pipelines_dir=str(workdir / "pipelines"),
        import_schema_path=str(REPO / "schemas" / "import"),
    )
    started = time.perf_counter()
    pipeline.run(source.with_resources(*(["jobs"] if args.jobs_only else ["jobs", "job_logs"]))).raise_on_failed_jobs()
    seconds = time.perf_counter() - started
    with pipeline.sql_client() as client:
        [(count,)] = client.execute_sql(
            "select count(*) from jobs" if args.jobs_only else "select count(*) from job_logs"
        )
    steps = {step.step: (step.finished_at - step.started_at).total_seconds() for step in pipeline.last_trace.steps}
    return {"jobs": count, "seconds": seconds, "steps": steps}


# ----- the parent: emulator, listing, children, table -----

def _start_emulator(jobs: int, latency_ms: float) -> Tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "gitlab_emulator", "--port", "0", "--latency-ms", str(latency_ms), "--jobs", str(jobs)],
        cwd=REPO, stdout=subprocess.PIPE, text=True,
    )
    line = process.stdout.readline().strip() if process.stdout else ""
    if not line.startswith("GITLAB_EMULATOR_URL="):
        process.kill()
        raise RuntimeError(f"the emulator did not start: {line!r}")
    return process, line.split("=", 1)[1]


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _list_jobs(url: str, path: Path) -> int:
    """Lists the group's finished jobs into a JSON-lines file and warms their logs (setup, not timed)."""
    from dlt.sources.helpers import requests

    headers = {"PRIVATE-TOKEN": _token()}
    api = f"{url}/api/v4"
    group = requests.get(f"{api}/groups/{GROUP.replace('/', '%2F')}", headers=headers).json()
    projects = requests.get(f"{api}/groups/{group['id']}/projects", headers=headers, params={"per_page": 100}).json()

    def page(project_id: int, number: int) -> List[Dict[str, Any]]:
        response = requests.get(f"{api}/projects/{project_id}/jobs", headers=headers,
                                params={"per_page": 100, "page": number, "sort": "asc"})
        return [job for job in response.json() if job["status"] in FINISHED]

    work = []
    for project in projects:
        first = requests.get(f"{api}/projects/{project['id']}/jobs", headers=headers, params={"per_page": 100})
        work += [(project["id"], number) for number in range(1, int(first.headers["X-Total-Pages"]) + 1)]
    listed: List[Dict[str, Any]] = []
    with ThreadPoolExecutor(16) as pool:
        for jobs in pool.map(lambda item: page(*item), work):
            listed += jobs
        # GitLab serves a finished log from storage; the emulator renders it once and then serves it from memory
        for response in pool.map(lambda job: requests.get(
                f"{api}/projects/{job['pipeline']['project_id']}/jobs/{job['id']}/trace", headers=headers), listed):
            response.raise_for_status()
    with open(path, "w", encoding="utf-8") as out:
        out.writelines(json.dumps(job) + "\n" for job in listed)
    return len(listed)


def _peak_rss_mb() -> float:
    """This process's peak RSS since exec (`ru_maxrss` of a child also counts the parent's pages before exec)."""
    status = Path("/proc/self/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))) / 1024


def _child(
    arguments: List[str], emulator_pid: int, cwd: Optional[Path] = None, env: Optional[Dict[str, str]] = None
) -> Dict[str, Any]:
    """Runs one variant in a child process; adds its CPU time, and the emulator's CPU meanwhile."""
    emulator_before = _cpu_seconds(emulator_pid)
    process = subprocess.Popen([sys.executable, *arguments], cwd=cwd or REPO, stdout=subprocess.PIPE, text=True,
                               env={**os.environ, "RUNTIME__LOG_LEVEL": "ERROR", **(env or {})})
    output = process.stdout.read() if process.stdout else ""
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"benchmark variant {arguments[1:3]} failed with exit code {process.returncode}")
    result: Dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    result["cpu_s"] = usage.ru_utime + usage.ru_stime
    result["emulator_cpu_s"] = _cpu_seconds(emulator_pid) - emulator_before
    return result


def _machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor() or "?")
    memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = os.getloadavg()[0]
    return (f"{model}, {os.cpu_count()} CPU(s), {memory_gb:.0f} GiB RAM, {platform.system()} {platform.release()},"
            f" Python {platform.python_version()}; load average {load:.2f} at start")


def _row(name: str, logs: int, concurrency: int, result: Dict[str, Any], latency: float, baseline: float) -> List[str]:
    rate = result["jobs"] / result["seconds"]
    bound = concurrency / latency
    return [
        name, f"{logs:,}", str(concurrency), f"{result['seconds']:.1f}", f"{rate:,.0f}",
        f"{rate / baseline:.0f}×" if baseline else "1×", f"{rate / bound:.0%}",
        f"{result['rss_mb']:.0f}" if result.get("rss_mb") is not None else "n/a",
        f"{result['cpu_s']:.1f}", f"{result['emulator_cpu_s']:.1f}",
    ]


def _table(rows: List[List[str]]) -> str:
    header = ["variant", "logs", "conc.", "seconds", "jobs/s", "vs python-gitlab", "of bound", "peak RSS MB",
              "client CPU s", "emulator CPU s"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _targets_table(
    raw: Dict[str, Any], sizes: List[int], concurrency: int, latency: float, baseline_rate: float
) -> str:
    """The issue's four targets against what this run measured, one row per size where it applies."""

    def rate(key: str) -> float:
        return raw[key]["jobs"] / raw[key]["seconds"]

    rows = []
    for size in sizes:
        speedup = rate(f"resource-{size}") / baseline_rate
        of_bound = rate(f"resource-{size}") / (concurrency / latency)
        slowdown = raw[f"pipeline-{size}"]["seconds"] / raw[f"resource-{size}"]["seconds"]
        rows += [
            [f"resource ≥ {TARGET_SPEEDUP}× python-gitlab ({size:,} logs)", f"{speedup:.1f}×",
             _met(speedup >= TARGET_SPEEDUP)],
            [f"resource ≥ {TARGET_OF_BOUND:.0%} of the bound at {concurrency} ({size:,} logs)", f"{of_bound:.0%}",
             _met(of_bound >= TARGET_OF_BOUND)],
            [f"pipeline ≤ {TARGET_PIPELINE_SLOWDOWN:g}× the resource's time ({size:,} logs)", f"{slowdown:.1f}×",
             _met(slowdown <= TARGET_PIPELINE_SLOWDOWN)],
        ]
    first, last = sizes[0], sizes[-1]
    if last != first:
        for label, key in (("resource", "resource"), ("pipeline", "pipeline")):
            growth = raw[f"{key}-{last}"]["rss_mb"] / raw[f"{key}-{first}"]["rss_mb"]
            rows.append([f"{label} peak RSS at {last:,} ≤ {TARGET_RSS_GROWTH:g}× at {first:,}", f"×{growth:.2f}",
                         _met(growth <= TARGET_RSS_GROWTH)])
    lines = ["| target | measured | met? |", "|---|---|---|"]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def _met(condition: bool) -> str:
    return "yes" if condition else "**no**"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variant", choices=("resource", "pipeline", "raw"), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--jobs-file", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    parser.add_argument("--jobs-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--sizes", default="2000,20000", help="logs per run, comma-separated (default 2000,20000)")
    parser.add_argument("--latency-ms", type=float, default=50.0, help="latency the emulator adds (default 50)")
    parser.add_argument("--concurrency", type=int, default=64, help="trace_concurrency (default 64)")
    parser.add_argument("--page-size", type=int, default=5, help="jobs per page fed to the resource (default 5,"
                        " as the pipeline's per-pipeline pages)")
    parser.add_argument("--baseline-jobs", type=int, default=300, help="logs python-gitlab fetches (default 300)")
    parser.add_argument("--sweep", default="8,16,32,64,128", help="concurrencies for the resource on the first size")
    args = parser.parse_args()
    variants = {"resource": _resource_variant, "pipeline": _pipeline_variant, "raw": _raw_variant}
    if args.variant:
        print(json.dumps({**variants[args.variant](args), "rss_mb": _peak_rss_mb()}))
        return 0

    OUT.mkdir(parents=True, exist_ok=True)
    latency = args.latency_ms / 1000
    sizes = [int(size) for size in args.sizes.split(",")]
    print(f"Machine: {_machine()}", flush=True)
    rows: List[List[str]] = []
    sweep_rows: List[List[str]] = []
    raw: Dict[str, Any] = {}
    baseline_rate = 0.0
    for size in sizes:
        emulator, url = _start_emulator(size, args.latency_ms)
        try:
            jobs_file = OUT / f"jobs-{size}.jsonl"
            listed = _list_jobs(url, jobs_file)
            print(f"{size:,} jobs: emulator at {url}, {listed:,} finished jobs listed", flush=True)
            if not baseline_rate:
                result = _child([str(REPO / "benchmarks" / "python_gitlab_baseline.py"), "--url", url, "--token",
                                 _token(), "--jobs", str(args.baseline_jobs)], emulator.pid, cwd=REPO / "benchmarks")
                baseline_rate = result["jobs"] / result["seconds"]
                result["rss_mb"] = None
                rows.append(_row("1. python-gitlab, sequential (subset)", result["jobs"], 1, result, latency, 0))
                raw["python-gitlab"] = result
            common = ["--url", url, "--concurrency", str(args.concurrency)]
            if size == sizes[0]:
                result = _child([__file__, "--variant", "raw", *common, "--jobs-file", str(jobs_file)], emulator.pid)
                rows.append(_row("0. bare aiohttp, bodies discarded (ceiling)", listed, args.concurrency, result,
                                 latency, baseline_rate))
                raw["raw"] = result
            result = _child([__file__, "--variant", "resource", *common, "--jobs-file", str(jobs_file),
                             "--page-size", str(args.page_size)], emulator.pid)
            rows.append(_row("2. job_logs resource alone", listed, args.concurrency, result, latency, baseline_rate))
            raw[f"resource-{size}"] = result
            for key, name, extra, env in (
                ("pipeline", "3. whole pipeline → DuckDB", [], {}),
                ("jobs-only", "3b. as 3, `jobs` only: no logs", ["--jobs-only"], {}),
                ("workers-16", "3c. as 3, `[extract] workers = 16`", [], {"EXTRACT__WORKERS": "16"}),
            ):
                with tempfile.TemporaryDirectory() as workdir:
                    result = _child([__file__, "--variant", "pipeline", *common, "--workdir", workdir, *extra],
                                    emulator.pid, env=env)
                rows.append(_row(name, listed, args.concurrency, result, latency, baseline_rate))
                raw[f"{key}-{size}"] = result
            if size == sizes[0] and args.sweep:
                for concurrency in [int(c) for c in args.sweep.split(",")]:
                    result = _child([__file__, "--variant", "resource", "--url", url, "--concurrency",
                                     str(concurrency), "--jobs-file", str(jobs_file), "--page-size",
                                     str(args.page_size)], emulator.pid)
                    sweep_rows.append(_row("job_logs resource alone", listed, concurrency, result, latency,
                                           baseline_rate))
                    raw[f"sweep-{concurrency}"] = result
            print(_table(rows), flush=True)
        finally:
            emulator.terminate()
            emulator.wait(timeout=30)
    print(f"\nLatency {args.latency_ms:.0f} ms; bound = concurrency ÷ latency; pages of {args.page_size} jobs fed"
          f" to the resource; python-gitlab measured on {args.baseline_jobs} logs.\n")
    print(_table(rows))
    if sweep_rows:
        print(f"\nConcurrency sweep, resource alone, {sizes[0]:,} logs:\n")
        print(_table(sweep_rows))
    print("\nTargets:\n")
    print(_targets_table(raw, sizes, args.concurrency, latency, baseline_rate))
    print(f"Load average at the end: {os.getloadavg()[0]:.2f} (other processes share these CPUs)")
    (OUT / "results.json").write_text(json.dumps({"machine": _machine(), "results": raw}, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
