#!/bin/bash
# Requests/s and connections/s of one xdptcp server with 1 and then 2 workers (queues) on
# the lab's two-queue veth, from `xdptcp load` in the peer namespace: 64 connections of
# 64-byte echo, closed loop, and the connect workload (an HTTP request per connection).
# Prints a markdown table (per worker too); REPS repetitions (3), the median reported.
# Needs root. The load generator runs on the same machine: on two cores it competes with
# the server's workers for CPU, which the table's per-core column does not subtract.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lab-lib.sh
NAME=xworkers
REPS=${REPS:-3}
SECONDS_OF_LOAD=${SECONDS_OF_LOAD:-5}
SERVER=
bench_stop_processes() {
	[ -z "$SERVER" ] || { kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null; }
}
bench_begin $NAME
"$BIN" lab up --name $NAME --queues 2 >/dev/null

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
field() { awk -v k="$1" '$1 == k {print $2}' "$2"; }

printf '[[listen]]\nport = 7\napp = "echo"\n\n[[listen]]\nport = 8080\napp = "http"\n' >"$WORK/serve.toml"
serve() {
	ip netns exec $NAME-stack "$BIN" serve --iface xdp0 --queues "$1" --config "$WORK/serve.toml" \
		>"$WORK/server.log" 2>&1 &
	SERVER=$!
	for _ in $(seq 100); do grep -q serving "$WORK/server.log" && return; sleep 0.1; done
	cat "$WORK/server.log" >&2
	exit 1
}
stop() { kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=; }
load() {
	ip netns exec $NAME-peer "$BIN" load --iface peer0 --quiet --duration "$SECONDS_OF_LOAD" \
		--summary "$WORK/s" "$@" >/dev/null 2>&1
	field requests_per_second "$WORK/s"
}

echo "| workers | echo requests/s (64 conns) | per worker | connections/s | per worker |"
echo "|---:|---:|---:|---:|---:|"
for workers in 1 2; do
	serve $workers
	rpc=$(for _ in $(seq "$REPS"); do load --target 10.77.1.2:7 --connections 64; done | median)
	conn=$(for _ in $(seq "$REPS"); do
		load --target 10.77.1.2:8080 --workload connect --connections 16
	done | median)
	stop
	awk -v w=$workers -v r="$rpc" -v c="$conn" 'BEGIN {
		printf "| %d | %.0f | %.0f | %.0f | %.0f |\n", w, r, r / w, c, c / w }'
done
