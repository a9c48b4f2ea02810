//! What can go wrong: a call that cannot be served now or in this state ([`Error`]), and the
//! reason a connection ended abnormally ([`ConnectionError`]).
//!
//! The two are apart as quinn-proto keeps them: `WouldBlock` means "try again after the
//! matching event" and can never be the reason a connection ended, while a connection that
//! was refused, reset or timed out reports exactly that, once, in
//! [`super::Event::Closed`] / [`super::Connection::error`], and from then on in every call.

use super::connection::UnreachableReason;
use super::State;

/// Why a connection ended abnormally (RFC 9293 §3.10: "connection refused", "connection
/// reset", and the user timeout / retransmission limit of RFC 1122 §4.2.3.5).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum ConnectionError {
    /// The peer answered our SYN with a reset.
    #[error("connection refused")]
    Refused,
    /// The peer reset the connection.
    #[error("connection reset by peer")]
    Reset,
    /// Retransmissions, zero-window probes or keepalive probes went unanswered, or the user
    /// timeout passed.
    #[error("connection timed out")]
    TimedOut,
    /// An ICMP error said the destination is unreachable: a hard error during an active
    /// open, or the soft error last received by a connection that then timed out (RFC 1122
    /// §4.2.3.9).
    #[error("destination unreachable ({0:?})")]
    Unreachable(UnreachableReason),
}

/// Why an application call on a connection failed.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum Error {
    /// No data (recv) or no buffer space (send) right now; wait for the matching event.
    #[error("operation would block")]
    WouldBlock,
    /// `send` after `close` or `shutdown_write`: our direction is finished.
    #[error("sending side already closed")]
    WriteClosed,
    /// The connection was closed or aborted locally and no longer exists.
    #[error("connection closed")]
    Closed,
    /// The connection ended abnormally; the reason.
    #[error(transparent)]
    Connection(#[from] ConnectionError),
    /// The call does not apply in this state (for example `send` on a LISTEN without a peer).
    #[error("operation not valid in state {0:?}")]
    InvalidState(State),
}
