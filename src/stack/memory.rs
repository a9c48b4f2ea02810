//! What a connection costs a stack in memory, payload buffers excluded: the issue-12 budget
//! is at most 1 KiB of control state per idle established connection.
//!
//! An established connection is one slot of the connection slab (the `tcp::Connection`
//! and the stack's bookkeeping beside it), at most one entry in the timer wheel, and its
//! share of the flow table, which is allocated whole at start for `max_connections`. On
//! the heap it holds only what it uses: the send and receive rings are taken from the
//! stack's pools when bytes arrive and given back once they are acknowledged or read,
//! the out-of-order ranges exist while there is reordering or loss, and the SACK
//! scoreboard keeps the records of its last flight (at most 64, see
//! `tcp::recovery::scoreboard`). A connection in TIME-WAIT that nobody holds is only a
//! record (`time_wait`).
//!
//! Payload buffers are bounded per connection (fixed ring capacities) and, optionally, as
//! a whole by an admission limit (`StackConfig::buffer_memory_limit`): the pools count the
//! buffers they handed out and not got back, and while those reach the limit the stack
//! opens no connection — a SYN to a listener is dropped unanswered and counted
//! (`StackStats::drop_buffer_memory`), `connect` fails with `StackError::BufferMemoryLimit`.
//! The connections already open still take buffers whenever they need them: a ring refused
//! storage would have to drop what the peer was promised room for, or what the
//! application was told was sent. They may so go past the limit, each by at most its own
//! two rings, and all together by no more than `Stack::buffer_memory_bound` allows anyway;
//! the limit stops more connections from adding to that.

use std::mem::size_of;

use super::{ConnId, ConnSlot, Stack, TimerWheel};
use crate::flow::FlowKey;
use crate::tcp;

/// The fixed sizes behind one connection, in bytes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct ConnectionFootprint {
    /// One slot of the connection slab: `tcp::Connection`, its 4-tuple and the stack's
    /// flags and timer handle, plus the slab's version word.
    pub slot: usize,
    /// Of which the `tcp::Connection`.
    pub connection: usize,
    /// One entry of the timer wheel.
    pub timer_entry: usize,
    /// The flow table's bytes per connection it has room for.
    pub flow_table_share: usize,
    /// A TIME-WAIT record with its 4-tuple, in place of all of the above.
    pub time_wait_record: usize,
}

impl ConnectionFootprint {
    /// Control state of one established connection without heap: slot, timer entry and
    /// flow table share.
    pub fn per_connection(&self) -> usize {
        self.slot + self.timer_entry + self.flow_table_share
    }
}

impl Stack {
    /// The sizes behind one connection of this stack.
    pub fn connection_footprint(&self) -> ConnectionFootprint {
        ConnectionFootprint {
            // slotmap stores each value beside a u32 version, padded to the value's alignment.
            slot: (size_of::<ConnSlot>() + size_of::<u32>())
                .next_multiple_of(std::mem::align_of::<ConnSlot>()),
            connection: size_of::<tcp::Connection>(),
            timer_entry: TimerWheel::<ConnId>::ENTRY_BYTES,
            flow_table_share: self.flows.memory_bytes() / self.config.max_connections.max(1),
            time_wait_record: size_of::<(FlowKey, tcp::TimeWait)>() + size_of::<u32>(),
        }
    }

    /// Bytes of payload buffers the connections hold now, counted by the pools where
    /// storage is taken and given back (what `StackConfig::buffer_memory_limit` limits).
    pub fn buffer_memory_in_use(&self) -> usize {
        self.send_pool.in_use_bytes() + self.recv_pool.in_use_bytes()
    }

    /// True while the payload buffers held reach the limit: no connection may open.
    pub(super) fn buffer_memory_full(&self) -> bool {
        self.config
            .buffer_memory_limit
            .is_some_and(|limit| self.buffer_memory_in_use() >= limit)
    }

    /// Heap the connections' control state holds now (see
    /// [`tcp::Connection::control_heap_bytes`]), payload buffers excluded.
    pub fn control_heap(&self) -> usize {
        self.conns
            .values()
            .map(|s| s.conn.control_heap_bytes())
            .sum()
    }
}
