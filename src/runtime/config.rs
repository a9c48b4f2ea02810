//! The settings of a runtime, what a worker does when idle, and the checks a configuration
//! passes before anything is attached.

use std::net::Ipv4Addr;
use std::ops::RangeInclusive;
use std::time::Duration;

use crate::stack::SynCookies;
use crate::tcp;
use crate::xdp::{self, XdpAttach, XskConfig};

/// Most frames a worker takes from its RX ring (and builds for TX) per loop turn.
pub const MAX_BATCH: usize = 1024;

/// What a worker does when it has nothing to do.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum IdlePolicy {
    /// Never sleep: lowest latency, one core at 100% per worker, and on a core shared with
    /// the kernel's softirq work (copy mode, veth) it can starve that work.
    BusySpin,
    /// Sleep in poll() on the socket as soon as a loop turn finds nothing.
    Poll,
    /// Spin for a while after the last work, then sleep in poll().
    Hybrid { spin: Duration },
    /// Chosen by measurement (README, "Idle policy"): `Hybrid` with a 50 µs spin while there
    /// are no more workers than cores, `Poll` when workers outnumber cores (spinning workers
    /// then steal the cores the others and the kernel's softirq work need).
    #[default]
    Auto,
}

impl IdlePolicy {
    /// The concrete policy for `workers` workers on a machine with `cores` cores.
    pub fn resolve(self, workers: usize, cores: usize) -> IdlePolicy {
        match self {
            IdlePolicy::Auto if workers > cores => IdlePolicy::Poll,
            IdlePolicy::Auto => IdlePolicy::Hybrid {
                spin: Duration::from_micros(50),
            },
            other => other,
        }
    }
}

impl std::fmt::Display for IdlePolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IdlePolicy::BusySpin => f.write_str("spin"),
            IdlePolicy::Poll => f.write_str("poll"),
            IdlePolicy::Hybrid { spin } => write!(f, "hybrid (spin {} µs)", spin.as_micros()),
            IdlePolicy::Auto => f.write_str("auto"),
        }
    }
}

/// Settings of a [`Runtime`]. [`RuntimeConfig::new`] fills in production defaults.
#[derive(Clone, Debug)]
pub struct RuntimeConfig {
    pub iface: String,
    /// The stack's address; by default the interface's (shared with the kernel).
    pub ipv4: Option<Ipv4Addr>,
    /// Further addresses the stack owns (see [`crate::stack::StackConfig::more_ipv4`]): the
    /// XDP program steers frames to them too. The kernel should have them on the interface
    /// (it answers ARP for them).
    pub more_ipv4: Vec<Ipv4Addr>,
    /// Number of queues to serve, from queue 0; one worker each.
    pub queues: u32,
    /// Cores to pin workers to (worker i on `cores[i % len]`); unpinned if empty.
    pub cores: Vec<usize>,
    /// Ports to accept connections on.
    pub listen: Vec<u16>,
    /// Half-open connections each worker holds per listening port.
    pub backlog: usize,
    /// Connections each worker holds per listening port established and not yet taken by
    /// the handler (see [`crate::stack::StackConfig::accept_queue`]).
    pub accept_queue: usize,
    /// When SYNs are answered with SYN cookies (by default once the backlog is full).
    pub syn_cookies: SynCookies,
    /// Source ports for active opens, split among workers. Keep it outside the kernel's
    /// `net.ipv4.ip_local_port_range` (32768–60999 by default).
    pub ephemeral_ports: RangeInclusive<u16>,
    pub max_connections_per_worker: usize,
    /// Bytes of payload buffers all workers' connections together may hold before new
    /// connections are refused (see [`crate::stack::StackConfig::buffer_memory_limit`]);
    /// `None`: no limit. It is per process: each worker's stack gets an equal share
    /// ([`RuntimeConfig::buffer_memory_share`]) and keeps to it alone, so no count is
    /// shared between cores on the fast path (one worker may refuse while another still
    /// has room).
    pub buffer_memory_limit: Option<usize>,
    pub tcp: tcp::Config,
    pub xsk: XskConfig,
    /// Native or generic XDP (see [`XdpAttach`]).
    pub xdp_attach: XdpAttach,
    pub idle: IdlePolicy,
    /// Frames taken from the RX ring (and built for TX) per loop turn.
    pub batch: usize,
}

impl RuntimeConfig {
    pub fn new(iface: &str) -> RuntimeConfig {
        RuntimeConfig {
            iface: iface.into(),
            ipv4: None,
            more_ipv4: Vec::new(),
            queues: 1,
            cores: Vec::new(),
            listen: Vec::new(),
            backlog: 1024,
            accept_queue: 4096,
            syn_cookies: SynCookies::default(),
            ephemeral_ports: 61_000..=65_535,
            max_connections_per_worker: 65_536,
            buffer_memory_limit: None,
            tcp: tcp::Config::default(),
            xsk: XskConfig::default(),
            xdp_attach: XdpAttach::Auto,
            idle: IdlePolicy::default(),
            batch: 64,
        }
    }

    /// Each worker's share of [`RuntimeConfig::buffer_memory_limit`]: the limit split
    /// evenly between the queues (rounded down, so the shares never add up to more).
    pub fn buffer_memory_share(&self) -> Option<usize> {
        self.buffer_memory_limit
            .map(|limit| limit / self.queues.max(1) as usize)
    }

    /// Source ports in the ephemeral range.
    pub(super) fn ephemeral_span(&self) -> u32 {
        let (first, last) = self.ephemeral_ports.clone().into_inner();
        (u32::from(last) + 1).saturating_sub(u32::from(first))
    }

    /// Checks what can be checked without the host: at least one queue, a batch the rings
    /// take, a source port for every worker, valid TCP settings.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.queues == 0 {
            return Err(ConfigError::NoQueues);
        }
        if !(1..=MAX_BATCH).contains(&self.batch) {
            return Err(ConfigError::Batch { batch: self.batch });
        }
        if self.more_ipv4.len() > xdp::MAX_ADDRESSES {
            return Err(ConfigError::TooManyAddresses {
                count: self.more_ipv4.len(),
            });
        }
        let mut seen = std::collections::HashSet::new();
        if let Some(&twice) = self
            .more_ipv4
            .iter()
            .chain(self.ipv4.iter())
            .find(|&&a| !seen.insert(a))
        {
            return Err(ConfigError::AddressTwice { address: twice });
        }
        if self.ephemeral_span() < self.queues {
            return Err(ConfigError::EphemeralPorts {
                ports: self.ephemeral_span(),
                queues: self.queues,
            });
        }
        let rings = self.tcp.send_buffer + self.tcp.recv_buffer;
        if let Some(share) = self.buffer_memory_share().filter(|&share| share < rings) {
            return Err(ConfigError::BufferMemory {
                share,
                rings,
                queues: self.queues,
            });
        }
        Ok(self.tcp.validate()?)
    }
}

/// What is wrong with a [`RuntimeConfig`].
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("queues must be at least 1")]
    NoQueues,
    #[error("batch must be 1 to {MAX_BATCH}, not {batch}")]
    Batch { batch: usize },
    #[error("the ephemeral port range needs at least one port per queue ({ports} ports for {queues} queues)")]
    EphemeralPorts { ports: u32, queues: u32 },
    #[error("at most {} further addresses, not {count}", xdp::MAX_ADDRESSES)]
    TooManyAddresses { count: usize },
    #[error("the address {address} is given twice")]
    AddressTwice { address: Ipv4Addr },
    #[error("the buffer memory limit gives each of {queues} workers {share} bytes, less than one connection's send and receive buffers ({rings} bytes)")]
    BufferMemory {
        share: usize,
        rings: usize,
        queues: u32,
    },
    #[error(transparent)]
    Tcp(#[from] tcp::ConfigError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_names_what_is_wrong() {
        let valid = RuntimeConfig::new("eth0");
        assert!(valid.validate().is_ok());
        let check = |change: fn(&mut RuntimeConfig)| {
            let mut config = valid.clone();
            change(&mut config);
            config.validate().unwrap_err().to_string()
        };
        assert_eq!(check(|c| c.queues = 0), "queues must be at least 1");
        assert_eq!(
            check(|c| {
                c.queues = 2;
                c.buffer_memory_limit = Some(c.tcp.send_buffer + c.tcp.recv_buffer);
            }),
            format!(
                "the buffer memory limit gives each of 2 workers {} bytes, less than one \
                 connection's send and receive buffers ({} bytes)",
                (valid.tcp.send_buffer + valid.tcp.recv_buffer) / 2,
                valid.tcp.send_buffer + valid.tcp.recv_buffer
            )
        );
        assert_eq!(
            check(|c| {
                c.ipv4 = Some(Ipv4Addr::new(10, 0, 0, 1));
                c.more_ipv4 = vec![Ipv4Addr::new(10, 0, 0, 2), Ipv4Addr::new(10, 0, 0, 1)];
            }),
            "the address 10.0.0.1 is given twice"
        );
        assert_eq!(
            check(|c| c.more_ipv4 = (0..1025)
                .map(|i| Ipv4Addr::from_bits(0x0a00_0000 + i))
                .collect()),
            "at most 1024 further addresses, not 1025"
        );
        assert_eq!(check(|c| c.batch = 0), "batch must be 1 to 1024, not 0");
        assert_eq!(
            check(|c| c.batch = 1025),
            "batch must be 1 to 1024, not 1025"
        );
        assert_eq!(
            check(|c| {
                c.queues = 4;
                c.ephemeral_ports = 61_000..=61_002;
            }),
            "the ephemeral port range needs at least one port per queue (3 ports for 4 queues)"
        );
        #[allow(clippy::reversed_empty_ranges)]
        let empty = check(|c| c.ephemeral_ports = 62_000..=61_000);
        assert!(empty.starts_with("the ephemeral port range"), "{empty}");
        assert!(check(|c| c.tcp.mss = 10).starts_with("invalid TCP setting mss"));
    }
}
