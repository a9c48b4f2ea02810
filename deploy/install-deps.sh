#!/bin/sh
# Installs what xdptcp needs to build, test and run its lab on Debian: the C toolchain and
# libraries for the XDP program and xsk-rs, the network tools of the lab, the Linux peers the
# interop tests talk to, a Rust toolchain with rustfmt and clippy, and (for `all`) the
# nightly toolchain and cargo-fuzz that `make fuzz` and `make fuzz-smoke` use. Idempotent:
# it only installs what is missing.
set -eu

# `guest`: what the guest lab (deploy/guest-lab.sh, make test-guest) needs besides `build`:
# qemu, Debian's 6.12 kernel for the guest, a static busybox for virtme-ng's initramfs, and
# virtme-ng itself (PyPI, in its own virtualenv in $VIRTME_NG_VENV).
# `build`: what building xdptcp and running its lab need (make demo).
# `all` (the default): also the Linux peers and tools the tests and benchmarks use
# (shellcheck for deploy/*.sh, systemd for the systemd-analyze run of tests/deploy.rs,
# tshark (and tcpdump, which must read them too) for the captures of tests/wire_options.rs
# and tests/observe.rs, prometheus for
# the promtool check of tests/observe.rs, hping3 for the SYN flood of tests/syn_flood.rs).
BUILD="build-essential pkg-config clang llvm libelf-dev zlib1g-dev m4 libbpf-dev
iproute2 ethtool curl ca-certificates"
PEERS="bpftool iputils-ping ncat wrk sockperf iperf3 python3 linux-perf valgrind nftables iptables
shellcheck systemd tshark tcpdump prometheus hping3"
GUEST="qemu-system-x86 linux-image-6.12-amd64 busybox-static python3-venv ncat"
VIRTME_NG_VENV=/opt/xdptcp-virtme-ng
VIRTME_NG_VERSION=1.42
case "${1:-all}" in
    build) PACKAGES="$BUILD" ;;
    guest) PACKAGES="$BUILD $GUEST" ;;
    all) PACKAGES="$BUILD $PEERS" ;;
    *) echo "usage: $0 [build|all|guest]" >&2; exit 2 ;;
esac

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

if [ -n "$missing" ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "error: missing Debian packages:$missing" >&2
        echo "       run as root (or: sudo apt-get install$missing)" >&2
        exit 1
    fi
    echo "installing:$missing"
    apt-get update -qq
    # Noninteractive: wireshark-common's debconf question (may non-superusers capture?)
    # takes its default, no, instead of waiting for an answer.
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# virtme-ng boots the guest on the host's root filesystem; not packaged for bookworm.
if [ "${1:-all}" = guest ] && [ ! -x "$VIRTME_NG_VENV/bin/vng" ]; then
    echo "installing virtme-ng $VIRTME_NG_VERSION into $VIRTME_NG_VENV"
    python3 -m venv "$VIRTME_NG_VENV"
    "$VIRTME_NG_VENV/bin/pip" install -q "virtme-ng==$VIRTME_NG_VERSION"
fi

# The guest's kernel for zero-copy AF_XDP. Debian 12's 6.12 virtio_net binds XSK sockets in
# copy mode only: it does not advertise NETDEV_XDP_ACT_XSK_ZEROCOPY, which came with 6.13.
# Debian 13's backports carry newer kernels; bookworm cannot install their packages (their
# dependencies are trixie's), so the package is downloaded with an apt source list of its
# own and unpacked: the image to $GUEST_KERNEL_DIR, the modules to /usr/lib/modules, where
# the guest, booted on the host's root filesystem, loads them from. The host's own kernel
# and dpkg's database are not touched. GUEST_KERNEL is the version the lab was tested with;
# if the archive no longer has it, the newest 6.13+ build of the same flavour is taken.
GUEST_KERNEL_DIR=/opt/xdptcp-kernels
GUEST_KERNEL=${XDPTCP_GUEST_KERNEL_PACKAGE:-linux-image-6.17.13+deb13-amd64}
fetch_guest_kernel() {
    apt_dir=$GUEST_KERNEL_DIR/apt
    package=$GUEST_KERNEL
    version=${package#linux-image-}
    if [ -r "$GUEST_KERNEL_DIR/vmlinuz-$version" ] && [ -d "/usr/lib/modules/$version/kernel/drivers/net" ]; then
        return
    fi
    mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
    echo "deb http://deb.debian.org/debian trixie-backports main" >"$apt_dir/sources.list"
    cat >"$apt_dir/apt.conf" <<EOF
Dir::Etc::SourceList "$apt_dir/sources.list";
Dir::Etc::SourceParts "/dev/null";
Dir::State::Lists "$apt_dir/lists";
Dir::Cache "$apt_dir/cache";
APT::Get::List-Cleanup "0";
APT::Sandbox::User "root";
EOF
    export APT_CONFIG="$apt_dir/apt.conf"
    apt-get update -qq ||
        { echo "error: cannot read trixie-backports for the guest kernel" >&2; exit 1; }
    if [ -z "$(apt-cache madison "$package" 2>/dev/null)" ]; then
        package=$(apt-cache search --names-only '^linux-image-6\.(1[3-9]|[2-9][0-9])\.[0-9.]+\+deb13-amd64$' 2>/dev/null |
            awk '{print $1}' | sort -V | tail -n 1)
        [ -n "$package" ] ||
            { echo "error: trixie-backports has no linux-image 6.13 or newer for the guest" >&2; exit 1; }
        echo "note: $GUEST_KERNEL is gone from trixie-backports; taking $package"
        version=${package#linux-image-}
    fi
    echo "fetching the guest kernel $package (trixie-backports) into $GUEST_KERNEL_DIR"
    (cd "$apt_dir" && apt-get download -qq "$package") ||
        { echo "error: cannot download $package" >&2; exit 1; }
    unset APT_CONFIG
    unpacked=$(mktemp -d)
    dpkg-deb -x "$apt_dir/${package}"_*.deb "$unpacked"
    if [ ! -d "$unpacked/usr/lib/modules/$version" ] || [ ! -r "$unpacked/boot/vmlinuz-$version" ]; then
        echo "error: $package holds no modules or image for $version" >&2
        exit 1
    fi
    rm -rf "/usr/lib/modules/${version:?}"
    mkdir -p /usr/lib/modules
    cp -a "$unpacked/usr/lib/modules/$version" /usr/lib/modules/
    depmod "$version"
    cp "$unpacked/boot/vmlinuz-$version" "$GUEST_KERNEL_DIR/"
    rm -rf "$unpacked" "$apt_dir/${package}"_*.deb
}
if [ "${1:-all}" = guest ]; then
    fetch_guest_kernel
fi

# The Rust toolchain: rustup's, as Debian's cargo is too old for the dependencies.
if ! command -v cargo >/dev/null 2>&1 && [ ! -x "$HOME/.cargo/bin/cargo" ]; then
    echo "installing the Rust toolchain with rustup"
    if ! curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs |
        sh -s -- -y --profile minimal --component rustfmt,clippy >/dev/null; then
        echo "error: no cargo on PATH and rustup could not be fetched; install Rust 1.85 or newer" >&2
        exit 1
    fi
fi
PATH="$HOME/.cargo/bin:$PATH"
if command -v rustup >/dev/null 2>&1; then
    for component in rustfmt clippy; do
        if ! rustup component list --installed 2>/dev/null | grep -q "^$component"; then
            rustup component add "$component"
        fi
    done
fi

# The fuzz targets (fuzz/, `make fuzz`): cargo fuzz needs a nightly compiler (sanitizer
# coverage flags) and the cargo-fuzz subcommand; libFuzzer itself is built by libfuzzer-sys
# with the C++ compiler of build-essential.
if [ "${1:-all}" = all ] && command -v rustup >/dev/null 2>&1; then
    if ! rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
        echo "installing the nightly Rust toolchain for cargo fuzz"
        rustup toolchain install nightly --profile minimal
    fi
    if ! command -v cargo-fuzz >/dev/null 2>&1; then
        echo "installing cargo-fuzz"
        cargo install cargo-fuzz --locked
    fi
fi
