//! The embedding API: run xdptcp on an interface and handle connections on the worker cores.
//!
//! A [`Runtime`] loads the XDP program, opens one AF_XDP socket per queue and runs one worker
//! thread per queue, each pinned to a core and running to completion: frames in, TCP, your
//! [`Handler`], frames out, in one loop turn, with nothing shared on the fast path. Your
//! handler gets events ([`StackEvent`]: accepted, connected, readable, writable, peer closed,
//! closed with or without an error) and acts through a [`Context`]: read, write, half-close,
//! close, abort, connect. Other threads hand work to a worker through its [`Sender`] (a
//! crossbeam channel that wakes the worker if it sleeps).
//!
//! ```no_run
//! use xdptcp::runtime::{Context, Handler, Runtime, RuntimeConfig};
//! use xdptcp::stack::{ConnId, StackEvent};
//!
//! /// Sends back every byte it receives.
//! struct Echo;
//!
//! impl Handler for Echo {
//!     type Message = ();
//!     fn on_event(&mut self, ctx: &mut Context<'_>, conn: ConnId, event: StackEvent) {
//!         if let StackEvent::Readable | StackEvent::Writable = event {
//!             let mut buf = [0u8; 4096];
//!             let room = ctx.send_capacity(conn).min(buf.len());
//!             if let Ok(n) = ctx.read(conn, &mut buf[..room]) {
//!                 let _ = ctx.write(conn, &buf[..n]);
//!             }
//!         }
//!         if let StackEvent::Closed { .. } = event {
//!             ctx.release(conn);
//!         }
//!     }
//! }
//!
//! let mut config = RuntimeConfig::new("eth0");
//! config.listen = vec![7];
//! let runtime = Runtime::start(config, |_worker| Echo)?;
//! runtime.wait();
//! # Ok::<(), xdptcp::runtime::RuntimeError>(())
//! ```

mod handoff;
mod host;
mod stats;
mod worker;

pub use host::HandlerHost;
pub use stats::WorkerStats;

use std::net::{Ipv4Addr, SocketAddrV4};
use std::ops::RangeInclusive;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::stack::{ConnId, Stack, StackConfig, StackError};
use crate::tcp::{self, IsnGenerator};
use crate::time::Instant;
use crate::xdp::{self, BindMode, XdpAttach, XdpError, XdpMode, XdpProgram, XskConfig, XskSocket};
use stats::StatsSlot;

pub use crate::stack::StackEvent;

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
    /// Number of queues to serve, from queue 0; one worker each.
    pub queues: u32,
    /// Cores to pin workers to (worker i on `cores[i % len]`); unpinned if empty.
    pub cores: Vec<usize>,
    /// Ports to accept connections on.
    pub listen: Vec<u16>,
    /// Half-open connections each worker holds per listening port.
    pub backlog: usize,
    /// Source ports for active opens, split among workers. Keep it outside the kernel's
    /// `net.ipv4.ip_local_port_range` (32768–60999 by default).
    pub ephemeral_ports: RangeInclusive<u16>,
    pub max_connections_per_worker: usize,
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
            queues: 1,
            cores: Vec::new(),
            listen: Vec::new(),
            backlog: 1024,
            ephemeral_ports: 61_000..=65_535,
            max_connections_per_worker: 65_536,
            tcp: tcp::Config::default(),
            xsk: XskConfig::default(),
            xdp_attach: XdpAttach::Auto,
            idle: IdlePolicy::default(),
            batch: 64,
        }
    }
}

/// Why the runtime could not start.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error(transparent)]
    Xdp(#[from] XdpError),
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("port {port} is in use by a kernel socket in this network namespace; xdptcp would take its traffic")]
    PortInUseByKernel { port: u16 },
    #[error("{iface} has no IPv4 address; give one with --ip")]
    NoAddress { iface: String },
    #[error("reading {what} from the kernel failed: {source}")]
    Host {
        what: &'static str,
        source: std::io::Error,
    },
    #[error("starting worker {worker}: {detail}")]
    Worker { worker: usize, detail: String },
}

/// Work for one worker, from any thread. Cloning is cheap.
pub struct Sender<M> {
    channel: crossbeam::channel::Sender<M>,
    waker: Arc<xdp::wait::Waker>,
}

impl<M> Clone for Sender<M> {
    fn clone(&self) -> Sender<M> {
        Sender {
            channel: self.channel.clone(),
            waker: self.waker.clone(),
        }
    }
}

impl<M> Sender<M> {
    /// Queues `message` for the worker's [`Handler::on_message`]; blocks while the queue is
    /// full (backpressure). Fails only when the worker has stopped.
    pub fn send(&self, message: M) -> Result<(), M> {
        let result = self.channel.send(message).map_err(|e| e.into_inner());
        self.waker.wake();
        result
    }

    /// Like [`Sender::send`] but fails instead of blocking when the queue is full.
    pub fn try_send(&self, message: M) -> Result<(), M> {
        let result = self.channel.try_send(message).map_err(|e| e.into_inner());
        self.waker.wake();
        result
    }
}

/// The application's side of a worker. One instance per worker, called only on its thread.
pub trait Handler: Send + 'static {
    /// Work other threads hand in through a [`Sender`].
    type Message: Send + 'static;

    /// Called once when the worker starts (open connections here).
    fn on_start(&mut self, ctx: &mut Context<'_>) {
        let _ = ctx;
    }

    /// Something happened on `conn`.
    fn on_event(&mut self, ctx: &mut Context<'_>, conn: ConnId, event: StackEvent);

    /// A message from another thread.
    fn on_message(&mut self, ctx: &mut Context<'_>, message: Self::Message) {
        let _ = (ctx, message);
    }

    /// Called once per loop turn, after events. A handler with work at a given time (a
    /// scheduled send) asks to be woken for it with [`Context::wake_at`].
    fn on_tick(&mut self, ctx: &mut Context<'_>) {
        let _ = ctx;
    }

    /// Called once when the worker stops.
    fn on_stop(&mut self, ctx: &mut Context<'_>) {
        let _ = ctx;
    }
}

/// Received bytes shown to the handler in place, in the frame they arrived in.
struct DirectRead<'a> {
    conn: ConnId,
    data: &'a [u8],
    consumed: usize,
}

/// What a handler can do on its worker, between receiving and sending frames.
pub struct Context<'a> {
    stack: &'a mut Stack,
    now: Instant,
    worker: usize,
    stop: &'a AtomicBool,
    direct: Option<DirectRead<'a>>,
    wake_at: Option<Instant>,
}

impl<'a> Context<'a> {
    fn new(stack: &'a mut Stack, now: Instant, worker: usize, stop: &'a AtomicBool) -> Context<'a> {
        Context {
            stack,
            now,
            worker,
            stop,
            direct: None,
            wake_at: None,
        }
    }

    /// Makes sure the worker runs (and calls [`Handler::on_tick`]) no later than `at`, even
    /// if it would otherwise sleep.
    pub fn wake_at(&mut self, at: Instant) {
        self.wake_at = Some(self.wake_at.map_or(at, |w| w.min(at)));
    }

    /// Reads on `conn` are served from `data` (a received frame) before the receive buffer.
    fn with_direct(mut self, conn: ConnId, data: &'a [u8]) -> Context<'a> {
        self.direct = Some(DirectRead {
            conn,
            data,
            consumed: 0,
        });
        self
    }

    /// How much of the in-place data the handler read.
    fn direct_consumed(&self) -> usize {
        self.direct.as_ref().map_or(0, |d| d.consumed)
    }

    /// The unread in-place data for `conn`, if any.
    fn direct_for(&mut self, conn: ConnId) -> Option<&mut DirectRead<'a>> {
        self.direct
            .as_mut()
            .filter(|d| d.conn == conn && d.consumed < d.data.len())
    }

    /// The time of this loop turn.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Index of this worker.
    pub fn worker(&self) -> usize {
        self.worker
    }

    /// Opens a connection; [`StackEvent::Connected`] follows (or `Closed` with the error).
    pub fn connect(&mut self, remote: SocketAddrV4) -> Result<ConnId, StackError> {
        self.stack.connect(self.now, remote)
    }

    /// Reads received bytes into `buf`. `Ok(0)` is end of stream (the peer closed and every
    /// byte was read); `Err(WouldBlock)` means nothing yet.
    pub fn read(&mut self, conn: ConnId, buf: &mut [u8]) -> Result<usize, StackError> {
        if let Some(d) = self.direct_for(conn) {
            let n = buf.len().min(d.data.len() - d.consumed);
            buf[..n].copy_from_slice(&d.data[d.consumed..d.consumed + n]);
            d.consumed += n;
            return Ok(n);
        }
        self.stack.recv(conn, buf)
    }

    /// Zero-copy read: `reader` sees received bytes in place — in the frame they arrived in
    /// when the data is new, else in the receive buffer — and returns how many it took.
    pub fn read_with<F: FnOnce(&[u8]) -> usize>(
        &mut self,
        conn: ConnId,
        reader: F,
    ) -> Result<usize, StackError> {
        if let Some(d) = self.direct_for(conn) {
            let rest = &d.data[d.consumed..];
            let n = reader(rest).min(rest.len());
            d.consumed += n;
            return Ok(n);
        }
        Ok(self.stack.connection(conn)?.recv_with(reader)?)
    }

    /// Queues bytes to send; returns how many fit. A full send buffer gives
    /// `Err(WouldBlock)`, and [`StackEvent::Writable`] follows when space frees up.
    pub fn write(&mut self, conn: ConnId, data: &[u8]) -> Result<usize, StackError> {
        self.stack.send(conn, data, self.now)
    }

    /// Bytes [`Context::write`] can take now.
    pub fn send_capacity(&mut self, conn: ConnId) -> usize {
        self.stack
            .connection(conn)
            .map(|c| c.send_capacity())
            .unwrap_or(0)
    }

    /// Bytes [`Context::read`] can return now.
    pub fn recv_available(&mut self, conn: ConnId) -> usize {
        let direct = self
            .direct_for(conn)
            .map_or(0, |d| d.data.len() - d.consumed);
        let buffered = self
            .stack
            .connection(conn)
            .map(|c| c.recv_available())
            .unwrap_or(0);
        direct + buffered
    }

    /// True once the peer has closed its side and every byte it sent was read — what
    /// [`Context::read`] reports as `Ok(0)`. Unlike the connection's own
    /// [`tcp::Connection::peer_closed`] and [`tcp::Connection::recv_available`], it counts
    /// bytes being read in place from the frame they arrived in, which a FIN can accompany.
    pub fn end_of_stream(&mut self, conn: ConnId) -> bool {
        self.recv_available(conn) == 0 && self.stack.connection(conn).is_ok_and(|c| c.peer_closed())
    }

    /// Half-close: no more data from us; reading continues (RFC 9293 CLOSE).
    pub fn shutdown_write(&mut self, conn: ConnId) -> Result<(), StackError> {
        self.stack.shutdown_write(conn, self.now)
    }

    /// Resets the connection and drops its data.
    pub fn abort(&mut self, conn: ConnId) {
        let _ = self.stack.abort(conn);
    }

    /// Gives the connection back: no more events for it. The stack closes it gracefully
    /// (with a reset if received data was left unread) and frees it when done.
    pub fn release(&mut self, conn: ConnId) {
        self.stack.release(conn, self.now);
    }

    /// The peer's address.
    pub fn peer(&self, conn: ConnId) -> Option<SocketAddrV4> {
        self.stack.flow_key(conn).map(|k| k.remote())
    }

    /// Direct access to the connection (state, windows, counters). While a handler reads in
    /// place, the connection's receive-buffer figures leave out the in-place bytes: use
    /// [`Context::recv_available`] and [`Context::end_of_stream`] for what is left to read.
    pub fn connection(&mut self, conn: ConnId) -> Result<&mut tcp::Connection, StackError> {
        self.stack.connection(conn)
    }

    /// Asks the whole runtime to stop.
    pub fn stop_runtime(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// Facts about a running runtime.
#[derive(Clone, Debug)]
pub struct RuntimeInfo {
    pub iface: String,
    pub ipv4: Ipv4Addr,
    pub queues: u32,
    pub xdp_mode: XdpMode,
    pub bind_mode: BindMode,
    /// The idle policy the workers run (`Auto` resolved).
    pub idle: IdlePolicy,
}

struct WorkerHandle<M> {
    thread: Option<JoinHandle<()>>,
    sender: Sender<M>,
    stats: Arc<StatsSlot>,
}

/// How long [`Runtime::stats`] waits for a worker's answer (a worker answers within one loop
/// turn; only a handler that blocks its worker makes it wait this long).
const STATS_PATIENCE: Duration = Duration::from_secs(1);

/// A running stack on one interface. Dropping it stops the workers and detaches the XDP
/// program.
pub struct Runtime<M: Send + 'static> {
    workers: Vec<WorkerHandle<M>>,
    stop: Arc<AtomicBool>,
    program: Arc<XdpProgram>,
    info: RuntimeInfo,
}

impl<M: Send + 'static> Runtime<M> {
    /// Starts the runtime: `make_handler(i)` builds worker i's handler.
    pub fn start<H, F>(
        config: RuntimeConfig,
        mut make_handler: F,
    ) -> Result<Runtime<H::Message>, RuntimeError>
    where
        H: Handler<Message = M>,
        F: FnMut(usize) -> H,
    {
        if !crate::host::is_root() {
            return Err(XdpError::PermissionDenied.into());
        }
        let ifindex = crate::host::interface_index(&config.iface).map_err(XdpError::from)?;
        let queue_count = crate::host::rx_queue_count(&config.iface).map_err(XdpError::from)?;
        if config.queues == 0 {
            return Err(RuntimeError::Config("queues must be at least 1".into()));
        }
        if config.queues > queue_count {
            return Err(XdpError::QueueOutOfRange {
                iface: config.iface.clone(),
                queue: config.queues - 1,
                count: queue_count,
            }
            .into());
        }
        if config.batch == 0 || config.batch > 1024 {
            return Err(RuntimeError::Config("batch must be 1 to 1024".into()));
        }
        let span = u32::from(*config.ephemeral_ports.end()) + 1
            - u32::from(*config.ephemeral_ports.start());
        if config.ephemeral_ports.is_empty() || span < config.queues {
            return Err(RuntimeError::Config(
                "the ephemeral port range needs at least one port per queue".into(),
            ));
        }
        config
            .tcp
            .validate()
            .map_err(|e| RuntimeError::Config(e.to_string()))?;
        let (ipv4, prefix_len) = match config.ipv4 {
            Some(ip) => (ip, 32),
            None => crate::host::interface_ipv4(ifindex)
                .map_err(|source| RuntimeError::Host {
                    what: "the interface address",
                    source,
                })?
                .ok_or_else(|| RuntimeError::NoAddress {
                    iface: config.iface.clone(),
                })?,
        };
        let kernel_ports =
            crate::host::kernel_listening_ports().map_err(|source| RuntimeError::Host {
                what: "the kernel's listening sockets",
                source,
            })?;
        for &port in &config.listen {
            if kernel_ports.contains(&port) {
                return Err(RuntimeError::PortInUseByKernel { port });
            }
        }
        let mac =
            crate::host::interface_mac(&config.iface).map_err(|source| RuntimeError::Host {
                what: "the interface MAC address",
                source,
            })?;
        let mtu =
            crate::host::interface_mtu(&config.iface).map_err(|source| RuntimeError::Host {
                what: "the interface MTU",
                source,
            })?;
        let routes = crate::host::routes(ifindex).map_err(|source| RuntimeError::Host {
            what: "the routing table",
            source,
        })?;
        let gateway = routes.iter().find(|r| r.len == 0).and_then(|r| r.gateway);
        let driver = crate::host::driver_name(&config.iface)
            .ok()
            .flatten()
            .unwrap_or_default();
        // A local kernel sending over veth leaves TCP checksums unfinished (see StackConfig).
        let accept_partial_checksum = driver == "veth";

        let program =
            XdpProgram::load_and_attach(&config.iface, ipv4, config.xdp_attach, config.queues)?;
        log::info!(
            "XDP program attached to {} (driver {}) in {} mode",
            config.iface,
            if driver.is_empty() {
                "unknown"
            } else {
                &driver
            },
            program.mode()
        );
        let mut sockets = Vec::new();
        for queue in 0..config.queues {
            let socket = XskSocket::open(&config.iface, queue, &config.xsk)?;
            program.set_socket(queue, socket.fd())?;
            sockets.push(socket);
        }
        let bind_mode = sockets[0].mode();
        match bind_mode {
            BindMode::ZeroCopy => log::info!("AF_XDP sockets in zero-copy mode"),
            BindMode::Copy if config.xsk.zero_copy => log::info!(
                "AF_XDP sockets in copy mode: the {} driver does not support zero-copy",
                config.iface
            ),
            BindMode::Copy => log::info!("AF_XDP sockets in copy mode (zero-copy not requested)"),
        }
        for &port in &config.listen {
            program.set_port(port, true)?;
        }
        for port in config.ephemeral_ports.clone() {
            program.set_port(port, true)?;
        }

        let isn = IsnGenerator::with_key(crate::host::isn_secret());
        let mut seed_bytes = [0u8; 8];
        getrandom::fill(&mut seed_bytes)
            .map_err(|e| RuntimeError::Config(format!("no OS randomness: {e}")))?;
        let stop = Arc::new(AtomicBool::new(false));
        let program = Arc::new(program);
        let mut workers = Vec::new();
        let per_worker = span / config.queues;
        let cores = core_affinity::get_core_ids().map_or(1, |c| c.len());
        let idle = config.idle.resolve(config.queues as usize, cores);
        log::info!(
            "{} worker(s) on {cores} core(s): idle policy {idle}",
            config.queues
        );
        let mut wakers = Vec::new();
        for index in 0..config.queues as usize {
            wakers.push(Arc::new(xdp::wait::Waker::new().map_err(|e| {
                RuntimeError::Worker {
                    worker: index,
                    detail: format!("eventfd: {e}"),
                }
            })?));
        }
        let handoffs = Arc::new(handoff::Handoffs::new(
            &wakers,
            *config.ephemeral_ports.start(),
            per_worker,
        ));
        for (index, socket) in sockets.into_iter().enumerate() {
            let first = u32::from(*config.ephemeral_ports.start()) + per_worker * index as u32;
            let mut stack_config = StackConfig::new(mac, ipv4, prefix_len);
            stack_config.gateway = gateway;
            stack_config.routes = routes.clone();
            stack_config.mtu = mtu;
            stack_config.arp = false;
            stack_config.accept_partial_checksum = accept_partial_checksum;
            stack_config.max_connections = config.max_connections_per_worker;
            stack_config.ephemeral_ports = first as u16..=(first + per_worker - 1) as u16;
            stack_config.tcp = config.tcp.clone();
            let mut stack = Stack::new(
                stack_config,
                isn.clone(),
                u64::from_ne_bytes(seed_bytes) ^ index as u64,
            )
            .map_err(|e| RuntimeError::Config(e.to_string()))?;
            for &port in &config.listen {
                stack
                    .listen(port, config.backlog)
                    .map_err(|e| RuntimeError::Config(e.to_string()))?;
            }
            let waker = wakers[index].clone();
            let (tx, rx) = crossbeam::channel::bounded(1024);
            let core = if config.cores.is_empty() {
                None
            } else {
                Some(config.cores[index % config.cores.len()])
            };
            let stats = Arc::new(StatsSlot::new(WorkerStats {
                queue: index as u32,
                core,
                ..WorkerStats::default()
            }));
            let worker = worker::Worker {
                index,
                ifindex,
                socket,
                stack,
                host: HandlerHost::new(make_handler(index), index, stop.clone()),
                messages: rx,
                waker: waker.clone(),
                stop: stop.clone(),
                idle,
                batch: config.batch,
                core,
                stats: stats.clone(),
                handoffs: handoffs.clone(),
            };
            let thread = std::thread::Builder::new()
                .name(format!("xdptcp-q{index}"))
                .spawn(move || worker.run())
                .map_err(|e| RuntimeError::Worker {
                    worker: index,
                    detail: e.to_string(),
                })?;
            workers.push(WorkerHandle {
                thread: Some(thread),
                sender: Sender { channel: tx, waker },
                stats,
            });
        }
        program.enable(ipv4)?;
        let info = RuntimeInfo {
            iface: config.iface.clone(),
            ipv4,
            queues: config.queues,
            xdp_mode: program.mode(),
            bind_mode,
            idle,
        };
        Ok(Runtime {
            workers,
            stop,
            program,
            info,
        })
    }

    pub fn info(&self) -> &RuntimeInfo {
        &self.info
    }

    /// A sender to worker `worker`'s handler.
    pub fn sender(&self, worker: usize) -> Option<Sender<M>> {
        self.workers.get(worker).map(|w| w.sender.clone())
    }

    /// A flag that stops the runtime when set (for signal handlers).
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        self.stop.clone()
    }

    /// Asks every worker to stop.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        for w in &self.workers {
            w.sender.waker.wake();
        }
    }

    /// True once a stop was asked for or a worker ended.
    pub fn is_stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst) || self.workers.iter().any(|w| w.stats.ended())
    }

    /// Blocks until the runtime is asked to stop (or a worker ends), then stops it and waits
    /// until every worker has ended: [`Runtime::stats`] gives the final counters after this.
    /// The XDP program stays attached until the runtime is dropped.
    pub fn wait(&self) {
        while !self.is_stopping() {
            std::thread::sleep(Duration::from_millis(20));
        }
        self.stop();
        for w in &self.workers {
            w.stats.wait_ended();
        }
    }

    /// Stops the workers and joins their threads; [`Runtime::stats`] gives the final
    /// counters after this. The XDP program stays attached until the runtime is dropped.
    pub fn finish(&mut self) {
        self.stop();
        for w in &mut self.workers {
            if let Some(t) = w.thread.take() {
                let _ = t.join();
            }
        }
    }

    /// Each worker's counters, taken after this call: while the runtime runs, every worker
    /// is asked for them and answers within one loop turn (a sleeping worker is woken), so
    /// they count all traffic so far; once a worker has ended (after [`Runtime::wait`] or
    /// [`Runtime::finish`]) they are its final counters, returned at once. A worker whose
    /// handler blocks its loop for more than a second gives its latest counters instead.
    pub fn stats(&self) -> Vec<WorkerStats> {
        let requests: Vec<_> = self
            .workers
            .iter()
            .map(|w| {
                let request = w.stats.request();
                w.sender.waker.wake();
                request
            })
            .collect();
        let deadline = std::time::Instant::now() + STATS_PATIENCE;
        self.workers
            .iter()
            .zip(requests)
            .map(|(w, request)| w.stats.answer(request, deadline))
            .collect()
    }

    /// The XDP program's counters per queue.
    pub fn program_counters(&self) -> Vec<xdp::QueueCounters> {
        (0..self.info.queues)
            .map(|q| self.program.queue_counters(q).unwrap_or_default())
            .collect()
    }
}

impl<M: Send + 'static> Drop for Runtime<M> {
    fn drop(&mut self) {
        self.finish();
        // The program detaches when the last Arc drops (here).
    }
}
