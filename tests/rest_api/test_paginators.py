"""GitLab's paginators against the emulator: Link headers, X-Next-Page fallback, keyset."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import pytest
import requests
from dlt.sources.helpers.rest_client import RESTClient

from gitlab_emulator import TOKENS
from rest_api import GitLabKeysetPaginator, GitLabLinkPaginator, GitLabTokenAuth


def _client(base_url: str, paginator) -> RESTClient:
    return RESTClient(base_url=f"{base_url}/api/v4", auth=GitLabTokenAuth(TOKENS["maintainer"]), paginator=paginator)


def test_link_paginator_reads_every_page(emulator):
    truth = emulator.truth("pipelines", projects=("acme/website",), groups=())
    pages = list(_client(emulator.base_url, GitLabLinkPaginator()).paginate(
        "/projects/100/pipelines", params={"per_page": 7}))
    ids = [row["id"] for page in pages for row in page]
    assert sorted(ids) == sorted(pipeline for (pipeline,) in truth)
    assert len(pages) == -(-len(truth) // 7)
    assert [r.query.get("page", "1") for r in emulator.requests] == [str(n) for n in range(1, len(pages) + 1)]


@pytest.fixture
def link_stripping_proxy(emulator) -> Iterator[str]:
    """A reverse proxy in front of the emulator that drops `Link` headers, as some proxies do."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            upstream = requests.get(emulator.base_url + self.path, headers=dict(self.headers), timeout=10)
            self.send_response(upstream.status_code)
            for name, value in upstream.headers.items():
                if name.lower() not in ("link", "content-length", "transfer-encoding", "connection", "content-encoding"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(upstream.content)))
            self.end_headers()
            self.wfile.write(upstream.content)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_link_paginator_falls_back_to_x_next_page(emulator, link_stripping_proxy):
    truth = emulator.truth("issues", projects=("acme/website",), groups=())
    pages = list(_client(link_stripping_proxy, GitLabLinkPaginator()).paginate(
        "/projects/100/issues", params={"per_page": 3, "state": "all"}))
    assert sorted(row["id"] for page in pages for row in page) == sorted(issue for (issue,) in truth)
    assert len(pages) > 1


def test_keyset_paginator_asks_for_keyset_and_follows_links(emulator):
    truth = emulator.truth("projects", groups=("acme",), include_subgroups=False, include_archived=True)
    client = _client(emulator.base_url, GitLabKeysetPaginator(order_by="id", sort="asc"))
    pages = list(client.paginate("/groups/acme/projects", params={"per_page": 1, "with_shared": "false"}))
    ids = [row["id"] for page in pages for row in page]
    assert ids == sorted(project for (project,) in truth)
    assert all(r.query["pagination"] == "keyset" for r in emulator.requests)


def test_keyset_paginator_descends_where_gitlab_only_allows_desc(emulator):
    client = _client(emulator.base_url, GitLabKeysetPaginator(order_by="id", sort="desc"))
    ids = [row["id"] for page in client.paginate("/projects/101/jobs", params={"per_page": 10}) for row in page]
    truth = {job["id"] for job in emulator.truth_rows("jobs", projects=("acme/platform/api",), groups=())}
    assert ids == sorted(truth, reverse=True)
    assert len(emulator.requests) == -(-len(truth) // 10)
