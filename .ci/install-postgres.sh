#!/usr/bin/env bash
# Install Debian's PostgreSQL server binaries (initdb, pg_ctl, postgres) unless they are already there.
#
# The tests start their own throwaway cluster (tests/postgres_server.py), so only the binaries are
# needed: no "main" cluster is created and no system service is left running. Idempotent and quiet:
# on success it prints one line, the server version and where its binaries are. When the binaries
# are found it touches nothing and returns in milliseconds.
#
# Usage: bash .ci/install-postgres.sh            (as root, or with sudo)
#        POSTGRES_PACKAGE=postgresql-15 bash .ci/install-postgres.sh   to pin another Debian package
set -euo pipefail

PACKAGE="${POSTGRES_PACKAGE:-postgresql}"  # Debian 12's metapackage pulls postgresql-15

# Print the first directory holding initdb, pg_ctl and postgres: PATH, then Debian's versioned
# /usr/lib/postgresql/<ver>/bin, newest first (the same order as tests/postgres_server.py).
find_bindir() {
    local dir candidates=()
    IFS=: read -r -a candidates <<<"${PATH:-}"
    mapfile -t -O "${#candidates[@]}" candidates < <(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V -r)
    for dir in "${candidates[@]}"; do
        if [[ -n "$dir" && -x "$dir/initdb" && -x "$dir/pg_ctl" && -x "$dir/postgres" ]]; then
            printf '%s\n' "$dir"
            return 0
        fi
    done
    return 1
}

report() {
    local bindir=$1
    # "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)" -> "PostgreSQL 15.18 (Debian ...)"
    echo "$("$bindir/postgres" --version | sed 's/^postgres (PostgreSQL)/PostgreSQL/') at $bindir"
}

if bindir=$(find_bindir); then
    report "$bindir"
    exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
    echo "install-postgres: PostgreSQL server binaries not found and not root: run 'sudo bash $0'" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null; then
    echo "install-postgres: PostgreSQL server binaries not found and no apt-get: install PostgreSQL by hand" >&2
    exit 1
fi

log=$(mktemp /tmp/install-postgres.XXXXXX.log)
trap 'rm -f "$log"' EXIT
fail() {
    echo "install-postgres: $1 failed; its output:" >&2
    cat "$log" >&2
    exit 1
}

# The postgresql-NN package creates and starts a "main" cluster on port 5432 by default; the tests
# never use it, so switch that off before installing (read by pg_createcluster via include_dir).
mkdir -p /etc/postgresql-common/createcluster.d
if [[ ! -e /etc/postgresql-common/createcluster.d/no-main-cluster.conf ]]; then
    echo "create_main_cluster = false  # written by .ci/install-postgres.sh" \
        >/etc/postgresql-common/createcluster.d/no-main-cluster.conf
fi

export DEBIAN_FRONTEND=noninteractive
apt_opts=(-q -y -o DPkg::Lock::Timeout=120 -o Dpkg::Use-Pty=0)
apt-get "${apt_opts[@]}" update >"$log" 2>&1 || fail "apt-get update"
apt-get "${apt_opts[@]}" install --no-install-recommends "$PACKAGE" >>"$log" 2>&1 \
    || fail "apt-get install $PACKAGE"

bindir=$(find_bindir) || fail "finding initdb, pg_ctl and postgres after installing $PACKAGE"
report "$bindir"
