//! Path MTU discovery (RFC 1191) on a "too big" error already matched to a segment in flight
//! (see `path_error`): the effective send MSS comes down to what the path carries, never up,
//! never below a floor, and what was sent too big goes again at once in the new size without
//! counting as congestion.

use super::{Connection, PathErrorOutcome};
use crate::wire::{ipv4, tcp};

/// The plateaus of RFC 1191 §7 (table 7-1) below 65,535, largest first: the MTUs of the
/// links of the time, where a search for an unreported MTU steps.
const MTU_PLATEAUS: [u16; 10] = [
    32_000, 17_914, 8_166, 4_352, 2_002, 1_492, 1_006, 508, 296, 68,
];

/// The smallest path MTU believed: 576 bytes, the datagram every IPv4 host must be able to
/// take (RFC 1122 §3.3.3), and with IPv4 and TCP headers the default MSS of 536 (RFC 9293
/// §3.7.1). A smaller report is raised to it (as Linux raises one to its 552-byte
/// `min_pmtu`): RFC 5927 §7 describes forged reports of tiny MTUs that would have us send
/// a few bytes per segment, and a path that carries less than 576 is one no IPv4 host need
/// serve. The floor is for IPv4; IPv6 will have its own 1280 (RFC 8200 §5).
pub const MIN_PATH_MTU: u16 = 576;

/// IPv4 and TCP headers without options: what an MTU carries besides the MSS.
const IPV4_TCP_HEADERS: u16 = (ipv4::HEADER_LEN + tcp::HEADER_LEN) as u16;

/// RFC 1191 §5: for a router that reports no MTU (the field is 0), the largest plateau
/// below the total length of the datagram it could not forward; none below 68 bytes.
fn plateau_below(quoted_len: u16) -> Option<u16> {
    MTU_PLATEAUS.into_iter().find(|&p| p < quoted_len)
}

impl Connection {
    /// RFC 1191 §§3–5 and RFC 1122 §4.2.3.9 for a datagram of `quoted_len` bytes that a link
    /// of `mtu` bytes (0: not said) could not carry. A router sends this only for a datagram
    /// larger than its next hop (§4): a report of an MTU the quoted datagram fits is not
    /// about that datagram, and is ignored, which also keeps a report from raising the path
    /// MTU (§3: only a timer may, and we never probe upward). The new MSS leaves room for
    /// the options every segment carries (timestamps, RFC 6691).
    pub(super) fn on_packet_too_big(&mut self, mtu: u16, quoted_len: u16) -> PathErrorOutcome {
        let reported = match mtu {
            0 => plateau_below(quoted_len),
            mtu => Some(mtu),
        };
        let Some(mtu) = reported.filter(|&mtu| mtu < quoted_len) else {
            return PathErrorOutcome::MtuNotLower;
        };
        let mtu = mtu.max(MIN_PATH_MTU);
        let mss = mtu - IPV4_TCP_HEADERS - self.snd.option_allowance;
        if mss >= self.snd.mss {
            return PathErrorOutcome::MtuNotLower;
        }
        self.snd.mss = mss;
        self.send_again_in_new_size();
        PathErrorOutcome::MtuLowered { mss }
    }

    /// RFC 1191 §6.4: the segments that were too big were dropped on the way and are sent
    /// again at once in the new size. The drop says nothing about congestion, so the
    /// congestion window and the slow-start threshold stay (as Linux's
    /// `tcp_simple_retransmit`), and no recovery episode starts. With SACK the records
    /// longer than the new MSS are marked lost on the scoreboard, which splits each as it
    /// sends it again (RFC 6675 NextSeg); without, sending goes back to SND.UNA and the
    /// data in flight is cut afresh (go-back-N, as after a timeout but without its
    /// backoff). Karn's rule holds for what goes again as for any retransmission.
    fn send_again_in_new_size(&mut self) {
        if self.negotiated.sack {
            let mss = u32::from(self.snd.mss);
            self.sack.board.mark_lost(|segment| segment.len() > mss);
        } else {
            self.snd.nxt = self.snd.una;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plateau_is_the_largest_below_the_datagram() {
        assert_eq!(plateau_below(1500), Some(1492));
        assert_eq!(plateau_below(1492), Some(1006));
        assert_eq!(plateau_below(9000), Some(8166));
        assert_eq!(plateau_below(65_535), Some(32_000));
        assert_eq!(plateau_below(69), Some(68));
        assert_eq!(plateau_below(68), None);
    }

    #[test]
    fn the_floor_leaves_the_rfc_9293_default_mss() {
        assert_eq!(MIN_PATH_MTU - IPV4_TCP_HEADERS, 536);
    }
}
