"""The REST v4 route table: (method, path regex under /api/v4, handler)."""

from __future__ import annotations

import re
from typing import Callable
from urllib.parse import unquote

from gitlab_emulator.handlers import ci, core, repository, work_items
from gitlab_emulator.handlers.common import Ctx, Reply

Handler = Callable[[Ctx], Reply]

_ID = r"(?P<id>[^/]+)"
_P = f"/projects/{_ID}"

_ROUTES: tuple[tuple[str, str, Handler], ...] = (
    ("GET", r"/user", core.current_user),
    ("GET", r"/version", core.version),
    ("GET", r"/groups", core.groups),
    ("GET", f"/groups/{_ID}", core.group),
    ("GET", f"/groups/{_ID}/subgroups", core.subgroups),
    ("GET", f"/groups/{_ID}/descendant_groups", core.descendant_groups),
    ("GET", f"/groups/{_ID}/projects", core.group_projects),
    ("GET", f"/groups/{_ID}/members", core.group_members),
    ("GET", f"/groups/{_ID}/members/all", core.group_members_all),
    ("GET", r"/projects", core.projects),
    ("GET", _P, core.project),
    ("GET", f"{_P}/members", core.project_members),
    ("GET", f"{_P}/members/all", core.project_members_all),
    ("GET", f"{_P}/pipelines", ci.pipelines),
    ("GET", f"{_P}/pipelines/(?P<pipeline_id>\\d+)", ci.pipeline),
    ("GET", f"{_P}/pipelines/(?P<pipeline_id>\\d+)/jobs", ci.pipeline_jobs),
    ("GET", f"{_P}/jobs", ci.project_jobs),
    ("GET", f"{_P}/jobs/(?P<job_id>\\d+)", ci.job),
    ("GET", f"{_P}/jobs/(?P<job_id>\\d+)/trace", ci.trace),
    ("POST", f"{_P}/jobs/(?P<job_id>\\d+)/erase", ci.erase),
    ("GET", f"{_P}/environments", ci.environments),
    ("GET", f"{_P}/deployments", ci.deployments),
    ("GET", f"{_P}/issues", work_items.issues),
    ("GET", f"{_P}/issues/(?P<iid>\\d+)/notes", work_items.issue_notes),
    ("GET", f"{_P}/merge_requests", work_items.merge_requests),
    ("GET", f"{_P}/merge_requests/(?P<iid>\\d+)/notes", work_items.merge_request_notes),
    ("GET", f"{_P}/milestones", work_items.milestones),
    ("GET", f"{_P}/labels", work_items.labels),
    ("GET", f"{_P}/repository/commits", repository.commits),
    ("GET", f"{_P}/repository/branches", repository.branches),
    ("GET", f"{_P}/repository/tags", repository.tags),
    ("GET", f"{_P}/releases", repository.releases),
)

ROUTES: tuple[tuple[str, re.Pattern[str], Handler], ...] = tuple(
    (method, re.compile(pattern), handler) for method, pattern, handler in _ROUTES
)
API_PREFIX = "/api/v4"
_PARAMETER = re.compile(r"\(\?P<(\w+)>[^)]*\)")
ROUTE_TEMPLATES: dict[Handler, str] = {handler: _PARAMETER.sub(r":\1", pattern) for _, pattern, handler in _ROUTES}


def resolve(method: str, raw_path: str) -> tuple[Handler, dict[str, str]] | str:
    """Finds the handler for a raw (percent-encoded) path.

    Args:
        method (str): The HTTP method.
        raw_path (str): The path without query, e.g. "/api/v4/projects/acme%2Fapi/jobs".
    Returns:
        tuple | str: (handler, decoded path parameters), or "not_found" / "method_not_allowed".
    """
    if not raw_path.startswith(API_PREFIX + "/"):
        return "not_found"
    tail = raw_path[len(API_PREFIX):].rstrip("/") or "/"
    allowed = False
    for route_method, pattern, handler in ROUTES:
        found = pattern.fullmatch(tail)
        if found is None:
            continue
        if route_method != method and not (method == "HEAD" and route_method == "GET"):
            allowed = True
            continue
        return handler, {k: unquote(v) for k, v in found.groupdict().items()}
    return "method_not_allowed" if allowed else "not_found"


def route_of(method: str, raw_path: str) -> str:
    """The route a request took, as `GET /projects/:id/jobs/:job_id/trace`; unknown paths as `GET (no route)`."""
    found = resolve(method, raw_path)
    return f"{method} {ROUTE_TEMPLATES[found[0]] if not isinstance(found, str) else '(no route)'}"
