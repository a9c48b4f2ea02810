//! Read-only views of a connection, and the settings an application may change.

use std::sync::Arc;
use std::time::Duration;

use super::{ConnStatsSnapshot, Connection, ConnectionError, State};
#[cfg(doc)]
use crate::tcp::buffer::Assembler;
use crate::tcp::buffer::BufferPool;
use crate::tcp::congestion::{Algorithm, CongestionControl};
#[cfg(doc)]
use crate::tcp::recovery::scoreboard::Scoreboard;
use crate::wire::SeqNum;

impl Connection {
    pub fn state(&self) -> State {
        self.state
    }

    pub fn local_port(&self) -> u16 {
        self.local_port
    }

    pub fn remote_port(&self) -> u16 {
        self.remote_port
    }

    /// True if this connection came from a passive OPEN.
    pub fn is_passive(&self) -> bool {
        self.passive
    }

    /// Why the connection failed, if it did.
    pub fn error(&self) -> Option<ConnectionError> {
        self.app.error
    }

    pub fn iss(&self) -> SeqNum {
        self.snd.iss
    }

    pub fn irs(&self) -> SeqNum {
        self.rcv.irs
    }

    pub fn snd_una(&self) -> SeqNum {
        self.snd.una
    }

    pub fn snd_nxt(&self) -> SeqNum {
        self.snd.nxt
    }

    pub fn rcv_nxt(&self) -> SeqNum {
        self.rcv.nxt
    }

    /// One past the highest sequence number sent.
    pub fn snd_max(&self) -> SeqNum {
        self.snd.max
    }

    /// The peer's window as we track it (scaled).
    pub fn send_window(&self) -> u32 {
        self.snd.wnd
    }

    /// Effective MSS for segments we send.
    pub fn send_mss(&self) -> u16 {
        self.snd.mss
    }

    /// (our shift for the peer's window field, our shift for our window field).
    pub fn window_scales(&self) -> (u8, u8) {
        (self.snd.wscale, self.rcv.wscale)
    }

    /// The congestion window in force (NewReno recovery's while it lasts).
    pub fn congestion_window(&self) -> u32 {
        if self.negotiated.sack {
            self.cc.cwnd()
        } else {
            self.recovery.window(&self.cc)
        }
    }

    pub fn slow_start_threshold(&self) -> u32 {
        self.cc.ssthresh()
    }

    /// True during loss recovery (NewReno's, or the SACK recovery of RFC 6675).
    pub fn in_fast_recovery(&self) -> bool {
        self.in_loss_recovery()
    }

    pub fn rto(&self) -> Duration {
        self.rtx.rtt.rto()
    }

    pub fn srtt(&self) -> Option<Duration> {
        self.rtx.rtt.srtt()
    }

    /// The RTT variation (RFC 6298 RTTVAR); zero until the first sample.
    pub fn rttvar(&self) -> Duration {
        self.rtx.rtt.rttvar()
    }

    /// The congestion control algorithm this connection runs.
    pub fn congestion_algorithm(&self) -> Algorithm {
        self.config.congestion
    }

    /// This connection's counters, assembled (see `stats`: the event counters are boxed).
    pub fn stats(&self) -> ConnStatsSnapshot {
        ConnStatsSnapshot(self.stats.snapshot())
    }

    /// Retransmission timeouts since the peer last acknowledged anything. The stack uses it
    /// to re-validate the next hop when a path seems dead (as Linux's "negative advice").
    pub fn consecutive_timeouts(&self) -> u8 {
        self.rtx.retries
    }

    /// Bytes the application can still queue with [`Connection::send`].
    pub fn send_capacity(&self) -> usize {
        self.snd.buf.free()
    }

    /// Bytes queued and not yet acknowledged.
    pub fn send_queue_len(&self) -> usize {
        self.snd.buf.len()
    }

    /// Bytes ready for [`Connection::recv`].
    pub fn recv_available(&self) -> usize {
        self.rcv.buf.len()
    }

    /// Out-of-order bytes held in the receive buffer past RCV.NXT (RFC 9293 §3.10.7.4: text
    /// beyond a hole is kept for later). They live inside the receive buffer, so they never
    /// exceed its capacity less what waits to be read.
    pub fn out_of_order_bytes(&self) -> usize {
        self.rcv
            .assembler
            .ranges()
            .iter()
            .map(|&(start, end)| end.since(start) as usize)
            .sum()
    }

    /// Disjoint out-of-order ranges tracked, at most [`Assembler::MAX_RANGES`].
    pub fn out_of_order_ranges(&self) -> usize {
        self.rcv.assembler.ranges().len()
    }

    /// Segments on the SACK scoreboard (RFC 6675 §3), at most [`Scoreboard::CAPACITY`].
    pub fn scoreboard_len(&self) -> usize {
        self.sack.board.len()
    }

    /// Bytes of buffer storage this connection holds now: each ring counts its whole
    /// capacity once allocated, nothing before (or after it went back to its pool).
    pub fn buffer_memory(&self) -> usize {
        [&self.snd.buf, &self.rcv.buf]
            .into_iter()
            .filter(|ring| ring.is_allocated())
            .map(|ring| ring.capacity())
            .sum()
    }

    /// Bytes of heap this connection's control state holds now, payload buffers excluded:
    /// the out-of-order ranges while allocated, the SACK scoreboard's records, and the event
    /// counters once an event was counted (see `stats`).
    pub fn control_heap_bytes(&self) -> usize {
        self.rcv.assembler.heap_bytes() + self.sack.board.heap_bytes() + self.stats.heap_bytes()
    }

    /// True once the peer's FIN was processed (every byte before it has arrived).
    pub fn peer_closed(&self) -> bool {
        self.rcv.fin_received
    }

    /// True when nothing is left for anyone: CLOSED and every received byte was read, so the
    /// stack may free the connection.
    pub fn is_finished(&self) -> bool {
        self.state == State::Closed && self.rcv.buf.is_empty() && self.rst_pending.is_none()
    }

    /// True once [`Connection::release`] was called.
    pub fn is_orphaned(&self) -> bool {
        self.app.orphaned
    }

    /// Takes buffer storage from these pools (see [`BufferPool`]).
    pub fn set_buffer_pools(&mut self, send: Arc<BufferPool>, recv: Arc<BufferPool>) {
        self.snd.buf.set_pool(send);
        self.rcv.buf.set_pool(recv);
    }

    /// Shares `ceiling`, the stack's limit on challenge ACKs a second, with the other
    /// connections that hold it (RFC 5961 §7); without one, only this connection's limit
    /// applies.
    pub fn set_challenge_ack_ceiling(&mut self, ceiling: Arc<crate::tcp::ChallengeAckCeiling>) {
        self.challenge_ceiling = Some(ceiling);
    }

    /// Disables (true) or enables (false) Nagle's algorithm (RFC 896, RFC 1122 §4.2.3.4).
    pub fn set_nodelay(&mut self, nodelay: bool) {
        self.app.nodelay = nodelay;
    }
}
