#!/usr/bin/env bash
# Run the test suite against real components: Spark local, a moto S3/KMS server
# on loopback (started by the tests), SQLite and PostgreSQL at 127.0.0.1:5432.
# The tests run on two processes (pytest-xdist, a module at a time per process,
# the modules with slow tests first: tests/conftest.py orders them);
# LAKEGATE_TEST_WORKERS=N sets how many (1: one process, no xdist), and
# arguments that name their own `-n` (or `-p no:xdist`) win. The quick tier is
# `-m "not slow"`: no Spark, moto or browser.
set -euo pipefail
cd "$(dirname "$0")/.."
WITH_BROWSER=1 bash scripts/bootstrap.sh
bash scripts/ensure-postgres.sh
count="${LAKEGATE_TEST_WORKERS:-2}"
workers=()
if [ "$count" != "1" ]; then workers=(-n "$count" --dist loadfile --no-loadscope-reorder); fi
for arg in "$@"; do
    case "$arg" in
        -n|-n*|--numprocesses|--numprocesses=*|no:xdist|-pno:xdist) workers=() ;;
    esac
done
# pytest keeps each test module it rewrites for its assertion messages in
# __pycache__, unless bytecode writing is off (PYTHONDONTWRITEBYTECODE): then
# every run rewrites all of them again, in each process (about 5 s).
PYTHONDONTWRITEBYTECODE= exec .venv/bin/python -m pytest "${workers[@]}" "$@"
