//! Output a connection owes its peer, set by the input and timer steps and taken by
//! [`super::Connection::poll_transmit`].

/// One kind of segment the connection owes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(super) enum Owed {
    /// An ACK now: `<SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>`.
    Ack = 1,
    /// The first unacknowledged segment again (fast retransmit, NewReno partial ACK).
    RetransmitHead = 2,
    /// The persist timer fired: a zero-window probe, or a segment smaller than the sender's
    /// silly-window rule allows (its override timeout, RFC 1122 §4.2.3.4).
    PersistSend = 4,
    /// A keepalive probe (RFC 1122 §4.2.3.6).
    KeepaliveProbe = 8,
    /// A tail loss probe (RFC 8985 §7.3).
    LossProbe = 16,
}

/// The set of owed segments.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct PendingOutput(u8);

impl PendingOutput {
    pub fn insert(&mut self, owed: Owed) {
        self.0 |= owed as u8;
    }

    pub fn contains(self, owed: Owed) -> bool {
        self.0 & owed as u8 != 0
    }

    pub fn remove(&mut self, owed: Owed) {
        self.0 &= !(owed as u8);
    }

    /// Removes `owed` and says whether it was owed.
    pub fn take(&mut self, owed: Owed) -> bool {
        let was = self.contains(owed);
        self.remove(owed);
        was
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn clear(&mut self) {
        self.0 = 0;
    }
}
