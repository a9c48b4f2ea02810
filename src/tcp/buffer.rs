//! Byte rings for the send and receive buffers, and the out-of-order assembler.
//!
//! Storage is allocated on first use and can be released when empty, so an idle connection
//! holds no buffer memory (the goal: ≤ 1 KiB of control state per idle connection). Capacity
//! is fixed at creation: nothing grows without bound.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crossbeam::queue::ArrayQueue;

use crate::wire::SeqNum;

/// A bounded stock of equal-sized buffers, shared by the connections of one stack: a ring
/// takes its storage from here on first use and gives it back when it releases it, so opening
/// a connection does not zero a fresh buffer, and memory stays bounded (at most `capacity`
/// idle buffers are kept; more are freed).
///
/// It also counts the buffers taken and not yet given back ([`BufferPool::in_use`]): the
/// payload memory the connections hold, which the stack's admission limit reads
/// (`StackConfig::buffer_memory_limit`). Counting at the two points where storage changes
/// hands keeps the count right whenever a ring chooses to give its storage back.
#[derive(Debug)]
pub struct BufferPool {
    size: usize,
    free: ArrayQueue<Box<[u8]>>,
    /// Buffers taken and not given back. Atomic only because the pool is `Sync`: one stack
    /// (one thread) takes and gives, so the count is never contended.
    in_use: AtomicUsize,
}

impl BufferPool {
    pub fn new(size: usize, capacity: usize) -> Arc<BufferPool> {
        Arc::new(BufferPool {
            size,
            free: ArrayQueue::new(capacity.max(1)),
            in_use: AtomicUsize::new(0),
        })
    }

    /// Buffers taken by rings and not given back yet.
    pub fn in_use(&self) -> usize {
        self.in_use.load(Ordering::Relaxed)
    }

    /// Bytes of the buffers taken and not given back: [`BufferPool::in_use`] buffers.
    pub fn in_use_bytes(&self) -> usize {
        self.in_use() * self.size
    }

    /// Size of the buffers it holds.
    pub fn buffer_size(&self) -> usize {
        self.size
    }

    /// Buffers waiting for reuse.
    pub fn idle(&self) -> usize {
        self.free.len()
    }

    fn take(&self) -> Box<[u8]> {
        self.in_use.fetch_add(1, Ordering::Relaxed);
        self.free
            .pop()
            .unwrap_or_else(|| vec![0u8; self.size].into_boxed_slice())
    }

    /// Takes back a buffer [`BufferPool::take`] handed out.
    fn give(&self, buffer: Box<[u8]>) {
        self.in_use.fetch_sub(1, Ordering::Relaxed);
        if buffer.len() == self.size {
            let _ = self.free.push(buffer); // a full stock frees the buffer
        }
    }
}

/// A fixed-capacity byte ring whose storage is allocated lazily.
///
/// Bytes `[0, len)` (counted from `head`) are "committed"; the receive side may also write
/// bytes beyond `len` (out-of-order data) and commit them later.
#[derive(Debug)]
pub struct RingBuffer {
    storage: Box<[u8]>,
    capacity: usize,
    head: usize,
    len: usize,
    pool: Option<Arc<BufferPool>>,
}

impl RingBuffer {
    /// An empty ring of `capacity` bytes; nothing is allocated yet.
    pub fn new(capacity: usize) -> RingBuffer {
        RingBuffer {
            storage: Box::default(),
            capacity,
            head: 0,
            len: 0,
            pool: None,
        }
    }

    /// Takes storage from (and returns it to) `pool`, if its buffers have our capacity and
    /// no storage is held yet (what the pool counts as in use is only what it handed out).
    pub fn set_pool(&mut self, pool: Arc<BufferPool>) {
        if pool.buffer_size() == self.capacity && !self.is_allocated() {
            self.pool = Some(pool);
        }
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Committed bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Room after the committed bytes.
    pub fn free(&self) -> usize {
        self.capacity - self.len
    }

    /// True when storage is allocated.
    pub fn is_allocated(&self) -> bool {
        !self.storage.is_empty()
    }

    /// `index` (below twice the capacity) folded into the ring: a compare and a subtract
    /// instead of a 64-bit division on every read and write.
    #[inline]
    fn wrap(&self, index: usize) -> usize {
        debug_assert!(index < 2 * self.capacity.max(1));
        if index >= self.capacity {
            index - self.capacity
        } else {
            index
        }
    }

    fn allocate(&mut self) {
        if self.storage.is_empty() && self.capacity > 0 {
            self.storage = match &self.pool {
                Some(pool) => pool.take(),
                None => vec![0u8; self.capacity].into_boxed_slice(),
            };
            self.head = 0;
        }
    }

    fn give_back(&mut self) {
        let storage = std::mem::take(&mut self.storage);
        if let (Some(pool), false) = (&self.pool, storage.is_empty()) {
            pool.give(storage);
        }
    }

    /// Frees the storage if nothing is committed. The caller must know that no uncommitted
    /// (out-of-order) bytes are stored either.
    pub fn release_if_empty(&mut self) {
        if self.len == 0 {
            self.give_back();
            self.head = 0;
        }
    }

    /// Copies `data` into the ring at `offset` bytes past the committed bytes, without
    /// committing it. Returns how many bytes fit (data past the capacity is cut off).
    pub fn write_uncommitted(&mut self, offset: usize, data: &[u8]) -> usize {
        if offset >= self.free() {
            return 0;
        }
        let n = data.len().min(self.free() - offset);
        if n == 0 {
            return 0;
        }
        self.allocate();
        let start = self.wrap(self.head + self.len + offset);
        let first = n.min(self.capacity - start);
        self.storage[start..start + first].copy_from_slice(&data[..first]);
        if first < n {
            // The ring wraps: the rest goes to its start (skipped otherwise, as a copy of
            // nothing still costs a call into memcpy).
            self.storage[..n - first].copy_from_slice(&data[first..n]);
        }
        n
    }

    /// Commits `n` bytes previously written past the committed bytes.
    pub fn commit(&mut self, n: usize) {
        debug_assert!(n <= self.free());
        self.len += n.min(self.free());
    }

    /// Appends as much of `data` as fits and commits it. Returns the number of bytes taken.
    pub fn push(&mut self, data: &[u8]) -> usize {
        let n = self.write_uncommitted(0, data);
        self.commit(n);
        n
    }

    /// The committed bytes starting at `offset`, as up to two slices (the ring may wrap).
    pub fn slices_from(&self, offset: usize) -> (&[u8], &[u8]) {
        if offset >= self.len {
            return (&[], &[]);
        }
        let n = self.len - offset;
        let start = self.wrap(self.head + offset);
        let first = n.min(self.capacity - start);
        (
            &self.storage[start..start + first],
            &self.storage[..n - first],
        )
    }

    /// Copies committed bytes from `offset` into `out`; returns the count copied.
    pub fn read_at(&self, offset: usize, out: &mut [u8]) -> usize {
        let (a, b) = self.slices_from(offset);
        let n1 = a.len().min(out.len());
        out[..n1].copy_from_slice(&a[..n1]);
        let n2 = b.len().min(out.len() - n1);
        if n2 > 0 {
            out[n1..n1 + n2].copy_from_slice(&b[..n2]);
        }
        n1 + n2
    }

    /// Drops `n` committed bytes from the front.
    pub fn consume(&mut self, n: usize) {
        let n = n.min(self.len);
        if n == 0 {
            return;
        }
        // The head is not reset when the ring empties: uncommitted (out-of-order) bytes
        // may be stored past it and must stay where they are.
        self.head = self.wrap(self.head + n);
        self.len -= n;
    }
}

impl Drop for RingBuffer {
    fn drop(&mut self) {
        self.give_back();
    }
}

/// Out-of-order sequence ranges held in the receive buffer, sorted and disjoint.
///
/// The number of ranges is fixed (bounded memory under attack: a peer cannot make us track
/// more holes than this); a segment that would need one more range is dropped and will be
/// retransmitted. The range received last is remembered for the first SACK block (RFC 2018 §4).
///
/// The ranges (104 bytes) are allocated when the first out-of-order segment arrives and
/// freed by [`Assembler::release_if_empty`] (when the receive buffer is released), so a
/// connection that sees no reordering or loss pays 8 bytes for them.
#[derive(Debug, Clone, Default)]
pub struct Assembler {
    held: Option<Box<Ranges>>,
}

/// The assembler has no room for another disjoint range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AssemblerFull;

/// Most disjoint out-of-order ranges tracked.
const MAX_RANGES: usize = 8;

impl Assembler {
    /// Most disjoint out-of-order ranges tracked.
    pub const MAX_RANGES: usize = MAX_RANGES;

    pub fn is_empty(&self) -> bool {
        self.held.as_ref().is_none_or(|r| r.count == 0)
    }

    /// Bytes of heap the ranges hold now.
    pub fn heap_bytes(&self) -> usize {
        self.held
            .as_ref()
            .map_or(0, |_| std::mem::size_of::<Ranges>())
    }

    pub fn ranges(&self) -> &[(SeqNum, SeqNum)] {
        self.held.as_ref().map_or(&[], |r| r.ranges())
    }

    /// The range that holds the most recently received segment.
    pub fn latest(&self) -> Option<(SeqNum, SeqNum)> {
        self.held.as_ref().and_then(|r| r.latest())
    }

    /// Adds `[start, end)`, merging it with overlapping or adjacent ranges.
    pub fn insert(&mut self, start: SeqNum, end: SeqNum) -> Result<(), AssemblerFull> {
        if start >= end {
            return Ok(());
        }
        self.held
            .get_or_insert_with(Box::default)
            .insert(start, end)
    }

    /// If the first range starts at or before `rcv_nxt`, removes it and returns its end.
    pub fn pop_front_reached(&mut self, rcv_nxt: SeqNum) -> Option<SeqNum> {
        self.held.as_mut()?.pop_front_reached(rcv_nxt)
    }

    /// Forgets every range and frees their storage.
    pub fn clear(&mut self) {
        self.held = None;
    }

    /// Frees the storage if no range is held.
    pub fn release_if_empty(&mut self) {
        if self.is_empty() {
            self.held = None;
        }
    }

    /// The range that holds `[start, end)` whole, if any.
    pub fn containing(&self, start: SeqNum, end: SeqNum) -> Option<(SeqNum, SeqNum)> {
        self.held.as_ref().and_then(|r| r.containing(start, end))
    }

    /// The ranges, most recently changed first (the order of SACK blocks, RFC 2018 §4), in
    /// a fixed array with their count: no allocation on the path that builds every ACK.
    pub fn by_recency(&self) -> ([(SeqNum, SeqNum); MAX_RANGES], usize) {
        match &self.held {
            Some(r) => r.by_recency(),
            None => ([(SeqNum(0), SeqNum(0)); MAX_RANGES], 0),
        }
    }
}

/// The ranges of an [`Assembler`] that holds some, sorted and disjoint.
#[derive(Debug, Clone, Default)]
struct Ranges {
    ranges: [(SeqNum, SeqNum); MAX_RANGES],
    /// When each range last grew, as a count of insertions: the order SACK blocks are
    /// reported in (RFC 2018 §4: most recently changed first).
    updated: [u32; MAX_RANGES],
    count: u8,
    insertions: u32,
    /// Index of the range that holds the most recently received segment.
    latest: Option<u8>,
}

impl Ranges {
    fn ranges(&self) -> &[(SeqNum, SeqNum)] {
        &self.ranges[..usize::from(self.count)]
    }

    /// The range that holds the most recently received segment.
    fn latest(&self) -> Option<(SeqNum, SeqNum)> {
        self.latest.map(|i| self.ranges[usize::from(i)])
    }

    /// Adds `[start, end)`, merging it with overlapping or adjacent ranges.
    fn insert(&mut self, start: SeqNum, end: SeqNum) -> Result<(), AssemblerFull> {
        if start >= end {
            return Ok(());
        }
        let count = usize::from(self.count);
        // First range whose end reaches `start` (could merge or lies after).
        let first = self.ranges[..count]
            .iter()
            .position(|&(_, e)| e >= start)
            .unwrap_or(count);
        // Ranges [first, last) overlap or touch the new one.
        let mut last = first;
        let (mut new_start, mut new_end) = (start, end);
        while last < count && self.ranges[last].0 <= end {
            new_start = new_start.min(self.ranges[last].0);
            new_end = new_end.max(self.ranges[last].1);
            last += 1;
        }
        let merged = last - first;
        if merged == 0 {
            if count == MAX_RANGES {
                return Err(AssemblerFull);
            }
            self.ranges.copy_within(first..count, first + 1);
            self.updated.copy_within(first..count, first + 1);
            self.count += 1;
        } else if merged > 1 {
            self.ranges.copy_within(last..count, first + 1);
            self.updated.copy_within(last..count, first + 1);
            self.count -= (merged - 1) as u8;
        }
        self.insertions = self.insertions.wrapping_add(1);
        self.ranges[first] = (new_start, new_end);
        self.updated[first] = self.insertions;
        self.latest = Some(first as u8);
        Ok(())
    }

    /// If the first range starts at or before `rcv_nxt`, removes it and returns its end.
    fn pop_front_reached(&mut self, rcv_nxt: SeqNum) -> Option<SeqNum> {
        if self.count == 0 || self.ranges[0].0 > rcv_nxt {
            return None;
        }
        let end = self.ranges[0].1;
        let count = usize::from(self.count);
        self.ranges.copy_within(1..count, 0);
        self.updated.copy_within(1..count, 0);
        self.count -= 1;
        self.latest = match self.latest {
            Some(0) | None => None,
            Some(i) => Some(i - 1),
        };
        Some(end)
    }

    /// The range that holds `[start, end)` whole, if any.
    fn containing(&self, start: SeqNum, end: SeqNum) -> Option<(SeqNum, SeqNum)> {
        self.ranges()
            .iter()
            .copied()
            .find(|&(s, e)| s <= start && end <= e)
    }

    /// The ranges, most recently changed first (the order of SACK blocks, RFC 2018 §4), in
    /// a fixed array with their count: no allocation on the path that builds every ACK.
    fn by_recency(&self) -> ([(SeqNum, SeqNum); MAX_RANGES], usize) {
        let count = usize::from(self.count);
        let mut order = [0usize; MAX_RANGES];
        for (i, slot) in order.iter_mut().enumerate() {
            *slot = i;
        }
        // Wrapping stamps: the most recent is the smallest distance back from the last one.
        order[..count].sort_unstable_by_key(|&i| self.insertions.wrapping_sub(self.updated[i]));
        let mut ranges = [(SeqNum(0), SeqNum(0)); MAX_RANGES];
        for (slot, &i) in ranges.iter_mut().zip(&order[..count]) {
            *slot = self.ranges[i];
        }
        (ranges, count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ring_wraps_and_reads_back() {
        let mut r = RingBuffer::new(8);
        assert!(!r.is_allocated());
        assert_eq!(r.push(b"abcdef"), 6);
        assert!(r.is_allocated());
        r.consume(4);
        assert_eq!(r.push(b"ghijkl"), 6);
        assert_eq!(r.len(), 8);
        assert_eq!(r.push(b"x"), 0);
        let mut out = [0u8; 8];
        assert_eq!(r.read_at(0, &mut out), 8);
        assert_eq!(&out, b"efghijkl");
        let (a, b) = r.slices_from(1);
        assert_eq!([a, b].concat(), b"fghijkl");
        r.consume(8);
        r.release_if_empty();
        assert!(!r.is_allocated());
    }

    #[test]
    fn ring_uncommitted_writes_commit_in_order() {
        let mut r = RingBuffer::new(10);
        assert_eq!(r.write_uncommitted(3, b"def"), 3);
        assert_eq!(r.write_uncommitted(0, b"abc"), 3);
        r.commit(6);
        assert_eq!(r.write_uncommitted(2, b"xyzw"), 2);
        let mut out = [0u8; 6];
        r.read_at(0, &mut out);
        assert_eq!(&out, b"abcdef");
    }

    #[test]
    fn reading_everything_keeps_uncommitted_bytes_in_place() {
        // Out-of-order bytes stored past the committed ones survive the reader draining the
        // committed part (a regression found by the lossy-network property test).
        let mut r = RingBuffer::new(16);
        r.push(b"abcd");
        assert_eq!(r.write_uncommitted(2, b"gh"), 2);
        r.consume(4);
        assert_eq!(r.write_uncommitted(0, b"ef"), 2);
        r.commit(4);
        let mut out = [0u8; 4];
        assert_eq!(r.read_at(0, &mut out), 4);
        assert_eq!(&out, b"efgh");
    }

    #[test]
    fn pooled_storage_is_reused_and_bounded() {
        let pool = BufferPool::new(8, 1);
        let mut a = RingBuffer::new(8);
        a.set_pool(pool.clone());
        a.push(b"abc");
        a.consume(3);
        a.release_if_empty();
        assert_eq!(pool.idle(), 1);
        let mut b = RingBuffer::new(8);
        b.set_pool(pool.clone());
        b.push(b"xy");
        assert_eq!(pool.idle(), 0, "the stock buffer was taken");
        let mut c = RingBuffer::new(8);
        c.set_pool(pool.clone());
        c.push(b"z");
        drop(b);
        drop(c);
        assert_eq!(pool.idle(), 1, "at most `capacity` idle buffers are kept");
        let mut wrong = RingBuffer::new(16);
        wrong.set_pool(pool.clone());
        wrong.push(b"q");
        drop(wrong);
        assert_eq!(pool.idle(), 1);
    }

    #[test]
    fn a_pool_counts_the_buffers_taken_and_not_given_back() {
        let pool = BufferPool::new(8, 1);
        let mut a = RingBuffer::new(8);
        a.set_pool(pool.clone());
        let mut b = RingBuffer::new(8);
        b.set_pool(pool.clone());
        assert_eq!(pool.in_use(), 0, "nothing is taken before the first byte");
        a.push(b"abc");
        b.push(b"d");
        a.push(b"e");
        assert_eq!((pool.in_use(), pool.in_use_bytes()), (2, 16));
        a.consume(4);
        a.release_if_empty();
        assert_eq!(pool.in_use(), 1);
        drop(b); // beyond the stock of one: freed, and no longer in use either
        assert_eq!((pool.in_use(), pool.idle()), (0, 1));
    }

    #[test]
    fn assembler_merges_and_bounds() {
        let mut a = Assembler::default();
        let s = |x: u32| SeqNum(x);
        a.insert(s(10), s(20)).unwrap();
        a.insert(s(30), s(40)).unwrap();
        a.insert(s(20), s(30)).unwrap();
        assert_eq!(a.ranges(), &[(s(10), s(40))]);
        for i in 0..7u32 {
            a.insert(s(100 + i * 10), s(105 + i * 10)).unwrap();
        }
        assert_eq!(a.ranges().len(), Assembler::MAX_RANGES);
        assert_eq!(a.insert(s(50), s(55)), Err(AssemblerFull));
        // Merging into an existing range still works when full.
        a.insert(s(5), s(12)).unwrap();
        assert_eq!(a.latest(), Some((s(5), s(40))));
        assert_eq!(a.pop_front_reached(s(4)), None);
        assert_eq!(a.pop_front_reached(s(5)), Some(s(40)));
        assert_eq!(a.latest(), None);
    }

    #[test]
    fn assembler_across_wrap() {
        let mut a = Assembler::default();
        let base = SeqNum(u32::MAX - 5);
        a.insert(base + 10u32, base + 20u32).unwrap();
        a.insert(base, base + 10u32).unwrap();
        assert_eq!(a.ranges(), &[(base, base + 20u32)]);
    }

    proptest! {
        /// Any insertion order of any ranges yields the same coverage as a bitmap.
        #[test]
        fn assembler_matches_bitmap(ranges in proptest::collection::vec((0u32..200, 1u32..20), 1..30)) {
            let base = SeqNum(u32::MAX - 100);
            let mut a = Assembler::default();
            let mut bitmap = [false; 220];
            for (start, len) in ranges {
                if a.insert(base + start, base + start + len).is_ok() {
                    for b in &mut bitmap[start as usize..(start + len) as usize] {
                        *b = true;
                    }
                }
            }
            let mut from_ranges = [false; 220];
            let mut prev_end: Option<SeqNum> = None;
            for &(s, e) in a.ranges() {
                prop_assert!(s < e);
                if let Some(p) = prev_end {
                    prop_assert!(p < s, "ranges must be disjoint and non-adjacent");
                }
                prev_end = Some(e);
                for b in &mut from_ranges[s.since(base) as usize..e.since(base) as usize] {
                    *b = true;
                }
            }
            prop_assert_eq!(&bitmap[..], &from_ranges[..]);
        }
    }
}
