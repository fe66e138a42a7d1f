#!/usr/bin/env bash
# TLS benchmark (issue 14), one script, one run:
#
#  - SIZE bytes over TLS on 127.0.0.1 into /dev/null, the sender's stdin a
#    regular file and a pipe (`head -c SIZE /dev/zero |`), for ncrab -c,
#    ncat --ssl and socat OPENSSL, each program on both sides, all with
#    TLS 1.3 and AES-128-GCM (ncrab: -T ciphers=; the OpenSSL peers: an
#    OPENSSL_CONF whose Ciphersuites is TLS_AES_128_GCM_SHA256). Rounds
#    alternate the programs (the order rotates each round); the median
#    round is shown. Wall time runs from the sender's start to the
#    receiver's exit; CPU time is user+system of both sides; peak RSS is
#    each side's own (/usr/bin/time). Plain ncrab (no TLS) runs alongside
#    for the RSS target.
#  - Byte counts: one more run per program and kind of stdin, received into
#    `wc -c`, must deliver exactly SIZE bytes.
#  - One exchange as a whole process: `printf x | CLIENT` against one TLS
#    echo server (python3's ssl, a thread per connection: it answers the
#    first read, then close_notify), many times, alternating the clients;
#    the median time per exchange.
#  - Ratios of ncrab to each peer, and the issue's targets.
#  - A/B: with NCRAB_BASE=/path/to/an/older/ncrab, that binary runs with
#    ncrab's command lines, TLS as ncrab-base and plain as plain-base, in
#    the same rounds (transfers, byte counts and exchanges), and
#    ncrab/ncrab-base ratios are printed beside the peers'.
#
# It runs in a private network namespace with only loopback when it can
# (root and iproute2), installs missing peers with apt-get, makes its
# certificates with openssl, and builds ncrab with `cargo build --release`
# (honouring CARGO_TARGET_DIR).
#
# usage: bench/tls.sh [SIZE_MIB [ROUNDS [EXCHANGES]]]   (1024 3 100)
set -euo pipefail
cd "$(dirname "$0")/.."
MIB="${1:-1024}"
ROUNDS="${2:-3}"
EXCHANGES="${3:-100}"
SIZE=$((MIB * 1024 * 1024))

. bench/common.sh
bench_base
bench_need ncat=ncat socat=socat openssl=openssl python3=python3 bc=bc /usr/bin/time=time
bench_in_netns ncrab-tlsbench "$@"
bench_build
bench_workdir
src="$work/src.bin"
head -c "$SIZE" /dev/zero > "$src"
cat "$src" > /dev/null # in the page cache, as it will stay
port=21000

# A CA and a server certificate for 127.0.0.1 (P-256, as a web server's).
(
    cd "$work"
    ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
    openssl req -x509 "${ec[@]}" -keyout ca.key -out ca.pem -days 2 -subj /CN=bench-ca 2>/dev/null
    openssl req "${ec[@]}" -keyout srv.key -out srv.csr -subj /CN=127.0.0.1 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n' > ext
    openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem -days 2 -extfile ext 2>/dev/null
)
CA="$work/ca.pem" CERT="$work/srv.pem" KEY="$work/srv.key"
# The OpenSSL peers: TLS 1.3 with AES-128-GCM only.
cat > "$work/openssl.cnf" <<EOF
openssl_conf = default_conf
[default_conf]
ssl_conf = ssl_sect
[ssl_sect]
system_default = system_default_sect
[system_default_sect]
MinProtocol = TLSv1.3
Ciphersuites = TLS_AES_128_GCM_SHA256
EOF
export OPENSSL_CONF="$work/openssl.cnf"

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

AES="-T ciphers=TLS_AES_128_GCM_SHA256 -T protocols=tlsv1.3"
declare -A RECV SEND
PROGS=(ncrab ncat socat)
RECV[ncrab]="$NCRAB -lc $AES --tls-cert $CERT -K $KEY 127.0.0.1 PORT"
SEND[ncrab]="$NCRAB -c -N $AES -R $CA 127.0.0.1 PORT"
RECV[ncat]="ncat -l --ssl --ssl-cert $CERT --ssl-key $KEY 127.0.0.1 PORT"
SEND[ncat]="ncat --ssl --send-only 127.0.0.1 PORT"
RECV[socat]="socat -u OPENSSL-LISTEN:PORT,bind=127.0.0.1,reuseaddr,cert=$CERT,key=$KEY,verify=0 STDOUT"
SEND[socat]="socat -u STDIN OPENSSL:127.0.0.1:PORT,cafile=$CA"
# Plain ncrab, for the RSS target only.
RECV[plain]="$NCRAB -l 127.0.0.1 PORT"
SEND[plain]="$NCRAB -N 127.0.0.1 PORT"
# The older build: ncrab's command lines, next to ncrab in the rotation.
PLAIN=(plain)
if [ -n "$BASE" ]; then
    PROGS=(ncrab ncrab-base "${PROGS[@]:1}")
    PLAIN+=(plain-base)
    RECV[ncrab-base]="$BASE -lc $AES --tls-cert $CERT -K $KEY 127.0.0.1 PORT"
    SEND[ncrab-base]="$BASE -c -N $AES -R $CA 127.0.0.1 PORT"
    RECV[plain-base]="$BASE -l 127.0.0.1 PORT"
    SEND[plain-base]="$BASE -N 127.0.0.1 PORT"
fi

measure() {
    local name=$1 mode=$2
    port=$((port + 1))
    local r=${RECV[$name]//PORT/$port} s=${SEND[$name]//PORT/$port}
    # shellcheck disable=SC2086
    /usr/bin/time -f '%U %S %M' -o "$work/recv.time" $r < /dev/null > /dev/null 2> "$work/recv.err" &
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

check() {
    local name=$1 mode=$2
    port=$((port + 1))
    local r=${RECV[$name]//PORT/$port} s=${SEND[$name]//PORT/$port}
    # shellcheck disable=SC2086
    $r < /dev/null 2> "$work/recv.err" | wc -c > "$work/count" &
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
    elif [ "$name" = ncrab ] || [ "$name" = ncrab-base ]; then
        echo "BYTE COUNT MISMATCH: $name ($mode stdin): got $n of $SIZE"
        cat "$work/recv.err"
        exit 1
    else
        # A peer's own loss is reported, not fatal: its figures stand.
        echo "byte count: $name ($mode stdin) delivered $n of $SIZE: $(head -c 200 "$work/recv.err")"
    fi
}

echo "== $MIB MiB over TLS 1.3 AES-128-GCM on 127.0.0.1 to /dev/null, $ROUNDS rounds; $(nproc) cores, Linux $(uname -r)"
echo "== load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== versions: $(dpkg-query -W -f='${Package} ${Version}, ' ncat socat openssl 2>/dev/null)ncrab $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(bench_base_version)"
for mode in file pipe; do
    for name in "${PROGS[@]}"; do check "$name" "$mode"; done
done

ALL=("${PROGS[@]}" "${PLAIN[@]}")
n=${#ALL[@]}
for round in $(seq "$ROUNDS"); do
    for mode in file pipe; do
        for i in $(seq 0 $((n - 1))); do
            measure "${ALL[$(((i + round) % n))]}" "$mode"
        done
    done
done

echo "== one exchange: printf x | CLIENT against a TLS echo server, $EXCHANGES times each"
port=$((port + 1))
python3 - "$port" "$CERT" "$KEY" <<'PY' &
import socket, ssl, sys, threading
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[2], sys.argv[3])
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", int(sys.argv[1])))
ls.listen(64)
def serve(c):
    try:
        s = ctx.wrap_socket(c, server_side=True)
        s.sendall(s.recv(65536))
        s.unwrap()
    except Exception:
        pass
    finally:
        c.close()
while True:
    c, _ = ls.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
pids+=($!)
wait_listen "$port"
declare -A ONE
ONE[ncrab]="$NCRAB -c -N -R $CA 127.0.0.1 $port"
ONE[ncat]="ncat --ssl 127.0.0.1 $port"
ONE[socat]="socat - OPENSSL:127.0.0.1:$port,cafile=$CA"
[ -z "$BASE" ] || ONE[ncrab-base]="$BASE -c -N -R $CA 127.0.0.1 $port"
for i in $(seq "$EXCHANGES"); do
    for name in "${PROGS[@]}"; do
        t0=$EPOCHREALTIME
        # shellcheck disable=SC2086
        out=$(printf x | ${ONE[$name]} 2>/dev/null)
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
label = lambda name: {"plain": "ncrab (plain, no TLS)", "plain-base": "ncrab-base (plain)"}.get(name, name)
print(f"\n{'program (both sides)':22} {'stdin':5} {'wall':>7} {'GiB/s':>6} {'cpu send':>9} {'cpu recv':>9} {'cpu/GiB':>8} {'rss send':>9} {'rss recv':>9}")
for (name, mode), v in sorted(runs.items()):
    med = lambda i: st.median(x[i] for x in v)
    wall, s, r = med(0), med(1), med(2)
    srss, rrss = max(x[3] for x in v), max(x[4] for x in v)
    rows[(name, mode)] = (wall, (s + r) / gib, srss, rrss)
    print(f"{label(name):22} {mode:5} {wall:6.2f}s {gib / wall:6.2f} {s:8.2f}s {r:8.2f}s {(s + r) / gib:7.2f}s {srss:6d}KiB {rrss:6d}KiB")
w = max([8] + [len(label(n)) for n, m in rows if n != "plain"])
ratio = lambda a, b: f"x{a / b:.2f}" if b else "n/a"  # no CPU time counted at small sizes
print("\n== ncrab / peer (throughput > 1: ncrab faster; cpu < 1: ncrab uses less)")
for (name, mode), (wall, cpu, srss, rrss) in sorted(rows.items()):
    if name in ("ncrab", "plain"):
        continue
    nw, ncpu, ns, nr = rows[("plain" if name == "plain-base" else "ncrab", mode)]
    print(f"vs {label(name):{w}} {mode:5} throughput x{wall / nw:.2f}  cpu/GiB {ratio(ncpu, cpu)}  peak rss send x{ns / srss:.2f} recv x{nr / rrss:.2f}")
ex = defaultdict(list)
for line in open(sys.argv[2]):
    name, us = line.split()
    ex[name].append(float(us))
print("\n== one exchange (median, µs):", ", ".join(f"{k} {st.median(v):.0f}" for k, v in ex.items()))
if "ncrab-base" in ex:
    b = st.median(ex["ncrab"]) / st.median(ex["ncrab-base"])
    print(f"one exchange ncrab / ncrab-base: x{b:.2f} of its time (< 1: ncrab faster)")
print("\n== targets")
ok = lambda b: "met" if b else "NOT met"
me = lambda m: rows[("ncrab", m)]
for m in ("file", "pipe"):
    peers = [(rows[(n, m)][0], n) for n in ("ncat", "socat")]
    best = min(peers)
    t = best[0] / me(m)[0]
    print(f"throughput ({m}) >= 2x the fastest peer ({best[1]}): x{t:.2f} {ok(t >= 2)}")
    cpus = [(rows[(n, m)][1], n) for n in ("ncat", "socat")]
    lo = min(cpus)
    print(f"cpu/GiB ({m}) lowest: ncrab {me(m)[1]:.2f}s, lowest peer {lo[1]} {lo[0]:.2f}s {ok(me(m)[1] < lo[0])}")
    plain = rows[("plain", m)]
    rs = max(me(m)[2] / plain[2], me(m)[3] / plain[3])
    print(f"peak rss ({m}) <= 2x plain ncrab (worse side): x{rs:.2f} {ok(rs <= 2)}")
fastest = min((st.median(v), k) for k, v in ex.items() if k not in ("ncrab", "ncrab-base"))
e = st.median(ex["ncrab"]) / fastest[0]
print(f"one exchange no slower than the fastest peer ({fastest[1]}): x{e:.2f} of its time {ok(e <= 1.0)}")
PY
