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

mod capture;
mod config;
mod context;
mod error;
mod frame_flow;
mod handler;
mod handoff;
mod host;
mod observer;
mod sender;
mod start;
mod stats;
mod worker;

pub use capture::{
    Capture, CaptureBusy, CapturedFrame, Direction, RING_FRAMES as CAPTURE_RING_FRAMES,
};
pub use config::{ConfigError, IdlePolicy, RuntimeConfig, MAX_BATCH};
pub use context::Context;
pub use error::RuntimeError;
pub use handler::Handler;
pub use host::HandlerHost;
pub use observer::{RuntimeObserver, OBSERVER_PATIENCE};
pub use sender::Sender;
pub use stats::{ConnectionListing, ConnectionQuery, WorkerStats};

pub use crate::stack::StackEvent;

use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::xdp::{self, BindMode, XdpMode, XdpProgram};
use capture::CaptureTap;
use start::{Datapath, HostFacts, Workers};
use stats::StatsSlot;

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

/// A running worker, from the runtime's side.
struct WorkerHandle<M> {
    thread: Option<JoinHandle<()>>,
    sender: Sender<M>,
    stats: Arc<StatsSlot>,
    capture: Arc<CaptureTap>,
}

/// A running stack on one interface. Dropping it stops the workers and detaches the XDP
/// program.
pub struct Runtime<M: Send + 'static> {
    workers: Vec<WorkerHandle<M>>,
    stop: Arc<AtomicBool>,
    program: Arc<XdpProgram>,
    info: RuntimeInfo,
    observer: RuntimeObserver,
}

impl<M: Send + 'static> Runtime<M> {
    /// Starts the runtime: `make_handler(i)` builds worker i's handler. The configuration is
    /// checked, the host's facts read, the XDP program attached and the sockets opened, the
    /// workers spawned (see `start`), and only then are frames steered to them. A failure at
    /// any step undoes the steps before it: started workers are stopped, the program detached.
    pub fn start<H, F>(
        config: RuntimeConfig,
        mut make_handler: F,
    ) -> Result<Runtime<H::Message>, RuntimeError>
    where
        H: Handler<Message = M>,
        F: FnMut(usize) -> H,
    {
        xdp::check_privileges(config.queues, &config.xsk)?;
        xdp::check_huge_pages(config.queues, &config.xsk)?;
        config.validate()?;
        let facts = HostFacts::read(&config)?;
        let datapath = Datapath::open(&config, &facts)?;
        let stop = Arc::new(AtomicBool::new(false));
        let workers = Workers::new(&config, &facts, stop.clone())?;
        let info = RuntimeInfo {
            iface: config.iface.clone(),
            ipv4: facts.ipv4,
            queues: config.queues,
            xdp_mode: datapath.program.mode(),
            bind_mode: datapath.bind_mode(),
            idle: workers.idle,
        };
        let program_counters = datapath.program.counters()?;
        let mut runtime = Runtime {
            workers: Vec::new(),
            stop,
            observer: RuntimeObserver::new([], program_counters.try_clone()?, info.clone()),
            info,
            program: Arc::new(datapath.program),
        };
        // A worker that cannot start drops `runtime`, which stops those started before it.
        let cookie_ports = runtime.program.cookie_ports()?;
        for (index, socket) in datapath.sockets.into_iter().enumerate() {
            let worker =
                workers.spawn(index, socket, cookie_ports.try_clone()?, &mut make_handler)?;
            runtime.workers.push(worker);
        }
        runtime.observer = RuntimeObserver::new(
            runtime
                .workers
                .iter()
                .map(|w| (w.stats.clone(), w.sender.waker.clone(), w.capture.clone())),
            program_counters,
            runtime.info.clone(),
        );
        runtime.program.enable(
            facts.ipv4,
            &config.more_ipv4,
            Some(&workers.cookie_answer()),
        )?;
        Ok(runtime)
    }

    pub fn info(&self) -> &RuntimeInfo {
        &self.info
    }

    /// A handle on this runtime's counters and connections for other threads (see
    /// [`RuntimeObserver`]).
    pub fn observer(&self) -> RuntimeObserver {
        self.observer.clone()
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
        self.observer.stats()
    }

    /// The XDP program's counters per queue.
    pub fn program_counters(&self) -> Vec<xdp::QueueCounters> {
        self.observer.program_counters()
    }
}

impl<M: Send + 'static> Drop for Runtime<M> {
    fn drop(&mut self) {
        self.finish();
        // The program detaches when the last Arc drops (here).
    }
}
