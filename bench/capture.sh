#!/bin/bash
# What a running `xdptcp capture` costs the workers: 64-byte echo from `xdptcp load` in the
# peer namespace against one xdptcp server (one queue, pinned to SERVER_CORE; the load on
# LOAD_CORE), with no capture, with `capture -w FILE` taking every frame, and with
# `capture --port 1` (a filter that matches nothing: the per-frame test without the copy).
# Two workloads: 64 connections (requests/s) and 1 connection (p99 round trip).
#
# The variants alternate within each repetition and their order rotates from one
# repetition to the next, so the drift of a shared machine (up to a quarter here) hits them
# alike. Prints a markdown table: median and min-max of each variant over REPS repetitions,
# and the ratio of the medians to no capture. Needs root.
#
#   bench/capture.sh [OUT_DIR]      default: bench/results/capture
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lab-lib.sh
NAME=xcapture
REPS=${REPS:-5}
SECONDS_OF_LOAD=${SECONDS_OF_LOAD:-5}
SERVER_CORE=${SERVER_CORE:-1}
LOAD_CORE=${LOAD_CORE:-0}
OUT=${1:-bench/results/capture}
SERVER="" CAPTURE=""
bench_stop_processes() {
	[ -z "$CAPTURE" ] || { kill -INT "$CAPTURE" 2>/dev/null && wait "$CAPTURE" 2>/dev/null; }
	[ -z "$SERVER" ] || { kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null; }
}
bench_begin $NAME
mkdir -p "$OUT"
SOCKET=$WORK/mgmt.sock
"$BIN" lab up --name $NAME >/dev/null

ip netns exec $NAME-stack "$BIN" serve --iface xdp0 --port 7 --app echo --cores "$SERVER_CORE" \
	--management-socket "$SOCKET" >"$WORK/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 100); do grep -q "Ctrl-C stops" "$WORK/server.log" && break; sleep 0.1; done
grep -q "Ctrl-C stops" "$WORK/server.log" || { cat "$WORK/server.log" >&2; exit 1; }

field() { awk -v k="$1" '$1 == k {print $2}' "$2"; }

# capture_start none|all|nomatch; capture_stop leaves the capture's last line in note.
capture_start() {
	case "$1" in
		none) return ;;
		all) set -- ;;
		nomatch) set -- --port 1 ;;
	esac
	# The server ends a capture when it notices its reader gone: the next may be refused
	# ("another capture ... is running") for a moment after the last ended.
	for _ in $(seq 20); do
		ip netns exec $NAME-stack "$BIN" capture --socket "$SOCKET" -w "$WORK/c.pcap" "$@" \
			>"$WORK/capture.log" 2>&1 &
		CAPTURE=$!
		for _ in $(seq 50); do
			grep -q "capturing on" "$WORK/capture.log" && return
			kill -0 "$CAPTURE" 2>/dev/null || break
			sleep 0.1
		done
		wait "$CAPTURE" || true
		CAPTURE=""
		grep -q "another capture" "$WORK/capture.log" || break
		sleep 0.2
	done
	cat "$WORK/capture.log" >&2
	exit 1
}
# (Not in a command substitution: its subshell could not wait for the capture.)
capture_stop() {
	[ -n "$CAPTURE" ] || { echo "-" >"$WORK/note"; return; }
	kill -INT "$CAPTURE"
	wait "$CAPTURE" || true
	CAPTURE=""
	tail -n 1 "$WORK/capture.log" | sed 's/^\^C//' >"$WORK/note"
	rm -f "$WORK/c.pcap"
}

# One run: variant, connections; appends "workload variant rep rps p99_us note" to runs.
run() {
	local variant=$1 connections=$2 rep=$3 note
	capture_start "$variant"
	ip netns exec $NAME-peer taskset -c "$LOAD_CORE" "$BIN" load --iface peer0 --quiet \
		--target 10.77.1.2:7 --workload echo --size 64 --connections "$connections" \
		--duration "$SECONDS_OF_LOAD" --summary "$WORK/s" >/dev/null 2>&1
	capture_stop
	note=$(cat "$WORK/note")
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$connections" "$variant" "$rep" \
		"$(field requests_per_second "$WORK/s")" "$(field p99_us "$WORK/s")" "$note" >>"$OUT/runs.tsv"
}

printf 'connections\tvariant\trep\trequests_per_second\tp99_us\tcapture\n' >"$OUT/runs.tsv"
VARIANTS=(none all nomatch)
for rep in $(seq "$REPS"); do
	for connections in 64 1; do
		for i in 0 1 2; do
			run "${VARIANTS[$(((i + rep) % 3))]}" "$connections" "$rep"
		done
	done
done

python3 - "$OUT/runs.tsv" <<'EOF' | tee "$OUT/capture.md"
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
names = {"none": "no capture", "all": "capture -w (every frame)", "nomatch": "capture --port 1 (none match)"}
def spread(values, fmt):
    return f"{fmt(statistics.median(values))} ({fmt(min(values))}-{fmt(max(values))})"
reps = len({r["rep"] for r in rows})
print(f"64-byte echo, `xdptcp load` against one xdptcp worker; median (min-max) of {reps} repetitions, variants alternating.\n")
print("| connections | variant | requests/s | ratio | p99 µs | ratio | per-rep ratio of requests/s (min-max) |")
print("|---:|---|---:|---:|---:|---:|---:|")
for conns in ("64", "1"):
    base = [r for r in rows if r["connections"] == conns and r["variant"] == "none"]
    by_rep = {r["rep"]: float(r["requests_per_second"]) for r in base}
    b_rps = statistics.median(float(r["requests_per_second"]) for r in base)
    b_p99 = statistics.median(float(r["p99_us"]) for r in base)
    for v in ("none", "all", "nomatch"):
        sel = [r for r in rows if r["connections"] == conns and r["variant"] == v]
        rps = [float(r["requests_per_second"]) for r in sel]
        p99 = [float(r["p99_us"]) for r in sel]
        per = [float(r["requests_per_second"]) / by_rep[r["rep"]] for r in sel]
        print(f"| {conns} | {names[v]} | {spread(rps, lambda x: f'{x:,.0f}')} | "
              f"{statistics.median(rps) / b_rps:.3f} | {spread(p99, lambda x: f'{x:.1f}')} | "
              f"{statistics.median(p99) / b_p99:.3f} | {min(per):.3f}-{max(per):.3f} |")
drops = [r["capture"] for r in rows if r["variant"] == "all"]
print(f"\nCaptures of every frame, as `xdptcp capture` ended them: {drops[0]} (first); all in runs.tsv.")
EOF

# Instructions per frame of the worker's side of a capture (CaptureRing::offer: the port
# test, the copy, the clock read, the queue push), counted by callgrind in the library's
# offer_loop (src/runtime/capture.rs) at N and 2N offers; the difference over N leaves the
# set-up out. Skipped without valgrind.
if command -v valgrind >/dev/null; then
	test_binary=$(cargo test --release --lib --no-run --message-format=json 2>/dev/null |
		python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "xdptcp" and m["target"]["kind"] == ["lib"] and m.get("executable"):
        print(m["executable"])')
	N=${N:-20000}
	offer_instructions() {
		XDPTCP_CAPTURE_LOOP="$1:$2" valgrind --tool=callgrind --callgrind-out-file="$WORK/cg" \
			--collect-atstart=no '--toggle-collect=*CaptureRing*offer*' "$test_binary" \
			--ignored --exact runtime::capture::tests::offer_loop >/dev/null 2>&1
		grep -m1 '^summary:' "$WORK/cg" | awk '{print $2}'
	}
	{
		echo
		echo "Instructions per offered frame (callgrind, CaptureRing::offer inclusive, 130-byte frame, $N and $((2 * N)) offers):"
		echo
		echo "| capture | instructions/frame |"
		echo "|---|---:|"
		for filter in all match nomatch; do
			one=$(offer_instructions $filter "$N")
			two=$(offer_instructions $filter $((2 * N)))
			case $filter in
				all) label="every frame (copied)" ;;
				match) label="--port 7, frame matches (copied)" ;;
				nomatch) label="--port 1, frame does not match (not copied)" ;;
			esac
			echo "| $label | $(((two - one) / N)) |"
		done
	} | tee -a "$OUT/capture.md"
fi
