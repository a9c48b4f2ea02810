#!/usr/bin/env bash
# Instructions per operation of the TCP path's micro-benchmarks, counted with callgrind:
# repeatable where timings on a shared VM drift by a quarter. Each case of bench/tcp.rs runs
# N and 2N times (XDPTCP_BENCH_LOOP); the difference divided by N leaves out the set-up.
#
#   bench/instructions.sh [CHECKOUT ...]     default: this checkout
#
# Give several checkouts (e.g. `git worktree add /tmp/base <commit>`) to compare them side
# by side in one run; each must have the loop mode in its bench/tcp.rs.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "error: valgrind is not installed (apt-get install valgrind)" >&2; exit 1; }
N=${N:-20000}
CASES=(receive receive_direct send echo)
checkouts=("$@")
[ ${#checkouts[@]} -gt 0 ] || checkouts=(.)

bench_binary() {
    local dir=$1
    (cd "$dir" && cargo build --release --bench tcp --message-format=json 2>/dev/null) |
        python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "tcp" and m.get("executable"):
        print(m["executable"])'
}

instructions() {
    local binary=$1 case=$2 n=$3 out
    out=$(mktemp)
    XDPTCP_BENCH_LOOP="$case:$n" valgrind --tool=callgrind --callgrind-out-file="$out" \
        "$binary" >/dev/null 2>"$out.log" || { cat "$out.log" >&2; exit 1; }
    grep -m1 '^summary:' "$out" | awk '{print $2}'
    rm -f "$out" "$out.log"
}

printf '%-16s' case
for dir in "${checkouts[@]}"; do printf '  %28s' "$(cd "$dir" && git log -1 --format=%h 2>/dev/null || echo "$dir")"; done
echo
binaries=()
for dir in "${checkouts[@]}"; do
    binary=$(bench_binary "$dir")
    [ -x "$binary" ] || { echo "error: no bench binary built in $dir" >&2; exit 1; }
    binaries+=("$binary")
done
for case in "${CASES[@]}"; do
    printf '%-16s' "$case"
    for binary in "${binaries[@]}"; do
        one=$(instructions "$binary" "$case" "$N")
        two=$(instructions "$binary" "$case" $((2 * N)))
        printf '  %28s' "$(( (two - one) / N )) instructions/op"
    done
    echo
done
