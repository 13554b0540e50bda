#!/usr/bin/env bash
# Refresh the project's locks after a change to pyproject.toml or jvm/pom.xml,
# and commit them with that change:
#   uv.lock          every Python package, direct and transitive, with hashes;
#                    pins that pyproject.toml still allows are kept
#   jvm/jars.sha256  the SHA-256 of every jar jvm/pom.xml resolves to
#
#   scripts/lock.sh                        keep what still fits, resolve the rest
#   scripts/lock.sh --upgrade              newest releases pyproject.toml allows
#   scripts/lock.sh --upgrade-package X    move one package
# Run scripts/test-latest.sh before an --upgrade to see what would break.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/uv.sh lock "$@"
bash scripts/fetch-jars.sh --record
git status --short -- uv.lock jvm/jars.sha256
