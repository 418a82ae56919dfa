"""Users, groups, projects and members (https://docs.gitlab.com/api/groups/, /api/projects/, /api/members/)."""

from __future__ import annotations

from typing import Any

from gitlab_emulator import render
from gitlab_emulator.handlers.common import (
    Ctx, Reply, access_level, find_group, find_project, order_param, ordered, paged, sort_param,
)
from gitlab_emulator.model import Group, Member, Project
from gitlab_emulator.pagination import KEYSET_UNSUPPORTED, keyset_page

_PROJECT_ORDERS = ("id", "name", "path", "created_at", "updated_at", "last_activity_at", "similarity", "star_count")
_GROUP_ORDERS = ("name", "path", "id", "similarity")


def current_user(ctx: Ctx) -> Reply:
    """GET /user: the token's user."""
    return Reply(json=render.current_user(ctx.world.users[ctx.principal.user_id]))


def version(ctx: Ctx) -> Reply:
    """GET /version."""
    return Reply(json={"version": "17.8.1-ee", "revision": "3153ccc6b2a", "kas": {"enabled": True,
                       "externalUrl": "wss://kas.gitlab.example.com", "version": "17.8.1"}, "enterprise": True})


def _group_rows(ctx: Ctx, groups: list[Group]) -> list[Group]:
    """Applies search, order_by and sort to a group listing."""
    search = (ctx.params.text("search") or "").lower()
    if search:
        groups = [g for g in groups if search in g.name.lower() or search in g.path.lower()]
    order = order_param(ctx, _GROUP_ORDERS, "name")
    key = {"name": lambda g: (g.name.lower(), g.id), "path": lambda g: (g.path, g.id), "id": lambda g: g.id,
           "similarity": lambda g: (g.name.lower(), g.id)}[order]
    return ordered(groups, key, sort_param(ctx, "asc"))


def groups(ctx: Ctx) -> Reply:
    """GET /groups: every group the token can see (top_level_only, search, order_by, sort)."""
    rows = list(ctx.world.groups.values())
    if ctx.params.boolean("top_level_only", False):
        rows = [g for g in rows if g.parent_id is None]
    return paged(ctx, _group_rows(ctx, rows), render.group)


def group(ctx: Ctx) -> Reply:
    """GET /groups/:id, with its projects and shared projects unless with_projects=false."""
    g = find_group(ctx)
    body: dict[str, Any] = {**render.group(g), "shared_with_groups": [],
                            "prevent_sharing_groups_outside_hierarchy": False}
    if ctx.params.boolean("with_projects", True):
        world = ctx.world
        own = [p for p in world.projects.values() if p.namespace_id == g.id and access_level(ctx, p) is not None]
        shared = [p for p in world.projects.values()
                  if g.id in p.shared_with_group_ids and access_level(ctx, p) is not None]
        body["projects"] = [render.project(world, p) for p in sorted(own, key=lambda p: p.id)][:100]
        body["shared_projects"] = [render.project(world, p) for p in sorted(shared, key=lambda p: p.id)][:100]
    return Reply(json=body)


def subgroups(ctx: Ctx) -> Reply:
    """GET /groups/:id/subgroups: direct children."""
    g = find_group(ctx)
    return paged(ctx, _group_rows(ctx, [c for c in ctx.world.groups.values() if c.parent_id == g.id]), render.group)


def descendant_groups(ctx: Ctx) -> Reply:
    """GET /groups/:id/descendant_groups: children at any depth."""
    g = find_group(ctx)
    return paged(ctx, _group_rows(ctx, ctx.world.group_descendants(g)), render.group)


def _project_rows(ctx: Ctx, projects: list[Project]) -> list[Project]:
    """Applies the filters /projects and /groups/:id/projects share."""
    params = ctx.params
    rows = [p for p in projects if access_level(ctx, p) is not None]
    archived = params.boolean("archived")
    if archived is not None:
        rows = [p for p in rows if p.archived == archived]
    search = (params.text("search") or "").lower()
    if search:
        rows = [p for p in rows if search in p.name.lower() or search in p.path.lower()]
    visibility = params.choice("visibility", ("private", "internal", "public"))
    if visibility:
        rows = [p for p in rows if p.visibility == visibility]
    min_level = params.integer("min_access_level")
    if min_level is not None:
        rows = [p for p in rows if (access_level(ctx, p) or 0) >= min_level]
    id_after, id_before = params.integer("id_after"), params.integer("id_before")
    if id_after is not None:
        rows = [p for p in rows if p.id > id_after]
    if id_before is not None:
        rows = [p for p in rows if p.id < id_before]
    topic = params.text("topic")
    if topic:
        wanted = set(topic.split(","))
        rows = [p for p in rows if wanted <= set(p.topics)]
    return rows


def _projects_reply(ctx: Ctx, rows: list[Project]) -> Reply:
    """Orders, paginates (offset or keyset on id) and renders a project listing."""
    order = order_param(ctx, _PROJECT_ORDERS, "created_at")
    sort = sort_param(ctx, "desc")
    key = {"id": lambda p: p.id, "name": lambda p: (p.name.lower(), p.id), "path": lambda p: (p.path, p.id),
           "created_at": lambda p: (p.created_at, p.id), "updated_at": lambda p: (p.updated_at, p.id),
           "last_activity_at": lambda p: (p.last_activity_at, p.id), "similarity": lambda p: (p.name, p.id),
           "star_count": lambda p: (p.star_count, p.id)}[order]
    rows = ordered(rows, key, sort)
    world = ctx.world
    simple = ctx.params.boolean("simple", False)

    def draw(p: Project) -> dict[str, Any]:
        return render.project_simple(world, p) if simple else render.project(world, p)

    if ctx.params.text("pagination") == "keyset":
        if order != "id":
            raise KEYSET_UNSUPPORTED
        cursor_key = "id_after" if sort == "asc" else "id_before"
        items, headers = keyset_page(rows, ctx.params, ctx.page, lambda p: {cursor_key: str(p.id)},
                                     drop=("id_after", "id_before", "page"))
        return Reply(json=[draw(p) for p in items], headers=headers)
    return paged(ctx, rows, draw)


def projects(ctx: Ctx) -> Reply:
    """GET /projects: every project the token can see (membership/owned/starred accepted and ignored)."""
    return _projects_reply(ctx, _project_rows(ctx, list(ctx.world.projects.values())))


def group_projects(ctx: Ctx) -> Reply:
    """GET /groups/:id/projects (include_subgroups default false, with_shared default true, archived)."""
    g = find_group(ctx)
    world = ctx.world
    group_ids = {g.id}
    if ctx.params.boolean("include_subgroups", False):
        group_ids |= {d.id for d in world.group_descendants(g)}
    with_shared = ctx.params.boolean("with_shared", True)
    rows = [p for p in world.projects.values()
            if p.namespace_id in group_ids or (with_shared and g.id in p.shared_with_group_ids)]
    return _projects_reply(ctx, _project_rows(ctx, rows))


def project(ctx: Ctx) -> Reply:
    """GET /projects/:id (numeric id or URL-encoded full path), with the token's permissions."""
    p = find_project(ctx)
    level = access_level(ctx, p)
    assert level is not None
    return Reply(json={**render.project(ctx.world, p), "permissions": render.project_permissions(level)})


def _members_reply(ctx: Ctx, members: list[Member]) -> Reply:
    """Filters (query, user_ids), orders by user id and paginates members."""
    world = ctx.world
    query = (ctx.params.text("query") or "").lower()
    if query:
        members = [m for m in members if query in world.users[m.user_id].username
                   or query in world.users[m.user_id].name.lower()]
    wanted = {int(v) for v in ctx.params.values("user_ids") if v.isdigit()}
    if wanted:
        members = [m for m in members if m.user_id in wanted]
    return paged(ctx, sorted(members, key=lambda m: m.user_id), lambda m: render.member(world, m))


def _merged(memberships: list[dict[int, Member]]) -> list[Member]:
    """Merges direct and inherited memberships, keeping each user's highest access level."""
    best: dict[int, Member] = {}
    for members in memberships:
        for uid, m in members.items():
            if uid not in best or m.access_level > best[uid].access_level:
                best[uid] = m
    return list(best.values())


def group_members(ctx: Ctx) -> Reply:
    """GET /groups/:id/members: direct members."""
    g = find_group(ctx)
    return _members_reply(ctx, list(ctx.world.group_members[g.id].values()))


def group_members_all(ctx: Ctx) -> Reply:
    """GET /groups/:id/members/all: direct and inherited members."""
    g = find_group(ctx)
    chain = [g, *ctx.world.group_ancestors(g)]
    return _members_reply(ctx, _merged([ctx.world.group_members[x.id] for x in chain]))


def project_members(ctx: Ctx) -> Reply:
    """GET /projects/:id/members: direct members."""
    p = find_project(ctx)
    return _members_reply(ctx, list(ctx.world.project_members[p.id].values()))


def project_members_all(ctx: Ctx) -> Reply:
    """GET /projects/:id/members/all: direct members plus those inherited from ancestor groups."""
    p = find_project(ctx)
    world = ctx.world
    chain = [world.group_members[g.id] for g in world.project_ancestor_groups(p)]
    return _members_reply(ctx, _merged([world.project_members[p.id], *chain]))
