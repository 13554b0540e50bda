#!/usr/bin/env bash
# Start Lakegate on the embedded default (local lake, SQLite catalog, Spark local)
# with the demo domain landed. Extra arguments go to `lakegate demo`.
#
# A long-lived Spark engine (`lakegate engine start`) runs beside the server, so
# the API and every `lakegate query` or `lakegate metrics values` in another
# shell with the printed LAKEGATE_SPARK_REMOTE cost a connection, not a JVM
# start. An engine this script started is stopped when it ends.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
started=0
if shown="$(.venv/bin/lakegate engine status 2>/dev/null)"; then
    remote="$(sed -n 's/^the Spark engine listens at \(sc:[^ ]*\).*/\1/p' <<<"$shown")"
else
    remote="$(.venv/bin/lakegate engine start | sed -n 's/^export LAKEGATE_SPARK_REMOTE=//p')"
    started=1
fi
export LAKEGATE_SPARK_REMOTE="$remote"
echo "demo: the Spark engine listens at $remote; in other shells: export LAKEGATE_SPARK_REMOTE=$remote" >&2
trap 'if [ "$started" = 1 ]; then .venv/bin/lakegate engine stop || true; fi' EXIT
.venv/bin/lakegate demo "$@"
