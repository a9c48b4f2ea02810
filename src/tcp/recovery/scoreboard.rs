//! The SACK scoreboard (RFC 6675 §3–4): every segment sent and not yet cumulatively
//! acknowledged, with when it was last sent and whether the peer selectively acknowledged
//! it, it is deemed lost, or it was sent again.
//!
//! Segments are kept in sequence order, one record per transmission unit, so SACK blocks
//! (which name whole segments the receiver holds) mark whole records. The number of records
//! is bounded ([`Scoreboard::CAPACITY`]): a sender that would need more waits, as it would
//! for a full window, so no peer can make the scoreboard grow without bound (the "SACK
//! panic" class of attacks, where tiny segments inflate the sender's bookkeeping).

use std::collections::VecDeque;

use crate::time::Instant;
use crate::wire::SeqNum;

const SACKED: u8 = 1;
const LOST: u8 = 2;
const RETRANSMITTED: u8 = 4;

/// One segment sent and not yet cumulatively acknowledged.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct SentSegment {
    pub start: SeqNum,
    pub end: SeqNum,
    /// When it was last sent.
    pub sent: Instant,
    flags: u8,
}

impl SentSegment {
    pub fn len(&self) -> u32 {
        self.end.since(self.start)
    }

    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// The peer holds it (a SACK block covered it).
    pub fn is_sacked(&self) -> bool {
        self.flags & SACKED != 0
    }

    /// Deemed lost (RACK, or a retransmission timeout).
    pub fn is_lost(&self) -> bool {
        self.flags & LOST != 0
    }

    /// Sent again since it was last deemed lost (or by a loss probe).
    pub fn is_retransmitted(&self) -> bool {
        self.flags & RETRANSMITTED != 0
    }
}

/// What an acknowledgment newly delivered.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Delivery {
    /// Bytes newly acknowledged cumulatively that no SACK had covered, plus bytes newly
    /// SACKed: DeliveredData of RFC 6937.
    pub bytes: u32,
    /// Some newly delivered segment lies below the highest one SACKed before it: the
    /// network reordered (RFC 8985 §6.2, step 3).
    pub reordered: bool,
}

/// The segments in flight and their state.
#[derive(Clone, Debug, Default)]
pub struct Scoreboard {
    segments: VecDeque<SentSegment>,
    /// Bytes (sequence space) of all records.
    total: u32,
    sacked: u32,
    /// Lost and not SACKed.
    lost: u32,
    /// Retransmitted and not SACKed.
    retransmitted: u32,
    /// Lost, not SACKed and not yet sent again: what waits for retransmission.
    lost_unsent: u32,
    /// One past the highest sequence number SACKed (the forward-most ACK, RACK.fack).
    highest_sacked: Option<SeqNum>,
}

impl Scoreboard {
    /// Most segments tracked; a sender waits for acknowledgments beyond this.
    pub const CAPACITY: usize = 4096;

    pub fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }

    pub fn is_full(&self) -> bool {
        self.segments.len() >= Self::CAPACITY
    }

    /// Bytes of heap the records' storage holds now (kept between flights, at most 64
    /// records' worth once a flight is over, none once released).
    pub fn heap_bytes(&self) -> usize {
        self.segments.capacity() * std::mem::size_of::<SentSegment>()
    }

    /// Frees the records' storage if no record is held: what an idle connection does, so
    /// that it keeps no scoreboard (taken again by its next send).
    pub fn release_if_empty(&mut self) {
        if self.segments.is_empty() && self.segments.capacity() > 0 {
            self.segments = VecDeque::new();
        }
    }

    pub fn len(&self) -> usize {
        self.segments.len()
    }

    pub fn segments(&self) -> impl Iterator<Item = &SentSegment> {
        self.segments.iter()
    }

    /// The last segment sent in sequence order (what a tail loss probe repeats).
    pub fn last(&self) -> Option<&SentSegment> {
        self.segments.back()
    }

    pub fn sacked_bytes(&self) -> u32 {
        self.sacked
    }

    pub fn lost_bytes(&self) -> u32 {
        self.lost
    }

    /// RFC 6675 §4 SetPipe: the bytes believed in the network — each byte not SACKed
    /// counts once unless deemed lost, and once more if it was retransmitted.
    pub fn pipe(&self) -> u32 {
        self.total - self.sacked - self.lost + self.retransmitted
    }

    /// True once anything was SACKed, retransmitted or deemed lost: only then can loss
    /// detection find something (a connection that never lost a segment skips it).
    pub fn needs_loss_detection(&self) -> bool {
        self.sacked > 0 || self.retransmitted > 0 || self.lost > 0
    }

    /// New data `[start, end)` sent at `now`.
    pub fn on_send(&mut self, start: SeqNum, end: SeqNum, now: Instant) {
        debug_assert!(self.segments.back().is_none_or(|last| last.end <= start));
        self.total += end.since(start);
        self.segments.push_back(SentSegment {
            start,
            end,
            sent: now,
            flags: 0,
        });
    }

    /// The segment starting at `start` was sent again at `now`.
    pub fn on_retransmit(&mut self, start: SeqNum, now: Instant) {
        if let Some(i) = self.index_of(start) {
            let end = self.segments[i].end;
            self.on_retransmit_range(start, end, now);
        }
    }

    /// The segments in `[start, end)` were sent again at `now` (a retransmission may span
    /// several records when sending resumes from SND.UNA after a zero window).
    pub fn on_retransmit_range(&mut self, start: SeqNum, end: SeqNum, now: Instant) {
        let first = self.segments.partition_point(|s| s.end <= start);
        for i in first..self.segments.len() {
            let segment = &mut self.segments[i];
            if segment.start >= end {
                break;
            }
            segment.sent = now;
            if !segment.is_retransmitted() && !segment.is_sacked() {
                segment.flags |= RETRANSMITTED;
                self.retransmitted += segment.len();
                if segment.is_lost() {
                    self.lost_unsent -= segment.len();
                }
            }
        }
    }

    /// Splits the record starting at `start` so that its first part is `len` bytes (a
    /// retransmission that must be smaller than the original, as more options ride along).
    pub fn split(&mut self, start: SeqNum, len: u32) {
        let Some(i) = self.index_of(start) else {
            return;
        };
        let segment = self.segments[i];
        if len == 0 || len >= segment.len() || self.is_full() {
            return;
        }
        let mid = segment.start + len;
        self.segments[i].end = mid;
        self.segments.insert(
            i + 1,
            SentSegment {
                start: mid,
                ..segment
            },
        );
    }

    /// True while some segment deemed lost waits to be sent again.
    pub fn has_lost_unsent(&self) -> bool {
        self.lost_unsent > 0
    }

    /// The first segment deemed lost and not yet sent again: what to retransmit first
    /// (RFC 6675 §4 NextSeg rule 1).
    pub fn next_lost(&self) -> Option<SentSegment> {
        if self.lost_unsent == 0 {
            return None;
        }
        self.segments
            .iter()
            .find(|s| s.is_lost() && !s.is_retransmitted() && !s.is_sacked())
            .copied()
    }

    /// SND.UNA moved to `una`: drops what it covers, telling `delivered` about each segment
    /// that no SACK had covered before.
    #[inline]
    pub fn on_cumulative_ack(
        &mut self,
        una: SeqNum,
        delivered: impl FnMut(&SentSegment),
    ) -> Delivery {
        if !self.needs_loss_detection() {
            return self.on_cumulative_ack_clean(una, delivered);
        }
        self.on_cumulative_ack_marked(una, delivered)
    }

    /// [`Scoreboard::on_cumulative_ack`] once some record is SACKed, lost or sent again.
    #[inline(never)]
    fn on_cumulative_ack_marked(
        &mut self,
        una: SeqNum,
        mut delivered: impl FnMut(&SentSegment),
    ) -> Delivery {
        let mut delivery = Delivery::default();
        while let Some(&segment) = self.segments.front() {
            if segment.start >= una {
                break;
            }
            if segment.end > una {
                // Partly acknowledged: keep the rest.
                let acked = una.since(segment.start);
                if segment.is_sacked() {
                    self.sacked -= acked;
                } else {
                    delivery.bytes += acked;
                    self.leave_counts(segment.flags, acked);
                }
                self.total -= acked;
                if let Some(front) = self.segments.front_mut() {
                    front.start = una;
                }
                break;
            }
            self.segments.pop_front();
            self.total -= segment.len();
            if segment.is_sacked() {
                self.sacked -= segment.len();
            } else {
                delivery.bytes += segment.len();
                self.leave_counts(segment.flags, segment.len());
                delivery.reordered |= self.highest_sacked.is_some_and(|h| segment.end < h);
                delivered(&segment);
            }
        }
        self.after_cumulative_ack();
        delivery
    }

    /// [`Scoreboard::on_cumulative_ack`] when nothing is SACKed, deemed lost or sent again
    /// (every flight without loss): each record covered is simply delivered, no count but
    /// the total changes, and with no SACK nothing can have been reordered.
    #[inline(always)]
    fn on_cumulative_ack_clean(
        &mut self,
        una: SeqNum,
        mut delivered: impl FnMut(&SentSegment),
    ) -> Delivery {
        let mut bytes = 0;
        while let Some(segment) = self.segments.front_mut() {
            if segment.start >= una {
                break;
            }
            if segment.end > una {
                bytes += una.since(segment.start); // partly acknowledged: keep the rest
                segment.start = una;
                break;
            }
            let segment = *segment;
            self.segments.pop_front();
            bytes += segment.len();
            delivered(&segment);
        }
        self.total -= bytes;
        self.after_cumulative_ack();
        Delivery {
            bytes,
            reordered: false,
        }
    }

    /// Once everything recorded is acknowledged, nothing is SACKed any more, and a
    /// burst's bookkeeping goes back.
    fn after_cumulative_ack(&mut self) {
        if self.segments.is_empty() {
            self.highest_sacked = None;
            if self.segments.capacity() > 64 {
                self.segments = VecDeque::new();
            }
        }
    }

    /// Marks the segments inside SACK block `[left, right)` as held by the peer, telling
    /// `delivered` about each one newly marked.
    pub fn on_sack_block(
        &mut self,
        left: SeqNum,
        right: SeqNum,
        mut delivered: impl FnMut(&SentSegment),
    ) -> Delivery {
        let mut delivery = Delivery::default();
        let first = self.segments.partition_point(|s| s.end <= left);
        for i in first..self.segments.len() {
            let segment = self.segments[i];
            if segment.start >= right {
                break;
            }
            if segment.is_sacked() || segment.start < left || segment.end > right {
                continue; // already marked, or only partly covered
            }
            self.leave_counts(segment.flags, segment.len());
            self.segments[i].flags |= SACKED;
            self.sacked += segment.len();
            delivery.bytes += segment.len();
            let highest = self.highest_sacked.get_or_insert(segment.end);
            delivery.reordered |= segment.end < *highest;
            if segment.end > *highest {
                *highest = segment.end;
            }
            delivered(&segment);
        }
        delivery
    }

    /// `len` bytes with `flags` were SACKed or acknowledged: they leave the counts of what
    /// is lost or retransmitted.
    fn leave_counts(&mut self, flags: u8, len: u32) {
        if flags & LOST != 0 {
            self.lost -= len;
            if flags & RETRANSMITTED == 0 {
                self.lost_unsent -= len;
            }
        }
        if flags & RETRANSMITTED != 0 {
            self.retransmitted -= len;
        }
    }

    /// Marks as lost every segment not SACKed for which `is_lost` holds; a lost segment
    /// that had been retransmitted is due to be sent again. Returns the bytes newly marked.
    pub fn mark_lost(&mut self, mut is_lost: impl FnMut(&SentSegment) -> bool) -> u32 {
        let mut marked = 0;
        for segment in self.segments.iter_mut() {
            if segment.is_sacked() || (segment.is_lost() && !segment.is_retransmitted()) {
                continue;
            }
            if !is_lost(segment) {
                continue;
            }
            if segment.is_retransmitted() {
                segment.flags &= !RETRANSMITTED;
                self.retransmitted -= segment.len();
            }
            if !segment.is_lost() {
                segment.flags |= LOST;
                self.lost += segment.len();
            }
            self.lost_unsent += segment.len();
            marked += segment.len();
        }
        marked
    }

    /// The index of the record starting at `start`.
    fn index_of(&self, start: SeqNum) -> Option<usize> {
        let i = self.segments.partition_point(|s| s.start < start);
        (i < self.segments.len() && self.segments[i].start == start).then_some(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    /// Ten segments of 100 bytes from 1000, sent at 0..9 ms.
    fn ten() -> Scoreboard {
        let mut board = Scoreboard::default();
        for i in 0..10u32 {
            board.on_send(
                SeqNum(1000 + i * 100),
                SeqNum(1100 + i * 100),
                at(u64::from(i)),
            );
        }
        board
    }

    #[test]
    fn cumulative_ack_without_loss_delivers_whole_and_partial_segments() {
        let mut board = ten();
        let mut seen = Vec::new();
        // 1000..1250: two whole segments and half of the third.
        let d = board.on_cumulative_ack(SeqNum(1250), |s| seen.push(s.start.0));
        assert_eq!(seen, vec![1000, 1100]);
        assert_eq!(
            d,
            Delivery {
                bytes: 250,
                reordered: false
            }
        );
        assert_eq!(board.pipe(), 750);
        assert_eq!(board.len(), 8);
        assert_eq!(board.segments().next().map(|s| s.start), Some(SeqNum(1250)));
        // The rest: the partial record's remainder is delivered whole.
        seen.clear();
        let d = board.on_cumulative_ack(SeqNum(2000), |s| seen.push(s.start.0));
        assert_eq!(seen, vec![1250, 1300, 1400, 1500, 1600, 1700, 1800, 1900]);
        assert_eq!(d.bytes, 750);
        assert!(board.is_empty());
        assert_eq!(board.pipe(), 0);
    }

    #[test]
    fn sack_blocks_mark_whole_segments_and_pipe_follows() {
        let mut board = ten();
        assert_eq!(board.pipe(), 1000);
        let mut seen = Vec::new();
        let d = board.on_sack_block(SeqNum(1300), SeqNum(1550), |s| seen.push(s.start.0));
        // 1300..1500 are covered whole; 1500..1600 only half.
        assert_eq!(seen, vec![1300, 1400]);
        assert_eq!(d.bytes, 200);
        assert_eq!(board.sacked_bytes(), 200);
        assert_eq!(board.pipe(), 800);
        // The same block again delivers nothing new.
        assert_eq!(
            board
                .on_sack_block(SeqNum(1300), SeqNum(1500), |_| ())
                .bytes,
            0
        );
    }

    #[test]
    fn lost_segments_leave_the_pipe_until_retransmitted() {
        let mut board = ten();
        board.on_sack_block(SeqNum(1500), SeqNum(2000), |_| ());
        let marked = board.mark_lost(|s| s.end <= SeqNum(1300));
        assert_eq!(marked, 300);
        assert_eq!(board.pipe(), 1000 - 500 - 300);
        assert_eq!(board.next_lost().map(|s| s.start), Some(SeqNum(1000)));
        board.on_retransmit(SeqNum(1000), at(20));
        assert_eq!(board.pipe(), 300);
        assert_eq!(board.next_lost().map(|s| s.start), Some(SeqNum(1100)));
        // A retransmission deemed lost again is due once more.
        board.mark_lost(|s| s.start == SeqNum(1000));
        assert_eq!(board.next_lost().map(|s| s.start), Some(SeqNum(1000)));
    }

    #[test]
    fn cumulative_acks_deliver_what_no_sack_did_and_notice_reordering() {
        let mut board = ten();
        board.on_sack_block(SeqNum(1200), SeqNum(1300), |_| ());
        let mut seen = Vec::new();
        let d = board.on_cumulative_ack(SeqNum(1300), |s| seen.push(s.start.0));
        assert_eq!(seen, vec![1000, 1100]);
        assert_eq!(d.bytes, 200);
        assert!(d.reordered, "1000..1200 arrived after 1200..1300");
        assert_eq!(board.len(), 7);
        assert_eq!(board.sacked_bytes(), 0);
        // Part of a segment.
        let d = board.on_cumulative_ack(SeqNum(1350), |_| ());
        assert_eq!(d.bytes, 50);
        assert_eq!(board.pipe(), 650);
    }

    #[test]
    fn a_record_splits_for_a_smaller_retransmission() {
        let mut board = ten();
        board.split(SeqNum(1200), 60);
        let starts: Vec<u32> = board.segments().map(|s| s.start.0).collect();
        assert_eq!(starts[2..4], [1200, 1260]);
        assert_eq!(board.pipe(), 1000);
    }

    proptest! {
        #[test]
        fn counters_match_the_records(
            ops in proptest::collection::vec((0u8..4, 0u32..1000, 1u32..300), 1..60)
        ) {
            let mut board = Scoreboard::default();
            let mut next = 0u32;
            let mut una = 0u32;
            for (op, a, b) in ops {
                match op {
                    0 => {
                        board.on_send(SeqNum(next), SeqNum(next + b), Instant::ZERO);
                        next += b;
                    }
                    1 => {
                        let left = una + a.min(next - una);
                        board.on_sack_block(SeqNum(left), SeqNum((left + b).min(next)), |_| ());
                    }
                    2 => { board.mark_lost(|s| s.start.0 % 2 == a % 2); }
                    _ => {
                        if let Some(s) = board.next_lost() {
                            board.on_retransmit(s.start, Instant::ZERO);
                        }
                        una = (una + a).min(next);
                        board.on_cumulative_ack(SeqNum(una), |_| ());
                    }
                }
                let (mut total, mut sacked, mut lost, mut retx) = (0, 0, 0, 0);
                for s in board.segments() {
                    total += s.len();
                    if s.is_sacked() { sacked += s.len(); continue; }
                    if s.is_lost() { lost += s.len(); }
                    if s.is_retransmitted() { retx += s.len(); }
                }
                prop_assert_eq!(total, next - una);
                prop_assert_eq!(board.sacked_bytes(), sacked);
                prop_assert_eq!(board.lost_bytes(), lost);
                let unsent: u32 = board.segments()
                    .filter(|s| s.is_lost() && !s.is_retransmitted() && !s.is_sacked())
                    .map(|s| s.len()).sum();
                prop_assert_eq!(board.next_lost().is_some(), unsent > 0);
                prop_assert_eq!(board.pipe(), total - sacked - lost + retx);
            }
        }
    }
}
