//! The AF_XDP layer: the XDP steering program and one AF_XDP socket per NIC queue.
//!
//! This module holds all of xdptcp's `unsafe` and `libc`; every `unsafe` block states why it
//! is sound in a `SAFETY:` comment. One concern per file: [`program`] loads the program of
//! `bpf/`, attaches it and fills its maps, and [`counters`](ProgramCounters) reads its per-CPU
//! counters; [`cookie_ports`](CookiePorts) tells it which SYNs to answer with cookies; [`socket`] owns a UMEM and the four rings of one
//! queue and moves frames between them and the stack; [`wait`] sleeps on a socket until it
//! has frames or another thread has work; [`BusyPoll`] sets the busy-poll socket options; [`ZeroCopy`] says whether sockets bind zero-copy; [`HugePages`] whether UMEMs are mapped on huge pages. What the kernel knows about the interface (its
//! index, queues and driver) comes from [`crate::host`].

#![allow(unsafe_code)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod busy_poll;
mod cookie_ports;
mod counters;
mod huge_pages;
mod privileges;
pub mod program;
pub mod socket;
pub mod wait;
mod zero_copy;

pub use privileges::{check_privileges, REQUIRED_CAPABILITIES};

pub use busy_poll::BusyPoll;
pub use cookie_ports::{CookieAnswer, CookiePorts};
pub use counters::{ProgramCounters, QueueCounters};
pub use huge_pages::{check_huge_pages, HugePageShortfall, HugePages, UmemPages};
pub use program::{UnknownXdpMode, XdpAttach, XdpMode, XdpProgram, MAX_ADDRESSES};
pub use socket::{BindMode, SocketStats, XskConfig, XskSocket};
pub use zero_copy::ZeroCopy;

use std::io;

use crate::host::NoSuchInterface;

/// Why the AF_XDP datapath could not start. Each says what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum XdpError {
    #[error(
        "permission denied: xdptcp needs root (or CAP_NET_ADMIN, CAP_BPF, CAP_NET_RAW and CAP_PERFMON) to load XDP programs and open AF_XDP sockets"
    )]
    PermissionDenied,
    #[error(
        "permission denied: xdptcp needs root or the capabilities {required} (to load XDP programs and open AF_XDP sockets); missing: {missing}"
    )]
    MissingCapabilities { required: String, missing: String },
    #[error(
        "the UMEM of {queues} queue(s) needs {needed_kib} KiB of locked memory but RLIMIT_MEMLOCK is {limit_kib} KiB: raise it (LimitMEMLOCK= in the systemd unit, ulimit -l) or grant CAP_IPC_LOCK"
    )]
    LockedMemory {
        queues: u32,
        needed_kib: u64,
        limit_kib: u64,
    },
    #[error(
        "the kernel would not lock the UMEM of {iface} queue {queue}: it counts against RLIMIT_MEMLOCK ({limit_kib} KiB, for all locked memory of this user, and measured to need about 1.75 times the UMEM); raise it (LimitMEMLOCK= in the systemd unit, ulimit -l) or grant CAP_IPC_LOCK"
    )]
    UmemNotLocked {
        iface: String,
        queue: u32,
        limit_kib: u64,
    },
    #[error(transparent)]
    InterfaceMissing(#[from] NoSuchInterface),
    #[error("queue {queue} is out of range: {iface} has {count} RX queue(s), numbered from 0")]
    QueueOutOfRange {
        iface: String,
        queue: u32,
        count: u32,
    },
    #[error("queue {queue} of {iface} is busy: another AF_XDP socket (another xdptcp instance?) is bound to it")]
    QueueBusy { iface: String, queue: u32 },
    #[error(
        "{iface} is already served by another xdptcp instance, which owns its ports (one instance per interface; stop the other first)"
    )]
    InterfaceOwned { iface: String },
    #[error("another XDP program ({program}) is attached to {iface}; remove it first (`ip link set dev {iface} xdp off`)")]
    AlreadyAttached { iface: String, program: String },
    #[error("this kernel has no AF_XDP support (CONFIG_XDP_SOCKETS)")]
    NoAfXdp,
    #[error("loading the XDP program failed: {0}")]
    Load(String),
    #[error("attaching the XDP program to {iface} in {mode} mode failed: {source}")]
    Attach {
        iface: String,
        mode: String,
        source: io::Error,
    },
    #[error("setting up the AF_XDP socket on {iface} queue {queue} failed: {detail}")]
    Socket {
        iface: String,
        queue: u32,
        detail: String,
    },
    #[error(
        "the {iface} driver refused a zero-copy AF_XDP bind on queue {queue} ({detail}); without \
         --zero-copy (zero_copy = \"prefer\", the default) xdptcp falls back to copy mode, and \
         --no-zero-copy asks for copy mode"
    )]
    ZeroCopyRefused {
        iface: String,
        queue: u32,
        detail: String,
    },
    #[error(
        "setting {option} = {value} on the AF_XDP socket of {iface} queue {queue} failed: {source} \
         (busy polling needs Linux 5.11; a time or budget above the socket's needs CAP_NET_ADMIN); \
         turn it off with busy_poll_us = 0"
    )]
    BusyPoll {
        iface: String,
        queue: u32,
        option: &'static str,
        value: i64,
        source: io::Error,
    },
    #[error(
        "umem.hugepages = \"require\" (--umem-hugepages require): {shortfall}; \
         umem.hugepages = \"prefer\" falls back to normal pages"
    )]
    HugePagesRequired { shortfall: HugePageShortfall },
    #[error("updating XDP map {map} failed: {source}")]
    Map {
        map: &'static str,
        source: io::Error,
    },
    #[error("{what} {value} is too large for the XDP program (at most {max})")]
    Limit {
        what: &'static str,
        value: u64,
        max: u64,
    },
}

impl XdpError {
    /// Maps an errno from a bpf() or socket call to the clearest error.
    fn from_os(err: &io::Error) -> Option<XdpError> {
        match err.raw_os_error() {
            Some(libc::EPERM) | Some(libc::EACCES) => Some(XdpError::PermissionDenied),
            Some(libc::EAFNOSUPPORT) => Some(XdpError::NoAfXdp),
            _ => None,
        }
    }
}
