"""The declared resources, without any HTTP: names, dispositions, keys, and parent references."""

import importlib.util
import re

import pytest

from gitlab import api_url, gitlab_source
from gitlab.errors import GitLabSourceError
from gitlab.cursors import CursorFilter
from gitlab.resources import declared_resources
from tests.utils import REPO

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
    "job_logs": ("merge", "job_id"),
}
INCREMENTAL = {"pipelines": "updated_after", "issues": "updated_after", "merge_requests": "updated_after",
               "deployments": "updated_after", "commits": "since"}


def _source():
    return gitlab_source(access_token="not-a-real-token", base_url="http://127.0.0.1:9", groups=["acme"])


def test_resources_have_exact_names_dispositions_and_keys():
    source = _source()
    assert set(source.resources) == set(EXPECTED) | {"project_cursors"}
    assert set(source.selected_resources) == set(EXPECTED)
    for name, (disposition, key) in EXPECTED.items():
        resource = source.resources[name]
        assert resource.write_disposition == disposition, name
        assert resource._hints["primary_key"] == key, name


def test_every_parent_reference_resolves_to_a_resource():
    names = {entry["name"] for entry in declared_resources([])} | {"groups", "projects", "project_cursors"}
    for entry in declared_resources([]):
        for parent in re.findall(r"\{resources\.(\w+)\.\w+\}", entry["endpoint"]["path"]):
            assert parent in names, (entry["name"], parent)


def test_incremental_resources_resume_at_their_project_cursor():
    for entry in declared_resources([]):
        params = entry["endpoint"].get("params", {})
        filters = [step["filter"] for step in entry.get("processing_steps", []) if "filter" in step]
        if entry["name"] in INCREMENTAL:
            assert params[INCREMENTAL[entry["name"]]] == f"{{resources.project_cursors.{entry['name']}_since}}"
            assert [type(step) for step in filters] == [CursorFilter], entry["name"]
        else:
            assert not filters and not any("project_cursors" in str(value) for value in params.values())


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


def _catalogue_paths():
    spec = importlib.util.spec_from_file_location("regenerate_catalogue", REPO / "tools" / "regenerate_catalogue.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {_shape(entry["path"]) for entry in module.catalogue_endpoints(module.read_catalogue())}


def _shape(path):
    return re.sub(r"\{[^}]*\}", "{}", path)


def test_every_curated_endpoint_comes_from_the_generated_catalogue():
    catalogue = _catalogue_paths()
    curated = {_shape(entry["endpoint"]["path"]) for entry in declared_resources([])}
    discovery = {"/groups/{}", "/groups/{}/descendant_groups", "/groups/{}/projects", "/projects/{}"}
    assert curated | discovery <= catalogue, sorted((curated | discovery) - catalogue)
