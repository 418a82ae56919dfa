#!/usr/bin/env bash
# The whole test suite from a fresh clone: installs what the tests need, then runs pytest.
# Usage: ./run_tests.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")"

LOCK=requirements-dev.txt            # every distribution pinned; `bash tools/lock.sh` refreshes it
INSTALLED=.venv/installed-$LOCK      # the lock .venv was last made equal to

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
if ! cmp -s "$LOCK" "$INSTALLED"; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$LOCK"
  # and remove what the lock no longer holds (pip only adds): everything is installed now, so no network
  .venv/bin/uv pip sync --quiet --offline --python .venv/bin/python "$LOCK"
  cp "$LOCK" "$INSTALLED"
fi

# The PostgreSQL tests start their own throwaway server from the OS packages.
bash .ci/install-postgres.sh
# The browser tests (tests/app/) drive the OS's Chromium through Playwright, which cannot download browsers here.
bash tools/install-chromium.sh

exec .venv/bin/python -m pytest "$@"
