//! Preferred busy polling on an AF_XDP socket (Linux 5.11): `SO_PREFER_BUSY_POLL` makes the
//! kernel run the queue's NAPI from the worker's own system calls (the RX wake-up, the TX
//! kick, poll()) instead of from interrupts, while the device's `napi_defer_hard_irqs` and
//! `gro_flush_timeout` (set by `deploy/tune-host.sh`) keep the interrupts off;
//! `SO_BUSY_POLL` is how long one such call may poll, `SO_BUSY_POLL_BUDGET` how many
//! frames one NAPI run may take.

use std::io;
use std::os::fd::RawFd;

use super::XdpError;

// include/uapi/asm-generic/socket.h (x86-64 and arm64 use the generic values); the libc
// crate does not export the two newer ones for Linux.
const SO_BUSY_POLL: libc::c_int = 46;
const SO_PREFER_BUSY_POLL: libc::c_int = 69;
const SO_BUSY_POLL_BUDGET: libc::c_int = 70;

/// The busy-poll options of each AF_XDP socket.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct BusyPoll {
    /// `SO_BUSY_POLL`: microseconds one call may busy-poll.
    pub usecs: u32,
    /// `SO_BUSY_POLL_BUDGET`: frames one NAPI run may take.
    pub budget: u16,
}

impl BusyPoll {
    /// The budget the kernel's NAPI uses by default (`NAPI_POLL_WEIGHT`).
    pub const DEFAULT_BUDGET: u16 = 64;
}

fn set(fd: RawFd, option: libc::c_int, value: libc::c_int) -> io::Result<()> {
    // SAFETY: `value` is a live c_int for the call and its size is passed with it; the
    // kernel only reads it. A bad descriptor or option is reported through the result.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            option,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Sets the three options on the socket `fd` of `iface` queue `queue`.
pub(super) fn apply(fd: RawFd, iface: &str, queue: u32, busy: BusyPoll) -> Result<(), XdpError> {
    let options = [
        ("SO_PREFER_BUSY_POLL", SO_PREFER_BUSY_POLL, 1),
        (
            "SO_BUSY_POLL",
            SO_BUSY_POLL,
            libc::c_int::try_from(busy.usecs).unwrap_or(libc::c_int::MAX),
        ),
        (
            "SO_BUSY_POLL_BUDGET",
            SO_BUSY_POLL_BUDGET,
            libc::c_int::from(busy.budget),
        ),
    ];
    for (option, number, value) in options {
        set(fd, number, value).map_err(|source| XdpError::BusyPoll {
            iface: iface.into(),
            queue,
            option,
            value: i64::from(value),
            source,
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn a_socket_takes_the_options_and_a_bad_descriptor_is_reported_by_name() {
        // Any socket has the SOL_SOCKET options; a UDP one needs no privileges (a budget
        // or time above the socket's current one needs CAP_NET_ADMIN, so 0 is asked).
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let off = BusyPoll {
            usecs: 0,
            budget: 0,
        };
        apply(udp.as_raw_fd(), "lo", 0, off).unwrap();
        let err = apply(-1, "eth9", 3, off).unwrap_err().to_string();
        assert!(
            err.starts_with("setting SO_PREFER_BUSY_POLL = 1 on the AF_XDP socket of eth9 queue 3 failed: Bad file descriptor"),
            "{err}"
        );
    }
}
