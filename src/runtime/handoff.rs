//! Handing frames to the worker that owns their connection.
//!
//! The NIC (or veth) picks the RX queue of a frame; a connection lives on one worker. For
//! connections we opened, the queue the replies arrive on is the NIC's choice, so a frame
//! may reach a worker that does not own its connection. Ownership needs no shared table:
//! each worker opens connections only from its own slice of the ephemeral port range, so the
//! destination port of a reply (or the source port an ICMP error quotes) names its owner. Such a frame is copied into the owner's
//! bounded lock-free queue (crossbeam `ArrayQueue`) and the owner is woken; when the queue is
//! full the frame is dropped and counted (TCP retransmits it).
//!
//! Connections others opened to us stay on the queue their first SYN arrived on: RSS hashes
//! a flow's 4-tuple to the same queue every time. Choosing ephemeral ports whose replies the
//! NIC's Toeplitz hash sends to the opening worker (as mTCP and F-Stack do) removes most
//! hand-offs on real NICs; that is on the roadmap.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crossbeam::queue::ArrayQueue;

use super::frame_ports::{frame_ports, FramePorts};
use crate::xdp::wait::Waker;

/// Frames a worker's hand-off queue holds.
const QUEUE_FRAMES: usize = 4096;

struct Inbox {
    frames: ArrayQueue<Vec<u8>>,
    waker: Arc<Waker>,
    handed: AtomicU64,
    dropped: AtomicU64,
}

/// One inbox per worker.
pub(super) struct Handoffs {
    inboxes: Vec<Inbox>,
    ephemeral_start: u16,
    ports_per_worker: u32,
}

/// Our port of the connection an IPv4 frame is for: a TCP segment's destination port, or
/// the source port of the TCP segment an ICMP error quotes.
fn local_port(frame: &[u8]) -> Option<u16> {
    match frame_ports(frame)? {
        FramePorts::Segment { dst, .. } => Some(dst),
        FramePorts::Quoted { src, .. } => Some(src),
    }
}

impl Handoffs {
    pub fn new(wakers: &[Arc<Waker>], ephemeral_start: u16, ports_per_worker: u32) -> Handoffs {
        Handoffs {
            inboxes: wakers
                .iter()
                .map(|w| Inbox {
                    frames: ArrayQueue::new(QUEUE_FRAMES),
                    waker: w.clone(),
                    handed: AtomicU64::new(0),
                    dropped: AtomicU64::new(0),
                })
                .collect(),
            ephemeral_start,
            ports_per_worker: ports_per_worker.max(1),
        }
    }

    pub fn len(&self) -> usize {
        self.inboxes.len()
    }

    /// The worker that opened connections from `port`, if it is one of ours.
    fn owner_of_port(&self, port: u16) -> Option<usize> {
        let offset = u32::from(port.checked_sub(self.ephemeral_start)?);
        let owner = (offset / self.ports_per_worker) as usize;
        (owner < self.inboxes.len()).then_some(owner)
    }

    /// If `frame` belongs to another worker's connection, queues a copy for it and returns
    /// true (the caller then drops its own).
    pub fn forward(&self, me: usize, frame: &[u8]) -> bool {
        let Some(owner) = local_port(frame).and_then(|p| self.owner_of_port(p)) else {
            return false;
        };
        if owner == me {
            return false;
        }
        let inbox = &self.inboxes[owner];
        if inbox.frames.push(frame.to_vec()).is_err() {
            self.inboxes[me].dropped.fetch_add(1, Ordering::Relaxed);
        } else {
            self.inboxes[me].handed.fetch_add(1, Ordering::Relaxed);
            inbox.waker.wake();
        }
        true
    }

    /// Hands up to `max` frames queued for worker `me` to `receive`.
    pub fn drain(&self, me: usize, max: usize, mut receive: impl FnMut(&[u8])) -> usize {
        let mut n = 0;
        while n < max {
            let Some(frame) = self.inboxes[me].frames.pop() else {
                break;
            };
            receive(&frame);
            n += 1;
        }
        n
    }

    pub fn has_frames(&self, me: usize) -> bool {
        !self.inboxes[me].frames.is_empty()
    }

    /// (frames handed from `me` to others, frames `me` had to drop).
    pub fn counters(&self, me: usize) -> (u64, u64) {
        let inbox = &self.inboxes[me];
        (
            inbox.handed.load(Ordering::Relaxed),
            inbox.dropped.load(Ordering::Relaxed),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::frame_ports::tests::icmp_error_about;

    #[test]
    fn ports_name_their_owner() {
        let wakers: Vec<_> = (0..3).map(|_| Arc::new(Waker::new().unwrap())).collect();
        let h = Handoffs::new(&wakers, 61_000, 1000);
        assert_eq!(h.owner_of_port(60_999), None);
        assert_eq!(h.owner_of_port(61_000), Some(0));
        assert_eq!(h.owner_of_port(61_999), Some(0));
        assert_eq!(h.owner_of_port(62_000), Some(1));
        assert_eq!(h.owner_of_port(63_999), Some(2));
        assert_eq!(h.owner_of_port(64_000), None);
    }

    #[test]
    fn an_icmp_error_goes_to_the_owner_of_the_port_it_quotes() {
        assert_eq!(local_port(&icmp_error_about(62_345)), Some(62_345));
        let mut echo = icmp_error_about(62_345);
        echo[34] = 8;
        assert_eq!(local_port(&echo), None, "not an error about a segment");
    }
}
