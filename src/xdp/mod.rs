//! The AF_XDP layer: the XDP steering program and one AF_XDP socket per NIC queue.
//!
//! This module holds all of xdptcp's `unsafe` and `libc`; every `unsafe` block states why it
//! is sound in a `SAFETY:` comment. One concern per file: [`program`] loads the program of
//! `bpf/`, attaches it and fills its maps; [`socket`] owns a UMEM and the four rings of one
//! queue and moves frames between them and the stack.

#![allow(unsafe_code)]
#![warn(clippy::undocumented_unsafe_blocks)]

pub mod program;
pub mod socket;
pub mod wait;

pub use program::{QueueCounters, XdpAttach, XdpMode, XdpProgram};
pub use socket::{BindMode, SocketStats, XskConfig, XskSocket};

use std::io;

/// Why the AF_XDP datapath could not start. Each says what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum XdpError {
    #[error(
        "permission denied: xdptcp needs root (or CAP_NET_ADMIN, CAP_BPF and CAP_NET_RAW) to load XDP programs and open AF_XDP sockets"
    )]
    PermissionDenied,
    #[error("interface {0} does not exist (in this network namespace)")]
    InterfaceMissing(String),
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

/// The RX queue count of `iface`, from `/sys/class/net/<iface>/queues`.
pub fn rx_queue_count(iface: &str) -> Result<u32, XdpError> {
    let dir = format!("/sys/class/net/{iface}/queues");
    let entries = std::fs::read_dir(&dir).map_err(|_| XdpError::InterfaceMissing(iface.into()))?;
    let count = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("rx-"))
        .count();
    Ok(count as u32)
}

/// The interface index of `iface` in this network namespace.
pub fn interface_index(iface: &str) -> Result<u32, XdpError> {
    let name =
        std::ffi::CString::new(iface).map_err(|_| XdpError::InterfaceMissing(iface.into()))?;
    // SAFETY: `name` is a valid NUL-terminated string that outlives the call.
    let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
    if index == 0 {
        return Err(XdpError::InterfaceMissing(iface.into()));
    }
    Ok(index)
}

/// The kernel driver behind `iface` ("veth", "ice", "mlx5_core", ...), from the ethtool
/// ioctl (ETHTOOL_GDRVINFO).
pub fn driver_name(iface: &str) -> io::Result<String> {
    const ETHTOOL_GDRVINFO: u32 = 0x0000_0003;
    #[repr(C)]
    struct DrvInfo {
        cmd: u32,
        driver: [u8; 32],
        version: [u8; 32],
        fw_version: [u8; 32],
        bus_info: [u8; 32],
        erom_version: [u8; 32],
        reserved2: [u8; 12],
        n_priv_flags: u32,
        n_stats: u32,
        testinfo_len: u32,
        eedump_len: u32,
        regdump_len: u32,
    }
    #[repr(C)]
    struct IfReq {
        name: [u8; libc::IFNAMSIZ],
        data: *mut DrvInfo,
        _pad: [u8; 16],
    }
    if iface.len() >= libc::IFNAMSIZ {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "interface name too long",
        ));
    }
    let mut info = DrvInfo {
        cmd: ETHTOOL_GDRVINFO,
        driver: [0; 32],
        version: [0; 32],
        fw_version: [0; 32],
        bus_info: [0; 32],
        erom_version: [0; 32],
        reserved2: [0; 12],
        n_priv_flags: 0,
        n_stats: 0,
        testinfo_len: 0,
        eedump_len: 0,
        regdump_len: 0,
    };
    let mut req = IfReq {
        name: [0; libc::IFNAMSIZ],
        data: &mut info,
        _pad: [0; 16],
    };
    req.name[..iface.len()].copy_from_slice(iface.as_bytes());
    // SAFETY: a datagram socket used only for the ioctl below; the result is checked.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `req` is a valid ifreq whose data pointer refers to `info`, which outlives the
    // call; SIOCETHTOOL with ETHTOOL_GDRVINFO writes only within `info`.
    let rc = unsafe { libc::ioctl(fd, libc::SIOCETHTOOL, &mut req) };
    let err = io::Error::last_os_error();
    // SAFETY: closing the descriptor opened above, once.
    unsafe { libc::close(fd) };
    if rc < 0 {
        return Err(err);
    }
    let end = info
        .driver
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(info.driver.len());
    Ok(String::from_utf8_lossy(&info.driver[..end]).into_owned())
}

/// True when the process runs with an effective user id of 0.
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}
