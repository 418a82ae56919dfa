"""The declared resources, without any HTTP: names, dispositions, keys, and parent references."""

import importlib.util
import re

import pytest

from gitlab import gitlab_source
from gitlab.credentials import api_url, gitlab_credentials
from gitlab.cursors import CursorFilter, CursorHolds
from gitlab.errors import GitLabSourceError
from gitlab.resources import WHOLE_LISTS, declared_resources
from gitlab.tables import TABLE, TABLES
from gitlab_emulator.truth import TABLE_KEYS as EMULATOR_KEYS
from tests.utils import REPO

# Lists GitLab only returns whole; every other table is merged on its key.
REPLACED = {"group_members", "project_members", "environments", "milestones", "labels", "branches", "tags", "releases"}
JOB_LOG_TABLES = {"job_logs": ("job_id",), "job_log_sections": ("job_id", "section_index"),
                  "secret_findings": ("job_id", "finding_index")}
# The resources: every table but the two that `job_logs` loads besides its own.
EXPECTED = {table.name for table in TABLES} - {"job_log_sections", "secret_findings"}
INCREMENTAL = {"pipelines": "updated_after", "issues": "updated_after", "merge_requests": "updated_after",
               "deployments": "updated_after", "commits": "since"}


def _credentials():
    return gitlab_credentials(access_token="not-a-real-token", base_url="http://127.0.0.1:9")


def _source():
    return gitlab_source(credentials=_credentials(), groups=["acme"])


def test_the_table_list_has_gitlabs_keys_and_dispositions():
    keys = {table.name: table.primary_key for table in TABLES}
    assert keys == {**EMULATOR_KEYS, **JOB_LOG_TABLES}
    assert {table.name for table in TABLES if table.write_disposition == "replace"} == REPLACED
    assert {declared.table for declared in WHOLE_LISTS} == REPLACED
    assert {table.name for table in TABLES if table.write_disposition == "merge"} == set(keys) - REPLACED


def test_resources_have_the_table_lists_names_dispositions_and_keys():
    source = _source()
    assert set(source.resources) == EXPECTED | {"project_cursors"}
    assert set(source.selected_resources) == EXPECTED
    for name in EXPECTED:
        resource = source.resources[name]
        key = TABLE[name].primary_key
        disposition = resource.write_disposition  # a function of the rows for the whole lists: it is called as dlt does
        assert (disposition({}) if callable(disposition) else disposition) == TABLE[name].write_disposition, name
        assert resource._hints["primary_key"] == (key[0] if len(key) == 1 else list(key)), name


def test_every_parent_reference_resolves_to_a_resource():
    declared = declared_resources([], CursorHolds())
    names = {entry["name"] for entry in declared} | {"project_cursors"}
    for entry in declared_resources([], CursorHolds()):
        for parent in re.findall(r"\{resources\.(\w+)\.\w+\}", entry["endpoint"]["path"]):
            assert parent in names, (entry["name"], parent)


def test_incremental_resources_resume_at_their_project_cursor():
    for entry in declared_resources([], CursorHolds()):
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
        gitlab_source(credentials=_credentials())


def _catalogue_paths():
    spec = importlib.util.spec_from_file_location("regenerate_catalogue", REPO / "tools" / "regenerate_catalogue.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {_shape(entry["path"]) for entry in module.catalogue_endpoints(module.read_catalogue())}


def _shape(path):
    return re.sub(r"\{[^}]*\}", "{}", path)


def test_every_curated_endpoint_comes_from_the_generated_catalogue():
    catalogue = _catalogue_paths()
    curated = {_shape(entry["endpoint"]["path"]) for entry in declared_resources([], CursorHolds())}
    curated |= {_shape(declared.path) for declared in WHOLE_LISTS}
    discovery = {"/groups/{}", "/groups/{}/descendant_groups", "/groups/{}/projects", "/projects/{}"}
    job_listing = {"/projects/{}/jobs", "/projects/{}/pipelines/{}/jobs"}
    assert curated | discovery | job_listing <= catalogue, sorted((curated | discovery | job_listing) - catalogue)


def test_without_credentials_the_source_reads_them_from_sources_gitlab(monkeypatch):
    """As the Airflow DAG calls it: the token and URL come from `[sources.gitlab]`, not from a credentials table."""
    monkeypatch.delenv("GITLAB_TOKEN", raising=False)
    monkeypatch.setenv("SOURCES__GITLAB__ACCESS_TOKEN", "glpat-from-config")
    monkeypatch.setenv("SOURCES__GITLAB__BASE_URL", "http://127.0.0.1:9")
    source = gitlab_source(groups=["acme"])
    assert set(source.selected_resources) == EXPECTED
