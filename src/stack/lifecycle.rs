//! A connection's life in the stack: inserted with its 4-tuple, queued for transmit and
//! events after every change, out of the flow table once it is CLOSED (or when a new SYN
//! takes its 4-tuple over from TIME-WAIT), and freed once nobody needs it any more — in
//! TIME-WAIT, for a compact record of its 4-tuple (see `time_wait`).
//!
//! A connection leaves the flow table before it leaves the stack when the application
//! still holds it: its handle stays valid (unread data can be read, its timers run), while
//! what arrives for its 4-tuple goes to a newer connection, to a listener, or draws the
//! reset for no connection (RFC 9293 §3.10.7.1).

use super::{ConnId, ConnSlot, Flow, Stack, StackError};
use crate::flow::{FlowKey, FlowTable};
use crate::tcp::{self, Connection};

impl Stack {
    /// A connection for `key` with initial send sequence `iss`, sharing the stack's buffer
    /// pools and challenge-ACK ceiling, its timestamps offset by the 4-tuple's secret
    /// (RFC 7323 §7.1).
    pub(super) fn new_connection(&self, key: FlowKey, iss: tcp::SeqNum) -> Connection {
        let mut conn = Connection::new(self.tcp_config.clone(), key.local_port, iss);
        conn.set_buffer_pools(self.send_pool.clone(), self.recv_pool.clone());
        conn.set_challenge_ack_ceiling(self.challenge_ceiling.clone());
        conn.set_timestamp_offset(self.isn.timestamp_offset(key.local(), key.remote()));
        conn
    }

    pub(super) fn insert(
        &mut self,
        key: FlowKey,
        conn: Connection,
        listen_port: Option<u16>,
        visible: bool,
    ) -> Result<ConnId, StackError> {
        let id = self.conns.insert(ConnSlot {
            conn,
            key,
            listen_port,
            half_open: listen_port.is_some(),
            awaiting_accept: false,
            visible,
            released: false,
            in_tx_queue: false,
            in_event_queue: false,
            parked: false,
            in_flow_table: true,
            timer: None,
            buffers_watched: false,
        });
        if self.flows.insert(key, Flow::Connection(id)).is_err() {
            self.conns.remove(id);
            return Err(StackError::TooManyConnections(self.config.max_connections));
        }
        Ok(id)
    }

    /// Queues `id` for transmit and refreshes its events, listener count and timer.
    pub(super) fn after_change(&mut self, id: ConnId) {
        let Some(slot) = self.conns.get_mut(id) else {
            return;
        };
        if !slot.in_tx_queue {
            slot.in_tx_queue = true;
            self.tx_queue.push_back(id);
        }
        self.refresh(id);
    }

    /// Picks up new events, a new earliest deadline, the end of the connection and the end
    /// of a half-open period.
    pub(super) fn refresh(&mut self, id: ConnId) {
        let Some(slot) = self.conns.get_mut(id) else {
            return;
        };
        if slot.conn.has_events() && !slot.in_event_queue {
            slot.in_event_queue = true;
            self.event_queue.push_back(id);
        }
        slot.schedule_timer(id, &mut self.timers);
        if !slot.buffers_watched && slot.conn.holds_empty_buffer() {
            slot.buffers_watched = true;
            self.idle_buffers.watch(id);
        }
        let state = slot.conn.state();
        if state == tcp::State::Closed || (slot.half_open && state != tcp::State::SynReceived) {
            self.state_changed(id, state);
        }
    }

    /// The rare part of [`Stack::refresh`]: a CLOSED connection leaves the flow table, and
    /// one that left SYN-RECEIVED no longer counts against its listener's backlog.
    #[cold]
    fn state_changed(&mut self, id: ConnId, state: tcp::State) {
        let Some(slot) = self.conns.get_mut(id) else {
            return;
        };
        if state == tcp::State::Closed {
            slot.leave_flow_table(&mut self.flows);
        }
        if slot.half_open && state != tcp::State::SynReceived {
            slot.half_open = false;
            if let Some(port) = slot.listen_port {
                self.end_half_open(port);
                if state.is_synchronized() {
                    self.stats.connections_accepted += 1;
                    self.enter_accept_queue(id);
                }
            }
        }
    }

    /// Makes way for a new connection on the 4-tuple of `id`, which is in TIME-WAIT: freed
    /// if the application does not hold it, else only out of the flow table (it is freed
    /// once released and finished).
    pub(super) fn give_up_flow(&mut self, id: ConnId) {
        match self.conns.get_mut(id) {
            Some(slot) if slot.visible && !slot.released => {
                slot.leave_flow_table(&mut self.flows);
            }
            _ => self.free(id),
        }
    }

    /// Frees a connection nobody needs any more: CLOSED (or back in LISTEN after a reset of
    /// a passive open) with nothing unread or unsent, and either released by the application
    /// or never shown to it. Queues may still name it: their handles are generational, so a
    /// stale one is skipped.
    pub(super) fn maybe_free(&mut self, id: ConnId) {
        let Some(slot) = self.conns.get(id) else {
            return;
        };
        let done = match slot.conn.state() {
            tcp::State::TimeWait => return self.compact_time_wait(id),
            tcp::State::Closed => slot.conn.is_finished(),
            tcp::State::Listen => slot.listen_port.is_some(),
            _ => false,
        };
        if !done {
            return;
        }
        if slot.visible && !slot.released {
            return;
        }
        if let (true, Some(port)) = (slot.half_open, slot.listen_port) {
            self.end_half_open(port);
        }
        self.free(id);
    }

    /// Removes a connection now, whatever its state.
    pub(super) fn free(&mut self, id: ConnId) {
        self.leave_accept_queue(id);
        if let Some(mut slot) = self.conns.remove(id) {
            slot.cancel_timer(&mut self.timers);
            slot.leave_flow_table(&mut self.flows);
            self.stats.connections_freed += 1;
            self.freed_connection_totals.accumulate(&slot.conn.stats());
        }
    }
}

impl ConnSlot {
    /// Takes this connection out of the flow table, if it is still there (nothing else maps
    /// its 4-tuple then).
    fn leave_flow_table(&mut self, flows: &mut FlowTable<Flow>) {
        if std::mem::take(&mut self.in_flow_table) {
            flows.remove(&self.key);
        }
    }
}
