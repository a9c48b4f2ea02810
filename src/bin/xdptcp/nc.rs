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
use std::os::fd::AsFd;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::Args;
use xdptcp::runtime::{Context, Handler, Runtime, RuntimeError, Sender};
use xdptcp::stack::{ConnId, StackError, StackEvent};
use xdptcp::tcp::{self, State};
use xdptcp::Instant;

use crate::common::{install_stop_handler, DatapathArgs, SetupError};

/// Why `xdptcp nc` failed.
#[derive(Debug, thiserror::Error)]
pub enum NcError {
    #[error("give HOST PORT to connect to, or -l [HOST] PORT (or -l -p PORT) to listen")]
    NoHost,
    #[error("-l needs a port: nc -l PORT, nc -l HOST PORT or nc -l -p PORT")]
    ListenWithoutPort,
    #[error("too many arguments: nc [-l] [HOST] PORT")]
    TooManyArguments,
    #[error("{0:?} is not a port number (1 to 65535)")]
    NotAPort(String),
    #[error("{0:?} is not an IPv4 address (xdptcp nc takes addresses, not host names)")]
    NotAnAddress(String),
    #[error("the port is given twice, as {positional} and as -p {flag}")]
    PortTwice { positional: u16, flag: u16 },
    #[error("the local address is given twice, as {listen} and as -s {flag}")]
    AddressTwice { listen: Ipv4Addr, flag: Ipv4Addr },
    #[error(
        "-p in connect mode (a fixed source port) is not supported: xdptcp takes source ports from its ephemeral range, split among the workers, so that replies reach the worker that owns the connection"
    )]
    SourcePort,
    #[error("-w/--wait is a connect timeout; in listen mode there is nothing to time")]
    WaitWhileListening,
    #[error("{0:?} is not a time (examples: 5, 500ms, 2s, 1m, 1h)")]
    NotATime(String),
    #[error("nc -l accepts on one queue: use --queues 1")]
    ListenOnQueues,
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
    #[error("connect to {addr}: no answer within {} ms (-w)", wait.as_millis())]
    ConnectTimeout { addr: SocketAddrV4, wait: Duration },
    #[error("connection to {peer}: {source}")]
    Connection {
        peer: String,
        source: tcp::ConnectionError,
    },
}

const CHUNK: usize = 64 * 1024;

/// The arguments as ncat(1) and OpenBSD nc(1) take them: `nc HOST PORT` connects,
/// `nc -l PORT`, `nc -l HOST PORT` and `nc -l -p PORT` listen.
#[derive(Args)]
pub struct NcArgs {
    #[command(flatten)]
    datapath: DatapathArgs,
    /// Listen for one connection instead of connecting.
    #[arg(short = 'l', long)]
    listen: bool,
    /// The port to listen on (with -l; as ncat's -p). The older --port still works.
    #[arg(short = 'p', long = "source-port", visible_alias = "port")]
    source_port: Option<u16>,
    /// The stack's address (as ncat's -s); by default the interface's.
    #[arg(short = 's', long = "source")]
    source: Option<Ipv4Addr>,
    /// Connect timeout: seconds, or with a unit (500ms, 2s, 1m, 1h), as ncat's -w.
    #[arg(short = 'w', long = "wait", value_parser = parse_time)]
    wait: Option<Duration>,
    /// HOST PORT to connect to; with -l, [HOST] PORT to listen on.
    #[arg(num_args = 0..=2)]
    target: Vec<String>,
    /// Print per-queue counters to standard error at the end.
    #[arg(long)]
    stats: bool,
}

/// A time as ncat(1) writes it: a number of seconds, or with the unit ms, s, m or h.
fn parse_time(text: &str) -> Result<Duration, NcError> {
    let bad = || NcError::NotATime(text.to_string());
    let (number, unit_ms) = if let Some(n) = text.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1e3)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60e3)
    } else if let Some(n) = text.strip_suffix('h') {
        (n, 3600e3)
    } else {
        (text, 1e3)
    };
    let value: f64 = number.parse().map_err(|_| bad())?;
    if !value.is_finite() || value <= 0.0 {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(value * unit_ms / 1e3))
}

fn port(text: &str) -> Result<u16, NcError> {
    text.parse::<u16>()
        .ok()
        .filter(|&p| p != 0)
        .ok_or_else(|| NcError::NotAPort(text.to_string()))
}

fn address(text: &str) -> Result<Ipv4Addr, NcError> {
    text.parse()
        .map_err(|_| NcError::NotAnAddress(text.to_string()))
}

/// What to do, from the arguments.
#[derive(Debug, PartialEq, Eq)]
enum Mode {
    /// Listen on `port`, the stack at `address` (default: the interface's).
    Listen {
        address: Option<Ipv4Addr>,
        port: u16,
    },
    /// Connect to `to`, the stack at `source` (default: the interface's).
    Connect {
        to: SocketAddrV4,
        source: Option<Ipv4Addr>,
        wait: Option<Duration>,
    },
}

impl NcArgs {
    fn mode(&self) -> Result<Mode, NcError> {
        let target: Vec<&str> = self.target.iter().map(String::as_str).collect();
        if !self.listen {
            if self.source_port.is_some() {
                return Err(NcError::SourcePort);
            }
            return match target.as_slice() {
                [host, p] => Ok(Mode::Connect {
                    to: SocketAddrV4::new(address(host)?, port(p)?),
                    source: self.source,
                    wait: self.wait,
                }),
                [] | [_] => Err(NcError::NoHost),
                _ => Err(NcError::TooManyArguments),
            };
        }
        if self.wait.is_some() {
            return Err(NcError::WaitWhileListening);
        }
        let (host, positional) = match target.as_slice() {
            [] => (None, None),
            [p] => (None, Some(port(p)?)),
            [host, p] => (Some(address(host)?), Some(port(p)?)),
            _ => return Err(NcError::TooManyArguments),
        };
        let port = match (positional, self.source_port) {
            (Some(positional), Some(flag)) if positional != flag => {
                return Err(NcError::PortTwice { positional, flag })
            }
            (Some(p), _) | (None, Some(p)) => p,
            (None, None) => return Err(NcError::ListenWithoutPort),
        };
        // 0.0.0.0 is "any address": the stack's own, as with no host.
        let host = host.filter(|h| !h.is_unspecified());
        let address = match (host, self.source) {
            (Some(listen), Some(flag)) if listen != flag => {
                return Err(NcError::AddressTwice { listen, flag })
            }
            (Some(a), _) | (None, Some(a)) => Some(a),
            (None, None) => None,
        };
        Ok(Mode::Listen { address, port })
    }
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
    /// With -w: how long the connect may take, and the deadline once it started.
    connect_wait: Option<Duration>,
    connect_deadline: Option<Instant>,
    connected: bool,
    conn: Option<ConnId>,
    to_send: VecDeque<Vec<u8>>,
    /// Bytes of the first chunk of `to_send` already written.
    sent_of_first: usize,
    /// Chunks written to the connection, back to the stdin reader for reuse.
    consumed: crossbeam::channel::Sender<Vec<u8>>,
    stdin_done: bool,
    write_closed: bool,
    read_done: bool,
    reading_paused: bool,
    stdout: Option<crossbeam::channel::Sender<Vec<u8>>>,
    /// Chunks the writer thread has written, back for reuse (no allocation per read).
    written: crossbeam::channel::Receiver<Vec<u8>>,
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
        while let Some(chunk) = self.to_send.front() {
            match ctx.write(conn, &chunk[self.sent_of_first..]) {
                Ok(n) if self.sent_of_first + n == chunk.len() => {
                    self.sent_of_first = 0;
                    if let Some(done) = self.to_send.pop_front() {
                        let _ = self.consumed.try_send(done);
                    }
                }
                Ok(n) => {
                    self.sent_of_first += n;
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
            let mut chunk = self
                .written
                .try_recv()
                .unwrap_or_else(|_| Vec::with_capacity(CHUNK));
            chunk.clear();
            // What has arrived, piece by piece as it lies (in its frame or the receive
            // buffer), copied once into the chunk.
            let mut more = true;
            while chunk.len() < CHUNK {
                let room = CHUNK - chunk.len();
                let read = ctx.read_with(conn, |data| {
                    let n = data.len().min(room);
                    chunk.extend_from_slice(&data[..n]);
                    n
                });
                match read {
                    Ok(0) => {
                        self.read_done = true;
                        break;
                    }
                    Ok(_) => {}
                    Err(_) => {
                        more = false;
                        break;
                    }
                }
            }
            if !chunk.is_empty() && stdout.send(chunk).is_err() {
                self.fail(ctx, NcError::StdoutClosed);
                return;
            }
            if !more {
                return;
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
            if let Some(wait) = self.connect_wait {
                let deadline = ctx.now() + wait;
                self.connect_deadline = Some(deadline);
                ctx.wake_at(deadline);
            }
        }
    }

    fn on_tick(&mut self, ctx: &mut Context<'_>) {
        let (Some(addr), Some(deadline)) = (self.connect_to, self.connect_deadline) else {
            return;
        };
        if self.connected || ctx.now() < deadline {
            return;
        }
        self.connect_deadline = None;
        if let Some(conn) = self.conn {
            ctx.abort(conn);
        }
        let wait = self.connect_wait.unwrap_or_default();
        self.fail(ctx, NcError::ConnectTimeout { addr, wait });
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
            StackEvent::Connected => {
                self.connected = true;
                self.flush_input(ctx);
            }
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

/// Reads standard input in chunks for the worker, reusing the ones it has written.
fn spawn_stdin_reader(sender: Sender<Message>, consumed: crossbeam::channel::Receiver<Vec<u8>>) {
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        loop {
            let mut chunk = consumed.try_recv().unwrap_or_default();
            // Zeroes only what a reused chunk lacks (none when it was full).
            chunk.resize(CHUNK, 0);
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

/// Writes the received chunks to standard output and hands each back for reuse. It writes
/// to its own descriptor for fd 1, unbuffered: `std::io::Stdout` is line-buffered, which
/// for binary data means a scan for newlines and a copy of the tail of every chunk.
fn spawn_stdout_writer(
    chunks: crossbeam::channel::Receiver<Vec<u8>>,
    written: crossbeam::channel::Sender<Vec<u8>>,
    drained: Sender<Message>,
) -> std::io::Result<std::thread::JoinHandle<std::io::Result<()>>> {
    let mut stdout = std::fs::File::from(std::io::stdout().as_fd().try_clone_to_owned()?);
    Ok(std::thread::spawn(move || {
        for chunk in chunks {
            stdout.write_all(&chunk)?;
            let _ = written.try_send(chunk);
            // Progress report; the worker acts on it only when it paused reading.
            let _ = drained.try_send(Message::StdoutDrained);
        }
        Ok(())
    }))
}

pub fn run(args: &NcArgs) -> Result<(), NcError> {
    let mode = args.mode()?;
    let mut config = args.datapath.runtime_config()?;
    let (connect_to, connect_wait) = match &mode {
        Mode::Listen { address, port } => {
            if config.queues != 1 {
                return Err(NcError::ListenOnQueues);
            }
            config.ipv4 = address.or(config.ipv4);
            config.listen = vec![*port];
            (None, None)
        }
        Mode::Connect { to, source, wait } => {
            config.ipv4 = source.or(config.ipv4);
            (Some(*to), *wait)
        }
    };
    let (out_tx, out_rx) = crossbeam::channel::bounded::<Vec<u8>>(64);
    let (written_tx, written_rx) = crossbeam::channel::bounded::<Vec<u8>>(64);
    let (consumed_tx, consumed_rx) = crossbeam::channel::bounded::<Vec<u8>>(64);
    let outcome = Arc::new(Mutex::new(Outcome::default()));
    let handler_outcome = outcome.clone();
    let mut stdout_sender = Some(out_tx);
    // Worker 0 opens the connection; with several queues the other workers only hand it
    // the frames that arrive on their queues.
    let mut runtime: Runtime<Message> = Runtime::start(config, move |worker| Nc {
        connect_to: connect_to.filter(|_| worker == 0),
        connect_wait,
        connect_deadline: None,
        connected: false,
        conn: None,
        to_send: VecDeque::new(),
        sent_of_first: 0,
        consumed: consumed_tx.clone(),
        stdin_done: false,
        write_closed: false,
        read_done: false,
        reading_paused: false,
        stdout: stdout_sender.take(),
        written: written_rx.clone(),
        outcome: handler_outcome.clone(),
    })?;
    if let Mode::Listen { port, .. } = mode {
        // As ncat -v says it; connections are taken from here on.
        log::info!("listening on {}:{port}", runtime.info().ipv4);
    }
    let sender = runtime.sender(0).ok_or(NcError::NoWorker)?;
    let writer =
        spawn_stdout_writer(out_rx, written_tx, sender.clone()).map_err(NcError::Stdout)?;
    spawn_stdin_reader(sender, consumed_rx);
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Command {
        #[command(flatten)]
        nc: NcArgs,
    }

    fn mode(args: &[&str]) -> Result<Mode, String> {
        let parsed = Command::try_parse_from(std::iter::once("nc").chain(args.iter().copied()))
            .map_err(|e| e.to_string())?;
        parsed.nc.mode().map_err(|e| e.to_string())
    }

    #[test]
    fn listen_and_connect_as_ncat_takes_them() {
        let listen = |address, port| Ok(Mode::Listen { address, port });
        let host: Ipv4Addr = "10.0.0.1".parse().unwrap();
        assert_eq!(mode(&["-l", "5000"]), listen(None, 5000));
        assert_eq!(mode(&["-l", "10.0.0.1", "5000"]), listen(Some(host), 5000));
        assert_eq!(mode(&["-l", "0.0.0.0", "5000"]), listen(None, 5000));
        assert_eq!(mode(&["-l", "-p", "5000"]), listen(None, 5000));
        assert_eq!(mode(&["-l", "--port", "5000"]), listen(None, 5000));
        assert_eq!(mode(&["-lp", "5000"]), listen(None, 5000));
        assert_eq!(
            mode(&["-l", "-s", "10.0.0.1", "5000"]),
            listen(Some(host), 5000)
        );
        assert_eq!(
            mode(&["-w", "500ms", "10.0.0.1", "80"]),
            Ok(Mode::Connect {
                to: SocketAddrV4::new(host, 80),
                source: None,
                wait: Some(Duration::from_millis(500)),
            })
        );
        assert_eq!(
            mode(&["-l"]).unwrap_err(),
            "-l needs a port: nc -l PORT, nc -l HOST PORT or nc -l -p PORT"
        );
        assert_eq!(
            mode(&["-l", "5000x"]).unwrap_err(),
            "\"5000x\" is not a port number (1 to 65535)"
        );
        assert!(mode(&["-l", "-p", "1", "2"])
            .unwrap_err()
            .contains("given twice"));
        assert!(mode(&["-p", "1", "10.0.0.1", "2"])
            .unwrap_err()
            .starts_with("-p in connect mode"));
        assert!(mode(&["-l", "-w", "1", "2"])
            .unwrap_err()
            .starts_with("-w/--wait"));
        assert!(mode(&["example.com", "80"])
            .unwrap_err()
            .contains("not host names"));
        assert!(mode(&["10.0.0.1"])
            .unwrap_err()
            .starts_with("give HOST PORT"));
    }

    #[test]
    fn times_as_ncat_writes_them() {
        assert_eq!(parse_time("5").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_time("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_time("2s").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_time("1m").unwrap(), Duration::from_secs(60));
        assert_eq!(parse_time("1h").unwrap(), Duration::from_secs(3600));
        assert!(parse_time("0").is_err());
        assert!(parse_time("soon").is_err());
    }
}
