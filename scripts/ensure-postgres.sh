#!/usr/bin/env bash
# Make sure the PostgreSQL server the tests use answers on 127.0.0.1:5432 with
# the test role `lakegate` (password `lakegate`, loopback only, CREATEDB and
# CREATEROLE, no superuser). On a machine without PostgreSQL, as root, install
# it from Debian's packages, create a cluster and start it. Safe to run again.
#
#   LAKEGATE_TEST_PG   admin URL the tests use
#                      (default postgresql://lakegate:lakegate@127.0.0.1:5432/postgres)
set -euo pipefail

PORT=5432
ROLE=lakegate
PASSWORD=lakegate

say() { echo "ensure-postgres: $*" >&2; }
fail() { say "$*"; exit 1; }

ready() { pg_isready -h 127.0.0.1 -p "$PORT" -q 2>/dev/null; }
role_works() {
    PGPASSWORD="$PASSWORD" PGCONNECT_TIMEOUT=5 psql -h 127.0.0.1 -p "$PORT" -U "$ROLE" -d postgres \
        -tAqc 'SELECT 1' >/dev/null 2>&1
}

if command -v pg_isready >/dev/null && ready && role_works; then
    exit 0
fi

is_root() { [ "$(id -u)" = "0" ]; }
server_binary() { ls /usr/lib/postgresql/*/bin/postgres 2>/dev/null | sort -V | tail -n1; }

if [ -z "$(server_binary)" ] || ! command -v pg_ctlcluster >/dev/null; then
    # shellcheck source=scripts/lib.sh
    . "$(dirname "$0")/lib.sh"
    apt_install postgresql postgresql-client ||
        fail "no PostgreSQL server here; install Debian's 'postgresql' package (as root: apt-get install postgresql)"
fi
[ -n "$(server_binary)" ] || fail "PostgreSQL's server is still missing after the install"
version="$(basename "$(dirname "$(dirname "$(server_binary)")")")"

if ! ready; then
    is_root || fail "PostgreSQL does not answer on 127.0.0.1:$PORT; start it (as root: $0)"
    # The cluster that owns the port, or a new one for this version.
    cluster="$(pg_lsclusters -h 2>/dev/null | awk -v p="$PORT" '$3 == p {print $1 " " $2; exit}')"
    if [ -z "$cluster" ]; then
        say "creating cluster $version/main on port $PORT"
        pg_createcluster --port "$PORT" "$version" main >/dev/null
        cluster="$version main"
    fi
    # shellcheck disable=SC2086  # "version name"
    pg_ctlcluster --skip-systemctl-redirect $cluster start ||
        say "pg_ctlcluster $cluster start failed; waiting in case it is starting anyway"
    for _ in $(seq 1 60); do
        ready && break
        sleep 1
    done
    ready || fail "PostgreSQL $cluster did not answer on 127.0.0.1:$PORT within 60 s (see /var/log/postgresql/)"
fi

if ! role_works; then
    is_root || fail "role '$ROLE' cannot sign in on 127.0.0.1:$PORT; create it (as root: $0)"
    say "creating the test role '$ROLE'"
    runuser -u postgres -- psql -p "$PORT" -d postgres -v ON_ERROR_STOP=1 -qAt >/dev/null <<SQL
SELECT 'CREATE ROLE $ROLE' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$ROLE')\gexec
ALTER ROLE $ROLE WITH LOGIN CREATEDB CREATEROLE PASSWORD '$PASSWORD';
SQL
    role_works || fail "role '$ROLE' still cannot sign in over TCP; check pg_hba.conf allows password sign-in from 127.0.0.1"
fi
