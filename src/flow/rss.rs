//! Which receive queue the NIC delivers a flow's frames to, predicted from its RSS
//! configuration (the hash key and indirection table `ethtool -x` shows): the queue is the
//! indirection table's entry at the Toeplitz hash of the frame's 4-tuple, modulo the table's
//! size (the hardware indexes it by the hash's low bits; tables are powers of two).
//!
//! An active open that picks a source port whose replies hash to its own queue never needs
//! a hand-off between workers (as mTCP and F-Stack do).

use super::toeplitz::{tcp4_input, Toeplitz};
use super::FlowKey;

/// Why an RSS configuration cannot be used to predict queues.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RssUnusable {
    #[error("the RSS hash key is {0} bytes: too short for an IPv4 4-tuple")]
    ShortKey(usize),
    #[error("the RSS indirection table is empty")]
    NoIndirectionTable,
}

/// The NIC's RSS configuration, for Toeplitz-hashed TCP over IPv4 on addresses and ports.
#[derive(Debug)]
pub struct RssSteering {
    toeplitz: Toeplitz,
    /// The queue of each indirection table entry.
    indirection: Box<[u32]>,
}

impl RssSteering {
    /// The steering `key` and `indirection` describe.
    pub fn new(key: &[u8], indirection: &[u32]) -> Result<RssSteering, RssUnusable> {
        let toeplitz = Toeplitz::new(key)
            .filter(|t| t.max_input() >= 12)
            .ok_or(RssUnusable::ShortKey(key.len()))?;
        if indirection.is_empty() {
            return Err(RssUnusable::NoIndirectionTable);
        }
        Ok(RssSteering {
            toeplitz,
            indirection: indirection.into(),
        })
    }

    /// The highest queue the indirection table sends traffic to.
    pub fn highest_queue(&self) -> u32 {
        self.indirection.iter().copied().max().unwrap_or(0)
    }

    /// The queue a TCP segment from `src` to `dst` is received on.
    #[inline]
    pub fn queue_of(&self, src: std::net::SocketAddrV4, dst: std::net::SocketAddrV4) -> u32 {
        let hash = self.toeplitz.hash(&tcp4_input(src, dst));
        self.indirection[hash as usize % self.indirection.len()]
    }

    /// The queue the peer's segments of the flow `key` (ours, from this host's side) are
    /// received on.
    #[inline]
    pub fn reply_queue(&self, key: &FlowKey) -> u32 {
        self.queue_of(key.remote(), key.local())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddrV4;

    use crate::flow::toeplitz::tests::VERIFICATION_KEY as KEY;

    #[test]
    fn the_queue_is_the_indirection_entry_at_the_hash() {
        // 66.9.149.187:2794 → 161.142.100.80:1766 hashes to 0x51ccc178 (the verification
        // suite's first vector): entry 0x78 of a 128-entry table.
        let mut table = vec![0u32; 128];
        table[0x78] = 3;
        let rss = RssSteering::new(&KEY, &table).unwrap();
        assert_eq!(rss.highest_queue(), 3);
        let (src, dst): (SocketAddrV4, SocketAddrV4) = (
            "66.9.149.187:2794".parse().unwrap(),
            "161.142.100.80:1766".parse().unwrap(),
        );
        assert_eq!(rss.queue_of(src, dst), 3);
        let ours = FlowKey::new(dst, src);
        assert_eq!(rss.reply_queue(&ours), 3, "the peer's segments of our flow");
    }

    #[test]
    fn a_short_key_or_an_empty_table_is_refused() {
        assert_eq!(
            RssSteering::new(&KEY[..15], &[0]).unwrap_err(),
            RssUnusable::ShortKey(15)
        );
        assert_eq!(
            RssSteering::new(&KEY, &[]).unwrap_err(),
            RssUnusable::NoIndirectionTable
        );
    }

    #[test]
    fn an_even_table_spreads_source_ports_evenly() {
        let table: Vec<u32> = (0..128).map(|i| i % 4).collect();
        let rss = RssSteering::new(&KEY, &table).unwrap();
        let server: SocketAddrV4 = "10.0.0.2:80".parse().unwrap();
        let mut counts = [0u32; 4];
        for port in 61_000..65_000 {
            let local = SocketAddrV4::new("10.0.0.1".parse().unwrap(), port);
            counts[rss.reply_queue(&FlowKey::new(local, server)) as usize] += 1;
        }
        assert!(
            counts.iter().all(|&c| (800..1200).contains(&c)),
            "{counts:?}"
        );
    }
}
