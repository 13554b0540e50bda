#!/usr/bin/env bash
# Build Lakegate's own JVM piece, jvm/build/lakegate-s3a.jar (git-ignored), from
# jvm/src/: the S3A interceptor that writes every lake object Spark creates
# under its domain's KMS key (see jvm/README.md). Compiled with javac against
# the AWS SDK bundle of jvm/jars/ and pyspark's Hadoop client, so run
# scripts/fetch-jars.sh and create .venv first (scripts/bootstrap.sh does both).
# Quick when the jar is newer than every source file.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=jvm/build/lakegate-s3a.jar
say() { echo "build-jvm: $*" >&2; }

sources=$(find jvm/src -name '*.java' | sort)
if [ -f "$OUT" ] && [ -z "$(find jvm/src -name '*.java' -newer "$OUT")" ]; then
    exit 0
fi
if ! command -v javac >/dev/null; then
    say "javac is missing: install a JDK 17 (Debian: apt-get install openjdk-17-jdk-headless)"
    exit 1
fi
bundle=$(ls jvm/jars/bundle-*.jar 2>/dev/null | head -1)
hadoop=$(ls .venv/lib/python3*/site-packages/pyspark/jars/hadoop-client-api-*.jar 2>/dev/null | head -1)
if [ -z "$bundle" ] || [ -z "$hadoop" ]; then
    say "needs jvm/jars/bundle-*.jar and pyspark's hadoop-client-api jar: run scripts/bootstrap.sh"
    exit 1
fi
classes="$(mktemp -d "${TMPDIR:-/tmp}/lakegate-jvm.XXXXXX")"
trap 'rm -rf "$classes"' EXIT
# shellcheck disable=SC2086
javac --release 17 -nowarn -encoding UTF-8 -d "$classes" -cp "$bundle:$hadoop" $sources
mkdir -p "$(dirname "$OUT")"
# Fixed timestamps: the same sources give the same jar.
find "$classes" -exec touch -d '2000-01-01T00:00:00Z' {} +
(cd "$classes" && jar --create --file "$OLDPWD/$OUT.tmp" --date 2000-01-01T00:00:00Z -C . .)
mv "$OUT.tmp" "$OUT"
say "built $OUT"
