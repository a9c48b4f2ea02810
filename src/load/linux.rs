//! The same workloads over Linux TCP sockets (epoll through mio, `TCP_NODELAY`): the load
//! generator's `--stack kernel`, and a server for `xdptcp serve --stack kernel`, so xdptcp and
//! the kernel can be measured with the same code on both sides.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, SocketAddrV4};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};

use super::engine::SlotState;
use super::{Engine, LoadError, LoadSpec, Progress, Report, Tally};
use crate::apps::{Reply, RequestProtocol};
use crate::time::Instant;

/// Longest poll, so stop requests are seen promptly.
const MAX_WAIT: Duration = Duration::from_millis(50);

fn pin(core: Option<usize>) {
    if let Some(id) = core {
        if !core_affinity::set_for_current(core_affinity::CoreId { id }) {
            log::warn!("could not pin to core {id}");
        }
    }
}

/// Registers `stream` for reading and writing under the next token.
fn register(poll: &Poll, stream: &mut TcpStream, next_token: &mut usize) -> io::Result<Token> {
    let token = Token(*next_token);
    *next_token += 1;
    poll.registry()
        .register(stream, token, Interest::READABLE | Interest::WRITABLE)?;
    Ok(token)
}

struct ClientConn {
    slot: usize,
    stream: TcpStream,
    connected: bool,
}

/// One thread of the Linux-socket load generator.
fn client_thread(
    mut engine: Engine,
    target: SocketAddrV4,
    core: Option<usize>,
    stop: Arc<AtomicBool>,
) -> io::Result<Tally> {
    pin(core);
    let mut poll = Poll::new()?;
    let mut events = Events::with_capacity(1024);
    let mut conns: HashMap<Token, ClientConn> = HashMap::new();
    let mut by_slot: Vec<Option<Token>> = vec![None; engine.slot_count()];
    let mut next_token = 0usize;
    let mut buf = vec![0u8; 64 * 1024];
    let mut connect_failed = super::RateLimitedWarning::default();
    loop {
        let now = Instant::now_monotonic();
        let next = engine.tick(now);
        if engine.is_finished() || stop.load(Ordering::Relaxed) {
            break;
        }
        // Open what the engine wants.
        if !engine.past_end(now) {
            for (slot, slot_token) in by_slot.iter_mut().enumerate() {
                if engine.state(slot) != SlotState::WantsConnection {
                    continue;
                }
                match TcpStream::connect(SocketAddr::V4(target)) {
                    Ok(mut stream) => {
                        let token = register(&poll, &mut stream, &mut next_token)?;
                        engine.connecting(slot);
                        *slot_token = Some(token);
                        conns.insert(
                            token,
                            ClientConn {
                                slot,
                                stream,
                                connected: false,
                            },
                        );
                    }
                    Err(e) => {
                        connect_failed.warn(format_args!("load: connect to {target}: {e}"));
                        engine.closed(slot, now, true);
                    }
                }
            }
        }
        // Write what is queued on open connections.
        for c in conns.values_mut().filter(|c| c.connected) {
            write_out(&mut engine, c, now);
        }
        // epoll_wait counts milliseconds: a send due sooner than that is waited for by
        // polling without sleeping, so open-loop requests leave on time.
        let wait = next.map_or(MAX_WAIT, |at| {
            at.saturating_duration_since(now).min(MAX_WAIT)
        });
        let wait = if wait < Duration::from_millis(1) {
            Duration::ZERO
        } else {
            wait - Duration::from_millis(1)
        };
        if let Err(e) = poll.poll(&mut events, Some(wait)) {
            if e.kind() == io::ErrorKind::Interrupted {
                continue; // a signal; the loop checks `stop`
            }
            return Err(e);
        }
        let now = Instant::now_monotonic();
        for event in events.iter() {
            let token = event.token();
            let Some(c) = conns.get_mut(&token) else {
                continue;
            };
            if !c.connected {
                if event.is_error() || c.stream.take_error()?.is_some() {
                    let slot = c.slot;
                    conns.remove(&token);
                    by_slot[slot] = None;
                    engine.closed(slot, now, true);
                    continue;
                }
                if c.stream.peer_addr().is_err() {
                    continue; // still connecting
                }
                c.connected = true;
                let _ = c.stream.set_nodelay(true);
                engine.connected(c.slot, now);
            }
            let mut closed = None;
            if event.is_readable() || event.is_read_closed() {
                loop {
                    match c.stream.read(&mut buf) {
                        Ok(0) => {
                            closed = Some(false);
                            break;
                        }
                        Ok(n) => engine.received(c.slot, now, &buf[..n]),
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(_) => {
                            closed = Some(true);
                            break;
                        }
                    }
                }
            }
            if closed.is_none() {
                write_out(&mut engine, c, now);
            }
            if let Some(error) = closed {
                let slot = c.slot;
                let _ = c.stream.shutdown(Shutdown::Both);
                conns.remove(&token);
                by_slot[slot] = None;
                if engine.state(slot) == SlotState::Open {
                    engine.closed(slot, now, error);
                }
            }
        }
    }
    Ok(engine.tally().clone())
}

fn write_out(engine: &mut Engine, c: &mut ClientConn, now: Instant) {
    loop {
        let data = engine.output(c.slot, now);
        if data.is_empty() {
            return;
        }
        match c.stream.write(data) {
            Ok(0) => return,
            Ok(n) => engine.wrote(c.slot, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return,
        }
    }
}

/// Runs `spec` over Linux sockets with `threads` threads (pinned to `cores` if given).
pub fn run(
    spec: &LoadSpec,
    threads: usize,
    cores: &[usize],
    mut progress_line: impl FnMut(Duration, &Progress),
) -> Result<Report, LoadError> {
    spec.validate()?;
    let threads = threads.clamp(1, spec.connections);
    let progress = Arc::new(Progress::default());
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now_monotonic() + Duration::from_millis(20);
    let mut handles = Vec::new();
    let mut first = 0;
    for t in 0..threads {
        let slots = spec.connections / threads + usize::from(t < spec.connections % threads);
        let mut engine = Engine::new(spec, slots, first, start);
        first += slots;
        engine.set_progress(progress.clone());
        let core = (!cores.is_empty()).then(|| cores[t % cores.len()]);
        let (target, stop) = (spec.target, stop.clone());
        handles.push(std::thread::spawn(move || {
            client_thread(engine, target, core, stop)
        }));
    }
    let limit = spec.duration + spec.grace + Duration::from_secs(2);
    let began = std::time::Instant::now();
    let mut last = began;
    while !handles.iter().all(|h| h.is_finished()) {
        if began.elapsed() > limit {
            stop.store(true, Ordering::SeqCst);
        }
        std::thread::sleep(Duration::from_millis(20));
        if last.elapsed() >= Duration::from_secs(1) {
            last = std::time::Instant::now();
            progress_line(began.elapsed(), &progress);
        }
    }
    let mut tally = Tally::new();
    for h in handles {
        let t = h
            .join()
            .map_err(|_| LoadError::ThreadPanicked)?
            .map_err(LoadError::Thread)?;
        tally.merge(&t);
    }
    Ok(Report {
        stack: "Linux TCP sockets (epoll)".into(),
        spec: spec.clone(),
        tally,
        held: None,
    })
}

struct ServerConn<C> {
    stream: TcpStream,
    state: C,
    input: Vec<u8>,
    output: Vec<u8>,
    close_after: bool,
    write_shut: bool,
    peer_done: bool,
}

/// Serves `make_protocol()` on `port` over Linux sockets on the calling thread until `stop`
/// is set. One thread, pinned to `core` if given.
pub fn serve<P: RequestProtocol>(
    port: u16,
    mut protocol: P,
    core: Option<usize>,
    stop: Arc<AtomicBool>,
    served: Arc<Mutex<u64>>,
) -> io::Result<()> {
    pin(core);
    let mut poll = Poll::new()?;
    let mut events = Events::with_capacity(1024);
    let addr: SocketAddr = SocketAddr::from(([0, 0, 0, 0], port));
    let mut listener = TcpListener::bind(addr)?;
    const LISTENER: Token = Token(usize::MAX);
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    let mut conns: HashMap<Token, ServerConn<P::Conn>> = HashMap::new();
    let mut next_token = 0usize;
    let mut buf = vec![0u8; 64 * 1024];
    let mut accept_failed = super::RateLimitedWarning::default();
    while !stop.load(Ordering::Relaxed) {
        if let Err(e) = poll.poll(&mut events, Some(MAX_WAIT)) {
            if e.kind() == io::ErrorKind::Interrupted {
                continue; // a signal (Ctrl-C sets `stop`)
            }
            return Err(e);
        }
        for event in events.iter() {
            if event.token() == LISTENER {
                loop {
                    match listener.accept() {
                        Ok((mut stream, _)) => {
                            let _ = stream.set_nodelay(true);
                            let token = register(&poll, &mut stream, &mut next_token)?;
                            conns.insert(
                                token,
                                ServerConn {
                                    stream,
                                    state: P::Conn::default(),
                                    input: Vec::new(),
                                    output: Vec::new(),
                                    close_after: false,
                                    write_shut: false,
                                    peer_done: false,
                                },
                            );
                            if let Ok(mut n) = served.lock() {
                                *n += 1;
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) => {
                            // EMFILE and the like: the rest waits in the accept queue.
                            accept_failed.warn(format_args!("serve: accept failed: {e}"));
                            break;
                        }
                    }
                }
                continue;
            }
            let token = event.token();
            let Some(c) = conns.get_mut(&token) else {
                continue;
            };
            if pump(&mut protocol, c, &mut buf) {
                let _ = c.stream.shutdown(Shutdown::Both);
                conns.remove(&token);
            }
        }
    }
    Ok(())
}

/// Moves data for one server connection; true when it is finished: the peer has closed its
/// side and everything we had to say is written and our side closed too.
fn pump<P: RequestProtocol>(protocol: &mut P, c: &mut ServerConn<P::Conn>, buf: &mut [u8]) -> bool {
    loop {
        while !c.output.is_empty() {
            match c.stream.write(&c.output) {
                Ok(0) => return true,
                Ok(n) => {
                    c.output.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return true,
            }
        }
        if c.close_after && !c.write_shut {
            let _ = c.stream.shutdown(Shutdown::Write);
            c.write_shut = true;
        }
        if c.peer_done {
            if c.write_shut {
                return true;
            }
            c.close_after = true;
            continue;
        }
        // Read until the peer closes; after our close, what still arrives is discarded.
        match c.stream.read(buf) {
            Ok(0) => {
                c.peer_done = true;
                if !c.close_after {
                    let _ = protocol.respond(&mut c.state, &mut c.input, &mut c.output);
                }
            }
            Ok(_) if c.close_after => {}
            Ok(n) => {
                c.input.extend_from_slice(&buf[..n]);
                match protocol.respond(&mut c.state, &mut c.input, &mut c.output) {
                    Reply::Continue => {}
                    Reply::CloseAfterOutput => c.close_after = true,
                    Reply::Reset => return true,
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return true,
        }
    }
}
