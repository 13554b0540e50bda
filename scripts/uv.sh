#!/usr/bin/env bash
# Run the project's pinned uv (scripts/uv-requirements.txt, hash-checked),
# installing it into .tools/ (git-ignored) first if needed:
#   scripts/uv.sh lock --check
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
version="$(sed -n 's/^uv==\([0-9.]*\).*/\1/p' scripts/uv-requirements.txt)"
if ! .tools/bin/uv --version 2>/dev/null | grep -q "^uv $version\b"; then
    echo "uv.sh: installing uv $version into .tools/" >&2
    rm -rf .tools
    "$PYTHON" -m venv .tools
    .tools/bin/python -m pip install --quiet --disable-pip-version-check --no-input \
        --require-hashes -r scripts/uv-requirements.txt
fi
export UV_PROJECT_ENVIRONMENT=.venv UV_NO_PROGRESS=1
exec .tools/bin/uv "$@"
