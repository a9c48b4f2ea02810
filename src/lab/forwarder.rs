//! The lab's delay, jitter and reordering forwarder: a loop over an NFQUEUE socket in the
//! router's namespace. The router keeps forwarding in the kernel (routing, TTL, ARP, ICMP all
//! stay Linux's); a rule sends each forwarded IPv4 packet of an impaired direction to this
//! direction's queue, the kernel holds the packet, and the loop returns `NF_ACCEPT` for its id
//! when [`HoldSchedule`] says it is due. Only ids cross into user space, never packet bytes.
//!
//! One thread serves both directions: it drains the socket, stamps each arrival with one clock
//! read per turn, lets due frames go (one `sendto` carries all of a turn's verdicts) and sleeps
//! in `ppoll` until the next frame is due or another arrives. Timer slack is set to 1 ns so
//! sleeps end on time (prctl(2), PR_SET_TIMERSLACK).
//!
//! Frames leave the forwarder in the order it lets them go, but the next veth queues each on
//! the backlog of the CPU that sent it (`netif_rx`), and a sender that moves between CPUs
//! splits a flow over two backlogs that the kernel drains on their own. The lab therefore
//! turns on receive packet steering along the impaired path (see `Lab::impair`), which keeps
//! each flow on one backlog wherever its sender runs.

use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rustix::event::{PollFd, PollFlags};

use super::hold_schedule::{Hold, HoldSchedule, ScheduleCounts};
use super::impairment::Direction;
use super::nfqueue::{NfQueueError, NfQueueSocket, QueuedPacket};
use crate::time::{duration_nanos, Instant};

/// The NFQUEUE number that carries a direction's frames.
pub fn queue_number(direction: Direction) -> u16 {
    match direction {
        Direction::ToPeer => 0,
        Direction::ToStack => 1,
    }
}

/// Frames the kernel holds per queue at most; beyond, it drops them (and counts them in
/// `queue_dropped`). 65,536 frames are 0.8 s of 1 Gbit/s in 1500-byte frames.
pub const MAX_HELD_PER_QUEUE: u32 = 65_536;
/// The socket's receive buffer: room for tens of thousands of metadata-only messages.
const RECEIVE_BUFFER: usize = 32 << 20;
/// How often the counters file is rewritten while frames keep coming.
const STATS_INTERVAL: Duration = Duration::from_millis(200);

/// What the forwarder process is told to do.
#[derive(Clone, Debug)]
pub struct ForwarderConfig {
    pub to_peer: Option<Hold>,
    pub to_stack: Option<Hold>,
    pub seed: u64,
    /// Where the forwarder keeps its counters (see [`ForwarderCounts`]).
    pub stats_path: PathBuf,
}

/// Why the forwarder stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ForwarderError {
    #[error(transparent)]
    Queue(#[from] NfQueueError),
    #[error("forwarder I/O: {0}")]
    Io(#[from] io::Error),
    #[error("nothing to forward: no direction has a delay, jitter or reordering")]
    NothingToDo,
}

/// One direction's counts, as the forwarder writes them and the lab reads them back.
pub type ForwarderCounts = ScheduleCounts;

/// Runs until `stop` is set; then lets every held frame go (none is stranded) and returns.
/// `ready` is called once both queues are bound, before the first frame can arrive.
pub fn run_forwarder(
    config: &ForwarderConfig,
    stop: &AtomicBool,
    ready: impl FnOnce(),
) -> Result<(), ForwarderError> {
    crate::host::precise_timers();
    let mut socket = NfQueueSocket::open(RECEIVE_BUFFER)?;
    let mut schedules: [Option<HoldSchedule>; 2] = [None, None];
    for (direction, hold) in [
        (Direction::ToPeer, &config.to_peer),
        (Direction::ToStack, &config.to_stack),
    ] {
        if let Some(hold) = hold {
            let queue = queue_number(direction);
            socket.bind(queue, MAX_HELD_PER_QUEUE)?;
            // Each direction draws from its own stream, both from the one seed.
            let seed = config.seed ^ u64::from(queue).wrapping_mul(0x9e37_79b9_7f4a_7c15);
            schedules[usize::from(queue)] = Some(HoldSchedule::new(hold.clone(), seed));
        }
    }
    if schedules.iter().all(Option::is_none) {
        return Err(ForwarderError::NothingToDo);
    }
    ready();

    let mut arrivals: Vec<QueuedPacket> = Vec::with_capacity(4096);
    let mut due: Vec<u32> = Vec::with_capacity(4096);
    let mut next_stats = Instant::now_monotonic();
    let mut written = [None, None];
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now_monotonic();
        socket.receive(&mut arrivals)?;
        for packet in arrivals.drain(..) {
            match schedules.get_mut(usize::from(packet.queue)) {
                Some(Some(schedule)) => schedule.arrive(now, packet.id),
                // A queue this forwarder did not bind cannot send to it; let it go.
                _ => socket.push_accept(packet)?,
            }
        }
        for (queue, schedule) in schedules.iter_mut().enumerate() {
            if let Some(schedule) = schedule {
                schedule.release(now, &mut due);
                accept(&mut socket, queue as u16, &mut due)?;
            }
        }
        socket.flush_verdicts()?;
        // Counters on a timer, and as soon as the forwarder falls idle with news, so that a
        // reader after a transfer sees all of it.
        let counts = schedules
            .each_ref()
            .map(|s| s.as_ref().map(HoldSchedule::counts));
        let idle = schedules
            .iter()
            .flatten()
            .all(|s| s.next_deadline().is_none());
        if now >= next_stats || (idle && counts != written) {
            write_stats(config, &schedules, socket.verdict_errors())?;
            written = counts;
            next_stats = now + STATS_INTERVAL;
        }
        let wake = schedules
            .iter()
            .flatten()
            .filter_map(HoldSchedule::next_deadline)
            .chain([next_stats])
            .min()
            .unwrap_or(next_stats);
        wait_readable(&socket, wake.saturating_duration_since(now))?;
    }
    for (queue, schedule) in schedules.iter_mut().enumerate() {
        if let Some(schedule) = schedule {
            schedule.release_all(&mut due);
            accept(&mut socket, queue as u16, &mut due)?;
        }
    }
    socket.flush_verdicts()?;
    write_stats(config, &schedules, socket.verdict_errors())?;
    Ok(())
}

fn accept(socket: &mut NfQueueSocket, queue: u16, ids: &mut Vec<u32>) -> io::Result<()> {
    for id in ids.drain(..) {
        socket.push_accept(QueuedPacket { queue, id })?;
    }
    Ok(())
}

/// Sleeps until the socket has a message or `timeout` passed (a signal also ends it).
fn wait_readable(socket: &NfQueueSocket, timeout: Duration) -> io::Result<()> {
    if timeout.is_zero() {
        return Ok(());
    }
    let nanos = duration_nanos(timeout);
    let timeout = rustix::time::Timespec {
        tv_sec: (nanos / 1_000_000_000) as i64,
        tv_nsec: (nanos % 1_000_000_000) as i64,
    };
    let mut fds = [PollFd::new(socket, PollFlags::IN)];
    match rustix::event::poll(&mut fds, Some(&timeout)) {
        Ok(_) | Err(rustix::io::Errno::INTR) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Writes the counters of each direction, one line each
/// (`to_peer arrived=N released=N reordered=N`), and the verdict errors, then renames the
/// file into place so a reader never sees half of it.
fn write_stats(
    config: &ForwarderConfig,
    schedules: &[Option<HoldSchedule>; 2],
    verdict_errors: u64,
) -> io::Result<()> {
    let mut text = Vec::new();
    for direction in Direction::BOTH {
        if let Some(schedule) = &schedules[usize::from(queue_number(direction))] {
            let c = schedule.counts();
            writeln!(
                text,
                "{} arrived={} released={} reordered={}",
                direction.name(),
                c.arrived,
                c.released,
                c.reordered
            )?;
        }
    }
    writeln!(text, "verdict_errors={verdict_errors}")?;
    let temporary = config.stats_path.with_extension("tmp");
    std::fs::write(&temporary, text)?;
    std::fs::rename(&temporary, &config.stats_path)
}

/// Reads the counts of `direction` back from a counters file (zero when absent).
pub fn read_stats(text: &str, direction: Direction) -> ForwarderCounts {
    let mut counts = ForwarderCounts::default();
    let Some(line) = text
        .lines()
        .find(|l| l.split_whitespace().next() == Some(direction.name()))
    else {
        return counts;
    };
    for field in line.split_whitespace().skip(1) {
        let Some((key, value)) = field.split_once('=') else {
            continue;
        };
        let value = value.parse().unwrap_or(0);
        match key {
            "arrived" => counts.arrived = value,
            "released" => counts.released = value,
            "reordered" => counts.reordered = value,
            _ => {}
        }
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_read_back_per_direction() {
        let text = "to_peer arrived=5 released=4 reordered=1\n\
                    to_stack arrived=9 released=9 reordered=0\nverdict_errors=0\n";
        assert_eq!(
            read_stats(text, Direction::ToPeer),
            ForwarderCounts {
                arrived: 5,
                released: 4,
                reordered: 1
            }
        );
        assert_eq!(read_stats(text, Direction::ToStack).arrived, 9);
        assert_eq!(
            read_stats("", Direction::ToStack),
            ForwarderCounts::default()
        );
    }
}
