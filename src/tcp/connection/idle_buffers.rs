//! Payload rings kept while a connection is busy and given back once it is idle.
//!
//! A ring that drains empty (everything sent was acknowledged, everything received was
//! read) is not returned to its pool at once: a busy connection would give it back and take
//! it again on nearly every segment (some 140 instructions each time). It stays, marked as
//! in use, and its owner sweeps now and then ([`Connection::release_idle_buffers`]): a ring
//! empty at a sweep and not drained since the one before goes back, so an idle connection
//! ends up holding no payload buffer while a busy one keeps its storage.

use super::Connection;

impl Connection {
    /// A ring drained empty: it stays for the next segment, and the next sweep spares it.
    #[inline]
    pub(super) fn ring_drained(&mut self) {
        self.rings_used = true;
    }

    /// True while a payload ring is allocated with nothing in it (for the receive ring: no
    /// out-of-order text stored past it either): what a sweep may give back.
    #[inline]
    pub fn holds_empty_buffer(&self) -> bool {
        let send = self.snd.buf.is_allocated() && self.snd.buf.is_empty();
        let receive =
            self.rcv.buf.is_allocated() && self.rcv.buf.is_empty() && self.rcv.assembler.is_empty();
        send | receive
    }

    /// One sweep of an owner that keeps idle connections free of payload buffers: unless a
    /// ring drained since the last sweep, the empty rings go back to their pools (taken again
    /// on the next send or arrival). Returns true while an empty ring is still held (it was
    /// in use since the last sweep): the owner should look again at the next one.
    pub fn release_idle_buffers(&mut self) -> bool {
        if std::mem::take(&mut self.rings_used) {
            return self.holds_empty_buffer();
        }
        self.snd.buf.release_if_empty();
        // With nothing in flight the SACK scoreboard is empty too: its records' storage goes
        // with the send ring, so an idle connection holds none (kept while busy, like the
        // rings, so that a flight does not allocate it again).
        if self.snd.buf.is_empty() {
            self.sack.board.release_if_empty();
        }
        if self.rcv.buf.is_empty() && self.rcv.assembler.is_empty() {
            self.rcv.buf.release_if_empty();
            self.rcv.assembler.release_if_empty();
        }
        false
    }
}
