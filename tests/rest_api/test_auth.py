"""GitLab token auth: each kind of token reaches the emulator in the header GitLab expects."""

import pytest
from dlt.sources.helpers.rest_client import RESTClient

from gitlab_emulator import TOKENS
from rest_api import GitLabTokenAuth, auth_headers, token_kind


@pytest.mark.parametrize(
    "kind, token_type, wire",
    [
        ("maintainer", "auto", "private-token-header"),
        ("oauth", "auto", "bearer"),
        ("job", "auto", "job-token-header"),
        ("maintainer", "oauth", "bearer"),  # GitLab also takes personal tokens as Bearer
        ("job", "job", "job-token-header"),
    ],
)
def test_each_token_kind_is_sent_in_its_header(emulator, kind, token_type, wire):
    client = RESTClient(base_url=f"{emulator.base_url}/api/v4", auth=GitLabTokenAuth(TOKENS[kind], token_type))
    response = client.get("/projects/acme%2Fwebsite")
    assert response.status_code == 200
    assert response.json()["path_with_namespace"] == "acme/website"
    assert [r.token_kind for r in emulator.requests] == [wire]
    assert TOKENS[kind] not in emulator.requests[0].path + str(emulator.requests[0].query)


def test_a_rejected_token_gets_401(emulator):
    client = RESTClient(base_url=f"{emulator.base_url}/api/v4", auth=GitLabTokenAuth("glpat-revoked"))
    assert client.get("/projects/acme%2Fwebsite").status_code == 401


def test_token_kind_guesses_from_prefix_and_shape():
    assert token_kind("glpat-abc") == "private"
    assert token_kind("glcbt-abc") == "job"
    assert token_kind("a" * 64) == "oauth"
    assert token_kind("a" * 63) == "private"
    assert auth_headers("glcbt-abc") == {"JOB-TOKEN": "glcbt-abc"}


def test_an_unknown_token_type_lists_the_valid_ones():
    with pytest.raises(ValueError, match="auto, private, oauth, job"):
        GitLabTokenAuth("glpat-abc", "cookie")


def test_the_auth_object_never_shows_its_token():
    auth = GitLabTokenAuth("glpat-do-not-print")
    assert "do-not-print" not in repr(auth) + str(auth)
