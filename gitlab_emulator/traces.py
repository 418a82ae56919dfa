"""Job traces, generated on demand and deterministically from the job, exactly as runners write them.

A trace is never stored: `render_trace` rebuilds it from the world seed, the job id and the job's
state. Sections use GitLab's markers (https://docs.gitlab.com/ci/jobs/job_logs/#custom-collapsible-sections):
`\\x1b[0Ksection_start:<unix_ts>:<name>[collapsed=true]\\r\\x1b[0K<header>` and
`\\x1b[0Ksection_end:<unix_ts>:<name>\\r\\x1b[0K`, one marker per line.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass, replace
from datetime import datetime

from gitlab_emulator.leaks import LOOKALIKE_LINES, secret_lines, secret_value
from gitlab_emulator.model import Job, World

FINISHED_TRACE_CACHE_SIZE = 32_768  # about 330 MB at the benchmark's mean of 10 KB a trace
GREEN, CYAN, RED, YELLOW, RESET, ERASE = "\x1b[32;1m", "\x1b[36;1m", "\x1b[31;1m", "\x1b[0;33m", "\x1b[0;m", "\x1b[0K"

_IMAGES = ("ruby:3.3", "node:22-alpine", "python:3.12-slim", "golang:1.23", "alpine:3.20", "hashicorp/terraform:1.9")
_WORDS = ("user", "order", "invoice", "session", "cache", "token", "report", "payment", "search", "export",
          "import", "profile", "billing", "webhook", "queue", "scheduler", "audit", "metrics")


@dataclass(frozen=True, slots=True)
class _Secret:
    """A line that carries a planted secret, so its line number can be recorded."""

    text: str
    kind: str
    value: str


@dataclass(frozen=True, slots=True)
class _Marker:
    """A section marker; its timestamp comes from its place in the timed plan."""

    name: str
    start: bool
    header: str = ""
    collapsed: bool = False


@dataclass(frozen=True, slots=True)
class TraceResult:
    """A rendered trace and the secrets it prints as (kind, value, 1-based line number)."""

    text: str
    planted: tuple[tuple[str, str, int], ...]


@dataclass(frozen=True, slots=True)
class TraceContext:
    """Everything a trace depends on, copied out of the world under its lock."""

    seed: int
    job_id: int
    project_id: int
    project_path: str
    name: str
    stage: str
    status: str
    sha: str
    ref: str
    runner: str
    started_at: datetime | None
    finished_at: datetime | None
    now: datetime
    erased: bool
    target_bytes: int
    artifacts: bool
    failure_reason: str | None
    leaks: tuple[tuple[str, str], ...]


def trace_context(world: World, job: Job) -> TraceContext:
    """Snapshots what the trace of `job` depends on (call with the world lock held)."""
    pipeline = world.pipelines[job.pipeline_id]
    runner = world.runners.get(job.runner_id) if job.runner_id else None
    return TraceContext(
        seed=world.seed, job_id=job.id, project_id=job.project_id,
        project_path=world.projects[job.project_id].path_with_namespace, name=job.name, stage=job.stage,
        status=job.status, sha=pipeline.sha, ref=pipeline.ref,
        runner=runner.description if runner else "shared-runner", started_at=job.started_at,
        finished_at=job.finished_at, now=world.now, erased=job.erased_at is not None,
        target_bytes=job.trace_bytes, artifacts=job.artifacts, failure_reason=job.failure_reason, leaks=job.leaks,
    )


def render_trace(ctx: TraceContext) -> TraceResult:
    """Renders the trace as GitLab serves it now: empty before start or after erase, partial while running.

    Args:
        ctx (TraceContext): From `trace_context`.
    Returns:
        TraceResult: The text and the planted secrets with their line numbers.
    """
    if ctx.erased or ctx.started_at is None:
        return TraceResult("", ())
    if ctx.finished_at is not None:  # a finished trace no longer depends on the clock
        return _render_finished(replace(ctx, now=ctx.finished_at))
    return _render(ctx)


@functools.lru_cache(maxsize=FINISHED_TRACE_CACHE_SIZE)
def _render_finished(ctx: TraceContext) -> TraceResult:
    """A finished job's trace never changes: render it once, as GitLab stores it once."""
    return _render(ctx)


def _render(ctx: TraceContext) -> TraceResult:
    rng = random.Random(f"{ctx.seed}:trace:{ctx.job_id}")
    entries, planned_seconds = _plan(ctx, rng)
    if ctx.finished_at is not None:
        scale = max((ctx.finished_at - ctx.started_at).total_seconds(), 1.0) / planned_seconds
        cutoff = planned_seconds if ctx.status != "canceled" else planned_seconds * 0.6
    else:  # still running: stretch the plan so that "now" falls at most 60% of the way through it
        elapsed = max((ctx.now - ctx.started_at).total_seconds(), 0.0)
        scale = max(1.0, elapsed / (0.6 * planned_seconds))
        cutoff = elapsed / scale
    return _emit(ctx, entries, scale, cutoff)


def _emit(ctx: TraceContext, entries: list[tuple[float, object]], scale: float, cutoff: float) -> TraceResult:
    """Turns the timed plan into text, stopping at `cutoff` seconds (unscaled) for unfinished jobs."""
    assert ctx.started_at is not None
    start_ts = ctx.started_at.timestamp()
    lines: list[str] = []
    planted: list[tuple[str, str, int]] = []
    for offset, item in entries:
        if offset > cutoff:
            break
        if isinstance(item, _Marker):
            ts = int(start_ts + offset * scale)
            if item.start:
                flag = "[collapsed=true]" if item.collapsed else ""
                lines.append(f"{ERASE}section_start:{ts}:{item.name}{flag}\r{ERASE}{CYAN}{item.header}{RESET}")
            else:
                lines.append(f"{ERASE}section_end:{ts}:{item.name}\r{ERASE}")
        elif isinstance(item, _Secret):
            lines.append(item.text)
            planted.append((item.kind, item.value, len(lines)))
        else:
            lines.append(str(item))
    if ctx.status == "canceled":
        lines.append(f"{RED}ERROR: Job failed: canceled{RESET}")
    return TraceResult("\n".join(lines) + "\n" if lines else "", tuple(planted))


_OVERHEAD_BYTES = {True: 550, False: 1900}
"""Roughly what the runner's own sections add around step_script (compact or full), so sizes match targets."""


def _plan(ctx: TraceContext, rng: random.Random) -> tuple[list[tuple[float, object]], float]:
    """Lays out the whole trace as (offset_seconds, line|marker) entries; returns them and the total.

    Small targets (under 1.5 KB) give a compact log without cache and artifact sections; a runner system
    failure stops after prepare_executor (a few hundred bytes).
    """
    image = rng.choice(_IMAGES)
    failed = ctx.status == "failed"
    compact = ctx.target_bytes < 1500 or ctx.failure_reason == "runner_system_failure"
    entries: list[tuple[float, object]] = []
    clock = 0.0

    def section(name: str, header: str, body: list[object], seconds: float) -> None:
        nonlocal clock
        entries.append((clock, _Marker(name, True, header)))
        step = seconds / (len(body) + 1)
        for i, line in enumerate(body, start=1):
            entries.append((clock + step * i, line))
        clock += seconds
        entries.append((clock, _Marker(name, False)))

    digest = "%064x" % rng.getrandbits(256)
    runner_token, system_id = "%06x" % rng.getrandbits(24), "%012x" % rng.getrandbits(48)
    entries.append((0.0, f"{ERASE}Running with gitlab-runner 17.7.0 (3153ccc6){RESET}"))
    entries.append((0.0, f"{ERASE}  on {ctx.runner} t3_{runner_token}, system ID: s_{system_id}{RESET}"))
    executor = [f"{ERASE}Using Docker executor with image {image} ...{RESET}"]
    if not compact:
        executor += [f"{ERASE}Pulling docker image {image} ...{RESET}",
                     f"{ERASE}Using docker image sha256:{digest} for {image} with digest "
                     f"{image.split(':')[0]}@sha256:{digest} ...{RESET}"]
    if ctx.failure_reason == "runner_system_failure":
        executor.append(f"{RED}ERROR: Preparation failed: Cannot connect to the Docker daemon at "
                        f"unix:///var/run/docker.sock. Is the docker daemon running?{RESET}")
        section("prepare_executor", 'Preparing the "docker" executor', executor, rng.uniform(3, 25))
        entries.append((clock, f"{RED}ERROR: Job failed (system failure): Cannot connect to the Docker daemon{RESET}"))
        return entries, clock
    section("prepare_executor", 'Preparing the "docker" executor', executor, rng.uniform(3, 25))
    if not compact:
        host = f"runner-t3{'%05x' % rng.getrandbits(20)}-project-{ctx.project_id}-concurrent-0"
        section("prepare_script", "Preparing environment", [f"Running on {host} via {ctx.runner}..."],
                rng.uniform(1, 3))
    checkout = f"{GREEN}Checking out {ctx.sha[:8]} as detached HEAD (ref is {ctx.ref})...{RESET}"
    sources: list[object] = [checkout] if compact else [
        f"{GREEN}Fetching changes with git depth set to 20...{RESET}",
        f"Initialized empty Git repository in /builds/{ctx.project_path}/.git/",
        f"{GREEN}Created fresh repository.{RESET}", checkout, "", f"{GREEN}Skipping Git submodules setup{RESET}"]
    section("get_sources", "Getting source from Git repository", sources, rng.uniform(2, 8))
    cached = not compact and rng.random() < 0.5
    cache_key = f"{ctx.name}-{'%08x' % rng.getrandbits(32)}-protected"
    cache_url = f"https://storage.googleapis.com/gitlab-runner-cache/project/{ctx.project_id}/{cache_key}"
    if cached:
        section("restore_cache", "Restoring cache", [
            f"{GREEN}Checking cache for {cache_key}...{RESET}", f"Downloading cache from {cache_url}{RESET}",
            f"{GREEN}Successfully extracted cache{RESET}",
        ], rng.uniform(2, 10))
    body = _script_body(ctx, rng, failed, max(120, ctx.target_bytes - _OVERHEAD_BYTES[compact]))
    section("step_script", 'Executing "step_script" stage of the job script', body,
            max(20.0, min(1800.0, ctx.target_bytes / 200.0)) * rng.uniform(0.6, 1.4))
    if not compact and rng.random() < 0.3:
        section("after_script", "Running after_script", [
            f"{GREEN}Running after script...{RESET}", f"{GREEN}$ echo \"job {ctx.name} done\"{RESET}",
            f"job {ctx.name} done",
        ], rng.uniform(1, 3))
    if cached and not failed:
        section("archive_cache", "Saving cache for successful job", [
            f"{GREEN}Creating cache {cache_key}...{RESET}",
            f"vendor/: found {rng.randint(200, 9000)} matching artifact files and directories{RESET}",
            f"Uploading cache.zip to {cache_url}{RESET}", f"{GREEN}Created cache{RESET}",
        ], rng.uniform(2, 8))
    if not compact and (ctx.artifacts or failed):
        outcome, adjective, folder = ("failure", "failed", "reports/") if failed else ("success", "successful", "dist/")
        section(f"upload_artifacts_on_{outcome}", f"Uploading artifacts for {adjective} job", [
            f"{GREEN}Uploading artifacts...{RESET}",
            f"{folder}: found {rng.randint(3, 400)} matching artifact files and directories{RESET}",
            f'Uploading artifacts as "archive" to coordinator... 201 Created{RESET}  id={ctx.job_id} '
            f"responseStatus=201 Created",
        ], rng.uniform(1, 5))
    section("cleanup_file_variables", "Cleaning up project directory and file based variables", [],
            rng.uniform(0.2, 1))
    entries.append((clock, f"{RED}ERROR: Job failed: exit code 1{RESET}" if failed else f"{GREEN}Job succeeded{RESET}"))
    return entries, clock


def _script_body(ctx: TraceContext, rng: random.Random, failed: bool, target: int) -> list[object]:
    """Builds about `target` bytes of step_script lines, then adds a nested section, look-alikes and secrets."""
    commands = _commands_for(ctx.stage, ctx.name)
    lines: list[object] = [f"{GREEN}$ {command}{RESET}" for command in commands]
    size = sum(len(str(line)) + 1 for line in lines)
    pool = _filler_pool(ctx.stage)
    while size < target:
        for line in rng.choices(pool, k=max(8, (target - size) // 60)):
            lines.append(line)
            size += len(line) + 1
            if size >= target:
                break
    for _ in range(len(lines) // 80):
        lines.insert(rng.randrange(len(commands), len(lines)), f"{GREEN}$ {rng.choice(commands)}{RESET}")
    blocks = _Blocks()
    if rng.random() < 0.4 and len(lines) > 6:
        start = rng.randrange(1, len(lines) // 2)
        stop = min(len(lines), start + rng.randint(3, 12))
        name = f"{rng.choice(_WORDS)}_details"
        inner = [_Marker(name, True, f"Details for {name.replace('_', ' ')}", collapsed=True), *lines[start:stop],
                 _Marker(name, False)]
        lines[start:stop] = inner
        blocks.add(start, len(inner))
    for _ in range(rng.choice((0, 0, 1, 2))):
        blocks.insert(lines, blocks.free_position(rng, len(lines)), [rng.choice(LOOKALIKE_LINES)])
    for kind, value_key in ctx.leaks:
        value = secret_value(ctx.seed, kind, value_key)
        printed, secret_index = secret_lines(kind, value, ctx.project_id, rng)
        block: list[object] = list(printed)
        block[secret_index] = _Secret(printed[secret_index], kind, value)
        blocks.insert(lines, blocks.free_position(rng, len(lines)), block)
    if failed:
        lines.extend(_failure_lines(ctx, rng))
    return lines


class _Blocks:
    """Tracks runs of lines that must stay together (a nested section, a key block) while inserting."""

    def __init__(self) -> None:
        self._ranges: list[tuple[int, int]] = []

    def add(self, start: int, length: int) -> None:
        """Protects lines[start:start+length] from being split by later insertions."""
        self._ranges.append((start, start + length))

    def free_position(self, rng: random.Random, length: int) -> int:
        """Draws an insertion point in [0, length] that does not split a protected run."""
        for _ in range(20):
            position = rng.randrange(length + 1)
            if all(not (start < position < stop) for start, stop in self._ranges):
                return position
        return length

    def insert(self, lines: list[object], position: int, block: list[object]) -> None:
        """Inserts `block` at `position`, shifting and extending the protected runs."""
        lines[position:position] = block
        shifted = [(s + len(block), e + len(block)) if s >= position else (s, e) for s, e in self._ranges]
        self._ranges = [*shifted, (position, position + len(block))]


def _commands_for(stage: str, name: str) -> list[str]:
    """Returns the script commands a job of this stage runs."""
    if stage == "build":
        return ["npm ci --prefer-offline", "npm run build"] if "web" in name or "assets" in name else [
            "go mod download", f"go build -o bin/{name} ./cmd/..."]
    if stage == "test":
        return ["bundle install --jobs 4", "bundle exec rspec --format progress"] if "rspec" in name else [
            "pip install -r requirements-dev.txt", "pytest -q --junitxml=report.xml"]
    if stage == "lint":
        return ["ruff check .", "ruff format --check ."]
    if stage == "security":
        return ["trivy fs --exit-code 0 .", "semgrep ci"]
    if stage == "deploy":
        return ["helm dependency build chart/", "helm upgrade --install app chart/ --wait --timeout 5m"]
    return ["make all"]


@functools.lru_cache(maxsize=None)
def _filler_pool(stage: str) -> tuple[str, ...]:
    """A fixed pool of output lines per stage; traces draw from it, which keeps rendering cheap."""
    rng = random.Random(f"filler:{stage}")
    return tuple(_filler(stage, rng) for _ in range(2048))


def _filler(stage: str, rng: random.Random) -> str:
    """Returns one line of ordinary job output in the style of the stage."""
    word, other = rng.choice(_WORDS), rng.choice(_WORDS)
    roll = rng.random()
    if stage == "test":
        if roll < 0.6:
            verb = rng.choice(("creates", "updates", "rejects", "lists"))
            return f"  {GREEN}✓{RESET} {word} {verb} a {other} ({rng.randint(1, 900)}ms)"
        return f"tests/test_{word}.py::test_{other}_{rng.randint(1, 99)} PASSED [{rng.randint(1, 99):3d}%]"
    if stage == "build":
        if roll < 0.5:
            target = f"src/CMakeFiles/core.dir/{word}_{rng.randint(1, 400)}.cpp.o"
            return f"[{rng.randint(1, 99):3d}%] Building CXX object {target}"
        asset = f"dist/assets/{word}-{'%08x' % rng.getrandbits(32)}.js"
        return f"  {asset}   {rng.uniform(1, 400):7.2f} kB │ gzip: {rng.uniform(0.5, 90):6.2f} kB"
    if stage == "deploy":
        return f"{rng.choice(('deployment', 'service', 'configmap'))}.apps/{word}-{rng.randint(1, 9)} configured"
    if roll < 0.1:
        return f"{YELLOW}WARNING: {word} cache is stale, rebuilding{RESET}"
    clock = f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}.{rng.randint(0, 999):03d}"
    return f"2026-01-{rng.randint(1, 28):02d}T{clock}Z INFO  [{word}] processed {rng.randint(1, 5000)} items"


def _failure_lines(ctx: TraceContext, rng: random.Random) -> list[object]:
    """Returns the tail of a failed script."""
    word = rng.choice(_WORDS)
    return [
        f"{RED}FAILED tests/test_{word}.py::test_{word}_is_valid - AssertionError: expected 200, got 500{RESET}",
        f"{RED}{rng.randint(1, 5)} failed, {rng.randint(20, 400)} passed in {rng.uniform(5, 90):.2f}s{RESET}",
    ]
