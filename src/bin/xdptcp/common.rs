//! Options, helpers and errors shared by the commands.

use std::io;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, ValueEnum};
use xdptcp::runtime::{IdlePolicy, Runtime, RuntimeConfig};
use xdptcp::xdp::XdpAttach;

/// A command's own setup failed: its options, or the Ctrl-C handler.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("--iface is required for the xdptcp stack")]
    NoInterface,
    #[error("core {core} does not exist (this machine has {available})")]
    NoSuchCore { core: usize, available: usize },
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

#[derive(Copy, Clone, Debug, ValueEnum)]
pub enum Idle {
    /// Hybrid while workers fit the cores, poll when they outnumber them (measured best).
    Auto,
    /// Never sleep.
    Spin,
    /// Sleep in poll() whenever idle.
    Poll,
    /// Spin --spin-us after the last work, then sleep.
    Hybrid,
}

/// Where and how the stack runs.
#[derive(Args, Clone)]
pub struct DatapathArgs {
    /// Network interface to run on (xdptcp stack).
    #[arg(long)]
    pub iface: Option<String>,
    /// IPv4 address of the stack (default: the interface's, shared with the kernel).
    #[arg(long)]
    pub ip: Option<Ipv4Addr>,
    /// Queues to serve (one worker each), from queue 0.
    #[arg(long, default_value_t = 1)]
    pub queues: u32,
    /// Cores to pin the workers to, e.g. 1,2,3.
    #[arg(long, value_delimiter = ',')]
    pub cores: Vec<usize>,
    /// What a worker does when idle.
    #[arg(long, value_enum, default_value = "auto")]
    pub idle: Idle,
    /// With --idle hybrid: how long to spin after the last work before sleeping.
    #[arg(long, default_value_t = 50)]
    pub spin_us: u64,
    /// XDP attach mode: auto (native; generic on a one-queue veth, where it measured
    /// faster), native or generic.
    #[arg(long, default_value = "auto")]
    pub xdp_mode: XdpAttach,
    /// Use copy mode even if the driver supports zero-copy.
    #[arg(long)]
    pub no_zero_copy: bool,
    /// Keep Nagle's algorithm on (it is off by default, for latency).
    #[arg(long)]
    pub nagle: bool,
}

impl DatapathArgs {
    pub fn runtime_config(&self) -> Result<RuntimeConfig, SetupError> {
        let iface = self.iface.as_deref().ok_or(SetupError::NoInterface)?;
        let mut config = RuntimeConfig::new(iface);
        config.ipv4 = self.ip;
        config.queues = self.queues;
        config.cores = self.cores.clone();
        let available = core_affinity::get_core_ids().map(|c| c.len()).unwrap_or(0);
        if let Some(&core) = self.cores.iter().find(|&&c| c >= available) {
            return Err(SetupError::NoSuchCore { core, available });
        }
        config.idle = match self.idle {
            Idle::Auto => IdlePolicy::Auto,
            Idle::Spin => IdlePolicy::BusySpin,
            Idle::Poll => IdlePolicy::Poll,
            Idle::Hybrid => IdlePolicy::Hybrid {
                spin: Duration::from_micros(self.spin_us),
            },
        };
        config.xsk.zero_copy = !self.no_zero_copy;
        config.xdp_attach = self.xdp_mode;
        config.tcp.nodelay = !self.nagle;
        Ok(config)
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

/// Which TCP stack a command runs on.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum StackKind {
    /// xdptcp over AF_XDP.
    Xdptcp,
    /// The Linux kernel's TCP through ordinary sockets (epoll).
    Kernel,
}

/// Per-queue counters, for the end of a run.
pub fn print_stats<M: Send + 'static>(runtime: &Runtime<M>) {
    let counters = runtime.program_counters();
    for (worker, stats) in runtime.stats().iter().enumerate() {
        let prog = counters.get(worker).copied().unwrap_or_default();
        eprintln!(
            "queue {}: XDP steered {} passed {}; socket rx {} tx {} (tx frames in flight {}, \
             kernel rx drops {} ring full {} fill empty {}); \
             TCP segments in {} out {}; resets sent {}; malformed dropped {}; connections open {}; \
             frames handed to other queues {} (dropped {})",
            stats.queue,
            prog.steered,
            prog.passed,
            stats.socket.rx_frames,
            stats.socket.tx_frames,
            stats.tx_frames_in_flight,
            stats.socket.rx_dropped,
            stats.socket.rx_ring_full,
            stats.socket.rx_fill_ring_empty,
            stats.stack.rx_tcp_segments,
            stats.stack.tx_tcp_segments,
            stats.stack.rst_sent,
            stats.stack.malformed(),
            stats.connections,
            stats.frames_handed_off,
            stats.handoff_drops,
        );
    }
}
