//! The receive path: a frame is validated layer by layer (each malformed class counted in
//! [`super::StackStats`] and dropped), and a TCP segment goes to its connection, to a
//! listener, or draws the reset of RFC 9293 §3.10.7.1 for no connection. ICMP goes to
//! `icmp`.

use std::net::Ipv4Addr;

use super::{ConnId, DirectData, Flow, Stack};
use crate::flow::FlowKey;
use crate::tcp;
use crate::time::Instant;
use crate::wire::{
    ipv4, EtherType, EthernetFrame, FrameError, IpHeader, TcpChecksum, TcpFlags, TcpFrame, TcpRepr,
    WireError,
};

/// Most resets queued for segments to no connection; more are dropped and counted.
pub(super) const RESET_QUEUE_LIMIT: usize = 256;

impl Stack {
    /// Processes one received Ethernet frame.
    pub fn receive(&mut self, now: Instant, frame: &[u8]) {
        self.direct_wanted = false;
        self.receive_frame(now, frame);
    }

    /// Like [`Stack::receive`], but new in-order data for a connection the application holds
    /// (and that has no earlier event waiting) is left in `frame` for it to read in place:
    /// see [`DirectData`]. The caller must call [`Stack::finish_direct`] before the next frame.
    pub fn receive_direct(&mut self, now: Instant, frame: &[u8]) -> Option<DirectData> {
        self.direct_wanted = true;
        self.direct = None;
        self.receive_frame(now, frame);
        self.direct_wanted = false;
        let (conn, range) = self.direct.take()?;
        Some(DirectData { conn, range })
    }

    /// Buffers `unread`, the part of a [`DirectData`] the application did not consume.
    pub fn finish_direct(&mut self, conn: ConnId, unread: &[u8]) {
        if let Some(slot) = self.conns.get_mut(conn) {
            slot.conn.finish_direct(unread);
            self.after_change(conn);
        }
    }

    fn receive_frame(&mut self, now: Instant, frame: &[u8]) {
        self.stats.rx_frames += 1;
        self.idle_buffers.tick(now);
        let eth = match EthernetFrame::new_checked(frame) {
            Ok(eth) => eth,
            Err(e) => return self.stats.count_malformed(e),
        };
        let dst = eth.dst();
        if dst != self.config.mac && !dst.is_multicast() {
            self.stats.drop_not_for_us += 1;
            return;
        }
        match eth.ethertype() {
            EtherType::Arp => self.receive_arp(now, eth.payload()),
            _ => self.receive_ip(now, frame),
        }
    }

    /// A frame for IP: its layers are validated by [`TcpFrame::parse`]; then the segment
    /// must be for our address and pass the TCP checksum before it is demultiplexed. ICMP,
    /// whose IPv4 header the parse has validated, goes to [`Stack::receive_icmp`].
    fn receive_ip(&mut self, now: Instant, frame: &[u8]) {
        let parsed = match TcpFrame::parse(frame) {
            Ok(parsed) => parsed,
            Err(FrameError::UnsupportedProtocol(ipv4::PROTOCOL_ICMP)) => {
                return self.receive_icmp(frame);
            }
            Err(e) => return self.stats.count_rejected(e),
        };
        let IpHeader::V4(ip) = parsed.ip();
        if !self.addresses_acceptable(ip.src(), ip.dst()) {
            return;
        }
        match parsed.tcp_checksum() {
            TcpChecksum::Valid => {}
            TcpChecksum::Partial if self.config.accept_partial_checksum => {
                self.stats.rx_partial_checksum += 1;
            }
            TcpChecksum::Partial | TcpChecksum::Invalid => {
                return self.stats.count_malformed(WireError::BadTcpChecksum);
            }
        }
        let repr = match TcpRepr::parse(parsed.tcp()) {
            Ok(r) => r,
            Err(e) => return self.stats.count_malformed(e),
        };
        // A SYN opens a connection and a FIN ends one: no state of RFC 9293 §3.10.7 has a
        // use for both in one segment, which only scanners send. Nobody sees it.
        if repr.flags.contains(TcpFlags::SYN | TcpFlags::FIN) {
            self.stats.drop_illegal_flags += 1;
            return;
        }
        self.stats.rx_tcp_segments += 1;
        let key = FlowKey {
            local_ip: ip.dst(),
            local_port: repr.dst_port,
            remote_ip: ip.src(),
            remote_port: repr.src_port,
        };
        self.receive_tcp(now, key, &repr, parsed.payload(), parsed.payload_offset());
    }

    /// A packet must be for one of our addresses and from one a peer may have (RFC 1122
    /// §3.2.1.3); false, counted, when not.
    pub(super) fn addresses_acceptable(&mut self, src: Ipv4Addr, dst: Ipv4Addr) -> bool {
        if !self.owns_address(dst) {
            self.stats.drop_not_for_us += 1;
            return false;
        }
        if self.is_invalid_peer(src) {
            self.stats.drop_bad_source_address += 1;
            return false;
        }
        true
    }

    fn receive_tcp(
        &mut self,
        now: Instant,
        key: FlowKey,
        repr: &TcpRepr,
        payload: &[u8],
        payload_offset: usize,
    ) {
        match self.flows.get(&key) {
            Some(Flow::Connection(id)) => {
                self.segment_for_connection(now, id, key, repr, payload, payload_offset)
            }
            Some(Flow::TimeWait(tw)) => {
                if !self.segment_for_time_wait(now, tw, key, repr, payload.len()) {
                    self.segment_for_no_connection(now, key, repr, payload);
                }
            }
            None => self.segment_for_no_connection(now, key, repr, payload),
        }
    }

    /// A segment for the 4-tuple of connection `id`.
    fn segment_for_connection(
        &mut self,
        now: Instant,
        id: ConnId,
        key: FlowKey,
        repr: &TcpRepr,
        payload: &[u8],
        payload_offset: usize,
    ) {
        if self.reopens_time_wait(now, id, &key, repr) {
            self.give_up_flow(id);
            return self.receive_tcp(now, key, repr, payload, payload_offset);
        }
        if self.refuses_handshake_completion(id, repr) {
            return;
        }
        if self.conns.contains_key(id) {
            return self.deliver(now, id, repr, payload, payload_offset);
        }
        self.segment_for_no_connection(now, key, repr, payload);
    }

    /// A segment no connection or TIME-WAIT record has: for a listener, or reset.
    fn segment_for_no_connection(
        &mut self,
        now: Instant,
        key: FlowKey,
        repr: &TcpRepr,
        payload: &[u8],
    ) {
        match self.listener_index(key.local_port) {
            Some(index) => self.segment_for_listener(now, index, key, repr, payload),
            // RFC 9293 §3.10.7.1: no connection.
            None => self.queue_reset(key, repr, payload.len()),
        }
    }

    /// Hands a segment to connection `id`: in place (see [`DirectData`]) when the caller
    /// asked for that and the application holds the connection with no event waiting.
    fn deliver(
        &mut self,
        now: Instant,
        id: ConnId,
        repr: &TcpRepr,
        payload: &[u8],
        payload_offset: usize,
    ) {
        let Some(slot) = self.conns.get_mut(id) else {
            return;
        };
        let direct_ok = self.direct_wanted
            && slot.visible
            && !slot.released
            && !slot.in_event_queue
            && !slot.conn.has_events();
        if direct_ok {
            if let Some(range) = slot.conn.handle_segment_direct(now, repr, payload) {
                let start = payload_offset + range.start;
                self.direct = Some((id, start..start + range.len()));
                self.stats.rx_zero_copy_segments += 1;
            }
        } else {
            slot.conn.handle_segment(now, repr, payload);
        }
        self.after_change(id);
    }

    pub(super) fn queue_reset(&mut self, key: FlowKey, repr: &TcpRepr, payload_len: usize) {
        let Some(reply) = tcp::reset_reply(repr, payload_len) else {
            self.stats.drop_no_connection += 1;
            return;
        };
        self.queue_stateless_reply(key, reply);
    }

    /// Queues a reply no connection sends (a reset, a cookie SYN,ACK); false, counted, when
    /// the queue is full.
    pub(super) fn queue_stateless_reply(&mut self, key: FlowKey, reply: TcpRepr) -> bool {
        if self.stateless_replies.len() >= RESET_QUEUE_LIMIT {
            self.stats.drop_reset_queue_full += 1;
            return false;
        }
        self.stateless_replies.push_back((key, reply));
        true
    }
}
