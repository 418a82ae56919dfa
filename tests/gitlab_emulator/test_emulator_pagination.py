"""Offset and keyset pagination as GitLab documents it: headers, Link URLs, clamping, the 10,000-row rule."""

from __future__ import annotations

from typing import Callable
from urllib.parse import parse_qs, urlsplit

import requests
from multidict import MultiDict, MultiDictProxy

from gitlab_emulator import GitLabEmulator
from gitlab_emulator.pagination import PageRequest, offset_page
from gitlab_emulator.params import Params

API_PROJECT = "acme%2Fplatform%2Fapi"


def _params(**values: str) -> Params:
    return Params(MultiDictProxy(MultiDict(values)))


def test_offset_headers_and_link_following(shared_emulator: GitLabEmulator, api: requests.Session) -> None:
    url = f"{shared_emulator.base_url}/api/v4/projects/{API_PROJECT}/jobs"
    first = api.get(url, params={"per_page": "7", "scope[]": ["success", "failed"]})
    assert first.status_code == 200
    total = int(first.headers["X-Total"])
    assert first.headers["X-Page"] == "1" and first.headers["X-Per-Page"] == "7"
    assert first.headers["X-Prev-Page"] == "" and first.headers["X-Next-Page"] == "2"
    assert int(first.headers["X-Total-Pages"]) == -(-total // 7)
    assert set(first.links) == {"next", "first", "last"}
    next_url = first.links["next"]["url"]
    assert next_url.startswith(shared_emulator.base_url + f"/api/v4/projects/{API_PROJECT}/jobs?")
    query = parse_qs(urlsplit(next_url).query)
    assert query["scope[]"] == ["success", "failed"] and query["page"] == ["2"] and query["per_page"] == ["7"]

    rows, pages = [], 0
    response = first
    while True:
        rows.extend(response.json())
        pages += 1
        if "next" not in response.links:
            break
        response = api.get(response.links["next"]["url"])
        assert response.headers["X-Prev-Page"] == str(pages)
    assert response.headers["X-Next-Page"] == "" and "prev" in response.links
    assert pages == int(first.headers["X-Total-Pages"])
    assert len(rows) == total == len({r["id"] for r in rows})
    assert all(r["status"] in ("success", "failed") for r in rows)
    ids = [r["id"] for r in rows]
    assert ids == sorted(ids, reverse=True)


def test_per_page_is_clamped_and_defaults(shared_emulator: GitLabEmulator, api: requests.Session) -> None:
    url = f"{shared_emulator.base_url}/api/v4/projects/{API_PROJECT}/jobs"
    assert api.get(url, params={"per_page": "500"}).headers["X-Per-Page"] == "100"
    assert len(api.get(url, params={"per_page": "500"}).json()) == 100
    default = api.get(url)
    assert default.headers["X-Per-Page"] == "20" and len(default.json()) == 20
    bad = api.get(url, params={"page": "two"})
    assert bad.status_code == 400 and bad.json() == {"error": "page is invalid"}


def test_page_past_the_end_is_empty(shared_emulator: GitLabEmulator, api: requests.Session) -> None:
    response = api.get(f"{shared_emulator.base_url}/api/v4/projects/{API_PROJECT}/issues", params={"page": "99"})
    assert response.status_code == 200 and response.json() == []
    assert response.headers["X-Next-Page"] == "" and response.headers["X-Prev-Page"] == ""
    assert set(response.links) == {"first", "last"}


def test_keyset_projects_follow_id_cursor(shared_emulator: GitLabEmulator, api: requests.Session,
                                          follow: Callable) -> None:
    url = f"{shared_emulator.base_url}/api/v4/projects"
    for sort, cursor in (("asc", "id_after"), ("desc", "id_before")):
        first = api.get(url, params={"pagination": "keyset", "order_by": "id", "sort": sort, "per_page": "3"})
        assert first.status_code == 200
        assert "X-Total" not in first.headers and "X-Total-Pages" not in first.headers
        assert set(first.links) == {"next"}
        assert cursor in parse_qs(urlsplit(first.links["next"]["url"]).query)
        rows, pages = follow(api, url, {"pagination": "keyset", "order_by": "id", "sort": sort, "per_page": "3"})
        ids = [r["id"] for r in rows]
        assert ids == sorted(ids, reverse=sort == "desc")
        visible = {p.id for p in shared_emulator.world.projects.values() if p.token_access_cap is not None}
        assert set(ids) == visible and len(ids) == len(visible) and pages == -(-len(ids) // 3)


def test_keyset_project_jobs_and_unsupported_orders(
    shared_emulator: GitLabEmulator, api: requests.Session, follow: Callable
) -> None:
    url = f"{shared_emulator.base_url}/api/v4/projects/{API_PROJECT}/jobs"
    rows, pages = follow(api, url, {"pagination": "keyset", "per_page": "25", "order_by": "id", "sort": "desc"})
    project_id = shared_emulator.world.project_by_path["acme/platform/api"].id
    truth = {j.id for j in shared_emulator.world.project_jobs[project_id]}
    assert [r["id"] for r in rows] == sorted(truth, reverse=True) and pages > 1
    refused = {"error": "Keyset pagination is not yet available for this type of request"}
    for path, params in ((url, {"sort": "asc"}), (f"{shared_emulator.base_url}/api/v4/projects", {"order_by": "name"}),
                         (f"{shared_emulator.base_url}/api/v4/projects/{API_PROJECT}/issues", {})):
        response = api.get(path, params={"pagination": "keyset", **params})
        assert response.status_code == 405 and response.json() == refused


def test_more_than_ten_thousand_rows_omit_totals() -> None:
    request = PageRequest("http://127.0.0.1:1", "/api/v4/projects/1/jobs", (("scope", "success"), ("page", "3")))
    items, headers = offset_page(list(range(10_001)), _params(page="3", per_page="100"), request)
    assert items == list(range(200, 300))
    assert "X-Total" not in headers and "X-Total-Pages" not in headers
    assert headers["X-Next-Page"] == "4" and headers["X-Prev-Page"] == "2"
    assert 'rel="last"' not in headers["Link"] and 'rel="next"' in headers["Link"]
    _, counted = offset_page(list(range(10_000)), _params(per_page="100"), request)
    assert counted["X-Total"] == "10000" and counted["X-Total-Pages"] == "100" and 'rel="last"' in counted["Link"]


def test_link_urls_keep_parameters_in_place() -> None:
    request = PageRequest("http://h:1", "/api/v4/x", (("a", "1"), ("page", "2"), ("b", "x y")))
    assert request.url(page="3", per_page="20") == "http://h:1/api/v4/x?a=1&page=3&b=x+y&per_page=20"
    assert request.url(drop=("page",), cursor="c") == "http://h:1/api/v4/x?a=1&b=x+y&cursor=c"
