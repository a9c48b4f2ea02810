//! The receive path of ICMP (RFC 792): an error about one of our TCP segments goes to the
//! connection of the 4-tuple it quotes, as a typed [`PathError`] the TCP core checks and
//! acts on (RFC 5927 §4.1, RFC 1191, RFC 1122 §4.2.3.9). Every message is counted in
//! [`super::StackStats`] under what became of it; none is answered, and none draws a reset.
//!
//! A connection that others opened to us lives on the worker whose RX queue its SYN came
//! to, and an error from a router may come to another queue (RSS hashes the router's
//! address): the hand-off between workers (`crate::runtime`) routes errors by the quoted
//! local port, which names the owner only for connections we opened; an error about a
//! passive connection that reached another worker is counted as for no connection.

use super::{Flow, Stack};
use crate::flow::FlowKey;
use crate::tcp::{PathError, PathErrorKind, UnreachableReason};
use crate::wire::{ethernet, Icmpv4Packet, Ipv4Packet, QuotedDatagram, Unreachable, WireError};

impl Stack {
    /// An IPv4 frame carrying ICMP whose IPv4 header [`crate::wire::TcpFrame::parse`] has
    /// validated (lengths, checksum, not a fragment). The message must be for our address,
    /// from one a host may have (RFC 1122 §3.2.2: no error is sent from a broadcast or
    /// multicast address), and pass its checksum (RFC 792) before anything in it is read.
    pub(super) fn receive_icmp(&mut self, frame: &[u8]) {
        let ip = match Ipv4Packet::new_checked(&frame[ethernet::HEADER_LEN..]) {
            Ok(ip) => ip,
            Err(e) => return self.stats.count_malformed(e),
        };
        if !self.addresses_acceptable(ip.src(), ip.dst()) {
            return;
        }
        let icmp = match Icmpv4Packet::new_checked(ip.payload()) {
            Ok(icmp) => icmp,
            Err(e) => return self.stats.count_malformed(e),
        };
        if !icmp.verify_checksum() {
            return self.stats.count_malformed(WireError::BadIcmpChecksum);
        }
        // Other messages (echo, redirect, time exceeded, ...) are not acted on.
        let Some(code) = icmp.unreachable() else {
            self.stats.rx_icmp += 1;
            self.stats.drop_icmp_unhandled += 1;
            return;
        };
        let quoted = match icmp.quoted() {
            Ok(quoted) => quoted,
            Err(e) => return self.stats.count_malformed(e),
        };
        self.stats.rx_icmp += 1;
        self.receive_unreachable(code, icmp.next_hop_mtu(), &quoted);
    }

    /// RFC 1122 §4.2.3.9: a destination unreachable error goes to the connection that sent
    /// the datagram it quotes — TCP from our address, found by its 4-tuple seen from our
    /// side.
    fn receive_unreachable(
        &mut self,
        code: Unreachable,
        next_hop_mtu: u16,
        quoted: &QuotedDatagram<&[u8]>,
    ) {
        let Some(tcp) = quoted.tcp().filter(|_| self.owns_address(quoted.src())) else {
            self.stats.drop_icmp_unhandled += 1;
            return;
        };
        let key = FlowKey {
            local_ip: quoted.src(),
            local_port: tcp.src_port(),
            remote_ip: quoted.dst(),
            remote_port: tcp.dst_port(),
        };
        let Some(Flow::Connection(id)) = self.flows.get(&key) else {
            self.stats.drop_icmp_no_connection += 1;
            return;
        };
        let Some(slot) = self.conns.get_mut(id) else {
            self.stats.drop_icmp_no_connection += 1;
            return;
        };
        let error = PathError {
            seq: tcp.seq(),
            kind: path_error_kind(code, next_hop_mtu, quoted.total_len()),
        };
        let outcome = slot.conn.handle_path_error(error);
        self.stats.count_path_error(outcome);
        self.after_change(id);
    }
}

/// What an ICMPv4 destination unreachable code tells TCP: "fragmentation needed" is path
/// MTU discovery's (RFC 1191); the rest name what is unreachable (RFC 792, RFC 1122
/// §3.2.2.1, RFC 1812 §5.2.7.1).
fn path_error_kind(code: Unreachable, next_hop_mtu: u16, quoted_len: u16) -> PathErrorKind {
    let reason = match code {
        Unreachable::FragmentationNeeded => {
            return PathErrorKind::PacketTooBig {
                mtu: next_hop_mtu,
                quoted_len,
            }
        }
        Unreachable::Net | Unreachable::NetUnknown | Unreachable::NetUnreachableForTos => {
            UnreachableReason::Network
        }
        Unreachable::Host
        | Unreachable::HostUnknown
        | Unreachable::HostUnreachableForTos
        | Unreachable::SourceHostIsolated => UnreachableReason::Host,
        Unreachable::Protocol => UnreachableReason::Protocol,
        Unreachable::Port => UnreachableReason::Port,
        Unreachable::NetProhibited
        | Unreachable::HostProhibited
        | Unreachable::CommunicationProhibited => UnreachableReason::Prohibited,
        Unreachable::SourceRouteFailed
        | Unreachable::HostPrecedenceViolation
        | Unreachable::PrecedenceCutoff
        | Unreachable::Unassigned(_) => UnreachableReason::Other,
    };
    PathErrorKind::Unreachable(reason)
}
