"""Pipelines, jobs, traces, environments and deployments (https://docs.gitlab.com/api/pipelines/, /api/jobs/)."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from gitlab_emulator import render
from gitlab_emulator.handlers.common import (
    Ctx, Reply, access_level, bad_request, created_between, find_project, order_param, ordered, paged,
    require_ci_access, sort_param, updated_between,
)
from gitlab_emulator.model import DEVELOPER, FINISHED_JOB_STATUSES, Job, Pipeline, Project
from gitlab_emulator.pagination import KEYSET_UNSUPPORTED, keyset_page, per_page
from gitlab_emulator.params import forbidden, not_found
from gitlab_emulator.traces import render_trace, trace_context

JOB_SCOPES = ("created", "pending", "running", "failed", "success", "canceled", "skipped", "waiting_for_resource",
              "manual")
_PIPELINE_STATUSES = ("created", "waiting_for_resource", "preparing", "pending", "running", "success", "failed",
                      "canceled", "skipped", "manual", "scheduled")


def _ci_project(ctx: Ctx) -> Project:
    """The project of the request, after checking the token may read its CI data."""
    project = find_project(ctx)
    require_ci_access(ctx, project)
    return project


def _pipeline(ctx: Ctx, project: Project) -> Pipeline:
    """The pipeline named by `:pipeline_id` in the project, or 404."""
    pipeline = ctx.world.pipelines.get(int(ctx.match["pipeline_id"]))
    if pipeline is None or pipeline.project_id != project.id:
        raise not_found()
    return pipeline


def _job(ctx: Ctx, project: Project) -> Job:
    """The job named by `:job_id` in the project, or 404."""
    job = ctx.world.jobs.get(int(ctx.match["job_id"]))
    if job is None or job.project_id != project.id:
        raise not_found()
    return job


def _scopes(ctx: Ctx) -> set[str]:
    """The `scope` / `scope[]` job statuses; unknown ones are 400."""
    scopes = set(ctx.params.values("scope"))
    if scopes - set(JOB_SCOPES):
        raise bad_request("scope does not have a valid value")
    return scopes


def pipelines(ctx: Ctx) -> Reply:
    """GET /projects/:id/pipelines with scope, status, ref, sha, source, username, time filters and ordering."""
    project = _ci_project(ctx)
    world, params = ctx.world, ctx.params
    rows: list[Pipeline] = list(world.project_pipelines[project.id])
    scope = params.choice("scope", ("running", "pending", "finished", "branches", "tags"))
    if scope == "finished":
        rows = [p for p in rows if p.status in ("success", "failed", "canceled", "skipped")]
    elif scope in ("running", "pending"):
        rows = [p for p in rows if p.status == scope]
    elif scope in ("branches", "tags"):
        rows = [p for p in rows if p.tag == (scope == "tags")]
    status = params.choice("status", _PIPELINE_STATUSES)
    if status:
        rows = [p for p in rows if p.status == status]
    for name, attr in (("ref", "ref"), ("sha", "sha"), ("source", "source"), ("name", "name")):
        value = params.text(name)
        if value is not None:
            rows = [p for p in rows if getattr(p, attr) == value]
    username = params.text("username")
    if username is not None:
        rows = [p for p in rows if world.users[p.user_id].username == username]
    rows = updated_between(ctx, rows, lambda p: p.updated_at)
    rows = created_between(ctx, rows, lambda p: p.created_at)
    order = order_param(ctx, ("id", "status", "ref", "updated_at", "user_id"), "id")
    key = {"id": lambda p: p.id, "status": lambda p: (p.status, p.id), "ref": lambda p: (p.ref, p.id),
           "updated_at": lambda p: (p.updated_at, p.id), "user_id": lambda p: (p.user_id, p.id)}[order]
    rows = ordered(rows, key, sort_param(ctx, "desc"))
    return paged(ctx, rows, lambda p: render.pipeline_basic(world, p))


def pipeline(ctx: Ctx) -> Reply:
    """GET /projects/:id/pipelines/:pipeline_id."""
    project = _ci_project(ctx)
    return Reply(json=render.pipeline(ctx.world, _pipeline(ctx, project)))


def pipeline_jobs(ctx: Ctx) -> Reply:
    """GET /projects/:id/pipelines/:pipeline_id/jobs (include_retried default false, scope), by id ascending."""
    project = _ci_project(ctx)
    pl = _pipeline(ctx, project)
    rows = list(ctx.world.pipeline_jobs[pl.id])
    if not ctx.params.boolean("include_retried", False):
        rows = [j for j in rows if not j.retried]
    scopes = _scopes(ctx)
    if scopes:
        rows = [j for j in rows if j.status in scopes]
    world = ctx.world
    return paged(ctx, rows, lambda j: render.job(world, j))


def _decode_cursor(value: str) -> int:
    """Reads the job id out of a keyset `cursor` (base64 JSON {"id": "...", "_kd": "n"})."""
    try:
        padded = value + "=" * (-len(value) % 4)
        return int(json.loads(base64.urlsafe_b64decode(padded))["id"])
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise bad_request("cursor is invalid") from None


def _encode_cursor(job_id: int) -> str:
    """Builds the keyset cursor GitLab puts in the next link."""
    return base64.urlsafe_b64encode(json.dumps({"id": str(job_id), "_kd": "n"}).encode()).decode().rstrip("=")


def project_jobs(ctx: Ctx) -> Reply:
    """GET /projects/:id/jobs: all jobs incl. retried, newest first; keyset with order_by=id&sort=desc."""
    project = _ci_project(ctx)
    world, params = ctx.world, ctx.params
    scopes = _scopes(ctx)
    order = order_param(ctx, ("id",), "id")
    sort = sort_param(ctx, "desc")
    jobs: list[Job] = world.project_jobs[project.id]
    if params.text("pagination") == "keyset":
        if order != "id" or sort != "desc":
            raise KEYSET_UNSUPPORTED
        cursor = params.text("cursor")
        upper = _decode_cursor(cursor) if cursor else None
        rows: list[Job] = []
        size = per_page(params)
        for job in reversed(jobs):
            if upper is not None and job.id >= upper:
                continue
            if scopes and job.status not in scopes:
                continue
            rows.append(job)
            if len(rows) > size:
                break
        items, headers = keyset_page(rows, params, ctx.page, lambda j: {"cursor": _encode_cursor(j.id)},
                                     drop=("cursor", "page"))
        return Reply(json=[render.job(world, j) for j in items], headers=headers)
    rows = [j for j in jobs if j.status in scopes] if scopes else jobs
    if sort == "desc":
        rows = rows[::-1]
    return paged(ctx, rows, lambda j: render.job(world, j))


def job(ctx: Ctx) -> Reply:
    """GET /projects/:id/jobs/:job_id."""
    project = _ci_project(ctx)
    return Reply(json=render.job(ctx.world, _job(ctx, project)))


def trace(ctx: Ctx) -> Reply:
    """GET /projects/:id/jobs/:job_id/trace: the log as text/plain, rendered after the lock is released."""
    project = _ci_project(ctx)
    snapshot = trace_context(ctx.world, _job(ctx, project))
    return Reply(text_factory=lambda: render_trace(snapshot).text,
                 headers={"Content-Type": "text/plain; charset=utf-8"})


def erase(ctx: Ctx) -> Reply:
    """POST /projects/:id/jobs/:job_id/erase: removes the trace and artifacts (Developer or higher).

    GitLab (lib/api/ci/jobs.rb) checks `authorize_update_builds!` first (Reporter: 403 Forbidden),
    then answers `403 Forbidden  - Job is not erasable!` unless the job is complete and still has a
    trace or artifacts, so a second erase and an erase of a running or skipped job are 403 too.
    On success it answers 201 with the job, `erased_at` set.
    """
    project = find_project(ctx)
    level = access_level(ctx, project)
    if level is None or level < DEVELOPER:
        raise forbidden()
    target = _job(ctx, project)
    erasable = target.status in FINISHED_JOB_STATUSES and target.erased_at is None and (
        target.started_at is not None or target.artifacts)
    if not erasable:
        raise forbidden("Job is not erasable!")
    target.erased_at = ctx.world.now
    target.touched_at = ctx.world.now
    ctx.erased.add(target.id)
    ctx.world.touch()
    return Reply(status=201, json=render.job(ctx.world, target))


def environments(ctx: Ctx) -> Reply:
    """GET /projects/:id/environments (name, search, states), by id."""
    project = _ci_project(ctx)
    world, params = ctx.world, ctx.params
    rows = list(world.project_environments[project.id])
    name, search = params.text("name"), params.text("search")
    if name is not None:
        rows = [e for e in rows if e.name == name]
    if search:
        rows = [e for e in rows if search in e.name]
    states = params.choice("states", ("available", "stopping", "stopped"))
    if states:
        rows = [e for e in rows if e.state == states]
    return paged(ctx, rows, lambda e: render.environment(world, e))


def deployments(ctx: Ctx) -> Reply:
    """GET /projects/:id/deployments (updated_after/before, environment, status, order_by, sort; default id asc)."""
    project = _ci_project(ctx)
    world, params = ctx.world, ctx.params
    rows = updated_between(ctx, world.project_deployments[project.id], lambda d: d.updated_at)
    environment = params.text("environment")
    if environment is not None:
        rows = [d for d in rows if world.environments[d.environment_id].name == environment]
    status = params.choice("status", ("created", "running", "success", "failed", "canceled", "skipped", "blocked"))
    if status:
        rows = [d for d in rows if d.status == status]
    order = order_param(ctx, ("id", "iid", "created_at", "updated_at", "finished_at", "ref"), "id")
    key: Any = {"id": lambda d: d.id, "iid": lambda d: d.iid, "created_at": lambda d: (d.created_at, d.id),
                "updated_at": lambda d: (d.updated_at, d.id), "finished_at": lambda d: (d.updated_at, d.id),
                "ref": lambda d: (d.ref, d.id)}[order]
    rows = ordered(rows, key, sort_param(ctx, "asc"))
    return paged(ctx, rows, lambda d: render.deployment(world, d))

