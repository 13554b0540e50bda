# Shell helpers shared by the project's scripts (sourced, not run).

# apt_install PACKAGE...: install Debian packages when running as root with
# apt-get, quietly (apt's output is shown only when it fails). Returns 1 when
# this is not a root shell on Debian, so the caller can say what is missing.
apt_install() {
    if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null; then
        return 1
    fi
    echo "$(basename "$0"): installing $* from Debian's packages" >&2
    local log
    log="$(mktemp "${TMPDIR:-/tmp}/lakegate-apt.XXXXXX")"
    if ! { DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
           DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"; } \
            </dev/null >"$log" 2>&1; then
        cat "$log" >&2
        rm -f "$log"
        echo "$(basename "$0"): apt-get could not install $*" >&2
        exit 1
    fi
    rm -f "$log"
}
