//! The seed corpus: one input per malformed class, built from frames the stacks really send
//! (so sequence numbers, timestamps and checksums are those of the established connection)
//! with one thing changed each. `tests/fuzz_corpus.rs` in the main crate writes them to
//! `fuzz/corpus/<target>/<name>` (`XDPTCP_WRITE_FUZZ_CORPUS=1 cargo test --test
//! fuzz_corpus`), checks that the committed files are what this module builds, and that each
//! `stack_frames` seed is counted under the outcome named here.
//!
//! Every frame class goes to `wire_parsers` as the bare frame and to `stack_frames` as one
//! record for the server; the TCP-semantic classes (MSS 0, window scale above 14, SYN+FIN,
//! SYN+RST, no flags, port 0, SACK blocks outside the window or wrapping) also go to
//! `connection` as scripts.

use std::net::{Ipv4Addr, SocketAddrV4};

use super::connection::{self, Script, Seg};
use super::stack::{self, CLIENT, CLIENT_IP, CLIENT_PORT, PORT, SERVER_IP, SERVER_MAC};
use xdptcp::wire::checksum::Checksum;
use xdptcp::wire::tcp::fill_checksum;
use xdptcp::wire::{
    ethernet, ipv4, EtherType, EthernetRepr, Ipv4Repr, MacAddr, SeqNum, TcpFlags, TcpOptions,
    TcpPacket, TcpRepr, Unreachable, UnreachableRepr,
};

/// One seed file.
pub struct Seed {
    pub target: &'static str,
    pub name: String,
    pub bytes: Vec<u8>,
    /// For `stack_frames`: the outcome counter of [`stack::outcomes`] the frame ends in.
    pub outcome: Option<&'static str>,
}

const IP: usize = ethernet::HEADER_LEN;

/// Every seed, in a fixed order.
pub fn all() -> Vec<Seed> {
    let mut seeds = Vec::new();
    for (name, frame, outcome) in frames() {
        let mut record = vec![0u8];
        record.extend_from_slice(&(frame.len() as u16).to_be_bytes());
        record.extend_from_slice(&frame);
        seeds.push(Seed {
            target: "wire_parsers",
            name: name.to_string(),
            bytes: frame,
            outcome: None,
        });
        seeds.push(Seed {
            target: "stack_frames",
            name: name.to_string(),
            bytes: record,
            outcome: Some(outcome),
        });
    }
    for (name, bytes) in scripts() {
        seeds.push(Seed {
            target: "connection",
            name: name.to_string(),
            bytes,
            outcome: None,
        });
    }
    seeds
}

/// Frames the client sends once the connection is established: a data segment on it, and a
/// SYN from a second port to the listener.
fn real_frames() -> (Vec<u8>, Vec<u8>) {
    let mut sim = stack::setup();
    let net = &mut sim.net;
    let now = net.now();
    let take = |net: &mut xdptcp::sim::Network| {
        let mut buf = vec![0u8; 1514];
        let n = net
            .stack(CLIENT)
            .poll_transmit(now, &mut buf)
            .expect("a frame");
        buf.truncate(n);
        buf
    };
    net.stack(CLIENT)
        .send(sim.client_conns[0], b"hello", now)
        .expect("send");
    let data = take(net);
    net.stack(CLIENT)
        .connect_from(now, CLIENT_PORT + 1, SocketAddrV4::new(SERVER_IP, PORT))
        .expect("connect");
    let syn = take(net);
    (data, syn)
}

fn ihl(frame: &[u8]) -> usize {
    usize::from(frame[IP] & 0x0f) * 4
}

fn total_len(frame: &[u8]) -> usize {
    usize::from(u16::from_be_bytes([frame[IP + 2], frame[IP + 3]]))
}

fn set_total_len(frame: &mut [u8], total: usize) {
    frame[IP + 2..IP + 4].copy_from_slice(&(total as u16).to_be_bytes());
}

/// The frame with its TCP options replaced by `options` (padded with NOPs to a word).
fn with_options(frame: &[u8], options: &[u8]) -> Vec<u8> {
    let tcp = IP + ihl(frame);
    let header_len = usize::from(frame[tcp + 12] >> 4) * 4;
    let payload = frame[tcp + header_len..IP + total_len(frame)].to_vec();
    let mut padded = options.to_vec();
    while padded.len() % 4 != 0 {
        padded.push(1);
    }
    let mut out = frame[..tcp + 20].to_vec();
    out[tcp + 12] = (((20 + padded.len()) / 4) as u8) << 4;
    out.extend_from_slice(&padded);
    out.extend_from_slice(&payload);
    let total = out.len() - IP;
    set_total_len(&mut out, total);
    mended(out)
}

/// The frame with its options parsed, changed by `change`, and emitted again.
fn with_parsed_options(frame: &[u8], change: impl FnOnce(&mut TcpOptions)) -> Vec<u8> {
    let tcp = IP + ihl(frame);
    let packet = TcpPacket::new_checked(&frame[tcp..IP + total_len(frame)]).expect("TCP");
    let mut options = TcpRepr::parse(&packet).expect("options").options;
    change(&mut options);
    let mut buf = [0u8; 40];
    let n = options.emit(&mut buf);
    with_options(frame, &buf[..n])
}

/// Both checksums recomputed.
fn mended(mut frame: Vec<u8>) -> Vec<u8> {
    stack::mend_checksums(&mut frame);
    frame
}

/// `frame` after `change`, checksums recomputed.
fn changed(frame: &[u8], change: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut f = frame.to_vec();
    change(&mut f);
    mended(f)
}

/// `frame` after `change`, checksums left as they were.
fn raw(frame: &[u8], change: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut f = frame.to_vec();
    change(&mut f);
    f
}

fn tcp_at(frame: &[u8]) -> usize {
    IP + ihl(frame)
}

fn set_flags(frame: &[u8], flags: TcpFlags) -> Vec<u8> {
    changed(frame, |f| {
        let t = tcp_at(f);
        f[t + 13] = flags.0;
    })
}

fn be32(frame: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([frame[at], frame[at + 1], frame[at + 2], frame[at + 3]])
}

/// An ARP packet from the client: `htype`, operation, target IP.
fn arp(htype: u16, operation: u16, target: Ipv4Addr) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&SERVER_MAC.0);
    f.extend_from_slice(&stack::CLIENT_MAC.0);
    f.extend_from_slice(&[0x08, 0x06]);
    f.extend_from_slice(&htype.to_be_bytes());
    f.extend_from_slice(&[0x08, 0x00, 6, 4]);
    f.extend_from_slice(&operation.to_be_bytes());
    f.extend_from_slice(&stack::CLIENT_MAC.0);
    f.extend_from_slice(&CLIENT_IP.octets());
    f.extend_from_slice(&[0; 6]);
    f.extend_from_slice(&target.octets());
    f
}

/// An ICMP destination unreachable `reason` from the client's side to the server about a
/// 1500-byte segment the server sent to the client (next-hop MTU `mtu`), quoting its IP
/// header and `quote` bytes of TCP; `change` then applies to the ICMP message before the
/// IPv4 header (not the ICMP checksum) is written around it.
fn icmp(reason: Unreachable, mtu: u16, quote: usize, change: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let ip = |src, dst, protocol, payload_len| Ipv4Repr {
        src,
        dst,
        protocol,
        payload_len,
        ttl: 64,
        ident: 1,
    };
    let mut sent = vec![0u8; ipv4::HEADER_LEN + 20];
    ip(SERVER_IP, CLIENT_IP, ipv4::PROTOCOL_TCP, 1480).emit(&mut sent);
    TcpRepr {
        src_port: PORT,
        dst_port: CLIENT_PORT,
        seq: SeqNum(1),
        ack: Some(SeqNum(1)),
        flags: TcpFlags::PSH,
        window: 1000,
        ..TcpRepr::default()
    }
    .emit(&mut sent[ipv4::HEADER_LEN..]);
    let quoted = &sent[..ipv4::HEADER_LEN + quote];
    let mut message = vec![0u8; UnreachableRepr::message_len(quoted.len())];
    UnreachableRepr {
        reason,
        next_hop_mtu: mtu,
    }
    .emit(quoted, &mut message);
    change(&mut message);
    let mut f = vec![0u8; IP + ipv4::HEADER_LEN + message.len()];
    EthernetRepr {
        src: stack::CLIENT_MAC,
        dst: SERVER_MAC,
        ethertype: EtherType::Ipv4,
    }
    .emit(&mut f);
    let len = message.len() as u16;
    ip(CLIENT_IP, SERVER_IP, ipv4::PROTOCOL_ICMP, len).emit(&mut f[IP..]);
    f[IP + ipv4::HEADER_LEN..].copy_from_slice(&message);
    f
}

/// (name, frame, outcome at the server) for every frame class.
pub fn frames() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let (data, syn) = real_frames();
    let tcp = tcp_at(&data);
    let ack_field = be32(&data, tcp + 8); // the server's SND.NXT
    let total = total_len(&data);
    let rx = "rx_tcp_segments";
    let bad_ip = "drop_bad_ip_header";
    let truncated = "drop_truncated";
    let bad_option = "drop_bad_tcp_option";
    let bad_tcp = "drop_bad_tcp_header";
    let mut v: Vec<(&'static str, Vec<u8>, &'static str)> = vec![
        ("valid_data", data.clone(), rx),
        ("valid_syn", syn.clone(), rx),
        // TCP options (RFC 9293 §3.1: a length below 2, or past the header, is malformed).
        (
            "tcp_option_length_0",
            with_options(&data, &[2, 0, 5, 0xb4]),
            bad_option,
        ),
        (
            "tcp_option_length_1",
            with_options(&data, &[8, 1, 1, 1]),
            bad_option,
        ),
        (
            "tcp_option_past_header",
            with_options(&data, &[1, 1, 8, 10]),
            bad_option,
        ),
        (
            "tcp_option_kind_without_length",
            with_options(&data, &[1, 1, 1, 3]),
            bad_option,
        ),
        (
            "tcp_option_sack_odd_length",
            with_options(&data, &[1, 1, 5, 7, 0, 0, 0, 0, 0]),
            rx,
        ),
        (
            "tcp_option_unknown_kind",
            with_options(&data, &[0xfe, 4, 0xf9, 0x89]),
            rx,
        ),
        (
            "tcp_option_end_then_garbage",
            with_options(&data, &[0, 2, 0, 0]),
            rx,
        ),
        (
            "tcp_mss_0",
            with_parsed_options(&syn, |o| o.mss = Some(0)),
            rx,
        ),
        (
            "tcp_mss_1",
            with_parsed_options(&syn, |o| o.mss = Some(1)),
            rx,
        ),
        (
            "tcp_window_scale_15",
            with_parsed_options(&syn, |o| o.window_scale = Some(15)),
            rx,
        ),
        (
            "tcp_window_scale_255",
            with_parsed_options(&syn, |o| o.window_scale = Some(255)),
            rx,
        ),
        (
            "tcp_sack_outside_window",
            with_parsed_options(&data, |o| {
                o.sack_blocks.push(
                    ack_field.wrapping_add(100_000),
                    ack_field.wrapping_add(101_000),
                );
            }),
            rx,
        ),
        (
            "tcp_sack_below_snd_una",
            with_parsed_options(&data, |o| {
                o.sack_blocks
                    .push(ack_field.wrapping_sub(5_000), ack_field.wrapping_sub(4_000));
            }),
            rx,
        ),
        (
            "tcp_sack_reversed",
            with_parsed_options(&data, |o| {
                o.sack_blocks
                    .push(ack_field.wrapping_add(10), ack_field.wrapping_sub(10));
            }),
            rx,
        ),
        (
            "tcp_sack_wrapping_half_the_space",
            with_parsed_options(&data, |o| {
                o.sack_blocks.push(
                    ack_field.wrapping_sub(10),
                    ack_field.wrapping_add(0x8000_0000),
                );
                o.sack_blocks
                    .push(ack_field.wrapping_add(0x8000_0000), ack_field);
            }),
            rx,
        ),
        // The data offset (RFC 9293 §3.1: at least 5 words, within the segment).
        (
            "tcp_data_offset_4",
            changed(&data, |f| f[tcp + 12] = 0x40),
            bad_tcp,
        ),
        (
            "tcp_data_offset_0",
            changed(&data, |f| f[tcp + 12] = 0x00),
            bad_tcp,
        ),
        (
            "tcp_data_offset_past_segment",
            changed(&data, |f| f[tcp + 12] = 0xf0),
            bad_tcp,
        ),
        // Flags.
        (
            "tcp_syn_fin",
            set_flags(&data, TcpFlags(0x13)),
            "drop_illegal_flags",
        ),
        (
            "tcp_syn_fin_to_listener",
            set_flags(&syn, TcpFlags(0x03)),
            "drop_illegal_flags",
        ),
        (
            "tcp_all_flags",
            set_flags(&data, TcpFlags(0xff)),
            "drop_illegal_flags",
        ),
        ("tcp_syn_rst", set_flags(&data, TcpFlags(0x16)), rx),
        (
            "tcp_syn_rst_to_listener",
            set_flags(&syn, TcpFlags(0x06)),
            rx,
        ),
        ("tcp_no_flags", set_flags(&data, TcpFlags(0)), rx),
        ("tcp_no_flags_to_listener", set_flags(&syn, TcpFlags(0)), rx),
        ("tcp_urg_only", set_flags(&data, TcpFlags(0x20)), rx),
        (
            "tcp_syn_with_data",
            changed(&data, |f| f[tcp + 13] = 0x02),
            rx,
        ),
        // Ports and addresses.
        (
            "tcp_source_port_0",
            changed(&syn, |f| {
                let t = tcp_at(f);
                f[t..t + 2].fill(0);
            }),
            rx,
        ),
        (
            "tcp_destination_port_0",
            changed(&syn, |f| {
                let t = tcp_at(f);
                f[t + 2..t + 4].fill(0);
            }),
            rx,
        ),
        (
            "ip_source_is_destination",
            changed(&syn, |f| f.copy_within(IP + 16..IP + 20, IP + 12)),
            "drop_bad_source_address",
        ),
        (
            "ip_land_same_address_and_port",
            changed(&syn, |f| {
                f.copy_within(IP + 16..IP + 20, IP + 12);
                let t = tcp_at(f);
                f.copy_within(t + 2..t + 4, t);
            }),
            "drop_bad_source_address",
        ),
        (
            "ip_source_broadcast",
            changed(&syn, |f| f[IP + 12..IP + 16].fill(0xff)),
            "drop_bad_source_address",
        ),
        (
            "ip_source_loopback",
            changed(&syn, |f| {
                f[IP + 12..IP + 16].copy_from_slice(&[127, 0, 0, 1])
            }),
            "drop_bad_source_address",
        ),
        (
            "ip_not_our_address",
            changed(&data, |f| f[IP + 19] = 99),
            "drop_not_for_us",
        ),
        (
            "ethernet_not_our_mac",
            raw(&data, |f| f[5] = 99),
            "drop_not_for_us",
        ),
        ("ethernet_broadcast", raw(&data, |f| f[..6].fill(0xff)), rx),
        // The IPv4 header and total length (RFC 791).
        ("ip_version_6", changed(&data, |f| f[IP] = 0x65), bad_ip),
        (
            "ip_header_length_4",
            changed(&data, |f| f[IP] = 0x44),
            bad_ip,
        ),
        (
            "ip_header_length_0",
            changed(&data, |f| f[IP] = 0x40),
            bad_ip,
        ),
        (
            "ip_header_length_past_frame",
            changed(&data, |f| f[IP] = 0x4f),
            bad_ip,
        ),
        (
            "ip_header_length_past_total_length",
            changed(&data, |f| {
                f[IP] = 0x4f;
                f.resize(IP + 64, 0);
                set_total_len(f, 40);
            }),
            bad_ip,
        ),
        (
            "ip_total_length_past_frame",
            changed(&data, |f| set_total_len(f, total + 1)),
            bad_ip,
        ),
        (
            "ip_total_length_0",
            changed(&data, |f| set_total_len(f, 0)),
            bad_ip,
        ),
        (
            "ip_total_length_19",
            changed(&data, |f| set_total_len(f, 19)),
            bad_ip,
        ),
        (
            "ip_total_length_short_of_frame_padding",
            raw(&data, |f| f.extend_from_slice(&[0; 6])),
            rx,
        ),
        (
            "ip_total_length_cuts_tcp_header",
            changed(&data, |f| set_total_len(f, 20 + 10)),
            truncated,
        ),
        (
            "ip_total_length_cuts_tcp_options",
            changed(&data, |f| set_total_len(f, 20 + 24)),
            bad_tcp,
        ),
        (
            "ip_total_length_cuts_payload",
            changed(&data, |f| set_total_len(f, total - 2)),
            rx,
        ),
        (
            "ip_total_length_cuts_payload_checksum_of_all",
            raw(&data, |f| {
                set_total_len(f, total - 2);
                f[IP + 10..IP + 12].fill(0);
                let sum = xdptcp::wire::checksum::checksum(&f[IP..IP + 20]);
                f[IP + 10..IP + 12].copy_from_slice(&sum.to_be_bytes());
            }),
            "drop_bad_tcp_checksum",
        ),
        ("ip_options_nops", ip_options(&data, &[1, 1, 1, 0]), rx),
        (
            "ip_options_router_alert",
            ip_options(&data, &[148, 4, 0, 0]),
            rx,
        ),
        (
            "ip_options_bad_length",
            ip_options(&data, &[7, 0xff, 4, 0]),
            rx,
        ),
        ("ip_options_forty_bytes", ip_options(&data, &[1; 40]), rx),
        (
            "ip_fragment_more_fragments",
            changed(&data, |f| f[IP + 6] = 0x20),
            "drop_ip_fragment",
        ),
        (
            "ip_fragment_offset",
            changed(&data, |f| f[IP + 7] = 0x01),
            "drop_ip_fragment",
        ),
        (
            "ip_fragment_last_with_df",
            changed(&data, |f| f[IP + 6..IP + 8].copy_from_slice(&[0x5f, 0xff])),
            "drop_ip_fragment",
        ),
        (
            "ip_protocol_udp",
            changed(&data, |f| f[IP + 9] = 17),
            "drop_unsupported_protocol",
        ),
        (
            "ethertype_ipv6",
            raw(&data, |f| f[12..14].copy_from_slice(&[0x86, 0xdd])),
            "drop_unsupported_ethertype",
        ),
        (
            "ethertype_vlan",
            raw(&data, |f| f[12..14].copy_from_slice(&[0x81, 0x00])),
            "drop_unsupported_ethertype",
        ),
        // Checksums.
        (
            "ip_bad_checksum",
            raw(&data, |f| f[IP + 10] ^= 0x01),
            "drop_bad_ip_checksum",
        ),
        (
            "tcp_bad_checksum",
            raw(&data, |f| f[tcp + 16] ^= 0x01),
            "drop_bad_tcp_checksum",
        ),
        (
            "tcp_checksum_zero",
            raw(&data, |f| f[tcp + 16..tcp + 18].fill(0)),
            "drop_bad_tcp_checksum",
        ),
        (
            "tcp_checksum_partial",
            partial_checksum(&data),
            "drop_bad_tcp_checksum",
        ),
        // Truncation at each layer boundary.
        ("truncated_ethernet_13", data[..13].to_vec(), truncated),
        ("truncated_ethernet_empty", Vec::new(), truncated),
        ("truncated_after_ethernet", data[..IP].to_vec(), truncated),
        ("truncated_ip_19", data[..IP + 19].to_vec(), truncated),
        ("truncated_ip_header_only", data[..IP + 20].to_vec(), bad_ip),
        (
            "truncated_tcp_19_frame_only",
            data[..tcp + 19].to_vec(),
            bad_ip,
        ),
        (
            "truncated_tcp_19_total_length_too",
            changed(&data[..tcp + 19], |f| set_total_len(f, 20 + 19)),
            truncated,
        ),
        (
            "truncated_tcp_options",
            changed(&data[..tcp + 24], |f| set_total_len(f, 44)),
            bad_tcp,
        ),
        ("truncated_payload", data[..data.len() - 1].to_vec(), bad_ip),
        // ARP (RFC 826).
        ("arp_request_for_us", arp(1, 1, SERVER_IP), "rx_arp"),
        ("arp_reply", arp(1, 2, SERVER_IP), "rx_arp"),
        (
            "arp_request_for_another",
            arp(1, 1, Ipv4Addr::new(10, 0, 0, 77)),
            "rx_arp",
        ),
        ("arp_operation_unknown", arp(1, 9, SERVER_IP), "rx_arp"),
        // ICMP (RFC 792): errors about the server's segments, taken in (and then checked
        // against the connection) or malformed.
        (
            "icmp_fragmentation_needed",
            icmp(Unreachable::FragmentationNeeded, 1280, 8, |_| {}),
            "rx_icmp",
        ),
        (
            "icmp_port_unreachable",
            icmp(Unreachable::Port, 0, 8, |_| {}),
            "rx_icmp",
        ),
        (
            "icmp_truncated_header",
            icmp(Unreachable::Port, 0, 8, |m| m.truncate(6)),
            "drop_bad_icmp",
        ),
        (
            "icmp_bad_checksum",
            icmp(Unreachable::FragmentationNeeded, 1280, 8, |m| m[7] ^= 1),
            "drop_bad_icmp_checksum",
        ),
        (
            "icmp_quote_too_short",
            icmp(Unreachable::FragmentationNeeded, 1280, 4, |_| {}),
            "drop_bad_icmp",
        ),
        ("arp_ieee802", arp(6, 1, SERVER_IP), "drop_bad_arp"),
        (
            "arp_truncated",
            arp(1, 1, SERVER_IP)[..IP + 27].to_vec(),
            truncated,
        ),
    ];
    let broadcast_sender = raw(&arp(1, 1, SERVER_IP), |f| f[IP + 8..IP + 14].fill(0xff));
    v.push(("arp_broadcast_sender", broadcast_sender, "rx_arp"));
    let to_broadcast = raw(&arp(1, 1, SERVER_IP), |f| {
        f[..6].copy_from_slice(&MacAddr::BROADCAST.0)
    });
    v.push(("arp_to_broadcast", to_broadcast, "rx_arp"));
    v
}

/// The frame with IPv4 options inserted after the fixed header (the IHL grown to match).
fn ip_options(frame: &[u8], options: &[u8]) -> Vec<u8> {
    assert_eq!(options.len() % 4, 0);
    let mut f = frame[..IP + 20].to_vec();
    f.extend_from_slice(options);
    f.extend_from_slice(&frame[IP + 20..]);
    f[IP] = 0x40 | ((20 + options.len()) / 4) as u8;
    let total = total_len(frame) + options.len();
    set_total_len(&mut f, total);
    mended(f)
}

/// The TCP checksum field holding only the pseudo-header sum (an unfinished offload).
fn partial_checksum(frame: &[u8]) -> Vec<u8> {
    let mut f = frame.to_vec();
    let tcp = tcp_at(&f);
    let end = IP + total_len(&f);
    let src = Ipv4Addr::new(f[IP + 12], f[IP + 13], f[IP + 14], f[IP + 15]);
    fill_checksum(&mut f[tcp..end], src, SERVER_IP);
    let sum = Checksum::new()
        .add_pseudo_header(src, SERVER_IP, ipv4::PROTOCOL_TCP, (end - tcp) as u16)
        .sum();
    f[tcp + 16..tcp + 18].copy_from_slice(&sum.to_be_bytes());
    f
}

/// Set-up bytes of `connection` scripts: passive or active, every option offered, 4 KiB
/// buffers, NewReno; and the same with the 300 KB receive buffer (window scale 3).
const PASSIVE: u8 = 0x0f;
const ACTIVE: u8 = 0x0e;
const PASSIVE_LARGE: u8 = 0x3f;

fn peer_syn_options(mss: u16, shift: u8) -> TcpOptions {
    TcpOptions {
        mss: Some(mss),
        window_scale: Some(shift),
        sack_permitted: true,
        timestamps: Some((1, 0)),
        ..TcpOptions::default()
    }
}

/// The peer's SYN (passive) or SYN,ACK (active) with these options.
fn open(setup: u8, options: TcpOptions) -> Script {
    let mut s = Script::new(setup, 0);
    let passive = setup & 1 != 0;
    s.segment(&Seg {
        flags: if passive {
            TcpFlags::SYN
        } else {
            TcpFlags(0x12)
        },
        bases: 1, // sequence from the peer's ISS, acknowledgment of SND.NXT
        window: 65_535,
        options,
        ..Seg::default()
    });
    s
}

/// The handshake done: the peer's ACK (passive) — the active side is done by its SYN,ACK.
fn established(setup: u8) -> Script {
    let mut s = open(setup, peer_syn_options(1_460, 7));
    if setup & 1 != 0 {
        s.segment(&ack(0));
    }
    s
}

fn ack(text: u16) -> Seg {
    Seg {
        flags: TcpFlags::ACK,
        window: 512,
        echo: true,
        text,
        ..Seg::default()
    }
}

/// (name, script) for `connection`.
pub fn scripts() -> Vec<(&'static str, Vec<u8>)> {
    let mut v = Vec::new();
    for (name, setup) in [("passive", PASSIVE), ("active", ACTIVE)] {
        let _ = name;
        let mss0 = open(setup, peer_syn_options(0, 7));
        let ws15 = open(setup, peer_syn_options(1_460, 15));
        let ws255 = open(setup, peer_syn_options(1_460, 255));
        let passive = setup & 1 != 0;
        v.push((
            if passive {
                "passive_mss_0"
            } else {
                "active_mss_0"
            },
            mss0,
        ));
        v.push((
            if passive {
                "passive_window_scale_15"
            } else {
                "active_window_scale_15"
            },
            ws15,
        ));
        v.push((
            if passive {
                "passive_window_scale_255"
            } else {
                "active_window_scale_255"
            },
            ws255,
        ));
    }
    let mut s = Script::new(PASSIVE, 0);
    s.segment(&Seg {
        flags: TcpFlags(0x03),
        bases: 1,
        options: peer_syn_options(1_460, 7),
        ..Seg::default()
    });
    v.push(("listen_syn_fin", s));
    let mut s = Script::new(PASSIVE, 0);
    s.segment(&Seg {
        flags: TcpFlags(0x06),
        bases: 1,
        ..Seg::default()
    });
    v.push(("listen_syn_rst", s));
    // A reset in SYN-RECEIVED returns a passive open to LISTEN; then another SYN.
    let mut s = open(PASSIVE, peer_syn_options(1_460, 7));
    s.segment(&Seg {
        flags: TcpFlags::RST,
        ..Seg::default()
    });
    s.segment(&Seg {
        flags: TcpFlags::SYN,
        bases: 1,
        seq_offset: 1_000,
        window: 65_535,
        options: peer_syn_options(1_460, 7),
        ..Seg::default()
    });
    s.segment(&ack(0));
    v.push(("syn_received_reset_then_syn", s));
    let mut s = Script::new(PASSIVE, 0);
    s.segment(&Seg {
        flags: TcpFlags::SYN,
        bases: 1,
        ports: Some((0, connection::LOCAL_PORT)),
        options: peer_syn_options(1_460, 7),
        ..Seg::default()
    });
    v.push(("listen_syn_from_port_0", s));

    for (name, flags) in [
        ("established_syn_fin", TcpFlags(0x13)),
        ("established_syn_rst", TcpFlags(0x16)),
        ("established_no_flags", TcpFlags(0)),
        ("established_fin", TcpFlags(0x11)),
    ] {
        let mut s = established(PASSIVE);
        s.segment(&Seg { flags, ..ack(100) });
        v.push((name, s));
    }
    let mut s = established(PASSIVE);
    s.segment(&Seg {
        ports: Some((0, 0)),
        ..ack(10)
    });
    v.push(("established_ports_0", s));

    // SACK blocks against data in flight: outside the window, below SND.UNA, reversed,
    // spanning half the sequence space.
    for (name, blocks) in [
        ("sack_outside_window", vec![(100_000u32, 1_000u16)]),
        (
            "sack_below_snd_una",
            vec![(0u32.wrapping_sub(3_000), 1_000)],
        ),
        ("sack_wrapping_zero", vec![(0u32.wrapping_sub(10), 2_000)]),
        (
            "sack_four_blocks",
            vec![(1_000, 500), (2_000, 500), (3_000, 500), (0, 100)],
        ),
    ] {
        let mut s = established(PASSIVE_LARGE);
        s.send(19_000).step(1);
        for _ in 0..3 {
            s.segment(&Seg {
                bases: 1 << 2, // acknowledge SND.UNA: a duplicate ACK
                sack_relative: blocks.clone(),
                ..ack(0)
            });
        }
        s.step(5);
        v.push((name, s));
    }
    let mut s = established(PASSIVE_LARGE);
    s.send(19_000).step(1);
    s.segment(&Seg {
        bases: 1 << 2,
        options: TcpOptions {
            sack_blocks: {
                let mut b = xdptcp::wire::SackBlocks::default();
                b.push(5_000, 1_000); // reversed
                b.push(0x7fff_ffff, 0xffff_ffff);
                b
            },
            ..TcpOptions::default()
        },
        ..ack(0)
    });
    v.push(("sack_absolute_reversed", s));

    // Data both ways: in order, out of order, a FIN, the clock to TIME-WAIT's end.
    let mut s = established(PASSIVE);
    s.segment(&Seg {
        seq_offset: 1_000,
        ..ack(500)
    });
    s.segment(&ack(1_000));
    s.recv(4_000).send(3_000).step(3).ack_all(8_000);
    s.segment(&Seg {
        flags: TcpFlags(0x11),
        ..ack(0)
    });
    s.app(connection::app::CLOSE).step(4).ack_all(8_000).step(7);
    v.push(("transfer_and_close", s));
    // A zero window: we probe, the peer keeps it shut, then opens it.
    let mut s = established(ACTIVE);
    s.send(3_000);
    s.segment(&Seg {
        window: 0,
        bases: 2 << 2,
        ..ack(0)
    });
    s.step(5).step(5).step(6).ack_all(4_000).step(5);
    v.push(("zero_window_probes", s));
    // Nothing from the peer: our retransmissions run out.
    let mut s = established(PASSIVE);
    s.send(2_000);
    for _ in 0..6 {
        s.step(7);
    }
    v.push(("retransmissions_run_out", s));
    v.into_iter().map(|(n, s)| (n, s.bytes())).collect()
}
