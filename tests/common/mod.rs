//! Helpers shared by the TCP scenario tests: exact segments in, exact segments out.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use xdptcp::tcp::{Config, Connection, SeqNum};
use xdptcp::wire::{TcpFlags, TcpOptions, TcpPacket, TcpRepr};
use xdptcp::Instant;

pub const LOCAL_PORT: u16 = 80;
pub const REMOTE_PORT: u16 = 40000;
/// Our initial send sequence number in scenario tests.
pub const ISS: u32 = 1000;
/// The peer's initial sequence number in scenario tests.
pub const IRS: u32 = 5000;
/// Receive buffer used by scenario tests: fits 16 bits, so the window scale shift is 0.
pub const RECV_BUFFER: usize = 60_000;

pub const SYN: TcpFlags = TcpFlags::SYN;
pub const ACK: TcpFlags = TcpFlags::ACK;
pub const FIN: TcpFlags = TcpFlags::FIN;
pub const RST: TcpFlags = TcpFlags::RST;
pub const PSH: TcpFlags = TcpFlags::PSH;

/// Settings for scenario tests: small round numbers, delayed ACKs of 40 ms, MSL 1 s, no
/// timestamps or SACK (the scenarios play a peer of RFC 9293 alone; the options have
/// scenarios of their own, built on [`options_config`]), and NewReno, whose window rule the
/// scenarios' congestion windows follow (CUBIC has unit tests of its own).
pub fn test_config() -> Config {
    Config {
        mss: 1000,
        send_buffer: 60_000,
        recv_buffer: RECV_BUFFER,
        window_scaling: true,
        timestamps: false,
        sack: false,
        congestion: xdptcp::tcp::congestion::Algorithm::NewReno,
        nodelay: false,
        delayed_ack: Duration::from_millis(40),
        initial_rto: Duration::from_secs(1),
        min_rto: Duration::from_millis(200),
        max_rto: Duration::from_secs(60),
        syn_retries: 3,
        data_retries: 4,
        msl: Duration::from_secs(1),
        ..Config::default()
    }
}

/// [`test_config`] with timestamps and SACK offered.
pub fn options_config() -> Config {
    Config {
        timestamps: true,
        sack: true,
        ..test_config()
    }
}

/// A segment as the tests write and compare them.
#[derive(Clone, PartialEq, Eq)]
pub struct Seg {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    pub window: u16,
    pub options: TcpOptions,
    pub payload: Vec<u8>,
}

impl std::fmt::Debug for Seg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "<SEQ={}><ACK={}><CTL={:?}><WND={}>",
            self.seq, self.ack, self.flags, self.window
        )?;
        if self.options != TcpOptions::default() {
            write!(f, "{:?}", self.options)?;
        }
        if !self.payload.is_empty() {
            write!(f, "<DATA {} bytes>", self.payload.len())?;
        }
        Ok(())
    }
}

/// A segment from the peer (REMOTE_PORT → LOCAL_PORT).
pub fn seg(seq: u32, ack: u32, flags: TcpFlags) -> Seg {
    Seg {
        src_port: REMOTE_PORT,
        dst_port: LOCAL_PORT,
        seq,
        ack,
        flags,
        window: 60_000,
        options: TcpOptions::default(),
        payload: Vec::new(),
    }
}

/// A segment we expect from the connection (LOCAL_PORT → REMOTE_PORT).
pub fn out(seq: u32, ack: u32, flags: TcpFlags, window: u16) -> Seg {
    Seg {
        src_port: LOCAL_PORT,
        dst_port: REMOTE_PORT,
        seq,
        ack,
        flags,
        window,
        options: TcpOptions::default(),
        payload: Vec::new(),
    }
}

impl Seg {
    pub fn window(mut self, window: u16) -> Seg {
        self.window = window;
        self
    }
    pub fn mss(mut self, mss: u16) -> Seg {
        self.options.mss = Some(mss);
        self
    }
    pub fn wscale(mut self, shift: u8) -> Seg {
        self.options.window_scale = Some(shift);
        self
    }
    pub fn ts(mut self, tsval: u32, tsecr: u32) -> Seg {
        self.options.timestamps = Some((tsval, tsecr));
        self
    }
    pub fn sack_permitted(mut self) -> Seg {
        self.options.sack_permitted = true;
        self
    }
    pub fn sack(mut self, blocks: &[(u32, u32)]) -> Seg {
        for &(left, right) in blocks {
            assert!(
                self.options.sack_blocks.push(left, right),
                "at most four blocks"
            );
        }
        self
    }
    pub fn payload(mut self, data: &[u8]) -> Seg {
        self.payload = data.to_vec();
        self
    }

    pub fn repr(&self) -> TcpRepr {
        TcpRepr {
            src_port: self.src_port,
            dst_port: self.dst_port,
            seq: SeqNum(self.seq),
            ack: self.flags.ack().then_some(SeqNum(self.ack)),
            flags: self.flags,
            window: self.window,
            urgent: 0,
            options: self.options,
        }
    }

    /// Parses what `poll_transmit` wrote.
    pub fn parse(bytes: &[u8]) -> Seg {
        let packet = TcpPacket::new_checked(bytes).expect("valid TCP header");
        let repr = TcpRepr::parse(&packet).expect("valid options");
        Seg {
            src_port: repr.src_port,
            dst_port: repr.dst_port,
            seq: repr.seq.0,
            ack: repr.ack.map_or(0, |a| a.0),
            flags: repr.wire_flags(),
            window: repr.window,
            options: repr.options,
            payload: packet.payload().to_vec(),
        }
    }
}

pub fn ms(millis: u64) -> Instant {
    Instant::from_millis(millis)
}

/// One connection under test and the clock.
pub struct Harness {
    pub conn: Connection,
    pub now: Instant,
}

impl Harness {
    /// A connection in CLOSED with [`test_config`] and ISS [`ISS`].
    pub fn new() -> Harness {
        Harness::with_config(test_config(), ISS)
    }

    pub fn with_config(config: Config, iss: u32) -> Harness {
        config.validate().expect("valid test config");
        Harness {
            conn: Connection::new(Arc::new(config), LOCAL_PORT, SeqNum(iss)),
            now: Instant::ZERO,
        }
    }

    pub fn at(&mut self, millis: u64) -> &mut Harness {
        self.now = ms(millis);
        self
    }

    /// Delivers a segment from the peer at the current time.
    pub fn send(&mut self, s: Seg) -> &mut Harness {
        self.conn.handle_segment(self.now, &s.repr(), &s.payload);
        self
    }

    /// Fires timers due at the current time.
    pub fn tick(&mut self) -> &mut Harness {
        self.conn.handle_timeout(self.now);
        self
    }

    /// Everything the connection sends now.
    pub fn output(&mut self) -> Vec<Seg> {
        let mut segs = Vec::new();
        let mut buf = [0u8; 2048];
        while let Some(n) = self.conn.poll_transmit(self.now, &mut buf) {
            segs.push(Seg::parse(&buf[..n]));
            assert!(segs.len() < 1000, "poll_transmit does not stop");
        }
        segs
    }

    /// Asserts that the connection sends exactly `expected` now.
    #[track_caller]
    pub fn expect(&mut self, expected: &[Seg]) -> &mut Harness {
        let got = self.output();
        assert_eq!(got, expected, "at {:?}", self.now);
        self
    }

    /// Asserts that the connection sends nothing now.
    #[track_caller]
    pub fn expect_nothing(&mut self) -> &mut Harness {
        self.expect(&[])
    }

    /// Drives the connection into ESTABLISHED by a passive open at time 0; returns with the
    /// handshake done: our SND.NXT = ISS + 1, RCV.NXT = IRS + 1.
    pub fn established_passive() -> Harness {
        let mut h = Harness::new();
        h.conn.listen(None).unwrap();
        h.send(seg(IRS, 0, SYN).mss(1000).wscale(0));
        let synack = h.output();
        assert_eq!(synack.len(), 1);
        h.send(seg(IRS + 1, ISS + 1, ACK));
        assert_eq!(h.conn.state(), xdptcp::tcp::State::Established);
        assert_eq!(h.conn.poll_event(), Some(xdptcp::tcp::Event::Connected));
        h.expect_nothing();
        h
    }

    /// Reads everything available.
    pub fn read_all(&mut self) -> Vec<u8> {
        let mut data = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = self.conn.recv(&mut buf) {
            if n == 0 {
                break;
            }
            data.extend_from_slice(&buf[..n]);
        }
        data
    }
}

impl Default for Harness {
    fn default() -> Harness {
        Harness::new()
    }
}

/// Two connections wired back to back through a virtual clock (quinn-proto's `Pair` idea).
pub struct Pair {
    pub client: Connection,
    pub server: Connection,
    pub now: Instant,
    /// Segments sent client → server and server → client, in order, for inspection.
    pub log: Vec<(char, Seg)>,
}

impl Pair {
    pub fn new(config: Config, client_iss: u32, server_iss: u32) -> Pair {
        let config = Arc::new(config);
        let mut server = Connection::new(config.clone(), LOCAL_PORT, SeqNum(server_iss));
        server.listen(None).unwrap();
        let mut client = Connection::new(config, REMOTE_PORT, SeqNum(client_iss));
        client.connect(LOCAL_PORT, Instant::ZERO).unwrap();
        Pair {
            client,
            server,
            now: Instant::ZERO,
            log: Vec::new(),
        }
    }

    /// Moves segments both ways until neither side has anything to send, advancing the clock
    /// by `one_way` per hop. Returns the number of segments moved.
    pub fn pump(&mut self, one_way: Duration) -> usize {
        let mut moved = 0;
        let mut buf = [0u8; 2048];
        loop {
            let mut any = false;
            while let Some(n) = self.client.poll_transmit(self.now, &mut buf) {
                let s = Seg::parse(&buf[..n]);
                self.log.push(('>', s.clone()));
                self.now += one_way;
                self.server.handle_segment(self.now, &s.repr(), &s.payload);
                any = true;
                moved += 1;
            }
            while let Some(n) = self.server.poll_transmit(self.now, &mut buf) {
                let s = Seg::parse(&buf[..n]);
                self.log.push(('<', s.clone()));
                self.now += one_way;
                self.client.handle_segment(self.now, &s.repr(), &s.payload);
                any = true;
                moved += 1;
            }
            if !any {
                return moved;
            }
            assert!(moved < 1_000_000, "pump does not converge");
        }
    }

    /// Advances the clock to the earlier deadline of the two and fires it.
    pub fn advance_to_next_timer(&mut self) -> bool {
        let next = match (self.client.poll_deadline(), self.server.poll_deadline()) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => return false,
        };
        self.now = self.now.max(next);
        self.client.handle_timeout(self.now);
        self.server.handle_timeout(self.now);
        true
    }
}
