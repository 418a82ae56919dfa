"""`jobs`: a project's first load lists its jobs 100 at a time (keyset); later runs ask changed pipelines. The
request budget paces the list (tests/gitlab/test_rate_limit.py)."""

import math
import re
from collections import Counter

from tests.utils import DATASET, assert_load_equals_truth, key_set

PROJECT_JOBS = re.compile(r"/api/v4/projects/(\d+)/jobs")
PIPELINE_JOBS = re.compile(r"/api/v4/projects/\d+/pipelines/(\d+)/jobs")


def _project_listings(emulator) -> Counter:
    return Counter(int(m.group(1)) for r in emulator.requests if (m := PROJECT_JOBS.fullmatch(r.path)))


def _pipelines_asked(emulator) -> set:
    return {int(m.group(1)) for r in emulator.requests if (m := PIPELINE_JOBS.fullmatch(r.path))}


def _jobs_per_project(emulator, **scope) -> Counter:
    return Counter(job["pipeline"]["project_id"] for job in emulator.truth_rows("jobs", **scope))


def test_a_first_load_lists_each_projects_jobs_a_hundred_at_a_time_and_later_runs_ask_the_changed_pipelines(
    emulator, workspace
):
    args = ["--base-url", emulator.base_url, "--group", "acme"]
    result = workspace.run(*args)
    assert result.returncode == 0, result.output

    assert_load_equals_truth(workspace, emulator)
    assert not _pipelines_asked(emulator)
    per_project = _jobs_per_project(emulator)
    listings = _project_listings(emulator)
    assert set(listings) == set(per_project)
    for project, jobs in per_project.items():
        assert listings[project] == math.ceil(jobs / 100), project
    assert sum(listings.values()) <= sum(per_project.values()) / 100 + len(per_project)
    for request in emulator.requests:
        if PROJECT_JOBS.fullmatch(request.path):
            assert request.query["pagination"] == "keyset" and request.query["per_page"] == "100"
            assert (request.query["order_by"], request.query["sort"]) == ("id", "desc")

    before = emulator.now
    emulator.advance(hours=24)
    emulator.reset_counters()

    assert workspace.run(*args).returncode == 0
    assert_load_equals_truth(workspace, emulator)
    assert not _project_listings(emulator)
    assert _pipelines_asked(emulator) == emulator.changed_since("pipelines", before)


def test_a_project_added_later_gets_its_first_load_the_same_way(emulator, workspace):
    website, api = "acme/website", "acme/platform/api"
    assert workspace.run("--base-url", emulator.base_url, "--project", website).returncode == 0
    before = emulator.now
    emulator.advance(hours=24)
    emulator.reset_counters()

    result = workspace.run("--base-url", emulator.base_url, "--project", website, "--project", api)
    assert result.returncode == 0, result.output
    assert_load_equals_truth(workspace, emulator, groups=(), projects=(website, api))
    [api_id] = _jobs_per_project(emulator, groups=(), projects=(api,))
    assert set(_project_listings(emulator)) == {api_id}
    assert _pipelines_asked(emulator) == emulator.changed_since("pipelines", before, groups=(), projects=(website,))


def test_a_start_date_keeps_the_jobs_of_the_pipelines_it_loads(emulator, workspace):
    pipelines = sorted(emulator.truth_rows("pipelines"), key=lambda p: p["created_at"])
    since = pipelines[len(pipelines) // 2]["created_at"][:10]
    result = workspace.run("--base-url", emulator.base_url, "--group", "acme", "--since", since)
    assert result.returncode == 0, result.output

    loaded = {pipeline_id for (pipeline_id,) in workspace.query(f"select id from {DATASET}.pipelines")}
    assert 0 < len(loaded) < len(pipelines)
    expected = {(job["id"],) for job in emulator.truth_rows("jobs") if job["pipeline"]["id"] in loaded}
    assert key_set(workspace.keys("jobs")) == expected
