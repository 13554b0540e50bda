#!/usr/bin/env bash
# Create .venv and install Lakegate with its test dependencies from pyproject.toml.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
stamp=.venv/.lakegate-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -e ".[dev]"
    touch "$stamp"
fi
# Browser tests drive Debian's Chromium (Playwright cannot download browsers here).
if [ "${WITH_BROWSER:-0}" = "1" ] && { [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; }; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
        apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null
    else
        echo "browser tests need Debian's chromium and chromium-driver packages" >&2
    fi
fi
# Spark 4 needs a full JDK 17 or 21 on PATH.
if ! java -version 2>&1 | grep -qE 'version "(17|21)'; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
        apt-get update -qq && apt-get install -y -qq openjdk-17-jre-headless >/dev/null
    else
        echo "Spark needs Java 17 or 21 on PATH (Debian: apt-get install openjdk-17-jre-headless)" >&2
        exit 1
    fi
fi
