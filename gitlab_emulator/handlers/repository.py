"""Commits, branches, tags and releases (https://docs.gitlab.com/api/commits/, /api/branches/, /api/releases/)."""

from __future__ import annotations

from gitlab_emulator import render
from gitlab_emulator.handlers.common import Ctx, Reply, between, find_project, order_param, ordered, paged, sort_param
from gitlab_emulator.model import Commit, Project, Tag
from gitlab_emulator.params import not_found


def _ref_position(ctx: Ctx, project: Project, ref: str) -> int:
    """Resolves a branch, tag or sha to a position in the linear history; 404 when unknown."""
    world = ctx.world
    sha: str | None = None
    if ref in world.branches[project.id]:
        sha = world.branches[project.id][ref].commit_sha
    elif ref in world.tags[project.id]:
        sha = world.tags[project.id][ref].commit_sha
    else:
        sha = next((c.sha for c in world.commits[project.id] if c.sha.startswith(ref) and len(ref) >= 7), None)
    if sha is None:
        raise not_found("Reference")
    return world.commit(project.id, sha).position


def commits(ctx: Ctx) -> Reply:
    """GET /projects/:id/repository/commits (ref_name, since, until inclusive, all, author), newest first."""
    project = find_project(ctx)
    world, params = ctx.world, ctx.params
    history: list[Commit] = world.commits[project.id]
    ref_name = params.text("ref_name")
    if params.boolean("all", False):
        rows = list(history)
    else:
        head = _ref_position(ctx, project, ref_name or project.default_branch)
        rows = history[: head + 1]
    rows = between(rows, lambda c: c.committed_date, params.moment("since"), params.moment("until"))
    author = params.text("author")
    if author:
        rows = [c for c in rows if author.lower() in c.author_name.lower() or author.lower() in c.author_email]
    rows = sorted(rows, key=lambda c: c.position, reverse=True)
    return paged(ctx, rows, lambda c: render.commit(world, c))


def branches(ctx: Ctx) -> Reply:
    """GET /projects/:id/repository/branches (search), by name."""
    project = find_project(ctx)
    world = ctx.world
    rows = sorted(world.branches[project.id].values(), key=lambda b: b.name)
    search = ctx.params.text("search")
    if search:
        rows = [b for b in rows if search in b.name]
    return paged(ctx, rows, lambda b: render.branch(world, b))


def tags(ctx: Ctx) -> Reply:
    """GET /projects/:id/repository/tags (order_by name|updated|version, default updated desc; search)."""
    project = find_project(ctx)
    world = ctx.world
    order = order_param(ctx, ("name", "updated", "version"), "updated")
    rows = list(world.tags[project.id].values())
    search = ctx.params.text("search")
    if search:
        rows = [t for t in rows if search in t.name]

    def key(t: Tag) -> tuple[object, ...]:
        if order == "updated":
            return (world.commit(project.id, t.commit_sha).committed_date, t.name)
        if order == "version":
            return tuple(int(p) if p.isdigit() else 0 for p in t.name.lstrip("v").split("."))
        return (t.name,)

    return paged(ctx, ordered(rows, key, sort_param(ctx, "desc")), lambda t: render.tag(world, t))


def releases(ctx: Ctx) -> Reply:
    """GET /projects/:id/releases (order_by released_at|created_at, default released_at desc)."""
    project = find_project(ctx)
    world = ctx.world
    order = order_param(ctx, ("released_at", "created_at"), "released_at")
    rows = ordered(world.releases[project.id].values(), lambda r: (getattr(r, order), r.tag_name),
                   sort_param(ctx, "desc"))
    return paged(ctx, rows, lambda r: render.release(world, r))
