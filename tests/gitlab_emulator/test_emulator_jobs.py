"""Job traces (section markers, sizes, partial logs), planted secrets and the erase endpoint."""

from __future__ import annotations

import re
from collections import Counter

import requests

from gitlab_emulator import GitLabEmulator
from gitlab_emulator.leaks import SECRET_KINDS

SECTION = re.compile(r"\x1b\[0Ksection_(start|end):(\d+):([a-z_]+)(\[collapsed=true\])?\r\x1b\[0K")


def _trace(emu: GitLabEmulator, api: requests.Session, job_id: int) -> requests.Response:
    job = emu.world.jobs[job_id]
    return api.get(f"{emu.base_url}/api/v4/projects/{job.project_id}/jobs/{job_id}/trace")


def test_finished_trace_has_balanced_sections_inside_the_job(shared_emulator: GitLabEmulator,
                                                             api: requests.Session) -> None:
    api_id = shared_emulator.world.project_by_path["acme/platform/api"].id
    job = next(j for j in shared_emulator.world.project_jobs[api_id] if j.status == "success" and j.trace_bytes > 5_000)
    response = _trace(shared_emulator, api, job.id)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/plain")
    text = response.text
    markers = SECTION.findall(text)
    names = [name for kind, _, name, _ in markers if kind == "start"]
    assert names[:3] == ["prepare_executor", "prepare_script", "get_sources"] and "step_script" in names
    assert names[-1] == "cleanup_file_variables"
    stack: list[str] = []
    for kind, _, name, _ in markers:
        if kind == "start":
            stack.append(name)
        else:
            assert stack.pop() == name
    assert stack == []
    stamps = [int(ts) for _, ts, _, _ in markers]
    assert stamps == sorted(stamps)
    assert int(job.started_at.timestamp()) <= stamps[0] and stamps[-1] <= job.finished_at.timestamp()
    assert text.endswith("\x1b[32;1mJob succeeded\x1b[0;m\n")


def test_trace_sizes_and_partial_logs(shared_emulator: GitLabEmulator, api: requests.Session) -> None:
    world = shared_emulator.world
    readable = [j for j in world.jobs.values() if world.projects[j.project_id].token_access_cap == 50]
    sizes = {j.id: len(_trace(shared_emulator, api, j.id).content)
             for j in readable if j.status in ("success", "failed")}
    assert min(sizes.values()) < 1_000 and 20_000 < sorted(sizes.values())[-2] < 100_000
    assert 2_000_000 <= max(sizes.values()) <= 3_100_000
    running = next(j for j in readable if j.status == "running")
    partial = _trace(shared_emulator, api, running.id).text
    assert "step_script" in partial or "prepare_executor" in partial
    assert "cleanup_file_variables" not in partial and "Job succeeded" not in partial
    pending = next(j for j in readable if j.status in ("pending", "created", "skipped"))
    assert _trace(shared_emulator, api, pending.id).text == ""
    failed = next(j for j in readable if j.status == "failed" and j.failure_reason == "script_failure")
    assert "ERROR: Job failed: exit code 1" in _trace(shared_emulator, api, failed.id).text
    broken = next(j for j in readable if j.failure_reason == "runner_system_failure")
    assert "ERROR: Job failed (system failure)" in _trace(shared_emulator, api, broken.id).text


def test_planted_secrets_sit_on_their_recorded_lines(shared_emulator: GitLabEmulator, api: requests.Session) -> None:
    planted = shared_emulator.planted_secrets
    finished = [j for j in shared_emulator.world.jobs.values() if j.status in ("success", "failed")]
    leaking = {p.job_id for p in planted}
    assert 0.05 <= len(leaking) / len(finished) <= 0.12
    assert {p.kind for p in planted} == set(SECRET_KINDS)
    per_job = Counter(p.job_id for p in planted)
    assert 1 <= sum(1 for n in per_job.values() if n == 2) and max(per_job.values()) == 2
    assert all(len({p.kind for p in planted if p.job_id == job_id}) == n for job_id, n in per_job.items())
    shared = [value for value, n in Counter(p.value for p in planted).items() if n > 1]
    assert len(shared) == 1 and len({p.job_id for p in planted if p.value == shared[0]}) == 2
    for secret in planted:
        lines = _trace(shared_emulator, api, secret.job_id).text.split("\n")
        line = lines[secret.line_number - 1]
        if secret.kind == "private_key":
            assert line == "-----BEGIN RSA PRIVATE KEY-----"
            block = "\n".join(lines[secret.line_number - 1 : secret.line_number - 1 + secret.value.count("\n") + 1])
            assert block == secret.value and block.endswith("-----END RSA PRIVATE KEY-----")
        else:
            assert secret.value in line
    pat = re.compile(r"glpat-[0-9A-Za-z_-]{20}")
    assert any(p.kind == "gitlab_pat" and pat.fullmatch(p.value) for p in planted)
    lookalike_jobs = [j.id for j in finished if j.id not in leaking and "glpat- " in shared_emulator.trace_text(j.id)]
    assert lookalike_jobs, "some clean traces mention glpat- without a token"
    assert all(not pat.search(shared_emulator.trace_text(job_id)) for job_id in lookalike_jobs)


def test_erase_semantics(emulator: GitLabEmulator, session_for) -> None:
    emu = emulator
    api_id = emu.world.project_by_path["acme/platform/api"].id
    job = next(j for j in emu.world.project_jobs[api_id] if j.status == "success")
    url = f"{emu.base_url}/api/v4/projects/{job.project_id}/jobs/{job.id}"
    maintainer, reporter = session_for("maintainer"), session_for("reporter")
    denied = reporter.post(f"{url}/erase")
    assert denied.status_code == 403 and denied.json() == {"message": "403 Forbidden"}
    assert emu.erased_job_ids == set()
    erased = maintainer.post(f"{url}/erase")
    assert erased.status_code == 201 and erased.json()["id"] == job.id and erased.json()["erased_at"]
    assert maintainer.get(f"{url}/trace").text == ""
    assert maintainer.get(url).json()["erased_at"] == erased.json()["erased_at"]
    again = maintainer.post(f"{url}/erase")
    assert again.status_code == 403 and again.json() == {"message": "403 Forbidden  - Job is not erasable!"}
    assert emu.erased_job_ids == {job.id}
    running = next(j for j in emu.world.project_jobs[api_id] if j.status == "running")
    assert maintainer.post(f"{url.rsplit('/', 1)[0]}/{running.id}/erase").status_code == 403
    assert maintainer.get(f"{url}/erase").status_code == 405


def test_a_revoked_token_gets_404_on_the_project_while_others_still_see_it(emulator: GitLabEmulator,
                                                                        session_for) -> None:
    emu = emulator
    project = emu.world.project_by_path["acme/platform/api"]
    job = next(j for j in emu.world.project_jobs[project.id] if j.status == "success")
    project_url = f"{emu.base_url}/api/v4/projects/{project.id}"
    maintainer, reporter = session_for("maintainer"), session_for("reporter")
    emu.revoke_project_access("reporter", "acme/platform/api")

    for method, path in (("GET", ""), ("GET", f"/jobs/{job.id}/trace"), ("POST", f"/jobs/{job.id}/erase")):
        answer = reporter.request(method, project_url + path)
        assert answer.status_code == 404 and answer.json() == {"message": "404 Project Not Found"}, path
    listed = reporter.get(f"{emu.base_url}/api/v4/groups/acme%2Fplatform/projects").json()
    assert project.id not in {p["id"] for p in listed} and listed
    assert maintainer.get(project_url).status_code == 200
    assert (project.id,) in emu.truth("projects")
    assert emu.erased_job_ids == set()


def test_a_deleted_pipelines_jobs_answer_404_in_a_visible_project(emulator: GitLabEmulator,
                                                                 api: requests.Session) -> None:
    emu = emulator
    project = emu.world.project_by_path["acme/platform/api"]
    pipeline = next(p for p in emu.world.project_pipelines[project.id]
                    if any(emu.world.deployment_by_job.get(j.id) for j in emu.world.pipeline_jobs[p.id]))
    jobs = [j.id for j in emu.world.pipeline_jobs[pipeline.id]]
    project_url = f"{emu.base_url}/api/v4/projects/{project.id}"
    emu.delete_pipeline(pipeline.id)

    assert api.get(project_url).status_code == 200
    assert api.post(f"{project_url}/jobs/{jobs[0]}/erase").status_code == 404
    assert api.get(f"{project_url}/jobs/{jobs[0]}/trace").status_code == 404
    assert not {(job,) for job in jobs} & emu.truth("jobs") and (pipeline.id,) not in emu.truth("pipelines")
    listed = api.get(f"{project_url}/deployments", params={"per_page": 100}).json()
    assert listed and not {d["deployable"]["id"] for d in listed} & set(jobs)
