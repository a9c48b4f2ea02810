#!/bin/bash
# The demo: an echo server on xdptcp and one on the Linux kernel, the same load against each
# from a Linux peer namespace, both HdrHistogram reports, their ratio, and a chart.
# Run by `make demo` (which installs what is needed and builds first). Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=target/release/xdptcp
LAB=demo
OUT=bench/results
SECS=${DEMO_SECONDS:-5}
CONNS=${DEMO_CONNECTIONS:-16}
mkdir -p "$OUT"
WORK=$(mktemp -d)
cleanup() {
    pkill -INT -f "xdptcp serve --iface xdp0" 2>/dev/null || true
    pkill -INT -f "xdptcp serve --stack kernel" 2>/dev/null || true
    sleep 0.3
    $BIN lab down --name $LAB >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

start_server() { # args...; waits for the "serving" line
    ip netns exec $LAB-stack $BIN serve "$@" >"$WORK/server.log" 2>&1 &
    for _ in $(seq 200); do grep -q serving "$WORK/server.log" 2>/dev/null && return; sleep 0.05; done
    cat "$WORK/server.log"
    exit 1
}
stop_server() {
    pkill -INT -f "xdptcp serve" || true
    sleep 0.5
}
run_load() { # name
    ip netns exec $LAB-peer $BIN load --iface peer0 --cores 0 --target 10.77.1.2:7 \
        --workload echo --size 64 --connections "$CONNS" --duration "$SECS" \
        --hgrm "$OUT/demo-$1.hgrm" --summary "$WORK/$1.summary" --quiet | tee "$WORK/$1.txt"
}
value() { awk -v k="$2" '$1 == k { print $2 }' "$WORK/$1.summary"; }

$BIN lab up --name $LAB >/dev/null
echo "== echo server on xdptcp (AF_XDP), load from xdptcp on the Linux peer =="
start_server --iface xdp0 --port 7 --app echo --cores 1
run_load xdptcp
stop_server
echo
echo "== echo server on the Linux kernel (epoll), the same load =="
start_server --stack kernel --port 7 --app echo --cores 1
run_load kernel
stop_server
echo
awk -v xr="$(value xdptcp requests_per_second)" -v kr="$(value kernel requests_per_second)" \
    -v x50="$(value xdptcp p50_us)" -v k50="$(value kernel p50_us)" \
    -v x99="$(value xdptcp p99_us)" -v k99="$(value kernel p99_us)" \
    -v x999="$(value xdptcp p99_9_us)" -v k999="$(value kernel p99_9_us)" 'BEGIN {
    printf "== xdptcp server / Linux server ==\n"
    printf "  requests/s  %10.0f / %10.0f  = %.2fx\n", xr, kr, xr / kr
    printf "  p50 latency %8.1f µs / %8.1f µs = %.2fx\n", x50, k50, x50 / k50
    printf "  p99 latency %8.1f µs / %8.1f µs = %.2fx\n", x99, k99, x99 / k99
    printf "  p99.9       %8.1f µs / %8.1f µs = %.2fx\n", x999, k999, x999 / k999
}'
$BIN plot --out "$OUT/demo.svg" \
    --title "64-byte echo, $CONNS connections, closed loop ($SECS s each)" \
    "$OUT/demo-xdptcp.hgrm=xdptcp server" "$OUT/demo-kernel.hgrm=Linux kernel server"
