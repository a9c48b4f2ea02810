//! ICMP errors about our segments (RFC 1122 §4.2.3.9, RFC 5461, RFC 5927): the stack reads
//! the message and the quoted header, finds the connection of the quoted 4-tuple and hands
//! it a [`PathError`]. Here the error is checked against what the connection has in flight
//! and then acted on: "too big" lowers the path MTU (`path_mtu`), an unreachable code is a
//! soft error, or a hard one that ends an active open. Nothing here sends a reset: an ICMP
//! message is not a segment of the peer's, and anyone on the path can forge one.

use super::{Connection, ConnectionError, State};
use crate::wire::SeqNum;

/// Why a destination is unreachable, without the IP version's codes (ICMPv4 destination
/// unreachable now; ICMPv6's of RFC 4443 §3.1 map to the same reasons).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum UnreachableReason {
    Network,
    Host,
    Protocol,
    Port,
    /// Administratively prohibited (a filter on the path).
    Prohibited,
    /// Any other code (source route failed, unknown network or host, ...).
    Other,
}

impl UnreachableReason {
    /// RFC 1122 §4.2.3.9: protocol and port unreachable are hard errors (the host itself
    /// answers that nothing takes the segment); the others are soft (the path may heal).
    pub fn is_hard(self) -> bool {
        matches!(self, UnreachableReason::Protocol | UnreachableReason::Port)
    }
}

/// What the ICMP error says.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum PathErrorKind {
    /// The segment was too big for a link with Don't Fragment set: ICMPv4 "fragmentation
    /// needed" (RFC 1191), ICMPv6 Packet Too Big (RFC 8201). `mtu` is the next hop's, 0 from
    /// a router that does not say (RFC 1191 §5); `quoted_len` the total length of the
    /// quoted datagram as we sent it.
    PacketTooBig {
        mtu: u16,
        quoted_len: u16,
    },
    Unreachable(UnreachableReason),
}

/// An ICMP error about a segment of this connection: the quoted segment's sequence number
/// and what the error says.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct PathError {
    pub seq: SeqNum,
    pub kind: PathErrorKind,
}

/// What the connection did with a [`PathError`] (the stack counts each).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum PathErrorOutcome {
    /// The quoted sequence number is not in flight (RFC 5927 §4.1): dropped.
    OutOfWindow,
    /// The send MSS came down to `mss`; what was in flight goes again in the new size.
    MtuLowered { mss: u16 },
    /// The MTU reported would not lower ours, or the datagram quoted would have fit it.
    MtuNotLower,
    /// Kept as a soft error, reported if the connection later times out.
    SoftError,
    /// A hard error ended the active open.
    OpenAborted,
}

impl Connection {
    /// RFC 5927 §4.1: an ICMP error is acted on only if the sequence number it quotes is
    /// one we sent and the peer has not acknowledged, SND.UNA ≤ SEG.SEQ < SND.NXT (where
    /// SND.NXT is the highest ever sent: a timeout rewinds ours, the segments before it are
    /// still in the network). A blind forger must guess that window; an error about a
    /// segment long acknowledged says nothing about the path now.
    pub fn handle_path_error(&mut self, error: PathError) -> PathErrorOutcome {
        let in_flight = self.snd.una <= error.seq && error.seq < self.snd.max;
        if !in_flight {
            return PathErrorOutcome::OutOfWindow;
        }
        match error.kind {
            PathErrorKind::PacketTooBig { mtu, quoted_len } => {
                self.on_packet_too_big(mtu, quoted_len)
            }
            PathErrorKind::Unreachable(reason) => self.on_unreachable(reason),
        }
    }

    /// RFC 1122 §4.2.3.9 and RFC 5461 §4: an unreachable error never aborts a synchronized
    /// connection (RFC 5461 recommends treating even hard errors as soft there: they are
    /// easily forged and often transient); it is kept, until new data is acknowledged, and
    /// reported should the connection time out. In SYN-SENT a hard error ends the open at once, as RFC 1122 says it should
    /// ("SHOULD abort") and RFC 5461 §4 leaves in place for connection establishment: no
    /// data is at stake, and the forger had to guess our ISS (the only sequence number
    /// in flight). The open ends without a reset (there is nothing to reset).
    fn on_unreachable(&mut self, reason: UnreachableReason) -> PathErrorOutcome {
        if self.state == State::SynSent && reason.is_hard() {
            self.enter_closed(Some(ConnectionError::Unreachable(reason)));
            return PathErrorOutcome::OpenAborted;
        }
        self.app.soft_error = Some(reason);
        PathErrorOutcome::SoftError
    }

    /// Why a connection that waited too long for its peer ended: the soft error last
    /// received, if any (RFC 1122 §4.2.3.9: the application should learn of it), else the
    /// timeout itself.
    pub(super) fn timed_out_error(&self) -> ConnectionError {
        match self.app.soft_error {
            Some(reason) => ConnectionError::Unreachable(reason),
            None => ConnectionError::TimedOut,
        }
    }

    /// The soft error last received for this connection (see [`Connection::handle_path_error`]).
    pub fn soft_error(&self) -> Option<UnreachableReason> {
        self.app.soft_error
    }
}
