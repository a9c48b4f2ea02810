//! A stack's settings and their validation.

use std::net::Ipv4Addr;
use std::ops::RangeInclusive;
use std::sync::Arc;

use super::{Route, StackConfigError};
use crate::flow::RssSteering;
use crate::tcp;
use crate::wire::MacAddr;

/// Settings of one stack (one worker).
#[derive(Clone, Debug)]
pub struct StackConfig {
    pub mac: MacAddr,
    pub ipv4: Ipv4Addr,
    /// Further addresses of this host the stack owns as it owns `ipv4`: segments to them
    /// are its, and active opens draw on them too (so one client reaches more 4-tuples
    /// toward one server). They share `ipv4`'s link and routes.
    pub more_ipv4: Vec<Ipv4Addr>,
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
    /// Connections each listener holds established and not yet taken by the application
    /// (their `Accepted` event not yet polled): Linux's accept queue. Beyond it the ACK
    /// completing a handshake is dropped (see `accept_queue`).
    pub accept_queue: usize,
    /// Source ports for active opens.
    pub ephemeral_ports: RangeInclusive<u16>,
    /// When set, an active open takes only ephemeral ports whose replies the NIC's RSS
    /// delivers to this stack's queue, so they reach this stack and no other.
    pub reply_queue: Option<ReplyQueue>,
    /// Accept a TCP segment whose checksum field holds only the pseudo-header sum, the mark
    /// of a local kernel's unfinished checksum offload (`CHECKSUM_PARTIAL`) arriving over
    /// veth. Real NICs deliver finished checksums; leave this off for them.
    pub accept_partial_checksum: bool,
    /// Answer ARP requests for `ipv4` and resolve neighbours with ARP. Off when the host's
    /// kernel shares the address and answers ARP itself; neighbours then come from
    /// [`Stack::add_neighbor`].
    pub arp: bool,
    /// When a listener answers SYNs with SYN cookies instead of half-open connections.
    pub syn_cookies: SynCookies,
    /// About how many challenge ACKs all connections together may send a second (RFC 5961
    /// §7), drawn afresh each second (see [`tcp::ChallengeAckCeiling`]); beside each
    /// connection's own `tcp.challenge_ack_limit`.
    pub challenge_ack_ceiling: u32,
    /// Bytes of payload buffers (send and receive rings, taken from the stack's pools) the
    /// connections may hold before new ones are refused; `None`: no limit but
    /// `max_connections`. An admission limit: once reached, a SYN to a listener is dropped
    /// unanswered (`StackStats::drop_buffer_memory`) and `connect` fails with
    /// [`StackError::BufferMemoryLimit`], while the connections already open keep taking
    /// buffers as they need them, so nothing accepted is lost. They may therefore go past
    /// it, each by at most its own two rings (`tcp.send_buffer + tcp.recv_buffer`): the
    /// whole is bounded by [`Stack::buffer_memory_bound`] as without a limit.
    ///
    /// [`StackError::BufferMemoryLimit`]: super::StackError::BufferMemoryLimit
    /// [`Stack::buffer_memory_bound`]: super::Stack::buffer_memory_bound
    pub buffer_memory_limit: Option<usize>,
    pub tcp: tcp::Config,
}

/// The receive queue a stack serves, and how the NIC picks the queue of a frame.
#[derive(Clone, Debug)]
pub struct ReplyQueue {
    pub rss: Arc<RssSteering>,
    pub queue: u32,
}

/// When SYN cookies are used (RFC 4987 §3.6).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub enum SynCookies {
    /// Never: a SYN beyond the backlog is dropped.
    Off,
    /// When the listener's backlog of half-open connections is full (as Linux's
    /// `tcp_syncookies = 1`).
    #[default]
    WhenBacklogFull,
    /// For every SYN: no half-open connection is ever kept (`tcp_syncookies = 2`).
    Always,
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
        if self.accept_queue == 0 {
            return Err(StackConfigError::NoAcceptQueue);
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
            more_ipv4: Vec::new(),
            prefix_len,
            gateway: None,
            routes: Vec::new(),
            mtu: 1500,
            max_connections: 65_536,
            // Linux's net.core.somaxconn default since 5.4, the ceiling of listen()'s backlog.
            accept_queue: 4096,
            ephemeral_ports: 32_768..=60_999,
            reply_queue: None,
            arp: true,
            accept_partial_checksum: false,
            syn_cookies: SynCookies::default(),
            challenge_ack_ceiling: 1000,
            buffer_memory_limit: None,
            tcp: tcp::Config::default(),
        }
    }
}
