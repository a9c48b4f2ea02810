//! The receive side: RCV.NXT and the window we advertise, reassembly of segment text into
//! the receive buffer, and when to acknowledge (RFC 9293 §3.10.7.4 seventh step, RFC 1122
//! §4.2.3.2–3, RFC 5681 §4.2, RFC 7323 §2.4).

use super::pending::Owed;
use super::{Connection, Event};
use crate::tcp::buffer::{Assembler, RingBuffer};
use crate::tcp::timer::Timer;
use crate::time::Instant;
use crate::wire::{SackBlocks, SeqNum};

/// Receive sequence space (RFC 9293 §3.3.1) and what hangs off it.
#[derive(Debug)]
pub(super) struct ReceiveSequence {
    /// IRS: the peer's initial sequence number.
    pub irs: SeqNum,
    /// RCV.NXT.
    pub nxt: SeqNum,
    /// The right edge of the largest window we advertised. Segments up to it are
    /// acceptable even when a later, rounded-down advertisement fell short of it (RFC 7323
    /// appendix F, rule 1); it never exceeds RCV.NXT plus the buffer's free space, so what
    /// is acceptable always fits.
    pub adv: SeqNum,
    /// Shift applied to the window field we send (Rcv.Wind.Shift, RFC 7323 §2.2).
    pub wscale: u8,
    pub buf: RingBuffer,
    pub assembler: Assembler,
    /// Sequence number of the peer's FIN once seen (possibly ahead of a hole).
    pub peer_fin: Option<SeqNum>,
    /// The peer's FIN was processed: every byte before it arrived.
    pub fin_received: bool,
    /// In-order bytes received and not yet acknowledged (delayed ACK accounting).
    pub unacked_bytes: u32,
    /// The largest segment text received so far, at most our MSS: the "full-sized
    /// segment" of RFC 1122 §4.2.3.2 and RFC 5681 §4.2, as the peer actually sends them.
    pub segment_size: u32,
    /// A duplicate received and not yet reported: the first SACK block of the next ACK
    /// (D-SACK, RFC 2883 §4).
    pub dsack: Option<(SeqNum, SeqNum)>,
}

/// How soon an arrival wants its acknowledgment.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum AckUrgency {
    /// Nothing to acknowledge.
    None,
    /// Within the delayed-ACK time (RFC 1122 §4.2.3.2).
    Delayed,
    /// In the next segment out.
    Immediate,
}

/// Segment size assumed before any data arrived: the default MSS of RFC 9293 §3.7.1.
const INITIAL_SEGMENT_SIZE: u32 = 536;

impl ReceiveSequence {
    pub fn new(buffer: usize, mss: u16) -> ReceiveSequence {
        ReceiveSequence {
            irs: SeqNum(0),
            nxt: SeqNum(0),
            adv: SeqNum(0),
            wscale: 0,
            buf: RingBuffer::new(buffer),
            assembler: Assembler::default(),
            peer_fin: None,
            fin_received: false,
            unacked_bytes: 0,
            segment_size: INITIAL_SEGMENT_SIZE.min(u32::from(mss)),
            dsack: None,
        }
    }

    /// The peer's SYN arrived with sequence number `irs`.
    pub fn on_syn(&mut self, irs: SeqNum) {
        self.irs = irs;
        self.nxt = irs + 1u32;
        self.adv = self.nxt;
    }

    /// RCV.WND: what is left of the largest window we advertised.
    pub fn window(&self) -> u32 {
        if self.adv > self.nxt {
            self.adv.since(self.nxt)
        } else {
            0
        }
    }

    /// The SACK blocks to report (RFC 2018 §4): a D-SACK first if a duplicate arrived, with
    /// the out-of-order range holding it second (RFC 2883 §4), then the out-of-order ranges,
    /// the one holding the latest segment first and the rest most recently changed first.
    /// The options emitter keeps as many as fit.
    #[inline]
    pub fn sack_blocks(&self) -> SackBlocks {
        if self.dsack.is_none() && self.assembler.is_empty() {
            return SackBlocks::default(); // in-order data: nothing to report, the common case
        }
        self.held_sack_blocks()
    }

    fn held_sack_blocks(&self) -> SackBlocks {
        let mut blocks = SackBlocks::default();
        let mut listed = None;
        if let Some((start, end)) = self.dsack {
            blocks.push(start.0, end.0);
            listed = self.assembler.containing(start, end);
            if let Some((s, e)) = listed {
                blocks.push(s.0, e.0);
            }
        }
        let (ranges, count) = self.assembler.by_recency();
        for &(start, end) in &ranges[..count] {
            if listed != Some((start, end)) && !blocks.push(start.0, end.0) {
                break;
            }
        }
        blocks
    }

    /// Remembers that `[start, end)` arrived again, for the next ACK's D-SACK block.
    pub fn note_duplicate(&mut self, start: SeqNum, end: SeqNum) {
        if start < end {
            self.dsack = Some((start, end));
        }
    }

    /// The window a SYN or SYN,ACK offers: never scaled (RFC 7323 §2.2).
    pub fn syn_window(&self) -> u32 {
        (self.buf.free() as u32).min(u32::from(u16::MAX))
    }

    /// Receiver silly-window avoidance threshold: min(buffer / 2, MSS) (RFC 1122 §4.2.3.3).
    pub fn sws_threshold(&self, mss: u16) -> u32 {
        (self.buf.capacity() as u32 / 2).min(u32::from(mss))
    }

    /// The window field for the next segment, recording its right edge.
    pub fn advertise(&mut self, mss: u16) -> u16 {
        let field = window_field(
            self.nxt,
            self.adv,
            self.buf.free() as u32,
            self.wscale,
            self.sws_threshold(mss),
        );
        let edge = self.nxt + (u32::from(field) << self.wscale);
        if edge > self.adv {
            self.adv = edge;
        }
        field
    }
}

/// The window field to send (RFC 9293 §3.8.6.2.2, RFC 1122 §4.2.3.3, RFC 7323 §2.4): the
/// free buffer space, with the right edge held where it is rather than moved right by less
/// than `sws_threshold` and never moved left of `largest_edge` by choice, then right-shifted
/// by `shift` — rounding down, so the window never promises room the buffer does not have.
/// Rounding may put the edge up to 2^shift − 1 bytes left of the largest one advertised,
/// which RFC 7323 appendix F allows: segments up to the largest edge stay acceptable.
fn window_field(
    rcv_nxt: SeqNum,
    largest_edge: SeqNum,
    free: u32,
    shift: u8,
    sws_threshold: u32,
) -> u16 {
    let max_window = u32::from(u16::MAX) << shift;
    let mut window = free.min(max_window);
    let current = largest_edge.max(rcv_nxt);
    let right = rcv_nxt + window;
    if right < current || (right > current && right.since(current) < sws_threshold) {
        window = current.since(rcv_nxt).min(max_window);
    }
    (window >> shift).min(u32::from(u16::MAX)) as u16
}

impl Connection {
    /// The seventh step (RFC 9293 §3.10.7.4): places in-window text — already trimmed to
    /// start at or after RCV.NXT and end inside the window — and says how soon to ACK.
    #[inline]
    pub(super) fn receive_text(&mut self, start: SeqNum, text: &[u8]) -> AckUrgency {
        if self.rcv.fin_received || self.rcv.peer_fin.is_some_and(|fin| start >= fin) {
            return AckUrgency::None; // nothing can follow the peer's FIN
        }
        let size = (text.len() as u32).min(u32::from(self.config.mss));
        self.rcv.segment_size = self.rcv.segment_size.max(size);
        if start == self.rcv.nxt {
            self.receive_in_order(text)
        } else {
            self.receive_out_of_order(start, text)
        }
    }

    fn receive_in_order(&mut self, text: &[u8]) -> AckUrgency {
        let before = self.rcv.nxt;
        let direct =
            self.direct.allowed && self.rcv.buf.is_empty() && self.rcv.assembler.is_empty();
        let queued = if direct {
            // The caller shows these bytes to the application in place and buffers the
            // rest with `finish_direct`; the empty ring has room for all of them.
            let n = text.len().min(self.rcv.buf.free());
            self.direct.seq = before;
            self.direct.len = n as u32;
            n
        } else {
            self.rcv.buf.push(text)
        };
        if queued == 0 {
            // An acceptable segment that cannot be queued is still acknowledged, so the peer
            // learns the window it has (RFC 9293 §3.8.6.2.2).
            return AckUrgency::Immediate;
        }
        self.rcv.nxt = self.rcv.nxt + queued;
        let mut filled_hole = false;
        while let Some(end) = self.rcv.assembler.pop_front_reached(self.rcv.nxt) {
            if end > self.rcv.nxt {
                self.rcv.buf.commit(end.since(self.rcv.nxt) as usize);
                self.rcv.nxt = end;
            }
            filled_hole = true;
        }
        self.stats.bytes_in += u64::from(self.rcv.nxt.since(before));
        if !direct {
            self.raise(Event::Readable);
        }
        self.rcv.unacked_bytes = self.rcv.unacked_bytes.saturating_add(queued as u32);
        let gap_remains = !self.rcv.assembler.is_empty();
        if queued < text.len() || filled_hole || gap_remains || self.config.delayed_ack.is_zero() {
            // RFC 5681 §4.2: a segment that fills all or part of a gap is acknowledged at
            // once; so is one only partly queued.
            AckUrgency::Immediate
        } else if self.rcv.unacked_bytes >= 2 * self.rcv.segment_size {
            // RFC 1122 §4.2.3.2 / RFC 5681 §4.2: at least every second full-sized segment.
            AckUrgency::Immediate
        } else {
            AckUrgency::Delayed
        }
    }

    /// Out of order: hold the text if the assembler has room, and send a duplicate ACK at
    /// once (RFC 5681 §4.2) so the sender can detect the loss.
    fn receive_out_of_order(&mut self, start: SeqNum, text: &[u8]) -> AckUrgency {
        self.stats.events().out_of_order_segments_in += 1;
        if self
            .rcv
            .assembler
            .containing(start, start + text.len())
            .is_some()
        {
            self.rcv.note_duplicate(start, start + text.len());
        }
        let offset = start.since(self.rcv.nxt) as usize;
        let room = self.rcv.buf.free().saturating_sub(offset);
        let n = text.len().min(room);
        if n > 0 && self.rcv.assembler.insert(start, start + n).is_ok() {
            self.rcv.buf.write_uncommitted(offset, &text[..n]);
        }
        AckUrgency::Immediate
    }

    /// Asks for the acknowledgment an arrival wants: now, or by the delayed-ACK timer.
    #[inline(always)]
    pub(super) fn request_ack(&mut self, now: Instant, urgency: AckUrgency) {
        match urgency {
            AckUrgency::None => {}
            AckUrgency::Immediate => self.pending.insert(Owed::Ack),
            AckUrgency::Delayed => {
                if !self.timers.is_armed(Timer::DelayedAck) {
                    self.timers
                        .set(Timer::DelayedAck, now + self.config.delayed_ack);
                }
            }
        }
    }

    /// After the application read: announce a window that opened substantially (RFC 1122
    /// §4.2.3.3 and §4.2.3.4) — only when the advertised window fell below half the buffer
    /// and the right edge can move by at least the SWS threshold.
    pub(super) fn after_read(&mut self) {
        let cap = self.rcv.buf.capacity() as u32;
        let potential = self.rcv.nxt + self.rcv.buf.free() as u32;
        if self.state.is_synchronized()
            && self.rcv.window() < cap / 2
            && potential > self.rcv.adv
            && potential.since(self.rcv.adv) >= self.rcv.sws_threshold(self.config.mss)
        {
            self.pending.insert(Owed::Ack);
        }
        if self.rcv.buf.is_empty() {
            // Everything was read: the storage stays for the next arrival, and goes back to
            // the pool once the connection is idle (`idle_buffers`).
            self.ring_drained();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scaled_window_is_rounded_down_and_never_promises_missing_room() {
        // Shift 3: 1,000 free bytes advertise 125 (1,000 bytes), 1,007 free still 125.
        let nxt = SeqNum(10_000);
        assert_eq!(window_field(nxt, nxt, 1_000, 3, 0), 125);
        assert_eq!(window_field(nxt, nxt, 1_007, 3, 0), 125);
        // The largest edge was 1,007 bytes out: rounding may retract it by up to 7 bytes.
        assert_eq!(window_field(nxt, nxt + 1_007u32, 1_007, 3, 0), 125);
        // A full buffer advertises zero whatever was advertised before.
        assert_eq!(window_field(nxt + 712u32, nxt + 712u32, 0, 3, 1460), 0);
    }

    #[test]
    fn the_right_edge_does_not_creep_by_less_than_the_threshold() {
        let nxt = SeqNum(0);
        // 500 more bytes of room than the current edge: held at the edge (threshold 1,000).
        assert_eq!(window_field(nxt, nxt + 4_000u32, 4_500, 0, 1_000), 4_000);
        // 1,000 more: the edge moves.
        assert_eq!(window_field(nxt, nxt + 4_000u32, 5_000, 0, 1_000), 5_000);
    }
}
