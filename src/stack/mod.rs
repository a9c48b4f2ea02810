//! The per-worker network stack: Ethernet frames in, Ethernet frames out, still sans-IO.
//!
//! A [`Stack`] owns one worker's connections. Time comes in as an argument, and each concern
//! has its own file:
//!
//! - `receive`: frames are validated ([`crate::wire::TcpFrame`]; every malformed class and
//!   every segment from an address no peer may have is counted in [`StackStats`] and
//!   dropped) and TCP segments demultiplexed to connections through a fixed-capacity
//!   [`FlowTable`]; segments for no connection draw the resets of RFC 9293 §3.10.7.1;
//! - `icmp`: ICMP errors about our segments go, as typed events, to the connection of the
//!   4-tuple they quote (path MTU discovery, soft errors; never a reset);
//! - `listener`: SYNs to listening ports open connections, also on a 4-tuple in TIME-WAIT;
//! - `time_wait`: a connection in TIME-WAIT that nobody holds is freed for a compact record
//!   ([`tcp::TimeWait`]) that answers for its 4-tuple until 2·MSL have passed;
//! - `connections`: what the application does with a connection, and `lifecycle`: how the
//!   stack keeps track of it, from insertion through leaving the flow table to freeing;
//! - `event`: what the application is told;
//! - `transmit`: outgoing frames are built in place in the caller's buffer (for AF_XDP: a
//!   UMEM frame);
//! - `route` and `arp`: the next hop of a destination and its MAC address (by ARP, or from
//!   the host), with the bounded cache in `neighbor`;
//! - `timers`: each connection's earliest deadline in the `timer_wheel` (one entry per
//!   connection), and ARP retries; `idle_buffers`: the sweep that takes payload buffers
//!   back from idle connections;
//! - `config`, `error` and `stats`: settings, refusals and counters; `observe`: counts by
//!   state, TCP totals and per-connection rows, computed when asked; `memory`: what one
//!   connection costs.

mod accept_queue;
mod arp;
mod config;
mod connections;
mod error;
mod event;
mod icmp;
mod idle_buffers;
mod lifecycle;
mod listener;
mod memory;
mod neighbor;
mod observe;
mod receive;
mod route;
mod stats;
mod syn_cookies;
mod time_wait;
mod timer_wheel;
mod timers;
mod transmit;

pub use config::{ReplyQueue, StackConfig, SynCookies};
pub use error::{StackConfigError, StackError};
pub use event::{DirectData, StackEvent};
pub use memory::ConnectionFootprint;
pub use neighbor::NeighborCache;
pub use observe::{BufferMemory, ConnectionFilter, ConnectionInfo, StateCounts};
pub use route::Route;
pub use stats::StackStats;
pub use syn_cookies::OFFLOAD_HOLD;
pub use time_wait::TimeWaitId;
pub use timer_wheel::{TimerId, TimerWheel};
pub use transmit::IP_TTL;

use std::collections::VecDeque;
use std::net::Ipv4Addr;
use std::sync::Arc;

use slotmap::SlotMap;

use crate::flow::{FlowKey, FlowTable};
use crate::tcp::buffer::BufferPool;
use crate::tcp::{self, Connection, IsnGenerator};
use crate::time::Instant;
use crate::wire::{ArpRepr, MacAddr, TcpRepr};
use listener::Listener;
use receive::RESET_QUEUE_LIMIT;
use time_wait::TimeWaits;

slotmap::new_key_type! {
    /// A handle to one connection of a [`Stack`]; stale handles are detected (generational).
    pub struct ConnId;
}

/// What the flow table maps a 4-tuple to: a connection, or the compact record of one in
/// TIME-WAIT.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Flow {
    Connection(ConnId),
    TimeWait(TimeWaitId),
}

impl Default for Flow {
    fn default() -> Flow {
        Flow::Connection(ConnId::default())
    }
}

#[derive(Debug)]
struct ConnSlot {
    conn: Connection,
    key: FlowKey,
    /// Listening port it came from (passive open).
    listen_port: Option<u16>,
    /// Counted in its listener's `half_open`.
    half_open: bool,
    /// Counted in its listener's `accept_queue`: established, not yet taken by the
    /// application.
    awaiting_accept: bool,
    /// The application has seen it (Accepted or the handle from `connect`).
    visible: bool,
    /// The application released its handle.
    released: bool,
    in_tx_queue: bool,
    in_event_queue: bool,
    /// Waiting for its next hop to be resolved.
    parked: bool,
    /// Its 4-tuple maps to it in the flow table (until it is CLOSED or gives the 4-tuple up).
    in_flow_table: bool,
    /// Its entry in the timer wheel.
    timer: Option<timers::ArmedTimer>,
    /// Among the connections the idle-buffer sweep looks at.
    buffers_watched: bool,
}

/// Idle send and receive buffers each stack keeps for reuse (memory held: this many times
/// the buffer sizes, at most).
const POOLED_BUFFERS: usize = 64;

/// One worker's TCP/IP stack.
pub struct Stack {
    config: StackConfig,
    tcp_config: Arc<tcp::Config>,
    send_pool: Arc<BufferPool>,
    recv_pool: Arc<BufferPool>,
    /// The challenge ACKs all connections may still send this second (RFC 5961 §7).
    challenge_ceiling: Arc<tcp::ChallengeAckCeiling>,
    isn: IsnGenerator,
    flows: FlowTable<Flow>,
    conns: SlotMap<ConnId, ConnSlot>,
    /// 4-tuples in TIME-WAIT whose connection was freed.
    time_waits: TimeWaits,
    listeners: Vec<Listener>,
    neighbors: NeighborCache,
    /// The broadcast address of our subnet (see [`route::directed_broadcast`]).
    directed_broadcast: Ipv4Addr,
    /// Resets for segments to no connection and SYN cookie SYN,ACKs: replies no connection
    /// sends.
    stateless_replies: VecDeque<(FlowKey, TcpRepr)>,
    /// When a SYN cookie was last sent, by the stack or (while a listener's SYNs are answered
    /// before the stack) by the datapath: ACKs to a listener are checked for cookies only for
    /// two cookie periods after (as Linux does), so no one can guess at them otherwise.
    last_cookie_sent: Option<Instant>,
    /// Ports that stopped listening while their SYNs were answered before the stack, to be
    /// published as no longer so.
    cookie_offload_ended: Vec<u16>,
    arp_out: VecDeque<(MacAddr, ArpRepr)>,
    tx_queue: VecDeque<ConnId>,
    event_queue: VecDeque<ConnId>,
    timers: TimerWheel<ConnId>,
    /// Payload rings given back once their connection is idle.
    idle_buffers: idle_buffers::IdleBuffers,
    /// Connections whose timers fired, reused by every `handle_timeout`.
    expired_timers: Vec<ConnId>,
    /// Connections with output waiting for ARP, retried every [`arp::ARP_RETRY`].
    parked: Vec<ConnId>,
    arp_retry_at: Option<Instant>,
    /// Next hops to resolve, for the host when `arp` is off.
    neighbor_requests: VecDeque<Ipv4Addr>,
    /// `receive_direct` is running; its result.
    direct_wanted: bool,
    direct: Option<(ConnId, std::ops::Range<usize>)>,
    next_ephemeral: u16,
    /// Which of our addresses the next active open tries first (0: `config.ipv4`, then
    /// `config.more_ipv4` in order).
    next_local_address: usize,
    ip_ident: u16,
    stats: StackStats,
    /// The TCP counters of the connections freed so far (see [`Stack::tcp_totals`]).
    freed_connection_totals: tcp::ConnStats,
}

impl std::fmt::Debug for Stack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stack")
            .field("ipv4", &self.config.ipv4)
            .field("connections", &self.conns.len())
            .field("stats", &self.stats)
            .finish()
    }
}

impl Stack {
    /// A stack with `config`; `isn` holds the secret for ISNs, `hash_seed` keys the flow table.
    pub fn new(
        config: StackConfig,
        isn: IsnGenerator,
        hash_seed: u64,
    ) -> Result<Stack, StackError> {
        config.validate()?;
        let mut tcp_config = config.tcp.clone();
        // Our MSS never exceeds what the MTU carries (IPv4 and TCP headers without options).
        tcp_config.mss = tcp_config.mss.min(config.mtu - 40);
        let pooled = config.max_connections.min(POOLED_BUFFERS);
        Ok(Stack {
            send_pool: BufferPool::new(tcp_config.send_buffer, pooled),
            recv_pool: BufferPool::new(tcp_config.recv_buffer, pooled),
            tcp_config: Arc::new(tcp_config),
            challenge_ceiling: Arc::new(tcp::ChallengeAckCeiling::new(
                config.challenge_ack_ceiling,
                hash_seed.rotate_left(17),
            )),
            isn,
            flows: FlowTable::new(config.max_connections, hash_seed),
            conns: SlotMap::with_capacity_and_key(config.max_connections.min(1 << 16)),
            time_waits: TimeWaits::default(),
            listeners: Vec::new(),
            neighbors: NeighborCache::new(4096, hash_seed.rotate_left(32)),
            directed_broadcast: route::directed_broadcast(config.ipv4, config.prefix_len),
            stateless_replies: VecDeque::with_capacity(RESET_QUEUE_LIMIT),
            last_cookie_sent: None,
            cookie_offload_ended: Vec::new(),
            arp_out: VecDeque::new(),
            tx_queue: VecDeque::new(),
            event_queue: VecDeque::new(),
            timers: TimerWheel::new(),
            idle_buffers: idle_buffers::IdleBuffers::default(),
            expired_timers: Vec::new(),
            parked: Vec::new(),
            arp_retry_at: None,
            neighbor_requests: VecDeque::new(),
            direct_wanted: false,
            direct: None,
            // Start the RFC 6056 counter at a random point, so that runs of a program do not
            // replay the same sequence of source ports.
            next_ephemeral: hash_seed as u16,
            next_local_address: 0,
            ip_ident: 1,
            stats: StackStats::default(),
            freed_connection_totals: tcp::ConnStats::default(),
            config,
        })
    }

    pub fn config(&self) -> &StackConfig {
        &self.config
    }

    pub fn stats(&self) -> &StackStats {
        &self.stats
    }

    /// Connections currently held (any state).
    pub fn connection_count(&self) -> usize {
        self.conns.len()
    }
}
