"""What a CLI run keeps in the folder it runs in: dlt's pipeline state and the reference schemas it exports.

Each clone keeps its own state: two clones on one machine sharing dlt's default `~/.dlt/pipelines`
would share cursors, and dlt remembers where a pipeline's DuckDB file is, so the second clone would
load into the first one's file.
"""

import os
import shlex
import sys
from pathlib import Path
from typing import Any, Dict

import dlt
import yaml

PIPELINES_FOLDER = Path(".dlt") / "pipelines"
# What dlt rewrites on every export although the tables are the same: versions, hashes, and the order of
# columns (which follows the order the data arrived in)
EXPORT_BOOKKEEPING = ("version", "version_hash", "previous_hashes")


def pipelines_dir() -> str:
    """dlt's pipelines folder of this project: `.dlt/pipelines` beside its settings, or `$DLT_DATA_DIR/pipelines`."""
    if os.environ.get("DLT_DATA_DIR"):
        return str(Path(os.environ["DLT_DATA_DIR"]) / "pipelines")
    return str(Path(dlt.current.run_context().run_dir) / PIPELINES_FOLDER)


def show_command(pipeline_name: str) -> str:
    """`dlt pipeline ... show` as it works when pasted in any folder: dlt runs `marimo` from PATH, so the
    virtualenv's tools come first, and the pipelines folder is named."""
    tools = shlex.quote(os.path.dirname(os.path.abspath(sys.executable)))
    pipelines = shlex.quote(os.path.abspath(pipelines_dir()))
    return f'PATH={tools}:"$PATH" dlt pipeline --pipelines-dir {pipelines} {pipeline_name} show'


def _tables_of(exported: bytes) -> Any:
    document = yaml.safe_load(exported)
    if isinstance(document, dict):
        for key in EXPORT_BOOKKEEPING:
            document.pop(key, None)
    return document  # dicts compare regardless of key order


class ExportedSchemas:
    """The schemas dlt exports into the repository's `schemas/export`, kept as they were unless the tables changed.

    dlt exports while it runs: a failed run must not leave its export behind, and a run that loaded the
    same tables must leave the committed reference byte for byte (a clean `git status`).
    """

    def __init__(self, export_dir: Path) -> None:
        self.export_dir = export_dir
        self.before: Dict[Path, bytes] = {path: path.read_bytes() for path in export_dir.glob("*.schema.yaml")}

    def restore(self) -> None:
        """After a failed run: every exported schema as it was before, and none added."""
        for path in self.export_dir.glob("*.schema.yaml"):
            if path not in self.before:
                path.unlink()
        for path, content in self.before.items():
            path.write_bytes(content)

    def keep_unchanged(self) -> None:
        """After a good run: an export whose tables and columns are the same as before gets its old bytes back."""
        for path, content in self.before.items():
            if path.exists() and path.read_bytes() != content and _tables_of(path.read_bytes()) == _tables_of(content):
                path.write_bytes(content)
