//! What this process must hold before the steering program is loaded and AF_XDP sockets are
//! opened, checked up front so that a missing privilege is named instead of surfacing as a
//! bare EPERM (or ENOBUFS) halfway through the start.

use super::{XdpError, XskConfig};
use crate::host::{self, Capability};

/// The capabilities the datapath needs, found by starting `xdptcp serve` as a non-root user
/// with each one removed in turn (Linux 6.18; `tests/deploy.rs` repeats it):
/// - `CAP_NET_ADMIN`: creating the XSKMAP (`xsk_map_alloc` asks for it) and attaching the
///   program to the interface;
/// - `CAP_BPF`: `bpf(BPF_PROG_LOAD)` and map creation at all;
/// - `CAP_NET_RAW`: `socket(AF_XDP, SOCK_RAW, 0)`;
/// - `CAP_PERFMON`: the verifier refuses the program's variable-offset packet pointer
///   arithmetic (`(void *)ip + ip->ihl * 4`, `bpf/xdp_steer.c`) to a loader without it
///   ("pointer arithmetic with it prohibited for !root").
///
/// `CAP_IPC_LOCK` is needed only when `RLIMIT_MEMLOCK` is below the UMEM size (see
/// [`check_privileges`]); `CAP_SYS_NICE`, `CAP_SYS_RESOURCE` are not needed at all.
pub const REQUIRED_CAPABILITIES: [Capability; 4] = [
    Capability::NetAdmin,
    Capability::Bpf,
    Capability::NetRaw,
    Capability::Perfmon,
];

/// Names as a comma-separated list.
fn names(capabilities: &[Capability]) -> String {
    let names: Vec<&str> = capabilities.iter().map(|c| c.name()).collect();
    names.join(", ")
}

/// Bytes of locked memory the UMEMs of `queues` sockets take.
fn umem_bytes(queues: u32, xsk: &XskConfig) -> u64 {
    u64::from(queues) * u64::from(xsk.frame_count) * u64::from(xsk.frame_size)
}

/// Checks that this process holds [`REQUIRED_CAPABILITIES`], and that `RLIMIT_MEMLOCK` holds
/// at least the UMEMs of `queues` sockets: the kernel charges a UMEM's pages to the user's
/// locked memory unless the process has `CAP_IPC_LOCK` (`xdp_umem_account_pages`,
/// net/xdp/xdp_umem.c), and registration fails with ENOBUFS when they do not fit. This is a
/// lower bound (on Linux 6.18 a UMEM of 1, 2 and 4 MiB needed a limit of about 1.75 times
/// that); the socket's own ENOBUFS is told as [`XdpError::UmemNotLocked`].
pub fn check_privileges(queues: u32, xsk: &XskConfig) -> Result<(), XdpError> {
    let missing = host::missing_capabilities(&REQUIRED_CAPABILITIES);
    if !missing.is_empty() {
        return Err(XdpError::MissingCapabilities {
            required: names(&REQUIRED_CAPABILITIES),
            missing: names(&missing),
        });
    }
    if !host::missing_capabilities(&[Capability::IpcLock]).is_empty() {
        let needed = umem_bytes(queues, xsk);
        if let Some(limit) = host::locked_memory_limit().filter(|&limit| limit < needed) {
            return Err(XdpError::LockedMemory {
                queues,
                needed_kib: needed.div_ceil(1024),
                limit_kib: limit / 1024,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_umem_size_is_frames_times_frame_size_per_queue() {
        let xsk = XskConfig::default();
        assert_eq!(umem_bytes(1, &xsk), 4096 * 4096);
        assert_eq!(umem_bytes(3, &xsk), 3 * (16 << 20));
        assert_eq!(
            names(&REQUIRED_CAPABILITIES),
            "CAP_NET_ADMIN, CAP_BPF, CAP_NET_RAW, CAP_PERFMON"
        );
    }
}
