//! The per-worker network stack: Ethernet frames in, Ethernet frames out, still sans-IO.
//!
//! A [`Stack`] owns one worker's connections: it validates frames (every malformed class is
//! counted in [`StackStats`] and dropped), demultiplexes TCP segments to connections through a
//! fixed-capacity [`FlowTable`], creates connections for SYNs to listening ports, answers
//! segments for no connection with the resets of RFC 9293 §3.10.7.1, resolves next hops with
//! ARP (or takes neighbours from the host), and builds outgoing frames in place in the
//! caller's buffer (for AF_XDP: a UMEM frame). Time comes in as an argument; timers run from
//! one heap per stack.

mod neighbor;

pub use neighbor::NeighborCache;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::ops::RangeInclusive;
use std::sync::Arc;
use std::time::Duration;

use slotmap::SlotMap;

use crate::flow::{FlowKey, FlowTable};
use crate::tcp::buffer::BufferPool;
use crate::tcp::{self, Connection, IsnGenerator};
use crate::time::Instant;
use crate::wire::{
    arp, ethernet, ipv4, tcp as tcpw, ArpOperation, ArpPacket, ArpRepr, EtherType, EthernetFrame,
    EthernetRepr, Ipv4Packet, Ipv4Repr, MacAddr, TcpPacket, TcpRepr, WireError,
};

slotmap::new_key_type! {
    /// A handle to one connection of a [`Stack`]; stale handles are detected (generational).
    pub struct ConnId;
}

/// Settings of one stack (one worker).
#[derive(Clone, Debug)]
pub struct StackConfig {
    pub mac: MacAddr,
    pub ipv4: Ipv4Addr,
    /// On-link prefix length of `ipv4`.
    pub prefix_len: u8,
    /// Next hop for destinations off the link that no entry of `routes` covers.
    pub gateway: Option<Ipv4Addr>,
    /// More specific routes (from the kernel's table), longest prefix first wins.
    pub routes: Vec<Route>,
    /// IP MTU of the link.
    pub mtu: u16,
    /// Most connections this stack holds at once (the flow table is sized from it).
    pub max_connections: usize,
    /// Source ports for active opens.
    pub ephemeral_ports: RangeInclusive<u16>,
    /// Accept a TCP segment whose checksum field holds only the pseudo-header sum, the mark
    /// of a local kernel's unfinished checksum offload (`CHECKSUM_PARTIAL`) arriving over
    /// veth. Real NICs deliver finished checksums; leave this off for them.
    pub accept_partial_checksum: bool,
    /// Answer ARP requests for `ipv4` and resolve neighbours with ARP. Off when the host's
    /// kernel shares the address and answers ARP itself; neighbours then come from
    /// [`Stack::add_neighbor`].
    pub arp: bool,
    pub tcp: tcp::Config,
}

impl StackConfig {
    /// Checks every setting; [`Stack::new`] refuses an invalid one.
    pub fn validate(&self) -> Result<(), StackConfigError> {
        self.tcp.validate()?;
        if !(576..=9216).contains(&self.mtu) {
            return Err(StackConfigError::Mtu(self.mtu));
        }
        if self.prefix_len > 32 {
            return Err(StackConfigError::PrefixLen(self.prefix_len));
        }
        if self.max_connections == 0 {
            return Err(StackConfigError::NoConnections);
        }
        if self.ephemeral_ports.is_empty() || *self.ephemeral_ports.start() == 0 {
            return Err(StackConfigError::EphemeralPorts);
        }
        Ok(())
    }

    /// A configuration with defaults for everything but the addresses.
    pub fn new(mac: MacAddr, ipv4: Ipv4Addr, prefix_len: u8) -> StackConfig {
        StackConfig {
            mac,
            ipv4,
            prefix_len,
            gateway: None,
            routes: Vec::new(),
            mtu: 1500,
            max_connections: 65_536,
            ephemeral_ports: 32_768..=60_999,
            arp: true,
            accept_partial_checksum: false,
            tcp: tcp::Config::default(),
        }
    }
}

/// A route: destinations in `prefix/len` go via `gateway` (on-link when `None`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Route {
    pub prefix: Ipv4Addr,
    pub len: u8,
    pub gateway: Option<Ipv4Addr>,
}

impl Route {
    fn mask(len: u8) -> u32 {
        if len == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(len.min(32)))
        }
    }

    /// True if `dst` lies in this route's prefix.
    pub fn covers(&self, dst: Ipv4Addr) -> bool {
        let mask = Route::mask(self.len);
        u32::from(dst) & mask == u32::from(self.prefix) & mask
    }
}

/// A stack setting outside what the stack supports.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StackConfigError {
    #[error(transparent)]
    Tcp(#[from] tcp::ConfigError),
    #[error("mtu {0} outside 576..=9216")]
    Mtu(u16),
    #[error("prefix length {0} above 32")]
    PrefixLen(u8),
    #[error("max_connections must be positive")]
    NoConnections,
    #[error("empty or invalid ephemeral port range")]
    EphemeralPorts,
}

/// Why the stack refused a request.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StackError {
    #[error("invalid configuration: {0}")]
    Config(#[from] StackConfigError),
    #[error("port {0} is already in use")]
    PortInUse(u16),
    #[error("no free ephemeral port toward {0}")]
    NoEphemeralPort(SocketAddrV4),
    #[error("connection limit of {0} reached")]
    TooManyConnections(usize),
    #[error("no such connection (closed and freed, or never existed)")]
    NoSuchConnection,
    #[error(transparent)]
    Tcp(#[from] tcp::Error),
}

/// What happened on a connection, for the application.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum StackEvent {
    /// A passive connection completed its handshake on `listen_port`.
    Accepted {
        listen_port: u16,
    },
    /// An active open completed.
    Connected,
    Readable,
    Writable,
    /// The peer sent FIN; reads end once its data is read.
    ReadClosed,
    /// The connection reached CLOSED; `error` says why if it failed.
    Closed {
        error: Option<tcp::ConnectionError>,
    },
}

/// New in-order bytes of a received frame that no buffer holds yet: `frame[range]` is for
/// `conn`'s application to read in place, after which [`Stack::finish_direct`] buffers what
/// it left.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirectData {
    pub conn: ConnId,
    pub range: std::ops::Range<usize>,
}

/// Counters of one stack. Every dropped frame is counted under exactly one reason.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StackStats {
    pub rx_frames: u64,
    pub tx_frames: u64,
    pub rx_tcp_segments: u64,
    pub tx_tcp_segments: u64,
    pub rx_arp: u64,
    pub tx_arp: u64,
    pub drop_truncated: u64,
    pub drop_not_for_us: u64,
    pub drop_unsupported_ethertype: u64,
    pub drop_unsupported_protocol: u64,
    pub drop_bad_ip_header: u64,
    pub drop_bad_ip_checksum: u64,
    pub drop_ip_fragment: u64,
    pub drop_bad_tcp_header: u64,
    pub drop_bad_tcp_checksum: u64,
    /// Segments accepted with an unfinished (offload pending) checksum on veth.
    pub rx_partial_checksum: u64,
    /// Segments whose data the application was shown in place, in the frame (zero copy).
    pub rx_zero_copy_segments: u64,
    pub drop_bad_tcp_option: u64,
    pub drop_bad_arp: u64,
    pub drop_listen_overflow: u64,
    pub drop_connection_limit: u64,
    pub drop_no_connection: u64,
    pub drop_reset_queue_full: u64,
    pub rst_sent: u64,
    pub connections_opened: u64,
    pub connections_accepted: u64,
    pub connections_freed: u64,
}

impl StackStats {
    fn count_malformed(&mut self, err: WireError) {
        match err {
            WireError::Truncated => self.drop_truncated += 1,
            WireError::BadIpVersion
            | WireError::BadIpHeaderLength
            | WireError::BadIpTotalLength => self.drop_bad_ip_header += 1,
            WireError::BadIpChecksum => self.drop_bad_ip_checksum += 1,
            WireError::IpFragment => self.drop_ip_fragment += 1,
            WireError::BadTcpHeaderLength => self.drop_bad_tcp_header += 1,
            WireError::BadTcpChecksum => self.drop_bad_tcp_checksum += 1,
            WireError::BadTcpOption => self.drop_bad_tcp_option += 1,
            WireError::UnsupportedArp => self.drop_bad_arp += 1,
        }
    }

    /// Frames dropped as malformed (any class).
    pub fn malformed(&self) -> u64 {
        self.drop_truncated
            + self.drop_bad_ip_header
            + self.drop_bad_ip_checksum
            + self.drop_ip_fragment
            + self.drop_bad_tcp_header
            + self.drop_bad_tcp_checksum
            + self.drop_bad_tcp_option
            + self.drop_bad_arp
    }
}

#[derive(Debug)]
struct Listener {
    port: u16,
    backlog: usize,
    /// Connections from this listener not yet ESTABLISHED.
    half_open: usize,
}

#[derive(Debug)]
struct ConnSlot {
    conn: Connection,
    key: FlowKey,
    /// Listening port it came from (passive open).
    listen_port: Option<u16>,
    /// Counted in its listener's `half_open`.
    half_open: bool,
    /// The application has seen it (Accepted or the handle from `connect`).
    visible: bool,
    /// The application released its handle.
    released: bool,
    in_tx_queue: bool,
    in_event_queue: bool,
    /// Waiting for its next hop to be resolved.
    parked: bool,
    /// Earliest deadline pushed on the timer heap for it.
    scheduled: Option<Instant>,
}

/// Idle send and receive buffers each stack keeps for reuse (memory held: this many times
/// the buffer sizes, at most).
const POOLED_BUFFERS: usize = 64;

/// Most resets queued for segments to no connection; more are dropped and counted.
const RESET_QUEUE_LIMIT: usize = 256;
const ETH_IP_HEADERS: usize = ethernet::HEADER_LEN + ipv4::HEADER_LEN;
/// Interval between ARP requests for one address (RFC 1122 §2.3.2.1: at most one per second).
const ARP_RETRY: Duration = Duration::from_secs(1);
/// Consecutive retransmission timeouts after which a connection's next hop is asked again.
const NEIGHBOR_SUSPECT_TIMEOUTS: u8 = 2;

/// One worker's TCP/IP stack.
pub struct Stack {
    config: StackConfig,
    tcp_config: Arc<tcp::Config>,
    send_pool: Arc<BufferPool>,
    recv_pool: Arc<BufferPool>,
    isn: IsnGenerator,
    flows: FlowTable<ConnId>,
    conns: SlotMap<ConnId, ConnSlot>,
    listeners: Vec<Listener>,
    neighbors: NeighborCache,
    resets: VecDeque<(FlowKey, TcpRepr)>,
    arp_out: VecDeque<(MacAddr, ArpRepr)>,
    tx_queue: VecDeque<ConnId>,
    event_queue: VecDeque<ConnId>,
    timers: BinaryHeap<Reverse<(Instant, ConnId)>>,
    /// Connections with output waiting for ARP, retried every [`ARP_RETRY`].
    parked: Vec<ConnId>,
    arp_retry_at: Option<Instant>,
    /// Next hops to resolve, for the host when `arp` is off.
    neighbor_requests: VecDeque<Ipv4Addr>,
    /// `receive_direct` is running; its result.
    direct_wanted: bool,
    direct: Option<(ConnId, std::ops::Range<usize>)>,
    next_ephemeral: u16,
    ip_ident: u16,
    stats: StackStats,
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
            isn,
            flows: FlowTable::new(config.max_connections, hash_seed),
            conns: SlotMap::with_capacity_and_key(config.max_connections.min(1 << 16)),
            listeners: Vec::new(),
            neighbors: NeighborCache::new(4096),
            resets: VecDeque::with_capacity(RESET_QUEUE_LIMIT),
            arp_out: VecDeque::new(),
            tx_queue: VecDeque::new(),
            event_queue: VecDeque::new(),
            timers: BinaryHeap::new(),
            parked: Vec::new(),
            arp_retry_at: None,
            neighbor_requests: VecDeque::new(),
            direct_wanted: false,
            direct: None,
            // Start the RFC 6056 counter at a random point, so that runs of a program do not
            // replay the same sequence of source ports.
            next_ephemeral: hash_seed as u16,
            ip_ident: 1,
            stats: StackStats::default(),
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

    /// Installs a neighbour's MAC address (from the host's neighbour table, or static).
    pub fn add_neighbor(&mut self, ip: Ipv4Addr, mac: MacAddr) {
        if self.neighbors.insert(ip, mac) {
            self.unpark_all();
        }
    }

    pub fn neighbors(&self) -> &NeighborCache {
        &self.neighbors
    }

    /// A next hop whose MAC address the stack needs, when it does not run ARP itself: the
    /// host resolves it and answers with [`Stack::add_neighbor`]. Repeated at most once a
    /// second per address while it stays unresolved or suspect.
    pub fn poll_neighbor_request(&mut self) -> Option<Ipv4Addr> {
        self.neighbor_requests.pop_front()
    }

    // ----------------------------------------------------------------------------------
    // Application calls
    // ----------------------------------------------------------------------------------

    /// Accepts connections on `port`, holding at most `backlog` half-open ones.
    pub fn listen(&mut self, port: u16, backlog: usize) -> Result<(), StackError> {
        if port == 0 || self.listeners.iter().any(|l| l.port == port) {
            return Err(StackError::PortInUse(port));
        }
        self.listeners.push(Listener {
            port,
            backlog: backlog.max(1),
            half_open: 0,
        });
        Ok(())
    }

    /// Stops accepting on `port`; established connections are not affected.
    pub fn unlisten(&mut self, port: u16) {
        self.listeners.retain(|l| l.port != port);
    }

    /// Ports this stack listens on.
    pub fn listening_ports(&self) -> impl Iterator<Item = u16> + '_ {
        self.listeners.iter().map(|l| l.port)
    }

    /// Active open toward `remote` from an ephemeral port.
    ///
    /// The port is chosen as RFC 6056 §3.3.3 (Algorithm 3) does: a keyed hash of the
    /// destination, plus a counter, within the range. Ports are therefore neither
    /// predictable nor the same from one run of a program to the next (which would reopen
    /// 4-tuples the peer may still hold).
    pub fn connect(&mut self, now: Instant, remote: SocketAddrV4) -> Result<ConnId, StackError> {
        let range = self.config.ephemeral_ports.clone();
        let span = u32::from(*range.end() - *range.start()) + 1;
        let local = SocketAddrV4::new(self.config.ipv4, 0);
        let offset = self.isn.port_offset(local, remote);
        for _ in 0..span {
            let port = *range.start()
                + (offset.wrapping_add(u32::from(self.next_ephemeral)) % span) as u16;
            self.next_ephemeral = self.next_ephemeral.wrapping_add(1);
            let key = FlowKey::new(SocketAddrV4::new(self.config.ipv4, port), remote);
            if self.flows.get(&key).is_none() && !self.listeners.iter().any(|l| l.port == port) {
                return self.connect_from(now, port, remote);
            }
        }
        Err(StackError::NoEphemeralPort(remote))
    }

    /// Active open toward `remote` from `local_port`.
    pub fn connect_from(
        &mut self,
        now: Instant,
        local_port: u16,
        remote: SocketAddrV4,
    ) -> Result<ConnId, StackError> {
        let key = FlowKey::new(SocketAddrV4::new(self.config.ipv4, local_port), remote);
        if self.flows.get(&key).is_some() {
            return Err(StackError::PortInUse(local_port));
        }
        if self.conns.len() >= self.config.max_connections {
            return Err(StackError::TooManyConnections(self.config.max_connections));
        }
        let iss = self.isn.isn(now, key.local(), key.remote());
        let mut conn = Connection::new(self.tcp_config.clone(), local_port, iss);
        conn.set_buffer_pools(self.send_pool.clone(), self.recv_pool.clone());
        conn.connect(remote.port(), now)?;
        let id = self.insert(key, conn, None, true)?;
        self.stats.connections_opened += 1;
        self.after_change(id);
        Ok(id)
    }

    fn insert(
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
            visible,
            released: false,
            in_tx_queue: false,
            in_event_queue: false,
            parked: false,
            scheduled: None,
        });
        if self.flows.insert(key, id).is_err() {
            self.conns.remove(id);
            return Err(StackError::TooManyConnections(self.config.max_connections));
        }
        Ok(id)
    }

    /// The connection behind `id`. Anything done to it is picked up by the next
    /// `poll_transmit`, `poll_event` and `poll_deadline`.
    pub fn connection(&mut self, id: ConnId) -> Result<&mut Connection, StackError> {
        if !self.conns.contains_key(id) {
            return Err(StackError::NoSuchConnection);
        }
        self.after_change(id);
        match self.conns.get_mut(id) {
            Some(slot) => Ok(&mut slot.conn),
            None => Err(StackError::NoSuchConnection),
        }
    }

    /// The 4-tuple of `id`.
    pub fn flow_key(&self, id: ConnId) -> Option<FlowKey> {
        self.conns.get(id).map(|s| s.key)
    }

    pub fn send(&mut self, id: ConnId, data: &[u8], now: Instant) -> Result<usize, StackError> {
        Ok(self.connection(id)?.send(data, now)?)
    }

    pub fn recv(&mut self, id: ConnId, buf: &mut [u8]) -> Result<usize, StackError> {
        Ok(self.connection(id)?.recv(buf)?)
    }

    /// Half-close: no more data from us (RFC 9293 CLOSE).
    pub fn close(&mut self, id: ConnId, now: Instant) -> Result<(), StackError> {
        Ok(self.connection(id)?.close(now)?)
    }

    /// Half-close as applications mean it: FIN after the queued data, also from SYN-SENT
    /// (see [`tcp::Connection::shutdown_write`]).
    pub fn shutdown_write(&mut self, id: ConnId, now: Instant) -> Result<(), StackError> {
        Ok(self.connection(id)?.shutdown_write(now)?)
    }

    pub fn abort(&mut self, id: ConnId) -> Result<(), StackError> {
        self.connection(id)?.abort();
        Ok(())
    }

    /// The application is done with `id`: the stack finishes the close on its own (a reset
    /// if received data was left unread) and frees the connection when it is CLOSED.
    pub fn release(&mut self, id: ConnId, now: Instant) {
        if let Some(slot) = self.conns.get_mut(id) {
            slot.released = true;
            slot.conn.release(now);
            self.after_change(id);
            self.maybe_free(id);
        }
    }

    // ----------------------------------------------------------------------------------
    // Events
    // ----------------------------------------------------------------------------------

    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<(ConnId, StackEvent)> {
        while let Some(&id) = self.event_queue.front() {
            let Some(slot) = self.conns.get_mut(id) else {
                self.event_queue.pop_front();
                continue;
            };
            let Some(event) = slot.conn.poll_event() else {
                slot.in_event_queue = false;
                self.event_queue.pop_front();
                self.maybe_free(id);
                continue;
            };
            let mapped = match event {
                tcp::Event::Connected => {
                    if let Some(port) = slot.listen_port {
                        slot.visible = true;
                        StackEvent::Accepted { listen_port: port }
                    } else {
                        StackEvent::Connected
                    }
                }
                tcp::Event::Readable => StackEvent::Readable,
                tcp::Event::Writable => StackEvent::Writable,
                tcp::Event::ReadClosed => StackEvent::ReadClosed,
                tcp::Event::Closed => StackEvent::Closed {
                    error: slot.conn.error(),
                },
            };
            if !slot.visible || slot.released {
                // Events of connections the application does not hold are consumed here.
                continue;
            }
            return Some((id, mapped));
        }
        None
    }

    // ----------------------------------------------------------------------------------
    // Receive path
    // ----------------------------------------------------------------------------------

    /// Processes one received Ethernet frame.
    pub fn receive(&mut self, now: Instant, frame: &[u8]) {
        self.direct_wanted = false;
        self.receive_frame(now, frame);
    }

    /// Like [`Stack::receive`], but new in-order data for a connection the application holds
    /// (and that has no earlier event waiting) is left in `frame` for it to read in place:
    /// see [`DirectData`]. The caller must call [`Stack::finish_direct`] before the next frame.
    pub fn receive_direct(&mut self, now: Instant, frame: &[u8]) -> Option<DirectData> {
        self.direct_wanted = true;
        self.direct = None;
        self.receive_frame(now, frame);
        self.direct_wanted = false;
        let (conn, range) = self.direct.take()?;
        Some(DirectData { conn, range })
    }

    /// Buffers `unread`, the part of a [`DirectData`] the application did not consume.
    pub fn finish_direct(&mut self, conn: ConnId, unread: &[u8]) {
        if let Some(slot) = self.conns.get_mut(conn) {
            slot.conn.finish_direct(unread);
            self.after_change(conn);
        }
    }

    fn receive_frame(&mut self, now: Instant, frame: &[u8]) {
        self.stats.rx_frames += 1;
        let eth = match EthernetFrame::new_checked(frame) {
            Ok(eth) => eth,
            Err(e) => return self.stats.count_malformed(e),
        };
        let dst = eth.dst();
        if dst != self.config.mac && !dst.is_multicast() {
            self.stats.drop_not_for_us += 1;
            return;
        }
        match eth.ethertype() {
            EtherType::Ipv4 => self.receive_ipv4(now, eth.payload(), frame.as_ptr() as usize),
            EtherType::Arp => self.receive_arp(now, eth.payload()),
            EtherType::Other(_) => self.stats.drop_unsupported_ethertype += 1,
        }
    }

    fn receive_arp(&mut self, _now: Instant, payload: &[u8]) {
        if !self.config.arp {
            self.stats.drop_unsupported_ethertype += 1;
            return;
        }
        let packet = match ArpPacket::new_checked(payload) {
            Ok(p) => p,
            Err(e) => return self.stats.count_malformed(e),
        };
        self.stats.rx_arp += 1;
        let repr = ArpRepr::parse(&packet);
        // RFC 826: merge the sender into the table if we have it or the request is for us.
        let for_us = repr.target_ip == self.config.ipv4;
        if (for_us || self.neighbors.lookup(repr.sender_ip).is_some())
            && !repr.sender_mac.is_multicast()
            && repr.sender_ip != Ipv4Addr::UNSPECIFIED
        {
            self.add_neighbor(repr.sender_ip, repr.sender_mac);
        }
        if for_us && repr.operation == ArpOperation::Request && self.arp_out.len() < 64 {
            self.arp_out.push_back((
                repr.sender_mac,
                ArpRepr {
                    operation: ArpOperation::Reply,
                    sender_mac: self.config.mac,
                    sender_ip: self.config.ipv4,
                    target_mac: repr.sender_mac,
                    target_ip: repr.sender_ip,
                },
            ));
        }
    }

    fn receive_ipv4(&mut self, now: Instant, payload: &[u8], frame_start: usize) {
        let ip = match Ipv4Packet::new_checked(payload) {
            Ok(ip) => ip,
            Err(e) => return self.stats.count_malformed(e),
        };
        if !ip.verify_checksum() {
            return self.stats.count_malformed(WireError::BadIpChecksum);
        }
        if ip.dst() != self.config.ipv4 {
            self.stats.drop_not_for_us += 1;
            return;
        }
        if ip.is_fragment() {
            return self.stats.count_malformed(WireError::IpFragment);
        }
        if ip.protocol() != ipv4::PROTOCOL_TCP {
            self.stats.drop_unsupported_protocol += 1;
            return;
        }
        let tcp = match TcpPacket::new_checked(ip.payload()) {
            Ok(t) => t,
            Err(e) => return self.stats.count_malformed(e),
        };
        if !tcp.verify_checksum(ip.src(), ip.dst()) {
            if self.config.accept_partial_checksum && tcp.has_partial_checksum(ip.src(), ip.dst()) {
                self.stats.rx_partial_checksum += 1;
            } else {
                return self.stats.count_malformed(WireError::BadTcpChecksum);
            }
        }
        let repr = match TcpRepr::parse(&tcp) {
            Ok(r) => r,
            Err(e) => return self.stats.count_malformed(e),
        };
        self.stats.rx_tcp_segments += 1;
        let key = FlowKey {
            local_ip: ip.dst(),
            local_port: repr.dst_port,
            remote_ip: ip.src(),
            remote_port: repr.src_port,
        };
        let payload = tcp.payload();
        // Where the payload starts in the frame, for direct delivery (an address difference,
        // not a pointer dereference).
        let payload_offset = payload.as_ptr() as usize - frame_start;
        self.receive_tcp(now, key, &repr, payload, payload_offset);
    }

    fn receive_tcp(
        &mut self,
        now: Instant,
        key: FlowKey,
        repr: &TcpRepr,
        payload: &[u8],
        payload_offset: usize,
    ) {
        if let Some(id) = self.flows.get(&key) {
            if self.reopens_time_wait(now, id, &key, repr) {
                self.free(id);
                return self.receive_tcp(now, key, repr, payload, payload_offset);
            }
            if let Some(slot) = self.conns.get_mut(id) {
                let direct_ok = self.direct_wanted
                    && slot.visible
                    && !slot.released
                    && !slot.in_event_queue
                    && !slot.conn.has_events();
                if direct_ok {
                    if let Some(range) = slot.conn.handle_segment_direct(now, repr, payload) {
                        let start = payload_offset + range.start;
                        self.direct = Some((id, start..start + range.len()));
                        self.stats.rx_zero_copy_segments += 1;
                    }
                } else {
                    slot.conn.handle_segment(now, repr, payload);
                }
                self.after_change(id);
                return;
            }
        }
        if let Some(index) = self.listeners.iter().position(|l| l.port == key.local_port) {
            // RFC 9293 §3.10.7.2 LISTEN: ignore RST, reset an ACK, open on a SYN.
            if repr.flags.rst() {
                self.stats.drop_no_connection += 1;
            } else if repr.ack.is_some() {
                self.queue_reset(key, repr, payload.len());
            } else if repr.flags.syn() {
                self.accept_syn(now, index, key, repr, payload);
            } else {
                self.stats.drop_no_connection += 1;
            }
            return;
        }
        // RFC 9293 §3.10.7.1: no connection.
        self.queue_reset(key, repr, payload.len());
    }

    /// RFC 1122 §4.2.2.13: a new SYN may reopen a connection from TIME-WAIT if its sequence
    /// number lies beyond the old connection's and our new ISN lies beyond every sequence
    /// number the old one used — so no segment of the old connection can be mistaken for
    /// one of the new. The old connection is then dropped and the SYN goes to the listener.
    fn reopens_time_wait(&self, now: Instant, id: ConnId, key: &FlowKey, repr: &TcpRepr) -> bool {
        let Some(slot) = self.conns.get(id) else {
            return false;
        };
        let c = &slot.conn;
        repr.flags.syn()
            && repr.ack.is_none()
            && !repr.flags.rst()
            && c.state() == tcp::State::TimeWait
            && self.listeners.iter().any(|l| l.port == key.local_port)
            && repr.seq > c.rcv_nxt()
            && self.isn.isn(now, key.local(), key.remote()) > c.snd_max()
    }

    /// Removes a connection now, whatever its state.
    fn free(&mut self, id: ConnId) {
        if let Some(slot) = self.conns.remove(id) {
            self.flows.remove(&slot.key);
            self.stats.connections_freed += 1;
        }
    }

    fn accept_syn(
        &mut self,
        now: Instant,
        listener: usize,
        key: FlowKey,
        repr: &TcpRepr,
        payload: &[u8],
    ) {
        let l = &self.listeners[listener];
        if l.half_open >= l.backlog {
            self.stats.drop_listen_overflow += 1;
            return;
        }
        if self.conns.len() >= self.config.max_connections {
            self.stats.drop_connection_limit += 1;
            return;
        }
        let port = l.port;
        let iss = self.isn.isn(now, key.local(), key.remote());
        let mut conn = Connection::new(self.tcp_config.clone(), port, iss);
        conn.set_buffer_pools(self.send_pool.clone(), self.recv_pool.clone());
        if conn.listen(None).is_err() {
            return;
        }
        conn.handle_segment(now, repr, payload);
        if conn.state() != tcp::State::SynReceived {
            return;
        }
        match self.insert(key, conn, Some(port), false) {
            Ok(id) => {
                self.listeners[listener].half_open += 1;
                self.after_change(id);
            }
            Err(_) => self.stats.drop_connection_limit += 1,
        }
    }

    fn queue_reset(&mut self, key: FlowKey, repr: &TcpRepr, payload_len: usize) {
        let Some(reply) = tcp::reset_reply(repr, payload_len) else {
            self.stats.drop_no_connection += 1;
            return;
        };
        if self.resets.len() >= RESET_QUEUE_LIMIT {
            self.stats.drop_reset_queue_full += 1;
            return;
        }
        self.resets.push_back((key, reply));
    }

    // ----------------------------------------------------------------------------------
    // Bookkeeping after anything touched a connection
    // ----------------------------------------------------------------------------------

    /// Queues `id` for transmit and refreshes its events, listener count and timer.
    fn after_change(&mut self, id: ConnId) {
        let Some(slot) = self.conns.get_mut(id) else {
            return;
        };
        if !slot.in_tx_queue {
            slot.in_tx_queue = true;
            self.tx_queue.push_back(id);
        }
        self.refresh(id);
    }

    /// Picks up new events, the end of a half-open period and a new earliest deadline.
    fn refresh(&mut self, id: ConnId) {
        let Some(slot) = self.conns.get_mut(id) else {
            return;
        };
        if slot.conn.has_events() && !slot.in_event_queue {
            slot.in_event_queue = true;
            self.event_queue.push_back(id);
        }
        if slot.half_open && slot.conn.state() != tcp::State::SynReceived {
            slot.half_open = false;
            if let Some(port) = slot.listen_port {
                if let Some(l) = self.listeners.iter_mut().find(|l| l.port == port) {
                    l.half_open = l.half_open.saturating_sub(1);
                }
                if slot.conn.state().is_synchronized() {
                    self.stats.connections_accepted += 1;
                }
            }
        }
        if let Some(deadline) = slot.conn.poll_deadline() {
            if slot.scheduled.is_none_or(|s| deadline < s) {
                slot.scheduled = Some(deadline);
                self.timers.push(Reverse((deadline, id)));
            }
        }
    }

    /// Frees a connection nobody needs any more: CLOSED (or back in LISTEN after a reset of
    /// a passive open) with nothing unread or unsent, and either released by the application
    /// or never shown to it. Queues may still name it: their handles are generational, so a
    /// stale one is skipped.
    fn maybe_free(&mut self, id: ConnId) {
        let Some(slot) = self.conns.get(id) else {
            return;
        };
        let done = match slot.conn.state() {
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
        if slot.half_open {
            if let Some(port) = slot.listen_port {
                if let Some(l) = self.listeners.iter_mut().find(|l| l.port == port) {
                    l.half_open = l.half_open.saturating_sub(1);
                }
            }
        }
        self.free(id);
    }

    fn park(&mut self, now: Instant, id: ConnId) {
        if let Some(slot) = self.conns.get_mut(id) {
            if !slot.parked {
                slot.parked = true;
                self.parked.push(id);
            }
            if self.arp_retry_at.is_none() {
                self.arp_retry_at = Some(now + ARP_RETRY);
            }
        }
    }

    /// Puts every parked connection back in the transmit queue (a neighbour was learned, or
    /// it is time to ask again).
    fn unpark_all(&mut self) {
        self.arp_retry_at = None;
        for id in std::mem::take(&mut self.parked) {
            if let Some(slot) = self.conns.get_mut(id) {
                slot.parked = false;
            }
            self.after_change(id);
        }
    }

    // ----------------------------------------------------------------------------------
    // Timers
    // ----------------------------------------------------------------------------------

    /// When [`Stack::handle_timeout`] must run next. May be early (a stale entry), never late.
    pub fn poll_deadline(&self) -> Option<Instant> {
        let conn_timer = self.timers.peek().map(|Reverse((at, _))| *at);
        match (conn_timer, self.arp_retry_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Runs the timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.arp_retry_at.is_some_and(|at| at <= now) {
            self.unpark_all();
        }
        while let Some(&Reverse((at, id))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            let Some(slot) = self.conns.get_mut(id) else {
                continue;
            };
            if slot.scheduled != Some(at) {
                continue; // stale entry; a current one exists
            }
            slot.scheduled = None;
            if slot.conn.poll_deadline().is_some_and(|d| d <= now) {
                slot.conn.handle_timeout(now);
                if slot.conn.consecutive_timeouts() >= NEIGHBOR_SUSPECT_TIMEOUTS {
                    let remote = slot.key.remote_ip;
                    self.revalidate_neighbor(now, remote);
                }
            }
            self.after_change(id);
        }
    }

    // ----------------------------------------------------------------------------------
    // Transmit path
    // ----------------------------------------------------------------------------------

    /// The neighbour a frame to `dst` goes to: the longest matching route, then the local
    /// subnet, then the default gateway.
    pub fn next_hop(&self, dst: Ipv4Addr) -> Ipv4Addr {
        if let Some(route) = self
            .config
            .routes
            .iter()
            .filter(|r| r.covers(dst))
            .max_by_key(|r| r.len)
        {
            return route.gateway.unwrap_or(dst);
        }
        let subnet = Route {
            prefix: self.config.ipv4,
            len: self.config.prefix_len,
            gateway: None,
        };
        match self.config.gateway {
            Some(gw) if !subnet.covers(dst) => gw,
            _ => dst,
        }
    }

    fn next_ident(&mut self) -> u16 {
        self.ip_ident = self.ip_ident.wrapping_add(1);
        self.ip_ident
    }

    fn emit_arp(&mut self, dst: MacAddr, repr: &ArpRepr, buf: &mut [u8]) -> usize {
        EthernetRepr {
            src: self.config.mac,
            dst,
            ethertype: EtherType::Arp,
        }
        .emit(buf);
        repr.emit(&mut buf[ethernet::HEADER_LEN..]);
        self.stats.tx_arp += 1;
        self.stats.tx_frames += 1;
        // Pad to the Ethernet minimum of 60 bytes (without FCS).
        let len = ethernet::HEADER_LEN + arp::PACKET_LEN;
        buf[len..60].fill(0);
        60
    }

    /// Writes Ethernet and IPv4 headers in front of a TCP segment of `tcp_len` bytes already
    /// at `buf[ETH_IP_HEADERS..]`, fills the TCP checksum, and returns the frame length.
    fn finish_tcp_frame(
        &mut self,
        dst_mac: MacAddr,
        dst_ip: Ipv4Addr,
        buf: &mut [u8],
        tcp_len: usize,
    ) -> usize {
        EthernetRepr {
            src: self.config.mac,
            dst: dst_mac,
            ethertype: EtherType::Ipv4,
        }
        .emit(buf);
        let ident = self.next_ident();
        Ipv4Repr {
            src: self.config.ipv4,
            dst: dst_ip,
            protocol: ipv4::PROTOCOL_TCP,
            payload_len: tcp_len as u16,
            ttl: 64,
            ident,
        }
        .emit(&mut buf[ethernet::HEADER_LEN..]);
        tcpw::fill_checksum(
            &mut buf[ETH_IP_HEADERS..ETH_IP_HEADERS + tcp_len],
            self.config.ipv4,
            dst_ip,
        );
        self.stats.tx_frames += 1;
        self.stats.tx_tcp_segments += 1;
        let len = ETH_IP_HEADERS + tcp_len;
        if len < 60 {
            buf[len..60].fill(0);
            return 60;
        }
        len
    }

    /// Asks again for the next hop toward `dst` while still using the entry we have: after
    /// repeated timeouts the entry may be wrong (the neighbour changed, or a bad reply was
    /// learned). A different answer replaces it.
    fn revalidate_neighbor(&mut self, now: Instant, dst: Ipv4Addr) {
        let hop = self.next_hop(dst);
        if !self.config.arp {
            // The host resolves neighbours (see `poll_neighbor_request`).
            if self.neighbors.should_request(hop, now, ARP_RETRY)
                && !self.neighbor_requests.contains(&hop)
                && self.neighbor_requests.len() < 64
            {
                self.neighbor_requests.push_back(hop);
            }
            return;
        }
        if self.neighbors.should_request(hop, now, ARP_RETRY) {
            self.arp_out.push_back((
                MacAddr::BROADCAST,
                ArpRepr {
                    operation: ArpOperation::Request,
                    sender_mac: self.config.mac,
                    sender_ip: self.config.ipv4,
                    target_mac: MacAddr::ZERO,
                    target_ip: hop,
                },
            ));
        }
    }

    /// Resolves the next hop toward `dst`, queueing an ARP request if it is unknown.
    fn resolve(&mut self, now: Instant, dst: Ipv4Addr) -> Option<MacAddr> {
        let hop = self.next_hop(dst);
        if let Some(mac) = self.neighbors.lookup(hop) {
            return Some(mac);
        }
        self.revalidate_neighbor(now, dst);
        None
    }

    /// Writes the next frame to send into `buf` (at least MTU + 14 bytes) and returns its
    /// length, or `None` when nothing is due. Call until `None`.
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        let frame_room = usize::from(self.config.mtu) + ethernet::HEADER_LEN;
        if buf.len() < 60 {
            return None;
        }
        let buf_len = buf.len().min(frame_room);
        let buf = &mut buf[..buf_len];
        if let Some((dst, repr)) = self.arp_out.pop_front() {
            return Some(self.emit_arp(dst, &repr, buf));
        }
        while let Some((key, reply)) = self.resets.front().copied() {
            let Some(mac) = self.resolve(now, key.remote_ip) else {
                // Unknown neighbour: the peer will retransmit; do not hold the queue.
                self.resets.pop_front();
                if let Some((dst, repr)) = self.arp_out.pop_front() {
                    return Some(self.emit_arp(dst, &repr, buf));
                }
                continue;
            };
            self.resets.pop_front();
            let tcp_len = reply.emit(&mut buf[ETH_IP_HEADERS..]);
            self.stats.rst_sent += 1;
            return Some(self.finish_tcp_frame(mac, key.remote_ip, buf, tcp_len));
        }
        while let Some(&id) = self.tx_queue.front() {
            let Some(slot) = self.conns.get(id) else {
                self.tx_queue.pop_front();
                continue;
            };
            let remote_ip = slot.key.remote_ip;
            let mac = self.resolve(now, remote_ip);
            let slot = match self.conns.get_mut(id) {
                Some(s) => s,
                None => continue,
            };
            let written = match mac {
                Some(_) => slot.conn.poll_transmit(now, &mut buf[ETH_IP_HEADERS..]),
                None => None,
            };
            match (written, mac) {
                (Some(tcp_len), Some(mac)) => {
                    if slot.conn.has_events() && !slot.in_event_queue {
                        slot.in_event_queue = true;
                        self.event_queue.push_back(id);
                    }
                    return Some(self.finish_tcp_frame(mac, remote_ip, buf, tcp_len));
                }
                _ => {
                    slot.in_tx_queue = false;
                    self.tx_queue.pop_front();
                    if mac.is_none() {
                        self.park(now, id);
                    }
                    self.refresh(id);
                    self.maybe_free(id);
                    if let Some((dst, repr)) = self.arp_out.pop_front() {
                        return Some(self.emit_arp(dst, &repr, buf));
                    }
                }
            }
        }
        None
    }
}
