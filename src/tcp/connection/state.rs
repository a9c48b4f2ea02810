//! The eleven states of RFC 9293 §3.3.2, and the one place a connection changes state.

use super::Connection;

/// The eleven connection states of RFC 9293 §3.3.2.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(into = "&'static str", try_from = "String")]
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
    /// Every state, in the order of RFC 9293 §3.3.2.
    pub const ALL: [State; 11] = [
        State::Listen,
        State::SynSent,
        State::SynReceived,
        State::Established,
        State::FinWait1,
        State::FinWait2,
        State::CloseWait,
        State::Closing,
        State::LastAck,
        State::TimeWait,
        State::Closed,
    ];

    /// The state's name as `ss(8)` filters take it (`ss state fin-wait-1`): the RFC's name in
    /// lower case with hyphens, SYN-RECEIVED shortened to `syn-recv` as ss does.
    pub fn name(self) -> &'static str {
        match self {
            State::Closed => "closed",
            State::Listen => "listen",
            State::SynSent => "syn-sent",
            State::SynReceived => "syn-recv",
            State::Established => "established",
            State::FinWait1 => "fin-wait-1",
            State::FinWait2 => "fin-wait-2",
            State::CloseWait => "close-wait",
            State::Closing => "closing",
            State::LastAck => "last-ack",
            State::TimeWait => "time-wait",
        }
    }

    /// The index of the state in [`State::ALL`].
    pub fn index(self) -> usize {
        match self {
            State::Listen => 0,
            State::SynSent => 1,
            State::SynReceived => 2,
            State::Established => 3,
            State::FinWait1 => 4,
            State::FinWait2 => 5,
            State::CloseWait => 6,
            State::Closing => 7,
            State::LastAck => 8,
            State::TimeWait => 9,
            State::Closed => 10,
        }
    }

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

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A state name that is none of [`State::name`]'s.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown TCP state {0:?} (listen, syn-sent, syn-recv, established, fin-wait-1, fin-wait-2, close-wait, closing, last-ack, time-wait, closed)")]
pub struct UnknownState(pub String);

impl std::str::FromStr for State {
    type Err = UnknownState;
    /// A state by its [`State::name`], case ignored; `syn-received` and `estab` (ss's
    /// column) are taken too.
    fn from_str(name: &str) -> Result<State, UnknownState> {
        let lower = name.to_ascii_lowercase();
        let wanted = match lower.as_str() {
            "syn-received" => "syn-recv",
            "estab" => "established",
            other => other,
        };
        State::ALL
            .into_iter()
            .find(|s| s.name() == wanted)
            .ok_or_else(|| UnknownState(name.to_string()))
    }
}

impl From<State> for &'static str {
    fn from(state: State) -> &'static str {
        state.name()
    }
}

impl TryFrom<String> for State {
    type Error = UnknownState;
    fn try_from(name: String) -> Result<State, UnknownState> {
        name.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::State;

    #[test]
    fn every_state_is_parsed_back_from_its_name_and_indexed_in_order() {
        for (i, state) in State::ALL.into_iter().enumerate() {
            assert_eq!(state.name().parse(), Ok(state));
            assert_eq!(state.name().to_uppercase().parse(), Ok(state));
            assert_eq!(state.index(), i);
        }
        assert_eq!("estab".parse(), Ok(State::Established));
        assert_eq!(
            "establish".parse::<State>().unwrap_err().to_string(),
            "unknown TCP state \"establish\" (listen, syn-sent, syn-recv, established, \
             fin-wait-1, fin-wait-2, close-wait, closing, last-ack, time-wait, closed)"
        );
    }
}
