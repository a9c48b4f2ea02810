//! SYN cookies answered in the XDP program (`bpf/syn_cookie.h`): what the program must know to
//! build the SYN,ACK the stack would send ([`CookieAnswer`], in its `config` map), and the
//! handle with which a worker marks the listening ports whose SYNs on its queue the program
//! answers ([`CookiePorts`], the `cookie_ports` map).

use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};

use libbpf_sys as bpf;

use super::program::last_os_error_or;
use super::XdpError;

/// Mirrors the `XDPTCP_COOKIE_*` bits of `bpf/xdp_steer.h`.
const COOKIE_TIMESTAMPS: u8 = 0x1;
const COOKIE_SACK: u8 = 0x2;
const COOKIE_WINDOW_SCALING: u8 = 0x4;

/// Mirrors the cookie fields of `struct xdptcp_config` in `bpf/xdp_steer.h`.
#[repr(C)]
#[derive(Copy, Clone, Default)]
pub(super) struct CookieAnswerValue {
    key0: u64,
    key1: u64,
    mss: u16,
    window: u16,
    window_shift: u8,
    cookie_flags: u8,
    ttl: u8,
    reserved: u8,
}

/// What a cookie SYN,ACK carries, as the stack's configuration sets it
/// (`tcp::syn_cookie::syn_ack` builds the same segment in user space).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct CookieAnswer {
    /// The stack's ISN secret: cookies and timestamp offsets are keyed SipHashes under it.
    pub key: [u8; 16],
    /// Our MSS option.
    pub mss: u16,
    /// The SYN,ACK's window (never scaled, RFC 7323 §2.2).
    pub window: u16,
    /// Our window scale shift, offered when the peer offered window scaling.
    pub window_shift: u8,
    pub timestamps: bool,
    pub sack: bool,
    pub window_scaling: bool,
    /// The IPv4 TTL of the SYN,ACK.
    pub ttl: u8,
}

impl CookieAnswer {
    pub(super) fn value(&self) -> CookieAnswerValue {
        let half = |range: std::ops::Range<usize>| {
            u64::from_le_bytes(self.key[range].try_into().expect("8 bytes"))
        };
        let flag = |on: bool, bit: u8| if on { bit } else { 0 };
        CookieAnswerValue {
            // As `siphasher` reads a 16-byte key: two little-endian words.
            key0: half(0..8),
            key1: half(8..16),
            mss: self.mss,
            window: self.window,
            window_shift: self.window_shift,
            cookie_flags: flag(self.timestamps, COOKIE_TIMESTAMPS)
                | flag(self.sack, COOKIE_SACK)
                | flag(self.window_scaling, COOKIE_WINDOW_SCALING),
            ttl: self.ttl,
            reserved: 0,
        }
    }
}

/// Mirrors `struct xdptcp_cookie_port`.
#[repr(C)]
struct CookiePortKey {
    queue: u32,
    port: u32,
}

/// Marks and unmarks (queue, listening port) pairs whose SYNs the program answers with
/// cookies. Each worker holds one (its own descriptor of the map) and writes only its own
/// queue's entries, when its listener's state changes — never per packet.
#[derive(Debug)]
pub struct CookiePorts {
    map: OwnedFd,
}

impl CookiePorts {
    pub(super) fn new(map_fd: RawFd) -> Result<CookiePorts, XdpError> {
        // SAFETY: `map_fd` is the open descriptor of the program's `cookie_ports` map, which
        // the caller's program holds for the length of this call.
        let borrowed = unsafe { BorrowedFd::borrow_raw(map_fd) };
        let map = rustix::io::fcntl_dupfd_cloexec(borrowed, 0).map_err(|e| XdpError::Map {
            map: "cookie_ports",
            source: e.into(),
        })?;
        Ok(CookiePorts { map })
    }

    /// Another handle on the same map (for another worker).
    pub fn try_clone(&self) -> Result<CookiePorts, XdpError> {
        CookiePorts::new(self.map.as_raw_fd())
    }

    /// Has the program answer SYNs to `port` arriving on `queue` with cookies (`on`), or
    /// steer them to the socket again.
    pub fn set(&self, queue: u32, port: u16, on: bool) -> Result<(), XdpError> {
        let key = CookiePortKey {
            queue,
            port: u32::from(port),
        };
        let fd = self.map.as_raw_fd();
        let key_ptr = (&key as *const CookiePortKey).cast();
        let err = if on {
            let value = 1u8;
            // SAFETY: key and value are live for the call and have the map's key and value
            // sizes (8 and 1 bytes, as `bpf/xdp_steer.c` declares them).
            unsafe {
                bpf::bpf_map_update_elem(
                    fd,
                    key_ptr,
                    (&value as *const u8).cast(),
                    u64::from(bpf::BPF_ANY),
                )
            }
        } else {
            // SAFETY: as above, for the key alone.
            let rc = unsafe { bpf::bpf_map_delete_elem(fd, key_ptr) };
            // Deleting what is not there is not an error.
            if rc != 0 && last_os_error_or(rc).raw_os_error() == Some(libc::ENOENT) {
                0
            } else {
                rc
            }
        };
        if err != 0 {
            return Err(XdpError::Map {
                map: "cookie_ports",
                source: last_os_error_or(err),
            });
        }
        Ok(())
    }
}
