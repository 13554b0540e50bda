#!/usr/bin/env bash
# Run the test suite against real components: Spark local, a moto S3/KMS server
# on loopback (started by the tests), SQLite and PostgreSQL at 127.0.0.1:5432.
# LAKEGATE_TEST_WORKERS=2 spreads them over two processes (pytest-xdist, a
# module per process) unless the arguments name their own `-n`. The quick tier
# (`-m "not slow"`: no Spark, moto or browser) runs on two processes by default,
# since nothing in it needs the machine to itself; LAKEGATE_TEST_WORKERS=1 keeps one.
set -euo pipefail
cd "$(dirname "$0")/.."
WITH_BROWSER=1 bash scripts/bootstrap.sh
bash scripts/ensure-postgres.sh
workers=()
count="${LAKEGATE_TEST_WORKERS:-}"
if [ -z "$count" ]; then
    previous=""
    for arg in "$@"; do
        if [ "$previous" = "-m" ] && [[ "$arg" == "not slow"* ]]; then count=2; fi
        previous="$arg"
    done
fi
if [ -n "$count" ] && [ "$count" != "1" ]; then workers=(-n "$count" --dist loadfile); fi
for arg in "$@"; do
    case "$arg" in
        -n|-n*|--numprocesses|--numprocesses=*|no:xdist|-pno:xdist) workers=() ;;
    esac
done
exec .venv/bin/python -m pytest "${workers[@]}" "$@"
