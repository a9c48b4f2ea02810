//! The eleven states of RFC 9293 §3.3.2, and the one place a connection changes state.

use super::Connection;

/// The eleven connection states of RFC 9293 §3.3.2.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum State {
    Closed,
    Listen,
    SynSent,
    SynReceived,
    Established,
    FinWait1,
    FinWait2,
    CloseWait,
    Closing,
    LastAck,
    TimeWait,
}

impl State {
    /// True once the handshake completed (RFC 9293 "synchronized states"), or SYN-RECEIVED.
    pub fn is_synchronized(self) -> bool {
        !matches!(self, State::Closed | State::Listen | State::SynSent)
    }

    /// States in which our data (and FIN) may be sent: the handshake is done and our FIN was
    /// not yet acknowledged.
    pub(super) fn may_send_data(self) -> bool {
        matches!(
            self,
            State::Established
                | State::CloseWait
                | State::FinWait1
                | State::Closing
                | State::LastAck
        )
    }
}

impl Connection {
    /// Every state change goes through here, logged at `trace` level (`xdptcp sim --trace`).
    pub(super) fn set_state(&mut self, to: State) {
        if self.state != to {
            log::trace!(
                "tcp {}->{}: {:?} => {:?}",
                self.local_port,
                self.remote_port,
                self.state,
                to
            );
            self.state = to;
        }
    }
}
