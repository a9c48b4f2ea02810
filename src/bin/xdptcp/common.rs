//! Options, helpers and errors shared by the commands.

use std::io;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use clap::Args;
use xdptcp::config::{
    ByteSize, HugePagesChoice, IdleChoice, ServeFile, SettingError, XdpModeChoice, ZeroCopyChoice,
};
use xdptcp::runtime::{Runtime, RuntimeConfig};

/// A command's own setup failed: its options, or the Ctrl-C handler.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Setting(#[from] SettingError),
    #[error("cannot install the Ctrl-C handler: {0}")]
    StopHandler(#[from] ctrlc::Error),
}

/// Reading or writing the file at `path` failed.
#[derive(Debug, thiserror::Error)]
#[error("{}: {source}", path.display())]
pub struct FileError {
    pub path: PathBuf,
    pub source: io::Error,
}

/// For `map_err`: an I/O error on `path` as a [`FileError`].
pub fn file_error(path: &Path) -> impl FnOnce(io::Error) -> FileError + '_ {
    move |source| FileError {
        path: path.to_path_buf(),
        source,
    }
}

/// Where and how the stack runs. A flag given replaces what a configuration file says
/// (see [`DatapathArgs::write_over`]); the defaults are the file's (`deploy/xdptcp.toml`).
#[derive(Args, Clone)]
pub struct DatapathArgs {
    /// Network interface to run on (xdptcp stack).
    #[arg(long)]
    pub iface: Option<String>,
    /// IPv4 address of the stack (default: the interface's, shared with the kernel).
    #[arg(long)]
    pub ip: Option<Ipv4Addr>,
    /// Further addresses the stack owns, comma-separated, each an address or a range
    /// FIRST-LAST (active opens take them in turn; the kernel should have them on the
    /// interface, it answers ARP for them).
    #[arg(long, value_delimiter = ',')]
    pub more_ips: Vec<String>,
    /// Queues to serve (one worker each), from queue 0 [default: 1].
    #[arg(long)]
    pub queues: Option<u32>,
    /// Cores to pin the workers to, e.g. 1,2,3.
    #[arg(long, value_delimiter = ',')]
    pub cores: Vec<usize>,
    /// What a worker does when idle [default: auto].
    #[arg(long, value_enum)]
    pub idle: Option<IdleChoice>,
    /// With --idle hybrid: microseconds to spin after the last work before sleeping
    /// [default: 50].
    #[arg(long)]
    pub spin_us: Option<u64>,
    /// XDP attach mode: auto (native; generic on a one-queue veth, where it measured
    /// faster), native or generic [default: auto].
    #[arg(long, value_enum)]
    pub xdp_mode: Option<XdpModeChoice>,
    /// Bind the AF_XDP sockets in zero-copy mode or fail with the driver's reason (by default
    /// zero-copy is tried and copy mode taken where the driver refuses it).
    #[arg(long, conflicts_with = "no_zero_copy")]
    pub zero_copy: bool,
    /// Use copy mode even if the driver supports zero-copy.
    #[arg(long)]
    pub no_zero_copy: bool,
    /// Map each queue's UMEM on huge pages (MAP_HUGETLB, from /proc/sys/vm/nr_hugepages):
    /// prefer (normal pages where the pool is short, logged), require (a short pool stops the
    /// start) or off [default: prefer].
    #[arg(long, value_enum, value_name = "MODE")]
    pub umem_hugepages: Option<HugePagesChoice>,
    /// Preferred busy polling on the AF_XDP sockets: microseconds one system call may poll
    /// (SO_BUSY_POLL; 0 sets no busy-poll option) [default: 0].
    #[arg(long, value_name = "USECS")]
    pub busy_poll_us: Option<u32>,
    /// With --busy-poll-us: frames one NAPI run may take (SO_BUSY_POLL_BUDGET) [default: 64].
    #[arg(long, value_name = "FRAMES")]
    pub busy_poll_budget: Option<u16>,
    /// Keep Nagle's algorithm on (it is off by default, for latency).
    #[arg(long)]
    pub nagle: bool,
    /// Congestion control: cubic or newreno [default: cubic].
    #[arg(long)]
    pub congestion: Option<String>,
    /// Connections each worker holds at most [default: 65536].
    #[arg(long)]
    pub connections_per_worker: Option<usize>,
    /// Payload buffer memory (send and receive rings) the connections of the whole process
    /// may hold, as 512M or 2G; once reached, new connections are refused (SYNs dropped,
    /// counted as buffer_memory) while open ones keep working. Each worker gets an equal
    /// share [default: no limit].
    #[arg(long, value_name = "BYTES", value_parser = crate::parse_size)]
    pub buffer_memory: Option<u64>,
}

impl DatapathArgs {
    /// Writes the flags that were given over `file`: a flag overrides the file's key.
    pub fn write_over(&self, file: &mut ServeFile) {
        if let Some(iface) = &self.iface {
            file.interface = Some(iface.clone());
        }
        file.ip = self.ip.or(file.ip);
        if !self.more_ips.is_empty() {
            file.more_ips = Some(self.more_ips.clone());
        }
        file.queues = self.queues.or(file.queues);
        if !self.cores.is_empty() {
            file.cores = Some(self.cores.clone());
        }
        file.idle = self.idle.or(file.idle);
        file.spin_us = self.spin_us.or(file.spin_us);
        file.xdp_mode = self.xdp_mode.or(file.xdp_mode);
        if self.zero_copy {
            file.zero_copy = Some(ZeroCopyChoice::Require);
        }
        if self.no_zero_copy {
            file.zero_copy = Some(ZeroCopyChoice::Off);
        }
        file.umem.hugepages = self.umem_hugepages.or(file.umem.hugepages);
        file.busy_poll_us = self.busy_poll_us.or(file.busy_poll_us);
        file.busy_poll_budget = self.busy_poll_budget.or(file.busy_poll_budget);
        if self.nagle {
            file.tcp.nagle = Some(true);
        }
        if let Some(name) = &self.congestion {
            file.tcp.congestion = Some(name.clone());
        }
        file.limits.connections_per_worker = self
            .connections_per_worker
            .or(file.limits.connections_per_worker);
        if let Some(bytes) = self.buffer_memory {
            file.limits.buffer_memory = Some(ByteSize(bytes));
        }
    }

    /// The runtime settings the flags alone give (commands without a configuration file).
    pub fn runtime_config(&self) -> Result<RuntimeConfig, SetupError> {
        let mut file = ServeFile::default();
        self.write_over(&mut file);
        Ok(file.settings()?.runtime)
    }
}

/// Ctrl-C and SIGTERM set `stop`; the flag returned says whether that happened.
pub fn install_stop_handler(stop: Arc<AtomicBool>) -> Result<Arc<AtomicBool>, SetupError> {
    let interrupted = Arc::new(AtomicBool::new(false));
    let flag = interrupted.clone();
    ctrlc::set_handler(move || {
        flag.store(true, Ordering::SeqCst);
        stop.store(true, Ordering::SeqCst);
    })?;
    Ok(interrupted)
}

pub use xdptcp::config::StackKind;

/// Per-queue counters, for the end of a run.
pub fn print_stats<M: Send + 'static>(runtime: &Runtime<M>) {
    let counters = runtime.program_counters();
    for (worker, stats) in runtime.stats().iter().enumerate() {
        let prog = counters.get(worker).copied().unwrap_or_default();
        eprintln!(
            "queue {}: XDP steered {} (no socket {}) passed {}; socket rx {} tx {} (tx frames in flight {}, \
             tx frames exhausted {}, kernel rx drops {} ring full {} fill empty {}); \
             TCP segments in {} out {}; resets sent {}; malformed dropped {}; connections open {} \
             (accepted {} opened {}); \
             ICMP in {} (ICMP errors steered by XDP {}, path MTU lowered {}, soft errors {}); \
             frames handed to other queues {} (dropped {})",
            stats.queue,
            prog.steered,
            prog.no_socket,
            prog.passed,
            stats.socket.rx_frames,
            stats.socket.tx_frames,
            stats.tx_frames_in_flight,
            stats.socket.tx_frames_exhausted,
            stats.socket.rx_dropped,
            stats.socket.rx_ring_full,
            stats.socket.rx_fill_ring_empty,
            stats.stack.rx_tcp_segments,
            stats.stack.tx_tcp_segments,
            stats.stack.rst_sent,
            stats.stack.malformed(),
            stats.connections,
            stats.stack.connections_accepted,
            stats.stack.connections_opened,
            stats.stack.rx_icmp,
            prog.icmp_steered,
            stats.stack.path_mtu_lowered,
            stats.stack.icmp_soft_errors,
            stats.frames_handed_off,
            stats.handoff_drops,
        );
    }
}
