"""The seeded world over HTTP: JSON shapes, filters, truth scopes, labels, retried jobs, determinism."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Callable

import requests

from gitlab_emulator import GitLabEmulator, seed_world
from gitlab_emulator.truth import Scope, truth_rows

ISO_MS_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
ISO_MS_OFFSET = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d")
API = "acme%2Fplatform%2Fapi"


def test_default_world_numbers(emulator: GitLabEmulator) -> None:
    world = emulator.world
    assert {g.full_path for g in world.groups.values()} == {
        "acme", "acme/platform", "acme/platform/infra", "acme/data", "other"}
    assert 60 <= len(world.pipelines) <= 150 and 200 <= len(world.jobs) <= 800
    statuses = {p.status for p in world.pipelines.values()}
    assert {"success", "failed", "running", "pending", "canceled"} <= statuses
    assert any(j.retried for j in world.jobs.values()) and any(j.allow_failure for j in world.jobs.values())
    assert world.project_by_path["acme/platform/legacy"].archived


def test_truth_scopes(emulator: GitLabEmulator) -> None:
    paths = {p.id: p.path_with_namespace for p in emulator.world.projects.values()}
    default = {paths[k[0]] for k in emulator.truth("projects")}
    assert default == {"acme/website", "acme/platform/api", "acme/platform/worker", "acme/platform/infra/terraform",
                       "acme/data/warehouse", "acme/data/restricted"}
    archived = {paths[k[0]] for k in emulator.truth("projects", include_archived=True)}
    assert archived == default | {"acme/platform/legacy"}
    listed = {paths[k[0]] for k in emulator.truth("projects", projects=("other/shared-tool", "acme/platform/legacy"))}
    assert listed == default | {"other/shared-tool", "acme/platform/legacy"}
    flat = {paths[k[0]] for k in emulator.truth("projects", groups=("acme/platform",), include_subgroups=False)}
    assert flat == {"acme/platform/api", "acme/platform/worker"}
    groups = {g.id: g.full_path for g in emulator.world.groups.values()}
    assert {groups[k[0]] for k in emulator.truth("groups")} == {"acme", "acme/platform", "acme/platform/infra",
                                                               "acme/data"}
    restricted = emulator.world.project_by_path["acme/data/restricted"].id
    assert restricted not in {p["project_id"] for p in emulator.truth_rows("pipelines")}
    assert restricted in {i["project_id"] for i in emulator.truth_rows("issues")}
    assert all(len(key) == 2 for key in emulator.truth("commits")) and emulator.truth("group_members")


def test_group_projects_listing_matches_truth(emulator: GitLabEmulator, api: requests.Session,
                                             follow: Callable) -> None:
    url = f"{emulator.base_url}/api/v4/groups/acme/projects"
    params = {"include_subgroups": "true", "archived": "false", "with_shared": "false", "per_page": "3"}
    rows, _ = follow(api, url, params)
    assert {(r["id"],) for r in rows} == emulator.truth("projects")
    assert sorted(rows, key=lambda r: r["id"]) == emulator.truth_rows("projects")
    shared, _ = follow(api, url, {**params, "with_shared": "true"})
    assert {r["path_with_namespace"] for r in shared} - {r["path_with_namespace"] for r in rows} == {
        "other/shared-tool"}
    everything, _ = follow(api, url, {"include_subgroups": "true", "with_shared": "false"})
    assert "acme/platform/legacy" in {r["path_with_namespace"] for r in everything}
    only_archived, _ = follow(api, url, {"include_subgroups": "true", "archived": "true"})
    assert [r["path_with_namespace"] for r in only_archived] == ["acme/platform/legacy"]


def test_job_shape(emulator: GitLabEmulator, api: requests.Session) -> None:
    jobs = api.get(f"{emulator.base_url}/api/v4/projects/{API}/jobs", params={"scope": "success", "per_page": 5}).json()
    job = jobs[0]
    assert {"id", "name", "stage", "status", "ref", "created_at", "started_at", "finished_at", "duration",
            "queued_duration", "user", "commit", "pipeline", "runner", "artifacts", "web_url", "tag_list",
            "allow_failure", "erased_at"} <= set(job)
    assert set(job["pipeline"]) >= {"id", "iid", "project_id", "sha", "ref", "status", "source", "created_at",
                                    "updated_at", "web_url"}
    assert set(job["user"]) >= {"id", "username", "name", "state", "avatar_url", "web_url"}
    assert job["commit"]["id"] == job["pipeline"]["sha"] and re.fullmatch(r"[0-9a-f]{40}", job["commit"]["id"])
    assert ISO_MS_Z.fullmatch(job["created_at"]) and ISO_MS_Z.fullmatch(job["finished_at"])
    assert ISO_MS_OFFSET.fullmatch(job["commit"]["committed_date"])
    assert "runner_manager" not in job and job["runner"]["id"] in emulator.world.runners


def test_issue_and_note_shapes(emulator: GitLabEmulator, api: requests.Session) -> None:
    issues = api.get(f"{emulator.base_url}/api/v4/projects/{API}/issues", params={"per_page": 100}).json()
    issue = next(i for i in issues if i["user_notes_count"])
    assert issue["references"]["full"] == f"acme/platform/api#{issue['iid']}"
    assert set(issue["time_stats"]) == {"time_estimate", "total_time_spent", "human_time_estimate",
                                        "human_total_time_spent"}
    assert all(isinstance(i["weight"], (int, type(None))) for i in issues) and "imported_from" not in issue
    notes = api.get(f"{emulator.base_url}/api/v4/projects/{API}/issues/{issue['iid']}/notes").json()
    assert {n["noteable_iid"] for n in notes} == {issue["iid"]} and {n["noteable_type"] for n in notes} == {"Issue"}
    assert sum(1 for n in notes if not n["system"]) == issue["user_notes_count"]
    assert api.get(f"{emulator.base_url}/api/v4/projects/{API}/issues/999/notes").status_code == 404


def test_updated_after_is_inclusive_and_validated(emulator: GitLabEmulator, api: requests.Session) -> None:
    url = f"{emulator.base_url}/api/v4/projects/{API}/pipelines"
    everything = api.get(url, params={"per_page": 100}).json()
    pivot = sorted(p["updated_at"] for p in everything)[len(everything) // 2]
    after = api.get(url, params={"per_page": 100, "updated_after": pivot}).json()
    assert {p["id"] for p in after} == {p["id"] for p in everything if p["updated_at"] >= pivot}
    no_ms = pivot[:19] + "+00:00"
    assert len(api.get(url, params={"per_page": 100, "updated_after": no_ms}).json()) >= len(after)
    before = api.get(url, params={"per_page": 100, "updated_before": pivot}).json()
    assert {p["id"] for p in before} & {p["id"] for p in after} == {next(p["id"] for p in after
                                                                         if p["updated_at"] == pivot)}
    for name in ("updated_after", "updated_before"):
        bad = api.get(url, params={name: "yesterday"})
        assert bad.status_code == 400 and bad.json() == {"error": f"{name} is invalid"}
    issues = api.get(f"{emulator.base_url}/api/v4/projects/{API}/issues",
                     params={"updated_after": pivot, "per_page": 100}).json()
    assert all(i["updated_at"] >= pivot for i in issues)


def test_commits_since_and_ref(emulator: GitLabEmulator, api: requests.Session, follow: Callable) -> None:
    url = f"{emulator.base_url}/api/v4/projects/{API}/repository/commits"
    rows, _ = follow(api, url, {"per_page": 10})
    project_id = emulator.world.project_by_path["acme/platform/api"].id
    assert {(project_id, c["id"]) for c in rows} == {k for k in emulator.truth("commits") if k[0] == project_id}
    middle = rows[len(rows) // 2]
    since, _ = follow(api, url, {"since": middle["committed_date"], "per_page": 100})
    assert middle["id"] in {c["id"] for c in since} and len(since) == len(rows) // 2 + 1
    branch = next(b for b in api.get(f"{url.rsplit('/', 1)[0]}/branches").json() if not b["default"])
    on_branch, _ = follow(api, url, {"ref_name": branch["name"], "per_page": 100})
    assert on_branch[0]["id"] == branch["commit"]["id"]


def test_labels_include_ancestor_group_labels(emulator: GitLabEmulator, api: requests.Session) -> None:
    url = f"{emulator.base_url}/api/v4/projects/{API}/labels"
    project_id = emulator.world.project_by_path["acme/platform/api"].id
    own = {r["id"] for r in emulator.truth_rows("labels") if r["id"] in
           {lb.id for lb in emulator.world.project_labels[project_id]}}
    everything = api.get(url, params={"per_page": 100}).json()
    group_labels = {r["name"] for r in everything if not r["is_project_label"]}
    assert group_labels == {"priority::high", "priority::low", "platform"}
    only_project = api.get(url, params={"per_page": 100, "include_ancestor_groups": "false"}).json()
    assert {r["id"] for r in only_project} == own
    assert "open_issues_count" in api.get(url, params={"with_counts": "true"}).json()[0]


def test_retried_jobs_need_include_retried(emulator: GitLabEmulator, api: requests.Session) -> None:
    world = emulator.world
    retried = next(j for j in world.jobs.values() if j.retried and world.projects[j.project_id].token_access_cap)
    url = f"{emulator.base_url}/api/v4/projects/{retried.project_id}/pipelines/{retried.pipeline_id}/jobs"
    latest = api.get(url).json()
    everything = api.get(url, params={"include_retried": "true"}).json()
    assert retried.id not in {j["id"] for j in latest} and retried.id in {j["id"] for j in everything}
    attempts = [j for j in everything if j["name"] == retried.name]
    assert len(attempts) >= 2 and attempts[0]["status"] == "failed"
    assert (retried.id,) in emulator.truth("jobs", include_archived=True, projects=("other/shared-tool",))


def test_deployments_and_environments(emulator: GitLabEmulator, api: requests.Session) -> None:
    rows = api.get(f"{emulator.base_url}/api/v4/projects/{API}/deployments", params={"per_page": 100}).json()
    assert rows and all(d["deployable"]["stage"] == "deploy" for d in rows)
    assert {d["environment"]["name"] for d in rows} <= {"staging", "production"}
    envs = api.get(f"{emulator.base_url}/api/v4/projects/{API}/environments").json()
    assert {e["name"] for e in envs} == {"staging", "production", "review/feature-dark-mode"}


def test_seed_is_deterministic() -> None:
    first, second = seed_world(), seed_world()
    for table in ("jobs", "issues", "commits", "merge_request_notes", "deployments"):
        assert truth_rows(first, table, Scope()) == truth_rows(second, table, Scope())
    assert truth_rows(seed_world(seed=8), "commits", Scope()) != truth_rows(first, "commits", Scope())


def test_clock_and_timestamps(emulator: GitLabEmulator) -> None:
    now = emulator.now
    assert isinstance(now, datetime) and now.tzinfo is not None
    assert all(p.updated_at <= now for p in emulator.world.pipelines.values())
    assert all((j.finished_at or j.started_at or j.created_at) <= now for j in emulator.world.jobs.values())
