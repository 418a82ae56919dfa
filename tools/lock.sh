#!/usr/bin/env bash
# Compiles the direct requirements (*.in) into the locks (*.txt) that pin every distribution, transitive ones
# included, with uv's universal resolution: one lock for CPython >= 3.11 on Linux, macOS and Windows (lines
# that hold on some platforms only carry their environment marker). Each lock is constrained by the one before
# it, so the runtime, the UI and the development installs share every version:
#
#   requirements.in     -> requirements.txt      the pipeline, e.g. on Cloud Composer
#   requirements-ui.in  -> requirements-ui.txt   + `dlt pipeline show` and the Streamlit dashboard (the README's demo)
#   requirements-dev.in -> requirements-dev.txt  + tests, benchmark, linters and uv itself (./run_tests.sh)
#
# A pin that still fits is kept, so a refresh changes nothing until an .in file does; --upgrade moves every
# distribution not pinned in an .in file to its latest release that fits, --upgrade-package NAME only that one.
# It runs the uv that requirements-dev.in pins, from .venv (./run_tests.sh installs it).
#
# Usage: bash tools/lock.sh [--upgrade | --upgrade-package NAME ...]
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON_VERSION=3.11  # the oldest Python the locks must install on (Cloud Composer's Airflow 3 images run 3.11)
UV=.venv/bin/uv

fail() {
    echo "error: $*" >&2
    exit 1
}

wanted=$(sed -n 's/^uv==\([^ ]*\).*/\1/p' requirements-dev.in)
[[ -n $wanted ]] || fail "requirements-dev.in pins no uv==VERSION"
installed=$("$UV" --version 2>/dev/null | awk '{print $2}') || true
[[ $installed == "$wanted" ]] || fail "tools/lock.sh needs uv $wanted in .venv (found: ${installed:-none}):" \
    "run ./run_tests.sh, or .venv/bin/pip install uv==$wanted"

for name in requirements requirements-ui requirements-dev; do
    "$UV" pip compile --quiet --universal --python-version "$PYTHON_VERSION" \
        --custom-compile-command "bash tools/lock.sh" "$@" "$name.in" --output-file "$name.txt"
    echo "$name.txt: $(grep -c '^[A-Za-z0-9].*==' "$name.txt") distributions pinned"
done
