"""Time travel and schema drift: deterministic changes inside the new interval, visible to incremental loads."""

from __future__ import annotations

from datetime import timedelta
from typing import Callable

import requests

from gitlab_emulator import GitLabEmulator, seed_world

TABLES = ("pipelines", "jobs", "issues", "issue_notes", "merge_requests", "merge_request_notes", "commits",
          "branches", "tags", "labels", "project_members", "deployments")


def test_advance_is_deterministic() -> None:
    first, second = GitLabEmulator(world=seed_world()), GitLabEmulator(world=seed_world())
    for emu in (first, second):
        emu.advance(hours=24)
        emu.advance(hours=6)
    for table in TABLES:
        assert first.truth_rows(table) == second.truth_rows(table), table
    assert first.now == second.now == seed_world().now + timedelta(hours=30)


def test_advance_changes_every_active_project(emulator: GitLabEmulator) -> None:
    emu = emulator
    world = emu.world
    t0 = emu.now
    before = {table: emu.truth(table) for table in TABLES}
    active_before = {p.id for p in world.pipelines.values() if p.status in ("running", "pending", "created")}
    emu.advance(hours=24)
    t1 = emu.now
    assert t1 - t0 == timedelta(hours=24)
    after = {table: emu.truth(table) for table in TABLES}
    for table in ("pipelines", "jobs", "issues", "issue_notes", "merge_requests", "commits", "tags", "deployments"):
        assert after[table] > before[table], table
    assert before["labels"] - after["labels"] and before["branches"] - after["branches"]
    assert before["project_members"] - after["project_members"] and after["project_members"] - before["project_members"]
    assert all(world.pipelines[pid].status not in ("running", "pending", "created") for pid in active_before)

    changed = emu.changed_since("pipelines", t0)
    truth_ids = {k[0] for k in after["pipelines"]}
    new = {k[0] for k in after["pipelines"] - before["pipelines"]}
    assert new | (active_before & truth_ids) <= changed <= truth_ids
    assert all(t0 <= world.pipelines[pid].updated_at <= t1 for pid in changed)
    retried_now = [j for j in world.jobs.values() if j.retried and j.touched_at and j.touched_at >= t0]
    assert retried_now and all(j.pipeline_id in changed for j in retried_now if (j.id,) in after["jobs"])
    for job_id in emu.changed_since("jobs", t0):
        assert world.pipelines[world.jobs[job_id].pipeline_id].updated_at >= t0

    for pid, iid in emu.changed_since("issues", t0):
        assert t0 <= world.project_issues[pid][iid].updated_at <= t1
    noted = {(n["project_id"], n["noteable_iid"]) for n in emu.truth_rows("issue_notes")
             if n["created_at"] >= t0.isoformat()[:19]}
    assert noted and noted <= emu.changed_since("issues", t0)
    assert emu.changed_since("merge_requests", t0)
    assert all(j.finished_at is None or j.finished_at <= t1 for j in world.jobs.values())


def test_incremental_fetch_sees_exactly_the_changes(emulator: GitLabEmulator, api: requests.Session,
                                                    follow: Callable) -> None:
    emu = emulator
    since = emu.now
    emu.advance(hours=24)
    project = emu.world.project_by_path["acme/platform/api"]
    url = f"{emu.base_url}/api/v4/projects/{project.id}/pipelines"
    stamp = since.isoformat().replace("+00:00", "Z")
    rows, _ = follow(api, url, {"updated_after": stamp, "per_page": 100})
    assert {r["id"] for r in rows} == {pid for pid in emu.changed_since("pipelines", since)
                                       if emu.world.pipelines[pid].project_id == project.id}
    issues, _ = follow(api, f"{emu.base_url}/api/v4/projects/{project.id}/issues", {"updated_after": stamp})
    assert {(project.id, i["iid"]) for i in issues} == {k for k in emu.changed_since("issues", since)
                                                        if k[0] == project.id}


def test_schema_drift(emulator: GitLabEmulator, api: requests.Session) -> None:
    emu = emulator
    since = emu.now
    base = f"{emu.base_url}/api/v4/projects/acme%2Fplatform%2Fapi"
    assert isinstance(next(i for i in api.get(f"{base}/issues").json() if i["weight"] is not None)["weight"], int)
    emu.apply_schema_drift()
    issues = api.get(f"{base}/issues", params={"per_page": 100}).json()
    weighted = [i["weight"] for i in issues if i["weight"] is not None]
    assert weighted and all(isinstance(w, str) and w.isdigit() for w in weighted)
    assert {i["imported_from"] for i in issues} == {"none"}
    assert {m["imported_from"] for m in api.get(f"{base}/merge_requests").json()} == {"none"}
    job = api.get(f"{base}/jobs", params={"scope": "success"}).json()[0]
    assert set(job["runner_manager"]) >= {"id", "system_id", "version", "revision", "platform", "architecture",
                                          "ip_address"}
    assert len(emu.changed_since("issues", since)) == 3 and len(emu.changed_since("merge_requests", since)) == 2
    assert len(emu.changed_since("pipelines", since)) == 2
