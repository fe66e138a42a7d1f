#!/usr/bin/env bash
# Scan benchmark: ncrab against nc.openbsd and nmap -sT, same machine, one run.
#
#  (a) -z 1-65535 on 127.0.0.1 with three listeners
#      (in a private network namespace, so only those three listen).
#  (b) -z -w 1 over 50 ports of a host in a network namespace pair:
#      10 silently dropped, 10 rejected with tcp-reset, 5 open, 25 closed.
#
# Prints the median wall time of each tool (rounds interleave the tools),
# the open ports each found and the ratios. Targets: (a) ncrab <= 0.5 x nc.openbsd; (b) ncrab <= 1.1 s.
#
# Needs root (ip netns, nft or iptables). Installs netcat-openbsd and nmap
# with apt-get when missing. Traffic stays on loopback and in the two
# namespaces it creates, which are deleted on exit.
#
# Usage: bench/scan.sh [runs]     (runs per measurement, default 5)
#
# A/B: with NCRAB_BASE=/path/to/an/older/ncrab, that binary is timed too,
# in the same rounds (interleaved), and the ratio of this build to it is
# printed: a change's cost, measured under the same load.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS="${1:-5}"
TAG="ncbench-$$"
NS_A="$TAG-a"          # (a): loopback only
NS_C="$TAG-c"          # (b): client
NS_S="$TAG-s"          # (b): server
SERVER=10.78.1.1
TMP="$(mktemp -d)"
PIDS=()

cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for ns in "$NS_A" "$NS_C" "$NS_S"; do ip netns del "$ns" 2>/dev/null || true; done
    rm -rf "$TMP"
}
trap cleanup EXIT

# --- tools ------------------------------------------------------------------
need=()
command -v nc.openbsd >/dev/null 2>&1 || need+=(netcat-openbsd)
command -v nmap >/dev/null 2>&1 || need+=(nmap)
if [ "${#need[@]}" -gt 0 ]; then
    echo "installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null
fi
NC_OPENBSD="$(command -v nc.openbsd)"
NMAP="$(command -v nmap)"

echo "building ncrab (cargo build --release)"
cargo build --release -q
NCRAB="${CARGO_TARGET_DIR:-target}/release/ncrab"
NCRAB="$(cd "$(dirname "$NCRAB")" && pwd)/ncrab"
# Both nc's run through a symlink named nc, so their output compares as is.
mkdir -p "$TMP/ncrab" "$TMP/openbsd"
ln -s "$NCRAB" "$TMP/ncrab/nc"
ln -s "$NC_OPENBSD" "$TMP/openbsd/nc"
BASE="${NCRAB_BASE:-}"
if [ -n "$BASE" ]; then
    mkdir -p "$TMP/base"
    ln -s "$(cd "$(dirname "$BASE")" && pwd)/$(basename "$BASE")" "$TMP/base/nc"
fi

# --- helpers ----------------------------------------------------------------
now() { echo "${EPOCHREALTIME/,/.}"; }

# timed NS NAME CMD...: runs CMD once in namespace NS, its stdout+stderr
# in $TMP/NAME.out, and appends the wall time to $TMP/NAME.times.
timed() {
    local ns="$1" name="$2" t0 t1; shift 2
    t0=$(now)
    ip netns exec "$ns" "$@" >"$TMP/$name.out" 2>&1 || true
    t1=$(now)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }' >>"$TMP/$name.times"
}

median() { sort -n "$TMP/$1.times" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# Open ports in nc -v output / nmap grepable output, space-separated.
nc_open() { sed -n 's/^Connection to [^ ]* \([0-9]*\) port .* succeeded!$/\1/p' "$1" | sort -n | tr '\n' ' '; }
nmap_open() { grep -o '[0-9]*/open/tcp' "$1" | cut -d/ -f1 | sort -n | tr '\n' ' '; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }

# listen NS ADDR PORT: an ncrab -lk listener in NS (killed on exit).
listen() {
    ip netns exec "$1" "$NCRAB" -lk "$2" "$3" </dev/null >/dev/null 2>&1 &
    PIDS+=("$!")
}

wait_listening() {  # NS PORT...
    local ns="$1"; shift
    for p in "$@"; do
        for _ in $(seq 100); do
            ip netns exec "$ns" ss -Htln "sport = :$p" | grep -q . && break
            sleep 0.05
        done
    done
}

report() {  # TITLE EXPECTED NCRAB_T NCRAB_OUT NC_T NC_OUT NMAP_T NMAP_OUT
    local title="$1" want="$2"
    local r_open n_open m_open
    r_open="$(nc_open "$4")"; n_open="$(nc_open "$6")"; m_open="$(nmap_open "$8")"
    echo
    echo "$title"
    printf '  %-12s %8s  %s\n' tool "wall (s)" "open ports found"
    printf '  %-12s %8s  %s\n' ncrab "$3" "$r_open"
    printf '  %-12s %8s  %s\n' nc.openbsd "$5" "$n_open"
    printf '  %-12s %8s  %s\n' "nmap -sT" "$7" "$m_open"
    printf '  listening:             %s\n' "$want"
    for t in ncrab nc.openbsd nmap; do
        case $t in ncrab) got="$r_open" ;; nc.openbsd) got="$n_open" ;; nmap) got="$m_open" ;; esac
        if [ "$got" = "$want" ]; then
            echo "  $t: findings identical to the listeners"
        else
            extra="$(comm -13 <(tr ' ' '\n' <<<"$want" | sort) <(tr ' ' '\n' <<<"$got" | sort) | sort -n | tr '\n' ' ')"
            missing="$(comm -23 <(tr ' ' '\n' <<<"$want" | sort) <(tr ' ' '\n' <<<"$got" | sort) | sort -n | tr '\n' ' ')"
            echo "  $t: findings DIFFER: extra [${extra% }] missing [${missing% }]"
            [ "$t" = nc.openbsd ] && [ -z "${missing// /}" ] &&
                echo "    (nc.openbsd's extras are connections to itself: the scanned port was its own source port; ncrab departure 10)"
        fi
    done
    echo "  ratios: ncrab/nc.openbsd = $(ratio "$3" "$5"), ncrab/nmap = $(ratio "$3" "$7")"
}

free_ports() {  # NS COUNT FIRST: COUNT ports from FIRST up with no listener
    local ns="$1" n="$2" p="$3" out=()
    while [ "${#out[@]}" -lt "$n" ]; do
        ip netns exec "$ns" ss -Htln "sport = :$p" | grep -q . || out+=("$p")
        p=$((p + 1))
    done
    echo "${out[@]}"
}

echo "runs per measurement: $RUNS (median shown); $(nproc) CPUs; $(uname -r)"

# --- (a) full range on loopback ----------------------------------------------
ip netns add "$NS_A"
ip -n "$NS_A" link set lo up
read -r -a LA <<<"$(free_ports "$NS_A" 3 47001)"
for p in "${LA[@]}"; do listen "$NS_A" 127.0.0.1 "$p"; done
wait_listening "$NS_A" "${LA[@]}"
WANT_A="$(printf '%s\n' "${LA[@]}" | sort -n | tr '\n' ' ')"

# Rounds interleave the tools, so a change in the machine's load touches
# all three alike.
for _ in $(seq "$RUNS"); do
    timed "$NS_A" a.ncrab "$TMP/ncrab/nc" -zvn 127.0.0.1 1-65535
    [ -n "$BASE" ] && timed "$NS_A" a.base "$TMP/base/nc" -zvn 127.0.0.1 1-65535
    timed "$NS_A" a.nc "$TMP/openbsd/nc" -zvn 127.0.0.1 1-65535
    timed "$NS_A" a.nmap "$NMAP" -sT -n -Pn -p 1-65535 -oG - 127.0.0.1
done
ta_r=$(median a.ncrab); ta_n=$(median a.nc); ta_m=$(median a.nmap)
report "(a) -z 1-65535 on 127.0.0.1, three listeners" "$WANT_A" \
    "$ta_r" "$TMP/a.ncrab.out" "$ta_n" "$TMP/a.nc.out" "$ta_m" "$TMP/a.nmap.out"
echo "  target: ncrab <= 0.5 x nc.openbsd: $(awk -v a="$ta_r" -v b="$ta_n" 'BEGIN { print (a <= 0.5 * b) ? "met" : "NOT met" }')"
if [ -n "$BASE" ]; then
    ta_b=$(median a.base)
    echo "  A/B: ncrab $ta_r s, base $ta_b s: ncrab/base = $(ratio "$ta_r" "$ta_b")"
    cmp -s "$TMP/a.ncrab.out" "$TMP/a.base.out" && echo "  A/B: reports byte-identical" || echo "  A/B: reports DIFFER"
fi

# --- (b) 50 ports through a namespace pair -----------------------------------
ip netns add "$NS_C"
ip netns add "$NS_S"
ip -n "$NS_C" link set lo up
ip -n "$NS_S" link set lo up
ip -n "$NS_C" link add vc type veth peer name vs netns "$NS_S"
ip -n "$NS_C" addr add 10.78.0.1/24 dev vc
ip -n "$NS_S" addr add 10.78.0.2/24 dev vs
ip -n "$NS_S" addr add "$SERVER/32" dev lo
ip -n "$NS_C" link set vc up
ip -n "$NS_S" link set vs up
ip -n "$NS_C" route add 10.78.1.0/24 via 10.78.0.2

# Ports 30001-30050: every 5th is dropped (10), the next rejected (10),
# every 10th open (5), the rest closed (25).
DROP=() REJECT=() OPEN=()
for i in $(seq 0 49); do
    p=$((30001 + i))
    case $((i % 5)) in
        0) DROP+=("$p") ;;
        1) REJECT+=("$p") ;;
        2) [ $((i % 10)) -eq 2 ] && OPEN+=("$p") ;;
    esac
done
join() { local IFS=,; echo "$*"; }
RULES="table inet ncbench {
  chain input {
    type filter hook input priority 0; policy accept;
    ip daddr $SERVER tcp dport { $(join "${DROP[@]}") } drop
    ip daddr $SERVER tcp dport { $(join "${REJECT[@]}") } reject with tcp reset
  }
}"
if ! ip netns exec "$NS_S" nft -f - <<<"$RULES" 2>/dev/null; then
    for p in "${DROP[@]}"; do ip netns exec "$NS_S" iptables -A INPUT -p tcp -d "$SERVER" --dport "$p" -j DROP; done
    for p in "${REJECT[@]}"; do ip netns exec "$NS_S" iptables -A INPUT -p tcp -d "$SERVER" --dport "$p" -j REJECT --reject-with tcp-reset; done
fi
for p in "${OPEN[@]}"; do listen "$NS_S" "$SERVER" "$p"; done
wait_listening "$NS_S" "${OPEN[@]}"
WANT_B="$(printf '%s\n' "${OPEN[@]}" | sort -n | tr '\n' ' ')"

RUNS_B=$(( RUNS < 3 ? RUNS : 3 ))   # nc.openbsd takes ~10 s per run
for _ in $(seq "$RUNS_B"); do
    timed "$NS_C" b.ncrab "$TMP/ncrab/nc" -zvn -w 1 "$SERVER" 30001-30050
    [ -n "$BASE" ] && timed "$NS_C" b.base "$TMP/base/nc" -zvn -w 1 "$SERVER" 30001-30050
    timed "$NS_C" b.nc "$TMP/openbsd/nc" -zvn -w 1 "$SERVER" 30001-30050
    timed "$NS_C" b.nmap "$NMAP" -sT -n -Pn -p 30001-30050 -oG - "$SERVER"
done
tb_r=$(median b.ncrab); tb_n=$(median b.nc); tb_m=$(median b.nmap)
report "(b) -z -w 1, 50 ports: 10 dropped, 10 rejected, 5 open, 25 closed (runs: $RUNS_B)" "$WANT_B" \
    "$tb_r" "$TMP/b.ncrab.out" "$tb_n" "$TMP/b.nc.out" "$tb_m" "$TMP/b.nmap.out"
echo "  target: ncrab <= 1.1 s: $(awk -v a="$tb_r" 'BEGIN { print (a <= 1.1) ? "met" : "NOT met" }')"
if [ -n "$BASE" ]; then
    tb_b=$(median b.base)
    echo "  A/B: ncrab $tb_r s, base $tb_b s: ncrab/base = $(ratio "$tb_r" "$tb_b")"
fi
# Same report lines as nc, in the same order.
if cmp -s "$TMP/b.ncrab.out" "$TMP/b.nc.out"; then
    echo "  ncrab's report is byte-identical to nc.openbsd's"
else
    echo "  ncrab's report DIFFERS from nc.openbsd's:"; diff "$TMP/b.nc.out" "$TMP/b.ncrab.out" | head -10
fi
