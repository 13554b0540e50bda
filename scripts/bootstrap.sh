#!/usr/bin/env bash
# Install everything Lakegate needs from the project's own locks:
#   - .venv with the exact Python packages of uv.lock (hashes checked), by the uv
#     pinned in scripts/uv-requirements.txt;
#   - the Spark engine's JVM jars of jvm/pom.xml into jvm/jars/, checked against
#     jvm/jars.sha256 (scripts/fetch-jars.sh), and Lakegate's own JVM piece built
#     from jvm/src/ into jvm/build/ (scripts/build-jvm.sh);
#   - Java 17 or 21 for Spark, and Debian's Chromium when WITH_BROWSER=1
#     (installed with apt-get when run as root).
# Safe to run again: each step is quick when already done. scripts/lock.sh
# refreshes uv.lock and jvm/jars.sha256.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"

say() { echo "bootstrap: $*" >&2; }
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

# .venv exactly as uv.lock says (hashes checked), by the pinned uv; --locked
# refuses a lock that disagrees with pyproject.toml. Bytecode is compiled here,
# once, for the packages and for Lakegate's own modules: a process that cannot
# write it (PYTHONDONTWRITEBYTECODE, a read-only install) would otherwise compile
# every module it imports from source on every start, which doubles the time of
# a `lakegate` command (pyspark's Connect client alone is hundreds of modules).
bash scripts/uv.sh sync --locked --extra dev --python "$PYTHON" --quiet --compile-bytecode
.venv/bin/python -m compileall -q -j 0 -x "/(\.venv|\.tools|\.git|build|jvm|node_modules|spark-warehouse)/" . >/dev/null

# Spark 4 needs a full JDK 17 or 21 on PATH.
if ! java -version 2>&1 | grep -qE 'version "(17|21)'; then
    apt_install openjdk-17-jre-headless ||
        { say "Spark needs Java 17 or 21 on PATH (Debian: apt-get install openjdk-17-jre-headless)"; exit 1; }
fi

bash scripts/fetch-jars.sh

# Lakegate's S3A interceptor (jvm/src) is compiled here: javac comes with a JDK.
if ! command -v javac >/dev/null; then
    apt_install openjdk-17-jdk-headless ||
        { say "building jvm/src needs javac (Debian: apt-get install openjdk-17-jdk-headless)"; exit 1; }
fi
bash scripts/build-jvm.sh

# Browser tests drive Debian's Chromium (Playwright cannot download browsers here).
if [ "${WITH_BROWSER:-0}" = "1" ] && { [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; }; then
    apt_install chromium chromium-driver ||
        say "browser tests need Debian's chromium and chromium-driver packages"
fi

# The browser tests inject axe-core (accessibility rules) into every page: the
# version and checksum of tests/ui/axe/package-lock.json, installed by `npm ci`.
if [ "${WITH_BROWSER:-0}" = "1" ]; then
    if ! command -v npm >/dev/null; then
        apt_install npm || say "the accessibility check needs npm (Debian: apt-get install npm)"
    fi
    axe=tests/ui/axe
    if command -v npm >/dev/null && ! cmp -s "$axe/package-lock.json" "$axe/node_modules/.package-lock.json.installed"; then
        npm ci --prefix "$axe" --ignore-scripts --no-audit --no-fund --loglevel=error </dev/null >&2
        cp "$axe/package-lock.json" "$axe/node_modules/.package-lock.json.installed"
    fi
fi
