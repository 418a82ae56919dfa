"""What every endpoint handler shares: the request context, the reply, look-ups with GitLab's errors, paging."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterable, Sequence, TypeVar

from gitlab_emulator.auth import Principal
from gitlab_emulator.model import REPORTER, Group, Project, World
from gitlab_emulator.pagination import KEYSET_UNSUPPORTED, PageRequest, offset_page
from gitlab_emulator.params import ApiError, Params, forbidden, not_found

T = TypeVar("T")


@dataclass
class Ctx:
    """One request as a handler sees it.

    Args:
        world (World): The world; handlers run with its lock held.
        principal (Principal): The authenticated token.
        params (Params): Query parameters.
        match (dict[str, str]): Decoded path parameters (`id`, `job_id`, ...).
        page (PageRequest): For pagination links.
        erased (set[int]): The emulator's record of erased job ids.
    """

    world: World
    principal: Principal
    params: Params
    match: dict[str, str]
    page: PageRequest
    erased: set[int] = field(default_factory=set)


@dataclass
class Reply:
    """A handler's answer: JSON, text, or a text factory run after the world lock is released."""

    status: int = 200
    json: Any = None
    text: str | None = None
    text_factory: Callable[[], str] | None = None
    headers: dict[str, str] = field(default_factory=dict)


def access_level(ctx: Ctx, project: Project) -> int | None:
    """The token's effective access level on a project, or None when it cannot see it."""
    if project.token_access_cap is None or ctx.principal.user_id in project.hidden_from_user_ids:
        return None
    return min(ctx.principal.access_level, project.token_access_cap)


def find_project(ctx: Ctx) -> Project:
    """The project named by `:id` (id or full path); 404 `Project Not Found` when missing or invisible."""
    project = ctx.world.find_project(ctx.match["id"])
    if project is None or access_level(ctx, project) is None:
        raise not_found("Project")
    return project


def find_group(ctx: Ctx) -> Group:
    """The group named by `:id` (id or full path); 404 `Group Not Found` when missing."""
    group = ctx.world.find_group(ctx.match["id"])
    if group is None:
        raise not_found("Group")
    return group


def require_ci_access(ctx: Ctx, project: Project) -> None:
    """Pipelines, jobs, environments and deployments need Reporter; a Guest gets 403."""
    level = access_level(ctx, project)
    if level is None or level < REPORTER:
        raise forbidden()


def ordered(rows: Iterable[T], key: Callable[[T], Any], sort: str | None) -> list[T]:
    """Sorts rows by key, descending when sort == "desc"."""
    return sorted(rows, key=key, reverse=sort == "desc")


def between(rows: Iterable[T], moment: Callable[[T], datetime | None], after: datetime | None,
            before: datetime | None) -> list[T]:
    """Keeps rows whose moment is on or after `after` and on or before `before` (both inclusive)."""
    kept = []
    for row in rows:
        value = moment(row)
        if after is not None and (value is None or value < after):
            continue
        if before is not None and (value is None or value > before):
            continue
        kept.append(row)
    return kept


def updated_between(ctx: Ctx, rows: Iterable[T], moment: Callable[[T], datetime | None]) -> list[T]:
    """Applies `updated_after` / `updated_before` (inclusive, as GitLab documents "on or after")."""
    return between(rows, moment, ctx.params.moment("updated_after"), ctx.params.moment("updated_before"))


def created_between(ctx: Ctx, rows: Iterable[T], moment: Callable[[T], datetime | None]) -> list[T]:
    """Applies `created_after` / `created_before` (inclusive)."""
    return between(rows, moment, ctx.params.moment("created_after"), ctx.params.moment("created_before"))


def paged(ctx: Ctx, rows: Sequence[T], render: Callable[[T], Any]) -> Reply:
    """Answers with one offset page of rows; `pagination=keyset` is refused with 405 here."""
    if ctx.params.text("pagination") == "keyset":
        raise KEYSET_UNSUPPORTED
    items, headers = offset_page(rows, ctx.params, ctx.page)
    return Reply(json=[render(item) for item in items], headers=headers)


def sort_param(ctx: Ctx, default: str) -> str:
    """The `sort` parameter: asc or desc."""
    value = ctx.params.choice("sort", ("asc", "desc"), default)
    assert value is not None
    return value


def order_param(ctx: Ctx, choices: Sequence[str], default: str) -> str:
    """The `order_by` parameter, limited to the endpoint's choices."""
    value = ctx.params.choice("order_by", choices, default)
    assert value is not None
    return value


def bad_request(message: str) -> ApiError:
    """GitLab's 400 with an `error` message."""
    return ApiError(400, {"error": message})
