#!/bin/bash
# make test-guest: xdptcp in the qemu guest of deploy/guest-lab.sh, on virtio-net with 2
# queues in native XDP mode, against Linux peers in the host namespace xdptcp-gpeer:
#   1. serve (echo on 7, http on 8080): curl fetches a page; 100 concurrent echo
#      connections, every byte checked (tests/guest/echo_check.py); a 64-byte echo RTT
#   2. the same with --no-zero-copy (copy mode forced)
#   3. `xdptcp load` opening 16 echo connections over both queues to a Linux echo server
#      on the peer: replies land on the queue qemu picks, and a worker that did not open a
#      connection hands its frames over (counted, printed); every queue that had frames
#      steered received some; then 64 MiB through `xdptcp nc` each way, SHA-256 equal
#      (listening on one queue, connecting on two); zero-copy, then the same in copy mode
#   4. serve killed with SIGKILL: no XDP program left on the NIC, a restart serves again
# Zero-copy: XDPTCP_GUEST_ZERO_COPY=prefer (the default: zero-copy where the driver takes
# it, the log says which; Debian 12's 6.12 kernel, the lab's default, binds copy mode) or
# require (--zero-copy: a refusal fails the test; with
# XDPTCP_GUEST_KERNEL=/opt/xdptcp-kernels/vmlinuz-6.17.13+deb13-amd64).
# Prints the boot time, the time of each step and of the whole test; exits non-zero on
# the first failure, the lab torn down either way.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
LAB="$ROOT/deploy/guest-lab.sh"
B="$ROOT/target/release/xdptcp"
export XDPTCP_GUEST_DIR=${XDPTCP_GUEST_DIR:-/tmp/xdptcp-guest}
DIR=$XDPTCP_GUEST_DIR
ZERO_COPY=${XDPTCP_GUEST_ZERO_COPY:-prefer}
PEER_NS=xdptcp-gpeer
GUEST_IP=10.78.0.2
PEER_IP=10.78.0.1
DATA_MIB=${XDPTCP_GUEST_DATA_MIB:-64}
passed=0
failed=0

[ -x "$B" ] || {
    echo "test-guest: $B is missing: cargo build --release --bin xdptcp" >&2
    exit 1
}
case "$ZERO_COPY" in
    prefer) ZC_FLAG="" ;;
    require) ZC_FLAG="--zero-copy" ;;
    *)
        echo "test-guest: XDPTCP_GUEST_ZERO_COPY must be prefer or require" >&2
        exit 2
        ;;
esac

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN {printf "%.1f", b - a}'; }
peer() { ip netns exec "$PEER_NS" "$@"; }

ok() {
    echo "ok: $*"
    passed=$((passed + 1))
}

fail() {
    echo "FAILED: $*"
    failed=$((failed + 1))
    finish
}

finish() {
    trap - EXIT
    [ -z "${ECHO_SERVER:-}" ] || kill "$ECHO_SERVER" 2>/dev/null || true
    "$LAB" down >/dev/null 2>&1 || true
    echo "test-guest: boot ${BOOT_SECONDS:-?} s, tests $(since "${TEST_START:-$(now)}") s, whole run $(since "$RUN_START") s (TCG-emulated guest: function, not speed)"
    echo "test-guest: $passed passed, $failed failed"
    [ "$failed" = 0 ] || exit 1
    exit 0
}

RUN_START=$(now)
trap 'failed=$((failed + 1)); finish' EXIT
up=$("$LAB" up)
echo "$up"
BOOT_SECONDS=$(echo "$up" | sed -n 's/.*booted in \([0-9.]*\) s.*/\1/p')
TEST_START=$(now)

# Waits up to 60 s for job NAME's output to show a line matching PATTERN; fails with
# MESSAGE (and the job's output) if the job ends first or the time runs out.
wait_for_line() {
    local name=$1 pattern=$2 message=$3 waited=0
    until grep -q "$pattern" "$DIR/jobs/$name.out" 2>/dev/null; do
        if [ -e "$DIR/jobs/$name.rc" ] || [ "$waited" -ge 600 ]; then
            cat "$DIR/jobs/$name.out" 2>/dev/null || true
            fail "$message"
        fi
        sleep 0.1
        waited=$((waited + 1))
    done
}

# Starts `xdptcp serve` in the guest as job NAME with extra flags; waits for its ready line.
start_serve() {
    local name=$1
    shift
    "$LAB" spawn "$name" "echo \$\$ > $DIR/$name.pid; exec $B serve --config $ROOT/deploy/xdptcp.toml --iface eth0 --queues 2 --xdp-mode native --management-socket off $*"
    wait_for_line "$name" "^xdptcp: serving" "$name: xdptcp serve did not start"
    sed 's/^/    guest: /' "$DIR/jobs/$name.out"
}

stop_serve() {
    local name=$1
    "$LAB" exec "kill -INT \$(cat $DIR/$name.pid)" >/dev/null
    "$LAB" wait "$name" 120 >/dev/null || fail "$name: xdptcp serve did not stop cleanly (exit $?)"
}

# The guest's log of job NAME says native XDP and the bind mode expected.
check_modes() {
    local name=$1 bind=$2 out="$DIR/jobs/$1.out"
    grep -q "XDP program attached to eth0 (driver virtio_net) in native mode" "$out" ||
        fail "$name: the guest's log does not show native XDP on virtio_net"
    grep -q "bound in zero-copy mode\|in copy mode" "$out" ||
        fail "$name: the guest's log shows no AF_XDP bind mode"
    case "$bind" in
        zero-copy) grep -q "bound in zero-copy mode" "$out" || fail "$name: not bound in zero-copy mode" ;;
        copy) grep -q "in copy mode" "$out" || fail "$name: not in copy mode" ;;
        any) ;;
    esac
    ok "$name: native XDP on virtio_net, AF_XDP $(grep -o 'bound in zero-copy mode.*\|in copy mode.*' "$out" | head -n 1)"
}

serve_checks() {
    local name=$1 t
    t=$(now)
    local page
    page=$(peer curl -sS -m 30 "http://$GUEST_IP:8080/") || fail "$name: curl failed"
    [ -n "$page" ] || fail "$name: curl fetched an empty page"
    ok "$name: curl fetched a page ($(printf %s "$page" | wc -c) bytes: \"$(printf %s "$page" | head -n 1)\") in $(since "$t") s"
    t=$(now)
    local echo_line
    echo_line=$(peer python3 "$ROOT/tests/guest/echo_check.py" "$GUEST_IP" 7 100 20 1000) ||
        fail "$name: $echo_line"
    ok "$name: $echo_line"
    local queues
    queues=$("$LAB" exec "ethtool -S eth0 | awk '/^ *rx[0-9]+_xdp_redirects:/ && \$2 > 0 {n++} END {print n + 0}'")
    [ "$queues" -ge 2 ] || fail "$name: XDP redirected frames to AF_XDP on $queues queue(s), not 2"
    ok "$name: XDP redirected frames to AF_XDP on $queues queues of eth0 (virtio_net rxN_xdp_redirects)"
    local rtt
    rtt=$(peer "$B" load --stack kernel --target "$GUEST_IP:7" --workload echo --size 64 \
        --connections 1 --duration 3 --quiet 2>&1 | grep -o 'p50 [0-9.]* [µm]s\|p99 [0-9.]* [µm]s' |
        head -n 2 | paste -sd ' ') || fail "$name: the echo RTT run failed"
    [ -n "$rtt" ] || fail "$name: the echo RTT run printed no latency"
    ok "$name: 64-byte echo RTT from the peer $rtt"
}

# 1. serve, zero-copy as asked (prefer: the driver decides)
start_serve serve-zc $ZC_FLAG
check_modes serve-zc "$([ "$ZERO_COPY" = require ] && echo zero-copy || echo any)"
serve_checks serve-zc
stop_serve serve-zc

# 2. serve in copy mode
start_serve serve-copy --no-zero-copy
check_modes serve-copy copy
serve_checks serve-copy
stop_serve serve-copy

# 3. 64 MiB each way through xdptcp nc, and active opens over both queues: in the mode
# flag $1 says (label $2)
head -c "$((DATA_MIB << 20))" /dev/urandom >"$DIR/to-guest"
head -c "$((DATA_MIB << 20))" /dev/urandom >"$DIR/to-peer"
want_in=$(sha256sum <"$DIR/to-guest" | cut -d' ' -f1)
want_out=$(sha256sum <"$DIR/to-peer" | cut -d' ' -f1)

# The per-queue counters a run's --stats printed (file $1) as "queue Q: steered S, opened O,
# handed over H; ..."
queue_counters() {
    sed -n 's/^queue \([0-9]*\): XDP steered \([0-9]*\).*opened \([0-9]*\)).*frames handed to other queues \([0-9]*\).*/queue \1: steered \2, opened \3, handed over \4/p' "$1" |
        paste -sd ';' | sed 's/;/; /g'
}

# Fails (with message $2) if a queue in run $1's --stats had frames steered to its socket
# by XDP but received none: the redirect into that queue's socket lost every frame (on
# virtio_net 6.17 in zero-copy mode queue 1's socket did so in 5 of 12 connecting runs).
every_steered_queue_received() {
    local lost
    lost=$(sed -n 's/^queue \([0-9]*\): XDP steered \([1-9][0-9]*\) .*socket rx 0 .*/queue \1 (steered \2)/p' "$1" | paste -sd ' ')
    [ -z "$lost" ] || fail "$2: frames steered to a socket but none received: $lost"
}

nc_checks() {
    local flag=$1 label=$2 t
    local nc="$B nc --iface eth0 --xdp-mode native $flag"
    # 16 active opens spread over both workers, echoing against Linux on the peer: first,
    # while the NIC still has the two queue pairs it booted with and qemu spreads replies
    # over both (after going to one pair and back it sends everything to queue 0).
    t=$(now)
    "$LAB" exec "$B load --stats --iface eth0 --xdp-mode native $flag --queues 2 --target $PEER_IP:7 \
        --workload echo --size 64 --connections 16 --duration 3 --quiet" >"$DIR/load.log" 2>&1 ||
        fail "load $label: xdptcp load in the guest failed: $(tail -n 3 "$DIR/load.log")"
    local answered
    answered=$(grep -o '[0-9,]* due, [0-9,]* answered[^,]*, [0-9]* errors, [0-9]* unanswered' "$DIR/load.log") ||
        fail "load $label: no summary: $(tail -n 3 "$DIR/load.log")"
    echo "$answered" | grep -q ' 0 errors, 0 unanswered' || fail "load $label: $answered"
    local opened
    opened=$(sed -n 's/^queue [0-9]*:.*opened \([0-9]*\)).*/\1/p' "$DIR/load.log" | paste -sd ' ')
    [ "$opened" = "8 8" ] || fail "load $label: connections opened per queue: $opened, not 8 8"
    every_steered_queue_received "$DIR/load.log" "load $label"
    ok "load $label: 16 echo connections opened by 2 workers, $answered; $(queue_counters "$DIR/load.log") in $(since "$t") s"

    t=$(now)
    # nc -l accepts on one queue (a worker of its own per queue would need a listener on
    # each): the NIC goes down to one queue pair for it, so that qemu's tap delivers every
    # frame there.
    "$LAB" exec "ethtool -L eth0 combined 1" >/dev/null || fail "ethtool -L eth0 combined 1 failed"
    rm -f "$DIR/jobs/nc-listen-$label.out"
    "$LAB" spawn "nc-listen-$label" "$nc --queues 1 -l 5001 > /tmp/from-peer; sha256sum < /tmp/from-peer"
    wait_for_line "nc-listen-$label" "listening on" "nc $label: nc -l did not start in the guest"
    peer ncat --send-only "$GUEST_IP" 5001 <"$DIR/to-guest" || fail "nc $label: ncat could not send to the guest"
    got_in=$("$LAB" wait "nc-listen-$label" 600 | tail -n 1 | cut -d' ' -f1) || fail "nc $label: nc -l in the guest failed"
    [ "$got_in" = "$want_in" ] || fail "nc $label: peer to guest: SHA-256 $got_in, sent $want_in"
    ok "nc $label: $DATA_MIB MiB peer to guest, SHA-256 equal ($want_in) in $(since "$t") s"
    "$LAB" exec "ethtool -L eth0 combined 2" >/dev/null || fail "ethtool -L eth0 combined 2 failed"
    # Connecting, nc serves both queues: replies land on the queue qemu hashes them to, and
    # the worker that did not open the connection hands them over.
    t=$(now)
    peer ncat -l "$PEER_IP" 5002 >"$DIR/from-guest" &
    local listener=$!
    sleep 1
    "$LAB" exec "$nc --stats --queues 2 $PEER_IP 5002 < $DIR/to-peer" >"$DIR/nc-connect.log" 2>&1 ||
        fail "nc $label: nc in the guest could not send: $(tail -n 3 "$DIR/nc-connect.log")"
    wait "$listener" || fail "nc $label: ncat -l on the peer failed"
    got_out=$(sha256sum <"$DIR/from-guest" | cut -d' ' -f1)
    [ "$got_out" = "$want_out" ] || fail "nc $label: guest to peer: SHA-256 $got_out, sent $want_out"
    every_steered_queue_received "$DIR/nc-connect.log" "nc $label"
    ok "nc $label: $DATA_MIB MiB guest to peer, SHA-256 equal ($want_out) in $(since "$t") s ($(queue_counters "$DIR/nc-connect.log"))"
    rm -f "$DIR/from-guest"
}

# The Linux echo server the load runs talk to (a process of its own per connection).
ip netns exec "$PEER_NS" ncat -lk "$PEER_IP" 7 -e /bin/cat &
ECHO_SERVER=$!
sleep 1
nc_checks "$ZC_FLAG" "$([ "$ZERO_COPY" = require ] && echo zero-copy || echo prefer)"
nc_checks --no-zero-copy copy
rm -f "$DIR/to-guest" "$DIR/to-peer"
kill "$ECHO_SERVER" 2>/dev/null || true

# 4. SIGKILL: the BPF link dies with the process, so no program may stay attached
start_serve serve-kill $ZC_FLAG
"$LAB" exec "kill -KILL \$(cat $DIR/serve-kill.pid)" >/dev/null
"$LAB" wait serve-kill 60 >/dev/null || true
sleep 1
if "$LAB" exec "ip link show eth0" | grep -q "prog/xdp"; then
    fail "kill: an XDP program is still attached to eth0 after SIGKILL"
fi
ok "kill: after SIGKILL no XDP program is attached to eth0"
start_serve serve-again $ZC_FLAG
peer curl -sS -m 30 -o /dev/null "http://$GUEST_IP:8080/" || fail "kill: the restarted xdptcp does not serve"
ok "kill: the restarted xdptcp serves again"
stop_serve serve-again

finish
