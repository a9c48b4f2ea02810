//! SYN cookies (RFC 4987 §3.6): when a listener's backlog of half-open connections is full,
//! its SYN,ACK carries all the listener must remember in the initial sequence number, and no
//! state is kept until the ACK that completes the handshake brings the cookie back.
//!
//! The cookie, our ISS, is 32 bits:
//!
//! | bits  | what |
//! |-------|------|
//! | 31–27 | the 64-second period it was made in, modulo 32 |
//! | 26–24 | the index of the MSS in [`MSS_TABLE`] (the largest entry not above the peer's) |
//! | 23–0  | a keyed SipHash of the 4-tuple, the peer's ISN and the period |
//!
//! It is accepted in its own period and the one before (up to 128 s after it was made). As
//! in Linux, the choices the cookie has no room for ride in the low six bits of the TSval of
//! the SYN,ACK, which the peer echoes in the TSecr of every segment: the window scale shift
//! (four bits, 15 for none) and SACK-permitted (one bit). A peer that does not offer
//! timestamps gets neither option from a cookie SYN,ACK.

use std::net::SocketAddrV4;

use std::hash::Hasher;

use super::{Config, IsnGenerator};
use crate::time::Instant;
use crate::wire::{SeqNum, TcpFlags, TcpOptions, TcpRepr};

/// The MSS values a cookie can name: the common ones (RFC 879's 536, IPv6 tunnels,
/// PPPoE, Ethernet with and without timestamps) and a jumbo frame.
pub const MSS_TABLE: [u16; 8] = [536, 1200, 1300, 1360, 1400, 1440, 1460, 8960];

/// One period of the cookie clock.
const PERIOD_NANOS: u64 = 64 * 1_000_000_000;
/// The TSval bits that carry the options.
const TS_OPTION_MASK: u32 = 0x3f;
const TS_NO_WINDOW_SCALE: u32 = 0xf;
const TS_SACK_BIT: u32 = 0x10;

/// What the SYN offered that the cookie, and the TSval beside it, remember.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct CookieOptions {
    /// The peer's MSS, rounded down to an entry of [`MSS_TABLE`].
    pub mss: u16,
    /// The peer's window scale shift, if it offered one (only with timestamps).
    pub window_scale: Option<u8>,
    /// The peer offered SACK (only with timestamps).
    pub sack_permitted: bool,
    /// The peer offered timestamps and we answered with them.
    pub timestamps: bool,
}

fn period(now: Instant) -> u64 {
    now.as_nanos() / PERIOD_NANOS
}

fn mss_index(peer_mss: u16) -> u32 {
    MSS_TABLE.iter().rposition(|&m| m <= peer_mss).unwrap_or(0) as u32
}

impl IsnGenerator {
    fn cookie_hash(
        &self,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        peer_isn: SeqNum,
        period: u64,
    ) -> u32 {
        let mut h = self.tuple_hasher(b"syncookie", local, remote);
        h.write(&peer_isn.0.to_be_bytes());
        h.write(&period.to_be_bytes());
        (h.finish() as u32) & 0x00ff_ffff
    }

    /// The cookie to send as our ISS in answer to a SYN from `remote` with ISN `peer_isn`
    /// and MSS option `peer_mss`.
    pub fn syn_cookie(
        &self,
        now: Instant,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        peer_isn: SeqNum,
        peer_mss: u16,
    ) -> SeqNum {
        let p = period(now);
        let hash = self.cookie_hash(local, remote, peer_isn, p);
        SeqNum((((p % 32) as u32) << 27) | (mss_index(peer_mss) << 24) | hash)
    }

    /// The MSS a returning `cookie` (SEG.ACK − 1 of the handshake's ACK, whose SEG.SEQ − 1
    /// is `peer_isn`) remembers, if this generator made it for this 4-tuple in the current
    /// or the previous period.
    pub fn check_syn_cookie(
        &self,
        now: Instant,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        peer_isn: SeqNum,
        cookie: SeqNum,
    ) -> Option<u16> {
        let made_in = u64::from(cookie.0 >> 27);
        let current = period(now);
        [current, current.wrapping_sub(1)]
            .into_iter()
            .filter(|p| p % 32 == made_in)
            .find(|&p| self.cookie_hash(local, remote, peer_isn, p) == cookie.0 & 0x00ff_ffff)
            .map(|_| MSS_TABLE[((cookie.0 >> 24) & 7) as usize])
    }
}

/// The TSval of a cookie SYN,ACK: `tsval` (what the connection's clock says now) with the
/// options in its low six bits, lowered rather than raised so later TSvals are not below it.
pub fn tsval_with_options(tsval: u32, window_scale: Option<u8>, sack_permitted: bool) -> u32 {
    let scale = window_scale.map_or(TS_NO_WINDOW_SCALE, |s| u32::from(s.min(14)));
    let options = scale | if sack_permitted { TS_SACK_BIT } else { 0 };
    let base = if tsval & TS_OPTION_MASK >= options {
        tsval
    } else {
        tsval.wrapping_sub(TS_OPTION_MASK + 1)
    };
    (base & !TS_OPTION_MASK) | options
}

/// The options a cookie connection agreed to, from the MSS its cookie named and the TSecr
/// (if any) of the ACK that brought it back.
pub fn options_from_echo(mss: u16, tsecr: Option<u32>) -> CookieOptions {
    match tsecr {
        Some(echo) => {
            let scale = echo & TS_NO_WINDOW_SCALE;
            CookieOptions {
                mss,
                window_scale: (scale != TS_NO_WINDOW_SCALE).then_some(scale as u8),
                sack_permitted: echo & TS_SACK_BIT != 0,
                timestamps: true,
            }
        }
        None => CookieOptions {
            mss,
            window_scale: None,
            sack_permitted: false,
            timestamps: false,
        },
    }
}

/// The SYN,ACK that answers `syn` with `cookie` as our ISS, without a connection: our MSS
/// and receive window as `config` sets them, window scaling and SACK only if the peer offered
/// them with timestamps (their choices then ride in the TSval, see [`tsval_with_options`]),
/// and timestamps from the 4-tuple's clock (`now`, its `timestamp_offset`) if both sides
/// want them.
pub fn syn_ack(
    config: &Config,
    syn: &TcpRepr,
    cookie: SeqNum,
    now: Instant,
    timestamp_offset: u32,
) -> TcpRepr {
    let tsval = super::connection::clock_value(now, timestamp_offset);
    let peer_tsval = syn
        .options
        .timestamps
        .filter(|_| config.timestamps)
        .map(|(v, _)| v);
    let mut options = TcpOptions {
        mss: Some(config.mss),
        ..TcpOptions::default()
    };
    if let Some(echo) = peer_tsval {
        let peer_scale = syn.options.window_scale.filter(|_| config.window_scaling);
        let sack = syn.options.sack_permitted && config.sack;
        options.window_scale = peer_scale.map(|_| config.window_scale_shift());
        options.sack_permitted = sack;
        options.timestamps = Some((tsval_with_options(tsval, peer_scale, sack), echo));
    }
    TcpRepr {
        src_port: syn.dst_port,
        dst_port: syn.src_port,
        seq: cookie,
        ack: Some(syn.seq + 1u32),
        flags: TcpFlags::SYN | TcpFlags::ACK,
        window: config.syn_window(),
        urgent: 0,
        options,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn addr(last: u8, port: u16) -> SocketAddrV4 {
        SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, last), port)
    }

    fn secs(s: u64) -> Instant {
        Instant::from_millis(s * 1000)
    }

    #[test]
    fn a_cookie_comes_back_with_its_mss_within_two_periods_only() {
        let g = IsnGenerator::with_key([9; 16]);
        let (l, r, isn) = (addr(1, 80), addr(2, 40000), SeqNum(123_456));
        let made = secs(1000);
        let cookie = g.syn_cookie(made, l, r, isn, 1460);
        for later in [0, 1, 63, 100, 127] {
            let at = secs(1000 / 64 * 64 + later);
            assert_eq!(
                g.check_syn_cookie(at, l, r, isn, cookie),
                Some(1460),
                "{later}"
            );
        }
        assert_eq!(
            g.check_syn_cookie(secs(1000 + 130), l, r, isn, cookie),
            None
        );
        // 32 periods later the period bits match again, but the hash does not.
        assert_eq!(
            g.check_syn_cookie(secs(1000 + 32 * 64), l, r, isn, cookie),
            None
        );
    }

    #[test]
    fn a_cookie_is_bound_to_the_tuple_the_peer_isn_and_the_key() {
        let g = IsnGenerator::with_key([9; 16]);
        let (l, r, isn, now) = (addr(1, 80), addr(2, 40000), SeqNum(77), secs(5));
        let cookie = g.syn_cookie(now, l, r, isn, 1400);
        assert_eq!(g.check_syn_cookie(now, l, r, isn, cookie), Some(1400));
        assert_eq!(
            g.check_syn_cookie(now, l, addr(2, 40001), isn, cookie),
            None
        );
        assert_eq!(
            g.check_syn_cookie(now, l, addr(3, 40000), isn, cookie),
            None
        );
        assert_eq!(g.check_syn_cookie(now, l, r, SeqNum(78), cookie), None);
        assert_eq!(g.check_syn_cookie(now, l, r, isn, cookie + 1u32), None);
        let other = IsnGenerator::with_key([8; 16]);
        assert_eq!(other.check_syn_cookie(now, l, r, isn, cookie), None);
    }

    #[test]
    fn the_mss_rounds_down_to_the_table() {
        let g = IsnGenerator::with_key([1; 16]);
        let (l, r, isn, now) = (addr(1, 80), addr(2, 1), SeqNum(0), secs(0));
        for (offered, remembered) in [
            (100, 536),
            (536, 536),
            (1459, 1440),
            (1460, 1460),
            (9000, 8960),
        ] {
            let cookie = g.syn_cookie(now, l, r, isn, offered);
            assert_eq!(g.check_syn_cookie(now, l, r, isn, cookie), Some(remembered));
        }
    }

    #[test]
    fn options_ride_in_the_tsval_and_never_raise_it() {
        for tsval in [0u32, 5, 63, 64, 1000, u32::MAX] {
            for scale in [None, Some(0), Some(7), Some(14)] {
                for sack in [false, true] {
                    let stamped = tsval_with_options(tsval, scale, sack);
                    assert!(
                        (tsval.wrapping_sub(stamped) as i32) >= 0,
                        "{tsval} {scale:?} {sack}"
                    );
                    assert!(tsval.wrapping_sub(stamped) < 128);
                    let back = options_from_echo(1460, Some(stamped));
                    assert_eq!(back.window_scale, scale);
                    assert_eq!(back.sack_permitted, sack);
                    assert!(back.timestamps);
                }
            }
        }
        let plain = options_from_echo(536, None);
        assert_eq!(
            plain,
            CookieOptions {
                mss: 536,
                window_scale: None,
                sack_permitted: false,
                timestamps: false
            }
        );
    }
}
