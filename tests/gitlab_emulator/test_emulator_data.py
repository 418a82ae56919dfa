"""The seeded world over HTTP: JSON shapes, filters, truth scopes, labels, retried jobs, determinism."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Callable

import requests

from gitlab_emulator import GitLabEmulator, seed_world
from gitlab_emulator.truth import Scope, truth_rows

ISO_MS_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
ISO_MS_OFFSET = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d")
API = "acme%2Fplatform%2Fapi"


def test_default_world_numbers(shared_emulator: GitLabEmulator) -> None:
    world = shared_emulator.world
    assert {g.full_path for g in world.groups.values()} == {
        "acme", "acme/platform", "acme/platform/infra", "acme/data", "other"}
    assert 60 <= len(world.pipelines) <= 150 and 200 <= len(world.jobs) <= 800
    statuses = {p.status for p in world.pipelines.values()}
    assert {"success", "failed", "running", "pending", "canceled"} <= statuses
    assert any(j.retried for j in world.jobs.values()) and any(j.allow_failure for j in world.jobs.values())
    assert world.project_by_path["acme/platform/legacy"].archived


def test_truth_scopes(shared_emulator: GitLabEmulator) -> None:
    paths = {p.id: p.path_with_namespace for p in shared_emulator.world.projects.values()}
    default = {paths[k[0]] for k in shared_emulator.truth("projects")}
    assert default == {"acme/website", "acme/platform/api", "acme/platform/worker", "acme/platform/infra/terraform",
                       "acme/data/warehouse", "acme/data/restricted"}
    archived = {paths[k[0]] for k in shared_emulator.truth("projects", include_archived=True)}
    assert archived == default | {"acme/platform/legacy"}
    listed = {paths[k[0]] for k in shared_emulator.truth("projects",
                                                         projects=("other/shared-tool", "acme/platform/legacy"))}
    assert listed == default | {"other/shared-tool", "acme/platform/legacy"}
    flat = {paths[k[0]] for k in shared_emulator.truth("projects", groups=("acme/platform",), include_subgroups=False)}
    assert flat == {"acme/platform/api", "acme/platform/worker"}
    groups = {g.id: g.full_path for g in shared_emulator.world.groups.values()}
    assert {groups[k[0]] for k in shared_emulator.truth("groups")} == {"acme", "acme/platform", "acme/platform/infra",
                                                               "acme/data"}
    restricted = shared_emulator.world.project_by_path["acme/data/restricted"].id
    assert restricted not in {p["project_id"] for p in shared_emulator.truth_rows("pipelines")}
    assert restricted in {i["project_id"] for i in shared_emulator.truth_rows("issues")}
    assert all(len(key) == 2 for key in shared_emulator.truth("commits")) and shared_emulator.truth("group_members")


def test_group_projects_listing_matches_truth(shared_emulator: GitLabEmulator, api: requests.Session,
                                             follow: Callable) -> None:
    url = f"{shared_emulator.base_url}/api/v4/groups/acme/projects"
    params = {"include_subgroups": "true", "archived": "false", "with_shared": "false", "per_page": "3"}
    rows, _ = follow(api, url, params)
    assert {(r["id"],) for r in rows} == shared_emulator.truth("projects")
    assert sorted(rows, key=lambda r: r["id"]) == shared_emulator.truth_rows("projects")
    shared, _ = follow(api, url, {**params, "with_shared": "true"})
    assert {r["path_with_namespace"] for r in shared} - {r["path_with_namespace"] for r in rows} == {
        "other/shared-tool"}
    everything, _ = follow(api, url, {"include_subgroups": "true", "with_shared": "false"})
    assert "acme/platform/legacy" in {r["path_with_namespace"] for r in everything}
    only_archived, _ = follow(api, url, {"include_subgroups": "true", "archived": "true"})
    assert [r["path_with_namespace"] for r in only_archived] == ["acme/platform/legacy"]


def test_job_shape(shared_emulator: GitLabEmulator, api: requests.Session) -> None:
    jobs = api.get(f"{shared_emulator.base_url}/api/v4/projects/{API}/jobs",
                   params={"scope": "success", "per_page": 5}).json()
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
    assert "runner_manager" not in job and job["runner"]["id"] in shared_emulator.world.runners


def test_issue_and_note_shapes(shared_emulator: GitLabEmulator, api: requests.Session) -> None:
    issues = api.get(f"{shared_emulator.base_url}/api/v4/projects/{API}/issues", params={"per_page": 100}).json()
    issue = next(i for i in issues if i["user_notes_count"])
    assert issue["references"]["full"] == f"acme/platform/api#{issue['iid']}"
    assert set(issue["time_stats"]) == {"time_estimate", "total_time_spent", "human_time_estimate",
                                        "human_total_time_spent"}
    assert all(isinstance(i["weight"], (int, type(None))) for i in issues) and "imported_from" not in issue
    notes = api.get(f"{shared_emulator.base_url}/api/v4/projects/{API}/issues/{issue['iid']}/notes").json()
    assert {n["noteable_iid"] for n in notes} == {issue["iid"]} and {n["noteable_type"] for n in notes} == {"Issue"}
    assert sum(1 for n in notes if not n["system"]) == issue["user_notes_count"]
    assert api.get(f"{shared_emulator.base_url}/api/v4/projects/{API}/issues/999/notes").status_code == 404


def test_updated_after_is_inclusive_and_validated(shared_emulator: GitLabEmulator, api: requests.Session) -> None:
    url = f"{shared_emulator.base_url}/api/v4/projects/{API}/pipelines"
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
    issues = api.get(f"{shared_emulator.base_url}/api/v4/projects/{API}/issues",
                     params={"updated_after": pivot, "per_page": 100}).json()
    assert all(i["updated_at"] >= pivot for i in issues)


def test_commits_since_and_ref(shared_emulator: GitLabEmulator, api: requests.Session, follow: Callable) -> None:
    url = f"{shared_emulator.base_url}/api/v4/projects/{API}/repository/commits"
    rows, _ = follow(api, url, {"per_page": 10})
    project_id = shared_emulator.world.project_by_path["acme/platform/api"].id
    assert {(project_id, c["id"]) for c in rows} == {k for k in shared_emulator.truth("commits") if k[0] == project_id}
    middle = rows[len(rows) // 2]
    since, _ = follow(api, url, {"since": middle["committed_date"], "per_page": 100})
    assert middle["id"] in {c["id"] for c in since} and len(since) == len(rows) // 2 + 1
    branch = next(b for b in api.get(f"{url.rsplit('/', 1)[0]}/branches").json() if not b["default"])
    on_branch, _ = follow(api, url, {"ref_name": branch["name"], "per_page": 100})
    assert on_branch[0]["id"] == branch["commit"]["id"]


def test_labels_include_ancestor_group_labels(shared_emulator: GitLabEmulator, api: requests.Session) -> None:
    url = f"{shared_emulator.base_url}/api/v4/projects/{API}/labels"
    project_id = shared_emulator.world.project_by_path["acme/platform/api"].id
    own = {r["id"] for r in shared_emulator.truth_rows("labels") if r["id"] in
           {lb.id for lb in shared_emulator.world.project_labels[project_id]}}
    everything = api.get(url, params={"per_page": 100}).json()
    group_labels = {r["name"] for r in everything if not r["is_project_label"]}
    assert group_labels == {"priority::high", "priority::low", "platform"}
    only_project = api.get(url, params={"per_page": 100, "include_ancestor_groups": "false"}).json()
    assert {r["id"] for r in only_project} == own
    assert "open_issues_count" in api.get(url, params={"with_counts": "true"}).json()[0]


def test_retried_jobs_need_include_retried(shared_emulator: GitLabEmulator, api: requests.Session) -> None:
    world = shared_emulator.world
    retried = next(j for j in world.jobs.values() if j.retried and world.projects[j.project_id].token_access_cap)
    url = f"{shared_emulator.base_url}/api/v4/projects/{retried.project_id}/pipelines/{retried.pipeline_id}/jobs"
    latest = api.get(url).json()
    everything = api.get(url, params={"include_retried": "true"}).json()
    assert retried.id not in {j["id"] for j in latest} and retried.id in {j["id"] for j in everything}
    attempts = [j for j in everything if j["name"] == retried.name]
    assert len(attempts) >= 2 and attempts[0]["status"] == "failed"
    assert (retried.id,) in shared_emulator.truth("jobs", include_archived=True, projects=("other/shared-tool",))


def test_deployments_and_environments(shared_emulator: GitLabEmulator, api: requests.Session) -> None:
    rows = api.get(f"{shared_emulator.base_url}/api/v4/projects/{API}/deployments", params={"per_page": 100}).json()
    assert rows and all(d["deployable"]["stage"] == "deploy" for d in rows)
    assert {d["environment"]["name"] for d in rows} <= {"staging", "production"}
    envs = api.get(f"{shared_emulator.base_url}/api/v4/projects/{API}/environments").json()
    assert {e["name"] for e in envs} == {"staging", "production", "review/feature-dark-mode"}


def test_seed_is_deterministic() -> None:
    first, second = seed_world(), seed_world()
    for table in ("jobs", "issues", "commits", "merge_request_notes", "deployments"):
        assert truth_rows(first, table, Scope()) == truth_rows(second, table, Scope())
    assert truth_rows(seed_world(seed=8), "commits", Scope()) != truth_rows(first, "commits", Scope())


def test_clock_and_timestamps(shared_emulator: GitLabEmulator) -> None:
    now = shared_emulator.now
    assert isinstance(now, datetime) and now.tzinfo is not None
    assert all(p.updated_at <= now for p in shared_emulator.world.pipelines.values())
    assert all((j.finished_at or j.started_at or j.created_at) <= now for j in shared_emulator.world.jobs.values())


# Rows as the emulator must print them, written out by hand: the truth helpers render rows with the same code as the
# server, so only literals catch a rendering bug (a wrong field, format or nesting) in both at once.
PINNED_PIPELINE = json.loads("""
{"id": 60012, "iid": 1, "project_id": 101, "sha": "9e5016b089504e47df21a0e2d3f1f68de1d744c2", "ref": "main",
 "status": "success", "source": "push", "created_at": "2025-12-17T01:10:49.292Z",
 "updated_at": "2025-12-17T01:16:57.739Z", "web_url": "https://gitlab.example.com/acme/platform/api/-/pipelines/60012"}
""")
PINNED_JOB = json.loads("""
{"id": 1000070, "status": "success", "stage": "build", "name": "compile", "ref": "main", "tag": false,
 "coverage": null, "allow_failure": false, "created_at": "2025-12-17T01:10:49.292Z",
 "started_at": "2025-12-17T01:11:08.503Z", "finished_at": "2025-12-17T01:12:02.425Z", "erased_at": null,
 "duration": 53.922, "queued_duration": 11.152,
 "user": {"id": 4, "username": "bob", "name": "Bob Baker", "state": "active", "locked": false,
          "avatar_url": "https://secure.gravatar.com/avatar/500c01e3c3dd23ed7a81c8141d5dcc04?s=80&d=identicon",
          "web_url": "https://gitlab.example.com/bob"},
 "commit": {"id": "9e5016b089504e47df21a0e2d3f1f68de1d744c2", "short_id": "9e5016b0",
            "created_at": "2025-12-15T05:05:54.173+02:00", "parent_ids": ["227205bc651788aae5eed234b6c047f79de8b906"],
            "title": "Update README", "message": "Update README\\n\\nDetails about metrics.\\n\\nChangelog: changed\\n",
            "author_name": "Erin Eriksen", "author_email": "erin@acme.example.com",
            "authored_date": "2025-12-15T03:14:46.949+02:00", "committer_name": "Erin Eriksen",
            "committer_email": "erin@acme.example.com", "committed_date": "2025-12-15T05:05:54.173+02:00",
            "trailers": {}, "extended_trailers": {},
            "web_url":
                "https://gitlab.example.com/acme/platform/api/-/commit/9e5016b089504e47df21a0e2d3f1f68de1d744c2"},
 "pipeline": {"id": 60012, "iid": 1, "project_id": 101, "sha": "9e5016b089504e47df21a0e2d3f1f68de1d744c2",
              "ref": "main", "status": "success", "source": "push", "created_at": "2025-12-17T01:10:49.292Z",
              "updated_at": "2025-12-17T01:16:57.739Z",
              "web_url": "https://gitlab.example.com/acme/platform/api/-/pipelines/60012"},
 "web_url": "https://gitlab.example.com/acme/platform/api/-/jobs/1000070",
 "project": {"ci_job_token_scope_enabled": false},
 "artifacts_file": {"filename": "artifacts.zip", "size": 2070},
 "artifacts": [{"file_type": "archive", "size": 2070, "filename": "artifacts.zip", "file_format": "zip"},
               {"file_type": "metadata", "size": 256, "filename": "metadata.gz", "file_format": "gzip"},
               {"file_type": "trace", "size": 2800070, "filename": "job.log", "file_format": null}],
 "runner": {"id": 902, "description": "k8s-runner-acme", "ip_address": null, "active": true, "paused": false,
            "is_shared": false, "runner_type": "group_type", "name": "gitlab-runner", "online": true,
            "status": "online"},
 "artifacts_expire_at": "2026-01-16T01:12:02.425Z", "archived": false, "tag_list": ["docker"]}
""")
PINNED_LABEL = json.loads("""
{"id": 2018, "name": "bug", "description": "Something is broken", "description_html": "<p>Something is broken</p>",
 "text_color": "#FFFFFF", "color": "#d9534f", "archived": false, "subscribed": false, "priority": null,
 "is_project_label": true}
""")
PINNED_COMMIT = json.loads("""
{"id": "fe65b4adc62164a0eea14be615d80219168ab12f", "short_id": "fe65b4ad",
 "created_at": "2026-01-15T08:34:29.199+03:00", "parent_ids": ["e89b58a25d37ed9727862e7119fe0df0174c0f09"],
 "title": "Add tests for cache",
 "message": "Add tests for cache\\n", "author_name": "Ivan Ivanov", "author_email": "ivan@acme.example.com",
 "authored_date": "2026-01-15T07:47:36.373+03:00", "committer_name": "Ivan Ivanov",
 "committer_email": "ivan@acme.example.com", "committed_date": "2026-01-15T08:34:29.199+03:00", "trailers": {},
 "extended_trailers": {},
 "web_url": "https://gitlab.example.com/acme/platform/api/-/commit/fe65b4adc62164a0eea14be615d80219168ab12f"}
""")


def test_a_few_rows_are_served_exactly_as_written_out(shared_emulator: GitLabEmulator,
                                                      api: requests.Session) -> None:
    base = f"{shared_emulator.base_url}/api/v4/projects/{API}"
    pipelines = api.get(f"{base}/pipelines", params={"per_page": 100}).json()
    assert next(p for p in pipelines if p["id"] == 60012) == PINNED_PIPELINE
    assert api.get(f"{base}/jobs/1000070").json() == PINNED_JOB
    assert api.get(f"{base}/pipelines/60012/jobs").json()[0] == PINNED_JOB
    assert next(label for label in api.get(f"{base}/labels").json() if label["id"] == 2018) == PINNED_LABEL
    assert api.get(f"{base}/repository/commits", params={"per_page": 1}).json() == [PINNED_COMMIT]
    assert PINNED_JOB in shared_emulator.truth_rows("jobs")
