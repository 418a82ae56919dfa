#!/usr/bin/env python3
"""Regenerate the raw GitLab endpoint catalogue in rest_api/generated_reference/ from openapi/gitlab.yaml.

Runs dlt-init-openapi 0.1.0 from a pinned virtualenv (tools/.venv-generator/, built on first use from
tools/generator-requirements.txt) and copies its output into rest_api/generated_reference/. Standard library only,
so any python3 can run it. See tools/README.md.

Usage:
    python3 tools/regenerate_catalogue.py            # regenerate rest_api/generated_reference/
    python3 tools/regenerate_catalogue.py --check    # exit 1 if rest_api/generated_reference/ is out of date
    python3 tools/regenerate_catalogue.py --list     # print the committed catalogue's resources as JSON
"""

import argparse
import ast
import difflib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

REPO_DIR = Path(__file__).resolve().parent.parent
SPEC_PATH = REPO_DIR / "openapi" / "gitlab.yaml"
REQUIREMENTS_PATH = REPO_DIR / "tools" / "generator-requirements.txt"
VENV_DIR = REPO_DIR / "tools" / ".venv-generator"
CATALOGUE_DIR = REPO_DIR / "rest_api" / "generated_reference"
CATALOGUE_SOURCE = "gitlab/__init__.py"

SOURCE_NAME = "gitlab"
# dlt-init-openapi writes its project into <output-path>/<source name>_pipeline/.
GENERATED_PROJECT = SOURCE_NAME + "_pipeline"
# The spec is copied here (relative to the generator's working directory) so that the README line
# "Generated from local spec at `openapi/gitlab.yaml`" does not depend on where the repo is checked out.
SPEC_RELATIVE_PATH = "openapi/gitlab.yaml"
POST_HOOK_TOOLS = ("dlt-init-openapi", "autoflake", "isort", "black")
# Left out of rest_api/generated_reference/: the copy of the old rest_api source (an empty placeholder here, and never
# vendored), and the secrets template, which the generated .gitignore would keep out of git anyway.
EXCLUDED_TOP_DIRS = ("rest_api",)
EXCLUDED_FILES = (".dlt/secrets.toml",)
# Bump to force every existing tools/.venv-generator/ to be rebuilt.
VENV_LAYOUT_VERSION = 1
STAMP_NAME = ".catalogue-stamp.json"
LOCK_NAME = ".build.lock"
DIFF_LINES_SHOWN = 120


class CatalogueError(Exception):
    """A failure that main() reports as one line on stderr."""


def _progress(message: str) -> None:
    """Reports progress on stderr, so that stdout carries only results."""
    print(message, file=sys.stderr, flush=True)


def _tail(text: str) -> str:
    """Returns the last non-empty line of a tool's output, for one-line error messages."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "(no output)"


def _requirements_digest() -> str:
    """Returns the sha256 of tools/generator-requirements.txt."""
    if not REQUIREMENTS_PATH.is_file():
        raise CatalogueError(f"pinned requirements not found: {REQUIREMENTS_PATH.relative_to(REPO_DIR)}")
    return hashlib.sha256(REQUIREMENTS_PATH.read_bytes()).hexdigest()


def _interpreter_version(python: str) -> str:
    """Returns `implementation-X.Y.Z` of the interpreter that builds the venv."""
    probe = "import platform; print(platform.python_implementation() + '-' + platform.python_version())"
    try:
        result = subprocess.run([python, "-c", probe], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise CatalogueError(f"cannot run python interpreter {python!r}: {exc}") from exc
    return result.stdout.strip()


def _wanted_stamp(python: str) -> Dict[str, Any]:
    """Returns what tools/.venv-generator/ must have been built from to be reused."""
    return {
        "layout": VENV_LAYOUT_VERSION,
        "requirements_sha256": _requirements_digest(),
        "python": _interpreter_version(python),
    }


def _read_stamp() -> Optional[Dict[str, Any]]:
    """Returns the stamp of the existing venv, or None when there is no complete venv."""
    try:
        stamp = json.loads((VENV_DIR / STAMP_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return stamp if isinstance(stamp, dict) else None


def _venv_python() -> Path:
    """Returns the path of the generator venv's interpreter."""
    return VENV_DIR / "bin" / "python"


def _clear_venv_dir() -> None:
    """Deletes everything in tools/.venv-generator/ except the build lock."""
    for entry in VENV_DIR.iterdir():
        if entry.name == LOCK_NAME:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def _site_packages() -> Path:
    """Returns the generator venv's site-packages folder."""
    probe = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    result = subprocess.run([str(_venv_python()), "-c", probe], capture_output=True, text=True)
    if result.returncode != 0:
        raise CatalogueError(f"cannot query the generator venv: {_tail(result.stderr)}")
    return Path(result.stdout.strip())


def _create_offline_placeholder() -> None:
    """Creates site-packages/rest_api/ so that dlt-init-openapi skips downloading the old rest_api source."""
    (_site_packages() / "rest_api").mkdir(exist_ok=True)


def _build_venv(python: str, stamp: Dict[str, Any]) -> None:
    """Builds tools/.venv-generator/ from the pinned requirements and writes its stamp last."""
    _clear_venv_dir()
    _progress(f"building {VENV_DIR.relative_to(REPO_DIR)}/ from {REQUIREMENTS_PATH.relative_to(REPO_DIR)} ...")
    result = subprocess.run([python, "-m", "venv", str(VENV_DIR)], capture_output=True, text=True)
    if result.returncode != 0:
        raise CatalogueError(f"python -m venv failed (exit {result.returncode}): {_tail(result.stderr)}")
    pip = [str(_venv_python()), "-m", "pip", "--disable-pip-version-check", "--no-input"]
    install = pip + ["install", "--no-deps", "--quiet", "-r", str(REQUIREMENTS_PATH)]
    result = subprocess.run(install, capture_output=True, text=True)
    if result.returncode != 0:
        raise CatalogueError(
            f"pip could not install {REQUIREMENTS_PATH.relative_to(REPO_DIR)} (exit {result.returncode}): "
            f"{_tail(result.stderr)}"
        )
    result = subprocess.run(pip + ["check"], capture_output=True, text=True)
    if result.returncode != 0:
        raise CatalogueError(f"the pinned generator requirements are inconsistent: {_tail(result.stdout)}")
    _create_offline_placeholder()
    (VENV_DIR / STAMP_NAME).write_text(json.dumps(stamp, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _missing_tools() -> List[str]:
    """Returns the generator and post-hook executables missing from the venv."""
    return [tool for tool in POST_HOOK_TOOLS if not (VENV_DIR / "bin" / tool).is_file()]


def ensure_generator_venv(python: str) -> Path:
    """Returns tools/.venv-generator/, building it when absent or built from other pins or another python.

    Args:
        python (str): Interpreter the venv is built from when it has to be (re)built.

    Returns:
        Path: The venv folder, with dlt-init-openapi, its post-hook tools and the offline placeholder.
    """
    VENV_DIR.mkdir(parents=True, exist_ok=True)
    with open(VENV_DIR / LOCK_NAME, "w", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        wanted = _wanted_stamp(python)
        if _read_stamp() != wanted or _missing_tools():
            _build_venv(python, wanted)
        missing = _missing_tools()
        if missing:
            raise CatalogueError(f"{VENV_DIR.relative_to(REPO_DIR)}/bin lacks {', '.join(missing)} after install")
        _create_offline_placeholder()
    return VENV_DIR


def _generator_env(home: Path) -> Dict[str, str]:
    """Returns a minimal, fixed environment so that nothing from the caller's shell reaches the output."""
    return {
        # The post hooks (autoflake, isort, black) are looked up on PATH: only the pinned ones may be found.
        "PATH": f"{VENV_DIR / 'bin'}{os.pathsep}/usr/bin{os.pathsep}/bin",
        # A throwaway HOME keeps ~/.dlt, ~/.config/black and the like out of the run.
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "LC_ALL": "C.UTF-8",
        "TZ": "UTC",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "RUNTIME__DLTHUB_TELEMETRY": "false",
    }


def _generator_errors(output: str) -> List[str]:
    """Returns the messages of dlt-init-openapi's ERROR log lines (it exits 0 even when it gives up)."""
    errors = []
    for line in output.splitlines():
        if "| ERROR" in line:
            message = line.split(" - ", 1)[-1].strip()
            if message and message != "Encountered terminal exception:":
                errors.append(message)
    return errors


def run_generator(spec: Path, work_dir: Path) -> Path:
    """Runs dlt-init-openapi on a spec inside work_dir and returns the folder it generated.

    Args:
        spec (Path): The OpenAPI file to generate from.
        work_dir (Path): Empty scratch folder; the run happens inside it.

    Returns:
        Path: The generated project folder (`<work_dir>/out/gitlab_pipeline`).
    """
    if not spec.is_file():
        raise CatalogueError(f"OpenAPI spec not found: {spec}")
    home = work_dir / "home"
    run_dir = work_dir / "run"
    home.mkdir()
    # An empty .git marks the project root, so black and isort look for no configuration above it.
    (run_dir / ".git").mkdir(parents=True)
    (run_dir / "openapi").mkdir()
    shutil.copyfile(spec, run_dir / SPEC_RELATIVE_PATH)
    command = [
        str(VENV_DIR / "bin" / "dlt-init-openapi"),
        SOURCE_NAME,
        "--path",
        SPEC_RELATIVE_PATH,
        "--no-interactive",
        "--output-path",
        "out",
    ]
    result = subprocess.run(
        command, cwd=run_dir, env=_generator_env(home), capture_output=True, text=True, errors="replace"
    )
    output = result.stdout + result.stderr
    errors = _generator_errors(output)
    if result.returncode != 0 or errors:
        reason = "; ".join(errors) if errors else _tail(output)
        raise CatalogueError(f"dlt-init-openapi failed on {spec} (exit {result.returncode}): {reason}")
    project = run_dir / "out" / GENERATED_PROJECT
    if not (project / CATALOGUE_SOURCE).is_file():
        raise CatalogueError(f"dlt-init-openapi wrote no {GENERATED_PROJECT}/{CATALOGUE_SOURCE}: {_tail(output)}")
    return project


def _is_excluded(relative: Path) -> bool:
    """Tells whether a generated file stays out of rest_api/generated_reference/."""
    if relative.as_posix() in EXCLUDED_FILES or relative.parts[0] in EXCLUDED_TOP_DIRS:
        return True
    return "__pycache__" in relative.parts


def read_tree(folder: Path) -> Dict[str, bytes]:
    """Returns every kept file below a folder as {posix relative path: bytes}."""
    files = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if path.is_file() and not _is_excluded(relative):
            files[relative.as_posix()] = path.read_bytes()
    return files


def write_catalogue(files: Dict[str, bytes], target: Path) -> None:
    """Replaces the target folder with exactly the given files."""
    if target.exists():
        shutil.rmtree(target)
    for relative, content in files.items():
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)


def _text_diff(relative: str, committed: bytes, regenerated: bytes) -> List[str]:
    """Returns a unified diff of one file, committed against regenerated."""
    return list(
        difflib.unified_diff(
            committed.decode("utf-8", errors="replace").splitlines(),
            regenerated.decode("utf-8", errors="replace").splitlines(),
            fromfile=f"committed/{relative}",
            tofile=f"regenerated/{relative}",
            lineterm="",
        )
    )


def diff_catalogue(
    committed: Dict[str, bytes], regenerated: Dict[str, bytes], spec_label: str = SPEC_RELATIVE_PATH
) -> List[str]:
    """Returns a human-readable summary of differences; empty when both trees are byte-for-byte equal."""
    changed = sorted(name for name in committed.keys() & regenerated.keys() if committed[name] != regenerated[name])
    added = sorted(regenerated.keys() - committed.keys())
    removed = sorted(committed.keys() - regenerated.keys())
    if not (changed or added or removed):
        return []
    lines = [
        f"{CATALOGUE_DIR.relative_to(REPO_DIR)}/ differs from what {spec_label} generates: "
        f"{len(changed)} changed, {len(added)} missing from the repo, {len(removed)} not generated"
    ]
    lines += [f"  changed: {name}" for name in changed]
    lines += [f"  missing from the repo: {name}" for name in added]
    lines += [f"  not generated (stale): {name}" for name in removed]
    diff: List[str] = []
    for name in changed:
        diff += _text_diff(name, committed[name], regenerated[name])
    if len(diff) > DIFF_LINES_SHOWN:
        diff = diff[:DIFF_LINES_SHOWN] + [f"... ({len(diff) - DIFF_LINES_SHOWN} more diff lines)"]
    return lines + diff


def _literal(node: ast.AST) -> Any:
    """Evaluates a literal config node, turning variable references into `<name>` strings."""
    if isinstance(node, ast.Name):
        return f"<{node.id}>"
    if isinstance(node, ast.Dict):
        return {_literal(key): _literal(value) for key, value in zip(node.keys, node.values) if key is not None}
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_literal(item) for item in node.elts]
    return ast.literal_eval(node)


def read_catalogue(source: Path = CATALOGUE_DIR / CATALOGUE_SOURCE) -> Dict[str, Any]:
    """Reads the generated RESTAPIConfig dict without importing it (its imports target the old rest_api).

    Args:
        source (Path): The generated `gitlab/__init__.py`. Defaults to the committed one.

    Returns:
        dict: The `source_config` literal: `client` and the list of `resources`, variables as `<name>`.
    """
    try:
        tree = ast.parse(source.read_text(encoding="utf-8"), filename=str(source))
    except (OSError, SyntaxError) as exc:
        raise CatalogueError(f"cannot read the catalogue {source}: {exc}") from exc
    for node in ast.walk(tree):
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and isinstance(node.value, ast.Dict):
            config = _literal(node.value)
            if isinstance(config, dict) and "resources" in config:
                return config
    raise CatalogueError(f"no config dict with a 'resources' key in {source}")


def catalogue_endpoints(config: Dict[str, Any]) -> List[Dict[str, Any]]:
    """Summarises each resource of a catalogue config: name, table, path, primary key and parent links."""
    endpoints = []
    for resource in config["resources"]:
        endpoint = resource.get("endpoint", {})
        params = endpoint.get("params", {})
        resolved = {
            name: f"{value['resource']}.{value['field']}"
            for name, value in params.items()
            if isinstance(value, dict) and value.get("type") == "resolve"
        }
        endpoints.append(
            {
                "name": resource["name"],
                "table_name": resource.get("table_name"),
                "path": endpoint["path"],
                "primary_key": resource.get("primary_key"),
                "resolves": resolved,
            }
        )
    return endpoints


def _parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    """Parses the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="regenerate into a temp dir and diff; exit 1 if different")
    mode.add_argument("--list", action="store_true", help="print the committed catalogue's resources as JSON")
    parser.add_argument("--spec", type=Path, default=SPEC_PATH, help="OpenAPI file (default: openapi/gitlab.yaml)")
    parser.add_argument(
        "--python", default=sys.executable, help="interpreter to build tools/.venv-generator/ from (default: this one)"
    )
    return parser.parse_args(argv)


def _display_path(path: Path) -> str:
    """Returns a path relative to the repo when it lies inside it, else as given."""
    try:
        return path.resolve().relative_to(REPO_DIR).as_posix()
    except ValueError:
        return str(path)


def _regenerate(spec: Path, python: str) -> Dict[str, bytes]:
    """Generates the catalogue from a spec in a scratch folder and returns its kept files."""
    spec = spec.resolve()
    if not spec.is_file():
        raise CatalogueError(f"OpenAPI spec not found: {spec}")
    ensure_generator_venv(python)
    with tempfile.TemporaryDirectory(prefix="gitlab-catalogue-") as scratch:
        return read_tree(run_generator(spec, Path(scratch)))


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Runs the command; returns 0 on success, 1 when --check finds differences, 2 on errors."""
    args = _parse_args(argv)
    try:
        if args.list:
            print(json.dumps(catalogue_endpoints(read_catalogue()), indent=2))
            return 0
        regenerated = _regenerate(args.spec, args.python)
        if args.check:
            committed = read_tree(CATALOGUE_DIR) if CATALOGUE_DIR.is_dir() else {}
            differences = diff_catalogue(committed, regenerated, _display_path(args.spec))
            if differences:
                print("\n".join(differences))
                print(f"run `python3 tools/regenerate_catalogue.py` and commit {CATALOGUE_DIR.relative_to(REPO_DIR)}/")
                return 1
            print(f"{CATALOGUE_DIR.relative_to(REPO_DIR)}/ is up to date ({len(regenerated)} files)")
            return 0
        write_catalogue(regenerated, CATALOGUE_DIR)
        print(f"wrote {len(regenerated)} files to {CATALOGUE_DIR.relative_to(REPO_DIR)}/")
        return 0
    except (CatalogueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
