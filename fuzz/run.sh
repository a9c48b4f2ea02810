#!/bin/bash
# Runs each cargo fuzz target for SECONDS and prints its executions: `make fuzz` (30 minutes
# each by default) and `make fuzz-smoke` (15 s each, part of `make test`).
#
#   fuzz/run.sh SECONDS TARGET...
#
# New inputs go to fuzz/target/corpus/<target> (kept between runs, ignored by git); the seeds
# in fuzz/corpus/<target> are read, never written. A crash, panic, timeout or out-of-memory
# stops with the input in fuzz/artifacts/<target>/: keep it in fuzz/regressions/<target>/
# (tests/fuzz_corpus.rs replays that directory), add a named scenario test, and fix it.
set -euo pipefail
cd "$(dirname "$0")"
seconds=$1
shift
# Every target at once (cargo fuzz builds one or all).
cargo +nightly fuzz build
status=0
summary=()
for target in "$@"; do
    mkdir -p "target/corpus/$target"
    log="target/$target.log"
    # -timeout: one input running 10 s is a hang; -rss_limit_mb: a leak or runaway buffer.
    if cargo +nightly fuzz run "$target" "target/corpus/$target" "corpus/$target" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        >"$log" 2>&1; then
        result=ok
    else
        result="FAILED (see fuzz/$log; the input is in fuzz/artifacts/$target/)"
        status=1
        grep -m1 -A4 -E "panicked|ERROR: libFuzzer|SUMMARY" "$log" || true
    fi
    runs=$(grep -oE '^stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' || echo 0)
    rate=$(grep -oE '^stat::average_exec_per_sec: *[0-9]+' "$log" | grep -oE '[0-9]+$' || echo 0)
    corpus=$(find "target/corpus/$target" "corpus/$target" -type f | wc -l)
    summary+=("$(printf '%-14s %10s executions %7s/s  corpus %5s  %s' \
        "$target" "$runs" "$rate" "$corpus" "$result")")
done
printf '%s\n' "${summary[@]}"
exit $status
