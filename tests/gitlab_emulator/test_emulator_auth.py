"""Authentication channels, 401/403/404 answers and what the tokens can see."""

from __future__ import annotations

import re
from typing import Callable

import pytest
import requests

from gitlab_emulator import TOKENS, GitLabEmulator

RESTRICTED = "acme%2Fdata%2Frestricted"


@pytest.mark.parametrize(
    ("headers", "query", "kind"),
    [
        ({"PRIVATE-TOKEN": TOKENS["maintainer"]}, {}, "private-token-header"),
        ({"Authorization": f"Bearer {TOKENS['oauth']}"}, {}, "bearer"),
        ({"Authorization": f"Bearer {TOKENS['maintainer']}"}, {}, "bearer"),
        ({"JOB-TOKEN": TOKENS["job"]}, {}, "job-token-header"),
        ({}, {"private_token": TOKENS["reporter"]}, "query"),
        ({}, {"access_token": TOKENS["oauth"]}, "query"),
        ({}, {"job_token": TOKENS["job"]}, "query"),
    ],
)
def test_every_way_of_passing_a_token(shared_emulator: GitLabEmulator, headers: dict, query: dict, kind: str) -> None:
    shared_emulator.reset_counters()
    response = requests.get(f"{shared_emulator.base_url}/api/v4/user", headers=headers, params=query)
    assert response.status_code == 200
    assert response.json()["username"].startswith("emulator-")
    assert [(r.path, r.status, r.token_kind) for r in shared_emulator.requests] == [("/api/v4/user", 200, kind)]


@pytest.mark.parametrize(
    "headers",
    [{}, {"PRIVATE-TOKEN": "glpat-not-a-real-one"}, {"PRIVATE-TOKEN": TOKENS["job"]},
     {"JOB-TOKEN": TOKENS["maintainer"]}, {"Authorization": "Bearer nope"}],
)
def test_missing_unknown_or_misplaced_token_is_401(shared_emulator: GitLabEmulator, headers: dict) -> None:
    response = requests.get(f"{shared_emulator.base_url}/api/v4/projects", headers=headers)
    assert response.status_code == 401 and response.json() == {"message": "401 Unauthorized"}


def test_tokens_are_deterministic_and_not_pat_shaped() -> None:
    assert re.fullmatch(r"[0-9a-f]{64}", TOKENS["oauth"]) and TOKENS["job"].startswith("glcbt-")
    assert not any(re.search(r"glpat-[0-9A-Za-z_-]{20}", token) for token in TOKENS.values())


@pytest.mark.parametrize("tail", ["pipelines", "jobs", "environments", "deployments"])
def test_restricted_project_hides_ci_with_403(shared_emulator: GitLabEmulator, api: requests.Session,
                                              tail: str) -> None:
    response = api.get(f"{shared_emulator.base_url}/api/v4/projects/{RESTRICTED}/{tail}")
    assert response.status_code == 403 and response.json() == {"message": "403 Forbidden"}


def test_restricted_project_is_otherwise_readable(shared_emulator: GitLabEmulator, api: requests.Session) -> None:
    world = shared_emulator.world
    project = world.project_by_path["acme/data/restricted"]
    pipeline = world.project_pipelines[project.id][0]
    job = world.pipeline_jobs[pipeline.id][0]
    base = f"{shared_emulator.base_url}/api/v4/projects/{project.id}"
    for tail in (f"pipelines/{pipeline.id}", f"pipelines/{pipeline.id}/jobs", f"jobs/{job.id}", f"jobs/{job.id}/trace"):
        assert api.get(f"{base}/{tail}").status_code == 403
    for tail in ("", "/issues", "/merge_requests", "/repository/commits", "/labels", "/members", "/milestones"):
        assert api.get(base + tail).status_code == 200, tail
    assert api.get(base).json()["permissions"]["project_access"]["access_level"] == 10


def test_secret_project_is_invisible(shared_emulator: GitLabEmulator, api: requests.Session, follow: Callable) -> None:
    secret = shared_emulator.world.project_by_path["acme/secret-project"]
    for ref in ("acme%2Fsecret-project", str(secret.id)):
        for tail in ("", "/issues", "/pipelines"):
            response = api.get(f"{shared_emulator.base_url}/api/v4/projects/{ref}{tail}")
            assert response.status_code == 404 and response.json() == {"message": "404 Project Not Found"}
    for url, params in ((f"{shared_emulator.base_url}/api/v4/projects", {}),
                        (f"{shared_emulator.base_url}/api/v4/groups/acme/projects", {"include_subgroups": "true"})):
        rows, _ = follow(api, url, {"per_page": "100", **params})
        assert secret.id not in {r["id"] for r in rows} and rows


def test_not_found_answers(shared_emulator: GitLabEmulator, api: requests.Session) -> None:
    base = f"{shared_emulator.base_url}/api/v4"
    assert api.get(f"{base}/groups/nope").json() == {"message": "404 Group Not Found"}
    assert api.get(f"{base}/groups/nope").status_code == 404
    assert api.get(f"{base}/no/such/thing").json() == {"error": "404 Not Found"}
    assert requests.get(f"{base}/no/such/thing").status_code == 404
    assert api.get(f"{base}/projects/acme%2Fplatform%2Fapi/jobs/1").json() == {"message": "404 Not found"}


def test_paths_and_ids_are_interchangeable(shared_emulator: GitLabEmulator, api: requests.Session) -> None:
    group = shared_emulator.world.group_by_path["acme/platform"]
    by_path = api.get(f"{shared_emulator.base_url}/api/v4/groups/acme%2Fplatform").json()
    by_id = api.get(f"{shared_emulator.base_url}/api/v4/groups/{group.id}").json()
    assert by_path == by_id and by_path["full_path"] == "acme/platform" and by_path["parent_id"] is not None
