#!/bin/bash
# Runs inside the guest of deploy/guest-lab.sh (virtme-ng's --exec): sets the NIC up, then
# runs each job script the host writes into DIR/jobs/ (NAME.sh), in the background, with
# its output in NAME.out and its exit code in NAME.rc, until DIR/poweroff appears; then
# stops what still runs and returns, which powers the guest off.
#   guest-agent.sh DIR MAC ADDRESS/PREFIX QUEUES
# The NIC is found by its MAC (udev names it by its PCI slot) and renamed eth0.
set -uo pipefail

DIR=$1
MAC=$2
ADDRESS=$3
QUEUES=$4
NIC=eth0

log() {
    echo "guest-agent: $*"
}

ulimit -l unlimited
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
ip link set lo up
found=$(ip -o link | awk -v mac="$MAC" '$0 ~ "link/ether " mac {sub(":", "", $2); print $2}')
[ -n "$found" ] || log "no NIC with MAC $MAC"
[ "$found" = "$NIC" ] || ip link set "$found" name "$NIC"
ethtool -L "$NIC" combined "$QUEUES" || log "ethtool -L $NIC combined $QUEUES failed"
ip addr add "$ADDRESS" dev "$NIC"
ip link set "$NIC" up
log "$NIC: driver $(ethtool -i "$NIC" | sed -n 's/^driver: //p'), $(ethtool -l "$NIC" | awk '/Combined/ {n = $2} END {print n}') combined queues (current), $ADDRESS"
awk '{printf "guest-agent: ready after %.1f s of guest uptime\n", $1}' /proc/uptime
touch "$DIR/ready"

declare -A started
while [ ! -e "$DIR/poweroff" ]; do
    for script in "$DIR"/jobs/*.sh; do
        [ -e "$script" ] || continue
        job=${script%.sh}
        [ -z "${started[$job]:-}" ] || continue
        started[$job]=1
        (
            bash "$script" >"$job.out" 2>&1
            echo $? >"$job.rc.tmp"
            mv "$job.rc.tmp" "$job.rc"
        ) &
        echo $! >"$job.pid"
    done
    sleep 0.1
done
log "powering off"
for pidfile in "$DIR"/jobs/*.pid; do
    [ -e "$pidfile" ] || continue
    pkill -TERM -P "$(cat "$pidfile")" 2>/dev/null
done
sleep 1
sync
