#!/usr/bin/env bash
# The whole test suite from a fresh clone: installs what the tests need, then runs pytest.
# Usage: ./run_tests.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")"

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt

# The PostgreSQL tests start their own throwaway server from the OS packages.
bash .ci/install-postgres.sh
# The browser tests (tests/app/) drive the OS's Chromium through Playwright, which cannot download browsers here.
bash tools/install-chromium.sh

exec .venv/bin/python -m pytest "$@"
