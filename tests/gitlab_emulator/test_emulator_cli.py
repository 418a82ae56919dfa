"""The standalone server: `python -m gitlab_emulator` prints its URL, serves, and exits cleanly on SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import requests

from gitlab_emulator import TOKENS, seed_tiny_world, seed_world

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_standalone_server_prints_url_logs_routes_and_stops_on_sigterm(tmp_path: Path) -> None:
    request_log = tmp_path / "requests.log"
    command = [sys.executable, "-m", "gitlab_emulator", "--port", "0", "--latency-ms", "5", "--jobs", "400",
               "--rate-limit", "100/60", "--route-limit", "/members$=1/60", "--max-concurrency", "4", "--request-log", str(request_log)]
    process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith("GITLAB_EMULATOR_URL=http://127.0.0.1:")
        base = line.split("=", 1)[1]
        response = requests.get(f"{base}/api/v4/groups/acme%2Fperf/projects",
                                headers={"PRIVATE-TOKEN": TOKENS["maintainer"]}, timeout=10)
        assert response.status_code == 200 and response.headers["RateLimit-Limit"] == "100"
        assert len(response.json()) == 4
        project = response.json()[0]["id"]
        assert requests.get(f"{base}/api/v4/projects/{project}/jobs/1/trace", timeout=10).status_code == 401
        members = [requests.get(f"{base}/api/v4/groups/acme/members", headers={"PRIVATE-TOKEN": TOKENS["maintainer"]},
                                timeout=10).status_code for _ in range(2)]
        assert members == [200, 429]
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    assert request_log.read_text().splitlines() == [
        "GET /groups/:id/projects 200", "GET /projects/:id/jobs/:job_id/trace 401",
        "GET /groups/:id/members 200", "GET /groups/:id/members 429",
    ]


def test_perf_world_holds_about_n_finished_jobs() -> None:
    world = seed_world(jobs=1000)
    perf = {p.id for p in world.projects.values() if p.path_with_namespace.startswith("acme/perf/")}
    jobs = [j for j in world.jobs.values() if j.project_id in perf]
    assert len(perf) == 4 and 1000 <= len(jobs) < 1005
    assert all(j.status in ("success", "failed") for j in jobs)
    default = seed_world()
    assert {j.id for j in default.jobs.values()} <= set(world.jobs)


def test_tiny_world_is_one_small_project() -> None:
    world = seed_tiny_world()
    assert [p.path_with_namespace for p in world.projects.values()] == ["acme/app"]
    finished = [j for j in world.jobs.values() if j.status in ("success", "failed", "canceled")]
    assert len(finished) == len(world.jobs) >= 2 and len(world.pipelines) == 1
