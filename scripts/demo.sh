#!/usr/bin/env bash
# Start Lakegate on the embedded default (local lake, SQLite catalog, Spark local)
# with the demo domain landed. Extra arguments go to `lakegate demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/lakegate demo "$@"
