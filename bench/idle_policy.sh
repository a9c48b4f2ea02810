#!/bin/bash
# Measures the worker idle policies (busy-spin, poll, hybrid) on the veth lab: sockperf
# ping-pong latency and wrk HTTP throughput, with the server on core 1 and the Linux peer
# on core 0; then the same with more queues than cores (4 queues, 2 cores, workers unpinned).
# Prints a Markdown table. Run as root: bench/idle_policy.sh [seconds-per-run]
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-5}
BIN=target/release/xdptcp
cargo build --release --quiet
LAB=idlebench
STACK=$LAB-stack
PEER=$LAB-peer
trap '$BIN lab down --name $LAB >/dev/null 2>&1 || true; pkill -INT -f "xdptcp serve --iface xdp0" || true' EXIT

serve() { # queues cores policy app port  (policy: spin, poll, hybrid or hybrid:<spin µs>)
    local cores=() policy=$3 spin=()
    [ -n "$2" ] && cores=(--cores "$2")
    if [[ $policy == hybrid:* ]]; then spin=(--spin-us "${policy#hybrid:}"); policy=hybrid; fi
    ip netns exec $STACK $BIN serve --iface xdp0 --queues "$1" "${cores[@]}" --idle "$policy" "${spin[@]}" \
        --app "$4" --port "$5" >/tmp/idlebench-serve.log 2>&1 &
    for _ in $(seq 100); do grep -q serving /tmp/idlebench-serve.log 2>/dev/null && return; sleep 0.05; done
    cat /tmp/idlebench-serve.log; exit 1
}
stop() { pkill -INT -f "xdptcp serve --iface xdp0"; sleep 0.5; }

latency() { # prints "p50 p99 p99.9" in µs round trip (sockperf reports half round trips)
    ip netns exec $PEER taskset -c 0 sockperf ping-pong --tcp -i 10.77.1.2 -p 11111 -t "$SECS" 2>&1 |
        awk '/percentile 50.000/ {p50=$NF} /percentile 99.000/ {p99=$NF} /percentile 99.900/ {p999=$NF}
             END {printf "%.1f %.1f %.1f", 2*p50, 2*p99, 2*p999}'
}
throughput() { # requests/s
    ip netns exec $PEER taskset -c 0 wrk -t 1 -c 32 -d "$SECS" http://10.77.1.2:8080/ 2>&1 |
        awk '/Requests\/sec/ {printf "%d", $2}'
}

run_case() { # queues cores policy
    serve "$1" "$2" "$3" sockperf 11111
    read -r p50 p99 p999 <<<"$(latency)"
    stop
    serve "$1" "$2" "$3" http 8080
    local rps
    rps=$(throughput)
    stop
    printf "| %s | %s | %s | %s | %s | %s | %s |\n" "$1" "${2:-any}" "$3" "$p50" "$p99" "$p999" "$rps"
}

echo "| queues | server cores | idle policy | RTT p50 µs | RTT p99 µs | RTT p99.9 µs | HTTP req/s (wrk -c 32) |"
echo "|---|---|---|---|---|---|---|"
$BIN lab up --name $LAB --queues 1 >/dev/null
POLICIES=${POLICIES:-spin poll hybrid:50 hybrid:200 hybrid:1000}
for policy in $POLICIES; do run_case 1 1 "$policy"; done
$BIN lab down --name $LAB >/dev/null
$BIN lab up --name $LAB --queues 4 >/dev/null
for policy in $POLICIES; do run_case 4 "" "$policy"; done
