#!/bin/bash
# Reproduces the zero-copy bug of issue 13: a connecting `xdptcp nc --zero-copy --queues 2`
# in the qemu guest lab, N times (N=12 by default), every other run after the NIC went to
# one queue pair and back. A run that fails prints its per-queue --stats, virtio_net's XDP
# counters per queue, the guest kernel's TCP counters (did the kernel see the frames?), and
# what `ss --xdp` and bpftool showed while it ran (the sockets, the program and its maps).
# Boots its own lab in $XDPTCP_GUEST_DIR (default /tmp/xdptcp-repeat) on the 6.17 kernel
# unless XDPTCP_GUEST_KERNEL says otherwise; tears it down at the end. With
# XDPTCP_TRACE_XSKMAP=1, bpftrace runs tests/guest/xskmap_trace.bt in the guest around each
# run (binds, XSKMAP updates and deletes, socket releases, redirects that found no socket,
# the driver's takes from the fill rings) and a failed run prints the trace.
#   tests/guest/connect_repeat.sh [N]
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
LAB="$ROOT/deploy/guest-lab.sh"
B=${XDPTCP_BIN:-$ROOT/target/release/xdptcp}
export XDPTCP_GUEST_DIR=${XDPTCP_GUEST_DIR:-/tmp/xdptcp-repeat}
export XDPTCP_GUEST_KERNEL=${XDPTCP_GUEST_KERNEL:-$(find /opt/xdptcp-kernels -maxdepth 1 -name 'vmlinuz-*' 2>/dev/null | sort -V | tail -n 1)}
N=${1:-12}
DIR=$XDPTCP_GUEST_DIR
[ -x "$B" ] || { echo "connect_repeat: $B is missing: cargo build --release --bin xdptcp" >&2; exit 1; }
TRACE=${XDPTCP_TRACE_XSKMAP:-0}
if [ "$TRACE" = 1 ] && ! command -v bpftrace >/dev/null; then
    echo "connect_repeat: XDPTCP_TRACE_XSKMAP=1 needs bpftrace: apt-get install bpftrace" >&2
    exit 1
fi
"$LAB" up || exit 1
trap '"$LAB" down >/dev/null 2>&1' EXIT
head -c 1048576 /dev/urandom >"$DIR/data"
failures=0
for i in $(seq 1 "$N"); do
    change=no
    if [ $((i % 2)) = 1 ]; then
        "$LAB" exec "ethtool -L eth0 combined 1" >/dev/null
        "$LAB" exec "ethtool -L eth0 combined 2" >/dev/null
        change=yes
    fi
    if [ "$TRACE" = 1 ]; then
        "$LAB" spawn "trace-$i" "mountpoint -q /sys/kernel/tracing || mount -t tracefs nodev /sys/kernel/tracing; ulimit -l unlimited; timeout 120 bpftrace -B line $ROOT/tests/guest/xskmap_trace.bt"
        # bpftrace attaches its probes in a few seconds under TCG; "Attaching" comes first.
        attached=no
        for _ in $(seq 1 300); do
            grep -q '^Attaching' "$DIR/jobs/trace-$i.out" 2>/dev/null && attached=yes && break
            [ -e "$DIR/jobs/trace-$i.rc" ] && break
            sleep 0.2
        done
        if [ "$attached" = no ]; then
            echo "connect_repeat: bpftrace did not attach its probes:" >&2
            cat "$DIR/jobs/trace-$i.out" >&2
            exit 1
        fi
        sleep 2
    fi
    ip netns exec xdptcp-gpeer timeout 60 ncat -l 10.78.0.1 5002 >"$DIR/received" &
    listener=$!
    sleep 1
    "$LAB" exec "nstat -n" >/dev/null
    "$LAB" spawn "nc-$i" "timeout 30 $B nc --iface eth0 --xdp-mode native --zero-copy --stats --queues 2 10.78.0.1 5002 < $DIR/data"
    # While it runs: the AF_XDP sockets (queue, rings) and the attached program's maps.
    sleep 8
    "$LAB" exec "ss --xdp -a -e -p; bpftool net show dev eth0; bpftool prog show name xdptcp_steer; bpftool map show" >"$DIR/while-$i.txt" 2>&1
    "$LAB" wait "nc-$i" 60 >"$DIR/nc-$i.log" 2>&1
    rc=$?
    if [ "$TRACE" = 1 ]; then
        "$LAB" exec "pkill -INT -x bpftrace" >/dev/null 2>&1
        "$LAB" wait "trace-$i" 60 >"$DIR/trace-$i.txt" 2>&1
    fi
    wait "$listener"
    if [ "$rc" = 0 ] && cmp -s "$DIR/received" "$DIR/data"; then
        echo "run $i (channels changed: $change): ok; $(grep -o '^queue [01]: XDP steered [0-9]*[^;]*; socket rx [0-9]*' "$DIR/nc-$i.log" | paste -sd ' ')"
        continue
    fi
    failures=$((failures + 1))
    echo "run $i (channels changed: $change): FAILED (exit $rc)"
    grep '^queue [01]:' "$DIR/nc-$i.log" | sed 's/ (ICMP.*//; s/^/    /'
    echo "    virtio_net: $("$LAB" exec "ethtool -S eth0" | grep -E 'rx[01]_(xdp_packets|xdp_redirects|xdp_drops|kicks|packets)' | tr -s ' ' | paste -sd ' ')"
    sed 's/^/    while running: /' "$DIR/while-$i.txt"
    [ "$TRACE" = 1 ] && sed 's/^/    trace: /' "$DIR/trace-$i.txt"
    echo "    guest TCP (since the run began): $("$LAB" exec "nstat -z TcpOutRsts TcpInSegs TcpAttemptFails" | tail -n +2 | tr -s ' ' | paste -sd ' ')"
done
echo "connect_repeat: $failures of $N runs failed"
[ "$failures" = 0 ]
