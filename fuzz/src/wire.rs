//! `wire_parsers`: every parser of `xdptcp::wire` on arbitrary bytes — the whole input as an
//! Ethernet frame, and each inner layer as the parser of that layer would see it — and, where
//! an emitter exists, parse → emit → parse, which must give back what was parsed.

use std::net::Ipv4Addr;

use xdptcp::tcp::reset_reply;
use xdptcp::wire::checksum::{checksum, Checksum};
use xdptcp::wire::tcp::{HEADER_LEN as TCP_HEADER_LEN, MAX_HEADER_LEN, MAX_OPTIONS_LEN};
use xdptcp::wire::{
    ethernet, icmp, ipv4, ArpPacket, ArpRepr, EthernetFrame, EthernetRepr, Icmpv4Packet,
    Ipv4Packet, Ipv4Repr, SeqNum, TcpChecksum, TcpFlags, TcpFrame, TcpOptions, TcpPacket, TcpRepr,
    UnreachableRepr,
};

/// Runs every parser on `data`.
pub fn run(data: &[u8]) {
    checksum_matches_rfc_1071(data);
    seq_numbers(data);
    ethernet_round_trip(data);
    let after_ethernet = data.get(ethernet::HEADER_LEN..).unwrap_or(&[]);
    for buf in [data, after_ethernet] {
        arp_round_trip(buf);
        if let Some(ip) = ipv4_round_trip(buf) {
            tcp_round_trip(ip.payload(), ip.src(), ip.dst());
            icmp_round_trip(ip.payload());
        }
    }
    tcp_round_trip(data, Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2));
    options_round_trip(data);
    options_round_trip(&data[..data.len().min(MAX_OPTIONS_LEN)]);
    tcp_frame(data);
    let _ = xdptcp::sim::describe_frame(data);
}

/// The vectorized sum against RFC 1071's definition, word by word (an odd byte padded).
fn checksum_matches_rfc_1071(data: &[u8]) {
    let mut sum: u32 = 0;
    for pair in data.chunks(2) {
        let word = u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]);
        sum += u32::from(word);
        sum = (sum & 0xffff) + (sum >> 16);
    }
    assert_eq!(
        checksum(data),
        !(sum as u16),
        "checksum of {} bytes",
        data.len()
    );
    // Split at an even point, the sum is the same (every slice but the last even).
    let half = (data.len() / 2) & !1;
    let split = Checksum::new()
        .add_bytes(&data[..half])
        .add_bytes(&data[half..])
        .finish();
    assert_eq!(split, checksum(data));
}

/// Sequence-number comparisons on the first eight bytes: exact for numbers within 2^31.
fn seq_numbers(data: &[u8]) {
    let word = |at: usize| {
        data.get(at..at + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    let (Some(a), Some(b)) = (word(0), word(4)) else {
        return;
    };
    let (a, b) = (SeqNum(a), SeqNum(b));
    let (hi, lo) = (a.max(b), a.min(b));
    assert!(hi == a || hi == b);
    assert!(lo == a || lo == b);
    if a.since(b) != 1 << 31 {
        // Exactly 2^31 apart each is "ahead" of the other; otherwise the order is exact.
        assert!(lo <= hi, "{lo:?} {hi:?}");
        assert_eq!(hi.since(lo), if hi == a { a.since(b) } else { b.since(a) });
    }
    assert!(!a.in_window(a, a), "an empty window holds nothing");
    assert_eq!(a.in_window(b, b + 1u32), a == b);
}

fn ethernet_round_trip(data: &[u8]) {
    let Ok(frame) = EthernetFrame::new_checked(data) else {
        assert!(data.len() < ethernet::HEADER_LEN);
        return;
    };
    let repr = EthernetRepr {
        src: frame.src(),
        dst: frame.dst(),
        ethertype: frame.ethertype(),
    };
    assert_eq!(frame.payload().len(), data.len() - ethernet::HEADER_LEN);
    let mut buf = [0u8; ethernet::HEADER_LEN];
    repr.emit(&mut buf);
    assert_eq!(
        &buf[..],
        &data[..ethernet::HEADER_LEN],
        "every header bit kept"
    );
}

/// Parses an ICMPv4 message; a destination unreachable with a whole quote, emitted again
/// from what was read, reads back the same and passes its checksum.
fn icmp_round_trip(data: &[u8]) {
    let Ok(icmp) = Icmpv4Packet::new_checked(data) else {
        assert!(data.len() < icmp::HEADER_LEN);
        return;
    };
    let _ = (icmp.msg_type(), icmp.checksum(), icmp.verify_checksum());
    let Some(reason) = icmp.unreachable() else {
        return;
    };
    let Ok(quoted) = icmp.quoted() else {
        return;
    };
    let tcp = quoted.tcp();
    let _ = (quoted.total_len(), quoted.src(), quoted.dst());
    let repr = UnreachableRepr {
        reason,
        next_hop_mtu: icmp.next_hop_mtu(),
    };
    let body = &data[icmp::HEADER_LEN..];
    let mut buf = vec![0u8; UnreachableRepr::message_len(body.len())];
    repr.emit(body, &mut buf);
    let again = Icmpv4Packet::new_checked(&buf[..]).expect("an emitted message parses");
    assert!(again.verify_checksum());
    assert_eq!(again.unreachable(), Some(reason));
    assert_eq!(again.next_hop_mtu(), repr.next_hop_mtu);
    assert_eq!(again.quoted().expect("the same quote").tcp(), tcp);
}

fn arp_round_trip(data: &[u8]) {
    let Ok(packet) = ArpPacket::new_checked(data) else {
        return;
    };
    let repr = ArpRepr::parse(&packet);
    let mut buf = [0u8; xdptcp::wire::arp::PACKET_LEN];
    repr.emit(&mut buf);
    assert_eq!(&buf[..], &data[..buf.len()], "{repr:?}");
    let again = ArpRepr::parse(&ArpPacket::new_checked(&buf[..]).expect("emitted ARP parses"));
    assert_eq!(again, repr);
}

/// Parses an IPv4 header; a packet our emitter could have written (no options, DF, no
/// DSCP) must come out byte for byte, the checksum included when it was right.
fn ipv4_round_trip(data: &[u8]) -> Option<Ipv4Packet<&[u8]>> {
    let ip = Ipv4Packet::new_checked(data).ok()?;
    let header_len = ip.header_len();
    assert!((ipv4::HEADER_LEN..=60).contains(&header_len));
    assert!(header_len <= ip.total_len() && ip.total_len() <= data.len());
    assert_eq!(ip.payload().len(), ip.total_len() - header_len);
    let _ = (
        ip.header_checksum(),
        ip.dscp_ecn(),
        ip.is_fragment(),
        ip.ident(),
    );
    let repr = Ipv4Repr {
        src: ip.src(),
        dst: ip.dst(),
        protocol: ip.protocol(),
        payload_len: (ip.total_len() - header_len) as u16,
        ttl: ip.ttl(),
        ident: ip.ident(),
    };
    // The header, then as many bytes as it says follow.
    let mut buf = vec![0u8; ipv4::HEADER_LEN + ip.payload().len()];
    repr.emit(&mut buf);
    let again = Ipv4Packet::new_checked(&buf[..]).expect("an emitted header parses");
    assert!(again.verify_checksum());
    assert!(again.dont_fragment() && !again.is_fragment());
    assert_eq!(
        (again.src(), again.dst(), again.protocol(), again.ttl()),
        (ip.src(), ip.dst(), ip.protocol(), ip.ttl())
    );
    assert_eq!(again.ident(), ip.ident());
    assert_eq!(again.payload().len(), ip.payload().len());
    assert_eq!(again.total_len(), ipv4::HEADER_LEN + ip.payload().len());
    let plain = header_len == ipv4::HEADER_LEN
        && ip.dont_fragment()
        && !ip.is_fragment()
        && ip.dscp_ecn() == 0
        && data[6] == 0x40;
    if plain {
        assert_eq!(&buf[..10], &data[..10]);
        assert_eq!(&buf[12..20], &data[12..20]);
        if ip.verify_checksum() && !matches!(ip.header_checksum(), 0 | 0xffff) {
            // 0x0000 and 0xffff both verify when the other words sum to 0xffff (one's
            // complement has two zeros); the emitter writes the computed one, 0x0000
            // (RFC 1071), whichever the frame held (fuzz/regressions/wire_parsers/).
            assert_eq!(&buf[10..12], &data[10..12]);
        }
    }
    Some(ip)
}

/// Parses a TCP segment and its options; the header emitted from the parsed value parses to
/// the same value (less the SACK blocks that no longer fit after the other options).
fn tcp_round_trip(segment: &[u8], src: Ipv4Addr, dst: Ipv4Addr) {
    let Ok(packet) = TcpPacket::new_checked(segment) else {
        return;
    };
    let header_len = packet.header_len();
    assert!((TCP_HEADER_LEN..=MAX_HEADER_LEN).contains(&header_len));
    assert_eq!(packet.options().len() + TCP_HEADER_LEN, header_len);
    assert_eq!(packet.payload().len(), segment.len() - header_len);
    let flags = packet.flags();
    assert_eq!(
        packet.segment_len(),
        packet.payload().len() + usize::from(flags.syn()) + usize::from(flags.fin())
    );
    let _ = (packet.checksum(), packet.verify_checksum(src, dst));
    let _ = packet.has_partial_checksum(src, dst);
    let Ok(repr) = TcpRepr::parse(&packet) else {
        return;
    };
    assert_eq!(repr.wire_flags(), flags);
    assert_eq!(repr.ack.is_some(), flags.ack());
    assert!(!repr.flags.ack());
    assert_eq!(
        repr.segment_len(packet.payload().len()),
        packet.segment_len()
    );
    reset_follows_rfc_9293(&repr, packet.payload().len());

    let mut buf = [0u8; MAX_HEADER_LEN];
    let written = repr.emit(&mut buf);
    assert_eq!(written, repr.header_len());
    assert!(written % 4 == 0 && written <= MAX_HEADER_LEN);
    assert_eq!(&buf[..8], &segment[..8], "ports and sequence number kept");
    if flags.ack() {
        assert_eq!(&buf[8..12], &segment[8..12], "acknowledgment number kept");
    }
    assert_eq!(buf[13], segment[13], "flags kept");
    assert_eq!(&buf[14..16], &segment[14..16], "window kept");
    assert_eq!(&buf[18..20], &segment[18..20], "urgent pointer kept");
    let again = TcpRepr::parse(&TcpPacket::new_checked(&buf[..written]).expect("emitted parses"))
        .expect("emitted options parse");
    same_but_for_sack_blocks(&again, &repr);
    let mut second = [0u8; MAX_HEADER_LEN];
    assert_eq!(again.emit(&mut second), written);
    assert_eq!(second, buf, "emitting is idempotent");
}

/// `again` is `repr` with its SACK blocks cut to a prefix.
fn same_but_for_sack_blocks(again: &TcpRepr, repr: &TcpRepr) {
    let kept = again.options.sack_blocks.as_slice();
    let all = repr.options.sack_blocks.as_slice();
    assert!(all.starts_with(kept), "{kept:?} of {all:?}");
    if kept.len() < all.len() {
        // Only room cuts blocks: one more would not fit after the other options.
        assert!(again.options.emitted_len() + 8 > MAX_OPTIONS_LEN || kept.is_empty());
    }
    let mut masked = *again;
    masked.options.sack_blocks = repr.options.sack_blocks;
    assert_eq!(masked, *repr);
}

/// RFC 9293 §3.10.7.1: no reply to a reset; `<SEQ=SEG.ACK><CTL=RST>` to a segment with an
/// ACK; `<SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>` to one without.
fn reset_follows_rfc_9293(seg: &TcpRepr, payload_len: usize) {
    let Some(rst) = reset_reply(seg, payload_len) else {
        assert!(seg.flags.rst());
        return;
    };
    assert!(!seg.flags.rst());
    assert_eq!(rst.wire_flags().without(TcpFlags::ACK), TcpFlags::RST);
    assert_eq!((rst.src_port, rst.dst_port), (seg.dst_port, seg.src_port));
    match seg.ack {
        Some(ack) => assert_eq!((rst.seq, rst.ack), (ack, None)),
        None => assert_eq!(
            (rst.seq, rst.ack),
            (
                SeqNum(0),
                Some(seg.seq + seg.segment_len(payload_len) as u32)
            )
        ),
    }
}

/// Options alone: what parses emits within 40 bytes and parses back the same (less SACK
/// blocks that do not fit).
fn options_round_trip(bytes: &[u8]) {
    let Ok(options) = TcpOptions::parse(bytes) else {
        return;
    };
    let len = options.emitted_len();
    assert!(len <= MAX_OPTIONS_LEN && len % 4 == 0);
    let mut buf = [0u8; MAX_OPTIONS_LEN];
    assert_eq!(options.emit(&mut buf), len);
    let again = TcpOptions::parse(&buf[..len]).expect("emitted options parse");
    let wrap = |options: TcpOptions| TcpRepr {
        options,
        ..TcpRepr::default()
    };
    same_but_for_sack_blocks(&wrap(again), &wrap(options));
}

/// The stack's parser: an accepted frame's views lie in it where they say.
fn tcp_frame(data: &[u8]) {
    let Ok(frame) = TcpFrame::parse(data) else {
        return;
    };
    let start = frame.payload_offset();
    let payload = frame.payload();
    assert!(start + payload.len() <= data.len());
    assert_eq!(&data[start..start + payload.len()], payload);
    assert_eq!(frame.tcp().payload(), payload);
    let checksum = frame.tcp_checksum();
    let xdptcp::wire::IpHeader::V4(ip) = frame.ip();
    assert!(ip.verify_checksum() && !ip.is_fragment());
    assert_eq!(
        checksum == TcpChecksum::Valid,
        frame.tcp().verify_checksum(ip.src(), ip.dst())
    );
}
