#!/usr/bin/env bash
# Builds the Airflow virtualenv the DAG test runs in, from the pinned lock, in a cache outside the repo.
#
# Airflow 3 and the project's .venv disagree on pins, so Airflow gets its own venv. requirements.txt is the
# complete resolved set (pip freeze of requirements.in), installed with --no-deps so nothing is resolved at
# build time. pip byte-compiles at install; that matters here, as with PYTHONDONTWRITEBYTECODE set every
# Airflow process would otherwise compile its imports again.
# The venv lives in ${XDG_CACHE_HOME:-~/.cache}/gitlab-dlt/airflow-<lock sha256>-py<version>, so every
# clone and branch with the same lock and interpreter shares one, and a changed lock gets a new one (old
# ones stay until you delete them). Its stamp file is written last, so a half-built venv is rebuilt; a flock
# beside it serialises concurrent builds. Prints the venv's path on stdout, one line; progress goes to
# stderr, and pip's output to <venv>/pip.log, whose tail is printed on failure.
#
# Usage: bash tools/airflow/make_venv.sh             build the venv, or reuse it while it matches the lock
#        bash tools/airflow/make_venv.sh --relock    re-resolve requirements.in into requirements.txt
# Env:   PYTHON=python3.11 (the interpreter; the lock was resolved on CPython 3.11, Linux x86_64)
#        AIRFLOW_VENV=<dir> (build there instead of the cache)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
lock=$here/requirements.txt
python=${PYTHON:-$(command -v python3.11 || command -v python3)}
cache=${XDG_CACHE_HOME:-$HOME/.cache}/gitlab-dlt

fail() {
    echo "make_venv: $*" >&2
    exit 1
}

python_version() {
    "$1" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])'
}

relock() {
    scratch=$(mktemp -d /tmp/airflow-relock.XXXXXX)
    trap 'rm -rf "$scratch"' EXIT
    "$python" -m venv "$scratch/venv"
    if ! "$scratch/venv/bin/python" -m pip install --disable-pip-version-check -r "$here/requirements.in" \
        >"$scratch/pip.log" 2>&1; then
        grep -v "is ignored: it is neither" "$scratch/pip.log" >&2 || true
        fail "pip could not resolve requirements.in (log above)"
    fi
    {
        echo "# The Airflow test venv, fully pinned: pip freeze of requirements.in on CPython $(python_version "$python")."
        echo "# Regenerate with: bash tools/airflow/make_venv.sh --relock"
        "$scratch/venv/bin/python" -m pip freeze --all --disable-pip-version-check 2>/dev/null
    } >"$lock"
    echo "make_venv: wrote $lock ($(grep -c '==' "$lock") pins)" >&2
}

build() {
    [[ -x $python ]] || fail "no python3.11 or python3 found: set PYTHON"
    local lock_sha version venv stamp want
    lock_sha=$(sha256sum "$lock" | cut -d' ' -f1)
    version=$(python_version "$python")
    venv=${AIRFLOW_VENV:-$cache/airflow-${lock_sha:0:16}-py$version}
    stamp=$venv/.lock-stamp
    want="$lock_sha $version"
    mkdir -p "$(dirname "$venv")"
    exec 9>"$venv.build-lock"
    flock 9
    if [[ -f $stamp && $(cat "$stamp") == "$want" && -x $venv/bin/airflow ]]; then
        echo "make_venv: $venv is up to date" >&2
        echo "$venv"
        return
    fi
    echo "make_venv: building $venv from $lock (a few minutes)" >&2
    rm -rf "$venv"
    "$python" -m venv "$venv"
    if ! "$venv/bin/python" -m pip install --disable-pip-version-check --no-deps -r "$lock" \
        >"$venv/pip.log" 2>&1; then
        grep -v "is ignored: it is neither" "$venv/pip.log" | tail -30 >&2 || true
        fail "pip install -r $lock failed (full log: $venv/pip.log)"
    fi
    "$venv/bin/python" -m pip check --disable-pip-version-check >/dev/null 2>&1 \
        || fail "pip check found broken requirements in $venv: run --relock"
    echo "$want" >"$stamp"
    echo "make_venv: built $venv" >&2
    echo "$venv"
}

case "${1:-}" in
    --relock) relock ;;
    "") build ;;
    *) fail "unknown option ${1}: use no option, or --relock" ;;
esac
