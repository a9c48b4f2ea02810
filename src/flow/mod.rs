//! Flow keys and the per-worker flow table.
//!
//! The table is open addressing with linear probing and backward-shift deletion (no
//! tombstones), sized once at creation to at least twice the connection limit, so a lookup
//! touches one or two cache lines and nothing is allocated per packet. The hash is seeded from
//! the stack's secret so a remote peer cannot aim 4-tuples at one probe chain.

mod rss;
mod toeplitz;

pub use rss::{RssSteering, RssUnusable};
pub use toeplitz::{tcp4_input, Toeplitz};

use std::hash::BuildHasher;
use std::net::{Ipv4Addr, SocketAddrV4};

/// A connection's 4-tuple, from this host's point of view.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct FlowKey {
    pub local_ip: Ipv4Addr,
    pub local_port: u16,
    pub remote_ip: Ipv4Addr,
    pub remote_port: u16,
}

impl FlowKey {
    pub fn new(local: SocketAddrV4, remote: SocketAddrV4) -> FlowKey {
        FlowKey {
            local_ip: *local.ip(),
            local_port: local.port(),
            remote_ip: *remote.ip(),
            remote_port: remote.port(),
        }
    }

    /// The four fields in one integer: hashed with one multiply rather than field by field
    /// (the lookup is on every received frame).
    #[inline]
    pub fn packed(&self) -> u128 {
        (u128::from(self.local_ip.to_bits()) << 64)
            | (u128::from(self.local_port) << 48)
            | (u128::from(self.remote_ip.to_bits()) << 16)
            | u128::from(self.remote_port)
    }

    pub fn local(&self) -> SocketAddrV4 {
        SocketAddrV4::new(self.local_ip, self.local_port)
    }

    pub fn remote(&self) -> SocketAddrV4 {
        SocketAddrV4::new(self.remote_ip, self.remote_port)
    }
}

/// The table is at its fixed capacity.
#[derive(Copy, Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("flow table full ({capacity} flows)")]
pub struct FlowTableFull {
    pub capacity: usize,
}

#[derive(Copy, Clone)]
struct Slot<V: Copy> {
    key: FlowKey,
    value: V,
    occupied: bool,
}

/// A fixed-capacity map from [`FlowKey`] to a small copyable value (a connection handle).
pub struct FlowTable<V: Copy + Default> {
    slots: Box<[Slot<V>]>,
    mask: usize,
    len: usize,
    capacity: usize,
    hasher: foldhash::fast::FixedState,
}

impl<V: Copy + Default> std::fmt::Debug for FlowTable<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlowTable")
            .field("len", &self.len)
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl<V: Copy + Default> FlowTable<V> {
    /// A table for up to `capacity` flows, hashing with `seed`.
    pub fn new(capacity: usize, seed: u64) -> FlowTable<V> {
        let slots = (capacity.max(1) * 2).next_power_of_two();
        let empty = Slot {
            key: FlowKey {
                local_ip: Ipv4Addr::UNSPECIFIED,
                local_port: 0,
                remote_ip: Ipv4Addr::UNSPECIFIED,
                remote_port: 0,
            },
            value: V::default(),
            occupied: false,
        };
        FlowTable {
            slots: vec![empty; slots].into_boxed_slice(),
            mask: slots - 1,
            len: 0,
            capacity,
            hasher: foldhash::fast::FixedState::with_seed(seed),
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// Bytes its slots take (allocated once, at creation).
    pub fn memory_bytes(&self) -> usize {
        self.slots.len() * std::mem::size_of::<Slot<V>>()
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    #[inline]
    fn home(&self, key: &FlowKey) -> usize {
        self.hasher.hash_one(key.packed()) as usize & self.mask
    }

    /// Index of the slot holding `key`.
    #[inline]
    fn find(&self, key: &FlowKey) -> Option<usize> {
        let mut i = self.home(key);
        loop {
            let slot = &self.slots[i];
            if !slot.occupied {
                return None;
            }
            if slot.key == *key {
                return Some(i);
            }
            i = (i + 1) & self.mask;
        }
    }

    /// The value stored for `key`.
    #[inline]
    pub fn get(&self, key: &FlowKey) -> Option<V> {
        self.find(key).map(|i| self.slots[i].value)
    }

    /// Inserts or replaces the value for `key`.
    pub fn insert(&mut self, key: FlowKey, value: V) -> Result<(), FlowTableFull> {
        let mut i = self.home(&key);
        loop {
            let slot = &mut self.slots[i];
            if !slot.occupied {
                if self.len == self.capacity {
                    return Err(FlowTableFull {
                        capacity: self.capacity,
                    });
                }
                *slot = Slot {
                    key,
                    value,
                    occupied: true,
                };
                self.len += 1;
                return Ok(());
            }
            if slot.key == key {
                slot.value = value;
                return Ok(());
            }
            i = (i + 1) & self.mask;
        }
    }

    /// Removes `key`, shifting later entries of its probe chain back (no tombstones).
    pub fn remove(&mut self, key: &FlowKey) -> Option<V> {
        let i = self.find(key)?;
        let value = self.slots[i].value;
        // Backward-shift deletion: move each following entry into the hole if its home slot
        // does not lie (cyclically) between the hole and its current position.
        let mut hole = i;
        let mut j = (i + 1) & self.mask;
        while self.slots[j].occupied {
            let home = self.home(&self.slots[j].key);
            let distance_from_home = j.wrapping_sub(home) & self.mask;
            let distance_from_hole = j.wrapping_sub(hole) & self.mask;
            if distance_from_home >= distance_from_hole {
                self.slots[hole] = self.slots[j];
                hole = j;
            }
            j = (j + 1) & self.mask;
        }
        self.slots[hole].occupied = false;
        self.len -= 1;
        Some(value)
    }

    /// Every stored (key, value) pair, in table order.
    pub fn iter(&self) -> impl Iterator<Item = (FlowKey, V)> + '_ {
        self.slots
            .iter()
            .filter(|s| s.occupied)
            .map(|s| (s.key, s.value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    fn key(n: u32) -> FlowKey {
        FlowKey {
            local_ip: Ipv4Addr::new(10, 0, 0, 1),
            local_port: 80,
            remote_ip: Ipv4Addr::from(0x0a00_0000 | (n >> 16)),
            remote_port: n as u16,
        }
    }

    #[test]
    fn insert_get_remove_and_capacity() {
        let mut t: FlowTable<u32> = FlowTable::new(4, 1);
        for n in 0..4 {
            t.insert(key(n), n + 100).unwrap();
        }
        assert_eq!(t.insert(key(9), 9), Err(FlowTableFull { capacity: 4 }));
        t.insert(key(2), 7).unwrap(); // replacing is not growing
        assert_eq!(t.get(&key(2)), Some(7));
        assert_eq!(t.remove(&key(2)), Some(7));
        assert_eq!(t.get(&key(2)), None);
        assert_eq!(t.remove(&key(2)), None);
        t.insert(key(9), 9).unwrap();
        assert_eq!(t.len(), 4);
        assert_eq!(t.iter().count(), 4);
    }

    proptest! {
        /// Any sequence of inserts and removes agrees with a HashMap.
        #[test]
        fn matches_hashmap(ops in proptest::collection::vec((any::<bool>(), 0u32..64), 1..400), seed: u64) {
            let mut t: FlowTable<u32> = FlowTable::new(64, seed);
            let mut m = HashMap::new();
            for (i, (insert, n)) in ops.into_iter().enumerate() {
                if insert {
                    t.insert(key(n), i as u32).unwrap();
                    m.insert(key(n), i as u32);
                } else {
                    prop_assert_eq!(t.remove(&key(n)), m.remove(&key(n)));
                }
                prop_assert_eq!(t.len(), m.len());
            }
            for n in 0..64 {
                prop_assert_eq!(t.get(&key(n)), m.get(&key(n)).copied());
            }
        }
    }
}
