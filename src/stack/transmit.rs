//! The transmit path: frames are built in place in the caller's buffer (for AF_XDP: a UMEM
//! frame) — ARP first, then resets for segments to no connection, then connection segments
//! in the order the connections became ready.

use std::net::Ipv4Addr;

use super::Stack;
use crate::time::Instant;
use crate::wire::{
    arp, ethernet, ipv4, tcp as tcpw, ArpRepr, EtherType, EthernetRepr, Ipv4Repr, MacAddr,
};

/// The TTL of every IPv4 datagram we send (RFC 1700's default, as Linux's).
pub const IP_TTL: u8 = 64;

/// Where the TCP segment starts in an outgoing frame.
const ETH_IP_HEADERS: usize = ethernet::HEADER_LEN + ipv4::HEADER_LEN;
/// The Ethernet minimum frame length without FCS; shorter frames are padded.
const MIN_FRAME: usize = 60;

impl Stack {
    /// Writes the next frame to send into `buf` (at least MTU + 14 bytes) and returns its
    /// length, or `None` when nothing is due. Call until `None`.
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        let frame_room = usize::from(self.config.mtu) + ethernet::HEADER_LEN;
        if buf.len() < MIN_FRAME {
            return None;
        }
        let buf_len = buf.len().min(frame_room);
        let buf = &mut buf[..buf_len];
        self.poll_arp(buf)
            .or_else(|| self.poll_reset(now, buf))
            .or_else(|| self.poll_connection(now, buf))
    }

    /// The next queued ARP request or reply.
    fn poll_arp(&mut self, buf: &mut [u8]) -> Option<usize> {
        let (dst, repr) = self.arp_out.pop_front()?;
        Some(self.emit_arp(dst, &repr, buf))
    }

    /// The next queued reset. One toward an unknown neighbour is dropped rather than held
    /// (the peer will retransmit), and the ARP request for it goes out instead.
    fn poll_reset(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        while let Some((key, reply)) = self.stateless_replies.pop_front() {
            let Some(mac) = self.resolve(now, key.remote_ip) else {
                if let Some(len) = self.poll_arp(buf) {
                    return Some(len);
                }
                continue;
            };
            let tcp_len = reply.emit(&mut buf[ETH_IP_HEADERS..]);
            if reply.flags.rst() {
                self.stats.rst_sent += 1;
            }
            return Some(self.finish_tcp_frame(mac, key.local_ip, key.remote_ip, buf, tcp_len));
        }
        None
    }

    /// The next segment of the first connection in the transmit queue that has one. A
    /// connection with nothing more to send leaves the queue (and is parked if its next hop
    /// is unknown, or freed if nobody needs it any more).
    fn poll_connection(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        while let Some(&id) = self.tx_queue.front() {
            let Some(slot) = self.conns.get(id) else {
                self.tx_queue.pop_front();
                continue;
            };
            let (local_ip, remote_ip) = (slot.key.local_ip, slot.key.remote_ip);
            let mac = self.resolve(now, remote_ip);
            let Some(slot) = self.conns.get_mut(id) else {
                continue;
            };
            let written = mac.and_then(|mac| {
                let tcp_len = slot.conn.poll_transmit(now, &mut buf[ETH_IP_HEADERS..])?;
                Some((mac, tcp_len))
            });
            if let Some((mac, tcp_len)) = written {
                if slot.conn.has_events() && !slot.in_event_queue {
                    slot.in_event_queue = true;
                    self.event_queue.push_back(id);
                }
                return Some(self.finish_tcp_frame(mac, local_ip, remote_ip, buf, tcp_len));
            }
            slot.in_tx_queue = false;
            self.tx_queue.pop_front();
            if mac.is_none() {
                self.park(now, id);
            }
            self.refresh(id);
            self.maybe_free(id);
            if let Some(len) = self.poll_arp(buf) {
                return Some(len);
            }
        }
        None
    }

    fn next_ident(&mut self) -> u16 {
        self.ip_ident = self.ip_ident.wrapping_add(1);
        self.ip_ident
    }

    fn emit_arp(&mut self, dst: MacAddr, repr: &ArpRepr, buf: &mut [u8]) -> usize {
        EthernetRepr {
            src: self.config.mac,
            dst,
            ethertype: EtherType::Arp,
        }
        .emit(buf);
        repr.emit(&mut buf[ethernet::HEADER_LEN..]);
        self.stats.tx_arp += 1;
        self.stats.tx_frames += 1;
        // Pad to the Ethernet minimum of 60 bytes (without FCS).
        let len = ethernet::HEADER_LEN + arp::PACKET_LEN;
        buf[len..MIN_FRAME].fill(0);
        MIN_FRAME
    }

    /// Writes Ethernet and IPv4 headers (from our `src_ip`) in front of a TCP segment of
    /// `tcp_len` bytes already at `buf[ETH_IP_HEADERS..]`, fills the TCP checksum, and
    /// returns the frame length.
    fn finish_tcp_frame(
        &mut self,
        dst_mac: MacAddr,
        src_ip: Ipv4Addr,
        dst_ip: Ipv4Addr,
        buf: &mut [u8],
        tcp_len: usize,
    ) -> usize {
        EthernetRepr {
            src: self.config.mac,
            dst: dst_mac,
            ethertype: EtherType::Ipv4,
        }
        .emit(buf);
        let ident = self.next_ident();
        Ipv4Repr {
            src: src_ip,
            dst: dst_ip,
            protocol: ipv4::PROTOCOL_TCP,
            payload_len: tcp_len as u16,
            ttl: IP_TTL,
            ident,
        }
        .emit(&mut buf[ethernet::HEADER_LEN..]);
        tcpw::fill_checksum(
            &mut buf[ETH_IP_HEADERS..ETH_IP_HEADERS + tcp_len],
            src_ip,
            dst_ip,
        );
        self.stats.tx_frames += 1;
        self.stats.tx_tcp_segments += 1;
        let len = ETH_IP_HEADERS + tcp_len;
        if len < MIN_FRAME {
            buf[len..MIN_FRAME].fill(0);
            return MIN_FRAME;
        }
        len
    }
}
