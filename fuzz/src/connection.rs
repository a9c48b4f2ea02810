//! `connection`: one `tcp::Connection`, opened actively or passively as the first byte says,
//! fed a script of segments, clock steps and application calls decoded from the rest, with
//! its invariants checked after every step and on every segment it sends.
//!
//! Script (see [`Script`], which the seeds are written with):
//!
//! - byte 0, set-up: bit 0 passive open, bits 1–3 offer timestamps / SACK / window
//!   scaling, bits 4–5 the buffer sizes ([`BUFFERS`]), bit 6 no Nagle, bit 7 CUBIC (else
//!   NewReno);
//! - byte 1: bit 0 no delayed ACKs, bit 1 keepalive, bit 2 a user timeout;
//! - then operations until the input ends, each an opcode byte ([`op`]) and its operands:
//!   a segment from the peer (flags; the sequence and acknowledgment numbers as offsets
//!   from a base the connection's state gives, or absolute; window; options; ports;
//!   payload length), a clock step (every deadline on the way fires), an application call,
//!   an early timeout, or "the peer acknowledges everything".
//!
//! Segment text is a function of its sequence number ([`peer_byte`]) and the application's
//! sends of their stream offset ([`app_byte`]), so whatever the reordering and overlap, what
//! the application reads and what the connection sends can be checked byte for byte.

use std::sync::Arc;
use std::time::Duration;

use super::input::{Input, Output};
use xdptcp::tcp::{Config, Connection, Event, SeqNum, State};
use xdptcp::wire::tcp::MAX_HEADER_LEN;
use xdptcp::wire::{TcpFlags, TcpOptions, TcpPacket, TcpRepr};
use xdptcp::Instant;

pub const LOCAL_PORT: u16 = 80;
pub const REMOTE_PORT: u16 = 40_000;
/// Our ISS and the peer's usual ISN: near the wrap, so sequence arithmetic crosses it.
pub const ISS: u32 = 0xffff_f000;
pub const PEER_ISS: u32 = 0x7fff_ff00;
/// The connection's timestamp offset: every TSval it sends is its millisecond clock plus
/// this (RFC 7323 §7.1: the values must not reveal the host's uptime).
pub const TIMESTAMP_OFFSET: u32 = 0x1234_5678;
/// (send buffer, receive buffer), by bits 4–5 of the set-up byte; the largest needs window
/// scale shift 3.
pub const BUFFERS: [(usize, usize); 4] = [
    (4_096, 4_096),
    (1_000, 1_000),
    (60_000, 60_000),
    (70_000, 300_000),
];
const MSS: u16 = 1_000;
/// Clock steps, by operand.
const STEPS_MS: [u64; 8] = [0, 1, 10, 40, 200, 1_000, 10_000, 120_000];
/// Most operations one input runs, and most segments one operation may send: more is a
/// runaway.
const MAX_OPS: usize = 2_000;
const MAX_SEGMENTS_PER_STEP: usize = 5_000;
/// Most timer firings one clock step may take.
const MAX_TIMEOUTS_PER_STEP: usize = 10_000;

/// Opcodes (the opcode byte modulo 8).
pub mod op {
    pub const SEGMENT: u8 = 0;
    pub const SEGMENT_WITH_TEXT: u8 = 1;
    pub const ACK_ALL: u8 = 2;
    pub const STEP: u8 = 3;
    pub const APP: u8 = 4;
    pub const EARLY_TIMEOUT: u8 = 5;
    pub const SEGMENT_FROM_PORTS: u8 = 6;
    pub const SEGMENT_ABSOLUTE: u8 = 7;
}

/// Application calls (the operand modulo 8).
pub mod app {
    pub const SEND: u8 = 0;
    pub const RECV: u8 = 1;
    pub const RECV_WITH: u8 = 2;
    pub const CLOSE: u8 = 3;
    pub const SHUTDOWN_WRITE: u8 = 4;
    pub const ABORT: u8 = 5;
    pub const RELEASE: u8 = 6;
    pub const NODELAY: u8 = 7;
}

/// Bits of a segment's option byte.
pub mod opt {
    pub const MSS: u8 = 1;
    pub const WINDOW_SCALE: u8 = 2;
    pub const SACK_PERMITTED: u8 = 4;
    pub const TIMESTAMPS: u8 = 8;
    /// SACK blocks relative to SND.UNA: a count, then (i32 left offset, u16 length) each.
    pub const SACK_RELATIVE: u8 = 16;
    /// SACK blocks as absolute numbers: a count, then (u32, u32) each.
    pub const SACK_ABSOLUTE: u8 = 32;
    pub const URGENT: u8 = 64;
    /// Timestamps echo our latest TSval (else both values are read).
    pub const ECHO: u8 = 128;
}

/// The byte of the peer's stream at sequence number `seq`.
pub fn peer_byte(seq: u32) -> u8 {
    (seq.wrapping_mul(0x9e37_79b1) >> 24) as u8
}

/// The byte of the application's stream at `offset`.
pub fn app_byte(offset: u32) -> u8 {
    (offset.wrapping_mul(0x85eb_ca6b) >> 23) as u8
}

/// The connection under test and what the checks need to know about it.
struct Harness {
    conn: Connection,
    config: Arc<Config>,
    now: Instant,
    /// Bytes the application has queued and read.
    sent: u32,
    read: u32,
    /// Our latest TSval, for the peer to echo.
    our_tsval: u32,
    segments_out: usize,
    /// `XDPTCP_FUZZ_TRACE` set: every step printed, for reading a crash input.
    trace: bool,
}

/// Runs one script.
pub fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let Some(setup) = input.u8() else {
        return;
    };
    let extra = input.u8().unwrap_or(0);
    let (send_buffer, recv_buffer) = BUFFERS[usize::from(setup >> 4) & 3];
    let config = Arc::new(Config {
        mss: MSS,
        send_buffer,
        recv_buffer,
        timestamps: setup & 2 != 0,
        sack: setup & 4 != 0,
        window_scaling: setup & 8 != 0,
        nodelay: setup & 64 != 0,
        congestion: if setup & 128 != 0 {
            xdptcp::tcp::congestion::Algorithm::Cubic
        } else {
            xdptcp::tcp::congestion::Algorithm::NewReno
        },
        delayed_ack: if extra & 1 != 0 {
            Duration::ZERO
        } else {
            Duration::from_millis(40)
        },
        keepalive: (extra & 2 != 0).then_some(xdptcp::tcp::Keepalive {
            idle: Duration::from_secs(10),
            interval: Duration::from_secs(1),
            probes: 3,
        }),
        user_timeout: (extra & 4 != 0).then_some(Duration::from_secs(5)),
        syn_retries: 3,
        synack_retries: 3,
        data_retries: 4,
        msl: Duration::from_secs(1),
        ..Config::default()
    });
    config.validate().expect("the harness's settings are valid");
    let mut h = Harness {
        conn: Connection::new(config.clone(), LOCAL_PORT, SeqNum(ISS)),
        config,
        now: Instant::from_millis(1),
        sent: 0,
        read: 0,
        our_tsval: 0,
        segments_out: 0,
        trace: std::env::var_os("XDPTCP_FUZZ_TRACE").is_some(),
    };
    h.conn.set_timestamp_offset(TIMESTAMP_OFFSET);
    if setup & 1 != 0 {
        h.conn.listen(None).expect("CLOSED → LISTEN");
    } else {
        h.conn
            .connect(REMOTE_PORT, h.now)
            .expect("CLOSED → SYN-SENT");
    }
    h.settle();
    for _ in 0..MAX_OPS {
        let Some(code) = input.u8() else {
            break;
        };
        if h.operation(code, &mut input).is_none() {
            break;
        }
        h.settle();
    }
}

impl Harness {
    fn operation(&mut self, code: u8, input: &mut Input<'_>) -> Option<()> {
        match code % 8 {
            op::SEGMENT => self.segment(input, false, false, false),
            op::SEGMENT_WITH_TEXT => self.segment(input, true, false, false),
            op::SEGMENT_FROM_PORTS => self.segment(input, true, true, false),
            op::SEGMENT_ABSOLUTE => self.segment(input, true, false, true),
            op::ACK_ALL => {
                let window = input.u16()?;
                let seg = TcpRepr {
                    src_port: self.conn.remote_port(),
                    dst_port: LOCAL_PORT,
                    seq: self.conn.rcv_nxt(),
                    ack: Some(self.conn.snd_max()),
                    window,
                    options: TcpOptions {
                        timestamps: Some((self.peer_clock(), self.our_tsval)),
                        ..TcpOptions::default()
                    },
                    ..TcpRepr::default()
                };
                self.conn.handle_segment(self.now, &seg, &[]);
                Some(())
            }
            op::STEP => {
                let step = STEPS_MS[usize::from(input.u8()? % 8)];
                if self.trace {
                    eprintln!("{:?} step {step} ms", self.now);
                }
                self.advance(Duration::from_millis(step));
                Some(())
            }
            op::APP => self.app_call(input),
            op::EARLY_TIMEOUT => {
                // Timers are checked against their deadlines: a call before one is harmless.
                self.conn.handle_timeout(self.now);
                Some(())
            }
            _ => unreachable!(),
        }
    }

    fn peer_clock(&self) -> u32 {
        (self.now.as_nanos() / 1_000_000) as u32
    }

    /// A segment from the peer.
    fn segment(
        &mut self,
        input: &mut Input<'_>,
        text: bool,
        ports: bool,
        absolute: bool,
    ) -> Option<()> {
        let flags = TcpFlags(input.u8()?);
        let (seq, ack) = if absolute {
            (SeqNum(input.u32()?), SeqNum(input.u32()?))
        } else {
            let bases = input.u8()?;
            let seq_base = match bases & 3 {
                0 => self.conn.rcv_nxt(),
                1 => SeqNum(PEER_ISS),
                2 => self.conn.irs(),
                _ => self.conn.rcv_nxt() + self.recv_space(),
            };
            let ack_base = match (bases >> 2) & 3 {
                0 => self.conn.snd_nxt(),
                1 => self.conn.snd_una(),
                2 => self.conn.snd_max(),
                _ => self.conn.iss(),
            };
            let seq_offset = input.u16()? as i16 as i32;
            let ack_offset = input.u16()? as i16 as i32;
            (
                SeqNum(seq_base.0.wrapping_add(seq_offset as u32)),
                SeqNum(ack_base.0.wrapping_add(ack_offset as u32)),
            )
        };
        let window = input.u16()?;
        let mut options = TcpOptions::default();
        let bits = input.u8()?;
        if bits & opt::MSS != 0 {
            options.mss = Some(input.u16()?);
        }
        if bits & opt::WINDOW_SCALE != 0 {
            options.window_scale = Some(input.u8()?);
        }
        options.sack_permitted = bits & opt::SACK_PERMITTED != 0;
        if bits & opt::TIMESTAMPS != 0 {
            options.timestamps = Some(if bits & opt::ECHO != 0 {
                (self.peer_clock(), self.our_tsval)
            } else {
                (input.u32()?, input.u32()?)
            });
        }
        if bits & opt::SACK_RELATIVE != 0 {
            for _ in 0..input.u8()? % 5 {
                let left = self.conn.snd_una().0.wrapping_add(input.u32()?);
                let right = left.wrapping_add(u32::from(input.u16()?));
                options.sack_blocks.push(left, right);
            }
        }
        if bits & opt::SACK_ABSOLUTE != 0 {
            for _ in 0..input.u8()? % 5 {
                options.sack_blocks.push(input.u32()?, input.u32()?);
            }
        }
        let urgent = if bits & opt::URGENT != 0 {
            input.u16()?
        } else {
            0
        };
        let (src_port, dst_port) = if ports {
            (input.u16()?, input.u16()?)
        } else {
            (REMOTE_PORT, LOCAL_PORT)
        };
        let len = if text {
            usize::from(input.u16()?) % (2 * usize::from(MSS) + 1)
        } else {
            0
        };
        // A SYN takes the first sequence number; its text follows (RFC 9293 §3.4).
        let text_start = seq.0.wrapping_add(u32::from(flags.syn()));
        let payload: Vec<u8> = (0..len as u32)
            .map(|i| peer_byte(text_start.wrapping_add(i)))
            .collect();
        let seg = TcpRepr {
            src_port,
            dst_port,
            seq,
            ack: flags.ack().then_some(ack),
            flags: flags.without(TcpFlags::ACK),
            window,
            urgent,
            options,
        };
        if self.trace {
            eprintln!(
                "{:?} in  {seg:?} +{len} in {:?}",
                self.now,
                self.conn.state()
            );
        }
        self.conn.handle_segment(self.now, &seg, &payload);
        Some(())
    }

    /// Free receive buffer space: RCV.NXT plus it bounds every window we advertise.
    fn recv_space(&self) -> u32 {
        (self.config.recv_buffer - self.conn.recv_available()) as u32
    }

    fn app_call(&mut self, input: &mut Input<'_>) -> Option<()> {
        let call = input.u8()?;
        if self.trace {
            eprintln!(
                "{:?} app call {} in {:?}",
                self.now,
                call % 8,
                self.conn.state()
            );
        }
        match call % 8 {
            app::SEND => {
                let n = usize::from(input.u16()?) % 20_000;
                let data: Vec<u8> = (0..n as u32)
                    .map(|i| app_byte(self.sent.wrapping_add(i)))
                    .collect();
                let before = self.conn.send_queue_len();
                if let Ok(taken) = self.conn.send(&data, self.now) {
                    assert!(taken <= n);
                    assert_eq!(self.conn.send_queue_len(), before + taken);
                    self.sent += taken as u32;
                }
            }
            app::RECV | app::RECV_WITH => {
                let n = usize::from(input.u16()?) % 70_000 + 1;
                let mut buf = vec![0u8; n];
                let available = self.conn.recv_available();
                let got = if call % 8 == app::RECV {
                    self.conn.recv(&mut buf)
                } else {
                    self.conn.recv_with(|bytes| {
                        let k = bytes.len().min(n);
                        buf[..k].copy_from_slice(&bytes[..k]);
                        k
                    })
                };
                if let Ok(got) = got {
                    assert!(got <= available && got <= n);
                    // The stream starts after the peer's SYN.
                    let start = self.conn.irs().0.wrapping_add(1).wrapping_add(self.read);
                    for (i, &b) in buf[..got].iter().enumerate() {
                        let seq = start.wrapping_add(i as u32);
                        assert_eq!(b, peer_byte(seq), "byte {} of the stream", self.read);
                    }
                    self.read += got as u32;
                }
            }
            app::CLOSE => {
                let _ = self.conn.close();
            }
            app::SHUTDOWN_WRITE => {
                let _ = self.conn.shutdown_write();
            }
            app::ABORT => self.conn.abort(),
            app::RELEASE => self.conn.release(self.now),
            _ => self.conn.set_nodelay(call & 8 != 0),
        }
        Some(())
    }

    /// Moves the clock on by `step`, firing every deadline on the way at its time.
    fn advance(&mut self, step: Duration) {
        let end = self.now + step;
        let mut fired = 0;
        while let Some(deadline) = self.conn.poll_deadline() {
            if deadline > end {
                break;
            }
            self.now = self.now.max(deadline);
            self.conn.handle_timeout(self.now);
            fired += 1;
            assert!(
                fired < MAX_TIMEOUTS_PER_STEP,
                "timer storm: deadline {:?} at {:?} in {:?}",
                self.conn.poll_deadline(),
                self.now,
                self.conn.state()
            );
            self.settle();
        }
        self.now = end;
    }

    /// Sends what the connection owes, checks each segment, polls events, checks state.
    fn settle(&mut self) {
        if self.conn.state() == State::Listen {
            // Back in LISTEN after a reset in SYN-RECEIVED (RFC 9293 §3.10.7.4, first
            // step): a new incarnation, with fresh buffers and streams.
            (self.sent, self.read) = (0, 0);
        }
        let mut buf = [0u8; MAX_HEADER_LEN + 2 * MSS as usize];
        let mut count = 0;
        while let Some(n) = self.conn.poll_transmit(self.now, &mut buf) {
            count += 1;
            assert!(count < MAX_SEGMENTS_PER_STEP, "segments without end");
            self.check_segment(&buf[..n]);
        }
        while let Some(event) = self.conn.poll_event() {
            if event == Event::Closed {
                assert_eq!(self.conn.state(), State::Closed);
            }
        }
        self.check_state();
    }

    fn check_segment(&mut self, bytes: &[u8]) {
        self.segments_out += 1;
        let packet = TcpPacket::new_checked(bytes).expect("we send what parses");
        let seg = TcpRepr::parse(&packet).expect("our options parse");
        let payload = packet.payload();
        let c = &self.conn;
        if self.trace {
            eprintln!(
                "{:?} out {seg:?} +{} in {:?}",
                self.now,
                payload.len(),
                c.state()
            );
        }
        assert_eq!(seg.src_port, LOCAL_PORT);
        if let Some((tsval, _)) = seg.options.timestamps {
            let clock = (self.now.as_nanos() / 1_000_000) as u32;
            assert_eq!(
                tsval.wrapping_sub(TIMESTAMP_OFFSET),
                clock,
                "TSval {tsval} at {:?}: not the clock plus the offset",
                self.now
            );
            self.our_tsval = tsval;
        }
        if seg.flags.rst() {
            assert!(payload.is_empty(), "a reset carries no text");
            return;
        }
        assert_eq!(seg.dst_port, c.remote_port());
        assert!(
            payload.len() <= usize::from(c.send_mss()),
            "{} bytes, MSS {}",
            payload.len(),
            c.send_mss()
        );
        if let Some(ack) = seg.ack {
            assert_eq!(ack, c.rcv_nxt(), "we acknowledge RCV.NXT");
            // The window never promises room the buffer does not have (RFC 7323 §2.4,
            // RFC 9293 §3.8.6.2.2): RCV.NXT + window ≤ RCV.NXT + free space.
            let shift = if seg.flags.syn() {
                0
            } else {
                c.window_scales().1
            };
            let window = u64::from(seg.window) << shift;
            assert!(
                window <= u64::from(self.recv_space()),
                "window {window} with {} of {} bytes buffered ({:?})",
                c.recv_available(),
                self.config.recv_buffer,
                c.state()
            );
        }
        if seg.flags.syn() {
            assert_eq!(seg.seq, c.iss(), "a SYN carries our ISS");
            assert!(payload.is_empty());
        }
        // What we send lies in what we have sent: SND.UNA − 1 (a keepalive) to SND.MAX.
        let end = seg.seq + seg.segment_len(payload.len()) as u32;
        assert!(
            end <= c.snd_max(),
            "{seg:?} ends past SND.MAX {:?}",
            c.snd_max()
        );
        assert!(seg.seq + 1u32 >= c.snd_una(), "{seg:?} before SND.UNA");
        let stream_start = c.iss() + 1u32;
        if !payload.is_empty() && seg.seq >= c.snd_una() {
            let offset = seg.seq.since(stream_start);
            for (i, &b) in payload.iter().enumerate() {
                assert_eq!(b, app_byte(offset + i as u32), "byte {offset}+{i} sent");
            }
        }
    }

    fn check_state(&self) {
        let c = &self.conn;
        assert!(
            c.snd_una() <= c.snd_nxt(),
            "SND.UNA {:?} > SND.NXT {:?}",
            c.snd_una(),
            c.snd_nxt()
        );
        assert!(c.snd_nxt() <= c.snd_max(), "SND.NXT past SND.MAX");
        assert!(c.send_queue_len() <= self.config.send_buffer);
        assert_eq!(
            c.send_queue_len() + c.send_capacity(),
            self.config.send_buffer
        );
        assert!(c.recv_available() <= self.config.recv_buffer);
        let (peer_shift, our_shift) = c.window_scales();
        assert!(
            peer_shift <= 14 && our_shift <= 14,
            "RFC 7323 §2.3: at most 14"
        );
        assert!(c.send_window() <= u32::from(u16::MAX) << 14);
        assert!(c.send_mss() > 0);
        assert!(c.rto() >= self.config.min_rto && c.rto() <= self.config.max_rto);
        if c.state().is_synchronized() {
            assert!(c.congestion_window() > 0);
        }
        if matches!(c.state(), State::Listen | State::SynSent) {
            assert_eq!(c.recv_available(), 0);
        }
        // Sent data not yet acknowledged is still queued.
        if c.state().is_synchronized() {
            assert!(
                c.snd_max().since(c.snd_una()) as usize <= c.send_queue_len() + 2,
                "SND.UNA {:?} SND.MAX {:?}, {} bytes queued, {:?}",
                c.snd_una(),
                c.snd_max(),
                c.send_queue_len(),
                c.state()
            );
        }
        assert!(self.read as usize + c.recv_available() < (1usize << 32));
    }
}

/// Writes connection scripts (for the seed corpus).
pub struct Script {
    out: Output,
}

/// A segment in a [`Script`].
#[derive(Clone, Default)]
pub struct Seg {
    pub flags: TcpFlags,
    /// Bases as the decoder reads them (bits 0–1 sequence, 2–3 acknowledgment).
    pub bases: u8,
    pub seq_offset: i16,
    pub ack_offset: i16,
    pub window: u16,
    pub options: TcpOptions,
    /// Echo our TSval instead of giving one.
    pub echo: bool,
    /// SACK blocks relative to SND.UNA: (left offset, length).
    pub sack_relative: Vec<(u32, u16)>,
    pub ports: Option<(u16, u16)>,
    pub text: u16,
}

impl Script {
    pub fn new(setup: u8, extra: u8) -> Script {
        let mut out = Output::default();
        out.u8(setup).u8(extra);
        Script { out }
    }

    pub fn segment(&mut self, seg: &Seg) -> &mut Self {
        let opcode = match (seg.ports.is_some(), seg.text > 0) {
            (true, _) => op::SEGMENT_FROM_PORTS,
            (false, true) => op::SEGMENT_WITH_TEXT,
            (false, false) => op::SEGMENT,
        };
        let o = &mut self.out;
        o.u8(opcode).u8(seg.flags.0).u8(seg.bases);
        o.u16(seg.seq_offset as u16).u16(seg.ack_offset as u16);
        o.u16(seg.window);
        let opts = &seg.options;
        let mut bits = 0;
        bits |= if opts.mss.is_some() { opt::MSS } else { 0 };
        bits |= if opts.window_scale.is_some() {
            opt::WINDOW_SCALE
        } else {
            0
        };
        bits |= if opts.sack_permitted {
            opt::SACK_PERMITTED
        } else {
            0
        };
        bits |= if opts.timestamps.is_some() || seg.echo {
            opt::TIMESTAMPS
        } else {
            0
        };
        bits |= if seg.echo { opt::ECHO } else { 0 };
        bits |= if seg.sack_relative.is_empty() {
            0
        } else {
            opt::SACK_RELATIVE
        };
        bits |= if opts.sack_blocks.is_empty() {
            0
        } else {
            opt::SACK_ABSOLUTE
        };
        o.u8(bits);
        if let Some(mss) = opts.mss {
            o.u16(mss);
        }
        if let Some(shift) = opts.window_scale {
            o.u8(shift);
        }
        if let (Some((tsval, tsecr)), false) = (opts.timestamps, seg.echo) {
            o.u32(tsval).u32(tsecr);
        }
        if !seg.sack_relative.is_empty() {
            o.u8(seg.sack_relative.len() as u8);
            for &(left, len) in &seg.sack_relative {
                o.u32(left).u16(len);
            }
        }
        if !opts.sack_blocks.is_empty() {
            o.u8(opts.sack_blocks.len() as u8);
            for &(left, right) in opts.sack_blocks.as_slice() {
                o.u32(left).u32(right);
            }
        }
        if let Some((src, dst)) = seg.ports {
            o.u16(src).u16(dst);
        }
        if seg.ports.is_some() || seg.text > 0 {
            o.u16(seg.text);
        }
        self
    }

    pub fn ack_all(&mut self, window: u16) -> &mut Self {
        self.out.u8(op::ACK_ALL).u16(window);
        self
    }

    /// A clock step of [`STEPS_MS`]`[index]`.
    pub fn step(&mut self, index: u8) -> &mut Self {
        self.out.u8(op::STEP).u8(index);
        self
    }

    pub fn send(&mut self, n: u16) -> &mut Self {
        self.out.u8(op::APP).u8(app::SEND).u16(n);
        self
    }

    pub fn recv(&mut self, n: u16) -> &mut Self {
        self.out.u8(op::APP).u8(app::RECV).u16(n);
        self
    }

    pub fn app(&mut self, call: u8) -> &mut Self {
        self.out.u8(op::APP).u8(call);
        self
    }

    pub fn bytes(&self) -> Vec<u8> {
        self.out.bytes.clone()
    }
}
