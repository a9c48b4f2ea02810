#!/bin/bash
# The guest lab: a Debian kernel in qemu (TCG; see guest_kernel), the host's root filesystem shared
# read-only (virtme-ng: 9p, with tmpfs overlays for writes), one virtio-net NIC with
# multi-queue (mq=on, GUEST_QUEUES queues, GUEST_CPUS vCPUs) whose backend is a
# multi-queue tap device in the host namespace xdptcp-gpeer, where the Linux peer lives.
# xdptcp runs in the guest on a real driver: native XDP and zero-copy AF_XDP.
#
#   guest-lab.sh up                     boot; returns once the guest's agent is ready
#   guest-lab.sh exec CMD...            run CMD in the guest (bash -c), its output and exit code
#   guest-lab.sh spawn NAME CMD...      start CMD in the guest in the background as job NAME
#   guest-lab.sh wait NAME [SECONDS]    wait for job NAME to end, print its output, its exit code
#   guest-lab.sh down                   power the guest off, remove the namespace
#   guest-lab.sh status                 is it up
#
# The serial console (the kernel's log and the agent's) is $GUEST_DIR/console.log. Commands
# reach the guest through $GUEST_DIR, shared read-write: a job is a script there that the
# agent (deploy/guest-agent.sh) runs, writing its output and exit code beside it.
set -euo pipefail

GUEST_DIR=${XDPTCP_GUEST_DIR:-/tmp/xdptcp-guest}
GUEST_CPUS=${XDPTCP_GUEST_CPUS:-2}
GUEST_QUEUES=${XDPTCP_GUEST_QUEUES:-2}
GUEST_MEMORY=${XDPTCP_GUEST_MEMORY:-2G}
BOOT_TIMEOUT=${XDPTCP_GUEST_BOOT_TIMEOUT:-300}
BOOT_ATTEMPTS=${XDPTCP_GUEST_BOOT_ATTEMPTS:-3}
VIRTME_NG=${XDPTCP_VIRTME_NG:-/opt/xdptcp-virtme-ng/bin}
PEER_NS=xdptcp-gpeer
TAP=xgtap0
PEER_IP=10.78.0.1
GUEST_IP=10.78.0.2
GUEST_MAC=52:54:00:78:00:02
HERE=$(cd "$(dirname "$0")" && pwd)

die() {
    echo "guest-lab: $*" >&2
    exit 1
}

# The guest's kernel: $XDPTCP_GUEST_KERNEL if set (for zero-copy, the 6.17 kernel that
# deploy/install-deps.sh guest unpacks into /opt/xdptcp-kernels: 6.13 and later virtio_net
# binds AF_XDP in zero-copy mode), else Debian 12's 6.12 in /boot (package
# linux-image-6.12-amd64: native XDP, AF_XDP in copy mode only). 6.12 stays the default
# until zero-copy passes every run: on 6.17 a connecting nc over two queues fails in some
# runs: virtio_net posts queue 1's zero-copy RX buffers and the device never fills them
# (tests/guest/connect_repeat.sh reproduces it; README, "A real driver").
guest_kernel() {
    if [ -n "${XDPTCP_GUEST_KERNEL:-}" ]; then
        echo "$XDPTCP_GUEST_KERNEL"
        return
    fi
    find /boot -maxdepth 1 -name 'vmlinuz-6.12.*-amd64' | sort -V | tail -n 1
}

check_prerequisites() {
    [ "$(id -u)" = 0 ] || die "needs root (network namespaces, tap devices)"
    command -v qemu-system-x86_64 >/dev/null ||
        die "qemu-system-x86_64 is missing: apt-get install qemu-system-x86 (or: deploy/install-deps.sh guest)"
    local kernel
    kernel=$(guest_kernel)
    if [ -z "$kernel" ] || [ ! -r "$kernel" ]; then
        die "no guest kernel in /opt/xdptcp-kernels or /boot: deploy/install-deps.sh guest"
    fi
    local version=${kernel#*/vmlinuz-}
    [ -d "/lib/modules/$version/kernel/drivers/net" ] ||
        die "the modules of $version are missing in /lib/modules: reinstall linux-image-$version"
    [ -c /dev/net/tun ] ||
        die "/dev/net/tun is missing: load the tun module (modprobe tun) or create it (mknod /dev/net/tun c 10 200)"
    [ -x "$VIRTME_NG/vng" ] ||
        die "virtme-ng is missing in $VIRTME_NG: deploy/install-deps.sh guest"
    if [ ! -x /bin/busybox ] || ! file_is_static /bin/busybox; then
        die "virtme-ng needs a static busybox for its initramfs: apt-get install busybox-static"
    fi
}

file_is_static() {
    ! ldd "$1" >/dev/null 2>&1
}

qemu_pid() {
    cat "$GUEST_DIR/qemu.pid" 2>/dev/null
}

is_up() {
    local pid
    pid=$(qemu_pid) && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

# A namespace $PEER_NS left by a lab that did not go down (its qemu killed, the machine
# restored from a snapshot) holds no process: it is removed. One that holds processes
# belongs to a lab that is running (perhaps with another XDPTCP_GUEST_DIR): that stops us.
peer_namespace_exists() {
    ip netns list | grep -qw "$PEER_NS"
}

remove_stale_peer_namespace() {
    peer_namespace_exists || return 0
    local pids
    pids=$(ip netns pids "$PEER_NS" 2>/dev/null | tr '\n' ' ' || true)
    if [ -n "${pids// /}" ]; then
        die "namespace $PEER_NS is in use by another guest lab (pids $pids): guest-lab.sh down, with its XDPTCP_GUEST_DIR, stops it"
    fi
    echo "guest-lab: removing namespace $PEER_NS, left by an earlier lab with no process in it" >&2
    ip netns del "$PEER_NS" || die "namespace $PEER_NS is left by an earlier lab and cannot be removed"
}

make_peer_namespace() {
    ip netns add "$PEER_NS"
    ip -n "$PEER_NS" link set lo up
    ip -n "$PEER_NS" tuntap add mode tap multi_queue name "$TAP"
    ip -n "$PEER_NS" addr add "$PEER_IP/24" dev "$TAP"
    ip -n "$PEER_NS" link set "$TAP" up
}

# Boots the guest once on kernel $1 and waits for its agent; returns 1 (namespace removed)
# if qemu exits first, stops the script if the guest is not ready in BOOT_TIMEOUT.
boot_guest() {
    local kernel=$1
    make_peer_namespace
    echo "$start" >"$GUEST_DIR/started"
    # vectors: one per RX and one per TX queue, plus config and control.
    local netdev="-netdev tap,id=n0,ifname=$TAP,script=no,downscript=no,queues=$GUEST_QUEUES,vhost=off"
    # iommu_platform: the driver then maps buffers through the DMA API, which virtio_net's
    # AF_XDP zero-copy needs (virtnet_xsk_pool_enable refuses a queue without a DMA device).
    local nic="-device virtio-net-pci,netdev=n0,mq=on,rss=on,vectors=$((2 * GUEST_QUEUES + 2)),mac=$GUEST_MAC,iommu_platform=on,disable-legacy=on"
    # qemu runs in the peer namespace, so that it finds the tap there; its pid is this
    # shell's, kept through the execs of setsid, ip netns exec, vng and virtme-run.
    # shellcheck disable=SC2016 # $$ and $0 are the inner shell's
    setsid bash -c 'echo $$ >"$0/qemu.pid"; exec "$@"' "$GUEST_DIR" \
        ip netns exec "$PEER_NS" env PATH="$VIRTME_NG:$PATH" \
        vng --run "$kernel" --disable-kvm --cpus "$GUEST_CPUS" --memory "$GUEST_MEMORY" \
        --verbose --name xdptcp-guest \
        --rwdir="$GUEST_DIR" --qemu-opts="$netdev $nic" \
        --exec "$HERE/guest-agent.sh $GUEST_DIR $GUEST_MAC $GUEST_IP/24 $GUEST_QUEUES" \
        </dev/null >"$GUEST_DIR/console.log" 2>&1 &
    local waited=0
    while [ ! -e "$GUEST_DIR/ready" ]; do
        if ! is_up && [ "$waited" -gt 2 ]; then
            tail -n 20 "$GUEST_DIR/console.log" >&2 || true
            teardown
            return 1
        fi
        if [ "$waited" -ge "$BOOT_TIMEOUT" ]; then
            down
            die "the guest was not ready after ${BOOT_TIMEOUT}s (log: $GUEST_DIR/console.log)"
        fi
        sleep 1
        waited=$((waited + 1))
    done
}

up() {
    check_prerequisites
    if is_up; then
        die "the guest lab is already up (qemu pid $(qemu_pid)); guest-lab.sh down first"
    fi
    remove_stale_peer_namespace
    rm -rf "$GUEST_DIR"
    mkdir -p "$GUEST_DIR/jobs"
    local kernel start attempt=1
    kernel=$(guest_kernel)
    # A kernel that dies while booting under TCG (seen once here: an int3 Oops in
    # sched_clock_cpu while the 6.17 kernel patched its own text on 2 emulated vCPUs, the
    # host busy) is booted again, up to BOOT_ATTEMPTS times; each failed console is kept.
    until start=$(date +%s.%N) && boot_guest "$kernel"; do
        if [ "$attempt" -ge "$BOOT_ATTEMPTS" ]; then
            die "qemu exited before the guest was ready, $attempt times (logs: $GUEST_DIR/console*.log)"
        fi
        mv "$GUEST_DIR/console.log" "$GUEST_DIR/console-attempt-$attempt.log"
        echo "guest-lab: qemu exited before the guest was ready (console kept in $GUEST_DIR/console-attempt-$attempt.log): booting again" >&2
        attempt=$((attempt + 1))
    done
    local boot
    boot=$(awk -v start="$start" -v now="$(date +%s.%N)" 'BEGIN {print now - start}')
    printf 'guest lab up: %s, %s vCPUs, virtio-net with %s queues, peer %s in namespace %s, guest %s; booted in %.1f s (log %s)\n' \
        "$(basename "$kernel")" "$GUEST_CPUS" "$GUEST_QUEUES" "$PEER_IP" "$PEER_NS" "$GUEST_IP" \
        "$boot" "$GUEST_DIR/console.log"
}

# Writes a job script for the agent to run; prints its path stem.
submit() {
    local name=$1
    shift
    local job="$GUEST_DIR/jobs/$name"
    [ ! -e "$job.sh" ] || die "job $name exists already"
    printf '%s\n' "$*" >"$job.tmp"
    mv "$job.tmp" "$job.sh"
    echo "$job"
}

wait_job() {
    local name=$1 timeout=${2:-600}
    local job="$GUEST_DIR/jobs/$name" waited=0
    while [ ! -e "$job.rc" ]; do
        is_up || die "the guest is down (job $name did not end)"
        if [ "$waited" -ge $((timeout * 10)) ]; then
            die "job $name still running after ${timeout}s"
        fi
        sleep 0.1
        waited=$((waited + 1))
    done
    cat "$job.out"
    return "$(cat "$job.rc")"
}

down() {
    if is_up; then
        touch "$GUEST_DIR/poweroff"
        local waited=0
        while is_up && [ "$waited" -lt 600 ]; do
            sleep 0.1
            waited=$((waited + 1))
        done
        if is_up; then
            echo "guest-lab: the guest did not power off in 60 s: stopping qemu" >&2
            kill "$(qemu_pid)" 2>/dev/null || true
        fi
    fi
    teardown
    echo "guest lab down"
}

teardown() {
    if peer_namespace_exists; then
        ip netns del "$PEER_NS"
    fi
    rm -f "$GUEST_DIR/qemu.pid"
}

case "${1:-}" in
    up) up ;;
    down) down ;;
    status)
        if is_up; then echo "up (qemu pid $(qemu_pid))"; else
            echo "down"
            exit 1
        fi
        ;;
    exec)
        shift
        is_up || die "the guest lab is not up"
        name="exec-$(date +%s%N)"
        submit "$name" "$@" >/dev/null
        wait_job "$name"
        ;;
    spawn)
        [ $# -ge 3 ] || die "usage: guest-lab.sh spawn NAME CMD..."
        is_up || die "the guest lab is not up"
        name=$2
        shift 2
        submit "$name" "$@" >/dev/null
        ;;
    wait)
        [ $# -ge 2 ] || die "usage: guest-lab.sh wait NAME [SECONDS]"
        wait_job "$2" "${3:-600}"
        ;;
    *)
        sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//' >&2
        exit 2
        ;;
esac
