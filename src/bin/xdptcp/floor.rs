//! `xdptcp floor`: the bare AF_XDP floor, no TCP at all — frames over the same XDP program
//! and sockets the stack uses, to measure what the machine allows.
//!
//! - `reflect` (server): sends every frame that arrives on `--port` back, addresses swapped.
//! - `ping` (client): one frame at a time, timestamped, to a reflector: round-trip times.
//! - `sink` (server): counts frames and bytes.
//! - `blast` (client): MTU-sized frames as fast as the socket takes them.
//!
//! Frames are IPv4/TCP-shaped (an ACK with payload) so the XDP program steers them; the
//! reflector swaps MAC, IP addresses and ports, which leaves both checksums valid.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Subcommand};
use hdrhistogram::{CreationError, Histogram};
use xdptcp::host::{self, NoSuchInterface};
use xdptcp::wire::tcp::fill_checksum;
use xdptcp::wire::{EtherType, EthernetRepr, Ipv4Repr, MacAddr, SeqNum, TcpFlags, TcpRepr};
use xdptcp::xdp::{XdpAttach, XdpError, XdpProgram, XskConfig, XskSocket};
use xdptcp::Instant;

use crate::common::{file_error, install_stop_handler, FileError, SetupError};

/// Why `xdptcp floor` failed.
#[derive(Debug, thiserror::Error)]
pub enum FloorError {
    #[error(transparent)]
    Interface(#[from] NoSuchInterface),
    #[error("reading {what} from the kernel failed: {source}")]
    Host {
        what: &'static str,
        source: std::io::Error,
    },
    #[error("{0} has no IPv4 address")]
    NoAddress(String),
    #[error("cannot resolve the MAC address of {0}")]
    Unresolved(Ipv4Addr),
    #[error(transparent)]
    Xdp(#[from] XdpError),
    #[error(transparent)]
    Setup(#[from] SetupError),
    #[error("the latency histogram: {0}")]
    Histogram(#[from] CreationError),
    #[error(transparent)]
    File(#[from] FileError),
    #[error("no frame came back")]
    NoFrameBack,
}

/// `result`, its error naming `what` was being read from the kernel.
fn reading<T>(what: &'static str, result: std::io::Result<T>) -> Result<T, FloorError> {
    result.map_err(|source| FloorError::Host { what, source })
}

#[derive(Args)]
pub struct FloorArgs {
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Args, Clone)]
struct Common {
    /// Interface to run on.
    #[arg(long)]
    iface: String,
    /// Core to pin the (spinning) thread to.
    #[arg(long)]
    core: Option<usize>,
    /// XDP attach mode: auto, native or generic (as for the stack).
    #[arg(long, default_value = "auto")]
    xdp_mode: XdpAttach,
}

#[derive(Subcommand)]
enum Mode {
    /// Send every frame arriving on --port back to where it came from.
    Reflect {
        #[command(flatten)]
        common: Common,
        #[arg(long)]
        port: u16,
    },
    /// Count frames arriving on --port until stopped; print frames, bytes and the rate.
    Sink {
        #[command(flatten)]
        common: Common,
        #[arg(long)]
        port: u16,
        /// Write a machine-readable summary here when stopped.
        #[arg(long)]
        summary: Option<std::path::PathBuf>,
    },
    /// Ping-pong timestamped frames with a reflector; print round-trip percentiles.
    Ping {
        #[command(flatten)]
        common: Common,
        /// Reflector address, IP:PORT.
        #[arg(long)]
        target: SocketAddrV4,
        /// Payload bytes per frame (at least 8).
        #[arg(long, default_value_t = 64)]
        size: usize,
        #[arg(long, default_value_t = 10.0)]
        duration: f64,
        /// Write a machine-readable summary here.
        #[arg(long)]
        summary: Option<std::path::PathBuf>,
        /// Write the HdrHistogram percentile distribution here.
        #[arg(long)]
        hgrm: Option<std::path::PathBuf>,
    },
    /// Send MTU-sized frames to a sink as fast as possible.
    Blast {
        #[command(flatten)]
        common: Common,
        #[arg(long)]
        target: SocketAddrV4,
        #[arg(long, default_value_t = 10.0)]
        duration: f64,
    },
}

/// Our source port for client frames (steered to us by our own XDP program).
const CLIENT_PORT: u16 = 61_000;

struct Endpoint {
    program: XdpProgram,
    socket: XskSocket,
    mac: MacAddr,
    ip: Ipv4Addr,
}

fn open(common: &Common, port: u16) -> Result<Endpoint, FloorError> {
    if let Some(id) = common.core {
        core_affinity::set_for_current(core_affinity::CoreId { id });
    }
    xdptcp::host::precise_timers();
    let iface = &common.iface;
    let ifindex = host::interface_index(iface)?;
    let (ip, _) = reading("the interface address", host::interface_ipv4(ifindex))?
        .ok_or_else(|| FloorError::NoAddress(iface.clone()))?;
    let mac = reading("the interface MAC address", host::interface_mac(iface))?;
    let program = XdpProgram::load_and_attach(iface, ip, common.xdp_mode, 1)?;
    let socket = XskSocket::open(iface, 0, &XskConfig::default())?;
    program.set_socket(0, socket.fd())?;
    program.set_port(port, true)?;
    program.enable(ip, &[], None)?;
    Ok(Endpoint {
        program,
        socket,
        mac,
        ip,
    })
}

/// The MAC address of the next hop toward `target`, from the kernel (resolving if needed).
fn next_hop_mac(iface: &str, target: Ipv4Addr) -> Result<MacAddr, FloorError> {
    let ifindex = host::interface_index(iface)?;
    let route = reading("the route to the target", host::route_to(target))?;
    let hop = route.gateway.unwrap_or(target);
    for _ in 0..300 {
        if let Ok(Some(mac)) = host::neighbor(ifindex, hop) {
            return Ok(mac);
        }
        let _ = host::solicit_neighbor(hop);
        std::thread::sleep(Duration::from_millis(10));
    }
    Err(FloorError::Unresolved(hop))
}

/// Builds a TCP-shaped frame of `payload` bytes into `buf`; returns its length.
fn build_frame(
    buf: &mut [u8],
    from: &Endpoint,
    dst_mac: MacAddr,
    target: SocketAddrV4,
    payload: usize,
) -> usize {
    let tcp = TcpRepr {
        src_port: CLIENT_PORT,
        dst_port: target.port(),
        seq: SeqNum(1),
        ack: Some(SeqNum(1)),
        flags: TcpFlags::PSH,
        window: 65_535,
        urgent: 0,
        options: Default::default(),
    };
    let tcp_len = 20 + payload;
    EthernetRepr {
        src: from.mac,
        dst: dst_mac,
        ethertype: EtherType::Ipv4,
    }
    .emit(buf);
    Ipv4Repr {
        src: from.ip,
        dst: *target.ip(),
        protocol: 6,
        payload_len: tcp_len as u16,
        ttl: 64,
        ident: 0,
    }
    .emit(&mut buf[14..]);
    tcp.emit(&mut buf[34..]);
    buf[54..54 + payload].fill(0);
    fill_checksum(&mut buf[34..34 + tcp_len], from.ip, *target.ip());
    34 + tcp_len
}

/// Swaps MAC addresses, IP addresses and TCP ports in place (checksums stay valid).
fn swap_addresses(frame: &mut [u8]) {
    if frame.len() < 54 {
        return;
    }
    let mut mac = [0u8; 6];
    mac.copy_from_slice(&frame[0..6]);
    frame.copy_within(6..12, 0);
    frame[6..12].copy_from_slice(&mac);
    let ihl = usize::from(frame[14] & 0x0f) * 4;
    let mut ip = [0u8; 4];
    ip.copy_from_slice(&frame[26..30]);
    frame.copy_within(30..34, 26);
    frame[30..34].copy_from_slice(&ip);
    let t = 14 + ihl;
    if frame.len() >= t + 4 {
        let mut port = [0u8; 2];
        port.copy_from_slice(&frame[t..t + 2]);
        frame.copy_within(t + 2..t + 4, t);
        frame[t + 2..t + 4].copy_from_slice(&port);
    }
}

/// Opens a server's endpoint on `port`, installs the Ctrl-C handler and announces it as
/// "floor: <doing> port … (XDP <mode>, AF_XDP <mode> mode)", the line `xdptcp bench` waits
/// for and reads the modes from.
fn open_server(
    common: &Common,
    port: u16,
    doing: &str,
) -> Result<(Endpoint, Arc<AtomicBool>), FloorError> {
    let ep = open(common, port)?;
    let stop = Arc::new(AtomicBool::new(false));
    let _ = install_stop_handler(stop.clone())?;
    println!(
        "floor: {doing} port {port} on {} (XDP {}, AF_XDP {} mode)",
        common.iface,
        ep.program.mode(),
        ep.socket.mode()
    );
    Ok((ep, stop))
}

fn reflect(common: &Common, port: u16) -> Result<(), FloorError> {
    let (mut ep, stop) = open_server(common, port, "reflecting")?;
    // Frames are copied out of the RX ring into reusable scratch slots (copy mode gives
    // every RX frame its own UMEM frame anyway), addresses swapped, and sent back.
    const BATCH: usize = 64;
    const SLOT: usize = 4096;
    let mut scratch = vec![0u8; BATCH * SLOT];
    let mut lengths = [0usize; BATCH];
    let mut frames = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let mut count = 0;
        ep.socket.receive(BATCH, |frame| {
            if frame.len() <= SLOT {
                let slot = &mut scratch[count * SLOT..count * SLOT + frame.len()];
                slot.copy_from_slice(frame);
                swap_addresses(slot);
                lengths[count] = frame.len();
                count += 1;
            }
        });
        if count == 0 {
            continue;
        }
        frames += count as u64;
        let mut next = 0;
        ep.socket.transmit(count, |buf| {
            let len = lengths[next];
            buf[..len].copy_from_slice(&scratch[next * SLOT..next * SLOT + len]);
            next += 1;
            Some(len)
        });
        ep.socket.flush();
    }
    println!("floor: reflected {frames} frames");
    Ok(())
}

fn sink(common: &Common, port: u16, summary: Option<&std::path::Path>) -> Result<(), FloorError> {
    let (mut ep, stop) = open_server(common, port, "sinking")?;
    let (mut frames, mut bytes) = (0u64, 0u64);
    let (mut first, mut last) = (None, Instant::ZERO);
    while !stop.load(Ordering::Relaxed) {
        let mut got = 0;
        ep.socket.receive(256, |frame| {
            got += 1;
            bytes += frame.len() as u64;
        });
        if got > 0 {
            let now = Instant::now_monotonic();
            first.get_or_insert(now);
            last = now;
            frames += got;
        }
    }
    let secs = first.map_or(0.0, |f| (last - f).as_secs_f64());
    let gbit = if secs > 0.0 {
        bytes as f64 * 8.0 / secs / 1e9
    } else {
        0.0
    };
    let mframes = if secs > 0.0 {
        frames as f64 / secs / 1e6
    } else {
        0.0
    };
    println!(
        "floor: received {frames} frames, {bytes} bytes in {secs:.3} s: {gbit:.3} Gbit/s, {mframes:.3} Mframes/s"
    );
    if let Some(path) = summary {
        let text = format!(
            "frames {frames}\nbytes {bytes}\nseconds {secs:.6}\ngbit_per_second {gbit:.4}\nmframes_per_second {mframes:.4}\n"
        );
        std::fs::write(path, text).map_err(file_error(path))?;
    }
    Ok(())
}

fn ping(
    common: &Common,
    target: SocketAddrV4,
    size: usize,
    duration: f64,
    summary: Option<&std::path::Path>,
    hgrm: Option<&std::path::Path>,
) -> Result<(), FloorError> {
    let size = size.max(8);
    let dst_mac = next_hop_mac(&common.iface, *target.ip())?;
    let mut ep = open(common, CLIENT_PORT)?;
    let mut template = vec![0u8; 2048];
    let len = build_frame(&mut template, &ep, dst_mac, target, size);
    template.truncate(len);
    let mut hist = Histogram::<u64>::new_with_bounds(1, 10_000_000_000, 3)?;
    let end = Instant::now_monotonic() + Duration::from_secs_f64(duration);
    let mut lost = 0u64;
    while Instant::now_monotonic() < end {
        let sent_at = Instant::now_monotonic();
        // The timestamp rides in the payload; the TCP checksum is left as it is (the
        // reflector does not check it, and the client only reads the timestamp).
        ep.socket.transmit(1, |buf| {
            buf[..template.len()].copy_from_slice(&template);
            buf[54..62].copy_from_slice(&sent_at.as_nanos().to_ne_bytes());
            Some(template.len())
        });
        ep.socket.flush();
        let deadline = sent_at + Duration::from_millis(100);
        loop {
            let mut rtt = None;
            ep.socket.receive(64, |frame| {
                if frame.len() >= 62 {
                    let mut ts = [0u8; 8];
                    ts.copy_from_slice(&frame[54..62]);
                    if u64::from_ne_bytes(ts) == sent_at.as_nanos() {
                        rtt = Some(Instant::now_monotonic() - sent_at);
                    }
                }
            });
            if let Some(rtt) = rtt {
                hist.saturating_record(rtt.as_nanos().max(1) as u64);
                break;
            }
            if Instant::now_monotonic() > deadline {
                lost += 1;
                break;
            }
        }
    }
    let us = |q: f64| hist.value_at_quantile(q) as f64 / 1e3;
    println!(
        "floor ping: {} round trips ({lost} lost), RTT p50 {:.2} µs p99 {:.2} µs p99.9 {:.2} µs max {:.2} µs",
        hist.len(),
        us(0.5),
        us(0.99),
        us(0.999),
        hist.max() as f64 / 1e3
    );
    if let Some(path) = summary {
        let text = format!(
            "answered {}\nlost {lost}\np50_us {:.2}\np99_us {:.2}\np99_9_us {:.2}\nmax_us {:.2}\n",
            hist.len(),
            us(0.5),
            us(0.99),
            us(0.999),
            hist.max() as f64 / 1e3
        );
        std::fs::write(path, text).map_err(file_error(path))?;
    }
    if let Some(path) = hgrm {
        let file = std::fs::File::create(path).map_err(file_error(path))?;
        xdptcp::load::report::write_hgrm(&hist, std::io::BufWriter::new(file))
            .map_err(file_error(path))?;
    }
    if hist.is_empty() {
        return Err(FloorError::NoFrameBack);
    }
    Ok(())
}

fn blast(common: &Common, target: SocketAddrV4, duration: f64) -> Result<(), FloorError> {
    let dst_mac = next_hop_mac(&common.iface, *target.ip())?;
    let mut ep = open(common, CLIENT_PORT)?;
    let mtu = reading("the interface MTU", host::interface_mtu(&common.iface))?;
    let mut template = vec![0u8; 9216 + 14];
    let len = build_frame(&mut template, &ep, dst_mac, target, usize::from(mtu) - 40);
    template.truncate(len);
    let end = Instant::now_monotonic() + Duration::from_secs_f64(duration);
    let mut frames = 0u64;
    while Instant::now_monotonic() < end {
        frames += ep.socket.transmit(64, |buf| {
            buf[..template.len()].copy_from_slice(&template);
            Some(template.len())
        }) as u64;
        ep.socket.flush();
    }
    ep.socket.reclaim();
    println!(
        "floor blast: sent {frames} frames of {} bytes",
        template.len()
    );
    Ok(())
}

pub fn run(args: &FloorArgs) -> Result<(), FloorError> {
    match &args.mode {
        Mode::Reflect { common, port } => reflect(common, *port),
        Mode::Sink {
            common,
            port,
            summary,
        } => sink(common, *port, summary.as_deref()),
        Mode::Ping {
            common,
            target,
            size,
            duration,
            summary,
            hgrm,
        } => ping(
            common,
            *target,
            *size,
            *duration,
            summary.as_deref(),
            hgrm.as_deref(),
        ),
        Mode::Blast {
            common,
            target,
            duration,
        } => blast(common, *target, *duration),
    }
}
