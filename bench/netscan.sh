#!/usr/bin/env bash
# Network scan benchmark (issue 17): a /24 behind a slow, lossy router.
#
#   client ns C  --veth--  router ns R  --veth--  hosts ns H
#   10.89.0.2            10.89.0.1 | 10.91.0.1    10.91.0.2, 10.90.0.1-130 on lo
#
# In R, everything bound for 10.90.0.0/24 or coming back from H is routed
# into the TUN device tunA; bench/delaynet.c reads it, drops 0.5 % and
# writes each packet into tunB 20 ms +- 5 ms later; policy routing sends
# what comes in on tunB to its real next hop. So every packet crosses the
# forwarder once (a round trip of about 40 ms).
#
# H owns 10.90.0.1-130: .1-.30 are "up" (1-5 open ports each among 1-1000,
# the rest RST), .31-.130 RST every port; .131-.254 are a blackhole route
# in H (SYNs are dropped silently). The scan: 10.90.0.0/24, ports 1-1000.
#
# Tools, one run each (A/B alternated: ncrab, nmap, ncrab, nmap...):
#   ncrab -z -w auto | ncrab -z -w 1 | nmap -sT -Pn -n -T4 (and --max-retries 0)
#   RustScan -a CIDR -r 1-1000 -t 1000 -b 4500 -g --scripts none
#   nc.openbsd -z -w 1 in a shell loop (time-boxed per host class, extrapolated)
# and a single-host full-range scan on loopback (ncrab vs RustScan).
# Reported: wall, CPU (user+sys), peak RSS, and the open ports each found
# compared with the listeners (misses and extras listed).
#
# Needs root. Traffic stays in the namespaces it creates (deleted on exit).
# Usage: bench/netscan.sh [TIMEBOX_SECONDS]   (per nmap run, default 600)
set -euo pipefail
cd "$(dirname "$0")/.."

TIMEBOX="${1:-600}"
TAG="nsb$$"
C="$TAG-c" R="$TAG-r" H="$TAG-h" L="$TAG-l"
TMP="$(mktemp -d)"
PIDS=()
OLD_BACKLOG="$(cat /proc/sys/net/core/netdev_max_backlog)"
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    echo "$OLD_BACKLOG" >/proc/sys/net/core/netdev_max_backlog
    sleep 0.2
    for ns in "$C" "$R" "$H" "$L"; do ip netns del "$ns" 2>/dev/null || true; done
    rm -rf "$TMP"
}
trap cleanup EXIT

# --- tools ------------------------------------------------------------------
need=()
command -v nc.openbsd >/dev/null 2>&1 || need+=(netcat-openbsd)
command -v nmap >/dev/null 2>&1 || need+=(nmap)
[ -x /usr/bin/time ] || need+=(time)
if [ "${#need[@]}" -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null
fi
RUSTSCAN="$(command -v rustscan || true)"
[ -z "$RUSTSCAN" ] && [ -x "$HOME/.cargo/bin/rustscan" ] && RUSTSCAN="$HOME/.cargo/bin/rustscan"
if [ -z "$RUSTSCAN" ]; then
    echo "installing RustScan (cargo install rustscan; this compiles for a long time)"
    cargo install rustscan --locked -q
    RUSTSCAN="$HOME/.cargo/bin/rustscan"
fi
cargo build --release -q
NCRAB="$(pwd)/${CARGO_TARGET_DIR:-target}/release/ncrab"
cc -O2 -o "$TMP/delaynet" bench/delaynet.c

# --- the network ------------------------------------------------------------
# veth and TUN hand packets to the kernel through the per-CPU backlog,
# 1000 packets by default: a scanner's burst of SYNs would be dropped there,
# on top of the 0.5 % the link is meant to lose. A deep queue, as a router
# has (restored on exit).
echo 100000 >/proc/sys/net/core/netdev_max_backlog
for ns in "$C" "$R" "$H"; do ip netns add "$ns"; ip -n "$ns" link set lo up; done
ip -n "$C" link add c0 type veth peer name r0 netns "$R"
ip -n "$R" link add r1 type veth peer name h0 netns "$H"
ip -n "$C" addr add 10.89.0.2/24 dev c0
ip -n "$C" link set c0 up
ip -n "$C" route add 10.90.0.0/24 via 10.89.0.1
ip -n "$R" addr add 10.89.0.1/24 dev r0
ip -n "$R" addr add 10.91.0.1/30 dev r1
ip -n "$R" link set r0 up
ip -n "$R" link set r1 up
ip -n "$H" addr add 10.91.0.2/30 dev h0
ip -n "$H" link set h0 up
ip -n "$H" route add 10.89.0.0/24 via 10.91.0.1
ip netns exec "$R" "$TMP/delaynet" tunA tunB 20 5 5 17 2>"$TMP/delaynet.log" &
DPID=$!
PIDS+=("$DPID")
for _ in $(seq 50); do ip -n "$R" link show tunB >/dev/null 2>&1 && break; sleep 0.05; done
# Deep device queues too: the forwarder, not a queue in front of it,
# decides what is lost.
ip -n "$R" link set tunA txqueuelen 100000 up
ip -n "$R" link set tunB txqueuelen 100000 up
ip netns exec "$R" sysctl -qw net.ipv4.ip_forward=1
for i in all default r0 r1 tunA tunB; do ip netns exec "$R" sysctl -qw "net.ipv4.conf.$i.rp_filter=0"; done
ip -n "$R" route add 10.90.0.0/24 dev tunA
ip -n "$R" rule add iif tunB lookup 100 pref 90
ip -n "$R" route add 10.90.0.0/24 via 10.91.0.2 dev r1 table 100
ip -n "$R" route add 10.89.0.0/24 dev r0 table 100
ip -n "$R" rule add iif r1 lookup 101 pref 100
ip -n "$R" route add 10.89.0.0/24 dev tunA table 101
for i in $(seq 1 130); do ip -n "$H" addr add "10.90.0.$i/32" dev lo; done
ip -n "$H" route add blackhole 10.90.0.0/24
# The scanning side: enough ports and descriptors for thousands of probes.
ip netns exec "$C" sysctl -qw net.ipv4.ip_local_port_range="10000 65000"
ip netns exec "$H" sysctl -qw net.core.somaxconn=4096

# Open ports: host .i (1..30) gets 1 + i % 5 ports in 1..1000 (seeded).
python3 - "$TMP/open.txt" <<'EOF'
import random, sys
rnd = random.Random(17)
with open(sys.argv[1], "w") as f:
    for i in range(1, 31):
        for p in sorted(rnd.sample(range(1, 1001), 1 + i % 5)):
            f.write(f"10.90.0.{i} {p}\n")
EOF
cat >"$TMP/listen.py" <<'EOF'
import selectors, socket, sys
sel = selectors.DefaultSelector()
for line in open(sys.argv[1]):
    ip, port = line.split()
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((ip, int(port)))
    s.listen(4096)
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ)
print("ready", flush=True)
while True:
    for key, _ in sel.select():
        try:
            c, _ = key.fileobj.accept()
            c.close()
        except OSError:
            pass
EOF
ip netns exec "$H" python3 "$TMP/listen.py" "$TMP/open.txt" >"$TMP/listen.log" 2>&1 &
PIDS+=("$!")
for _ in $(seq 100); do grep -q ready "$TMP/listen.log" 2>/dev/null && break; sleep 0.05; done
sort "$TMP/open.txt" >"$TMP/want.txt"
echo "$(wc -l <"$TMP/want.txt") open ports on 30 hosts; 100 hosts RST; 124 drop; $(nproc) CPUs; $(uname -r)"

# --- measuring ----------------------------------------------------------------
# run NAME LIMIT CMD...: in C, time-boxed; wall, CPU, peak RSS to NAME.stat
run() {
    local name="$1" limit="$2"; shift 2
    echo "running $name" >&2
    /usr/bin/time -f "%e %U %S %M %x" -o "$TMP/$name.stat" \
        timeout -s INT "$limit" ip netns exec "$C" "$@" >"$TMP/$name.out" 2>&1 || true
}
stat_of() { cat "$TMP/$1.stat" | tail -1; }
found_nc() { sed -n 's/^Connection to \([^ ]*\) \([0-9]*\) port .* succeeded!$/\1 \2/p' "$1"; }
found_nmap() {
    awk '/^Host:/ && /Ports:/ { ip = $2; n = split($0, a, /Ports: /); m = split(a[2], ps, /, /);
        for (i = 1; i <= m; i++) { split(ps[i], f, "/"); if (f[2] == "open") print ip, f[1] } }' "$1"
}
found_rustscan() {
    sed -n 's/^\([0-9.]*\) -> \[\(.*\)\]$/\1 \2/p' "$1" | while read -r ip ports; do
        tr ',' '\n' <<<"$ports" | sed "s/^/$ip /"
    done
}
compare() {  # NAME FINDER
    "$2" "$TMP/$1.out" | sort -u >"$TMP/$1.found"
    local miss extra
    miss=$(comm -23 "$TMP/want.txt" "$TMP/$1.found" | tr '\n' ',' | sed 's/,$//')
    extra=$(comm -13 "$TMP/want.txt" "$TMP/$1.found" | tr '\n' ',' | sed 's/,$//')
    if [ -z "$miss$extra" ]; then echo "exact"; else echo "missed [$miss] extra [$extra]"; fi
}
row() {  # LABEL NAME FINDER
    read -r wall user sys rss code <<<"$(stat_of "$2")"
    local cpu; cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
    printf '| %-44s | %8s | %7s | %9s | %s |\n' "$1" "$wall" "$cpu" "$rss" "$(compare "$2" "$3")"
}

# --- the runs (ncrab and its peers alternated) ---------------------------------
run ncrab_auto 600 "$NCRAB" -zv -w auto 10.90.0.0/24 1-1000
run nmap "$TIMEBOX" nmap -sT -Pn -n -T4 -p 1-1000 -oG - 10.90.0.0/24
run ncrab_w1 600 "$NCRAB" -zv -w 1 10.90.0.0/24 1-1000
run nmap_r0 "$TIMEBOX" nmap -sT -Pn -n -T4 --max-retries 0 -p 1-1000 -oG - 10.90.0.0/24
run rustscan 600 "$RUSTSCAN" -a 10.90.0.0/24 -r 1-1000 -t 1000 -b 4500 -g --scripts none
run ncrab_auto2 600 "$NCRAB" -zv -w auto 10.90.0.0/24 1-1000

# nc.openbsd, one host at a time as a shell loop would: time one host of each
# kind (an up host, a RST host in full; a dropping host over 10 ports), then
# extrapolate to 30 + 100 + 124 hosts x 1000 ports.
run nc_up 300 nc.openbsd -zv -w 1 10.90.0.1 1-1000
run nc_rst 300 nc.openbsd -zv -w 1 10.90.0.31 1-1000
run nc_drop 60 nc.openbsd -zv -w 1 10.90.0.200 1-10
kill -USR1 "$DPID"; sleep 0.2

wall() { stat_of "$1" | cut -d' ' -f1; }
NC_EST=$(awk -v u="$(wall nc_up)" -v r="$(wall nc_rst)" -v d="$(wall nc_drop)" \
    'BEGIN { printf "%.0f", 30 * u + 100 * r + 124 * d * 100 }')

echo
echo "## 10.90.0.0/24, ports 1-1000 (20 ms +- 5 ms each way, 0.5 % loss)"
echo
echo "| tool | wall (s) | CPU (s) | peak RSS (KiB) | open ports found |"
echo "|---|---:|---:|---:|---|"
row "ncrab -z -w auto (1st)" ncrab_auto found_nc
row "ncrab -z -w auto (2nd)" ncrab_auto2 found_nc
row "ncrab -z -w 1" ncrab_w1 found_nc
row "nmap -sT -Pn -n -T4" nmap found_nmap
row "nmap -sT -Pn -n -T4 --max-retries 0" nmap_r0 found_nmap
row "rustscan -t 1000 -b 4500" rustscan found_rustscan
grep '^10.90.0.1 ' "$TMP/want.txt" >"$TMP/want1.txt"
found_nc "$TMP/nc_up.out" | sort -u >"$TMP/nc_up.found"
NC_UP="$(if cmp -s "$TMP/want1.txt" "$TMP/nc_up.found"; then echo exact; else echo "missed [$(comm -23 "$TMP/want1.txt" "$TMP/nc_up.found" | tr '\n' ,)]"; fi)"
echo "| nc.openbsd -z -w 1, shell loop (extrapolated) | ~$NC_EST | | | on 10.90.0.1: $NC_UP |"
echo
echo "nc.openbsd per host: up $(wall nc_up) s, RST $(wall nc_rst) s, drop $(wall nc_drop) s per 10 ports"
echo "timed out runs (exit 124 from timeout): $(grep -l ' 124$' "$TMP"/*.stat 2>/dev/null | xargs -r -n1 basename | tr '\n' ' ')"
ratio() { awk -v a="$(wall "$1")" -v b="$(wall "$2")" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "-" }'; }
echo "ratios: ncrab auto/nmap = $(ratio ncrab_auto nmap), ncrab -w1/nmap = $(ratio ncrab_w1 nmap)," \
    "ncrab auto/nmap r0 = $(ratio ncrab_auto nmap_r0), ncrab auto/rustscan = $(ratio ncrab_auto rustscan)," \
    "ncrab -w1/rustscan = $(ratio ncrab_w1 rustscan)"
cat "$TMP/delaynet.log"

# --- single host, full range, loopback ------------------------------------------
ip netns add "$L"
ip -n "$L" link set lo up
for p in 22 8080 40000; do
    ip netns exec "$L" "$NCRAB" -lk 127.0.0.1 "$p" </dev/null >/dev/null 2>&1 &
    PIDS+=("$!")
done
sleep 0.5
runl() { local name="$1"; shift
    /usr/bin/time -f "%e %U %S %M %x" -o "$TMP/$name.stat" ip netns exec "$L" "$@" >"$TMP/$name.out" 2>&1 || true; }
for i in 1 2 3; do
    runl "l_ncrab$i" "$NCRAB" -zv 127.0.0.1 1-65535
    runl "l_rustscan$i" "$RUSTSCAN" -a 127.0.0.1 -r 1-65535 -t 1000 -b 4500 -g --scripts none
done
echo
echo "## 127.0.0.1, ports 1-65535 (3 listeners), 3 runs alternated"
echo
echo "| tool | wall (s) | CPU (s) | peak RSS (KiB) | open ports found |"
echo "|---|---:|---:|---:|---|"
printf '127.0.0.1 22\n127.0.0.1 40000\n127.0.0.1 8080\n' >"$TMP/want.txt"
for i in 1 2 3; do
    row "ncrab -z (run $i)" "l_ncrab$i" found_nc
    row "rustscan -b 4500 -t 1000 (run $i)" "l_rustscan$i" found_rustscan
done
