#!/usr/bin/env bash
# Run the test suite against real components: Spark local, a moto S3/KMS server
# on loopback (started by the tests), SQLite and PostgreSQL at 127.0.0.1:5432.
# LAKEGATE_TEST_WORKERS=2 spreads them over two processes (pytest-xdist, a
# module per process) unless the arguments name their own `-n`.
set -euo pipefail
cd "$(dirname "$0")/.."
WITH_BROWSER=1 bash scripts/bootstrap.sh
bash scripts/ensure-postgres.sh
workers=()
if [ -n "${LAKEGATE_TEST_WORKERS:-}" ]; then workers=(-n "$LAKEGATE_TEST_WORKERS" --dist loadfile); fi
for arg in "$@"; do
    case "$arg" in
        -n|-n*|--numprocesses|--numprocesses=*|no:xdist|-pno:xdist) workers=() ;;
    esac
done
exec .venv/bin/python -m pytest "${workers[@]}" "$@"
