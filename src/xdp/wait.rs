//! Sleeping until a socket has frames, another thread has work, or a deadline passes.
//!
//! A worker that goes idle sleeps in `poll(2)` on its AF_XDP socket and its [`Waker`] (an
//! eventfd). Other threads wake it by writing the eventfd — but only when the worker said it
//! is asleep, so a busy worker costs them no system call.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Wakes one sleeping worker.
#[derive(Debug)]
pub struct Waker {
    eventfd: OwnedFd,
    sleeping: AtomicBool,
}

impl Waker {
    pub fn new() -> io::Result<Waker> {
        // SAFETY: eventfd has no memory preconditions; the result is checked below.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Waker {
            // SAFETY: `fd` is a new eventfd that nothing else owns.
            eventfd: unsafe { OwnedFd::from_raw_fd(fd) },
            sleeping: AtomicBool::new(false),
        })
    }

    /// Wakes the worker if it is (or is about to be) asleep.
    pub fn wake(&self) {
        if self.sleeping.load(Ordering::SeqCst) {
            let one: u64 = 1;
            // SAFETY: writes 8 bytes from a valid u64 to our eventfd. A full counter (EAGAIN)
            // already means "wake up", so the result needs no handling.
            let _ = unsafe {
                libc::write(
                    self.eventfd.as_raw_fd(),
                    (&one as *const u64).cast(),
                    std::mem::size_of::<u64>(),
                )
            };
        }
    }

    fn drain(&self) {
        let mut value: u64 = 0;
        // SAFETY: reads at most 8 bytes into a valid u64; EAGAIN (nothing pending) is fine.
        let _ = unsafe {
            libc::read(
                self.eventfd.as_raw_fd(),
                (&mut value as *mut u64).cast(),
                std::mem::size_of::<u64>(),
            )
        };
    }
}

/// Sleeps until `socket_fd` is readable, `waker` is woken, or `timeout` passes — unless
/// `ready` (checked after announcing the sleep, so no wake-up is lost) says there is work.
/// Returns true if it slept.
pub fn sleep(
    socket_fd: RawFd,
    waker: &Waker,
    timeout: Duration,
    ready: impl Fn() -> bool,
) -> io::Result<bool> {
    waker.sleeping.store(true, Ordering::SeqCst);
    if ready() {
        waker.sleeping.store(false, Ordering::SeqCst);
        return Ok(false);
    }
    let mut fds = [
        libc::pollfd {
            fd: socket_fd,
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd: waker.eventfd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    // ppoll takes nanoseconds (poll's milliseconds would make every timer up to 1 ms late).
    let timeout = libc::timespec {
        tv_sec: timeout.as_secs().min(i64::MAX as u64) as libc::time_t,
        tv_nsec: libc::c_long::from(timeout.subsec_nanos() as i32),
    };
    // SAFETY: `fds` is a valid array of two pollfd structures and `timeout` a valid timespec
    // for the duration of the call; a null signal mask leaves the mask unchanged.
    let n = unsafe {
        libc::ppoll(
            fds.as_mut_ptr(),
            fds.len() as libc::nfds_t,
            &timeout,
            std::ptr::null(),
        )
    };
    waker.sleeping.store(false, Ordering::SeqCst);
    if n < 0 {
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
    if fds[1].revents & libc::POLLIN != 0 {
        waker.drain();
    }
    Ok(true)
}

/// Asks the kernel to process the socket's RX side now (for drivers that set the fill
/// ring's need-wakeup flag): a non-blocking `recvfrom` with no buffer.
pub fn kick_rx(socket_fd: RawFd) {
    // SAFETY: recvfrom with a null buffer of length 0 is the documented AF_XDP wake-up; the
    // result (EAGAIN and the like) carries no information we need.
    let _ = unsafe {
        libc::recvfrom(
            socket_fd,
            std::ptr::null_mut(),
            0,
            libc::MSG_DONTWAIT,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        )
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn wake_interrupts_sleep_and_ready_skips_it() {
        let waker = Arc::new(Waker::new().unwrap());
        // A pipe stands in for the socket: never readable here.
        let mut pipe = [0; 2];
        // SAFETY: `pipe` is a valid array of two ints.
        assert_eq!(unsafe { libc::pipe(pipe.as_mut_ptr()) }, 0);
        let w = waker.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            w.wake();
        });
        let start = std::time::Instant::now();
        assert!(sleep(pipe[0], &waker, Duration::from_secs(10), || false).unwrap());
        assert!(start.elapsed() < Duration::from_secs(5));
        t.join().unwrap();
        assert!(!sleep(pipe[0], &waker, Duration::from_secs(10), || true).unwrap());
        // SAFETY: closing the two descriptors the pipe created.
        unsafe {
            libc::close(pipe[0]);
            libc::close(pipe[1]);
        }
    }
}
