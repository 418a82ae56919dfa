"""Tests for openapi/gitlab.yaml and the raw endpoint catalogue that tools/regenerate_catalogue.py makes from it."""

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, Dict, Iterator, List, Tuple

import pytest
import yaml

REPO_DIR = Path(__file__).resolve().parents[2]
SPEC_PATH = REPO_DIR / "openapi" / "gitlab.yaml"
TOOL_PATH = REPO_DIR / "tools" / "regenerate_catalogue.py"
CATALOGUE_DIR = REPO_DIR / "rest_api" / "generated_reference"

# Every endpoint the source reads, as the brief for openapi/gitlab.yaml lists them.
EXPECTED_OPERATIONS = {
    ("get", "/user"),
    ("get", "/groups/{id}"),
    ("get", "/groups/{id}/descendant_groups"),
    ("get", "/groups/{id}/subgroups"),
    ("get", "/groups/{id}/projects"),
    ("get", "/groups/{id}/members"),
    ("get", "/projects/{id}"),
    ("get", "/projects/{id}/members"),
    ("get", "/projects/{id}/pipelines"),
    ("get", "/projects/{id}/pipelines/{pipeline_id}/jobs"),
    ("get", "/projects/{id}/jobs"),
    ("get", "/projects/{id}/jobs/{job_id}/trace"),
    ("post", "/projects/{id}/jobs/{job_id}/erase"),
    ("get", "/projects/{id}/issues"),
    ("get", "/projects/{id}/issues/{issue_iid}/notes"),
    ("get", "/projects/{id}/merge_requests"),
    ("get", "/projects/{id}/merge_requests/{merge_request_iid}/notes"),
    ("get", "/projects/{id}/repository/commits"),
    ("get", "/projects/{id}/repository/branches"),
    ("get", "/projects/{id}/repository/tags"),
    ("get", "/projects/{id}/releases"),
    ("get", "/projects/{id}/milestones"),
    ("get", "/projects/{id}/labels"),
    ("get", "/projects/{id}/environments"),
    ("get", "/projects/{id}/deployments"),
}
SINGLE_OBJECT_PATHS = {"/user": "User", "/groups/{id}": "Group", "/projects/{id}": "Project"}
TEXT_PATHS = {"/projects/{id}/jobs/{job_id}/trace"}
EXPECTED_SCHEMAS_WITH_ID = {
    "Group": "integer",
    "Project": "integer",
    "Member": "integer",
    "Pipeline": "integer",
    "Job": "integer",
    "Issue": "integer",
    "Note": "integer",
    "MergeRequest": "integer",
    "Commit": "string",
    "Milestone": "integer",
    "Label": "integer",
    "Environment": "integer",
    "Deployment": "integer",
    "User": "integer",
    "UserBasic": "integer",
}
# GitLab gives these no id: a branch or tag is known by its name, a release by its tag.
EXPECTED_SCHEMAS_WITHOUT_ID = {"Branch": "name", "Tag": "name", "Release": "tag_name"}
SECURITY_SCHEMES = {
    "PrivateToken": {"type": "apiKey", "in": "header", "name": "PRIVATE-TOKEN"},
    "OAuthBearer": {"type": "http", "scheme": "bearer"},
    "JobToken": {"type": "apiKey", "in": "header", "name": "JOB-TOKEN"},
}
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
CHECK_TIMEOUT_SECONDS = 540


@pytest.fixture(scope="module")
def spec() -> Dict[str, Any]:
    """The parsed openapi/gitlab.yaml."""
    return yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def tool() -> ModuleType:
    """tools/regenerate_catalogue.py loaded as a module (tools/ is not a package)."""
    module_spec = importlib.util.spec_from_file_location("regenerate_catalogue", TOOL_PATH)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def _resolve(spec: Dict[str, Any], node: Any) -> Any:
    """Follows a local `$ref` (possibly chained) to the object it names."""
    while isinstance(node, dict) and "$ref" in node:
        target: Any = spec
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def _operations(spec: Dict[str, Any]) -> Iterator[Tuple[str, str, Dict[str, Any]]]:
    """Yields (method, path, operation) for every operation in the spec."""
    for path, item in spec["paths"].items():
        for method in HTTP_METHODS:
            if method in item:
                yield method, path, item[method]


def _refs(node: Any) -> Iterator[str]:
    """Yields every `$ref` value anywhere below a node."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def _parameters(spec: Dict[str, Any], operation: Dict[str, Any]) -> Dict[Tuple[str, str], Dict[str, Any]]:
    """Returns an operation's parameters, resolved, keyed by (location, name)."""
    resolved = (_resolve(spec, p) for p in operation.get("parameters", []))
    return {(p["in"], p["name"]): p for p in resolved}


def _run_tool(*args: str) -> subprocess.CompletedProcess:
    """Runs tools/regenerate_catalogue.py with this interpreter."""
    return subprocess.run(
        [sys.executable, str(TOOL_PATH), *args],
        cwd=REPO_DIR,
        capture_output=True,
        text=True,
        timeout=CHECK_TIMEOUT_SECONDS,
    )


def test_spec_validates_with_openapi_spec_validator(spec: Dict[str, Any]) -> None:
    validator = pytest.importorskip("openapi_spec_validator", reason="openapi-spec-validator is not installed")
    validate = getattr(validator, "validate", None) or validator.validate_spec
    validate(spec)


def test_spec_header_servers_and_security(spec: Dict[str, Any]) -> None:
    assert spec["openapi"] == "3.0.3"
    assert spec["info"]["title"] and spec["info"]["version"] == "v4"
    assert [server["url"] for server in spec["servers"]] == ["https://gitlab.com/api/v4"]
    schemes = spec["components"]["securitySchemes"]
    assert {name: {k: v for k, v in s.items() if k != "description"} for name, s in schemes.items()} == (
        SECURITY_SCHEMES
    )
    assert [list(requirement) for requirement in spec["security"]] == [[name] for name in SECURITY_SCHEMES]


def test_spec_has_exactly_the_expected_operations(spec: Dict[str, Any]) -> None:
    assert {(method, path) for method, path, _ in _operations(spec)} == EXPECTED_OPERATIONS


def test_every_ref_resolves(spec: Dict[str, Any]) -> None:
    for ref in _refs(spec):
        assert ref.startswith("#/components/"), ref
        assert _resolve(spec, {"$ref": ref}) is not None, ref


def test_every_operation_has_id_tags_and_error_responses(spec: Dict[str, Any]) -> None:
    declared_tags = {tag["name"] for tag in spec["tags"]}
    operation_ids: List[str] = []
    for method, path, operation in _operations(spec):
        assert re.fullmatch(r"[a-z][A-Za-z]+", operation.get("operationId", "")), (method, path)
        operation_ids.append(operation["operationId"])
        assert operation["tags"] and set(operation["tags"]) <= declared_tags, (method, path)
        assert {"401", "403", "404"} <= set(operation["responses"]), (method, path)
        assert operation.get("summary") and operation.get("description"), (method, path)
    assert len(operation_ids) == len(set(operation_ids))


def test_path_parameters_match_the_path_template(spec: Dict[str, Any]) -> None:
    for method, path, operation in _operations(spec):
        declared = {name for (location, name) in _parameters(spec, operation) if location == "path"}
        assert declared == set(re.findall(r"{([^}]+)}", path)), (method, path)
        for (location, name), parameter in _parameters(spec, operation).items():
            assert location != "path" or parameter.get("required") is True, (path, name)


def test_list_endpoints_declare_arrays_of_component_schemas(spec: Dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    for method, path, operation in _operations(spec):
        if method != "get" or path in SINGLE_OBJECT_PATHS or path in TEXT_PATHS:
            continue
        body = operation["responses"]["200"]["content"]["application/json"]["schema"]
        assert body["type"] == "array", path
        assert body["items"]["$ref"].removeprefix("#/components/schemas/") in schemas, path


def test_single_object_and_text_endpoints(spec: Dict[str, Any]) -> None:
    for path, schema_name in SINGLE_OBJECT_PATHS.items():
        body = spec["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert body == {"$ref": f"#/components/schemas/{schema_name}"}, path
    for path in TEXT_PATHS:
        content = spec["paths"][path]["get"]["responses"]["200"]["content"]
        assert content == {"text/plain": {"schema": {"type": "string"}}}, path
    erase = spec["paths"]["/projects/{id}/jobs/{job_id}/erase"]["post"]["responses"]["201"]
    assert erase["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Job"}


def test_list_endpoints_page_with_page_and_per_page_up_to_100(spec: Dict[str, Any]) -> None:
    for method, path, operation in _operations(spec):
        if method != "get" or path in SINGLE_OBJECT_PATHS or path in TEXT_PATHS:
            continue
        parameters = _parameters(spec, operation)
        assert parameters[("query", "page")]["schema"]["minimum"] == 1, path
        assert parameters[("query", "per_page")]["schema"]["maximum"] == 100, path


@pytest.mark.parametrize(
    "path, filters",
    [
        ("/groups/{id}/descendant_groups", {"all_available", "owned", "min_access_level", "search"}),
        ("/groups/{id}/projects", {"include_subgroups", "archived", "with_shared", "order_by", "sort"}),
        ("/groups/{id}/projects", {"pagination", "id_after"}),
        ("/projects/{id}/pipelines", {"updated_after", "updated_before", "order_by", "sort", "status", "ref"}),
        ("/projects/{id}/pipelines", {"source"}),
        ("/projects/{id}/pipelines/{pipeline_id}/jobs", {"include_retried", "scope[]"}),
        ("/projects/{id}/jobs", {"scope[]", "pagination", "order_by", "sort"}),
        ("/projects/{id}/issues", {"updated_after", "state", "scope", "order_by", "sort"}),
        ("/projects/{id}/merge_requests", {"updated_after", "state", "scope", "order_by", "sort"}),
        ("/projects/{id}/repository/commits", {"since", "until", "ref_name", "all", "with_stats"}),
        ("/projects/{id}/labels", {"include_ancestor_groups", "with_counts"}),
        ("/projects/{id}/deployments", {"updated_after", "order_by", "sort"}),
    ],
)
def test_endpoint_filters(spec: Dict[str, Any], path: str, filters: set) -> None:
    query = {name for (location, name) in _parameters(spec, spec["paths"][path]["get"]) if location == "query"}
    assert filters <= query


def test_component_schemas_carry_their_keys(spec: Dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    for name, id_type in EXPECTED_SCHEMAS_WITH_ID.items():
        assert schemas[name]["properties"]["id"]["type"] == id_type, name
        assert "id" in schemas[name]["required"], name
    for name, key in EXPECTED_SCHEMAS_WITHOUT_ID.items():
        assert "id" not in schemas[name]["properties"] and key in schemas[name]["required"], name
    for name in ("Pipeline", "Issue", "MergeRequest", "Deployment", "Milestone"):
        assert schemas[name]["properties"]["iid"]["type"] == "integer", name
    for name in ("Project", "Pipeline", "Issue", "MergeRequest", "Note", "Milestone", "Environment", "Deployment"):
        updated_at = schemas[name]["properties"]["updated_at"]
        assert (updated_at["type"], updated_at["format"]) == ("string", "date-time"), name


def test_catalogue_is_regenerated_byte_for_byte() -> None:
    """Builds the generator venv in ~/.cache/gitlab-dlt on first use (about 40 s), then regenerates and diffs."""
    result = _run_tool("--check")
    assert result.returncode == 0, result.stdout + result.stderr


def test_catalogue_has_one_resource_per_get_endpoint(spec: Dict[str, Any], tool: ModuleType) -> None:
    endpoints = tool.catalogue_endpoints(tool.read_catalogue())
    names = [endpoint["name"] for endpoint in endpoints]
    assert len(names) == len(set(names))
    assert {endpoint["path"] for endpoint in endpoints} == {p for m, p, _ in _operations(spec) if m == "get"}


def test_catalogue_files_are_the_generated_catalogue_and_its_readme_only() -> None:
    files = [path.relative_to(CATALOGUE_DIR).as_posix() for path in CATALOGUE_DIR.rglob("*") if path.is_file()]
    assert sorted(files) == ["README.md", "gitlab/__init__.py"]  # reference only: no stray copies of top-level files


def test_list_prints_the_catalogue_as_json(tool: ModuleType) -> None:
    result = _run_tool("--list")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == tool.catalogue_endpoints(tool.read_catalogue())


def test_missing_spec_is_a_one_line_error(tmp_path: Path) -> None:
    result = _run_tool("--check", "--spec", str(tmp_path / "absent.yaml"))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"error: OpenAPI spec not found: {tmp_path / 'absent.yaml'}"]


def test_generator_failure_is_a_one_line_error(tmp_path: Path) -> None:
    bad_spec = tmp_path / "bad.yaml"
    bad_spec.write_text("openapi: 3.0.3\ninfo: {title: broken}\npaths: {}\n", encoding="utf-8")
    result = _run_tool("--check", "--spec", str(bad_spec))
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith(f"error: dlt-init-openapi failed on {bad_spec}"), result.stderr
    assert result.stdout == ""


def test_diff_summary_names_changed_missing_and_stale_files(tool: ModuleType) -> None:
    committed = {"same.py": b"a\n", "changed.py": b"old\n", "stale.md": b"x\n"}
    regenerated = {"same.py": b"a\n", "changed.py": b"new\n", "added.toml": b"y\n"}
    summary = tool.diff_catalogue(committed, regenerated)
    assert summary[0].endswith("1 changed, 1 missing from the repo, 1 not generated")
    assert "  changed: changed.py" in summary and "-old" in summary and "+new" in summary
    assert "  missing from the repo: added.toml" in summary and "  not generated (stale): stale.md" in summary
    assert tool.diff_catalogue(committed, dict(committed)) == []
