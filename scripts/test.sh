#!/usr/bin/env bash
# Run the test suite against real components: Spark local, a moto S3/KMS server
# on loopback (started by the tests), SQLite and PostgreSQL at 127.0.0.1:5432.
set -euo pipefail
cd "$(dirname "$0")/.."
WITH_BROWSER=1 bash scripts/bootstrap.sh
bash scripts/ensure-postgres.sh
exec .venv/bin/python -m pytest "$@"
