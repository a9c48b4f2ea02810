//! Acknowledgments sent before the batch of frames that owes them is done (RFC 5681 §4.2):
//! when a segment arrives for a connection that already owes an ACK, that ACK is built at
//! once and held here until the next `poll_transmit`, ahead of the connections' segments.
//! The peer so hears at least every second full-sized segment however many a batch holds,
//! one lost ACK does not hide a whole batch from it, and every duplicate gets its own
//! D-SACK block.

use std::collections::VecDeque;

use super::transmit::ETH_IP_HEADERS;
use super::{ConnId, Stack};
use crate::time::Instant;
use crate::wire::tcp::MAX_HEADER_LEN;

/// Room for a pure ACK frame: Ethernet, IPv4 and a TCP header with every option.
pub(super) const EARLY_ACK_FRAME: usize = ETH_IP_HEADERS + MAX_HEADER_LEN;
/// Most ACKs held between two polls; beyond it the later ACK covers them, as before.
pub(super) const EARLY_ACK_LIMIT: usize = 64;

/// The ACK frames waiting for `poll_transmit`, in the order they were built.
#[derive(Debug)]
pub(super) struct EarlyAcks {
    frames: VecDeque<([u8; EARLY_ACK_FRAME], u8)>,
}

impl EarlyAcks {
    pub fn new() -> EarlyAcks {
        EarlyAcks {
            frames: VecDeque::with_capacity(EARLY_ACK_LIMIT),
        }
    }

    pub fn is_full(&self) -> bool {
        self.frames.len() >= EARLY_ACK_LIMIT
    }

    pub fn push(&mut self, frame: &[u8]) {
        let mut copy = [0u8; EARLY_ACK_FRAME];
        copy[..frame.len()].copy_from_slice(frame);
        self.frames.push_back((copy, frame.len() as u8));
    }

    /// Copies the oldest frame into `buf` and returns its length.
    pub fn pop_into(&mut self, buf: &mut [u8]) -> Option<usize> {
        let (frame, len) = self.frames.pop_front()?;
        let len = usize::from(len);
        buf[..len].copy_from_slice(&frame[..len]);
        Some(len)
    }
}

impl Stack {
    /// A segment is about to reach connection `id`: if the connection owes an ACK for what
    /// came before it in this batch, that ACK is built now and held (see the module
    /// documentation). Nothing is sent toward a next hop whose MAC address is unknown.
    #[inline]
    pub(super) fn send_owed_ack_early(&mut self, now: Instant, id: ConnId) {
        let Some(slot) = self.conns.get(id) else {
            return;
        };
        if !slot.conn.owes_ack() || self.early_acks.is_full() {
            return;
        }
        self.build_early_ack(now, id);
    }

    #[inline(never)]
    fn build_early_ack(&mut self, now: Instant, id: ConnId) {
        let Some(slot) = self.conns.get(id) else {
            return;
        };
        let remote_ip = slot.key.remote_ip;
        let Some(mac) = self.neighbors.lookup(self.next_hop(remote_ip)) else {
            return;
        };
        let mut frame = [0u8; EARLY_ACK_FRAME];
        let Some(slot) = self.conns.get_mut(id) else {
            return;
        };
        let Some(tcp_len) = slot.conn.poll_ack(now, &mut frame[ETH_IP_HEADERS..]) else {
            return;
        };
        let len = self.finish_tcp_frame(mac, remote_ip, &mut frame, tcp_len);
        self.early_acks.push(&frame[..len]);
    }
}
