"""The declared resources, without any HTTP: names, dispositions, keys, and parent references."""

import re

import pytest

from gitlab import api_url, gitlab_source
from gitlab.errors import GitLabSourceError
from gitlab.resources import declared_resources

EXPECTED = {
    "groups": ("merge", "id"),
    "projects": ("merge", "id"),
    "group_members": ("replace", ["group_id", "id"]),
    "project_members": ("replace", ["project_id", "id"]),
    "pipelines": ("merge", "id"),
    "jobs": ("merge", "id"),
    "environments": ("replace", "id"),
    "deployments": ("merge", "id"),
    "issues": ("merge", "id"),
    "issue_notes": ("merge", "id"),
    "milestones": ("replace", "id"),
    "labels": ("replace", "id"),
    "merge_requests": ("merge", "id"),
    "merge_request_notes": ("merge", "id"),
    "commits": ("merge", ["project_id", "id"]),
    "branches": ("replace", ["project_id", "name"]),
    "tags": ("replace", ["project_id", "name"]),
    "releases": ("replace", ["project_id", "tag_name"]),
}
INCREMENTAL = {"pipelines": "updated_after", "issues": "updated_after", "merge_requests": "updated_after",
               "deployments": "updated_after", "commits": "since"}


def _source():
    return gitlab_source(access_token="not-a-real-token", base_url="http://127.0.0.1:9", groups=["acme"])


def test_resources_have_exact_names_dispositions_and_keys():
    source = _source()
    assert set(source.resources) == set(EXPECTED)
    for name, (disposition, key) in EXPECTED.items():
        resource = source.resources[name]
        assert resource.write_disposition == disposition, name
        assert resource._hints["primary_key"] == key, name


def test_every_parent_reference_resolves_to_a_resource():
    names = {entry["name"] for entry in declared_resources("2000-01-01T00:00:00.000Z", [])} | {"groups", "projects"}
    for entry in declared_resources("2000-01-01T00:00:00.000Z", []):
        for parent in re.findall(r"\{resources\.(\w+)\.\w+\}", entry["endpoint"]["path"]):
            assert parent in names, (entry["name"], parent)


def test_incremental_resources_send_their_cursor_param():
    for entry in declared_resources("2001-02-03T00:00:00.000Z", []):
        params = entry["endpoint"].get("params", {})
        if entry["name"] in INCREMENTAL:
            assert params[INCREMENTAL[entry["name"]]] == "{incremental.start_value}"
            assert entry["endpoint"]["incremental"]["initial_value"] == "2001-02-03T00:00:00.000Z"
        else:
            assert "incremental" not in entry["endpoint"], entry["name"]


@pytest.mark.parametrize(
    "given, expected",
    [
        ("https://gitlab.com", "https://gitlab.com/api/v4"),
        ("https://gitlab.example.com/", "https://gitlab.example.com/api/v4"),
        ("https://gitlab.example.com/api/v4/", "https://gitlab.example.com/api/v4"),
        ("http://host:8080/gitlab", "http://host:8080/gitlab/api/v4"),
    ],
)
def test_api_url_accepts_any_form_of_base_url(given, expected):
    assert api_url(given) == expected


def test_source_without_groups_or_projects_is_refused():
    with pytest.raises(GitLabSourceError, match="name at least one group or project"):
        gitlab_source(access_token="x", base_url="http://127.0.0.1:9")
