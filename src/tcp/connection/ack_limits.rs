//! Rate limits on the ACKs a connection sends in answer to segments it rejects, so that a
//! blind attacker cannot make it talk at will and two confused peers cannot trade ACKs
//! forever.

use std::time::Duration;

use crate::time::Instant;

/// Per-connection budgets for challenge ACKs (RFC 5961 §7) and for ACKs answering
/// unacceptable zero-length segments.
#[derive(Clone, Debug, Default)]
pub(super) struct AckRateLimits {
    challenge_window_start: Instant,
    challenges_in_window: u32,
    /// An unacceptable zero-length segment was answered, last at `last_out_of_window_ack`
    /// (a flag beside the count rather than an `Option`, 8 bytes less per connection).
    out_of_window_answered: bool,
    last_out_of_window_ack: Instant,
}

impl AckRateLimits {
    /// RFC 5961 §7: at most `limit` challenge ACKs per second.
    pub fn allow_challenge(&mut self, now: Instant, limit: u32) -> bool {
        if now.saturating_duration_since(self.challenge_window_start) >= Duration::from_secs(1) {
            self.challenge_window_start = now;
            self.challenges_in_window = 0;
        }
        if self.challenges_in_window < limit {
            self.challenges_in_window += 1;
            return true;
        }
        false
    }

    /// At most one ACK per `interval` in answer to unacceptable segments that carry neither
    /// text nor FIN (pure ACKs, keepalives, zero-window probes of the SND.UNA-1 kind): each
    /// such answer may draw another from a peer that disagrees about the window, and the two
    /// ends would trade ACKs at line rate. Linux keeps the same rule per socket
    /// (`tcp_invalid_ratelimit`, 500 ms). Unacceptable segments with text or FIN are always
    /// answered: their sender retransmits because our ACK was lost.
    pub fn allow_out_of_window_ack(&mut self, now: Instant, interval: Duration) -> bool {
        if self.out_of_window_answered
            && now.saturating_duration_since(self.last_out_of_window_ack) < interval
        {
            return false;
        }
        self.out_of_window_answered = true;
        self.last_out_of_window_ack = now;
        true
    }
}
