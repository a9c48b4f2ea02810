//! 4-tuples in TIME-WAIT, held as compact records (see [`tcp::TimeWait`]) once nobody
//! needs their connection any more: the connection and its buffers are freed, and the
//! record answers the peer's retransmitted FIN, ignores resets (RFC 1337), decides on new
//! SYNs (RFC 6191) and expires after 2·MSL (RFC 9293 §3.4.2).
//!
//! Every wait lasts 2·MSL from its (re)start, so a FIFO of expiry times is kept in
//! deadline order; a restarted wait is put back at its new time when its old one comes up.

use std::collections::VecDeque;

use slotmap::SlotMap;

use super::{ConnId, Flow, Stack};
use crate::flow::FlowKey;
use crate::tcp::{self, TimeWaitReply};
use crate::time::Instant;
use crate::wire::TcpRepr;

slotmap::new_key_type! {
    /// A TIME-WAIT record of a [`Stack`].
    pub struct TimeWaitId;
}

/// The TIME-WAIT records of one stack and when each is due.
#[derive(Debug, Default)]
pub(super) struct TimeWaits {
    records: SlotMap<TimeWaitId, (FlowKey, tcp::TimeWait)>,
    /// (expiry as queued, record), in expiry order.
    expiry: VecDeque<(Instant, TimeWaitId)>,
}

impl TimeWaits {
    pub(super) fn len(&self) -> usize {
        self.records.len()
    }

    /// The earliest expiry queued (possibly of a wait since restarted: early, never late).
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        self.expiry.front().map(|&(at, _)| at)
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = &(FlowKey, tcp::TimeWait)> + '_ {
        self.records.values()
    }
}

impl Stack {
    /// TIME-WAIT records held now.
    pub fn time_wait_records(&self) -> usize {
        self.time_waits.len()
    }

    /// Connection `id`, in TIME-WAIT with nothing left to send and no application holding
    /// it, gives its 4-tuple to a compact record and is freed. Any other connection is
    /// left as it is: one the application holds keeps its TIME-WAIT, and its handle.
    pub(super) fn compact_time_wait(&mut self, id: ConnId) {
        let Some(slot) = self.conns.get_mut(id) else {
            return;
        };
        if !slot.in_flow_table || (slot.visible && !slot.released) {
            return;
        }
        let Some(record) = slot.conn.time_wait_record() else {
            return;
        };
        let key = slot.key;
        slot.in_flow_table = false;
        let tw = self.time_waits.records.insert((key, record));
        self.time_waits.expiry.push_back((record.expires, tw));
        // The 4-tuple's entry is replaced in place: the table cannot be full for it.
        let replaced = self.flows.insert(key, Flow::TimeWait(tw));
        debug_assert!(replaced.is_ok());
        self.stats.time_wait_compacted += 1;
        self.free(id);
    }

    /// A segment for the 4-tuple of record `tw`, answered by the record (RFC 9293
    /// §3.10.7.4, TIME-WAIT); false when it was a SYN that ended the wait (RFC 6191, and a
    /// listener takes it), which then goes on as a segment for no connection.
    pub(super) fn segment_for_time_wait(
        &mut self,
        now: Instant,
        tw: TimeWaitId,
        key: FlowKey,
        repr: &TcpRepr,
        payload_len: usize,
    ) -> bool {
        let Some(&(_, record)) = self.time_waits.records.get(tw) else {
            return false;
        };
        let new_uses_timestamps = self.tcp_config.timestamps && repr.options.timestamps.is_some();
        if record.admits_new_incarnation(repr, new_uses_timestamps)
            && self.may_reuse_time_wait(now, &key, repr, record.snd_nxt)
        {
            self.end_time_wait(tw);
            self.stats.time_wait_reopened += 1;
            return false;
        }
        let msl = self.tcp_config.msl;
        let Some((_, record)) = self.time_waits.records.get_mut(tw) else {
            return false;
        };
        match record.on_segment(now, repr, payload_len, msl) {
            TimeWaitReply::Nothing => {}
            TimeWaitReply::Ack(ack) => {
                self.queue_stateless_reply(key, ack);
            }
        }
        true
    }

    /// Ends the waits due at `now`; a restarted one is queued again at its new expiry.
    pub(super) fn expire_time_waits(&mut self, now: Instant) {
        while let Some(&(at, tw)) = self.time_waits.expiry.front() {
            if at > now {
                return;
            }
            self.time_waits.expiry.pop_front();
            match self.time_waits.records.get(tw) {
                Some((_, record)) if record.is_expired(now) => self.end_time_wait(tw),
                // Restarted by a retransmitted FIN: due again at its new expiry. Entries queued
                // meanwhile may be due earlier, so the record may outlive its wait by as much
                // again (a longer TIME-WAIT is the safe side).
                Some((_, record)) => self.time_waits.expiry.push_back((record.expires, tw)),
                None => {}
            }
        }
    }

    /// Removes record `tw` and its 4-tuple's entry in the flow table.
    fn end_time_wait(&mut self, tw: TimeWaitId) {
        if let Some((key, _)) = self.time_waits.records.remove(tw) {
            if self.flows.get(&key) == Some(Flow::TimeWait(tw)) {
                self.flows.remove(&key);
            }
        }
    }
}
