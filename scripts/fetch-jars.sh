#!/usr/bin/env bash
# Fetch the Spark engine's JVM jars (jvm/pom.xml: delta-spark for the pinned
# Spark release, hadoop-aws with its AWS SDK bundle) from Maven Central with
# `mvn` into jvm/jars/ (git-ignored), and check every file against
# jvm/jars.sha256. Nothing is downloaded at run time: Spark sessions load the
# jars from that folder. Quick when the folder already matches the sums.
#
#   scripts/fetch-jars.sh            fetch and check (bootstrap.sh runs this)
#   scripts/fetch-jars.sh --record   fetch and rewrite jvm/jars.sha256 (lock.sh runs this)
set -euo pipefail
cd "$(dirname "$0")/.."
JARS=jvm/jars
SUMS=jvm/jars.sha256
say() { echo "fetch-jars: $*" >&2; }

# What the folder held when its jars were last checked against the sums: the
# sums themselves and each jar's name, size and time. While it is unchanged the
# 670 MB need not be hashed again on every bootstrap.
STAMP=jvm/.jars-checked
state() { sha256sum <"$SUMS"; (cd "$JARS" && stat -c '%n %s %Y' -- *.jar); }

matches() {  # every listed jar present with its sum, and nothing else in the folder
    [ -f "$SUMS" ] && [ -d "$JARS" ] || return 1
    [ "$(ls "$JARS" | sort)" = "$(awk '{print $2}' "$SUMS" | sort)" ] || return 1
    [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$(state)" ] && return 0
    (cd "$JARS" && sha256sum --quiet --strict -c "../$(basename "$SUMS")" >/dev/null 2>&1) || return 1
    state >"$STAMP"
}

record=0
[ "${1:-}" = "--record" ] && record=1
if [ "$record" = 0 ] && matches; then
    exit 0
fi

if ! command -v mvn >/dev/null; then
    # shellcheck source=scripts/lib.sh
    . scripts/lib.sh
    apt_install maven || { say "the Spark jars are fetched with Maven: install it (Debian: apt-get install maven)"; exit 1; }
fi

say "fetching the Spark jars of jvm/pom.xml from Maven Central"
staging="$(mktemp -d "${TMPDIR:-/tmp}/lakegate-jars.XXXXXX")"
trap 'rm -rf "$staging"' EXIT
log="$(mktemp "${TMPDIR:-/tmp}/lakegate-mvn.XXXXXX")"
if ! mvn -B -q --no-transfer-progress -Dstyle.color=never -f jvm/pom.xml dependency:copy-dependencies \
        -DincludeScope=runtime -DoutputDirectory="$staging" </dev/null >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    say "Maven could not fetch the jars (is Maven Central reachable?)"
    exit 1
fi
rm -f "$log"

if [ "$record" = 1 ]; then
    (cd "$staging" && sha256sum -- *.jar) > "$SUMS"
    say "recorded $(wc -l < "$SUMS") jars in $SUMS"
else
    listed="$(awk '{print $2}' "$SUMS" | sort)"
    got="$(ls "$staging" | sort)"
    if [ "$listed" != "$got" ]; then
        say "jvm/pom.xml resolves other jars than $SUMS records (run scripts/lock.sh):"
        diff <(echo "$listed") <(echo "$got") >&2 || true
        exit 1
    fi
    if ! (cd "$staging" && sha256sum --quiet --strict -c "$OLDPWD/$SUMS"); then
        say "a downloaded jar does not match its recorded SHA-256 in $SUMS; refusing it"
        exit 1
    fi
fi
rm -rf "$JARS"
mkdir -p "$(dirname "$JARS")"
mv "$staging" "$JARS"
chmod 755 "$JARS"
state >"$STAMP"
trap - EXIT
