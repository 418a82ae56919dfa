"""What a correct load must contain: scoped rows per table as the maintainer token would read them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Iterable

from gitlab_emulator import render
from gitlab_emulator.model import REPORTER, Group, Project, World

TABLE_KEYS: dict[str, tuple[str, ...]] = {
    "groups": ("id",), "projects": ("id",), "group_members": ("group_id", "id"),
    "project_members": ("project_id", "id"), "pipelines": ("id",), "jobs": ("id",), "issues": ("id",),
    "issue_notes": ("id",), "merge_requests": ("id",), "merge_request_notes": ("id",),
    "commits": ("project_id", "id"), "branches": ("project_id", "name"), "tags": ("project_id", "name"),
    "releases": ("project_id", "tag_name"), "milestones": ("id",), "labels": ("id",), "environments": ("id",),
    "deployments": ("id",),
}
"""The primary key of every table the source loads."""

CI_TABLES = frozenset({"pipelines", "jobs", "environments", "deployments"})
"""Tables behind the Reporter access level: a Guest gets 403 for them."""


@dataclass(frozen=True)
class Scope:
    """Which groups and projects a load covers.

    Args:
        groups (tuple[str, ...]): Group full paths or ids.
        include_subgroups (bool): Whether descendant groups (and their projects) are in scope.
        include_archived (bool): Whether archived projects of those groups are in scope.
        projects (tuple[str, ...]): Extra projects by full path or id, in scope even when archived.
    """

    groups: tuple[str, ...] = ("acme",)
    include_subgroups: bool = True
    include_archived: bool = False
    projects: tuple[str, ...] = ()


def visible(project: Project) -> bool:
    """Whether the emulator's tokens can see the project at all."""
    return project.token_access_cap is not None


def ci_readable(project: Project) -> bool:
    """Whether the maintainer token may read the project's pipelines, jobs, environments and deployments."""
    return project.token_access_cap is not None and project.token_access_cap >= REPORTER


def scope_groups(world: World, scope: Scope) -> list[Group]:
    """The requested groups plus, with include_subgroups, all their descendants; in id order."""
    found: dict[int, Group] = {}
    for ref in scope.groups:
        group = world.find_group(str(ref))
        if group is None:
            continue
        found[group.id] = group
        if scope.include_subgroups:
            found.update({g.id: g for g in world.group_descendants(group)})
    return [found[k] for k in sorted(found)]


def scope_projects(world: World, scope: Scope) -> list[Project]:
    """Visible projects directly in the scoped groups (archived only if asked) plus the listed projects."""
    group_ids = {g.id for g in scope_groups(world, scope)}
    found = {p.id: p for p in world.projects.values()
             if p.namespace_id in group_ids and visible(p) and (scope.include_archived or not p.archived)}
    for ref in scope.projects:
        project = world.find_project(str(ref))
        if project is not None and visible(project):
            found[project.id] = project
    return [found[k] for k in sorted(found)]


def _with(row: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """Adds the parent key the API does not echo (e.g. project_id on a commit)."""
    return {**row, **extra}


def _project_rows(world: World, table: str, project: Project) -> Iterable[dict[str, Any]]:
    """Yields one project's rows of a child table as the API serves them now."""
    pid = project.id
    if table in CI_TABLES and not ci_readable(project):
        return
    if table == "project_members":
        for m in world.project_members[pid].values():
            yield _with(render.member(world, m), project_id=pid)
    elif table == "pipelines":
        for pl in world.project_pipelines[pid]:
            yield render.pipeline_basic(world, pl)
    elif table == "jobs":
        for j in world.project_jobs[pid]:
            yield render.job(world, j)
    elif table == "issues":
        for i in world.project_issues[pid].values():
            yield render.issue(world, i)
    elif table in ("issue_notes", "merge_request_notes"):
        kind, parents = ("Issue", world.project_issues) if table == "issue_notes" else (
            "MergeRequest", world.project_merge_requests)
        for parent in parents[pid].values():
            for n in world.iter_notes(kind, parent.id):
                yield render.note(world, n)
    elif table == "merge_requests":
        for mr in world.project_merge_requests[pid].values():
            yield render.merge_request(world, mr)
    elif table == "commits":
        for c in world.commits[pid]:
            yield _with(render.commit(world, c), project_id=pid)
    elif table == "branches":
        for b in world.branches[pid].values():
            yield _with(render.branch(world, b), project_id=pid)
    elif table == "tags":
        for t in world.tags[pid].values():
            yield _with(render.tag(world, t), project_id=pid)
    elif table == "releases":
        for r in world.releases[pid].values():
            yield _with(render.release(world, r), project_id=pid)
    elif table == "milestones":
        for ms in world.project_milestones[pid]:
            yield render.milestone(world, ms)
    elif table == "labels":
        for lb in world.project_labels[pid]:
            yield render.label(world, lb)
    elif table == "environments":
        for e in world.project_environments[pid]:
            yield render.environment(world, e)
    elif table == "deployments":
        for d in world.project_deployments[pid]:
            yield render.deployment(world, d)


def truth_rows(world: World, table: str, scope: Scope) -> list[dict[str, Any]]:
    """Returns the JSON objects a correct load of `table` contains for `scope`.

    Rows are the API's JSON. Where the primary key includes a parent the API does not echo
    (group_members, project_members, commits, branches, tags, releases), the row also carries
    `group_id` or `project_id`.

    Args:
        world (World): The world (read with its lock held).
        table (str): One of TABLE_KEYS.
        scope (Scope): The load's scope.
    Returns:
        list[dict]: The rows, in a stable order.
    Raises:
        ValueError: For an unknown table.
    """
    if table not in TABLE_KEYS:
        raise ValueError(f"unknown table {table!r}; valid tables: {', '.join(sorted(TABLE_KEYS))}")
    if table == "groups":
        return [render.group(g) for g in scope_groups(world, scope)]
    if table == "group_members":
        return [_with(render.member(world, m), group_id=g.id)
                for g in scope_groups(world, scope) for m in world.group_members[g.id].values()]
    projects = scope_projects(world, scope)
    if table == "projects":
        return [render.project(world, p) for p in projects]
    return [row for p in projects for row in _project_rows(world, table, p)]


def truth_keys(world: World, table: str, scope: Scope) -> set[tuple[Any, ...]]:
    """Returns the primary-key tuples of `truth_rows`."""
    key = TABLE_KEYS.get(table)
    if key is None:
        raise ValueError(f"unknown table {table!r}; valid tables: {', '.join(sorted(TABLE_KEYS))}")
    return {tuple(row[k] for k in key) for row in truth_rows(world, table, scope)}


_CHANGE_SOURCES: dict[str, Callable[[World, Project], Iterable[tuple[Any, datetime | None]]]] = {
    "pipelines": lambda w, p: ((pl.id, pl.updated_at) for pl in w.project_pipelines[p.id]),
    "jobs": lambda w, p: ((j.id, j.touched_at) for j in w.project_jobs[p.id]),
    "issues": lambda w, p: (((p.id, i.iid), i.updated_at) for i in w.project_issues[p.id].values()),
    "merge_requests": lambda w, p: (((p.id, m.iid), m.updated_at) for m in w.project_merge_requests[p.id].values()),
    "issue_notes": lambda w, p: ((n.id, n.updated_at) for i in w.project_issues[p.id].values()
                                 for n in w.iter_notes("Issue", i.id)),
    "merge_request_notes": lambda w, p: ((n.id, n.updated_at) for m in w.project_merge_requests[p.id].values()
                                         for n in w.iter_notes("MergeRequest", m.id)),
    "deployments": lambda w, p: ((d.id, d.updated_at) for d in w.project_deployments[p.id]),
    "environments": lambda w, p: ((e.id, e.updated_at) for e in w.project_environments[p.id]),
    "milestones": lambda w, p: ((m.id, m.updated_at) for m in w.project_milestones[p.id]),
    "commits": lambda w, p: (((p.id, c.sha), c.committed_date) for c in w.commits[p.id]),
}


def changed_since(world: World, table: str, since: datetime, scope: Scope) -> set[Any]:
    """Returns the ids of rows in scope updated at or after `since`.

    Ids are pipeline/job/note/... ids, `(project_id, iid)` for issues and merge requests and
    `(project_id, sha)` for commits. Jobs use the time of their last state change.

    Args:
        world (World): The world (read with its lock held).
        table (str): One of the keys of _CHANGE_SOURCES.
        since (datetime): Inclusive lower bound.
        scope (Scope): The load's scope.
    Returns:
        set: The changed ids.
    """
    source = _CHANGE_SOURCES.get(table)
    if source is None:
        raise ValueError(f"changed_since does not track {table!r}; tracked: {', '.join(sorted(_CHANGE_SOURCES))}")
    found: set[Any] = set()
    for project in scope_projects(world, scope):
        if table in CI_TABLES and not ci_readable(project):
            continue
        found.update(key for key, moment in source(world, project) if moment is not None and moment >= since)
    return found
