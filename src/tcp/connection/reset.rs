//! Resets that answer a segment rather than follow from connection state (RFC 9293 §3.10.7).

use crate::wire::{SeqNum, TcpFlags, TcpOptions, TcpRepr};

/// A reset to send in answer to one segment.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) struct ResetReply {
    pub seq: SeqNum,
    pub ack: Option<SeqNum>,
    /// The port the offending segment came from.
    pub dst_port: u16,
}

impl ResetReply {
    /// `<SEQ=SEG.ACK><CTL=RST>`: the answer to a segment carrying an unacceptable ACK.
    pub fn to_ack(seg: &TcpRepr, ack: SeqNum) -> ResetReply {
        ResetReply {
            seq: ack,
            ack: None,
            dst_port: seg.src_port,
        }
    }

    /// `<SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>`: the answer to a segment without ACK.
    pub fn to_segment(seg: &TcpRepr, payload_len: usize) -> ResetReply {
        ResetReply {
            seq: SeqNum(0),
            ack: Some(seg.seq + seg.segment_len(payload_len)),
            dst_port: seg.src_port,
        }
    }

    /// The RST segment's header, sent from `src_port`.
    pub fn header(&self, src_port: u16) -> TcpRepr {
        TcpRepr {
            src_port,
            dst_port: self.dst_port,
            seq: self.seq,
            ack: self.ack,
            flags: TcpFlags::RST,
            window: 0,
            urgent: 0,
            options: TcpOptions::default(),
        }
    }
}

/// The reset a TCP with no matching connection sends (RFC 9293 §3.10.7.1), or `None` for an
/// incoming reset.
pub(super) fn reset_for_unexpected(seg: &TcpRepr, payload_len: usize) -> Option<ResetReply> {
    if seg.flags.rst() {
        return None;
    }
    Some(match seg.ack {
        Some(ack) => ResetReply::to_ack(seg, ack),
        None => ResetReply::to_segment(seg, payload_len),
    })
}

/// The reset (as a header) that answers `seg` when no connection exists for it, per
/// RFC 9293 §3.10.7.1; `None` when `seg` is itself a reset.
pub fn reset_reply(seg: &TcpRepr, payload_len: usize) -> Option<TcpRepr> {
    reset_for_unexpected(seg, payload_len).map(|reply| reply.header(seg.dst_port))
}
