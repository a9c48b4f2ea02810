//! The first step of segment arrival in a synchronized state (RFC 9293 §3.10.7.4, "first,
//! check sequence number"), as a pure function: is the segment acceptable, and which part
//! of it lies in the receive window?

use std::ops::Range;

use crate::wire::SeqNum;

/// A segment's place in sequence space: SYN (if set) first, then `text_len` bytes, then FIN.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) struct SegmentSpan {
    pub seq: SeqNum,
    pub syn: bool,
    pub text_len: usize,
    pub fin: bool,
}

impl SegmentSpan {
    /// SEG.LEN: text plus one for SYN and one for FIN.
    pub fn len(&self) -> usize {
        self.text_len + usize::from(self.syn) + usize::from(self.fin)
    }
}

/// What the sequence check decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Admission {
    /// Acceptable: `text` (a range of the segment's text) starts at `start` (at or after
    /// RCV.NXT) and ends inside the window; `fin` is kept only if the whole text fit.
    Accept {
        start: SeqNum,
        text: Range<usize>,
        fin: bool,
    },
    /// Not acceptable, but the window is zero and the segment sits at RCV.NXT: its ACK and
    /// RST are processed, its text and FIN are not ("special allowance should be made to
    /// accept valid ACKs, URGs, and RSTs"). `carried` is true when text or FIN was dropped,
    /// so the segment was a window probe that must be answered.
    ZeroWindowControl { carried: bool },
    /// Not acceptable.
    Reject,
}

/// RFC 9293 §3.10.7.4 first step: the four acceptability cases on `span` against
/// RCV.NXT and RCV.WND, then the trim of what precedes RCV.NXT (old) and what passes the
/// right edge (does not fit).
#[inline]
pub(super) fn admit(span: SegmentSpan, rcv_nxt: SeqNum, rcv_wnd: u32) -> Admission {
    if !acceptable(span.seq, span.len(), rcv_nxt, rcv_wnd) {
        if rcv_wnd == 0 && span.seq == rcv_nxt {
            return Admission::ZeroWindowControl {
                carried: span.text_len > 0 || span.fin,
            };
        }
        return Admission::Reject;
    }
    if span.len() == 0 {
        // A pure ACK (or RST) in the window: nothing to trim.
        return Admission::Accept {
            start: span.seq,
            text: 0..0,
            fin: false,
        };
    }
    // What precedes RCV.NXT was received before: skip it (the SYN first, if any).
    let mut text_start = span.seq + u32::from(span.syn);
    let mut skip = 0usize;
    if text_start < rcv_nxt {
        skip = (rcv_nxt.since(text_start) as usize).min(span.text_len);
        text_start = text_start + skip;
    }
    // What passes the right edge does not fit; a FIN after it is not taken either.
    let right_edge = rcv_nxt + rcv_wnd;
    let room = if right_edge > text_start {
        right_edge.since(text_start) as usize
    } else {
        0
    };
    let kept = (span.text_len - skip).min(room);
    Admission::Accept {
        start: text_start,
        text: skip..skip + kept,
        fin: span.fin && skip + kept == span.text_len,
    }
}

/// RFC 9293 §3.10.7.4: the four cases of segment length against window size.
#[inline]
pub(super) fn acceptable(seq: SeqNum, seg_len: usize, rcv_nxt: SeqNum, rcv_wnd: u32) -> bool {
    let window_end = rcv_nxt + rcv_wnd;
    match (seg_len, rcv_wnd) {
        (0, 0) => seq == rcv_nxt,
        (0, _) => seq.in_window(rcv_nxt, window_end),
        (_, 0) => false,
        (len, _) => {
            seq.in_window(rcv_nxt, window_end) || (seq + (len - 1)).in_window(rcv_nxt, window_end)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(seq: u32, text_len: usize, fin: bool) -> SegmentSpan {
        SegmentSpan {
            seq: SeqNum(seq),
            syn: false,
            text_len,
            fin,
        }
    }

    #[test]
    fn acceptable_text_is_trimmed_to_the_window() {
        // RCV.NXT 100, window 50: a segment 90..120 keeps 100..120 and its FIN.
        assert_eq!(
            admit(span(90, 30, true), SeqNum(100), 50),
            Admission::Accept {
                start: SeqNum(100),
                text: 10..30,
                fin: true,
            }
        );
        // A segment 140..170 keeps 140..150 and loses its FIN.
        assert_eq!(
            admit(span(140, 30, true), SeqNum(100), 50),
            Admission::Accept {
                start: SeqNum(140),
                text: 0..10,
                fin: false,
            }
        );
        // One that covers the window without a first or last byte inside it fails the
        // four-case test of RFC 9293 §3.10.7.4.
        assert_eq!(
            admit(span(90, 70, false), SeqNum(100), 50),
            Admission::Reject
        );
        // Entirely inside: all of it, FIN included.
        assert_eq!(
            admit(span(110, 20, true), SeqNum(100), 50),
            Admission::Accept {
                start: SeqNum(110),
                text: 0..20,
                fin: true,
            }
        );
    }

    #[test]
    fn old_and_future_segments_are_rejected() {
        assert_eq!(
            admit(span(50, 10, false), SeqNum(100), 50),
            Admission::Reject
        );
        assert_eq!(
            admit(span(150, 10, false), SeqNum(100), 50),
            Admission::Reject
        );
        // A pure ACK just left of RCV.NXT (a keepalive) is not acceptable either.
        assert_eq!(
            admit(span(99, 0, false), SeqNum(100), 50),
            Admission::Reject
        );
    }

    #[test]
    fn a_zero_window_keeps_only_the_control_of_a_segment_at_rcv_nxt() {
        assert_eq!(
            admit(span(100, 1, false), SeqNum(100), 0),
            Admission::ZeroWindowControl { carried: true }
        );
        assert_eq!(
            admit(span(100, 0, false), SeqNum(100), 0),
            Admission::Accept {
                start: SeqNum(100),
                text: 0..0,
                fin: false,
            }
        );
        assert_eq!(
            admit(span(101, 1, false), SeqNum(100), 0),
            Admission::Reject
        );
    }

    #[test]
    fn wrapping_sequence_numbers_trim_the_same_way() {
        let nxt = SeqNum(u32::MAX - 4);
        assert_eq!(
            admit(span(u32::MAX - 9, 12, false), nxt, 8),
            Admission::Accept {
                start: nxt,
                text: 5..12,
                fin: false,
            }
        );
    }
}
