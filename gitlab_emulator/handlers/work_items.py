"""Issues, merge requests, their notes, milestones and labels (https://docs.gitlab.com/api/issues/, /api/notes/)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Callable, Sequence, TypeVar

from gitlab_emulator import render
from gitlab_emulator.handlers.common import (
    Ctx, Reply, created_between, find_project, order_param, ordered, paged, sort_param, updated_between,
)
from gitlab_emulator.model import Issue, Label, MergeRequest
from gitlab_emulator.params import not_found

T = TypeVar("T", Issue, MergeRequest)

_FAR_FUTURE = timedelta(days=36_500)
"""Issues without a due date sort after those with one."""
_ISSUABLE_ORDERS = ("created_at", "updated_at", "title", "due_date", "priority", "relative_position",
                    "label_priority", "milestone_due", "popularity", "weight", "merged_at")


def _issuable_rows(ctx: Ctx, rows: Sequence[T], states: tuple[str, ...]) -> list[T]:
    """Filters shared by issues and merge requests: state, labels, milestone, scope, ids, authors, time."""
    params = ctx.params
    result = list(rows)
    state = params.choice("state", states, "all")
    if state != "all":
        result = [r for r in result if r.state == state]
    labels = params.text("labels")
    if labels:
        wanted = [x for x in labels.split(",") if x]
        if wanted == ["None"]:
            result = [r for r in result if not r.labels]
        elif wanted == ["Any"]:
            result = [r for r in result if r.labels]
        else:
            result = [r for r in result if set(wanted) <= set(r.labels)]
    milestone = params.text("milestone")
    if milestone:
        titles = {m.id: m.title for m in ctx.world.milestones.values()}
        result = [r for r in result if titles.get(r.milestone_id or -1) == milestone]
    scope = params.choice("scope", ("created_by_me", "assigned_to_me", "all", "created-by-me", "assigned-to-me"), "all")
    me = ctx.principal.user_id
    if scope in ("created_by_me", "created-by-me"):
        result = [r for r in result if r.author_id == me]
    elif scope in ("assigned_to_me", "assigned-to-me"):
        result = [r for r in result if me in r.assignee_ids]
    iids = {int(v) for v in params.values("iids") if v.isdigit()}
    if iids:
        result = [r for r in result if r.iid in iids]
    author_id = params.integer("author_id")
    if author_id is not None:
        result = [r for r in result if r.author_id == author_id]
    search = (params.text("search") or "").lower()
    if search:
        result = [r for r in result if search in r.title.lower() or search in r.description.lower()]
    result = updated_between(ctx, result, lambda r: r.updated_at)
    return created_between(ctx, result, lambda r: r.created_at)


def _issuable_order(ctx: Ctx, rows: list[T]) -> list[T]:
    """Orders issues or merge requests (default created_at desc)."""
    order = order_param(ctx, _ISSUABLE_ORDERS, "created_at")
    keys: dict[str, Callable[[Any], Any]] = {
        "updated_at": lambda r: (r.updated_at, r.id), "title": lambda r: (r.title.lower(), r.id),
        "due_date": lambda r: (getattr(r, "due_date", None) or r.created_at + _FAR_FUTURE, r.id),
        "weight": lambda r: (getattr(r, "weight", None) or 0, r.id), "popularity": lambda r: (r.upvotes, r.id),
        "merged_at": lambda r: (getattr(r, "merged_at", None) or r.created_at, r.id),
    }
    return ordered(rows, keys.get(order, lambda r: (r.created_at, r.id)), sort_param(ctx, "desc"))


def issues(ctx: Ctx) -> Reply:
    """GET /projects/:id/issues (state default all, labels, milestone, scope, updated_after/before, ordering)."""
    project = find_project(ctx)
    world = ctx.world
    rows = _issuable_rows(ctx, list(world.project_issues[project.id].values()), ("opened", "closed", "all"))
    confidential = ctx.params.boolean("confidential")
    if confidential is not None:
        rows = [i for i in rows if i.confidential == confidential]
    return paged(ctx, _issuable_order(ctx, rows), lambda i: render.issue(world, i))


def merge_requests(ctx: Ctx) -> Reply:
    """GET /projects/:id/merge_requests (state, source/target branch, updated_after/before, ordering, view)."""
    project = find_project(ctx)
    world, params = ctx.world, ctx.params
    rows = _issuable_rows(ctx, list(world.project_merge_requests[project.id].values()),
                          ("opened", "closed", "locked", "merged", "all"))
    for name in ("source_branch", "target_branch"):
        value = params.text(name)
        if value is not None:
            rows = [m for m in rows if getattr(m, name) == value]
    simple = params.text("view") == "simple"

    def draw(mr: MergeRequest) -> dict[str, Any]:
        body = render.merge_request(world, mr)
        if simple:
            keep = ("id", "iid", "project_id", "title", "description", "state", "created_at", "updated_at", "web_url")
            return {k: body[k] for k in keep}
        return body

    return paged(ctx, _issuable_order(ctx, rows), draw)


def _notes_reply(ctx: Ctx, kind: str, noteable_id: int) -> Reply:
    """Orders (created_at or updated_at; default created_at desc) and paginates the notes of one issuable."""
    world = ctx.world
    order = order_param(ctx, ("created_at", "updated_at"), "created_at")
    rows = list(world.iter_notes(kind, noteable_id))
    rows = ordered(rows, lambda n: (getattr(n, order), n.id), sort_param(ctx, "desc"))
    activity = ctx.params.choice("activity_filter", ("all_notes", "only_comments", "only_activity"), "all_notes")
    if activity == "only_comments":
        rows = [n for n in rows if not n.system]
    elif activity == "only_activity":
        rows = [n for n in rows if n.system]
    return paged(ctx, rows, lambda n: render.note(world, n))


def issue_notes(ctx: Ctx) -> Reply:
    """GET /projects/:id/issues/:issue_iid/notes."""
    project = find_project(ctx)
    issue = ctx.world.project_issues[project.id].get(int(ctx.match["iid"]))
    if issue is None:
        raise not_found("Issue")
    return _notes_reply(ctx, "Issue", issue.id)


def merge_request_notes(ctx: Ctx) -> Reply:
    """GET /projects/:id/merge_requests/:merge_request_iid/notes."""
    project = find_project(ctx)
    mr = ctx.world.project_merge_requests[project.id].get(int(ctx.match["iid"]))
    if mr is None:
        raise not_found("Merge Request")
    return _notes_reply(ctx, "MergeRequest", mr.id)


def milestones(ctx: Ctx) -> Reply:
    """GET /projects/:id/milestones (state, title, search, iids[], updated_after/before), by id."""
    project = find_project(ctx)
    world, params = ctx.world, ctx.params
    rows = list(world.project_milestones[project.id])
    state = params.choice("state", ("active", "closed"))
    if state:
        rows = [m for m in rows if m.state == state]
    title = params.text("title")
    if title is not None:
        rows = [m for m in rows if m.title == title]
    search = (params.text("search") or "").lower()
    if search:
        rows = [m for m in rows if search in m.title.lower() or search in m.description.lower()]
    iids = {int(v) for v in params.values("iids") if v.isdigit()}
    if iids:
        rows = [m for m in rows if m.iid in iids]
    rows = updated_between(ctx, rows, lambda m: m.updated_at)
    return paged(ctx, rows, lambda m: render.milestone(world, m))


def labels(ctx: Ctx) -> Reply:
    """GET /projects/:id/labels: project labels plus ancestor group labels unless include_ancestor_groups=false.

    Usage counts (`open_issues_count`, ...) are only present with `with_counts=true`, as on GitLab.
    """
    project = find_project(ctx)
    world, params = ctx.world, ctx.params
    rows: list[Label] = list(world.project_labels[project.id])
    if params.boolean("include_ancestor_groups", True):
        rows += [lb for g in world.project_ancestor_groups(project) for lb in world.group_labels[g.id]]
    search = (params.text("search") or "").lower()
    if search:
        rows = [lb for lb in rows if search in lb.name.lower()]
    rows.sort(key=lambda lb: (lb.name.lower(), lb.id))
    with_counts = bool(params.boolean("with_counts", False))
    return paged(ctx, rows, lambda lb: render.label(world, lb, with_counts))
