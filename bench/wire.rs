//! Wire-format costs: parsing a TCP/IPv4 frame and the Internet checksum of 1,500 bytes.
//!
//! `cargo bench --bench wire`

use std::hint::black_box;
use std::net::Ipv4Addr;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use xdptcp::wire::checksum::checksum;
use xdptcp::wire::{
    tcp::fill_checksum, EtherType, EthernetFrame, EthernetRepr, Ipv4Packet, Ipv4Repr, MacAddr,
    SeqNum, TcpFlags, TcpOptions, TcpPacket, TcpRepr,
};

const SRC: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const DST: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

/// A full-sized data frame with timestamps, as a Linux sender would produce.
fn data_frame() -> Vec<u8> {
    let tcp = TcpRepr {
        src_port: 40000,
        dst_port: 80,
        seq: SeqNum(123_456),
        ack: Some(SeqNum(654_321)),
        flags: TcpFlags::PSH,
        window: 512,
        urgent: 0,
        options: TcpOptions {
            timestamps: Some((1, 2)),
            ..TcpOptions::default()
        },
    };
    let payload = vec![0xa5u8; 1448];
    let tcp_len = tcp.header_len() + payload.len();
    let mut frame = vec![0u8; 14 + 20 + tcp_len];
    EthernetRepr {
        src: MacAddr([2, 0, 0, 0, 0, 1]),
        dst: MacAddr([2, 0, 0, 0, 0, 2]),
        ethertype: EtherType::Ipv4,
    }
    .emit(&mut frame);
    Ipv4Repr {
        src: SRC,
        dst: DST,
        protocol: 6,
        payload_len: tcp_len as u16,
        ttl: 64,
        ident: 1,
    }
    .emit(&mut frame[14..]);
    let h = tcp.emit(&mut frame[34..]);
    frame[34 + h..].copy_from_slice(&payload);
    fill_checksum(&mut frame[34..], SRC, DST);
    frame
}

/// Everything the receive path does to a frame before the connection sees it: Ethernet,
/// IPv4 (with header checksum), TCP header and options, and the TCP checksum.
fn parse(frame: &[u8]) -> Option<(TcpRepr, usize)> {
    let eth = EthernetFrame::new_checked(frame).ok()?;
    let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
    if !ip.verify_checksum() || ip.is_fragment() {
        return None;
    }
    let tcp = TcpPacket::new_checked(ip.payload()).ok()?;
    if !tcp.verify_checksum(ip.src(), ip.dst()) {
        return None;
    }
    let repr = TcpRepr::parse(&tcp).ok()?;
    Some((repr, tcp.payload().len()))
}

fn bench_wire(c: &mut Criterion) {
    let frame = data_frame();
    assert!(parse(&frame).is_some());
    let mut g = c.benchmark_group("wire");
    g.throughput(Throughput::Elements(1));
    g.bench_function("parse_tcp_ipv4_frame_1514B_with_checksums", |b| {
        b.iter(|| parse(black_box(&frame)))
    });
    g.bench_function("parse_tcp_ipv4_headers_only", |b| {
        b.iter(|| {
            let eth = EthernetFrame::new_checked(black_box(&frame[..])).ok()?;
            let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
            let tcp = TcpPacket::new_checked(ip.payload()).ok()?;
            TcpRepr::parse(&tcp).ok()
        })
    });
    let data = vec![0x5au8; 1500];
    g.throughput(Throughput::Bytes(1500));
    g.bench_function("checksum_1500B", |b| b.iter(|| checksum(black_box(&data))));
    g.finish();
}

criterion_group!(benches, bench_wire);
criterion_main!(benches);
