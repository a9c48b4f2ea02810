//! `xdptcp nc`: netcat over the stack. Standard input goes to the connection and the
//! connection to standard output; end of input half-closes the connection, and the command
//! ends once both directions are closed and the output is written.
//!
//! Two helper threads do the blocking I/O: one reads stdin and hands chunks to the worker
//! through the runtime's channel (blocking when the worker is behind), one writes what the
//! worker received to stdout through a bounded channel (the worker stops reading, and TCP's
//! window closes, when stdout is behind).

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use clap::Args;
use xdptcp::runtime::{Context, Handler, Runtime, RuntimeError, Sender};
use xdptcp::stack::{ConnId, StackError, StackEvent};
use xdptcp::tcp::{self, State};

use crate::common::{install_stop_handler, DatapathArgs, SetupError};

/// Why `xdptcp nc` failed.
#[derive(Debug, thiserror::Error)]
pub enum NcError {
    #[error("with -l give only --port, not a host and port")]
    ListenWithHost,
    #[error("give HOST PORT to connect to, or -l --port P to listen")]
    NoHost,
    #[error("nc -l accepts on one queue: use --queues 1")]
    ListenOnQueues,
    #[error("-l needs --port")]
    ListenWithoutPort,
    #[error(transparent)]
    Setup(#[from] SetupError),
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error("no worker")]
    NoWorker,
    #[error("the output thread panicked")]
    OutputThreadPanicked,
    #[error("writing standard output: {0}")]
    Stdout(#[source] std::io::Error),
    #[error("interrupted")]
    Interrupted,
    #[error("standard output closed")]
    StdoutClosed,
    #[error("connect to {addr}: {source}")]
    Connect {
        addr: SocketAddrV4,
        source: StackError,
    },
    #[error("connection to {peer}: {source}")]
    Connection {
        peer: String,
        source: tcp::ConnectionError,
    },
}

const CHUNK: usize = 64 * 1024;

#[derive(Args)]
pub struct NcArgs {
    #[command(flatten)]
    datapath: DatapathArgs,
    /// Listen for one connection on --port instead of connecting.
    #[arg(short = 'l', long)]
    listen: bool,
    /// Local port to listen on (with -l).
    #[arg(long)]
    port: Option<u16>,
    /// Host to connect to.
    host: Option<Ipv4Addr>,
    /// Port to connect to.
    remote_port: Option<u16>,
    /// Print per-queue counters to standard error at the end.
    #[arg(long)]
    stats: bool,
}

enum Message {
    Stdin(Vec<u8>),
    StdinEnd,
    StdoutDrained,
}

/// How the run ended, for the exit status.
#[derive(Default)]
struct Outcome {
    error: Option<NcError>,
}

struct Nc {
    connect_to: Option<SocketAddrV4>,
    conn: Option<ConnId>,
    to_send: VecDeque<Vec<u8>>,
    stdin_done: bool,
    write_closed: bool,
    read_done: bool,
    reading_paused: bool,
    stdout: Option<crossbeam::channel::Sender<Vec<u8>>>,
    outcome: Arc<Mutex<Outcome>>,
}

impl Nc {
    fn fail(&mut self, ctx: &mut Context<'_>, why: NcError) {
        if let Ok(mut o) = self.outcome.lock() {
            o.error.get_or_insert(why);
        }
        ctx.stop_runtime();
    }

    fn flush_input(&mut self, ctx: &mut Context<'_>) {
        let Some(conn) = self.conn else { return };
        while let Some(chunk) = self.to_send.front_mut() {
            match ctx.write(conn, chunk) {
                Ok(n) if n == chunk.len() => {
                    self.to_send.pop_front();
                }
                Ok(n) => {
                    chunk.drain(..n);
                    return;
                }
                Err(_) => return,
            }
        }
        if self.stdin_done && !self.write_closed {
            self.write_closed = true;
            let _ = ctx.shutdown_write(conn);
        }
    }

    fn drain_output(&mut self, ctx: &mut Context<'_>) {
        let Some(conn) = self.conn else { return };
        let Some(stdout) = self.stdout.clone() else {
            return;
        };
        while !self.read_done {
            if stdout.is_full() {
                self.reading_paused = true;
                return;
            }
            let mut chunk = vec![0u8; CHUNK];
            match ctx.read(conn, &mut chunk) {
                Ok(0) => self.read_done = true,
                Ok(n) => {
                    chunk.truncate(n);
                    if stdout.send(chunk).is_err() {
                        self.fail(ctx, NcError::StdoutClosed);
                        return;
                    }
                }
                Err(_) => return,
            }
        }
    }

    fn finish_if_done(&mut self, ctx: &mut Context<'_>) {
        let Some(conn) = self.conn else { return };
        let state = ctx
            .connection(conn)
            .map(|c| c.state())
            .unwrap_or(State::Closed);
        // Both directions closed: our FIN acknowledged and theirs read.
        if self.read_done && self.write_closed && matches!(state, State::TimeWait | State::Closed) {
            self.stdout = None; // lets the writer thread finish
            ctx.stop_runtime();
        }
    }
}

impl Handler for Nc {
    type Message = Message;

    fn on_start(&mut self, ctx: &mut Context<'_>) {
        if let Some(addr) = self.connect_to {
            match ctx.connect(addr) {
                Ok(conn) => self.conn = Some(conn),
                Err(source) => self.fail(ctx, NcError::Connect { addr, source }),
            }
        }
    }

    fn on_event(&mut self, ctx: &mut Context<'_>, conn: ConnId, event: StackEvent) {
        match event {
            StackEvent::Accepted { .. } => {
                if self.conn.is_some() {
                    ctx.abort(conn); // one connection at a time
                    ctx.release(conn);
                    return;
                }
                self.conn = Some(conn);
                self.flush_input(ctx);
            }
            StackEvent::Connected => self.flush_input(ctx),
            StackEvent::Readable | StackEvent::ReadClosed => self.drain_output(ctx),
            StackEvent::Writable => self.flush_input(ctx),
            StackEvent::Closed { error } => {
                if Some(conn) != self.conn {
                    return;
                }
                if let Some(source) = error {
                    let peer = ctx.peer(conn).map(|p| p.to_string()).unwrap_or_default();
                    self.fail(ctx, NcError::Connection { peer, source });
                    return;
                }
                self.drain_output(ctx);
            }
        }
        self.finish_if_done(ctx);
    }

    fn on_message(&mut self, ctx: &mut Context<'_>, message: Message) {
        match message {
            Message::Stdin(chunk) => self.to_send.push_back(chunk),
            Message::StdinEnd => self.stdin_done = true,
            Message::StdoutDrained => {
                if self.reading_paused {
                    self.reading_paused = false;
                    self.drain_output(ctx);
                }
            }
        }
        self.flush_input(ctx);
        self.finish_if_done(ctx);
    }
}

fn spawn_stdin_reader(sender: Sender<Message>) {
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        loop {
            let mut chunk = vec![0u8; CHUNK];
            match stdin.read(&mut chunk) {
                Ok(0) | Err(_) => {
                    let _ = sender.send(Message::StdinEnd);
                    return;
                }
                Ok(n) => {
                    chunk.truncate(n);
                    if sender.send(Message::Stdin(chunk)).is_err() {
                        return;
                    }
                }
            }
        }
    });
}

fn spawn_stdout_writer(
    chunks: crossbeam::channel::Receiver<Vec<u8>>,
    drained: Sender<Message>,
) -> std::thread::JoinHandle<std::io::Result<()>> {
    std::thread::spawn(move || {
        let mut stdout = std::io::stdout().lock();
        for chunk in chunks {
            stdout.write_all(&chunk)?;
            // Progress report; the worker acts on it only when it paused reading.
            let _ = drained.try_send(Message::StdoutDrained);
        }
        stdout.flush()
    })
}

pub fn run(args: &NcArgs) -> Result<(), NcError> {
    let connect_to = match (args.listen, args.host, args.remote_port) {
        (true, None, None) => None,
        (true, _, _) => return Err(NcError::ListenWithHost),
        (false, Some(host), Some(port)) => Some(SocketAddrV4::new(host, port)),
        (false, _, _) => return Err(NcError::NoHost),
    };
    let mut config = args.datapath.runtime_config()?;
    if args.listen {
        if config.queues != 1 {
            return Err(NcError::ListenOnQueues);
        }
        config.listen = vec![args.port.ok_or(NcError::ListenWithoutPort)?];
    }
    let (out_tx, out_rx) = crossbeam::channel::bounded::<Vec<u8>>(64);
    let outcome = Arc::new(Mutex::new(Outcome::default()));
    let handler_outcome = outcome.clone();
    let mut stdout_sender = Some(out_tx);
    // Worker 0 opens the connection; with several queues the other workers only hand it
    // the frames that arrive on their queues.
    let mut runtime: Runtime<Message> = Runtime::start(config, move |worker| Nc {
        connect_to: connect_to.filter(|_| worker == 0),
        conn: None,
        to_send: VecDeque::new(),
        stdin_done: false,
        write_closed: false,
        read_done: false,
        reading_paused: false,
        stdout: stdout_sender.take(),
        outcome: handler_outcome.clone(),
    })?;
    let sender = runtime.sender(0).ok_or(NcError::NoWorker)?;
    let writer = spawn_stdout_writer(out_rx, sender.clone());
    spawn_stdin_reader(sender);
    let interrupted = install_stop_handler(runtime.stop_flag())?;
    runtime.wait();
    runtime.finish();
    if args.stats {
        crate::common::print_stats(&runtime);
    }
    drop(runtime);
    writer
        .join()
        .map_err(|_| NcError::OutputThreadPanicked)?
        .map_err(NcError::Stdout)?;
    if interrupted.load(Ordering::SeqCst) {
        return Err(NcError::Interrupted);
    }
    match outcome.lock().ok().and_then(|mut o| o.error.take()) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
