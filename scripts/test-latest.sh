#!/usr/bin/env bash
# Run the test suite against the newest releases pyproject.toml allows, in a
# throwaway environment, to see drift before it reaches uv.lock or a fresh
# machine. Not part of .ci/run: run it before `scripts/lock.sh --upgrade`, and
# now and then (say weekly) to learn early which new release breaks what.
# Arguments go to pytest. The environment is removed afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
work="$(mktemp -d "${TMPDIR:-/tmp}/lakegate-latest.XXXXXX")"
trap 'rm -rf "$work"' EXIT

bash scripts/uv.sh venv --quiet --python "$PYTHON" "$work/venv"
VIRTUAL_ENV="$work/venv" bash scripts/uv.sh pip install --quiet --resolution highest --refresh ".[dev]"

echo "releases other than uv.lock's:"
VIRTUAL_ENV="$work/venv" bash scripts/uv.sh pip freeze --quiet 2>/dev/null | "$work/venv/bin/python" -c '
import sys, tomllib
locked = {}
for p in tomllib.load(open("uv.lock", "rb"))["package"]:  # a package may be locked at several versions
    locked.setdefault(p["name"], set()).add(p["version"])
for line in sys.stdin:
    name, _, version = line.strip().partition("==")
    key = name.lower().replace("_", "-")
    if version and key in locked and version not in locked[key]:
        was = ", ".join(sorted(locked[key]))
        print(f"  {key}: {was} -> {version}")
'
bash scripts/fetch-jars.sh
bash scripts/ensure-postgres.sh
# The source tree comes first on sys.path (pytest's pythonpath), so the suite
# tests this checkout with the newest dependencies.
LAKEGATE_TEST_LATEST=1 "$work/venv/bin/python" -m pytest "$@"
