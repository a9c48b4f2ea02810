#!/bin/bash
# Tunes a host for xdptcp on one interface: queue counts, ring sizes, interrupt coalescing,
# the RSS key and indirection table, ntuple flow-steering rules, the IRQ of each queue on
# its worker's core, irqbalance kept off those IRQs, the CPU governor of the worker cores,
# the NAPI busy-poll settings, huge pages, and the memlock limit of the systemd unit.
#
# Only what an option asks for is changed. Each previous value is written to a state file
# before it is changed, and --revert puts back exactly those values. --dry-run prints every
# command (with the value it would replace) and changes nothing. A setting the driver does
# not support is skipped with one line that says why (veth, the lab's driver, supports only
# the channel counts and the NAPI settings).
set -euo pipefail

readonly KNOWN_DRIVERS="ice i40e ixgbe mlx5_core virtio_net veth"
readonly MEMLOCK_DROPIN=/etc/systemd/system/xdptcp.service.d/memlock.conf
readonly IRQBALANCE_DEFAULTS=/etc/default/irqbalance

usage() {
    cat <<'EOF'
usage: deploy/tune-host.sh IFACE [options]
  --queues N              channels: combined N (rx N tx N where the driver has no combined)
  --rx-ring N, --tx-ring N  ring sizes (ethtool -G)
  --coalesce-usecs N      rx-usecs and tx-usecs N, adaptive coalescing off (ethtool -C)
  --rss-equal N           spread the RSS indirection table over queues 0..N-1 (ethtool -X)
  --rss-key HEX           the RSS (Toeplitz) key, as ethtool -x prints it (aa:bb:...)
  --ntuple RULE           add a flow-steering rule, e.g. "flow-type tcp4 dst-port 8080
                          action 0" (ethtool -N; repeatable)
  --cores LIST            worker cores, e.g. 1,2: queue i's IRQ goes to LIST[i % len]
  --irqbalance ban|stop   keep irqbalance off the worker cores: ban them in
                          /etc/default/irqbalance (IRQBALANCE_BANNED_CPULIST, the default
                          with --cores), or stop the irqbalance service
  --governor NAME         scaling_governor of the worker cores (needs --cores)
  --defer-hard-irqs N     /sys/class/net/IFACE/napi_defer_hard_irqs
  --gro-flush-timeout NS  /sys/class/net/IFACE/gro_flush_timeout
  --hugepages N|auto      vm.nr_hugepages; auto: what the UMEMs of xdptcp serve need,
                          queues x frame_count x frame_size / Hugepagesize (queues from
                          --queues, else the interface's RX queues), added to the pages
                          other programs hold now
  --umem-frames N         with --hugepages auto: [umem] frame_count [default: 4096]
  --umem-frame-size N     with --hugepages auto: [umem] frame_size [default: 4096]
  --memlock SIZE          LimitMEMLOCK=SIZE for xdptcp.service (a drop-in)
  --state FILE            where previous values are kept
                          [default: /var/lib/xdptcp/tune-IFACE.state]
  --dry-run               print every command, change nothing
  --revert                restore what the state file recorded, then remove it
EOF
}

die() {
    echo "tune-host: $*" >&2
    exit 2
}

say() {
    echo "tune-host: $*"
}

# --- arguments --------------------------------------------------------------------------

[ $# -ge 1 ] || { usage >&2; exit 2; }
case "$1" in -h | --help) usage; exit 0 ;; -*) usage >&2; exit 2 ;; esac
IFACE=$1
shift
QUEUES="" RX_RING="" TX_RING="" COALESCE="" RSS_EQUAL="" RSS_KEY="" CORES="" IRQBALANCE=""
GOVERNOR="" DEFER_HARD_IRQS="" GRO_FLUSH_TIMEOUT="" HUGEPAGES="" MEMLOCK="" STATE=""
UMEM_FRAMES=4096 UMEM_FRAME_SIZE=4096
DRY_RUN=0 REVERT=0
NTUPLE=()
while [ $# -gt 0 ]; do
    option=$1
    case "$option" in
        --dry-run) DRY_RUN=1; shift; continue ;;
        --revert) REVERT=1; shift; continue ;;
        -h | --help) usage; exit 0 ;;
    esac
    [ $# -ge 2 ] || die "$option needs a value"
    value=$2
    shift 2
    case "$option" in
        --queues) QUEUES=$value ;;
        --rx-ring) RX_RING=$value ;;
        --tx-ring) TX_RING=$value ;;
        --coalesce-usecs) COALESCE=$value ;;
        --rss-equal) RSS_EQUAL=$value ;;
        --rss-key) RSS_KEY=$value ;;
        --ntuple) NTUPLE+=("$value") ;;
        --cores) CORES=$value ;;
        --irqbalance) IRQBALANCE=$value ;;
        --governor) GOVERNOR=$value ;;
        --defer-hard-irqs) DEFER_HARD_IRQS=$value ;;
        --gro-flush-timeout) GRO_FLUSH_TIMEOUT=$value ;;
        --hugepages) HUGEPAGES=$value ;;
        --umem-frames) UMEM_FRAMES=$value ;;
        --umem-frame-size) UMEM_FRAME_SIZE=$value ;;
        --memlock) MEMLOCK=$value ;;
        --state) STATE=$value ;;
        *) die "unknown option $option (see --help)" ;;
    esac
done

is_count() { [[ $1 =~ ^[0-9]+$ ]]; }
for pair in "queues:$QUEUES" "rx-ring:$RX_RING" "tx-ring:$TX_RING" \
    "coalesce-usecs:$COALESCE" "rss-equal:$RSS_EQUAL" "defer-hard-irqs:$DEFER_HARD_IRQS" \
    "gro-flush-timeout:$GRO_FLUSH_TIMEOUT" "hugepages:${HUGEPAGES#auto}" \
    "umem-frames:$UMEM_FRAMES" "umem-frame-size:$UMEM_FRAME_SIZE"; do
    value=${pair#*:}
    [ -z "$value" ] || is_count "$value" || die "--${pair%%:*} must be a number, not '$value'"
done
[ -z "$QUEUES" ] || [ "$QUEUES" -ge 1 ] || die "--queues must be at least 1"
[ -z "$CORES" ] || [[ $CORES =~ ^[0-9]+(,[0-9]+)*$ ]] || die "--cores must be like 1,2,3"
[ -z "$GOVERNOR" ] || [ -n "$CORES" ] || die "--governor needs --cores (the worker cores)"
case "$IRQBALANCE" in "" | ban | stop) ;; *) die "--irqbalance is ban or stop" ;; esac
[ -z "$IRQBALANCE" ] || [ -n "$CORES" ] || die "--irqbalance needs --cores"
[ -n "$IRQBALANCE" ] || [ -z "$CORES" ] || IRQBALANCE=ban
[ -z "$MEMLOCK" ] || [[ $MEMLOCK =~ ^([0-9]+[KMGT]?|infinity)$ ]] ||
    die "--memlock is a size as systemd takes it (64M, 1G, infinity), not '$MEMLOCK'"
[ -z "$RSS_KEY" ] || [[ $RSS_KEY =~ ^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2})+$ ]] ||
    die "--rss-key is hex bytes separated by colons, as ethtool -x prints it"
STATE=${STATE:-/var/lib/xdptcp/tune-$IFACE.state}

# --- the interface and its driver -------------------------------------------------------

[ -e "/sys/class/net/$IFACE" ] || die "no interface $IFACE in this network namespace"
DRIVER=$( (ethtool -i "$IFACE" 2>/dev/null || true) | sed -n 's/^driver: //p')
known=0
for d in $KNOWN_DRIVERS; do [ "$d" = "$DRIVER" ] && known=1; done
[ "$known" = 1 ] ||
    die "$IFACE uses driver '${DRIVER:-none}', which this script does not know (known: $KNOWN_DRIVERS)"

# --- doing, recording, undoing ----------------------------------------------------------

# The previous value of what the next printed command changes, shown beside it.
WAS=""

# Prints a command line (with the value it replaces, if recorded).
show() {
    echo "+ $*${WAS:+   # was: $WAS}"
    WAS=""
}

# Prints a command and, unless this is a dry run, runs it.
run() {
    show "$@"
    [ "$DRY_RUN" = 1 ] || "$@"
}

# Writes VALUE to the file PATH (sysfs, procfs), printed as the shell command it is.
put() {
    show "echo $2 > $1"
    [ "$DRY_RUN" = 1 ] || echo "$2" >"$1"
}

# Records that KIND at TARGET had the value PREVIOUS, before it is changed.
record() {
    WAS=$3
    [ "$DRY_RUN" = 1 ] || printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$STATE"
}

skip() {
    say "skip $1: $2"
}

# What `ethtool -QUERY IFACE` prints, or nothing if the driver does not support it.
ethtool_query() {
    ethtool "$1" "$IFACE" 2>/dev/null || true
}

# The value after "NAME:" in the "Current hardware settings" part of ethtool -l/-g output.
current_field() {
    awk -v name="$2" 'tolower($0) ~ /current hardware settings/ { on = 1 }
        on && tolower($1) == name":" { print $2; exit }' <<<"$1"
}

# The value of NAME in `ethtool -c` output ("rx-usecs: 50" or "Adaptive RX: on  TX: on").
coalesce_field() {
    awk -v name="$2" '$1 == name":" { print $2; exit }' <<<"$1"
}

# --- revert -----------------------------------------------------------------------------

# shellcheck disable=SC2086 # a recorded previous value of ethtool settings is ethtool words
revert_one() {
    local kind=$1 target=$2 previous=$3
    case "$kind" in
        channels) run ethtool -L "$target" $previous ;;
        rings) run ethtool -G "$target" $previous ;;
        coalesce) run ethtool -C "$target" $previous ;;
        rss-key) run ethtool -X "$target" hkey "$previous" ;;
        rss-table)
            if [ "$previous" = default ]; then
                run ethtool -X "$target" default
            else
                run ethtool -X "$target" equal "${previous#equal }"
            fi
            ;;
        ntuple) run ethtool -N "$target" delete "$previous" ;;
        features) run ethtool -K "$target" $previous ;;
        value) put "$target" "$previous" ;;
        file-absent) run rm -f "$target" ;;
        dir-absent) run rmdir "$target" ;;
        irqbalance-line)
            if [ "$previous" = absent ]; then
                run sed -i '/^IRQBALANCE_BANNED_CPULIST=/d' "$target"
            else
                run sed -i "s|^IRQBALANCE_BANNED_CPULIST=.*|$previous|" "$target"
            fi
            restart_irqbalance
            ;;
        irqbalance-service) [ "$previous" = active ] && run systemctl start irqbalance ;;
        *) say "state file $STATE: unknown entry '$kind', left as it is" ;;
    esac
}

if [ "$REVERT" = 1 ]; then
    [ -f "$STATE" ] || die "no state file $STATE: nothing recorded to revert"
    # Newest first, so a value changed twice ends at its first previous value.
    while IFS=$'\t' read -r kind target previous; do
        revert_one "$kind" "$target" "$previous"
    done < <(tac "$STATE")
    run rm -f "$STATE"
    say "reverted $IFACE"
    exit 0
fi

if [ "$DRY_RUN" = 0 ]; then
    [ ! -e "$STATE" ] || die "$STATE exists from an earlier run: --revert it first"
    mkdir -p "$(dirname "$STATE")"
    : >"$STATE"
fi
if [ "$DRY_RUN" = 1 ]; then
    say "$IFACE: driver $DRIVER; dry run: every command is printed, none is run"
else
    say "$IFACE: driver $DRIVER"
fi

# --- queues, rings, coalescing, RSS, ntuple (ethtool) -----------------------------------

tune_channels() {
    local now combined rx tx
    now=$(ethtool_query -l)
    [ -n "$now" ] || { skip "queues" "$DRIVER does not report channels (ethtool -l)"; return; }
    combined=$(current_field "$now" combined)
    if [[ $combined =~ ^[0-9]+$ ]] && [ "$combined" -gt 0 ]; then
        record channels "$IFACE" "combined $combined"
        run ethtool -L "$IFACE" combined "$QUEUES"
    else
        # veth has separate RX and TX channels and no combined ones.
        rx=$(current_field "$now" rx)
        tx=$(current_field "$now" tx)
        record channels "$IFACE" "rx $rx tx $tx"
        run ethtool -L "$IFACE" rx "$QUEUES" tx "$QUEUES"
    fi
}

tune_rings() {
    local now words=()
    now=$(ethtool_query -g)
    [ -n "$now" ] || { skip "ring sizes" "$DRIVER does not support ethtool -g/-G"; return; }
    [ -z "$RX_RING" ] || words+=(rx "$RX_RING")
    [ -z "$TX_RING" ] || words+=(tx "$TX_RING")
    record rings "$IFACE" "rx $(current_field "$now" rx) tx $(current_field "$now" tx)"
    run ethtool -G "$IFACE" "${words[@]}"
}

tune_coalescing() {
    local now adaptive_rx adaptive_tx
    now=$(ethtool_query -c)
    [ -n "$now" ] || { skip "interrupt coalescing" "$DRIVER does not support ethtool -c/-C"; return; }
    adaptive_rx=$(awk '$1 == "Adaptive" && $2 == "RX:" { print $3; exit }' <<<"$now")
    adaptive_tx=$(awk '$1 == "Adaptive" && $2 == "RX:" { print $5; exit }' <<<"$now")
    record coalesce "$IFACE" "adaptive-rx ${adaptive_rx:-off} adaptive-tx ${adaptive_tx:-off} rx-usecs $(coalesce_field "$now" rx-usecs) tx-usecs $(coalesce_field "$now" tx-usecs)"
    run ethtool -C "$IFACE" adaptive-rx off adaptive-tx off rx-usecs "$COALESCE" tx-usecs "$COALESCE"
}

# The indirection table as ethtool -x prints it, one queue number per entry.
rss_table() {
    awk '/^ *[0-9]+: / { for (i = 2; i <= NF; i++) print $i }' <<<"$1"
}

# "equal N" if TABLE is entry i -> i mod N, else "default".
table_shape() {
    local n
    n=$(sort -n -u <<<"$1" | wc -l)
    if awk -v n="$n" '$1 != (NR - 1) % n { bad = 1 } END { exit bad }' <<<"$1"; then
        echo "equal $n"
    else
        echo default
    fi
}

tune_rss() {
    local now key shape
    now=$(ethtool_query -x)
    [ -n "$now" ] || { skip "RSS key and table" "$DRIVER does not support ethtool -x/-X"; return; }
    if [ -n "$RSS_KEY" ]; then
        key=$(awk '/RSS hash key:/ { getline; print; exit }' <<<"$now")
        record rss-key "$IFACE" "$key"
        run ethtool -X "$IFACE" hkey "$RSS_KEY"
    fi
    if [ -n "$RSS_EQUAL" ]; then
        shape=$(table_shape "$(rss_table "$now")")
        [ "$shape" != default ] ||
            say "note: the current indirection table is not an even spread; --revert restores the driver's default table"
        record rss-table "$IFACE" "$shape"
        run ethtool -X "$IFACE" equal "$RSS_EQUAL"
    fi
}

tune_ntuple() {
    local rule added id
    if ! ethtool -n "$IFACE" >/dev/null 2>&1; then
        skip "ntuple rules" "$DRIVER does not support ethtool -n/-N"
        return
    fi
    record features "$IFACE" "ntuple $(ethtool -k "$IFACE" | awk '$1 == "ntuple-filters:" { print $2 }')"
    run ethtool -K "$IFACE" ntuple on
    for rule in "${NTUPLE[@]}"; do
        show "ethtool -N $IFACE $rule"
        [ "$DRY_RUN" = 1 ] && continue
        # shellcheck disable=SC2086 # the rule is ethtool words
        added=$(ethtool -N "$IFACE" $rule 2>&1) || die "ethtool -N $IFACE $rule: $added"
        id=$(sed -n 's/^Added rule with ID \([0-9]*\)$/\1/p' <<<"$added")
        [ -n "$id" ] || die "ethtool -N did not say which rule it added: $added"
        record ntuple "$IFACE" "$id"
    done
}

[ -z "$QUEUES" ] || tune_channels
[ -z "$RX_RING$TX_RING" ] || tune_rings
[ -z "$COALESCE" ] || tune_coalescing
[ -z "$RSS_KEY$RSS_EQUAL" ] || tune_rss
[ ${#NTUPLE[@]} -eq 0 ] || tune_ntuple

# --- IRQs and irqbalance ----------------------------------------------------------------

# The queue an interrupt serves, from its name in /proc/interrupts: ice-eth0-TxRx-3,
# i40e-eth0-TxRx-3, eth0-TxRx-3 (ixgbe), mlx5_comp3@pci:..., virtio0-input.3.
irq_queue() {
    local name
    name=$(awk -v irq="$1:" '$1 == irq { print $NF }' /proc/interrupts)
    sed -n -E 's/.*(TxRx-|_comp|input\.)([0-9]+).*/\2/p' <<<"$name"
}

tune_irqs() {
    local irqs irq queue core cores_list
    IFS=, read -r -a cores_list <<<"$CORES"
    if [ ! -d "/sys/class/net/$IFACE/device/msi_irqs" ]; then
        skip "IRQ affinity" "$IFACE has no MSI interrupts (/sys/class/net/$IFACE/device/msi_irqs: a virtual device such as $DRIVER has none)"
        return
    fi
    irqs=$(ls "/sys/class/net/$IFACE/device/msi_irqs")
    for irq in $irqs; do
        queue=$(irq_queue "$irq")
        [ -n "$queue" ] || continue # the admin or mailbox vector, no queue
        core=${cores_list[queue % ${#cores_list[@]}]}
        record value "/proc/irq/$irq/smp_affinity_list" "$(cat "/proc/irq/$irq/smp_affinity_list")"
        put "/proc/irq/$irq/smp_affinity_list" "$core"
    done
}

restart_irqbalance() {
    if systemctl is-active --quiet irqbalance 2>/dev/null; then
        run systemctl restart irqbalance
    fi
}

tune_irqbalance() {
    local line
    if [ "$IRQBALANCE" = stop ]; then
        if systemctl is-active --quiet irqbalance 2>/dev/null; then
            record irqbalance-service irqbalance active
            run systemctl stop irqbalance
        else
            skip "irqbalance" "the irqbalance service is not running"
        fi
        return
    fi
    if [ ! -f "$IRQBALANCE_DEFAULTS" ]; then
        skip "irqbalance" "$IRQBALANCE_DEFAULTS does not exist (irqbalance is not installed)"
        return
    fi
    # irqbalance(1): IRQBALANCE_BANNED_CPULIST keeps it from placing interrupts on these.
    line=$(grep '^IRQBALANCE_BANNED_CPULIST=' "$IRQBALANCE_DEFAULTS" || echo absent)
    record irqbalance-line "$IRQBALANCE_DEFAULTS" "$line"
    if [ "$line" = absent ]; then
        show "echo IRQBALANCE_BANNED_CPULIST=$CORES >> $IRQBALANCE_DEFAULTS"
        [ "$DRY_RUN" = 1 ] || echo "IRQBALANCE_BANNED_CPULIST=$CORES" >>"$IRQBALANCE_DEFAULTS"
    else
        run sed -i "s|^IRQBALANCE_BANNED_CPULIST=.*|IRQBALANCE_BANNED_CPULIST=$CORES|" "$IRQBALANCE_DEFAULTS"
    fi
    restart_irqbalance
}

[ -z "$CORES" ] || tune_irqs
[ -z "$IRQBALANCE" ] || tune_irqbalance

# --- CPU governor, NAPI busy polling, huge pages, memlock -------------------------------

# Sets the file PATH to VALUE, recording what it held; skipped with REASON if it is absent.
set_value() {
    local path=$1 value=$2 what=$3 reason=$4
    if [ ! -e "$path" ]; then
        skip "$what" "$reason"
        return
    fi
    record value "$path" "$(cat "$path")"
    put "$path" "$value"
}

if [ -n "$GOVERNOR" ]; then
    IFS=, read -r -a governor_cores <<<"$CORES"
    for core in "${governor_cores[@]}"; do
        set_value "/sys/devices/system/cpu/cpu$core/cpufreq/scaling_governor" "$GOVERNOR" \
            "governor of cpu$core" "no cpufreq for cpu$core (no /sys/devices/system/cpu/cpu$core/cpufreq: a VM, or no frequency driver)"
    done
fi
# napi.rst: with napi_defer_hard_irqs and gro_flush_timeout set, the kernel keeps the
# device's interrupts masked while polling finds work. Preferred busy polling on AF_XDP
# sockets is a socket option (SO_PREFER_BUSY_POLL, with SO_BUSY_POLL and
# SO_BUSY_POLL_BUDGET) that xdptcp does not set yet: these settings then act as interrupt
# deferral only.
[ -z "$DEFER_HARD_IRQS" ] || set_value "/sys/class/net/$IFACE/napi_defer_hard_irqs" \
    "$DEFER_HARD_IRQS" "napi_defer_hard_irqs" "the kernel has no /sys/class/net/$IFACE/napi_defer_hard_irqs"
[ -z "$GRO_FLUSH_TIMEOUT" ] || set_value "/sys/class/net/$IFACE/gro_flush_timeout" \
    "$GRO_FLUSH_TIMEOUT" "gro_flush_timeout" "the kernel has no /sys/class/net/$IFACE/gro_flush_timeout"
# xdptcp maps each queue's UMEM (frame_count x frame_size bytes) with MAP_HUGETLB from the
# default-size pool (umem.hugepages = "prefer", the default, or "require"). auto reserves
# what those UMEMs need on top of the pages others hold now (HugePages_Total - Free); a
# UMEM that is not a whole number of huge pages stays on normal pages and needs none.
meminfo_field() { awk -v k="$1:" '$1 == k { print $2; exit }' /proc/meminfo; }
umem_huge_pages() {
    local queues=$QUEUES page_kib umem_kib
    [ -n "$queues" ] || queues=$(find "/sys/class/net/$IFACE/queues" -maxdepth 1 -name 'rx-*' | wc -l)
    page_kib=$(meminfo_field Hugepagesize)
    umem_kib=$((UMEM_FRAMES * UMEM_FRAME_SIZE / 1024))
    if [ $((umem_kib % page_kib)) != 0 ]; then
        say "note: a UMEM of $umem_kib KiB is not a multiple of the $page_kib KiB huge page: xdptcp maps it on normal pages" >&2
        echo 0
        return
    fi
    say "huge pages for the UMEMs: $queues queue(s) x $UMEM_FRAMES frames x $UMEM_FRAME_SIZE B = $((queues * umem_kib / 1024)) MiB = $((queues * umem_kib / page_kib)) page(s) of $page_kib KiB" >&2
    echo $((queues * umem_kib / page_kib))
}
if [ "$HUGEPAGES" = auto ]; then
    if [ ! -e /proc/sys/vm/nr_hugepages ] || [ -z "$(meminfo_field Hugepagesize)" ]; then
        die "--hugepages auto: no hugetlb pool in this kernel (no /proc/sys/vm/nr_hugepages)"
    fi
    if [ "$UMEM_FRAMES" = 0 ] || [ "$UMEM_FRAME_SIZE" = 0 ]; then
        die "--umem-frames and --umem-frame-size must be positive"
    fi
    held=$(($(meminfo_field HugePages_Total) - $(meminfo_field HugePages_Free)))
    needed=$(umem_huge_pages)
    HUGEPAGES=$((needed + held))
    [ "$held" = 0 ] || say "$held huge page(s) are in use now (by xdptcp or others): kept on top"
fi
if [ -n "$HUGEPAGES" ]; then
    set_value /proc/sys/vm/nr_hugepages "$HUGEPAGES" "huge pages" "no /proc/sys/vm/nr_hugepages"
    # The kernel allocates what contiguous memory it finds and may give fewer.
    got=$(cat /proc/sys/vm/nr_hugepages)
    [ "$DRY_RUN" = 1 ] || [ "$got" -ge "$HUGEPAGES" ] ||
        say "warning: asked for $HUGEPAGES huge pages, the kernel found memory for $got (fragmented: reserve at boot, hugepages=$HUGEPAGES on the kernel command line)"
fi

if [ -n "$MEMLOCK" ]; then
    if [ -e "$MEMLOCK_DROPIN" ]; then
        die "$MEMLOCK_DROPIN exists and was not written by this run; edit it by hand"
    fi
    if [ ! -d "$(dirname "$MEMLOCK_DROPIN")" ]; then
        record dir-absent "$(dirname "$MEMLOCK_DROPIN")" absent
        run mkdir "$(dirname "$MEMLOCK_DROPIN")"
    fi
    record file-absent "$MEMLOCK_DROPIN" absent
    show "printf '[Service]\\nLimitMEMLOCK=$MEMLOCK\\n' > $MEMLOCK_DROPIN"
    [ "$DRY_RUN" = 1 ] || printf '[Service]\nLimitMEMLOCK=%s\n' "$MEMLOCK" >"$MEMLOCK_DROPIN"
    if [ -d /run/systemd/system ]; then
        run systemctl daemon-reload
    else
        skip "systemctl daemon-reload" "systemd is not running here; the drop-in applies once it is"
    fi
    say "for a shell rather than the unit: ulimit -l (in KiB) before starting xdptcp serve"
fi

if [ "$DRY_RUN" = 1 ]; then
    say "dry run done: nothing was changed"
else
    say "done; previous values in $STATE (deploy/tune-host.sh $IFACE --revert restores them)"
fi
