#!/usr/bin/env bash
# Transfer benchmark (issue 6), one script, one run:
#
#  - SIZE bytes over 127.0.0.1 into /dev/null, the sender's stdin a regular
#    file and a pipe (`head -c SIZE /dev/zero |`), for ncrab, nc.openbsd,
#    ncat, socat and socat -b131072, each program on both sides (as users
#    run it). Rounds alternate the programs (the order rotates each round);
#    the median round is shown. Wall time runs from the sender's start to
#    the receiver's exit; CPU time is user+system of both sides (head not
#    counted); peak RSS is each side's own (the program is run directly
#    under /usr/bin/time, not through a shell).
#  - Byte counts: one more run per program and kind of stdin, received into
#    `wc -c`, must deliver exactly SIZE bytes.
#  - Ceilings in the same run: iperf3 (loopback) and a bare pipe
#    (`head -c SIZE /dev/zero | cat > /dev/null`).
#  - One exchange: `printf x | PROG -N 127.0.0.1 PORT` against a server that
#    replies with what it got, many times, alternating ncrab and
#    nc.openbsd; the median time per exchange.
#  - Ratios of ncrab to each peer, and the issue's targets.
#  - A/B: with NCRAB_BASE=/path/to/an/older/ncrab, that binary runs as the
#    program ncrab-base with ncrab's command lines, in the same rounds
#    (transfers, byte counts and exchanges), and ncrab/ncrab-base ratios are
#    printed beside the peers'.
#
# It runs in a private network namespace with only loopback when it can
# (root and iproute2), installs missing peers with apt-get, and builds ncrab
# with `cargo build --release` (honouring CARGO_TARGET_DIR).
#
# usage: bench/transfer.sh [SIZE_MIB [ROUNDS [EXCHANGES]]]   (2048 5 300)
set -euo pipefail
cd "$(dirname "$0")/.."
MIB="${1:-2048}"
ROUNDS="${2:-5}"
EXCHANGES="${3:-300}"
SIZE=$((MIB * 1024 * 1024))

. bench/common.sh
bench_base
bench_need nc.openbsd=netcat-openbsd ncat=ncat socat=socat iperf3=iperf3 python3=python3 bc=bc /usr/bin/time=time
bench_in_netns ncrab-bench "$@"
bench_build
bench_workdir
src="$work/src.bin"
head -c "$SIZE" /dev/zero > "$src"
cat "$src" > /dev/null # in the page cache, as it will stay
port=20000 # below the ephemeral range: no TIME_WAIT socket holds these

# Waits (at most 5 s) until something listens on TCP port $1.
wait_listen() {
    local hex i
    hex=$(printf '%04X' "$1")
    for i in $(seq 100); do
        grep -q ":$hex 00000000:0000 0A" /proc/net/tcp 2>/dev/null && return 0
        sleep 0.05
    done
    echo "nothing listens on port $1" >&2
    return 1
}

# name -> "receiver command" and "sender command"; PORT is substituted.
declare -A RECV SEND
PROGS=(ncrab nc.openbsd ncat socat socat-b131072)
RECV[ncrab]="$NCRAB -l 127.0.0.1 PORT"
SEND[ncrab]="$NCRAB -N 127.0.0.1 PORT"
RECV[nc.openbsd]="nc.openbsd -l 127.0.0.1 PORT"
SEND[nc.openbsd]="nc.openbsd -N 127.0.0.1 PORT"
RECV[ncat]="ncat -l 127.0.0.1 PORT"
SEND[ncat]="ncat --send-only 127.0.0.1 PORT"
RECV[socat]="socat -u TCP-LISTEN:PORT,bind=127.0.0.1,reuseaddr STDOUT"
SEND[socat]="socat -u STDIN TCP:127.0.0.1:PORT"
RECV[socat-b131072]="socat -b131072 -u TCP-LISTEN:PORT,bind=127.0.0.1,reuseaddr STDOUT"
SEND[socat-b131072]="socat -b131072 -u STDIN TCP:127.0.0.1:PORT"
# The older build: ncrab's command lines, next to ncrab in the rotation.
EXCHANGERS=(ncrab nc.openbsd)
if [ -n "$BASE" ]; then
    PROGS=(ncrab ncrab-base "${PROGS[@]:1}")
    RECV[ncrab-base]="$BASE -l 127.0.0.1 PORT"
    SEND[ncrab-base]="$BASE -N 127.0.0.1 PORT"
    EXCHANGERS+=(ncrab-base)
fi

# One transfer of SIZE bytes: measure NAME MODE; appends a line to results:
# name mode wall_s send_cpu_s recv_cpu_s send_rss_kib recv_rss_kib
measure() {
    local name=$1 mode=$2
    port=$((port + 1))
    local r=${RECV[$name]//PORT/$port} s=${SEND[$name]//PORT/$port}
    # shellcheck disable=SC2086 # the commands are word lists on purpose
    /usr/bin/time -f '%U %S %M' -o "$work/recv.time" $r < /dev/null > /dev/null &
    local rpid=$!
    wait_listen "$port"
    local t0 t1
    t0=$EPOCHREALTIME
    if [ "$mode" = file ]; then
        # shellcheck disable=SC2086
        /usr/bin/time -f '%U %S %M' -o "$work/send.time" $s < "$src"
    else
        # shellcheck disable=SC2086
        head -c "$SIZE" /dev/zero | /usr/bin/time -f '%U %S %M' -o "$work/send.time" $s
    fi
    wait "$rpid" || true
    t1=$EPOCHREALTIME
    local su ss sm ru rs rm
    read -r su ss sm < <(tail -1 "$work/send.time")
    read -r ru rs rm < <(tail -1 "$work/recv.time")
    echo "$name $mode $(echo "$t1 - $t0" | bc -l) $(echo "$su + $ss" | bc -l) $(echo "$ru + $rs" | bc -l) $sm $rm" >> "$work/results"
}

# The same transfer into `wc -c`: the byte count must be SIZE.
check() {
    local name=$1 mode=$2
    port=$((port + 1))
    local r=${RECV[$name]//PORT/$port} s=${SEND[$name]//PORT/$port}
    # shellcheck disable=SC2086
    $r < /dev/null | wc -c > "$work/count" &
    local rpid=$!
    wait_listen "$port"
    if [ "$mode" = file ]; then
        # shellcheck disable=SC2086
        $s < "$src"
    else
        # shellcheck disable=SC2086
        head -c "$SIZE" /dev/zero | $s
    fi
    wait "$rpid" || true
    local n
    n=$(cat "$work/count")
    if [ "$n" = "$SIZE" ]; then
        echo "bytes ok: $name ($mode stdin): $n"
    else
        echo "BYTE COUNT MISMATCH: $name ($mode stdin): got $n of $SIZE"
        exit 1
    fi
}

echo "== $MIB MiB over 127.0.0.1 to /dev/null, $ROUNDS rounds; $(nproc) cores, Linux $(uname -r)"
echo "== load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== versions: $(dpkg-query -W -f='${Package} ${Version}, ' netcat-openbsd ncat socat iperf3 2>/dev/null)ncrab $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(bench_base_version)"
for mode in file pipe; do
    for name in "${PROGS[@]}"; do check "$name" "$mode"; done
done

n=${#PROGS[@]}
for round in $(seq "$ROUNDS"); do
    for mode in file pipe; do
        for i in $(seq 0 $((n - 1))); do
            measure "${PROGS[$(((i + round) % n))]}" "$mode"
        done
    done
done

echo "== ceilings"
port=$((port + 1))
/usr/bin/time -f '%U %S' -o "$work/iperf-s.time" iperf3 -s -1 -B 127.0.0.1 -p "$port" > /dev/null 2>&1 &
ipid=$!
wait_listen "$port"
/usr/bin/time -f '%U %S' -o "$work/iperf-c.time" iperf3 -c 127.0.0.1 -p "$port" -n "$SIZE" -J > "$work/iperf.json" 2>/dev/null || true
wait "$ipid" || true
python3 - "$work/iperf.json" "$work/iperf-s.time" "$work/iperf-c.time" "$SIZE" <<'PY'
import json, sys
try:
    j = json.load(open(sys.argv[1]))
    bps = j["end"]["sum_received"]["bits_per_second"]
    cpu = sum(float(x) for f in sys.argv[2:4] for x in open(f).read().split()[-2:])
    gib = int(sys.argv[4]) / 2**30
    print(f"iperf3 (loopback ceiling): {bps / 8 / 2**30:.2f} GiB/s, cpu {cpu / gib:.2f} s/GiB (both sides)")
except Exception as e:  # a ceiling is informative only
    print(f"iperf3: no result ({e})")
PY
t0=$EPOCHREALTIME
head -c "$SIZE" /dev/zero | cat > /dev/null
t1=$EPOCHREALTIME
printf 'bare pipe (head -c | cat): %.2f GiB/s\n' "$(echo "$SIZE / 1073741824 / ($t1 - $t0)" | bc -l)"

echo "== one exchange: printf x | PROG -N 127.0.0.1 PORT, against a replying server, $EXCHANGES times each"
port=$((port + 1))
python3 - "$port" <<'PY' &
import asyncio, sys
async def reply(r, w):
    w.write(await r.read())
    await w.drain()
    w.close()
async def main():
    srv = await asyncio.start_server(reply, "127.0.0.1", int(sys.argv[1]), backlog=64)
    async with srv:
        await srv.serve_forever()
asyncio.run(main())
PY
pids+=($!)
wait_listen "$port"
for i in $(seq "$EXCHANGES"); do
    for name in "${EXCHANGERS[@]}"; do
        cmd=${SEND[$name]//PORT/$port}
        t0=$EPOCHREALTIME
        # shellcheck disable=SC2086
        out=$(printf x | $cmd)
        t1=$EPOCHREALTIME
        [ "$out" = x ] || { echo "one exchange: $name replied '$out'"; exit 1; }
        echo "$name $(echo "($t1 - $t0) * 1000000" | bc -l)" >> "$work/exchange"
    done
done

echo "== load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$work/results" "$work/exchange" "$SIZE" <<'PY'
import statistics as st, sys
from collections import defaultdict
size = int(sys.argv[3]); gib = size / 2**30
runs = defaultdict(list)
for line in open(sys.argv[1]):
    name, mode, wall, scpu, rcpu, srss, rrss = line.split()
    runs[(name, mode)].append((float(wall), float(scpu), float(rcpu), int(srss), int(rrss)))
rows = {}
print(f"\n{'program (both sides)':22} {'stdin':5} {'wall':>7} {'GiB/s':>6} {'cpu send':>9} {'cpu recv':>9} {'cpu/GiB':>8} {'rss send':>9} {'rss recv':>9}")
for (name, mode), v in runs.items():
    med = lambda i: st.median(x[i] for x in v)
    wall, s, r = med(0), med(1), med(2)
    srss, rrss = max(x[3] for x in v), max(x[4] for x in v)
    rows[(name, mode)] = (wall, (s + r) / gib, srss, rrss)
    print(f"{name:22} {mode:5} {wall:6.2f}s {gib / wall:6.2f} {s:8.2f}s {r:8.2f}s {(s + r) / gib:7.2f}s {srss:6d}KiB {rrss:6d}KiB"
          f"   (wall {min(x[0] for x in v):.2f}-{max(x[0] for x in v):.2f}s)")
ratio = lambda a, b: f"x{a / b:.2f}" if b else "n/a"  # no CPU time counted at small sizes
print("\n== ncrab / peer (throughput > 1: ncrab faster; cpu and rss < 1: ncrab uses less)")
for (name, mode), (wall, cpu, srss, rrss) in rows.items():
    if name == "ncrab":
        continue
    nw, ncpu, ns, nr = rows[("ncrab", mode)]
    print(f"vs {name:19} {mode:5} throughput x{wall / nw:.2f}  cpu/GiB {ratio(ncpu, cpu)}  peak rss send x{ns / srss:.2f} recv x{nr / rrss:.2f}")
ex = defaultdict(list)
for line in open(sys.argv[2]):
    name, us = line.split()
    ex[name].append(float(us))
print("\n== one exchange (median, µs):", ", ".join(f"{k} {st.median(v):.0f} (p10 {st.quantiles(v, n=10)[0]:.0f}, p90 {st.quantiles(v, n=10)[-1]:.0f})" for k, v in ex.items()))
if "ncrab-base" in ex:
    b = st.median(ex["ncrab"]) / st.median(ex["ncrab-base"])
    print(f"one exchange ncrab / ncrab-base: x{b:.2f} of its time (< 1: ncrab faster)")
print("\n== targets")
nc = lambda m: rows[("nc.openbsd", m)]
me = lambda m: rows[("ncrab", m)]
ok = lambda b: "met" if b else "NOT met"
f = nc("file")[0] / me("file")[0]
p = nc("pipe")[0] / me("pipe")[0]
print(f"file stdin throughput >= 2.5x nc.openbsd: x{f:.2f} {ok(f >= 2.5)}")
print(f"pipe stdin throughput >= 1.6x nc.openbsd: x{p:.2f} {ok(p >= 1.6)}")
for m in ("file", "pipe"):
    best = min((c, n) for (n, mm), (w, c, a, b) in rows.items() if mm == m and n not in ("ncrab", "ncrab-base"))
    print(f"cpu/GiB ({m}) lower than every peer: ncrab {me(m)[1]:.2f}s, lowest peer {best[1]} {best[0]:.2f}s {ok(me(m)[1] < best[0])}")
    rs = max(me(m)[2] / nc(m)[2], me(m)[3] / nc(m)[3])
    print(f"peak rss ({m}) <= 1.5x nc.openbsd (worse side): x{rs:.2f} {ok(rs <= 1.5)}")
e = st.median(ex["ncrab"]) / st.median(ex["nc.openbsd"])
print(f"one exchange no slower than nc.openbsd: x{e:.2f} of its time {ok(e <= 1.0)}")
PY
