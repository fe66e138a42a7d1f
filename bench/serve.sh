#!/usr/bin/env bash
# Serving benchmark (issue 15), one script, one run:
#
#  - An echo service (`--exec /bin/cat`: one child per connection) under
#    request/response clients: SEQ exchanges one after another, then PAR
#    clients at once doing PER exchanges each. One exchange: connect, send
#    64 bytes, read the 64-byte echo, close (no half-close: ncat's --exec
#    drops the child's answer once the client half-closes). Servers:
#      ncrab  -lk 127.0.0.1 PORT --max-conns 1000 --exec /bin/cat
#      ncat   -lk 127.0.0.1 PORT --max-conns 1000 --exec /bin/cat
#      socat  TCP-LISTEN:PORT,bind=127.0.0.1,fork,reuseaddr,backlog=1024 EXEC:cat
#    (--max-conns 1000 for both: the load, not the limit, is measured.)
#    The client is one Python process (threads for the parallel load), the
#    same for every server. Figures: connections per second, the 99th
#    percentile of one exchange's latency, and the CPU time of the server
#    with its children per exchange (/proc/PID/stat, children reaped);
#    CPU time is the figure the machine's other load disturbs least
#    (n/a for ncat: it lets the kernel reap its children, so their time is
#    counted nowhere).
#    Every echo is checked.
#  - Broker fan-out: 10 clients (`nc.openbsd -d ... | head -c SIZE`)
#    connected to `--broker`, then SIZE bytes (64 MiB) from a file on the
#    broker's stdin; the time until every client has all of them, and the
#    broker's peak RSS. ncrab --broker against ncat --broker.
#  - Rounds alternate the servers (the order rotates each round); the
#    median of the rounds is shown, then ncrab's ratio to each peer.
#  - A/B: with NCRAB_BASE=/path/to/an/older/ncrab, that binary serves as
#    ncrab-base with ncrab's command lines (echo service and broker), in the
#    same rounds, and ncrab/ncrab-base ratios are printed beside the peers'.
#
# It runs in a private network namespace with only loopback when it can
# (root and iproute2), installs missing peers with apt-get, and builds ncrab
# with `cargo build --release` (honouring CARGO_TARGET_DIR).
#
# usage: bench/serve.sh [ROUNDS [SEQ [PAR [PER [MIB]]]]]   (3 1000 100 20 64)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS="${1:-3}"
SEQ="${2:-1000}"
PAR="${3:-100}"
PER="${4:-20}"
MIB="${5:-64}"
SIZE=$((MIB * 1024 * 1024))

. bench/common.sh
bench_base
bench_need nc.openbsd=netcat-openbsd ncat=ncat socat=socat python3=python3 /usr/bin/time=time
bench_in_netns ncrab-bench "$@"
bench_build
bench_cleanup_extra() {
    exec 3>&- 2>/dev/null || true
}
bench_workdir
port=21000 # below the ephemeral range

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

# The load generator: `client.py PORT seq N` or `client.py PORT par C M`;
# prints "conns_per_s p99_ms".
cat > "$work/client.py" <<'PY'
import socket, sys, threading, time
port, mode = int(sys.argv[1]), sys.argv[2]
msg = b"x" * 63 + b"\n"
def one(lat):
    t = time.perf_counter()
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(msg)
    got = b""
    while len(got) < len(msg):
        b = s.recv(4096)
        if not b:
            break
        got += b
    s.close()
    lat.append(time.perf_counter() - t)
    if got != msg:
        raise SystemExit(f"bad echo: {got!r}")
lat = []
t0 = time.perf_counter()
if mode == "seq":
    for _ in range(int(sys.argv[3])):
        one(lat)
else:
    c, m = int(sys.argv[3]), int(sys.argv[4])
    errors = []
    def worker():
        try:
            for _ in range(m):
                one(lat)
        except BaseException as e:
            errors.append(e)
    ts = [threading.Thread(target=worker) for _ in range(c)]
    for t in ts: t.start()
    for t in ts: t.join()
    if errors:
        raise SystemExit(f"client errors: {errors[0]!r} ({len(errors)})")
wall = time.perf_counter() - t0
lat.sort()
print(f"{len(lat) / wall:.1f} {lat[int(len(lat) * 0.99) - 1] * 1000:.2f}")
PY

declare -A SERVE
SERVERS=(ncrab ncat socat)
SERVE[ncrab]="$NCRAB -lk 127.0.0.1 PORT --max-conns 1000 --exec /bin/cat"
SERVE[ncat]="ncat -lk 127.0.0.1 PORT --max-conns 1000 --exec /bin/cat"
SERVE[socat]="socat TCP-LISTEN:PORT,bind=127.0.0.1,fork,reuseaddr,backlog=1024 EXEC:cat"
if [ -n "$BASE" ]; then # the older build, next to ncrab in the rotation
    SERVERS=(ncrab ncrab-base "${SERVERS[@]:1}")
    SERVE[ncrab-base]="$BASE -lk 127.0.0.1 PORT --max-conns 1000 --exec /bin/cat"
fi

# One echo measurement: NAME MODE -> appends "name mode conns/s p99_ms".
echo_run() {
    local name=$1 mode=$2 out
    port=$((port + 1))
    local s=${SERVE[$name]//PORT/$port}
    # shellcheck disable=SC2086 # the command is a word list on purpose
    $s < /dev/null > /dev/null 2>&1 &
    local spid=$!
    pids+=("$spid")
    wait_listen "$port"
    if [ "$mode" = seq ]; then
        out=$(python3 "$work/client.py" "$port" seq "$SEQ")
    else
        out=$(python3 "$work/client.py" "$port" par "$PAR" "$PER")
    fi
    # CPU of the server and its reaped children (the cats, socat's forks),
    # in clock ticks, before it is stopped.
    local cpu
    cpu=$(awk '{print $14 + $15 + $16 + $17}' "/proc/$spid/stat" 2>/dev/null || echo 0)
    kill "$spid" 2>/dev/null || true
    wait "$spid" 2>/dev/null || true
    echo "$name $mode $out $cpu" >> "$work/echo"
}

declare -A BROKER
BROKERS=(ncrab ncat)
BROKER[ncrab]="$NCRAB --broker 127.0.0.1 PORT"
BROKER[ncat]="ncat -l --broker 127.0.0.1 PORT"
if [ -n "$BASE" ]; then
    BROKERS=(ncrab ncrab-base "${BROKERS[@]:1}")
    BROKER[ncrab-base]="$BASE --broker 127.0.0.1 PORT"
fi
src="$work/src.bin"
head -c "$SIZE" /dev/urandom > "$src"
cat "$src" > /dev/null

# One fan-out: NAME -> appends "name seconds peak_rss_kib".
fanout_run() {
    local name=$1 i
    port=$((port + 1))
    local b=${BROKER[$name]//PORT/$port}
    rm -f "$work/fifo"
    mkfifo "$work/fifo"
    exec 3<> "$work/fifo" # a writer, so the broker's open does not block
    # shellcheck disable=SC2086
    /usr/bin/time -f '%M' -o "$work/broker.time" $b < "$work/fifo" > /dev/null 2>&1 &
    local bpid=$!
    pids+=("$bpid")
    wait_listen "$port"
    local heads=()
    for i in $(seq 10); do
        nc.openbsd -d 127.0.0.1 "$port" | head -c "$SIZE" | wc -c > "$work/count.$i" &
        heads+=($!)
    done
    sleep 0.5 # every client connected
    local t0 t1
    t0=$EPOCHREALTIME
    cat "$src" >&3
    for h in "${heads[@]}"; do wait "$h" || true; done
    t1=$EPOCHREALTIME
    exec 3>&-
    # Stop the broker (/usr/bin/time's child); time then writes its line.
    local child
    child=$(pgrep -P "$bpid" || true)
    [ -n "$child" ] && kill "$child" 2>/dev/null
    wait "$bpid" 2>/dev/null || true
    for i in $(seq 10); do
        if [ "$(cat "$work/count.$i")" != "$SIZE" ]; then
            echo "BYTE COUNT MISMATCH: $name client $i: $(cat "$work/count.$i") of $SIZE"
            exit 1
        fi
    done
    local rss
    rss=$(tail -1 "$work/broker.time" 2>/dev/null | grep -E '^[0-9]+$' || echo 0)
    echo "$name $(echo "$t1 - $t0" | bc -l) $rss" >> "$work/fanout"
}

echo "== echo service: $SEQ sequential exchanges; $PAR clients x $PER in parallel; $ROUNDS rounds; $(nproc) cores, Linux $(uname -r)"
echo "== load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== versions: $(dpkg-query -W -f='${Package} ${Version}, ' ncat socat netcat-openbsd 2>/dev/null)ncrab $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(bench_base_version)"
n=${#SERVERS[@]}
for round in $(seq "$ROUNDS"); do
    for mode in seq par; do
        for i in $(seq 0 $((n - 1))); do
            echo_run "${SERVERS[$(((i + round) % n))]}" "$mode"
        done
    done
    for i in $(seq 0 $((${#BROKERS[@]} - 1))); do
        fanout_run "${BROKERS[$(((i + round) % ${#BROKERS[@]}))]}"
    done
done

python3 - "$work/echo" "$work/fanout" "$MIB" "$SEQ" "$((PAR * PER))" <<'PY'
import statistics, sys
echo = {}
n_ex = {"seq": int(sys.argv[4]), "par": int(sys.argv[5])}
for line in open(sys.argv[1]):
    name, mode, cps, p99, ticks = line.split()
    cpu_ms = float(ticks) * 10 / n_ex[mode]  # 100 ticks per second
    echo.setdefault((name, mode), []).append((float(cps), float(p99), cpu_ms))
print("\n== echo service (median of rounds; CPU: server and children, per exchange)")
w = max([8] + [len(name) for name, mode in echo])
print(f"{'server':{w}} {'mode':4} {'conn/s':>9} {'p99 ms':>8} {'CPU ms':>7}")
med = {}
for (name, mode), v in sorted(echo.items()):
    cps = statistics.median(x[0] for x in v)
    p99 = statistics.median(x[1] for x in v)
    cpu = statistics.median(x[2] for x in v)
    med[(name, mode)] = (cps, p99, cpu)
    shown = "n/a" if name == "ncat" else f"{cpu:.2f}"
    print(f"{name:{w}} {mode:4} {cps:9.1f} {p99:8.2f} {shown:>7}")
for mode in ("seq", "par"):
    for peer in ("ncat", "socat", "ncrab-base"):
        a, b = med.get(("ncrab", mode)), med.get((peer, mode))
        if a and b:
            cpu = "" if peer == "ncat" else f", CPU x{a[2] / max(b[2], 1e-9):.2f}"
            print(f"ncrab/{peer} {mode}: conn/s x{a[0] / b[0]:.2f} (higher is better), "
                  f"p99 x{a[1] / b[1]:.2f}{cpu} (lower is better)")
fan = {}
for line in open(sys.argv[2]):
    name, secs, rss = line.split()
    fan.setdefault(name, []).append((float(secs), int(rss)))
print(f"\n== broker fan-out: {sys.argv[3]} MiB from stdin to 10 clients (median of rounds)")
fm, fr = {}, {}
for name, v in sorted(fan.items()):
    s = statistics.median(x[0] for x in v)
    r = max(x[1] for x in v)
    fm[name], fr[name] = s, r
    print(f"{name:{w}} {s:7.2f} s  {int(sys.argv[3]) * 10 / s:8.1f} MiB/s delivered  peak RSS {r} KiB")
if "ncrab" in fm and "ncat" in fm:
    print(f"ncrab/ncat fan-out time: x{fm['ncrab'] / fm['ncat']:.2f} (lower is better)")
if "ncrab" in fm and "ncrab-base" in fm:
    print(f"ncrab/ncrab-base fan-out time: x{fm['ncrab'] / fm['ncrab-base']:.2f}, "
          f"peak RSS x{fr['ncrab'] / max(fr['ncrab-base'], 1):.2f} (lower is better)")
PY
