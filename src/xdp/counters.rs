//! The steering program's per-CPU counters (its `stats` map, one entry per RX queue): frames
//! it redirected to our sockets (ICMP errors among them), frames it passed to the kernel and
//! SYNs it answered with cookies, summed over CPUs.

use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};

use libbpf_sys as bpf;

use super::program::last_os_error_or;
use super::XdpError;

/// Mirrors `struct xdptcp_queue_stats` in `bpf/xdp_steer.h`.
#[repr(C)]
#[derive(Copy, Clone, Default, Debug)]
struct QueueStatsValue {
    steered: u64,
    passed: u64,
    cookies_sent: u64,
    cookie_skipped: u64,
    icmp_steered: u64,
    no_socket: u64,
}

/// Frames the program handled on one RX queue, summed over CPUs.
#[derive(Copy, Clone, Default, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct QueueCounters {
    /// Redirected to the AF_XDP socket.
    pub steered: u64,
    /// Passed to the kernel.
    pub passed: u64,
    /// SYNs answered in the program with a cookie SYN,ACK.
    #[serde(default)]
    pub cookies_sent: u64,
    /// SYNs to a cookie port the program could not answer (malformed options, no room in
    /// the frame): steered to the socket instead, whose stack answers them.
    #[serde(default)]
    pub cookie_skipped: u64,
    /// Of `steered`: ICMP errors about the stack's TCP segments.
    #[serde(default)]
    pub icmp_steered: u64,
    /// Of `steered`: frames the queue's XSKMAP slot had no socket for, so they went to the
    /// kernel instead (a socket that is not, or no longer, in the map).
    #[serde(default)]
    pub no_socket: u64,
}

/// Reads the program's counters from any thread: it holds a descriptor of its own to the
/// `stats` map (the kernel keeps a map while a descriptor to it is open).
#[derive(Debug)]
pub struct ProgramCounters {
    stats: OwnedFd,
    possible_cpus: usize,
}

impl ProgramCounters {
    pub(super) fn new(stats_fd: RawFd, possible_cpus: usize) -> Result<ProgramCounters, XdpError> {
        // SAFETY: `stats_fd` is an open descriptor of the `stats` map, owned by the caller's
        // program or by another reader, which the caller holds for the length of this call.
        let borrowed = unsafe { BorrowedFd::borrow_raw(stats_fd) };
        let stats = rustix::io::fcntl_dupfd_cloexec(borrowed, 0).map_err(|e| XdpError::Map {
            map: "stats",
            source: e.into(),
        })?;
        Ok(ProgramCounters {
            stats,
            possible_cpus,
        })
    }

    /// Another reader of the same map (its own descriptor).
    pub fn try_clone(&self) -> Result<ProgramCounters, XdpError> {
        ProgramCounters::new(self.stats.as_raw_fd(), self.possible_cpus)
    }

    /// The counters of RX queue `queue`.
    pub fn queue(&self, queue: u32) -> Result<QueueCounters, XdpError> {
        lookup(self.stats.as_raw_fd(), self.possible_cpus, queue)
    }
}

/// Looks queue `queue` up in the per-CPU `stats` map behind `fd` and sums its CPUs.
pub(super) fn lookup(
    fd: RawFd,
    possible_cpus: usize,
    queue: u32,
) -> Result<QueueCounters, XdpError> {
    let mut values = vec![QueueStatsValue::default(); possible_cpus];
    // SAFETY: a per-CPU array lookup writes one value per possible CPU, and `values` holds
    // exactly that many (each 40 bytes, already a multiple of 8 as the kernel requires).
    let err = unsafe {
        bpf::bpf_map_lookup_elem(
            fd,
            (&queue as *const u32).cast(),
            values.as_mut_ptr().cast(),
        )
    };
    if err != 0 {
        return Err(XdpError::Map {
            map: "stats",
            source: last_os_error_or(err),
        });
    }
    Ok(values
        .iter()
        .fold(QueueCounters::default(), |acc, v| QueueCounters {
            steered: acc.steered + v.steered,
            passed: acc.passed + v.passed,
            cookies_sent: acc.cookies_sent + v.cookies_sent,
            cookie_skipped: acc.cookie_skipped + v.cookie_skipped,
            icmp_steered: acc.icmp_steered + v.icmp_steered,
            no_socket: acc.no_socket + v.no_socket,
        }))
}
