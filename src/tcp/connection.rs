//! One TCP connection as a sans-IO value (RFC 9293).
//!
//! Inputs: [`Connection::handle_segment`] (a parsed header and a payload slice, checksum
//! already verified), [`Connection::handle_timeout`], and the application calls
//! ([`Connection::send`], [`Connection::recv`], [`Connection::close`], [`Connection::abort`]).
//! Outputs: [`Connection::poll_transmit`] writes the next segment (header and payload, checksum
//! left zero for the IP layer to fill) into a caller's buffer; [`Connection::poll_deadline`]
//! says when to call `handle_timeout` next; [`Connection::poll_event`] reports what the
//! application should look at. Nothing here reads a clock, allocates per segment or makes a
//! system call.
//!
//! The state is an explicit [`State`] enum over one transmission control block; the segment
//! arrival rules follow RFC 9293 §3.10.7 step by step, and each step cites its section.

use std::sync::Arc;
use std::time::Duration;

use super::buffer::{Assembler, RingBuffer};
use super::config::Config;
use super::congestion::{AckAction, NewReno};
use super::error::{ConnectionError, Error};
use super::rtt::RttEstimator;
use super::timer::{Timer, TimerTable};
use crate::time::Instant;
use crate::wire::tcp::{TcpFlags, TcpOptions, TcpRepr, HEADER_LEN, MAX_HEADER_LEN};
use crate::wire::SeqNum;

/// The eleven connection states of RFC 9293 §3.3.2.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum State {
    Closed,
    Listen,
    SynSent,
    SynReceived,
    Established,
    FinWait1,
    FinWait2,
    CloseWait,
    Closing,
    LastAck,
    TimeWait,
}

impl State {
    /// True once the handshake completed (RFC 9293 "synchronized states"), or SYN-RECEIVED.
    pub fn is_synchronized(self) -> bool {
        !matches!(self, State::Closed | State::Listen | State::SynSent)
    }
}

/// What the application should look at. Each kind is reported once until it happens again.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Event {
    /// The handshake completed.
    Connected,
    /// Received data can be read.
    Readable,
    /// Send buffer space was freed after a send was refused, cut short, or filled the buffer.
    Writable,
    /// The peer finished sending; reads return end of stream once the data is read.
    ReadClosed,
    /// The connection reached CLOSED; [`Connection::error`] says whether it failed.
    Closed,
}

impl Event {
    const ORDER: [Event; 5] = [
        Event::Connected,
        Event::Readable,
        Event::Writable,
        Event::ReadClosed,
        Event::Closed,
    ];

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// Counters of one connection.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct ConnStats {
    pub segments_in: u64,
    pub segments_out: u64,
    /// Payload bytes received in order (each byte once).
    pub bytes_in: u64,
    /// Payload bytes sent, retransmissions included.
    pub bytes_out: u64,
    /// Segments sent again (timeouts, fast retransmit, partial ACKs).
    pub retransmitted_segments: u64,
    pub timeouts: u64,
    pub fast_retransmits: u64,
    pub duplicate_acks_in: u64,
    pub out_of_order_segments_in: u64,
    pub challenge_acks: u64,
    pub window_probes: u64,
}

/// Progress of our FIN.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum FinState {
    /// The application may still send.
    Open,
    /// CLOSE was called: a FIN follows the last byte of the send buffer.
    Queued,
    /// The peer acknowledged our FIN.
    Acked,
}

/// A reset to send that is not derived from connection state (RFC 9293 §3.10.7).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
struct ResetReply {
    seq: SeqNum,
    ack: Option<SeqNum>,
    /// The port the offending segment came from.
    dst_port: u16,
}

impl ResetReply {
    /// The RST segment's header, sent from `src_port`.
    fn header(&self, src_port: u16) -> TcpRepr {
        TcpRepr {
            src_port,
            dst_port: self.dst_port,
            seq: self.seq,
            ack: self.ack,
            flags: TcpFlags::RST,
            window: 0,
            urgent: 0,
            options: TcpOptions::default(),
        }
    }
}

/// One TCP connection.
#[derive(Debug)]
pub struct Connection {
    config: Arc<Config>,
    state: State,
    /// Created by a passive OPEN (RFC 9293 figure 5, note 1).
    passive: bool,
    local_port: u16,
    remote_port: u16,
    /// A passive OPEN may name its peer; otherwise the SYN sets it.
    remote_specified: bool,

    // Send sequence space (RFC 9293 §3.3.1). SND.NXT is rewound on a timeout (go-back-N);
    // `snd_max` keeps the highest sequence number sent plus one.
    iss: SeqNum,
    snd_una: SeqNum,
    snd_nxt: SeqNum,
    snd_max: SeqNum,
    snd_wl1: SeqNum,
    snd_wl2: SeqNum,
    snd_wnd: u32,
    max_snd_wnd: u32,
    snd_wscale: u8,
    rcv_wscale: u8,
    /// Both SYNs carried the window scale option (RFC 7323 §2.2).
    window_scale_agreed: bool,
    /// Effective send MSS (RFC 9293 §3.7.1).
    snd_mss: u16,
    syn_acked: bool,
    fin: FinState,
    send_buf: RingBuffer,

    // Receive sequence space.
    irs: SeqNum,
    rcv_nxt: SeqNum,
    /// Right edge of the window we last advertised; it never moves left (RFC 9293 §3.8.6.2.2).
    rcv_adv: SeqNum,
    recv_buf: RingBuffer,
    assembler: Assembler,
    /// Sequence number of the peer's FIN once seen (possibly ahead of a hole).
    peer_fin: Option<SeqNum>,
    fin_received: bool,
    /// In-order bytes received and not yet acknowledged (delayed ACK accounting).
    unacked_bytes: u32,
    ack_now: bool,

    // Reliability.
    rtt: RttEstimator,
    /// The segment being timed: (sequence number that acknowledges it, time sent). Karn's
    /// rule: cleared whenever anything it covers is retransmitted.
    rtt_probe: Option<(SeqNum, Instant)>,
    cc: NewReno,
    retries: u8,
    persist_backoff: u8,
    syn_retransmitted: bool,
    retransmit_head: bool,
    window_probe: bool,
    keepalive_probe: bool,
    keepalive_probes_sent: u8,
    rst_pending: Option<ResetReply>,
    timers: TimerTable,
    challenge_window_start: Instant,
    challenges_sent: u32,
    last_recv: Instant,
    last_send: Instant,

    stats: ConnStats,
    /// Set during `handle_segment_direct`: new in-order text may skip the receive buffer.
    direct_allowed: bool,
    /// In-order bytes accepted but not yet buffered, starting at `direct_seq` (see
    /// `handle_segment_direct` and `finish_direct`).
    direct_len: u32,
    direct_seq: SeqNum,

    // Application interface.
    events: u8,
    error: Option<ConnectionError>,
    nodelay: bool,
    writer_blocked: bool,
    orphaned: bool,
}

/// Lowest MSS accepted from a peer (as Linux: smaller values are raised to this).
const MIN_PEER_MSS: u16 = 88;
/// MSS assumed when the peer sends no MSS option (RFC 9293 §3.7.1).
const DEFAULT_PEER_MSS: u16 = 536;

impl Connection {
    /// A connection in CLOSED, ready for a passive or active OPEN. `iss` is its initial send
    /// sequence number (see [`super::IsnGenerator`]).
    pub fn new(config: Arc<Config>, local_port: u16, iss: SeqNum) -> Connection {
        let iw = NewReno::initial_window(
            config.initial_window_segments,
            u32::from(DEFAULT_PEER_MSS.min(config.mss)),
        );
        Connection {
            state: State::Closed,
            passive: false,
            local_port,
            remote_port: 0,
            remote_specified: false,
            iss,
            snd_una: iss,
            snd_nxt: iss,
            snd_max: iss,
            snd_wl1: SeqNum(0),
            snd_wl2: iss,
            snd_wnd: 0,
            max_snd_wnd: 0,
            snd_wscale: 0,
            rcv_wscale: 0,
            window_scale_agreed: false,
            snd_mss: DEFAULT_PEER_MSS.min(config.mss),
            syn_acked: false,
            fin: FinState::Open,
            send_buf: RingBuffer::new(config.send_buffer),
            irs: SeqNum(0),
            rcv_nxt: SeqNum(0),
            rcv_adv: SeqNum(0),
            recv_buf: RingBuffer::new(config.recv_buffer),
            assembler: Assembler::default(),
            peer_fin: None,
            fin_received: false,
            unacked_bytes: 0,
            ack_now: false,
            rtt: RttEstimator::new(config.initial_rto, config.min_rto, config.max_rto),
            rtt_probe: None,
            cc: NewReno::new(iw, iss),
            retries: 0,
            persist_backoff: 0,
            syn_retransmitted: false,
            retransmit_head: false,
            window_probe: false,
            keepalive_probe: false,
            keepalive_probes_sent: 0,
            rst_pending: None,
            timers: TimerTable::default(),
            challenge_window_start: Instant::ZERO,
            challenges_sent: 0,
            last_recv: Instant::ZERO,
            last_send: Instant::ZERO,
            stats: ConnStats::default(),
            direct_allowed: false,
            direct_len: 0,
            direct_seq: SeqNum(0),
            events: 0,
            error: None,
            nodelay: config.nodelay,
            writer_blocked: false,
            orphaned: false,
            config,
        }
    }

    /// Passive OPEN: CLOSED → LISTEN. `remote_port` names the peer for a fully specified
    /// passive open; `None` accepts a SYN from any port.
    pub fn listen(&mut self, remote_port: Option<u16>) -> Result<(), Error> {
        if self.state != State::Closed {
            return Err(Error::InvalidState(self.state));
        }
        self.state = State::Listen;
        self.passive = true;
        self.remote_specified = remote_port.is_some();
        self.remote_port = remote_port.unwrap_or(0);
        Ok(())
    }

    /// Active OPEN: CLOSED → SYN-SENT; the SYN goes out on the next `poll_transmit`.
    pub fn connect(&mut self, remote_port: u16, now: Instant) -> Result<(), Error> {
        if self.state != State::Closed {
            return Err(Error::InvalidState(self.state));
        }
        self.remote_port = remote_port;
        self.remote_specified = true;
        self.start_active_open(now);
        Ok(())
    }

    fn start_active_open(&mut self, now: Instant) {
        self.state = State::SynSent;
        self.snd_una = self.iss;
        self.snd_nxt = self.iss;
        self.snd_max = self.iss;
        self.last_recv = now;
    }

    // ----------------------------------------------------------------------------------
    // Accessors
    // ----------------------------------------------------------------------------------

    pub fn state(&self) -> State {
        self.state
    }

    pub fn local_port(&self) -> u16 {
        self.local_port
    }

    pub fn remote_port(&self) -> u16 {
        self.remote_port
    }

    /// True if this connection came from a passive OPEN.
    pub fn is_passive(&self) -> bool {
        self.passive
    }

    /// Why the connection failed, if it did.
    pub fn error(&self) -> Option<ConnectionError> {
        self.error
    }

    pub fn iss(&self) -> SeqNum {
        self.iss
    }

    pub fn irs(&self) -> SeqNum {
        self.irs
    }

    pub fn snd_una(&self) -> SeqNum {
        self.snd_una
    }

    pub fn snd_nxt(&self) -> SeqNum {
        self.snd_nxt
    }

    pub fn rcv_nxt(&self) -> SeqNum {
        self.rcv_nxt
    }

    /// One past the highest sequence number sent.
    pub fn snd_max(&self) -> SeqNum {
        self.snd_max
    }

    /// The peer's window as we track it (scaled).
    pub fn send_window(&self) -> u32 {
        self.snd_wnd
    }

    /// Effective MSS for segments we send.
    pub fn send_mss(&self) -> u16 {
        self.snd_mss
    }

    /// (our shift for the peer's window field, our shift for our window field).
    pub fn window_scales(&self) -> (u8, u8) {
        (self.snd_wscale, self.rcv_wscale)
    }

    pub fn congestion_window(&self) -> u32 {
        self.cc.cwnd()
    }

    pub fn slow_start_threshold(&self) -> u32 {
        self.cc.ssthresh()
    }

    pub fn in_fast_recovery(&self) -> bool {
        self.cc.in_recovery()
    }

    pub fn rto(&self) -> Duration {
        self.rtt.rto()
    }

    pub fn srtt(&self) -> Option<Duration> {
        self.rtt.srtt()
    }

    /// This connection's counters.
    pub fn stats(&self) -> &ConnStats {
        &self.stats
    }

    /// Retransmission timeouts since the peer last acknowledged anything. The stack uses it
    /// to re-validate the next hop when a path seems dead (as Linux's "negative advice").
    pub fn consecutive_timeouts(&self) -> u8 {
        self.retries
    }

    /// Bytes the application can still queue with [`Connection::send`].
    pub fn send_capacity(&self) -> usize {
        self.send_buf.free()
    }

    /// Bytes queued and not yet acknowledged.
    pub fn send_queue_len(&self) -> usize {
        self.send_buf.len()
    }

    /// Bytes ready for [`Connection::recv`].
    pub fn recv_available(&self) -> usize {
        self.recv_buf.len()
    }

    /// True once the peer's FIN was processed (every byte before it has arrived).
    pub fn peer_closed(&self) -> bool {
        self.fin_received
    }

    /// True when nothing is left for anyone: CLOSED and every received byte was read, so the
    /// stack may free the connection.
    pub fn is_finished(&self) -> bool {
        self.state == State::Closed && self.recv_buf.is_empty() && self.rst_pending.is_none()
    }

    /// Takes buffer storage from these pools (see [`super::buffer::BufferPool`]).
    pub fn set_buffer_pools(
        &mut self,
        send: Arc<super::buffer::BufferPool>,
        recv: Arc<super::buffer::BufferPool>,
    ) {
        self.send_buf.set_pool(send);
        self.recv_buf.set_pool(recv);
    }

    /// Disables (true) or enables (false) Nagle's algorithm (RFC 896, RFC 1122 §4.2.3.4).
    pub fn set_nodelay(&mut self, nodelay: bool) {
        self.nodelay = nodelay;
    }

    /// Marks the connection as released by its application: once CLOSED it can be freed,
    /// and data that arrives from now on is answered with a reset (RFC 1122 §4.2.2.13).
    /// Unread received data also makes the close a reset; otherwise it is a graceful CLOSE.
    pub fn release(&mut self, now: Instant) {
        self.orphaned = true;
        if !self.recv_buf.is_empty() {
            self.abort();
            return;
        }
        match self.state {
            State::Established
            | State::CloseWait
            | State::SynReceived
            | State::Listen
            | State::SynSent => {
                let _ = self.close(now);
            }
            State::FinWait2 => self.arm_orphan_timer(now),
            _ => {}
        }
    }

    /// True once [`Connection::release`] was called.
    pub fn is_orphaned(&self) -> bool {
        self.orphaned
    }

    // ----------------------------------------------------------------------------------
    // Application calls
    // ----------------------------------------------------------------------------------

    /// Queues data (RFC 9293 §3.10.2 SEND). Returns how many bytes were taken; when the send
    /// buffer is full, `Err(WouldBlock)` and a later [`Event::Writable`].
    pub fn send(&mut self, data: &[u8], now: Instant) -> Result<usize, Error> {
        match self.state {
            State::Closed => return Err(self.error.map_or(Error::Closed, Error::Connection)),
            State::Listen => {
                if !self.remote_specified {
                    return Err(Error::InvalidState(State::Listen));
                }
                // LISTEN → SYN-SENT: "change the connection from passive to active" (§3.10.2).
                self.start_active_open(now);
            }
            State::SynSent | State::SynReceived | State::Established | State::CloseWait => {}
            State::FinWait1
            | State::FinWait2
            | State::Closing
            | State::LastAck
            | State::TimeWait => return Err(Error::WriteClosed),
        }
        if self.fin != FinState::Open {
            return Err(Error::WriteClosed);
        }
        if data.is_empty() {
            return Ok(0);
        }
        let n = self.send_buf.push(data);
        // A refused or cut-short send, or one that leaves no room, means the writer now
        // waits for space: Writable follows when acknowledgments free some.
        if n < data.len() || self.send_buf.free() == 0 {
            self.writer_blocked = true;
        }
        if n == 0 {
            return Err(Error::WouldBlock);
        }
        Ok(n)
    }

    /// Copies received bytes into `buf` (RFC 9293 §3.10.3 RECEIVE). `Ok(0)` means end of
    /// stream: the peer's FIN arrived and every byte before it was read.
    pub fn recv(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        if self.recv_buf.is_empty() {
            return self.recv_empty_result();
        }
        let n = self.recv_buf.read_at(0, buf);
        self.recv_buf.consume(n);
        self.after_read();
        Ok(n)
    }

    /// Zero-copy read: hands `reader` the next contiguous received bytes in place and
    /// consumes as many as it returns.
    pub fn recv_with<F: FnOnce(&[u8]) -> usize>(&mut self, reader: F) -> Result<usize, Error> {
        if self.recv_buf.is_empty() {
            return self.recv_empty_result();
        }
        let (first, _) = self.recv_buf.slices_from(0);
        let n = reader(first).min(first.len());
        self.recv_buf.consume(n);
        self.after_read();
        Ok(n)
    }

    fn recv_empty_result(&self) -> Result<usize, Error> {
        if self.fin_received {
            return Ok(0);
        }
        match self.state {
            State::Closed => Err(self.error.map_or(Error::Closed, Error::Connection)),
            State::Listen => Err(Error::InvalidState(State::Listen)),
            _ => Err(Error::WouldBlock),
        }
    }

    fn after_read(&mut self) {
        // Announce a window that opened substantially (RFC 1122 §4.2.3.3 and §4.2.3.4): only
        // when the advertised window fell below half the buffer and the right edge can move
        // by at least min(buffer / 2, MSS).
        let cap = self.recv_buf.capacity() as u32;
        let advertised = if self.rcv_adv > self.rcv_nxt {
            self.rcv_adv.since(self.rcv_nxt)
        } else {
            0
        };
        let potential = self.rcv_nxt + self.recv_buf.free() as u32;
        if self.state.is_synchronized()
            && advertised < cap / 2
            && potential > self.rcv_adv
            && potential.since(self.rcv_adv) >= self.sws_threshold()
        {
            self.ack_now = true;
        }
        if self.state == State::Closed && self.recv_buf.is_empty() {
            self.recv_buf.release_if_empty();
        }
    }

    fn sws_threshold(&self) -> u32 {
        (self.recv_buf.capacity() as u32 / 2).min(u32::from(self.config.mss))
    }

    /// CLOSE (RFC 9293 §3.10.4): "I have no more to send". Queued data is sent first, then a
    /// FIN; receiving continues until the peer closes too (half-close).
    pub fn close(&mut self, now: Instant) -> Result<(), Error> {
        match self.state {
            State::Closed => Err(self.error.map_or(Error::Closed, Error::Connection)),
            State::Listen | State::SynSent => {
                self.enter_closed(None);
                Ok(())
            }
            State::SynReceived | State::Established => {
                self.fin = FinState::Queued;
                self.state = State::FinWait1;
                let _ = now;
                Ok(())
            }
            State::CloseWait => {
                self.fin = FinState::Queued;
                self.state = State::LastAck;
                Ok(())
            }
            State::FinWait1
            | State::FinWait2
            | State::Closing
            | State::LastAck
            | State::TimeWait => Err(Error::WriteClosed),
        }
    }

    /// Half-close as applications mean it (`shutdown(SHUT_WR)`): a FIN follows the queued
    /// data, and reading goes on. Unlike [`Connection::close`] in SYN-SENT, which deletes the
    /// connection (RFC 9293 §3.10.4), this queues the FIN until the handshake completes.
    pub fn shutdown_write(&mut self, now: Instant) -> Result<(), Error> {
        match self.state {
            State::SynSent => {
                if self.fin != FinState::Open {
                    return Err(Error::WriteClosed);
                }
                self.fin = FinState::Queued;
                Ok(())
            }
            State::Listen => Err(Error::InvalidState(State::Listen)),
            _ => self.close(now),
        }
    }

    /// ABORT (RFC 9293 §3.10.5): send a reset where the peer holds state, drop everything.
    pub fn abort(&mut self) {
        if matches!(
            self.state,
            State::SynReceived
                | State::Established
                | State::FinWait1
                | State::FinWait2
                | State::CloseWait
        ) {
            self.rst_pending = Some(ResetReply {
                seq: self.snd_nxt,
                ack: None,
                dst_port: self.remote_port,
            });
        }
        self.recv_buf.consume(self.recv_buf.len());
        self.enter_closed(None);
    }

    /// The next event for the application, each kind at most once until it recurs.
    pub fn poll_event(&mut self) -> Option<Event> {
        for event in Event::ORDER {
            if self.events & event.bit() != 0 {
                self.events &= !event.bit();
                return Some(event);
            }
        }
        None
    }

    /// True if events are waiting for [`Connection::poll_event`].
    pub fn has_events(&self) -> bool {
        self.events != 0
    }

    fn raise(&mut self, event: Event) {
        self.events |= event.bit();
    }

    // ----------------------------------------------------------------------------------
    // Segment arrival (RFC 9293 §3.10.7)
    // ----------------------------------------------------------------------------------

    /// Like [`Connection::handle_segment`], but new in-order data arriving to an empty receive
    /// buffer is not copied into it: the returned range of `payload` holds bytes already
    /// acknowledged and counted as received, which the caller shows the application in place
    /// (zero copy) and then passes, minus what was consumed, to [`Connection::finish_direct`].
    /// No [`Event::Readable`] is raised for them; the caller reports them itself.
    pub fn handle_segment_direct(
        &mut self,
        now: Instant,
        seg: &TcpRepr,
        payload: &[u8],
    ) -> Option<std::ops::Range<usize>> {
        self.direct_allowed = !self.orphaned;
        self.direct_len = 0;
        self.handle_segment(now, seg, payload);
        self.direct_allowed = false;
        if self.direct_len == 0 {
            return None;
        }
        let payload_seq = seg.seq + u32::from(seg.flags.syn());
        let offset = self.direct_seq.since(payload_seq) as usize;
        Some(offset..offset + self.direct_len as usize)
    }

    /// Ends a direct delivery: `unread` (the tail of the range the application did not
    /// consume) goes into the receive buffer, where it always fits.
    pub fn finish_direct(&mut self, unread: &[u8]) {
        let pending = std::mem::take(&mut self.direct_len) as usize;
        let unread = &unread[..unread.len().min(pending)];
        if unread.is_empty() || self.state == State::Closed {
            return; // consumed, or the application aborted the connection meanwhile
        }
        if self.orphaned {
            // Released with data it never read: RFC 1122 §4.2.2.13.
            self.abort();
            return;
        }
        let stored = self.recv_buf.push(unread);
        debug_assert_eq!(stored, unread.len());
    }

    /// Processes one arriving segment whose checksum was verified.
    pub fn handle_segment(&mut self, now: Instant, seg: &TcpRepr, payload: &[u8]) {
        self.stats.segments_in += 1;
        match self.state {
            State::Closed => self.on_segment_closed(seg, payload.len()),
            State::Listen => self.on_segment_listen(now, seg),
            State::SynSent => self.on_segment_syn_sent(now, seg, payload),
            _ => self.on_segment_synchronized(now, seg, payload),
        }
        self.update_timers(now);
    }

    /// §3.10.7.1 CLOSED: answer anything but a reset with a reset.
    fn on_segment_closed(&mut self, seg: &TcpRepr, payload_len: usize) {
        if let Some(reply) = reset_for_unexpected(seg, payload_len) {
            self.rst_pending = Some(reply);
        }
    }

    /// §3.10.7.2 LISTEN.
    fn on_segment_listen(&mut self, now: Instant, seg: &TcpRepr) {
        let flags = seg.flags;
        // First: an incoming RST is ignored.
        if flags.rst() {
            return;
        }
        // Second: any acknowledgment is bad in LISTEN: <SEQ=SEG.ACK><CTL=RST>.
        if let Some(ack) = seg.ack {
            self.rst_pending = Some(ResetReply {
                seq: ack,
                ack: None,
                dst_port: seg.src_port,
            });
            return;
        }
        // Third: a SYN. (Data carried on the SYN is not accepted; the peer retransmits it.)
        if !flags.syn() {
            return;
        }
        if self.remote_specified && seg.src_port != self.remote_port {
            self.rst_pending = Some(ResetReply {
                seq: SeqNum(0),
                ack: Some(seg.seq + 1u32),
                dst_port: seg.src_port,
            });
            return;
        }
        self.remote_port = seg.src_port;
        self.irs = seg.seq;
        self.rcv_nxt = self.irs + 1u32;
        self.rcv_adv = self.rcv_nxt;
        self.apply_syn_options(&seg.options, seg.options.window_scale.is_some());
        // The window of a SYN is never scaled (RFC 7323 §2.2).
        self.snd_wnd = u32::from(seg.window);
        self.max_snd_wnd = self.snd_wnd;
        self.snd_wl1 = self.irs;
        self.snd_wl2 = self.iss;
        self.snd_una = self.iss;
        self.snd_nxt = self.iss; // SYN,ACK pending
        self.snd_max = self.iss;
        self.state = State::SynReceived;
        self.last_recv = now;
    }

    /// §3.10.7.3 SYN-SENT.
    fn on_segment_syn_sent(&mut self, now: Instant, seg: &TcpRepr, payload: &[u8]) {
        let flags = seg.flags;
        // First: check the ACK bit.
        if let Some(ack) = seg.ack.filter(|&ack| ack <= self.iss || ack > self.snd_max) {
            if !flags.rst() {
                self.rst_pending = Some(ResetReply {
                    seq: ack,
                    ack: None,
                    dst_port: seg.src_port,
                });
            }
            return;
        }
        let ack = seg.ack.unwrap_or(self.snd_una);
        let ack_acceptable = seg.ack.is_some() && self.snd_una < ack && ack <= self.snd_max;
        // Second: the RST bit (acceptable only with an acceptable ACK; RFC 5961 §3.2).
        if flags.rst() {
            if ack_acceptable {
                self.enter_closed(Some(ConnectionError::Refused));
            }
            return;
        }
        // Fourth: the SYN bit.
        if !flags.syn() {
            return;
        }
        self.irs = seg.seq;
        self.rcv_nxt = self.irs + 1u32;
        // The window our SYN offered, relative to their first data byte.
        self.rcv_adv = self.rcv_nxt + self.syn_window();
        self.apply_syn_options(&seg.options, self.config.window_scaling);
        self.snd_wnd = u32::from(seg.window);
        self.max_snd_wnd = self.snd_wnd;
        self.snd_wl1 = self.irs;
        self.snd_wl2 = ack;
        self.last_recv = now;
        if ack_acceptable {
            self.snd_una = ack;
            self.syn_acked = true;
            self.take_rtt_sample(now, ack);
            if self.syn_retransmitted {
                self.rtt.reset_after_syn_timeout(self.config.initial_rto);
            }
            self.retries = 0;
            self.enter_established(now);
            self.ack_now = true;
            // Data or FIN on the SYN,ACK are processed as in ESTABLISHED.
            if !payload.is_empty() {
                self.receive_text(now, self.rcv_nxt, payload);
            }
            if flags.fin() {
                self.peer_fin = Some(self.irs + 1u32 + payload.len());
                self.process_fin_if_reached(now);
            }
        } else {
            // Simultaneous open: <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK> and SYN-RECEIVED.
            self.state = State::SynReceived;
            self.snd_nxt = self.iss;
        }
    }

    /// §3.10.7.4: every state from SYN-RECEIVED on.
    fn on_segment_synchronized(&mut self, now: Instant, seg: &TcpRepr, payload: &[u8]) {
        let flags = seg.flags;
        let seq = seg.seq;

        if self.state == State::SynReceived && flags.syn() && !flags.rst() && seq == self.irs {
            if let Some(ack) = seg
                .ack
                .filter(|&ack| self.snd_una < ack && ack <= self.snd_max)
            {
                // Simultaneous open (RFC 9293 figure 7, line 6): the peer's <SYN,ACK> repeats
                // its SYN and acknowledges ours; it completes the handshake. Its window is
                // that of a SYN, never scaled (RFC 7323 §2.2).
                self.last_recv = now;
                self.enter_established(now);
                self.on_new_ack(now, ack);
                self.snd_wnd = u32::from(seg.window);
                self.max_snd_wnd = self.max_snd_wnd.max(self.snd_wnd);
                self.snd_wl1 = seq;
                self.snd_wl2 = ack;
            } else {
                // A retransmitted SYN: our SYN,ACK was lost; send it again.
                self.snd_nxt = self.iss;
            }
            return;
        }

        // First: check the sequence number.
        let seg_len = payload.len() + usize::from(flags.syn()) + usize::from(flags.fin());
        let rcv_wnd = self.receive_window();
        let mut text = payload;
        let mut fin = flags.fin();
        let mut syn = flags.syn();
        if !segment_acceptable(seq, seg_len, self.rcv_nxt, rcv_wnd) {
            // "If the RCV.WND is zero, no segments will be acceptable, but special allowance
            // should be made to accept valid ACKs, URGs, and RSTs."
            if !(rcv_wnd == 0 && seq == self.rcv_nxt) {
                if !flags.rst() {
                    // <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>, then drop.
                    self.ack_now = true;
                    if self.state == State::TimeWait && flags.fin() {
                        // A retransmitted FIN: acknowledge it and restart 2·MSL.
                        self.timers.set(Timer::Close, now + self.config.msl * 2);
                    }
                }
                return;
            }
            // Zero window: keep the control bits, drop the text (and answer a probe).
            if !text.is_empty() || fin {
                self.ack_now = true;
            }
            text = &[];
            fin = false;
            syn = false;
        }
        self.last_recv = now;
        self.keepalive_probes_sent = 0;

        // Second: the RST bit (RFC 5961 §3.2: exact match resets, in-window challenges).
        if flags.rst() {
            if seq == self.rcv_nxt {
                self.on_acceptable_reset();
            } else {
                self.send_challenge_ack(now);
            }
            return;
        }

        // Trim the segment to the window: what precedes RCV.NXT is old, what lies past the
        // right edge does not fit (RFC 9293 §3.10.7.4, "segments with higher beginning
        // sequence numbers may be held"; bytes beyond the window are dropped).
        let mut start = seq;
        if start < self.rcv_nxt {
            let mut before = self.rcv_nxt.since(start) as usize;
            if syn {
                syn = false;
                before -= 1;
                start += 1u32;
            }
            let cut = before.min(text.len());
            text = &text[cut..];
            start = start + cut;
        }
        let right_edge = self.rcv_adv.max(self.rcv_nxt);
        if !text.is_empty() && start + text.len() > right_edge {
            let keep = if right_edge > start {
                right_edge.since(start) as usize
            } else {
                0
            };
            text = &text[..keep.min(text.len())];
            fin = false;
        }

        // Fourth: a SYN in the window.
        if syn {
            if self.state == State::SynReceived && self.passive {
                // RFC 9293 §3.10.7.4: a passive open returns to LISTEN.
                self.return_to_listen();
            } else {
                // RFC 5961 §4.2: challenge ACK.
                self.send_challenge_ack(now);
            }
            return;
        }

        // Fifth: the ACK field. Without it the segment is dropped.
        let Some(ack) = seg.ack else {
            return;
        };
        if !self.syn_acked {
            // SYN-RECEIVED (or FIN-WAIT-1 entered from it): the ACK must cover our SYN.
            if !(self.snd_una < ack && ack <= self.snd_max) {
                self.rst_pending = Some(ResetReply {
                    seq: ack,
                    ack: None,
                    dst_port: seg.src_port,
                });
                return;
            }
        } else if ack > self.snd_max || ack < self.snd_una - self.max_snd_wnd {
            // RFC 5961 §5.2: an ACK outside [SND.UNA - MAX.SND.WND, SND.NXT] is answered with
            // a (rate-limited) challenge ACK and the segment is dropped.
            self.send_challenge_ack(now);
            return;
        }
        let window = u32::from(seg.window) << self.snd_wscale;
        let is_duplicate = ack == self.snd_una
            && payload.is_empty()
            && !flags.syn()
            && !flags.fin()
            && window == self.snd_wnd
            && self.snd_max != self.snd_una;
        if ack > self.snd_una {
            if self.state == State::SynReceived {
                self.enter_established(now);
            }
            self.on_new_ack(now, ack);
        } else if is_duplicate {
            self.on_duplicate_ack();
        }
        // Window update (§3.10.7.4, ESTABLISHED, fifth step).
        if self.snd_wl1 < seq || (self.snd_wl1 == seq && self.snd_wl2 <= ack) {
            if self.snd_wnd == 0 && window > 0 {
                self.persist_backoff = 0;
            }
            self.snd_wnd = window;
            self.max_snd_wnd = self.max_snd_wnd.max(window);
            self.snd_wl1 = seq;
            self.snd_wl2 = ack;
        }
        // Zero-window: while the peer keeps answering, the connection is alive (RFC 1122
        // §4.2.2.17), so retransmission attempts are not held against it.
        if self.snd_wnd == 0 {
            self.retries = 0;
        }
        match self.state {
            State::FinWait1 if self.fin == FinState::Acked => {
                self.state = State::FinWait2;
                if self.orphaned {
                    self.arm_orphan_timer(now);
                }
            }
            State::Closing if self.fin == FinState::Acked => {
                self.enter_time_wait(now);
                return;
            }
            State::LastAck if self.fin == FinState::Acked => {
                self.enter_closed(None);
                return;
            }
            _ => {}
        }

        // Sixth: the URG bit. Urgent data is delivered in line with the rest of the stream.
        // Seventh: the segment text.
        if !text.is_empty() {
            match self.state {
                State::Established | State::FinWait1 | State::FinWait2 => {
                    if self.orphaned {
                        // Data after the application released the connection: RFC 1122
                        // §4.2.2.13 says reset, so the peer learns it was not read.
                        self.abort();
                        return;
                    }
                    self.receive_text(now, start, text);
                }
                // After the peer's FIN, more text "should not occur" (§3.10.7.4): ignore it.
                _ => {}
            }
        }

        // Eighth: the FIN bit. A FIN beyond a hole is remembered and processed once the
        // hole fills; until then the duplicate ACK says what is missing (RFC 5681 §4.2).
        if fin && !self.fin_received {
            let fin_seq = start + text.len();
            self.peer_fin = Some(fin_seq);
            if fin_seq != self.rcv_nxt {
                self.ack_now = true;
            }
        }
        self.process_fin_if_reached(now);
    }

    /// The window we advertised that is still open: RCV.WND of RFC 9293.
    fn receive_window(&self) -> u32 {
        if self.rcv_adv > self.rcv_nxt {
            self.rcv_adv.since(self.rcv_nxt)
        } else {
            0
        }
    }

    fn apply_syn_options(&mut self, options: &TcpOptions, we_offer_window_scale: bool) {
        let peer_mss = options.mss.unwrap_or(DEFAULT_PEER_MSS).max(MIN_PEER_MSS);
        self.snd_mss = peer_mss.min(self.config.mss);
        match options.window_scale {
            // RFC 7323 §2.2: scaling applies only when both SYNs carry the option.
            Some(shift) if self.config.window_scaling && we_offer_window_scale => {
                // RFC 7323 §2.3: a shift above 14 is treated as 14.
                self.snd_wscale = shift.min(14);
                self.rcv_wscale = self.config.window_scale_shift();
                self.window_scale_agreed = true;
            }
            _ => {
                self.window_scale_agreed = false;
                self.snd_wscale = 0;
                self.rcv_wscale = 0;
            }
        }
        let iw =
            NewReno::initial_window(self.config.initial_window_segments, u32::from(self.snd_mss));
        self.cc = NewReno::new(iw, self.iss);
    }

    fn enter_established(&mut self, now: Instant) {
        // A shutdown_write() from SYN-SENT takes effect now: FIN after the queued data.
        self.state = if self.fin == FinState::Queued {
            State::FinWait1
        } else {
            State::Established
        };
        self.raise(Event::Connected);
        if let Some(keepalive) = self.config.keepalive {
            self.timers.set(Timer::Keepalive, now + keepalive.idle);
        }
    }

    /// RFC 9293 §3.10.7.4 second step, for a RST whose sequence number is exactly RCV.NXT.
    fn on_acceptable_reset(&mut self) {
        match self.state {
            State::SynReceived if self.passive => self.return_to_listen(),
            State::SynReceived => self.enter_closed(Some(ConnectionError::Refused)),
            State::Established | State::FinWait1 | State::FinWait2 | State::CloseWait => {
                // "All segment queues should be flushed."
                self.recv_buf.consume(self.recv_buf.len());
                self.enter_closed(Some(ConnectionError::Reset));
            }
            _ => self.enter_closed(None),
        }
    }

    /// SYN-RECEIVED → LISTEN (figure 5, note 1): forget the peer, keep the passive OPEN.
    fn return_to_listen(&mut self) {
        let mut fresh = Connection::new(self.config.clone(), self.local_port, self.iss);
        fresh.state = State::Listen;
        fresh.passive = true;
        fresh.remote_specified = self.remote_specified;
        fresh.remote_port = if self.remote_specified {
            self.remote_port
        } else {
            0
        };
        fresh.nodelay = self.nodelay;
        *self = fresh;
    }

    /// RFC 5961 §7: challenge ACKs, at most `challenge_ack_limit` per second.
    fn send_challenge_ack(&mut self, now: Instant) {
        if now.saturating_duration_since(self.challenge_window_start) >= Duration::from_secs(1) {
            self.challenge_window_start = now;
            self.challenges_sent = 0;
        }
        if self.challenges_sent < self.config.challenge_ack_limit {
            self.challenges_sent += 1;
            self.stats.challenge_acks += 1;
            self.ack_now = true;
        }
    }

    /// When the retransmission timer armed at `now` fires: one RTO later (RFC 6298 §5).
    fn retransmit_deadline(&self, now: Instant) -> Instant {
        now.saturating_add_nanos(self.rtt.rto_nanos())
    }

    fn take_rtt_sample(&mut self, now: Instant, ack: SeqNum) {
        if let Some((end, sent)) = self.rtt_probe {
            if ack >= end {
                self.rtt.sample_nanos(now.nanos_since(sent));
                self.rtt_probe = None;
            }
        }
    }

    /// Sequence number of the first byte in the send buffer.
    fn data_start(&self) -> SeqNum {
        if self.syn_acked {
            self.snd_una
        } else {
            self.iss + 1u32
        }
    }

    /// One past the last byte queued; our FIN's sequence number once queued.
    fn data_end(&self) -> SeqNum {
        self.data_start() + self.send_buf.len()
    }

    /// An ACK that advances SND.UNA (§3.10.7.4 fifth step; RFC 6298 §5.3; RFC 6582).
    fn on_new_ack(&mut self, now: Instant, ack: SeqNum) {
        // Bytes of data (and our FIN) acknowledged; the SYN does not count toward window
        // growth (RFC 5681 §3.1 counts acknowledged data).
        let mut acked = ack.since(self.snd_una);
        if !self.syn_acked {
            self.syn_acked = true;
            acked -= 1;
            if self.syn_retransmitted {
                self.rtt.reset_after_syn_timeout(self.config.initial_rto);
            }
        }
        let data_acked = (acked as usize).min(self.send_buf.len());
        self.send_buf.consume(data_acked);
        if acked as usize > data_acked && self.fin == FinState::Queued {
            self.fin = FinState::Acked;
        }
        self.snd_una = ack;
        if self.snd_nxt < ack {
            self.snd_nxt = ack;
        }
        self.take_rtt_sample(now, ack);
        self.retries = 0;
        let flight = self.snd_max.since(self.snd_una);
        let smss = u32::from(self.snd_mss);
        let restart_timer = match self.cc.on_new_ack(ack, acked, flight, smss) {
            AckAction::None => true,
            AckAction::RetransmitFirstUnacked { restart_timer } => {
                self.retransmit_head = true;
                restart_timer
            }
        };
        if flight == 0 {
            self.timers.stop(Timer::Retransmit);
        } else if restart_timer {
            self.timers
                .set(Timer::Retransmit, self.retransmit_deadline(now));
        }
        if data_acked > 0 && self.writer_blocked {
            self.writer_blocked = false;
            self.raise(Event::Writable);
        }
        if self.send_buf.is_empty() && (self.fin == FinState::Acked || self.orphaned) {
            self.send_buf.release_if_empty();
        }
    }

    fn on_duplicate_ack(&mut self) {
        let flight = self.snd_max.since(self.snd_una);
        let action =
            self.cc
                .on_duplicate_ack(self.snd_una, self.snd_max, flight, u32::from(self.snd_mss));
        self.stats.duplicate_acks_in += 1;
        if let AckAction::RetransmitFirstUnacked { .. } = action {
            self.stats.fast_retransmits += 1;
            self.retransmit_head = true;
            self.rtt_probe = None;
        }
    }

    /// Places in-window text (already trimmed to start at or after RCV.NXT and end inside
    /// the window) into the receive buffer.
    fn receive_text(&mut self, now: Instant, start: SeqNum, text: &[u8]) {
        if self.fin_received {
            return;
        }
        if let Some(fin_seq) = self.peer_fin {
            // Nothing can follow the peer's FIN.
            if start >= fin_seq {
                return;
            }
        }
        let offset = start.since(self.rcv_nxt) as usize;
        if offset == 0 {
            let before = self.rcv_nxt;
            let direct =
                self.direct_allowed && self.recv_buf.is_empty() && self.assembler.is_empty();
            let n = if direct {
                // The caller shows these bytes to the application in place and buffers the
                // rest with `finish_direct`; the empty ring has room for all of them.
                let n = text.len().min(self.recv_buf.free());
                self.direct_seq = start;
                self.direct_len = n as u32;
                n
            } else {
                self.recv_buf.push(text)
            };
            if n == 0 {
                return;
            }
            self.rcv_nxt = self.rcv_nxt + n;
            let mut filled_hole = false;
            while let Some(end) = self.assembler.pop_front_reached(self.rcv_nxt) {
                if end > self.rcv_nxt {
                    self.recv_buf.commit(end.since(self.rcv_nxt) as usize);
                    self.rcv_nxt = end;
                }
                filled_hole = true;
            }
            self.stats.bytes_in += u64::from(self.rcv_nxt.since(before));
            if !direct {
                self.raise(Event::Readable);
            }
            self.unacked_bytes = self.unacked_bytes.saturating_add(n as u32);
            if filled_hole || self.config.delayed_ack.is_zero() {
                // RFC 5681 §4.2: a segment that fills a gap is acknowledged at once.
                self.ack_now = true;
            } else if self.unacked_bytes >= 2 * u32::from(self.config.mss) {
                // RFC 1122 §4.2.3.2 / RFC 5681 §4.2: at least every second full segment.
                self.ack_now = true;
            } else if !self.timers.is_armed(Timer::DelayedAck) {
                self.timers
                    .set(Timer::DelayedAck, now + self.config.delayed_ack);
            }
        } else {
            // Out of order: hold it if the assembler has room, and send a duplicate ACK at
            // once (RFC 5681 §4.2) so the sender can detect the loss.
            self.stats.out_of_order_segments_in += 1;
            self.ack_now = true;
            let room = self.recv_buf.free().saturating_sub(offset);
            let n = text.len().min(room);
            if n == 0 || self.assembler.insert(start, start + n).is_err() {
                return;
            }
            self.recv_buf.write_uncommitted(offset, &text[..n]);
        }
    }

    /// Processes the peer's FIN once every byte before it has arrived (§3.10.7.4 eighth).
    fn process_fin_if_reached(&mut self, now: Instant) {
        if self.fin_received || self.peer_fin != Some(self.rcv_nxt) {
            return;
        }
        self.fin_received = true;
        self.rcv_nxt += 1u32;
        self.ack_now = true;
        self.raise(Event::ReadClosed);
        match self.state {
            State::SynReceived | State::Established => self.state = State::CloseWait,
            State::FinWait1 => {
                if self.fin == FinState::Acked {
                    self.enter_time_wait(now);
                } else {
                    self.state = State::Closing;
                }
            }
            State::FinWait2 => self.enter_time_wait(now),
            _ => {}
        }
    }

    fn enter_time_wait(&mut self, now: Instant) {
        self.state = State::TimeWait;
        self.timers.stop_all();
        self.timers.set(Timer::Close, now + self.config.msl * 2);
        self.send_buf.release_if_empty();
    }

    fn arm_orphan_timer(&mut self, now: Instant) {
        self.timers
            .set(Timer::Close, now + self.config.fin_wait_2_timeout);
    }

    fn enter_closed(&mut self, error: Option<ConnectionError>) {
        self.state = State::Closed;
        if error.is_some() {
            self.error = error;
        }
        self.timers.stop_all();
        self.ack_now = false;
        self.retransmit_head = false;
        self.window_probe = false;
        self.keepalive_probe = false;
        self.send_buf.consume(self.send_buf.len());
        self.send_buf.release_if_empty();
        self.assembler.clear();
        if self.recv_buf.is_empty() {
            self.recv_buf.release_if_empty();
        }
        self.raise(Event::Closed);
    }

    // ----------------------------------------------------------------------------------
    // Timers
    // ----------------------------------------------------------------------------------

    /// The next time [`Connection::handle_timeout`] must be called, if any.
    pub fn poll_deadline(&self) -> Option<Instant> {
        self.timers.next()
    }

    /// Runs every timer whose deadline is at or before `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(timer) = self.timers.pop_expired(now) {
            match timer {
                Timer::Retransmit => self.on_retransmit_timeout(now),
                Timer::Persist => {
                    self.window_probe = true;
                    self.persist_backoff = self.persist_backoff.saturating_add(1);
                }
                Timer::DelayedAck => self.ack_now = true,
                Timer::Keepalive => self.on_keepalive_timer(now),
                Timer::Close => {
                    if matches!(self.state, State::TimeWait | State::FinWait2) {
                        self.enter_closed(None);
                    }
                }
            }
        }
        self.update_timers(now);
    }

    /// RFC 6298 §5.4–5.7 with go-back-N: back off, shrink the window to one segment and send
    /// again from SND.UNA.
    fn on_retransmit_timeout(&mut self, now: Instant) {
        if self.snd_una == self.snd_max {
            return;
        }
        self.retries = self.retries.saturating_add(1);
        self.stats.timeouts += 1;
        let limit = if self.syn_acked {
            self.config.data_retries
        } else {
            self.config.syn_retries
        };
        if self.retries > limit {
            self.enter_closed(Some(ConnectionError::TimedOut));
            return;
        }
        self.rtt.back_off();
        self.rtt_probe = None;
        if !self.syn_acked {
            self.syn_retransmitted = true;
        }
        let flight = self.snd_max.since(self.snd_una);
        self.cc
            .on_timeout(flight, u32::from(self.snd_mss), self.snd_max);
        self.snd_nxt = self.snd_una;
        self.retransmit_head = false;
        self.timers
            .set(Timer::Retransmit, self.retransmit_deadline(now));
    }

    /// RFC 1122 §4.2.3.6: probe after `idle` without traffic, give up after `probes`.
    fn on_keepalive_timer(&mut self, now: Instant) {
        let Some(keepalive) = self.config.keepalive else {
            return;
        };
        if !matches!(self.state, State::Established | State::CloseWait) {
            return;
        }
        let idle_since = self.last_recv.max(self.last_send);
        if self.keepalive_probes_sent == 0
            && now.saturating_duration_since(idle_since) < keepalive.idle
        {
            self.timers
                .set(Timer::Keepalive, idle_since + keepalive.idle);
            return;
        }
        if self.snd_una != self.snd_max {
            // Data outstanding: the retransmission timer watches the peer.
            self.timers.set(Timer::Keepalive, now + keepalive.idle);
            return;
        }
        if self.keepalive_probes_sent >= keepalive.probes {
            self.enter_closed(Some(ConnectionError::TimedOut));
            return;
        }
        self.keepalive_probes_sent += 1;
        self.keepalive_probe = true;
        self.timers.set(Timer::Keepalive, now + keepalive.interval);
    }

    /// Data is waiting but the peer's window is zero: probe instead of retransmitting.
    fn zero_window_stalled(&self) -> bool {
        self.snd_wnd == 0
            && self.syn_acked
            && self.may_send_data()
            && self.snd_una < self.data_end()
    }

    /// Brings the retransmission and persist timers in line with what is outstanding.
    fn update_timers(&mut self, now: Instant) {
        if self.state == State::Closed || self.state == State::TimeWait {
            return;
        }
        if self.zero_window_stalled() {
            self.timers.stop(Timer::Retransmit);
            if !self.timers.is_armed(Timer::Persist) && !self.window_probe {
                let interval = self
                    .rtt
                    .rto()
                    .saturating_mul(1 << self.persist_backoff.min(16))
                    .min(self.config.max_rto);
                self.timers.set(Timer::Persist, now + interval);
            }
        } else {
            self.timers.stop(Timer::Persist);
            self.window_probe = false;
            if self.snd_max != self.snd_una {
                if !self.timers.is_armed(Timer::Retransmit) {
                    self.timers
                        .set(Timer::Retransmit, self.retransmit_deadline(now));
                }
            } else {
                self.timers.stop(Timer::Retransmit);
            }
        }
    }

    // ----------------------------------------------------------------------------------
    // Output
    // ----------------------------------------------------------------------------------

    /// Writes the next segment to send into `out` — TCP header (checksum zero) and payload —
    /// and returns its length, or `None` when nothing is due. `out` should hold at least
    /// 60 bytes of header plus one MSS; a smaller buffer gets smaller segments. Call it until
    /// it returns `None`.
    pub fn poll_transmit(&mut self, now: Instant, out: &mut [u8]) -> Option<usize> {
        if out.len() < MAX_HEADER_LEN {
            return None;
        }
        let written = self.next_segment(now, out);
        if written.is_some() {
            self.last_send = now;
            self.stats.segments_out += 1;
        }
        self.update_timers(now);
        written
    }

    fn next_segment(&mut self, now: Instant, out: &mut [u8]) -> Option<usize> {
        if let Some(reply) = self.rst_pending.take() {
            return Some(self.emit_reset(reply, out));
        }
        match self.state {
            State::Closed | State::Listen => return None,
            State::SynSent if self.snd_nxt == self.iss => {
                return Some(self.emit_syn(now, out));
            }
            State::SynSent => return None,
            _ => {}
        }
        if !self.syn_acked && self.snd_nxt == self.iss {
            return Some(self.emit_syn(now, out));
        }
        if self.retransmit_head {
            self.retransmit_head = false;
            if let Some(n) = self.emit_retransmission(now, out) {
                return Some(n);
            }
        }
        if self.window_probe {
            self.window_probe = false;
            if let Some(n) = self.emit_window_probe(now, out) {
                return Some(n);
            }
        }
        if let Some(n) = self.emit_new_data(now, out) {
            return Some(n);
        }
        if self.keepalive_probe {
            self.keepalive_probe = false;
            // RFC 1122 §4.2.3.6: SEG.SEQ = SND.NXT - 1, no data; the peer answers with an ACK.
            return Some(self.emit_control(self.snd_una - 1u32, TcpFlags::ACK, out));
        }
        if self.ack_now {
            // <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>, where RFC 9293's SND.NXT is our highest
            // sequence number sent: after a timeout rewinds `snd_nxt` (go-back-N), an ACK at
            // the rewound value would lie below the peer's RCV.NXT, be found unacceptable and
            // answered with another ACK, and the two ends would trade ACKs forever without
            // either processing the other's acknowledgment.
            return Some(self.emit_control(self.snd_max, TcpFlags::ACK, out));
        }
        None
    }

    /// The window field to send (scaled), moving RCV.ADV; the right edge never moves left
    /// and moves right only by at least the SWS threshold (RFC 1122 §4.2.3.3).
    fn advertise_window(&mut self) -> u16 {
        let max_window = u32::from(u16::MAX) << self.rcv_wscale;
        let mut window = (self.recv_buf.free() as u32).min(max_window);
        let right = self.rcv_nxt + window;
        let current = self.rcv_adv.max(self.rcv_nxt);
        if right > current && right.since(current) < self.sws_threshold() {
            window = current.since(self.rcv_nxt);
        }
        if self.rcv_nxt + window < current {
            window = current.since(self.rcv_nxt);
        }
        let mut field = window >> self.rcv_wscale;
        if self.rcv_nxt + (field << self.rcv_wscale) < current {
            field += 1; // round up rather than shrink
        }
        let field = field.min(u32::from(u16::MAX));
        self.rcv_adv = self.rcv_nxt + (field << self.rcv_wscale);
        field as u16
    }

    /// The (unscaled) window our SYN or SYN,ACK carries.
    fn syn_window(&self) -> u32 {
        (self.recv_buf.free() as u32).min(u32::from(u16::MAX))
    }

    fn header(&self, seq: SeqNum, flags: TcpFlags) -> TcpRepr {
        TcpRepr {
            src_port: self.local_port,
            dst_port: self.remote_port,
            seq,
            ack: flags.ack().then_some(self.rcv_nxt),
            flags: flags.without(TcpFlags::ACK),
            window: 0,
            urgent: 0,
            options: TcpOptions::default(),
        }
    }

    fn on_ack_sent(&mut self) {
        self.ack_now = false;
        self.unacked_bytes = 0;
        self.timers.stop(Timer::DelayedAck);
    }

    fn emit_reset(&mut self, reply: ResetReply, out: &mut [u8]) -> usize {
        reply.header(self.local_port).emit(out)
    }

    /// SYN (SYN-SENT) or SYN,ACK (SYN-RECEIVED), first transmission or retransmission.
    fn emit_syn(&mut self, now: Instant, out: &mut [u8]) -> usize {
        let is_syn_ack = self.state != State::SynSent;
        let mut repr = self.header(
            self.iss,
            if is_syn_ack {
                TcpFlags::SYN | TcpFlags::ACK
            } else {
                TcpFlags::SYN
            },
        );
        repr.window = self.syn_window() as u16;
        repr.options.mss = Some(self.config.mss);
        let offer_scale = if is_syn_ack {
            self.window_scale_agreed
        } else {
            self.config.window_scaling
        };
        if offer_scale {
            repr.options.window_scale = Some(self.config.window_scale_shift());
        }
        if is_syn_ack {
            self.rcv_adv = self.rcv_nxt + self.syn_window();
            self.on_ack_sent();
        }
        if self.snd_max == self.iss && self.rtt_probe.is_none() && !self.syn_retransmitted {
            self.rtt_probe = Some((self.iss + 1u32, now));
        }
        self.snd_nxt = self.iss + 1u32;
        if self.snd_max == self.iss {
            self.snd_max = self.snd_nxt;
        }
        if !self.timers.is_armed(Timer::Retransmit) {
            self.timers
                .set(Timer::Retransmit, self.retransmit_deadline(now));
        }
        repr.emit(out)
    }

    /// A pure control segment (ACK, keepalive probe) carrying the current window.
    fn emit_control(&mut self, seq: SeqNum, flags: TcpFlags, out: &mut [u8]) -> usize {
        let mut repr = self.header(seq, flags);
        repr.window = self.advertise_window();
        self.on_ack_sent();
        repr.emit(out)
    }

    /// Builds a segment of `len` bytes from the send buffer at `seq`, optionally with FIN,
    /// and updates the send sequence variables.
    fn emit_segment(
        &mut self,
        now: Instant,
        seq: SeqNum,
        len: usize,
        fin: bool,
        out: &mut [u8],
    ) -> usize {
        let data_end = self.data_end();
        let mut flags = TcpFlags::ACK;
        if len > 0 && seq + len == data_end {
            flags |= TcpFlags::PSH;
        }
        if fin {
            flags |= TcpFlags::FIN;
        }
        let mut repr = self.header(seq, flags);
        repr.window = self.advertise_window();
        let header_len = repr.emit(out);
        if len > 0 {
            let offset = seq.since(self.data_start()) as usize;
            let copied = self
                .send_buf
                .read_at(offset, &mut out[header_len..header_len + len]);
            debug_assert_eq!(copied, len);
        }
        let end = seq + len + usize::from(fin);
        self.stats.bytes_out += len as u64;
        if seq < self.snd_max {
            self.stats.retransmitted_segments += 1;
            // Retransmitting: Karn's rule forbids timing anything this segment repeats.
            if let Some((probe_end, _)) = self.rtt_probe {
                if seq < probe_end {
                    self.rtt_probe = None;
                }
            }
        }
        if end > self.snd_max {
            if self.rtt_probe.is_none() && seq >= self.snd_max {
                self.rtt_probe = Some((end, now));
            }
            self.snd_max = end;
        }
        if end > self.snd_nxt {
            self.snd_nxt = end;
        }
        self.on_ack_sent();
        if !self.zero_window_stalled() && !self.timers.is_armed(Timer::Retransmit) {
            // RFC 6298 §5.1.
            self.timers
                .set(Timer::Retransmit, self.retransmit_deadline(now));
        }
        header_len + len
    }

    fn may_send_data(&self) -> bool {
        matches!(
            self.state,
            State::Established
                | State::CloseWait
                | State::FinWait1
                | State::Closing
                | State::LastAck
        )
    }

    /// Room for payload in `out` after a header without options.
    fn payload_room(out: &[u8]) -> usize {
        out.len() - HEADER_LEN
    }

    /// Fast retransmit or NewReno partial-ACK retransmission: one segment from SND.UNA,
    /// regardless of the congestion window (RFC 5681 §3.2 step 2, RFC 6582 §3.2 step 4).
    fn emit_retransmission(&mut self, now: Instant, out: &mut [u8]) -> Option<usize> {
        if !self.may_send_data() || self.snd_una == self.snd_max {
            return None;
        }
        let seq = self.snd_una;
        let data_end = self.data_end();
        let available = if seq < data_end {
            data_end.since(seq) as usize
        } else {
            0
        };
        let len = available
            .min(usize::from(self.snd_mss))
            .min(Self::payload_room(out));
        let fin = self.fin == FinState::Queued && seq + len == data_end && self.snd_max > data_end;
        if len == 0 && !fin {
            return None;
        }
        Some(self.emit_segment(now, seq, len, fin, out))
    }

    /// A zero-window probe: one byte at SND.UNA past the closed window (RFC 9293 §3.8.6.1).
    fn emit_window_probe(&mut self, now: Instant, out: &mut [u8]) -> Option<usize> {
        if !self.may_send_data() || self.snd_wnd != 0 {
            return None;
        }
        let seq = self.snd_una;
        if seq >= self.data_end() {
            return None;
        }
        self.snd_nxt = seq;
        self.stats.window_probes += 1;
        Some(self.emit_segment(now, seq, 1, false, out))
    }

    /// New data (or data again after a timeout) within the send and congestion windows,
    /// with Nagle's algorithm and sender silly-window avoidance (RFC 1122 §4.2.3.4).
    fn emit_new_data(&mut self, now: Instant, out: &mut [u8]) -> Option<usize> {
        let fin_only_allowed = self.state == State::FinWait1
            && !self.syn_acked
            && self.send_buf.is_empty()
            && self.snd_nxt == self.iss + 1u32;
        if !(fin_only_allowed || self.syn_acked && self.may_send_data()) {
            return None;
        }
        let seq = self.snd_nxt;
        let data_end = self.data_end();
        let unsent = if seq < data_end {
            data_end.since(seq) as usize
        } else {
            0
        };
        let fin_due = self.fin == FinState::Queued && seq <= data_end;
        if unsent == 0 && !fin_due {
            return None;
        }
        let nothing_in_flight = self.snd_nxt == self.snd_una;
        if nothing_in_flight && self.snd_una == self.snd_max {
            // RFC 5681 §4.1: after an idle period longer than the RTO, restart from the
            // initial window.
            if now.nanos_since(self.last_send) > self.rtt.rto_nanos()
                && self.last_send != Instant::ZERO
            {
                let iw = NewReno::initial_window(
                    self.config.initial_window_segments,
                    u32::from(self.snd_mss),
                );
                self.cc.on_idle_restart(iw);
            }
        }
        let window = self.snd_wnd.min(self.cc.cwnd());
        let limit = self.snd_una + window;
        let usable = if limit > seq {
            limit.since(seq) as usize
        } else {
            0
        };
        let mss = usize::from(self.snd_mss);
        let len = unsent.min(usable).min(mss).min(Self::payload_room(out));
        let fin = fin_due && len == unsent;
        if len == 0 && !fin {
            return None;
        }
        if len > 0 && len < mss {
            let sends_all = len == unsent;
            let half_window = self.max_snd_wnd > 0 && len as u32 >= self.max_snd_wnd / 2;
            let allowed = (sends_all
                && (self.nodelay || nothing_in_flight || self.fin != FinState::Open))
                || half_window
                || (nothing_in_flight && len == usable);
            if !allowed {
                return None;
            }
        }
        Some(self.emit_segment(now, seq, len, fin, out))
    }
}

/// RFC 9293 §3.10.7.4 first step: the four acceptability cases.
fn segment_acceptable(seq: SeqNum, seg_len: usize, rcv_nxt: SeqNum, rcv_wnd: u32) -> bool {
    let window_end = rcv_nxt + rcv_wnd;
    match (seg_len, rcv_wnd) {
        (0, 0) => seq == rcv_nxt,
        (0, _) => seq.in_window(rcv_nxt, window_end),
        (_, 0) => false,
        (len, _) => {
            seq.in_window(rcv_nxt, window_end) || (seq + (len - 1)).in_window(rcv_nxt, window_end)
        }
    }
}

/// The reset a TCP with no matching connection sends (RFC 9293 §3.10.7.1), or `None` for an
/// incoming reset.
fn reset_for_unexpected(seg: &TcpRepr, payload_len: usize) -> Option<ResetReply> {
    if seg.flags.rst() {
        return None;
    }
    Some(match seg.ack {
        Some(ack) => ResetReply {
            seq: ack,
            ack: None,
            dst_port: seg.src_port,
        },
        None => ResetReply {
            seq: SeqNum(0),
            ack: Some(seg.seq + seg.segment_len(payload_len)),
            dst_port: seg.src_port,
        },
    })
}

/// The reset (as a header) that answers `seg` when no connection exists for it, per
/// RFC 9293 §3.10.7.1; `None` when `seg` is itself a reset.
pub fn reset_reply(seg: &TcpRepr, payload_len: usize) -> Option<TcpRepr> {
    reset_for_unexpected(seg, payload_len).map(|reply| reply.header(seg.dst_port))
}
