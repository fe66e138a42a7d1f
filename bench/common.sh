# Shared start of bench/transfer.sh, bench/tls.sh and bench/serve.sh
# (sourced, from the repository's top directory).
#
#   bench_in_netns TAG "$@"   run the calling script again inside a private
#                             network namespace with only loopback (when root
#                             and iproute2 allow), and exit with its status
#   bench_need CMD=PKG ...    apt-get install the PKG of every missing CMD
#                             (a CMD with a slash is checked as a path)
#   bench_base                with NCRAB_BASE=/path/to/an/older/ncrab: checks
#                             that it is an executable file, makes the path
#                             absolute and exports it (call it before
#                             bench_in_netns); sets BASE (empty without it)
#   bench_base_version        " ncrab-base PATH (REV)" for the versions line,
#                             nothing without NCRAB_BASE
#   bench_build               cargo build --release; sets NCRAB
#   bench_workdir             a temporary $work and a $pids list, both ended
#                             at exit (bench_cleanup_extra runs first, if the
#                             script defines it)

bench_in_netns() {
    local tag="$1" rc=0
    shift
    [ -z "${NCRAB_BENCH_IN_NETNS:-}" ] || return 0
    command -v ip >/dev/null && [ "$(id -u)" = 0 ] || return 0
    # The namespace has only loopback: crates must be here before the
    # build inside it.
    cargo fetch -q
    bench_ns="$tag-$$" # global: the EXIT trap reads it
    ip netns add "$bench_ns" 2>/dev/null || return 0
    trap 'ip netns del "$bench_ns" 2>/dev/null || true' EXIT
    ip -n "$bench_ns" link set lo up
    NCRAB_BENCH_IN_NETNS=1 ip netns exec "$bench_ns" "$0" "$@" || rc=$?
    exit "$rc"
}

bench_need() {
    local need=() pair cmd
    for pair in "$@"; do
        cmd="${pair%%=*}"
        case "$cmd" in
            */*) [ -x "$cmd" ] || need+=("${pair#*=}") ;;
            *) command -v "$cmd" >/dev/null || need+=("${pair#*=}") ;;
        esac
    done
    if [ "${#need[@]}" -gt 0 ]; then
        echo "installing ${need[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null
    fi
}

bench_base() {
    BASE="${NCRAB_BASE:-}"
    [ -n "$BASE" ] || return 0
    # A relative path is the caller's, from before the script's cd to the
    # repository (OLDPWD); the run inside the namespace gets it absolute.
    case "$BASE" in
        /*) ;;
        *) BASE="${OLDPWD:-$PWD}/$BASE" ;;
    esac
    if [ ! -f "$BASE" ] || [ ! -x "$BASE" ]; then
        echo "NCRAB_BASE=$NCRAB_BASE: not an executable file" >&2
        exit 1
    fi
    export NCRAB_BASE="$BASE"
}

bench_base_version() {
    [ -n "${BASE:-}" ] || return 0
    local rev
    rev=$(git -C "$(dirname "$BASE")" rev-parse --short HEAD 2>/dev/null || echo '?')
    printf ', ncrab-base %s (%s)' "$BASE" "$rev"
}

bench_build() {
    cargo build --release -q
    NCRAB="${CARGO_TARGET_DIR:-$PWD/target}/release/ncrab"
    [ -x "$NCRAB" ] || { echo "no binary at $NCRAB"; exit 1; }
}

bench_workdir() {
    work=$(mktemp -d)
    pids=()
    trap bench_cleanup EXIT
}

bench_cleanup() {
    if declare -F bench_cleanup_extra >/dev/null; then bench_cleanup_extra; fi
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
