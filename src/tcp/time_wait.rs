//! TIME-WAIT as a compact record (RFC 9293 §3.10.7.4, RFC 1337, RFC 6191, RFC 7323).
//!
//! A connection in TIME-WAIT has nothing left to send or receive: it only has to answer
//! the peer's retransmitted FIN, keep old duplicates of its segments from being taken for a
//! new incarnation's, and decide whether a new SYN may reopen the 4-tuple. For that the
//! stack keeps this record (about 48 bytes) in place of the whole [`super::Connection`] and
//! its buffers. Like the connection, it is sans-IO: segments and time in, answers out.

use std::cmp::Ordering;
use std::time::Duration;

use super::connection::clock_value;
use crate::time::Instant;
use crate::wire::{SeqNum, TcpFlags, TcpOptions, TcpRepr};

/// What the record keeps of a connection that entered TIME-WAIT.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct TimeWait {
    /// Our port and the peer's.
    pub local_port: u16,
    pub remote_port: u16,
    /// SND.NXT: one past our FIN, the sequence number of every ACK we send.
    pub snd_nxt: SeqNum,
    /// RCV.NXT: one past the peer's FIN.
    pub rcv_nxt: SeqNum,
    /// The window field of our ACKs (already scaled down, as the last one sent).
    pub window: u16,
    /// Both SYNs carried timestamps (RFC 7323 §3.2): our ACKs carry them, and PAWS holds.
    pub timestamps: bool,
    /// The offset of our timestamp clock (RFC 7323 §7.1), so our TSvals keep rising.
    pub ts_offset: u32,
    /// TS.Recent: the peer's latest TSval (RFC 7323 §4.3), for PAWS and RFC 6191.
    pub ts_recent: u32,
    /// When the 2·MSL wait ends.
    pub expires: Instant,
}

/// How a segment for a 4-tuple in TIME-WAIT is answered.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum TimeWaitReply {
    /// Drop it silently: a reset (RFC 1337), or an acceptable ACK with nothing in it.
    Nothing,
    /// `<SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>`, the header given.
    Ack(TcpRepr),
}

impl TimeWait {
    /// RFC 6191 §2: whether `syn` may open a new incarnation of this 4-tuple. With
    /// timestamps on both incarnations its TSval must be newer than TS.Recent (or equal,
    /// with a higher sequence number); an old incarnation without timestamps admits any SYN
    /// that will use them (PAWS then guards the new one); otherwise its sequence number
    /// must lie above RCV.NXT (RFC 1122 §4.2.2.13). `new_uses_timestamps`: our end will
    /// agree on timestamps with it.
    pub fn admits_new_incarnation(&self, syn: &TcpRepr, new_uses_timestamps: bool) -> bool {
        if !syn.flags.syn() || syn.flags.rst() || syn.ack.is_some() {
            return false;
        }
        let seq_is_newer = syn.seq > self.rcv_nxt;
        match (self.timestamps, syn.options.timestamps) {
            (true, Some((tsval, _))) if new_uses_timestamps => {
                match (tsval.wrapping_sub(self.ts_recent) as i32).cmp(&0) {
                    Ordering::Greater => true,
                    Ordering::Equal => seq_is_newer,
                    Ordering::Less => false,
                }
            }
            (false, _) if new_uses_timestamps => true,
            _ => seq_is_newer,
        }
    }

    /// RFC 9293 §3.10.7.4 in TIME-WAIT, for a segment that does not reopen the 4-tuple:
    ///
    /// - a RST is ignored, so a stray one cannot cut the wait short (RFC 1337);
    /// - a SYN draws a challenge ACK (RFC 5961 §4.2);
    /// - an old duplicate by PAWS is acknowledged and dropped (RFC 7323 §5.3);
    /// - the peer's FIN retransmitted, ending where its first copy did, is acknowledged and
    ///   the 2·MSL wait restarts ("the only thing that can arrive in this state"); a FIN
    ///   anywhere else is not one the peer sent, and restarting for it would let anyone hold
    ///   the wait open for ever;
    /// - any other segment with text or below RCV.NXT is not acceptable: acknowledged;
    /// - an acceptable bare ACK has nothing for us.
    pub fn on_segment(
        &mut self,
        now: Instant,
        seg: &TcpRepr,
        payload_len: usize,
        msl: Duration,
    ) -> TimeWaitReply {
        if seg.flags.rst() {
            return TimeWaitReply::Nothing;
        }
        if seg.flags.syn() || self.is_old_duplicate(seg) {
            return TimeWaitReply::Ack(self.ack(now));
        }
        let end = seg.seq + seg.segment_len(payload_len);
        if seg.flags.fin() && end == self.rcv_nxt {
            self.expires = now + msl * 2;
            self.take_timestamp(seg);
            return TimeWaitReply::Ack(self.ack(now));
        }
        if seg.segment_len(payload_len) > 0 || seg.seq < self.rcv_nxt {
            return TimeWaitReply::Ack(self.ack(now));
        }
        TimeWaitReply::Nothing
    }

    /// True once 2·MSL has passed since the wait (last) started.
    pub fn is_expired(&self, now: Instant) -> bool {
        now >= self.expires
    }

    /// PAWS (RFC 7323 §5.3 R1): a TSval older than TS.Recent marks an old duplicate.
    fn is_old_duplicate(&self, seg: &TcpRepr) -> bool {
        match (self.timestamps, seg.options.timestamps) {
            (true, Some((tsval, _))) => (tsval.wrapping_sub(self.ts_recent) as i32) < 0,
            _ => false,
        }
    }

    /// RFC 7323 §4.3: a segment covering Last.ACK.sent (RCV.NXT here) and not older
    /// updates TS.Recent.
    fn take_timestamp(&mut self, seg: &TcpRepr) {
        if let (true, Some((tsval, _))) = (self.timestamps, seg.options.timestamps) {
            if (tsval.wrapping_sub(self.ts_recent) as i32) >= 0 && seg.seq <= self.rcv_nxt {
                self.ts_recent = tsval;
            }
        }
    }

    /// `<SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>`, with timestamps when both ends use them.
    fn ack(&self, now: Instant) -> TcpRepr {
        let timestamps = self
            .timestamps
            .then(|| (clock_value(now, self.ts_offset), self.ts_recent));
        TcpRepr {
            src_port: self.local_port,
            dst_port: self.remote_port,
            seq: self.snd_nxt,
            ack: Some(self.rcv_nxt),
            flags: TcpFlags::default(),
            window: self.window,
            urgent: 0,
            options: TcpOptions {
                timestamps,
                ..TcpOptions::default()
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> TimeWait {
        TimeWait {
            local_port: 80,
            remote_port: 40_000,
            snd_nxt: SeqNum(1_001),
            rcv_nxt: SeqNum(5_001),
            window: 512,
            timestamps: true,
            ts_offset: 7,
            ts_recent: 100,
            expires: Instant::from_nanos(60_000_000_000),
        }
    }

    fn segment(seq: u32, flags: TcpFlags, tsval: Option<u32>) -> TcpRepr {
        TcpRepr {
            src_port: 40_000,
            dst_port: 80,
            seq: SeqNum(seq),
            ack: Some(SeqNum(1_001)),
            flags,
            window: 1_000,
            urgent: 0,
            options: TcpOptions {
                timestamps: tsval.map(|v| (v, 50)),
                ..TcpOptions::default()
            },
        }
    }

    #[test]
    fn a_retransmitted_fin_is_acknowledged_and_restarts_the_wait() {
        let mut tw = record();
        let now = Instant::from_nanos(30_000_000_000);
        let reply = tw.on_segment(
            now,
            &segment(5_000, TcpFlags::FIN, Some(120)),
            0,
            Duration::from_secs(30),
        );
        let TimeWaitReply::Ack(ack) = reply else {
            panic!("{reply:?}")
        };
        assert_eq!((ack.seq, ack.ack), (SeqNum(1_001), Some(SeqNum(5_001))));
        assert_eq!(ack.options.timestamps, Some((30_000 + 7, 120)));
        assert_eq!(tw.expires, Instant::from_nanos(90_000_000_000));
    }

    #[test]
    fn resets_are_ignored_and_old_duplicates_acknowledged() {
        let mut tw = record();
        let now = Instant::from_nanos(1);
        let msl = Duration::from_secs(30);
        assert_eq!(
            tw.on_segment(now, &segment(5_001, TcpFlags::RST, None), 0, msl),
            TimeWaitReply::Nothing
        );
        assert_eq!(
            tw.on_segment(now, &segment(5_001, TcpFlags::default(), Some(101)), 0, msl),
            TimeWaitReply::Nothing
        );
        assert!(matches!(
            tw.on_segment(now, &segment(5_001, TcpFlags::default(), Some(99)), 0, msl),
            TimeWaitReply::Ack(_)
        ));
        // A FIN that is not the peer's leaves the wait alone.
        assert!(matches!(
            tw.on_segment(now, &segment(6_000, TcpFlags::FIN, Some(101)), 0, msl),
            TimeWaitReply::Ack(_)
        ));
        assert_eq!(tw.expires, record().expires);
    }

    #[test]
    fn a_new_syn_is_admitted_by_timestamp_or_sequence_number() {
        let tw = record();
        let mut syn = segment(4_000, TcpFlags::SYN, Some(101));
        syn.ack = None;
        assert!(tw.admits_new_incarnation(&syn, true));
        syn.options.timestamps = Some((99, 0));
        assert!(!tw.admits_new_incarnation(&syn, true));
        syn.options.timestamps = None;
        assert!(!tw.admits_new_incarnation(&syn, false));
        syn.seq = SeqNum(6_000);
        assert!(tw.admits_new_incarnation(&syn, false));
    }
}
