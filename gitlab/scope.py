"""Which groups and projects a run covers: the requested ones, their subgroups, their projects.

See https://docs.gitlab.com/api/groups/ and https://docs.gitlab.com/api/projects/
"""

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence
from urllib.parse import quote

from dlt.sources.helpers.rest_client import RESTClient

from gitlab.errors import GitLabSourceError, http_error_message
from gitlab.settings import PER_PAGE
from rest_api import GitLabKeysetPaginator

TDataItem = Dict[str, Any]

GROUPS_AT_ONCE = 8  # groups whose projects are listed at once: a large group has many subgroups, each a list


def _path_param(group_or_project: str) -> str:
    """GitLab takes a numeric id or the URL-encoded full path wherever it takes `:id`."""
    return quote(str(group_or_project).strip("/"), safe="")


class GitLabScope:
    """Resolves the groups and projects of a run once, lazily, for the `groups` and `projects` tables.

    Lazy, so that building the source does no I/O (Airflow parses DAG files often); once, so that the
    tables and lists that need them, from any thread, do not ask GitLab twice. `before_first_request` runs
    once, while extracting, before any request (the source checks there which GitLab the dataset holds).
    """

    def __init__(
        self,
        client: RESTClient,
        group_paths: Sequence[str],
        project_paths: Sequence[str],
        include_subgroups: bool,
        include_archived: bool,
        before_first_request: Callable[[], None] = lambda: None,
    ) -> None:
        for kind, paths in (("group", group_paths), ("project", project_paths)):
            for path in paths:
                if not str(path).strip():
                    raise GitLabSourceError(
                        f"--{kind} {path!r} is empty: name each {kind} by its full path or id"
                        f" (in .dlt/config.toml: {kind}s in [sources.gitlab])"
                    )
        self.client = client
        self.group_paths = list(group_paths)
        self.project_paths = list(project_paths)
        self.include_subgroups = include_subgroups
        self.include_archived = include_archived
        self.before_first_request = before_first_request
        self._groups: Optional[List[TDataItem]] = None
        self._projects: Optional[List[TDataItem]] = None
        self._lock = threading.RLock()

    def _get(self, path: str, what: str, **params: str) -> TDataItem:
        response = self.client.get(path, params=params)
        if response.status_code != 200:
            raise GitLabSourceError(http_error_message(response, what))
        item: TDataItem = response.json()
        return item

    def groups(self) -> Iterator[List[TDataItem]]:
        """Yields the requested groups and, unless subgroups are off, all their descendants, each once."""
        yield self.group_list()

    def projects(self) -> Iterator[List[TDataItem]]:
        """Yields the projects directly in each group in scope, then the requested projects, each once."""
        yield self.project_list()

    def group_list(self) -> List[TDataItem]:
        """The groups of `groups`, asked of GitLab on the first call."""
        with self._lock:
            if self._groups is None:
                self._groups = self._find_groups()
            return self._groups

    def project_list(self) -> List[TDataItem]:
        """The projects of `projects`, asked of GitLab on the first call."""
        with self._lock:
            if self._projects is None:
                self._projects = self._find_projects()
            return self._projects

    def _find_groups(self) -> List[TDataItem]:
        self.before_first_request()
        found: Dict[int, TDataItem] = {}
        for path in self.group_paths:
            # GitLab embeds a group's projects unless told not to; they are listed apart, by keyset
            group = self._get(f"/groups/{_path_param(path)}", f"group '{path}'", with_projects="false")
            found.setdefault(group["id"], group)
            if self.include_subgroups:
                for page in self.client.paginate(
                    f"/groups/{group['id']}/descendant_groups", params={"per_page": PER_PAGE}
                ):
                    for subgroup in page:
                        found.setdefault(subgroup["id"], subgroup)
        return list(found.values())

    def _find_projects(self) -> List[TDataItem]:
        found: Dict[int, TDataItem] = {}
        with ThreadPoolExecutor(GROUPS_AT_ONCE) as pool:
            for projects in pool.map(self._projects_in, self.group_list()):
                for project in projects:
                    found.setdefault(project["id"], project)
        for path in self.project_paths:
            project = self._get(f"/projects/{_path_param(path)}", f"project '{path}'")
            found.setdefault(project["id"], project)
        return list(found.values())

    def _projects_in(self, group: TDataItem) -> List[TDataItem]:
        params: Dict[str, Any] = {"per_page": PER_PAGE, "with_shared": "false"}
        if not self.include_archived:
            params["archived"] = "false"
        pages = self.client.paginate(
            f"/groups/{group['id']}/projects", params=params, paginator=GitLabKeysetPaginator(order_by="id", sort="asc")
        )
        return [project for page in pages for project in page]
