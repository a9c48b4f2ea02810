# shellcheck shell=bash
# Sourced by the benchmarks that run on a namespace lab of their own (workers.sh,
# capture.sh, scale.sh), from the checkout's root:
#
#   . bench/lab-lib.sh
#   bench_stop_processes() { ...; }   # optional: stops what the script started
#   bench_begin NAME                  # checks, $WORK, the lab NAME taken down on any exit
#
# bench_begin stops with one line when not root or when $BIN is not built, makes the
# scratch directory $WORK, takes down a lab NAME an earlier run left, and traps EXIT so
# that bench_stop_processes (if the script defines it) runs, then the lab goes down and
# $WORK is removed. Bringing the lab up stays with the script (its queues and addresses
# differ).
BIN=target/release/xdptcp

bench_begin() {
    BENCH_LAB=$1
    [ "$(id -u)" = 0 ] || { echo "$0 needs root (namespaces, XDP, AF_XDP)" >&2; exit 1; }
    [ -x "$BIN" ] || { echo "no $BIN: cargo build --release first (or make build)" >&2; exit 1; }
    WORK=$(mktemp -d)
    trap bench_cleanup EXIT
    "$BIN" lab down --name "$BENCH_LAB" >/dev/null 2>&1 || true
}

bench_cleanup() {
    if declare -F bench_stop_processes >/dev/null; then
        bench_stop_processes || true
    fi
    "$BIN" lab down --name "$BENCH_LAB" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
