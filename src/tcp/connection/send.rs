//! The send side's sequence space (RFC 9293 §3.3.1): what was sent, what was acknowledged,
//! the peer's window, and the send buffer the unacknowledged bytes live in.

use crate::tcp::buffer::RingBuffer;
use crate::wire::SeqNum;

/// Progress of our FIN.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum FinState {
    /// The application may still send.
    Open,
    /// CLOSE was called: a FIN follows the last byte of the send buffer.
    Queued,
    /// The peer acknowledged our FIN.
    Acked,
}

/// Send sequence space and the send buffer.
#[derive(Debug)]
pub(super) struct SendSequence {
    /// ISS.
    pub iss: SeqNum,
    /// SND.UNA: the oldest unacknowledged sequence number.
    pub una: SeqNum,
    /// SND.NXT: the next to send. Rewound to SND.UNA on a timeout (go-back-N).
    pub nxt: SeqNum,
    /// One past the highest sequence number ever sent: RFC 9293's SND.NXT wherever a
    /// rewound value would mislead (acceptable ACKs, the sequence number of ACKs and resets).
    pub max: SeqNum,
    /// SND.WL1, SND.WL2: the segment that last updated the window.
    pub wl1: SeqNum,
    pub wl2: SeqNum,
    /// SND.WND, scaled.
    pub wnd: u32,
    /// The largest window the peer offered (MAX.SND.WND of RFC 5961 §5.2).
    pub max_wnd: u32,
    /// Shift applied to the peer's window field (Snd.Wind.Shift, RFC 7323 §2.2).
    pub wscale: u8,
    /// Effective send MSS (RFC 9293 §3.7.1): the largest payload of a segment carrying the
    /// options every segment carries (SMSS of RFC 5681).
    pub mss: u16,
    /// Bytes of options every segment carries (timestamps), already taken off `mss`: a
    /// segment with more options (SACK blocks) carries that much less payload.
    pub option_allowance: u16,
    /// The peer acknowledged our SYN.
    pub syn_acked: bool,
    pub fin: FinState,
    /// Unacknowledged and unsent data, from [`SendSequence::data_start`].
    pub buf: RingBuffer,
    /// The byte past SND.UNA in flight is a zero-window probe (RFC 9293 §3.8.6.1).
    pub probing: bool,
    /// The last time new data was sent, the congestion window (not the application, the
    /// peer's window or Nagle) limited it (RFC 7661's "cwnd-limited").
    pub cwnd_limited: bool,
}

impl SendSequence {
    pub fn new(iss: SeqNum, buffer: usize, mss: u16) -> SendSequence {
        SendSequence {
            iss,
            una: iss,
            nxt: iss,
            max: iss,
            wl1: SeqNum(0),
            wl2: iss,
            wnd: 0,
            max_wnd: 0,
            wscale: 0,
            mss,
            option_allowance: 0,
            syn_acked: false,
            fin: FinState::Open,
            buf: RingBuffer::new(buffer),
            cwnd_limited: false,
            probing: false,
        }
    }

    /// Sequence number of the first byte in the send buffer.
    #[inline]
    pub fn data_start(&self) -> SeqNum {
        // Before our SYN is acknowledged SND.UNA is the ISS and data starts one after it.
        self.una + u32::from(!self.syn_acked)
    }

    /// One past the last byte queued; our FIN's sequence number once queued.
    #[inline]
    pub fn data_end(&self) -> SeqNum {
        self.data_start() + self.buf.len()
    }

    /// Bytes (and SYN/FIN) sent and not yet acknowledged: FlightSize of RFC 5681.
    #[inline]
    pub fn flight_size(&self) -> u32 {
        self.max.since(self.una)
    }

    /// True when something sent is not acknowledged yet.
    #[inline]
    pub fn has_outstanding(&self) -> bool {
        self.max != self.una
    }

    /// Queued bytes from `seq` to the end of the buffer.
    #[inline]
    pub fn queued_from(&self, seq: SeqNum) -> usize {
        let end = self.data_end();
        if seq < end {
            end.since(seq) as usize
        } else {
            0
        }
    }

    /// Takes `window` (already scaled, or a SYN's unscaled field: RFC 7323 §2.2) as the
    /// peer's window, from the segment `seq` acknowledging `ack` (SND.WL1, SND.WL2).
    pub fn update_window(&mut self, window: u32, seq: SeqNum, ack: SeqNum) {
        self.wnd = window;
        self.max_wnd = self.max_wnd.max(window);
        self.wl1 = seq;
        self.wl2 = ack;
    }
}
