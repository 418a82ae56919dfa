#!/usr/bin/env bash
# Install Debian's Chromium unless /usr/bin/chromium is already there: the browser tests drive it
# through Playwright (tests/app/), since Playwright cannot download its own browser builds here.
#
# Idempotent and quiet: on success it prints one line, the browser version and its path. When the
# browser is found it touches nothing and returns in milliseconds.
#
# Usage: bash tools/install-chromium.sh            (as root, or with sudo)
#        CHROMIUM=/opt/chromium/chrome bash tools/install-chromium.sh   to use a browser of your own
set -euo pipefail

BROWSER="${CHROMIUM:-/usr/bin/chromium}"

report() {
    # "Chromium 156.0.8078.108 built on Debian ..." -> "Chromium 156.0.8078.108 at /usr/bin/chromium"
    echo "$("$BROWSER" --version 2>/dev/null | awk '{print $1, $2}') at $BROWSER"
}

if [[ -x "$BROWSER" ]]; then
    report
    exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
    echo "install-chromium: $BROWSER not found and not root: run 'sudo bash $0'" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null; then
    echo "install-chromium: $BROWSER not found and no apt-get: install Chromium by hand (or set CHROMIUM)" >&2
    exit 1
fi

log=$(mktemp /tmp/install-chromium.XXXXXX.log)
trap 'rm -f "$log"' EXIT
fail() {
    echo "install-chromium: $1 failed; its output:" >&2
    cat "$log" >&2
    exit 1
}

export DEBIAN_FRONTEND=noninteractive
apt_opts=(-q -y -o DPkg::Lock::Timeout=120 -o Dpkg::Use-Pty=0)
apt-get "${apt_opts[@]}" update >"$log" 2>&1 || fail "apt-get update"
# fonts-liberation: readable text in screenshots (Chromium falls back to it for Streamlit's sans-serif)
apt-get "${apt_opts[@]}" install --no-install-recommends chromium fonts-liberation >>"$log" 2>&1 \
    || fail "apt-get install chromium"

[[ -x "$BROWSER" ]] || fail "finding $BROWSER after installing chromium"
report
