//! Connection settings, shared by all connections of a listener or stack.

use std::time::Duration;

/// Keepalive settings (RFC 1122 §4.2.3.6). Off unless configured.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Keepalive {
    /// Idle time before the first probe (RFC 1122: no less than two hours by default).
    pub idle: Duration,
    /// Time between unanswered probes.
    pub interval: Duration,
    /// Unanswered probes after which the connection times out.
    pub probes: u8,
}

impl Default for Keepalive {
    fn default() -> Keepalive {
        Keepalive {
            idle: Duration::from_secs(7200),
            interval: Duration::from_secs(75),
            probes: 9,
        }
    }
}

/// TCP settings. [`Config::default`] gives RFC-conforming values for a LAN server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// MSS we announce: the largest segment we can receive (MTU − 40 for IPv4 without options).
    pub mss: u16,
    /// Send buffer capacity in bytes.
    pub send_buffer: usize,
    /// Receive buffer capacity in bytes; the advertised window reflects its free space.
    pub recv_buffer: usize,
    /// Offer window scaling (RFC 7323 §2).
    pub window_scaling: bool,
    /// Offer timestamps (RFC 7323 §3): PAWS and RTT measurement of retransmitted data.
    pub timestamps: bool,
    /// Offer selective acknowledgments (RFC 2018, with D-SACK, RFC 2883).
    pub sack: bool,
    /// Disable Nagle's algorithm (RFC 896) on new connections.
    pub nodelay: bool,
    /// Longest time an ACK may be delayed (RFC 1122 §4.2.3.2: at most 500 ms). Zero disables
    /// delayed ACKs.
    pub delayed_ack: Duration,
    /// RTO before any RTT sample (RFC 6298 §2.1: 1 s).
    pub initial_rto: Duration,
    /// Lower bound of the RTO. RFC 6298 §2.4 says 1 s SHOULD; Linux and most LAN stacks use
    /// 200 ms, which is the default here.
    pub min_rto: Duration,
    /// Upper bound of the RTO (RFC 6298 §2.5: at least 60 s).
    pub max_rto: Duration,
    /// Retransmissions of our SYN before an active open fails with "timed out". RFC 1122
    /// §4.2.3.5 wants a SYN retransmitted for at least 3 minutes: the default of 7, with a
    /// 1 s initial RTO doubling up to the 60 s maximum, gives up after 183 s
    /// (1 + 2 + 4 + 8 + 16 + 32 + 60 + 60).
    pub syn_retries: u8,
    /// Retransmissions of our SYN,ACK before a half-open passive connection is dropped.
    /// Shorter than `syn_retries` (Linux's default, 5: 63 s) so that half-open state does
    /// not linger under a SYN flood (RFC 4987 §3.2).
    pub synack_retries: u8,
    /// Retransmissions of data or FIN before the connection fails with "timed out".
    pub data_retries: u8,
    /// Maximum segment lifetime; TIME-WAIT lasts 2·MSL (RFC 9293 §3.4.2).
    pub msl: Duration,
    /// How long an orphaned connection (handle released) may sit in FIN-WAIT-2.
    pub fin_wait_2_timeout: Duration,
    /// Initial congestion window in segments (RFC 6928: 10).
    pub initial_window_segments: u32,
    /// The congestion control algorithm (CUBIC by default).
    pub congestion: crate::tcp::congestion::Algorithm,
    /// Challenge ACKs allowed per connection per second (RFC 5961 §7).
    pub challenge_ack_limit: u32,
    /// Least time between two ACKs answering unacceptable segments that carry neither text
    /// nor FIN (Linux's `tcp_invalid_ratelimit`: 500 ms), so two peers that disagree about
    /// the window cannot trade ACKs at line rate.
    pub invalid_ack_interval: Duration,
    /// Longest time sent data may stay unacknowledged — or queued data unsent behind a
    /// zero window — before the connection fails with "timed out", as Linux's
    /// `TCP_USER_TIMEOUT` (RFC 9293 §3.8.3's user timeout). When set it replaces the retry
    /// counts; `None` leaves them in charge.
    pub user_timeout: Option<Duration>,
    /// Keepalive, off by default (RFC 1122 §4.2.3.6).
    pub keepalive: Option<Keepalive>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            mss: 1460,
            send_buffer: 256 * 1024,
            recv_buffer: 256 * 1024,
            window_scaling: true,
            timestamps: true,
            sack: true,
            nodelay: false,
            delayed_ack: Duration::from_millis(40),
            initial_rto: Duration::from_secs(1),
            min_rto: Duration::from_millis(200),
            max_rto: Duration::from_secs(60),
            syn_retries: 7,
            synack_retries: 5,
            data_retries: 15,
            msl: Duration::from_secs(30),
            fin_wait_2_timeout: Duration::from_secs(60),
            initial_window_segments: 10,
            congestion: crate::tcp::congestion::Algorithm::Cubic,
            challenge_ack_limit: 10,
            invalid_ack_interval: Duration::from_millis(500),
            user_timeout: None,
            keepalive: None,
        }
    }
}

/// A setting outside what the stack supports.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid TCP setting {field}: {reason}")]
pub struct ConfigError {
    pub field: &'static str,
    pub reason: &'static str,
}

impl Config {
    /// Largest buffer: the window may not exceed 2^30 bytes (RFC 7323 §2.3).
    pub const MAX_BUFFER: usize = 1 << 30;

    /// Checks every setting; the stack refuses to start with an invalid one.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let err = |field, reason| Err(ConfigError { field, reason });
        if !(88..=9000).contains(&self.mss) {
            return err("mss", "must be between 88 and 9000 bytes");
        }
        if self.send_buffer < usize::from(self.mss) || self.send_buffer > Self::MAX_BUFFER {
            return err(
                "send_buffer",
                "must hold at least one MSS and at most 1 GiB",
            );
        }
        if self.recv_buffer < usize::from(self.mss) || self.recv_buffer > Self::MAX_BUFFER {
            return err(
                "recv_buffer",
                "must hold at least one MSS and at most 1 GiB",
            );
        }
        if self.delayed_ack > Duration::from_millis(500) {
            return err("delayed_ack", "RFC 1122 allows at most 500 ms");
        }
        if self.min_rto.is_zero() || self.min_rto > self.max_rto {
            return err("min_rto", "must be positive and at most max_rto");
        }
        if self.initial_rto < self.min_rto || self.initial_rto > self.max_rto {
            return err("initial_rto", "must lie between min_rto and max_rto");
        }
        if self.syn_retries == 0 || self.synack_retries == 0 || self.data_retries == 0 {
            return err("retries", "must allow at least one retransmission");
        }
        if self.msl.is_zero() {
            return err("msl", "must be positive");
        }
        if self.initial_window_segments == 0 {
            return err("initial_window_segments", "must be at least 1");
        }
        if self.user_timeout.is_some_and(|t| t.is_zero()) {
            return err("user_timeout", "must be positive when set");
        }
        if let Some(k) = self.keepalive {
            if k.idle.is_zero() || k.interval.is_zero() || k.probes == 0 {
                return err("keepalive", "idle, interval and probes must be positive");
            }
        }
        Ok(())
    }

    /// The window of a SYN,ACK made without a connection (a SYN cookie's): the whole receive
    /// buffer, never scaled (RFC 7323 §2.2), so at most 65,535.
    pub fn syn_window(&self) -> u16 {
        self.recv_buffer.min(usize::from(u16::MAX)) as u16
    }

    /// The window scale shift we offer: the smallest that lets the whole receive buffer be
    /// advertised (RFC 7323 §2.3: at most 14).
    pub fn window_scale_shift(&self) -> u8 {
        let mut shift = 0u8;
        while shift < 14 && (self.recv_buffer >> shift) > usize::from(u16::MAX) {
            shift += 1;
        }
        shift
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid() {
        Config::default().validate().unwrap();
        assert_eq!(Config::default().window_scale_shift(), 3);
    }

    #[test]
    fn invalid_settings_are_named() {
        let bad = Config {
            delayed_ack: Duration::from_millis(600),
            ..Config::default()
        };
        assert_eq!(bad.validate().unwrap_err().field, "delayed_ack");
        let bad = Config {
            recv_buffer: 10,
            ..Config::default()
        };
        assert_eq!(bad.validate().unwrap_err().field, "recv_buffer");
        let bad = Config {
            min_rto: Duration::from_secs(120),
            ..Config::default()
        };
        assert_eq!(bad.validate().unwrap_err().field, "min_rto");
    }

    #[test]
    fn window_scale_covers_buffer() {
        for (buf, shift) in [(65535, 0), (65536, 1), (1 << 20, 5), (1 << 30, 14)] {
            let c = Config {
                recv_buffer: buf,
                ..Config::default()
            };
            assert_eq!(c.window_scale_shift(), shift, "buffer {buf}");
        }
    }
}
