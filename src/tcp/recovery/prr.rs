//! Proportional Rate Reduction (RFC 6937): how much may be sent during loss recovery, so
//! the amount in flight falls smoothly to the slow-start threshold instead of halving at
//! once (a stall) or not at all (more loss).

/// PRR state of one recovery episode.
#[derive(Clone, Debug, Default)]
pub struct Prr {
    /// RecoverFS: bytes in flight when recovery began.
    recover_fs: u32,
    /// prr_delivered: bytes the receiver got since recovery began.
    delivered: u32,
    /// prr_out: bytes sent since recovery began.
    out: u32,
    ssthresh: u32,
    /// What may still be sent before the next ACK.
    allowance: u32,
}

impl Prr {
    /// Recovery begins with `flight` bytes outstanding and the controller's new `ssthresh`.
    pub fn start(&mut self, flight: u32, ssthresh: u32) {
        *self = Prr {
            recover_fs: flight.max(1),
            ssthresh,
            ..Prr::default()
        };
    }

    /// An ACK delivered `delivered` bytes with `pipe` bytes still in flight: RFC 6937 §3.1.
    /// Above ssthresh the sending rate is the delivery rate scaled by ssthresh/RecoverFS;
    /// at or below it, slow-start-like reduction bound (PRR-SSRB) refills towards ssthresh.
    /// The first retransmission of an episode may always go (at least one segment).
    pub fn on_ack(&mut self, delivered: u32, pipe: u32, smss: u32) {
        self.delivered = self.delivered.saturating_add(delivered);
        let sndcnt = if pipe > self.ssthresh {
            let target = (u64::from(self.delivered) * u64::from(self.ssthresh))
                .div_ceil(u64::from(self.recover_fs));
            (target as u32).saturating_sub(self.out)
        } else {
            let limit = self.delivered.saturating_sub(self.out).max(delivered) + smss;
            (self.ssthresh - pipe).min(limit)
        };
        self.allowance = if self.out == 0 {
            sndcnt.max(smss)
        } else {
            sndcnt
        };
    }

    /// Bytes that may be sent now.
    pub fn allowance(&self) -> u32 {
        self.allowance
    }

    /// `len` bytes were sent during recovery.
    pub fn on_send(&mut self, len: u32) {
        self.out = self.out.saturating_add(len);
        self.allowance = self.allowance.saturating_sub(len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSS: u32 = 1000;

    #[test]
    fn above_ssthresh_the_rate_is_scaled_down() {
        // 20 segments in flight, ssthresh 10 (a halving): one segment out per two delivered.
        let mut prr = Prr::default();
        prr.start(20 * MSS, 10 * MSS);
        prr.on_ack(MSS, 19 * MSS, MSS);
        assert_eq!(
            prr.allowance(),
            MSS,
            "the first retransmission goes at once"
        );
        prr.on_send(MSS);
        prr.on_ack(MSS, 18 * MSS, MSS);
        assert_eq!(prr.allowance(), 0);
        prr.on_ack(MSS, 17 * MSS, MSS);
        assert_eq!(prr.allowance(), 500);
        prr.on_ack(MSS, 16 * MSS, MSS);
        assert_eq!(prr.allowance(), MSS);
    }

    #[test]
    fn below_ssthresh_it_refills_no_faster_than_slow_start() {
        let mut prr = Prr::default();
        prr.start(20 * MSS, 10 * MSS);
        prr.on_send(MSS);
        // Much was lost: 4 segments in flight, an ACK delivering one.
        prr.on_ack(MSS, 4 * MSS, MSS);
        // limit = max(1000 - 1000, 1000) + 1000 = 2000; ssthresh - pipe = 6000.
        assert_eq!(prr.allowance(), 2 * MSS);
    }
}
