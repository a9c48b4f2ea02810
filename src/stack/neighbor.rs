//! The neighbour (ARP) cache: IPv4 next hop → MAC address, bounded in size.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::time::Duration;

use crate::time::Instant;
use crate::wire::MacAddr;

#[derive(Copy, Clone, Debug)]
struct Entry {
    mac: Option<MacAddr>,
    last_request: Option<Instant>,
}

/// Resolved neighbours and outstanding requests. When full, a new entry replaces an
/// unresolved one first, else an arbitrary one (it is re-learned on demand).
/// Looked up for every frame sent: hashed with foldhash (a few instructions for an IPv4
/// address, where SipHash takes dozens), seeded per stack.
#[derive(Debug)]
pub struct NeighborCache {
    entries: HashMap<Ipv4Addr, Entry, foldhash::fast::FixedState>,
    capacity: usize,
}

impl NeighborCache {
    pub fn new(capacity: usize, seed: u64) -> NeighborCache {
        NeighborCache {
            entries: HashMap::with_capacity_and_hasher(
                capacity.min(1024),
                foldhash::fast::FixedState::with_seed(seed),
            ),
            capacity: capacity.max(1),
        }
    }

    pub fn lookup(&self, ip: Ipv4Addr) -> Option<MacAddr> {
        self.entries.get(&ip).and_then(|e| e.mac)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn make_room(&mut self) {
        if self.entries.len() < self.capacity {
            return;
        }
        let victim = self
            .entries
            .iter()
            .find(|(_, e)| e.mac.is_none())
            .or_else(|| self.entries.iter().next())
            .map(|(ip, _)| *ip);
        if let Some(ip) = victim {
            self.entries.remove(&ip);
        }
    }

    /// Records `ip` at `mac`; returns true if that is new or changed.
    pub fn insert(&mut self, ip: Ipv4Addr, mac: MacAddr) -> bool {
        if let Some(e) = self.entries.get_mut(&ip) {
            let changed = e.mac != Some(mac);
            e.mac = Some(mac);
            return changed;
        }
        self.make_room();
        self.entries.insert(
            ip,
            Entry {
                mac: Some(mac),
                last_request: None,
            },
        );
        true
    }

    /// True if a request for `ip` should go out now (none sent within `interval`).
    pub fn should_request(&mut self, ip: Ipv4Addr, now: Instant, interval: Duration) -> bool {
        if !self.entries.contains_key(&ip) {
            self.make_room();
        }
        let e = self.entries.entry(ip).or_insert(Entry {
            mac: None,
            last_request: None,
        });
        match e.last_request {
            Some(at) if now.saturating_duration_since(at) < interval => false,
            _ => {
                e.last_request = Some(now);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learn_request_and_bound() {
        let mut c = NeighborCache::new(2, 7);
        let ip = |n| Ipv4Addr::new(10, 0, 0, n);
        assert!(c.should_request(ip(1), Instant::ZERO, Duration::from_secs(1)));
        assert!(!c.should_request(ip(1), Instant::from_millis(500), Duration::from_secs(1)));
        assert!(c.should_request(ip(1), Instant::from_millis(1000), Duration::from_secs(1)));
        assert!(c.insert(ip(2), MacAddr([2; 6])));
        assert!(!c.insert(ip(2), MacAddr([2; 6])));
        // Full: the unresolved entry for .1 makes way.
        assert!(c.insert(ip(3), MacAddr([3; 6])));
        assert_eq!(c.len(), 2);
        assert_eq!(c.lookup(ip(1)), None);
        assert_eq!(c.lookup(ip(2)), Some(MacAddr([2; 6])));
    }
}
