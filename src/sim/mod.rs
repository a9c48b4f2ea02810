//! A deterministic in-memory network of [`Stack`]s with a virtual clock.
//!
//! Nodes share one Ethernet segment; each frame is delivered to the node whose MAC it is
//! addressed to (or to every other node for broadcast) after the delay of the directed link
//! between the two, and on the way the link may drop it, duplicate it, hold it back so later
//! frames overtake it, or flip a byte in it (which a checksum must then catch). All randomness
//! comes from one seeded ChaCha8 generator, so a run replays exactly from its seed.

pub mod transfer;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::Ipv4Addr;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::stack::{Stack, StackConfig};
use crate::tcp::IsnGenerator;
use crate::time::Instant;
use crate::wire::{EthernetFrame, MacAddr};

/// Impairments of one direction of a link.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct LinkConfig {
    /// Base one-way delay.
    pub delay: Duration,
    /// Extra delay drawn uniformly from `[0, jitter]` per frame.
    pub jitter: Duration,
    /// Probability a frame is lost.
    pub loss: f64,
    /// Probability a frame is held back by `reorder_delay` (so later frames overtake it).
    pub reorder: f64,
    pub reorder_delay: Duration,
    /// Probability a frame is delivered twice.
    pub duplicate: f64,
    /// Probability one byte of a frame is changed.
    pub corrupt: f64,
}

impl LinkConfig {
    /// A perfect link with the given delay.
    pub fn ideal(delay: Duration) -> LinkConfig {
        LinkConfig {
            delay,
            jitter: Duration::ZERO,
            loss: 0.0,
            reorder: 0.0,
            reorder_delay: Duration::ZERO,
            duplicate: 0.0,
            corrupt: 0.0,
        }
    }
}

impl Default for LinkConfig {
    fn default() -> LinkConfig {
        LinkConfig::ideal(Duration::from_micros(50))
    }
}

/// What the links did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NetStats {
    pub sent: u64,
    pub delivered: u64,
    pub lost: u64,
    pub duplicated: u64,
    pub reordered: u64,
    pub corrupted: u64,
    pub bytes_delivered: u64,
}

/// Index of a node in a [`Network`].
pub type NodeId = usize;

/// Hands a frame to a node: (node, its stack, the time, the frame).
pub type Deliver<'a> = dyn FnMut(NodeId, &mut Stack, Instant, &[u8]) + 'a;

struct InFlight {
    at: Instant,
    order: u64,
    to: NodeId,
    frame: Vec<u8>,
}

impl PartialEq for InFlight {
    fn eq(&self, other: &InFlight) -> bool {
        (self.at, self.order) == (other.at, other.order)
    }
}
impl Eq for InFlight {}
impl PartialOrd for InFlight {
    fn partial_cmp(&self, other: &InFlight) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for InFlight {
    fn cmp(&self, other: &InFlight) -> std::cmp::Ordering {
        (self.at, self.order).cmp(&(other.at, other.order))
    }
}

/// The simulated network.
pub struct Network {
    now: Instant,
    rng: ChaCha8Rng,
    stacks: Vec<Stack>,
    macs: HashMap<MacAddr, NodeId>,
    default_link: LinkConfig,
    links: HashMap<(NodeId, NodeId), LinkConfig>,
    in_flight: BinaryHeap<Reverse<InFlight>>,
    order: u64,
    stats: NetStats,
    frame_buf: Vec<u8>,
    trace: bool,
}

impl Network {
    /// An empty network whose randomness comes from `seed`.
    pub fn new(seed: u64) -> Network {
        Network {
            now: Instant::ZERO,
            rng: ChaCha8Rng::seed_from_u64(seed),
            stacks: Vec::new(),
            macs: HashMap::new(),
            default_link: LinkConfig::default(),
            links: HashMap::new(),
            in_flight: BinaryHeap::new(),
            order: 0,
            stats: NetStats::default(),
            frame_buf: vec![0u8; 9216 + 14],
            trace: false,
        }
    }

    /// A stack configuration for node number `n`: MAC 02:00:00:00:00:n, IP 10.0.0.n/24.
    pub fn node_config(n: u8) -> StackConfig {
        StackConfig::new(MacAddr([2, 0, 0, 0, 0, n]), Ipv4Addr::new(10, 0, 0, n), 24)
    }

    /// Adds a node; its ISN secret and flow-table seed come from the network's generator.
    pub fn add_node(&mut self, config: StackConfig) -> Result<NodeId, crate::stack::StackError> {
        let key: [u8; 16] = self.rng.random();
        let seed: u64 = self.rng.random();
        let mac = config.mac;
        let stack = Stack::new(config, IsnGenerator::with_key(key), seed)?;
        let id = self.stacks.len();
        self.stacks.push(stack);
        self.macs.insert(mac, id);
        Ok(id)
    }

    /// Impairments for every link not configured with [`Network::set_link`].
    pub fn set_default_link(&mut self, link: LinkConfig) {
        self.default_link = link;
    }

    /// Impairments from `from` to `to` (one direction).
    pub fn set_link(&mut self, from: NodeId, to: NodeId, link: LinkConfig) {
        self.links.insert((from, to), link);
    }

    /// Prints every delivered frame (time, nodes, TCP header) to standard error.
    pub fn set_trace(&mut self, on: bool) {
        self.trace = on;
    }

    pub fn now(&self) -> Instant {
        self.now
    }

    pub fn stats(&self) -> &NetStats {
        &self.stats
    }

    pub fn stack(&mut self, node: NodeId) -> &mut Stack {
        &mut self.stacks[node]
    }

    pub fn stacks(&self) -> &[Stack] {
        &self.stacks
    }

    /// Frames still travelling.
    pub fn frames_in_flight(&self) -> usize {
        self.in_flight.len()
    }

    fn link(&self, from: NodeId, to: NodeId) -> LinkConfig {
        self.links
            .get(&(from, to))
            .copied()
            .unwrap_or(self.default_link)
    }

    /// Collects every frame the stacks want to send now and puts it on the wire.
    pub fn flush(&mut self) {
        let mut buf = std::mem::take(&mut self.frame_buf);
        for from in 0..self.stacks.len() {
            while let Some(n) = self.stacks[from].poll_transmit(self.now, &mut buf) {
                self.transmit(from, &buf[..n]);
            }
        }
        self.frame_buf = buf;
    }

    /// Puts `frame` on the wire as if `from`'s stack had sent it, delay and impairments of
    /// the link included: how a test forges what a hostile peer sends.
    pub fn inject(&mut self, from: NodeId, frame: &[u8]) {
        self.transmit(from, frame);
    }

    fn transmit(&mut self, from: NodeId, frame: &[u8]) {
        let dst = match EthernetFrame::new_checked(frame) {
            Ok(f) => f.dst(),
            Err(_) => return,
        };
        let targets: Vec<NodeId> = if dst.is_multicast() {
            (0..self.stacks.len()).filter(|&n| n != from).collect()
        } else {
            self.macs.get(&dst).copied().into_iter().collect()
        };
        for to in targets {
            self.stats.sent += 1;
            let link = self.link(from, to);
            if self.rng.random_bool(link.loss) {
                self.stats.lost += 1;
                continue;
            }
            let copies = if self.rng.random_bool(link.duplicate) {
                self.stats.duplicated += 1;
                2
            } else {
                1
            };
            for _ in 0..copies {
                let mut copy = frame.to_vec();
                if self.rng.random_bool(link.corrupt) {
                    let at = self.rng.random_range(0..copy.len());
                    copy[at] ^= self.rng.random_range(1..=255u8);
                    self.stats.corrupted += 1;
                }
                let mut delay = link.delay;
                if !link.jitter.is_zero() {
                    delay += Duration::from_nanos(
                        self.rng.random_range(0..=link.jitter.as_nanos() as u64),
                    );
                }
                if self.rng.random_bool(link.reorder) {
                    delay += link.reorder_delay;
                    self.stats.reordered += 1;
                }
                self.order += 1;
                self.in_flight.push(Reverse(InFlight {
                    at: self.now + delay,
                    order: self.order,
                    to,
                    frame: copy,
                }));
            }
        }
    }

    /// The next time anything happens: a frame arrives or a stack timer fires.
    pub fn next_event(&self) -> Option<Instant> {
        let frame = self.in_flight.peek().map(|Reverse(f)| f.at);
        let timer = self.stacks.iter().filter_map(|s| s.poll_deadline()).min();
        match (frame, timer) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Sends what is pending, advances the clock to the next event (never past `limit`) and
    /// processes everything due then. Returns false when nothing is left to happen before
    /// `limit`.
    pub fn step(&mut self, limit: Instant) -> bool {
        self.step_with(limit, &mut |_, stack, now, frame| stack.receive(now, frame))
    }

    /// Like [`Network::step`], but every frame is handed to `deliver` (node, its stack, the
    /// time, the frame) instead of straight to the stack — so a test can route a node's
    /// frames through a [`crate::runtime::HandlerHost`], as the AF_XDP worker does.
    pub fn step_with(&mut self, limit: Instant, deliver: &mut Deliver<'_>) -> bool {
        self.flush();
        let Some(next) = self.next_event() else {
            return false;
        };
        if next > limit {
            self.now = self.now.max(limit);
            return false;
        }
        self.now = self.now.max(next);
        while let Some(Reverse(f)) = self.in_flight.peek() {
            if f.at > self.now {
                break;
            }
            let Some(Reverse(f)) = self.in_flight.pop() else {
                break;
            };
            self.stats.delivered += 1;
            self.stats.bytes_delivered += f.frame.len() as u64;
            if self.trace {
                eprintln!(
                    "{:?} -> node {}: {}",
                    self.now,
                    f.to,
                    describe_frame(&f.frame)
                );
            }
            deliver(f.to, &mut self.stacks[f.to], self.now, &f.frame);
        }
        let now = self.now;
        for stack in &mut self.stacks {
            if stack.poll_deadline().is_some_and(|d| d <= now) {
                stack.handle_timeout(now);
            }
        }
        self.flush();
        true
    }

    /// Steps until `done` returns true (checked after every step) or `limit` passes. Returns
    /// whether `done` became true.
    pub fn run_until(
        &mut self,
        limit: Instant,
        mut done: impl FnMut(&mut Network) -> bool,
    ) -> bool {
        loop {
            if done(self) {
                return true;
            }
            if !self.step(limit) {
                return done(self);
            }
        }
    }
}

/// A one-line summary of a frame for traces.
pub fn describe_frame(frame: &[u8]) -> String {
    use crate::wire::{FrameError, TcpChecksum, TcpFrame, TcpRepr};
    let parsed = match TcpFrame::parse(frame) {
        Ok(parsed) => parsed,
        Err(FrameError::UnsupportedEtherType(ethertype)) => {
            return format!("{ethertype:?} {} bytes", frame.len())
        }
        Err(e) => return format!("{e}"),
    };
    let checksum = match parsed.tcp_checksum() {
        TcpChecksum::Valid => "",
        TcpChecksum::Partial => " PARTIAL CHECKSUM",
        TcpChecksum::Invalid => " BAD CHECKSUM",
    };
    match TcpRepr::parse(parsed.tcp()) {
        Ok(repr) => format!(
            "{}:{} {:?} len {}{checksum}",
            parsed.ip().src(),
            repr.src_port,
            repr,
            parsed.payload().len(),
        ),
        Err(e) => format!("TCP with {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::StackEvent;
    use std::net::SocketAddrV4;

    #[test]
    fn two_stacks_connect_over_arp_and_exchange_data() {
        let mut net = Network::new(1);
        let a = net.add_node(Network::node_config(1)).unwrap();
        let b = net.add_node(Network::node_config(2)).unwrap();
        net.stack(b).listen(80, 16).unwrap();
        let now = net.now();
        let id = net
            .stack(a)
            .connect(now, SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 80))
            .unwrap();
        let mut accepted = None;
        let limit = Instant::from_millis(100);
        assert!(net.run_until(limit, |net| {
            while let Some((conn, ev)) = net.stack(b).poll_event() {
                if let StackEvent::Accepted { listen_port: 80 } = ev {
                    accepted = Some(conn);
                }
            }
            accepted.is_some()
        }));
        assert_eq!(net.stack(a).poll_event(), Some((id, StackEvent::Connected)));
        let now = net.now();
        net.stack(a).send(id, b"hello", now).unwrap();
        let server_conn = accepted.unwrap();
        let mut got = Vec::new();
        assert!(net.run_until(limit, |net| {
            let mut buf = [0u8; 16];
            if let Ok(n) = net.stack(b).recv(server_conn, &mut buf) {
                got.extend_from_slice(&buf[..n]);
            }
            got == b"hello"
        }));
        // ARP resolved both ways; nothing was malformed.
        assert_eq!(net.stacks()[0].stats().malformed(), 0);
        assert!(net.stacks()[0].stats().rx_arp >= 1);
    }

    #[test]
    fn segments_to_a_closed_port_draw_a_reset_and_refusal() {
        let mut net = Network::new(2);
        let a = net.add_node(Network::node_config(1)).unwrap();
        let _b = net.add_node(Network::node_config(2)).unwrap();
        let id = net
            .stack(a)
            .connect(
                Instant::ZERO,
                SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 81),
            )
            .unwrap();
        let mut closed = None;
        net.run_until(Instant::from_millis(100), |net| {
            while let Some((conn, ev)) = net.stack(a).poll_event() {
                if let StackEvent::Closed { error } = ev {
                    closed = Some((conn, error));
                }
            }
            closed.is_some()
        });
        assert_eq!(
            closed,
            Some((id, Some(crate::tcp::ConnectionError::Refused)))
        );
        assert_eq!(net.stacks()[1].stats().rst_sent, 1);
        net.stack(a).release(id, Instant::from_millis(100));
        net.stack(a).poll_event();
        assert_eq!(net.stacks()[0].connection_count(), 0);
    }

    #[test]
    fn a_new_syn_reopens_a_server_connection_in_time_wait() {
        let mut net = Network::new(3);
        let a = net.add_node(Network::node_config(1)).unwrap();
        let b = net.add_node(Network::node_config(2)).unwrap();
        net.stack(b).listen(80, 4).unwrap();
        let server = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 80);
        let first = net
            .stack(a)
            .connect_from(Instant::ZERO, 40_000, server)
            .unwrap();
        // The server closes first (so it, not the client, waits in TIME-WAIT).
        let mut accepted = None;
        assert!(net.run_until(Instant::from_millis(100), |net| {
            while let Some((c, e)) = net.stack(b).poll_event() {
                if let StackEvent::Accepted { .. } = e {
                    accepted = Some(c);
                }
            }
            accepted.is_some()
        }));
        let now = net.now();
        net.stack(b).close(accepted.unwrap()).unwrap();
        net.stack(b).release(accepted.unwrap(), now);
        let mut closed = false;
        assert!(net.run_until(Instant::from_millis(200), |net| {
            while let Some((c, e)) = net.stack(a).poll_event() {
                if c == first && e == StackEvent::ReadClosed {
                    let now = net.now();
                    net.stack(a).close(first).unwrap();
                    net.stack(a).release(first, now);
                    closed = true;
                }
            }
            closed && net.stacks()[0].connection_count() == 0
        }));
        // The server's connection was freed for a compact TIME-WAIT record.
        assert_eq!(net.stacks()[1].connection_count(), 0);
        assert_eq!(
            net.stacks()[1].time_wait_records(),
            1,
            "server in TIME-WAIT"
        );
        // Reconnecting from the same port is accepted at once, not after a SYN timeout.
        let t0 = net.now();
        let second = net.stack(a).connect_from(t0, 40_000, server).unwrap();
        let mut connected = false;
        assert!(net.run_until(t0 + Duration::from_millis(100), |net| {
            while let Some((c, e)) = net.stack(a).poll_event() {
                connected |= c == second && e == StackEvent::Connected;
            }
            connected
        }));
        assert!(net.now() - t0 < Duration::from_millis(10));
    }

    #[test]
    fn traces_describe_arp_and_tcp_frames() {
        let mut stack =
            Stack::new(Network::node_config(1), IsnGenerator::with_key([1; 16]), 1).unwrap();
        let server = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 80);
        stack.connect_from(Instant::ZERO, 40_000, server).unwrap();
        let mut buf = [0u8; 1514];
        let n = stack.poll_transmit(Instant::ZERO, &mut buf).unwrap();
        assert_eq!(describe_frame(&buf[..n]), "Arp 60 bytes");
        stack.add_neighbor(*server.ip(), MacAddr([2, 0, 0, 0, 0, 2]));
        let n = stack.poll_transmit(Instant::ZERO, &mut buf).unwrap();
        let syn = describe_frame(&buf[..n]);
        assert!(
            syn.starts_with("10.0.0.1:40000 TCP 40000->80 <SEQ=") && syn.contains("<CTL=SYN>"),
            "{syn}"
        );
        assert!(syn.ends_with("len 0"), "{syn}");
        let last = n - 1;
        buf[last] ^= 1;
        assert!(describe_frame(&buf[..n]).ends_with(" BAD CHECKSUM"));
        assert_eq!(describe_frame(&buf[..20]), "frame shorter than its header");
    }

    #[test]
    fn impairments_replay_from_the_seed() {
        let run = |seed| {
            let mut net = Network::new(seed);
            net.set_default_link(LinkConfig {
                loss: 0.3,
                duplicate: 0.3,
                corrupt: 0.3,
                reorder: 0.3,
                reorder_delay: Duration::from_millis(1),
                jitter: Duration::from_micros(100),
                ..LinkConfig::default()
            });
            let a = net.add_node(Network::node_config(1)).unwrap();
            net.add_node(Network::node_config(2)).unwrap();
            let now = net.now();
            net.stack(a)
                .connect(now, SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 9))
                .unwrap();
            net.run_until(Instant::from_millis(20_000), |_| false);
            (net.stats().clone(), net.now())
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }
}
