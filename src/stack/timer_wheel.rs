//! A hierarchical timing wheel: one entry per armed timer, O(1) to schedule, move and
//! cancel, so its size is the number of armed timers and nothing else.
//!
//! Time is cut into ticks of 2^18 ns (262 µs). Level 0 has 64 slots of one tick each, level 1
//! 64 slots of 64 ticks, level `l` 64 slots of 64^l ticks; eight levels cover every `Instant`.
//! An entry sits in the level of the highest 6-bit group in which its tick differs from the
//! wheel's current tick: delayed ACKs and retransmission timeouts in the lowest levels, a
//! 60 s TIME-WAIT in level 2, a two-hour keepalive in level 4. When the current tick reaches
//! an upper slot, its entries are placed again, in lower levels (they cascade down).
//!
//! Every entry keeps its exact deadline, and [`TimerWheel::poll`] hands out exactly the
//! entries whose deadline has come: never one early, never one late. Only the wake-up time
//! of [`TimerWheel::next_wakeup`] may be early — it is at or before every deadline held, and
//! after a cancel it may name a time at which nothing is due any more.
//!
//! The entries live in one arena; each slot is a doubly linked list through it (indices, not
//! pointers), so moving or cancelling an entry unlinks it where it is. A [`TimerId`] carries
//! the generation of its arena entry, so the id of a timer that fired or was cancelled does
//! nothing.

use crate::time::Instant;

/// Nanoseconds per tick, as a power of two.
const TICK_SHIFT: u32 = 18;
/// Slots per level, as a power of two.
const SLOT_BITS: u32 = 6;
const SLOTS: usize = 1 << SLOT_BITS;
/// Levels enough for every tick of a 64-bit nanosecond clock: 8 × 6 bits ≥ 64 − 18.
const LEVELS: usize = 8;
/// No entry: the end of a slot's list, or of the free list.
const NIL: u32 = u32::MAX;

/// Names one scheduled timer of a [`TimerWheel`].
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct TimerId {
    index: u32,
    generation: u32,
}

#[derive(Clone, Debug)]
struct Entry<T> {
    deadline: Instant,
    value: T,
    prev: u32,
    /// Next in its slot's list, or in the free list when the entry is free.
    next: u32,
    /// `level * SLOTS + slot`, or `NIL` when the entry is free.
    slot: u32,
    generation: u32,
}

/// Where an entry goes: a level and a slot in it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
struct Place {
    level: usize,
    slot: usize,
}

impl Place {
    fn index(self) -> usize {
        self.level * SLOTS + self.slot
    }

    fn from_index(index: u32) -> Place {
        let index = index as usize;
        Place {
            level: index / SLOTS,
            slot: index % SLOTS,
        }
    }
}

fn tick_of(t: Instant) -> u64 {
    t.as_nanos() >> TICK_SHIFT
}

/// Timers carrying a `T` each (for the stack: the connection they belong to).
#[derive(Clone, Debug)]
pub struct TimerWheel<T: Copy> {
    entries: Vec<Entry<T>>,
    free_head: u32,
    heads: [u32; LEVELS * SLOTS],
    /// Bit `s` of `occupied[l]` is set when slot `s` of level `l` holds an entry.
    occupied: [u64; LEVELS],
    /// The current tick: every entry of an earlier tick has been handed out.
    tick: u64,
    len: usize,
    /// At or before every deadline held; `None` when the wheel is empty.
    wake_at: Option<Instant>,
}

impl<T: Copy> Default for TimerWheel<T> {
    fn default() -> TimerWheel<T> {
        TimerWheel::new()
    }
}

impl<T: Copy> TimerWheel<T> {
    /// Bytes one scheduled entry takes.
    pub const ENTRY_BYTES: usize = std::mem::size_of::<Entry<T>>();
}

impl<T: Copy> TimerWheel<T> {
    pub fn new() -> TimerWheel<T> {
        TimerWheel {
            entries: Vec::new(),
            free_head: NIL,
            heads: [NIL; LEVELS * SLOTS],
            occupied: [0; LEVELS],
            tick: 0,
            len: 0,
            wake_at: None,
        }
    }

    /// Timers scheduled.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// When [`TimerWheel::poll`] must run next: at or before every deadline held. It may be
    /// early (the earliest timer was cancelled or moved, or a far slot is due to cascade).
    pub fn next_wakeup(&self) -> Option<Instant> {
        self.wake_at
    }

    /// The deadline of `id`, if it is still scheduled.
    pub fn deadline(&self, id: TimerId) -> Option<Instant> {
        self.live(id).map(|i| self.entries[i as usize].deadline)
    }

    /// Schedules `value` for `deadline` (a deadline already past fires at the next poll).
    pub fn insert(&mut self, deadline: Instant, value: T) -> TimerId {
        let index = self.allocate(deadline, value);
        self.link(index, self.place(deadline));
        self.len += 1;
        self.lower_wake_at(deadline);
        TimerId {
            index,
            generation: self.entries[index as usize].generation,
        }
    }

    /// Moves `id` to `deadline`. Returns false (and does nothing) if `id` is not scheduled.
    #[inline]
    pub fn reschedule(&mut self, id: TimerId, deadline: Instant) -> bool {
        let Some(index) = self.live(id) else {
            return false;
        };
        let entry = &mut self.entries[index as usize];
        // Within the same tick the entry's slot still covers it (the common case: a timer
        // pushed back by less than a tick); otherwise it may belong elsewhere.
        let same_tick = tick_of(entry.deadline) == tick_of(deadline);
        entry.deadline = deadline;
        if !same_tick {
            self.place_again(index, deadline);
        }
        self.lower_wake_at(deadline);
        true
    }

    /// Removes `id` and returns its value, or `None` if it is not scheduled.
    pub fn cancel(&mut self, id: TimerId) -> Option<T> {
        let index = self.live(id)?;
        self.unlink(index);
        Some(self.release(index))
    }

    /// Moves the value of every timer whose deadline is at or before `now` into `expired`
    /// (appended, earliest slot first) and removes those timers.
    pub fn poll(&mut self, now: Instant, expired: &mut Vec<T>) {
        let now_tick = tick_of(now).max(self.tick);
        while let Some(place) = self.earliest_place() {
            let start = self.slot_start(place);
            if start > now_tick {
                break;
            }
            self.tick = self.tick.max(start);
            if place.level == 0 && start == now_tick {
                // The slot of the current tick: only what is due leaves it.
                self.expire_due(place, now, expired);
                break;
            }
            self.expire_or_cascade(place, now, expired);
        }
        self.tick = now_tick;
        self.wake_at = self.earliest_deadline();
    }

    /// Moves entry `index` to the slot of `deadline` if that is another one.
    #[inline(never)]
    fn place_again(&mut self, index: u32, deadline: Instant) {
        let place = self.place(deadline);
        if self.entries[index as usize].slot != place.index() as u32 {
            self.unlink(index);
            self.link(index, place);
        }
    }

    /// The index of `id`'s entry if `id` is still scheduled.
    fn live(&self, id: TimerId) -> Option<u32> {
        let entry = self.entries.get(id.index as usize)?;
        (entry.generation == id.generation && entry.slot != NIL).then_some(id.index)
    }

    fn lower_wake_at(&mut self, deadline: Instant) {
        self.wake_at = Some(self.wake_at.map_or(deadline, |w| w.min(deadline)));
    }

    /// The slot for `deadline` as seen from the current tick: the level of the highest
    /// 6-bit group in which the two ticks differ. A past deadline goes to the current tick.
    fn place(&self, deadline: Instant) -> Place {
        let tick = tick_of(deadline).max(self.tick);
        let level = ((tick ^ self.tick) | 1).ilog2() / SLOT_BITS;
        Place {
            level: level as usize,
            slot: (tick >> (level * SLOT_BITS)) as usize & (SLOTS - 1),
        }
    }

    /// The first tick of slot `place`, which lies at or after the current tick's group at
    /// that level.
    fn slot_start(&self, place: Place) -> u64 {
        let level_bits = place.level as u32 * SLOT_BITS;
        let above = level_bits + SLOT_BITS;
        let base = if above >= u64::BITS {
            0
        } else {
            self.tick >> above << above
        };
        base | ((place.slot as u64) << level_bits)
    }

    /// The occupied slot whose ticks come first. Slots of a lower level always come before
    /// those of a higher one: an entry is in level `l` only if no lower level spans it.
    fn earliest_place(&self) -> Option<Place> {
        (0..LEVELS).find_map(|level| {
            let current = (self.tick >> (level as u32 * SLOT_BITS)) as usize & (SLOTS - 1);
            let ahead = self.occupied[level] & (u64::MAX << current);
            (ahead != 0).then(|| Place {
                level,
                slot: ahead.trailing_zeros() as usize,
            })
        })
    }

    /// The wake-up time after a poll: the earliest deadline when the first slot is a tick
    /// of level 0, else the first tick of the first slot (where it must cascade).
    fn earliest_deadline(&self) -> Option<Instant> {
        let place = self.earliest_place()?;
        if place.level > 0 {
            return Some(Instant::from_nanos(self.slot_start(place) << TICK_SHIFT));
        }
        let mut earliest = None::<Instant>;
        let mut index = self.heads[place.index()];
        while index != NIL {
            let entry = &self.entries[index as usize];
            earliest = Some(earliest.map_or(entry.deadline, |e| e.min(entry.deadline)));
            index = entry.next;
        }
        earliest
    }

    /// Hands out the due entries of `place` and leaves the others where they are.
    fn expire_due(&mut self, place: Place, now: Instant, expired: &mut Vec<T>) {
        let mut index = self.heads[place.index()];
        while index != NIL {
            let entry = &self.entries[index as usize];
            let next = entry.next;
            if entry.deadline <= now {
                self.unlink(index);
                expired.push(self.release(index));
            }
            index = next;
        }
    }

    /// Empties `place`: each entry is handed out if due, else placed again from the current
    /// tick, which puts it in a lower level.
    fn expire_or_cascade(&mut self, place: Place, now: Instant, expired: &mut Vec<T>) {
        let mut index = std::mem::replace(&mut self.heads[place.index()], NIL);
        self.occupied[place.level] &= !(1u64 << place.slot);
        while index != NIL {
            let entry = &self.entries[index as usize];
            let (next, deadline) = (entry.next, entry.deadline);
            self.entries[index as usize].slot = NIL;
            if deadline <= now {
                expired.push(self.release(index));
            } else {
                self.link(index, self.place(deadline));
            }
            index = next;
        }
    }

    /// An arena entry for a new timer, reused from the free list when there is one.
    fn allocate(&mut self, deadline: Instant, value: T) -> u32 {
        if self.free_head == NIL {
            let index = u32::try_from(self.entries.len()).expect("fewer than 2^32 timers");
            self.entries.push(Entry {
                deadline,
                value,
                prev: NIL,
                next: NIL,
                slot: NIL,
                generation: 0,
            });
            return index;
        }
        let index = self.free_head;
        let entry = &mut self.entries[index as usize];
        self.free_head = entry.next;
        entry.deadline = deadline;
        entry.value = value;
        index
    }

    /// Returns an unlinked entry to the free list (its id goes stale) and gives its value.
    fn release(&mut self, index: u32) -> T {
        let entry = &mut self.entries[index as usize];
        entry.slot = NIL;
        entry.generation = entry.generation.wrapping_add(1);
        entry.prev = NIL;
        entry.next = self.free_head;
        self.free_head = index;
        self.len -= 1;
        if self.len == 0 {
            self.wake_at = None;
        }
        entry.value
    }

    /// Puts entry `index` at the head of `place`'s list.
    fn link(&mut self, index: u32, place: Place) {
        let slot = place.index();
        let head = self.heads[slot];
        if head != NIL {
            self.entries[head as usize].prev = index;
        }
        let entry = &mut self.entries[index as usize];
        entry.prev = NIL;
        entry.next = head;
        entry.slot = slot as u32;
        self.heads[slot] = index;
        self.occupied[place.level] |= 1u64 << place.slot;
    }

    /// Takes entry `index` out of its slot's list (it stays allocated).
    fn unlink(&mut self, index: u32) {
        let Entry {
            prev, next, slot, ..
        } = self.entries[index as usize];
        if prev == NIL {
            self.heads[slot as usize] = next;
            if next == NIL {
                let place = Place::from_index(slot);
                self.occupied[place.level] &= !(1u64 << place.slot);
            }
        } else {
            self.entries[prev as usize].next = next;
        }
        if next != NIL {
            self.entries[next as usize].prev = prev;
        }
        self.entries[index as usize].slot = NIL;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;
    use std::time::Duration;

    fn at(d: Duration) -> Instant {
        Instant::ZERO + d
    }

    fn poll(wheel: &mut TimerWheel<u32>, now: Instant) -> Vec<u32> {
        let mut out = Vec::new();
        wheel.poll(now, &mut out);
        out.sort_unstable();
        out
    }

    #[test]
    fn a_timer_fires_at_its_deadline_and_not_a_nanosecond_before() {
        let mut wheel = TimerWheel::new();
        let deadline = Instant::from_nanos(40_000_123);
        wheel.insert(deadline, 7);
        assert_eq!(wheel.next_wakeup(), Some(deadline));
        assert!(poll(&mut wheel, Instant::from_nanos(40_000_122)).is_empty());
        assert_eq!(wheel.next_wakeup(), Some(deadline));
        assert_eq!(poll(&mut wheel, deadline), vec![7]);
        assert_eq!((wheel.len(), wheel.next_wakeup()), (0, None));
    }

    #[test]
    fn far_deadlines_cascade_down_and_fire_on_time() {
        let keepalive = at(Duration::from_secs(7200));
        let time_wait = at(Duration::from_secs(60));
        let mut wheel = TimerWheel::new();
        wheel.insert(keepalive, 1);
        wheel.insert(time_wait, 2);
        wheel.insert(at(Duration::from_millis(40)), 3);
        // Driven only by its own wake-up times, it never passes a deadline.
        let mut now = Instant::ZERO;
        let mut fired = Vec::new();
        while let Some(wake) = wheel.next_wakeup() {
            assert!(wake > now, "a wake-up at {wake:?} after polling at {now:?}");
            now = wake;
            for value in poll(&mut wheel, now) {
                fired.push((value, now));
            }
        }
        assert_eq!(
            fired,
            vec![
                (3, at(Duration::from_millis(40))),
                (2, time_wait),
                (1, keepalive)
            ]
        );
    }

    #[test]
    fn cancel_and_reschedule_move_one_entry() {
        let mut wheel = TimerWheel::new();
        let a = wheel.insert(at(Duration::from_secs(7200)), 1);
        let b = wheel.insert(at(Duration::from_millis(200)), 2);
        assert!(wheel.reschedule(a, at(Duration::from_millis(40))));
        assert!(wheel.reschedule(a, at(Duration::from_secs(7200))));
        assert_eq!(wheel.len(), 2);
        assert_eq!(wheel.deadline(a), Some(at(Duration::from_secs(7200))));
        assert_eq!(wheel.cancel(b), Some(2));
        assert_eq!(wheel.cancel(b), None, "a cancelled id is stale");
        assert!(!wheel.reschedule(b, at(Duration::from_millis(1))));
        assert_eq!(wheel.len(), 1);
        assert!(poll(&mut wheel, at(Duration::from_secs(7199))).is_empty());
        assert_eq!(poll(&mut wheel, at(Duration::from_secs(7200))), vec![1]);
        assert_eq!(wheel.deadline(a), None, "a fired id is stale");
    }

    #[test]
    fn a_freed_entry_is_reused_under_a_new_generation() {
        let mut wheel = TimerWheel::new();
        let old = wheel.insert(at(Duration::from_millis(5)), 1);
        wheel.cancel(old);
        let new = wheel.insert(at(Duration::from_millis(6)), 2);
        assert_ne!(old, new);
        assert_eq!(wheel.entries.len(), 1, "the arena did not grow");
        assert_eq!(wheel.cancel(old), None);
        assert_eq!(wheel.deadline(new), Some(at(Duration::from_millis(6))));
    }

    #[test]
    fn a_past_deadline_fires_at_the_next_poll() {
        let mut wheel = TimerWheel::new();
        assert!(poll(&mut wheel, at(Duration::from_secs(10))).is_empty());
        wheel.insert(at(Duration::from_secs(1)), 9);
        assert_eq!(wheel.next_wakeup(), Some(at(Duration::from_secs(1))));
        assert_eq!(poll(&mut wheel, at(Duration::from_secs(10))), vec![9]);
    }

    #[derive(Clone, Debug)]
    enum Op {
        Insert(u64),
        Cancel(usize),
        Reschedule(usize, u64),
        Advance(u64),
        AdvanceToWakeup,
    }

    /// Delays from nanoseconds to days and the end of time, so that every level is used.
    fn delay() -> impl Strategy<Value = u64> {
        prop_oneof![
            0u64..1 << 18,
            0u64..1 << 26,
            0u64..1 << 34,
            0u64..1 << 47,
            Just(u64::MAX)
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => delay().prop_map(Op::Insert),
            1 => any::<usize>().prop_map(Op::Cancel),
            2 => (any::<usize>(), delay()).prop_map(|(i, d)| Op::Reschedule(i, d)),
            2 => delay().prop_map(Op::Advance),
            2 => Just(Op::AdvanceToWakeup),
        ]
    }

    proptest! {
        /// Against a map of value → deadline: a poll hands out exactly the timers due (none
        /// late, none early, none lost), cancel and reschedule act on one timer, and the
        /// wake-up is never after the earliest deadline and, after a poll, after `now`.
        #[test]
        fn agrees_with_a_map_of_deadlines(ops in proptest::collection::vec(op(), 1..300)) {
            let mut wheel = TimerWheel::new();
            let mut model: HashMap<u32, (TimerId, Instant)> = HashMap::new();
            let mut now = Instant::ZERO;
            let mut next_value = 0u32;
            let pick = |model: &HashMap<u32, (TimerId, Instant)>, i: usize| {
                let mut keys: Vec<u32> = model.keys().copied().collect();
                keys.sort_unstable();
                (!keys.is_empty()).then(|| keys[i % keys.len()])
            };
            for op in ops {
                let polled = match op {
                    Op::Insert(d) => {
                        let deadline = now.saturating_add_nanos(d);
                        let id = wheel.insert(deadline, next_value);
                        model.insert(next_value, (id, deadline));
                        next_value += 1;
                        false
                    }
                    Op::Cancel(i) => {
                        if let Some(v) = pick(&model, i) {
                            let (id, _) = model.remove(&v).unwrap();
                            prop_assert_eq!(wheel.cancel(id), Some(v));
                        }
                        false
                    }
                    Op::Reschedule(i, d) => {
                        if let Some(v) = pick(&model, i) {
                            let deadline = now.saturating_add_nanos(d);
                            let entry = model.get_mut(&v).unwrap();
                            prop_assert!(wheel.reschedule(entry.0, deadline));
                            entry.1 = deadline;
                        }
                        false
                    }
                    Op::Advance(d) => {
                        now = now.saturating_add_nanos(d);
                        true
                    }
                    Op::AdvanceToWakeup => {
                        now = now.max(wheel.next_wakeup().unwrap_or(now));
                        true
                    }
                };
                if polled {
                    let fired = poll(&mut wheel, now);
                    let mut due: Vec<u32> =
                        model.iter().filter(|(_, (_, d))| *d <= now).map(|(v, _)| *v).collect();
                    due.sort_unstable();
                    prop_assert_eq!(&fired, &due);
                    model.retain(|_, (_, d)| *d > now);
                    if let Some(wake) = wheel.next_wakeup() {
                        prop_assert!(wake > now);
                    }
                }
                prop_assert_eq!(wheel.len(), model.len());
                let earliest = model.values().map(|(_, d)| *d).min();
                prop_assert_eq!(wheel.next_wakeup().is_some(), earliest.is_some());
                if let (Some(wake), Some(earliest)) = (wheel.next_wakeup(), earliest) {
                    prop_assert!(wake <= earliest, "wake-up {:?} after deadline {:?}", wake, earliest);
                }
            }
            // Nothing is lost: at the end of time every remaining timer fires.
            let mut rest: Vec<u32> = model.keys().copied().collect();
            rest.sort_unstable();
            prop_assert_eq!(poll(&mut wheel, Instant::from_nanos(u64::MAX)), rest);
            prop_assert!(wheel.is_empty());
        }
    }
}
