#!/usr/bin/env bash
# Transfer benchmark (issue 6): SIZE bytes over 127.0.0.1 to /dev/null, the
# sender's stdin a regular file and a pipe, for ncrab and its peers, in one
# run on one machine. Prints wall time, CPU time of both sides, peak RSS of
# both sides, throughput, and ncrab's ratio to each peer. Byte counts are
# checked. Runs in a private network namespace (loopback only) when it can.
#
# usage: bench/transfer.sh [SIZE_MIB]   (default 2048)
set -euo pipefail
cd "$(dirname "$0")/.."
MIB="${1:-2048}"
SIZE=$((MIB * 1024 * 1024))

if [ -z "${NCRAB_BENCH_IN_NETNS:-}" ] && command -v ip >/dev/null && [ "$(id -u)" = 0 ]; then
    ns="ncrab-bench-$$"
    if ip netns add "$ns" 2>/dev/null; then
        trap 'ip netns del "$ns" 2>/dev/null || true' EXIT
        ip -n "$ns" link set lo up
        NCRAB_BENCH_IN_NETNS=1 ip netns exec "$ns" "$0" "$@"
        exit $?
    fi
fi

need=()
command -v nc.openbsd >/dev/null || need+=(netcat-openbsd)
command -v ncat >/dev/null || need+=(ncat)
command -v socat >/dev/null || need+=(socat)
command -v iperf3 >/dev/null || need+=(iperf3)
[ -x /usr/bin/time ] || need+=(time)
if [ "${#need[@]}" -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
cargo build --release -q
NCRAB="$PWD/target/release/ncrab"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
src="$work/src.bin"
head -c "$SIZE" /dev/zero > "$src"
port=47000

# measure NAME RECV_CMD SEND_CMD (SEND_CMD reads $src or a pipe per MODE)
measure() {
    local name=$1 mode=$2 recv=$3 send=$4
    port=$((port + 1))
    local r=${recv//PORT/$port} s=${send//PORT/$port}
    /usr/bin/time -f '%e %U %S %M' -o "$work/recv.time" bash -c "$r > /dev/null" &
    local rpid=$!
    sleep 0.3
    local t0 t1
    t0=$(date +%s.%N)
    if [ "$mode" = file ]; then
        /usr/bin/time -f '%e %U %S %M' -o "$work/send.time" bash -c "$s < '$src'"
    else
        /usr/bin/time -f '%e %U %S %M' -o "$work/send.time" bash -c "head -c $SIZE /dev/zero | $s"
    fi
    wait "$rpid" || true
    t1=$(date +%s.%N)
    read -r _ su ss sm < "$work/send.time"
    read -r _ ru rs rm < "$work/recv.time"
    local wall cpu gib
    wall=$(echo "$t1 - $t0" | bc -l)
    cpu=$(echo "$su + $ss + $ru + $rs" | bc -l)
    gib=$(echo "$SIZE / 1073741824 / $wall" | bc -l)
    printf '%-22s %-5s %8.2f s %8.2f GiB/s  cpu %6.2f s (%5.2f s/GiB)  rss send %6d KiB recv %6d KiB\n' \
        "$name" "$mode" "$wall" "$gib" "$cpu" "$(echo "$cpu * 1073741824 / $SIZE" | bc -l)" "$sm" "$rm"
    echo "$name $mode $wall $cpu $sm $rm" >> "$work/results"
}

# Byte count check: receive into wc -c instead of /dev/null once per tool.
check() {
    local name=$1 recv=$2 send=$3
    port=$((port + 1))
    local r=${recv//PORT/$port} s=${send//PORT/$port}
    bash -c "$r | wc -c > '$work/count'" &
    local rpid=$!
    sleep 0.3
    bash -c "head -c 67108864 /dev/zero | $s"
    wait "$rpid" || true
    local n; n=$(cat "$work/count")
    [ "$n" = 67108864 ] && echo "bytes ok: $name" || { echo "BYTE COUNT MISMATCH: $name got $n"; exit 1; }
}

echo "== $MIB MiB over 127.0.0.1, $(nproc) cores, $(uname -r)"
check ncrab "$NCRAB -l PORT" "$NCRAB -N 127.0.0.1 PORT"
check nc.openbsd "nc.openbsd -l PORT" "nc.openbsd -N 127.0.0.1 PORT"
for mode in file pipe; do
    for round in 1 2; do
        measure ncrab "$mode" "$NCRAB -l PORT" "$NCRAB -N 127.0.0.1 PORT"
        measure nc.openbsd "$mode" "nc.openbsd -l PORT" "nc.openbsd -N 127.0.0.1 PORT"
    done
    measure ncat "$mode" "ncat -l 127.0.0.1 PORT" "ncat --send-only 127.0.0.1 PORT"
    measure socat "$mode" "socat -u TCP-LISTEN:PORT,bind=127.0.0.1,reuseaddr STDOUT" "socat -u STDIN TCP:127.0.0.1:PORT"
    measure socat-b131072 "$mode" "socat -b131072 -u TCP-LISTEN:PORT,bind=127.0.0.1,reuseaddr STDOUT" "socat -b131072 -u STDIN TCP:127.0.0.1:PORT"
done
echo "== ceilings"
iperf3 -s -1 -p 46999 >/dev/null 2>&1 & sleep 0.3
iperf3 -c 127.0.0.1 -p 46999 -n "$SIZE" -f g 2>/dev/null | grep -E 'sender|receiver' | sed 's/^/iperf3: /'
t0=$(date +%s.%N); head -c "$SIZE" /dev/zero | cat > /dev/null; t1=$(date +%s.%N)
printf 'bare pipe (head | cat): %.2f GiB/s\n' "$(echo "$SIZE / 1073741824 / ($t1 - $t0)" | bc -l)"

echo "== ratios (best of the rounds; throughput ratio > 1 means ncrab is faster)"
awk '
{ k=$1" "$2; if (!(k in w) || $3 < w[k]) { w[k]=$3; c[k]=$4; r[k]=($5>$6?$5:$6) } }
END {
  for (k in w) { split(k, a, " "); if (a[1] != "ncrab") {
    n="ncrab " a[2];
    printf "%-22s %-5s throughput x%.2f  cpu x%.2f  peak rss x%.2f\n", a[1], a[2], w[k]/w[n], c[n]/c[k], r[n]/r[k] } }
}' "$work/results" | sort
