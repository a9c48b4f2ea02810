//! Handing frames to the worker that owns their connection.
//!
//! The NIC (or veth) picks the RX queue of a frame; a connection lives on one worker. For
//! connections we opened, the queue the replies arrive on is the NIC's choice, so a frame
//! may reach a worker that does not own its connection. Ownership needs no shared table:
//! it is a function of the frame's 4-tuple, by one of two rules ([`ReplyOwners`]):
//!
//! - where the NIC's RSS is a Toeplitz hash we can compute (read from the driver at start,
//!   see [`crate::flow::RssSteering`]), every worker opens connections from the whole
//!   ephemeral range but only from ports whose replies the hash sends to its own queue (as
//!   mTCP and F-Stack do): the owner of a reply is the queue the hash names, which is the
//!   queue it arrives on, and nothing is handed off unless the NIC's configuration changed
//!   under us;
//! - elsewhere (veth, whose queue choice is not the NIC's hash, or a hash we cannot
//!   compute), each worker opens connections only from its own slice of the ephemeral
//!   range, so the destination port of a reply (or the source port an ICMP error quotes)
//!   names its owner.
//!
//! A frame for another worker is copied into the owner's bounded lock-free queue (crossbeam
//! `ArrayQueue`) and the owner is woken; when the queue is full the frame is dropped and
//! counted (TCP retransmits it).
//!
//! Connections others opened to us stay on the queue their first SYN arrived on: RSS hashes
//! a flow's 4-tuple to the same queue every time.

use std::ops::RangeInclusive;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crossbeam::queue::ArrayQueue;

use super::frame_flow::{frame_flow, frame_local_port};
use crate::flow::{FlowKey, RssSteering};
use crate::host::{RssConfig, RssHashFunction};
use crate::xdp::wait::Waker;

/// Frames a worker's hand-off queue holds.
const QUEUE_FRAMES: usize = 4096;

struct Inbox {
    frames: ArrayQueue<Vec<u8>>,
    waker: Arc<Waker>,
    handed: AtomicU64,
    dropped: AtomicU64,
}

/// Which worker owns a connection we opened, from its 4-tuple.
#[derive(Clone, Debug)]
pub(super) enum ReplyOwners {
    /// Each worker opens from its own slice of the ephemeral range, in worker order.
    PortSlices {
        ephemeral: RangeInclusive<u16>,
        /// At least 1 (the configuration has a port per queue at least).
        ports_per_worker: u32,
    },
    /// Each worker opens from ports whose replies the NIC's RSS sends to its queue (worker
    /// `i` serves queue `i`).
    Rss {
        ephemeral: RangeInclusive<u16>,
        rss: Arc<RssSteering>,
    },
}

impl ReplyOwners {
    /// The rule for `workers` workers (serving queues `0..workers`) opening connections
    /// from `ephemeral`, given the NIC's RSS configuration: the RSS rule where its hash is
    /// one we compute, port slices otherwise; and a line saying which and why.
    /// `span` is how many ports `ephemeral` holds ([`RuntimeConfig::ephemeral_span`]).
    ///
    /// [`RuntimeConfig::ephemeral_span`]: super::RuntimeConfig::ephemeral_span
    pub fn choose(
        ephemeral: RangeInclusive<u16>,
        span: u32,
        workers: u32,
        rss: Option<&RssConfig>,
    ) -> (ReplyOwners, String) {
        let ports_per_worker = (span / workers.max(1)).max(1);
        let slices = |why: String| {
            let line = format!(
                "active opens: {ports_per_worker} ephemeral ports per worker; replies the \
                 NIC delivers to another worker's queue are handed over ({why})"
            );
            (
                ReplyOwners::PortSlices {
                    ephemeral: ephemeral.clone(),
                    ports_per_worker,
                },
                line,
            )
        };
        let Some(config) = rss else {
            return slices("the interface reports no RSS configuration".into());
        };
        if config.hash_function != RssHashFunction::Toeplitz {
            return slices(format!("its RSS hash is {}", config.hash_function));
        }
        if config.input_transform != 0 {
            return slices(format!(
                "its RSS input is transformed ({:#x})",
                config.input_transform
            ));
        }
        match RssSteering::new(&config.key, &config.indirection) {
            Ok(steering) => {
                let mut line = format!(
                    "active opens: ephemeral ports chosen by the NIC's Toeplitz RSS hash \
                     ({}-byte key, {}-entry indirection table) so replies reach the opening \
                     worker's queue",
                    config.key.len(),
                    config.indirection.len()
                );
                if steering.highest_queue() >= workers {
                    line.push_str(&format!(
                        "; the table also names queues up to {}, which no worker serves: \
                         connections hashed there are not seen (ethtool -X <iface> equal \
                         {workers})",
                        steering.highest_queue()
                    ));
                }
                (
                    ReplyOwners::Rss {
                        ephemeral,
                        rss: Arc::new(steering),
                    },
                    line,
                )
            }
            Err(e) => slices(e.to_string()),
        }
    }

    /// The worker that opened the connection `ours`, if we opened it (its port is one of
    /// the ephemeral range).
    fn owner(&self, ours: &FlowKey, workers: usize) -> Option<usize> {
        let owner = match self {
            ReplyOwners::PortSlices {
                ephemeral,
                ports_per_worker,
            } => slice_of(ours.local_port, ephemeral, *ports_per_worker)?,
            ReplyOwners::Rss { ephemeral, rss } => {
                if !ephemeral.contains(&ours.local_port) {
                    return None;
                }
                rss.reply_queue(ours) as usize
            }
        };
        (owner < workers).then_some(owner)
    }

    /// [`ReplyOwners::owner`] of the connection `frame` is about. The port-slice rule reads
    /// only this host's port; the RSS rule hashes the whole 4-tuple.
    fn owner_of_frame(&self, frame: &[u8], workers: usize) -> Option<usize> {
        match self {
            ReplyOwners::PortSlices {
                ephemeral,
                ports_per_worker,
            } => {
                let owner = slice_of(frame_local_port(frame)?, ephemeral, *ports_per_worker)?;
                (owner < workers).then_some(owner)
            }
            ReplyOwners::Rss { .. } => self.owner(&frame_flow(frame)?.ours, workers),
        }
    }

    /// The ephemeral ports worker `index` opens connections from.
    pub fn ports_of(&self, index: usize) -> RangeInclusive<u16> {
        match self {
            ReplyOwners::PortSlices {
                ephemeral,
                ports_per_worker,
            } => {
                let first = u32::from(*ephemeral.start()) + ports_per_worker * index as u32;
                let last = first + ports_per_worker - 1;
                first as u16..=last as u16
            }
            ReplyOwners::Rss { ephemeral, .. } => ephemeral.clone(),
        }
    }
}

/// The slice of `ephemeral` (`ports_per_worker` each, in worker order) that `port` is in;
/// `None` below the range (a slice past the last worker's is the caller's to refuse).
fn slice_of(port: u16, ephemeral: &RangeInclusive<u16>, ports_per_worker: u32) -> Option<usize> {
    let offset = u32::from(port.checked_sub(*ephemeral.start())?);
    Some((offset / ports_per_worker) as usize)
}

/// One inbox per worker.
pub(super) struct Handoffs {
    inboxes: Vec<Inbox>,
    owners: ReplyOwners,
}

impl Handoffs {
    pub fn new(wakers: &[Arc<Waker>], owners: ReplyOwners) -> Handoffs {
        Handoffs {
            inboxes: wakers
                .iter()
                .map(|w| Inbox {
                    frames: ArrayQueue::new(QUEUE_FRAMES),
                    waker: w.clone(),
                    handed: AtomicU64::new(0),
                    dropped: AtomicU64::new(0),
                })
                .collect(),
            owners,
        }
    }

    pub fn len(&self) -> usize {
        self.inboxes.len()
    }

    /// If `frame` belongs to another worker's connection, queues a copy for it and returns
    /// true (the caller then drops its own).
    pub fn forward(&self, me: usize, frame: &[u8]) -> bool {
        let Some(owner) = self.owners.owner_of_frame(frame, self.inboxes.len()) else {
            return false;
        };
        if owner == me {
            return false;
        }
        let inbox = &self.inboxes[owner];
        if inbox.frames.push(frame.to_vec()).is_err() {
            self.inboxes[me].dropped.fetch_add(1, Ordering::Relaxed);
        } else {
            self.inboxes[me].handed.fetch_add(1, Ordering::Relaxed);
            inbox.waker.wake();
        }
        true
    }

    /// Hands up to `max` frames queued for worker `me` to `receive`.
    pub fn drain(&self, me: usize, max: usize, mut receive: impl FnMut(&[u8])) -> usize {
        let mut n = 0;
        while n < max {
            let Some(frame) = self.inboxes[me].frames.pop() else {
                break;
            };
            receive(&frame);
            n += 1;
        }
        n
    }

    pub fn has_frames(&self, me: usize) -> bool {
        !self.inboxes[me].frames.is_empty()
    }

    /// (frames handed from `me` to others, frames `me` had to drop).
    pub fn counters(&self, me: usize) -> (u64, u64) {
        let inbox = &self.inboxes[me];
        (
            inbox.handed.load(Ordering::Relaxed),
            inbox.dropped.load(Ordering::Relaxed),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::frame_flow::tests::{icmp_error_about, segment};
    use std::net::SocketAddrV4;

    fn ours(port: u16) -> FlowKey {
        FlowKey::new(
            SocketAddrV4::new("10.0.0.1".parse().unwrap(), port),
            "10.0.2.2:80".parse().unwrap(),
        )
    }

    fn rss(hash_function: RssHashFunction, input_transform: u32) -> RssConfig {
        RssConfig {
            hash_function,
            key: vec![0x6d; 40],
            indirection: (0..128).map(|i| i % 4).collect(),
            input_transform,
        }
    }

    #[test]
    fn the_rss_rule_is_chosen_only_for_a_plain_toeplitz_hash() {
        let choose = |r: Option<&RssConfig>| ReplyOwners::choose(61_000..=65_535, 4_536, 4, r);
        let (owners, line) = choose(Some(&rss(RssHashFunction::Toeplitz, 0)));
        assert!(matches!(owners, ReplyOwners::Rss { .. }), "{line}");
        assert!(!line.contains("no worker serves"), "{line}");
        for (config, why) in [
            (None, "reports no RSS"),
            (Some(rss(RssHashFunction::Xor, 0)), "hash is xor"),
            (
                Some(rss(RssHashFunction::Toeplitz, 1)),
                "input is transformed",
            ),
        ] {
            let (owners, line) = choose(config.as_ref());
            assert!(
                matches!(
                    owners,
                    ReplyOwners::PortSlices {
                        ports_per_worker: 1134,
                        ..
                    }
                ),
                "{line}"
            );
            assert!(line.contains(why), "{line}");
        }
        let (_, line) = ReplyOwners::choose(
            61_000..=65_535,
            4_536,
            2,
            Some(&rss(RssHashFunction::Toeplitz, 0)),
        );
        assert!(
            line.contains("queues up to 3, which no worker serves"),
            "{line}"
        );
    }

    #[test]
    fn port_slices_name_their_owner() {
        let owners = ReplyOwners::PortSlices {
            ephemeral: 61_000..=65_535,
            ports_per_worker: 1000,
        };
        assert_eq!(owners.owner(&ours(60_999), 3), None);
        assert_eq!(owners.owner(&ours(61_000), 3), Some(0));
        assert_eq!(owners.owner(&ours(61_999), 3), Some(0));
        assert_eq!(owners.owner(&ours(62_000), 3), Some(1));
        assert_eq!(owners.owner(&ours(63_999), 3), Some(2));
        assert_eq!(owners.owner(&ours(64_000), 3), None);
        assert_eq!(owners.ports_of(1), 62_000..=62_999);
    }

    #[test]
    fn with_rss_the_owner_is_the_queue_the_hash_names() {
        let key: Vec<u8> = (0..40u8).map(|i| i.wrapping_mul(37) ^ 0x5a).collect();
        let table: Vec<u32> = (0..128).map(|i| i % 2).collect();
        let rss = Arc::new(RssSteering::new(&key, &table).unwrap());
        let owners = ReplyOwners::Rss {
            ephemeral: 61_000..=65_535,
            rss: rss.clone(),
        };
        assert_eq!(
            owners.ports_of(1),
            61_000..=65_535,
            "every worker draws on the range"
        );
        assert_eq!(owners.owner(&ours(5_000), 2), None, "not one of our ports");
        let mut seen = [false; 2];
        for port in 61_000..61_100 {
            let owner = owners.owner(&ours(port), 2).unwrap();
            assert_eq!(owner, rss.reply_queue(&ours(port)) as usize);
            seen[owner] = true;
        }
        assert_eq!(seen, [true, true]);
    }

    #[test]
    fn a_reply_and_an_icmp_error_go_to_the_owner_of_their_connection() {
        let wakers: Vec<_> = (0..3).map(|_| Arc::new(Waker::new().unwrap())).collect();
        let owners = ReplyOwners::PortSlices {
            ephemeral: 61_000..=65_535,
            ports_per_worker: 1000,
        };
        let handoffs = Handoffs::new(&wakers, owners);
        assert!(
            handoffs.forward(0, &segment(80, 62_345)),
            "worker 1's reply"
        );
        assert!(handoffs.forward(0, &icmp_error_about(62_345)));
        assert!(
            !handoffs.forward(1, &segment(80, 62_345)),
            "already with its owner"
        );
        assert!(
            !handoffs.forward(0, &segment(62_345, 80)),
            "a segment to a listener"
        );
        let mut echo = icmp_error_about(62_345);
        echo[34] = 8;
        assert!(!handoffs.forward(0, &echo), "not an error about a segment");
        assert_eq!(handoffs.counters(0), (2, 0));
        assert_eq!(handoffs.drain(1, 10, |_| {}), 2);
    }
}
