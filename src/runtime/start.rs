//! The steps of [`super::Runtime::start`] after the configuration is checked: the host's
//! facts read (interface, address, MAC, MTU, routes, driver, the kernel's listening ports),
//! the XDP program attached and one AF_XDP socket opened per queue, the workers spawned.

use std::io;
use std::net::Ipv4Addr;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use super::capture::{CaptureTap, WorkerCapture};
use super::handoff::{Handoffs, ReplyOwners};
use super::stats::StatsSlot;
use super::worker::Worker;
use super::{
    ConfigError, Handler, HandlerHost, IdlePolicy, RuntimeConfig, RuntimeError, Sender,
    WorkerHandle, WorkerStats,
};
use crate::host;
use crate::stack::{ReplyQueue, Route, Stack, StackConfig, StackError, IP_TTL};
use crate::tcp::IsnGenerator;
use crate::wire::MacAddr;
use crate::xdp::wait::Waker;
use crate::xdp::{
    BindMode, CookieAnswer, CookiePorts, HugePages, UmemPages, XdpError, XdpProgram, XskSocket,
    ZeroCopy,
};

/// Messages a worker's queue holds before [`Sender::send`] blocks.
const MESSAGE_QUEUE: usize = 1024;

/// What the kernel says about the interface, read once at start.
pub(super) struct HostFacts {
    pub ifindex: u32,
    pub ipv4: Ipv4Addr,
    pub prefix_len: u8,
    pub mac: MacAddr,
    pub mtu: u16,
    /// The kernel's routes through the interface.
    pub routes: Vec<Route>,
    /// The default route's next hop.
    pub gateway: Option<Ipv4Addr>,
    /// The driver's name, if the kernel names one (see [`host::driver_name`]).
    pub driver: Option<String>,
    /// The NIC's RSS configuration, if it reports one (see [`host::rss_config`]).
    pub rss: Option<host::RssConfig>,
}

/// `result`, its error naming `what` was being read from the kernel.
fn reading<T>(what: &'static str, result: io::Result<T>) -> Result<T, RuntimeError> {
    result.map_err(|source| RuntimeError::Host { what, source })
}

impl HostFacts {
    /// Reads the facts about `config.iface` and checks the configuration against them: the
    /// interface has the queues to serve, and no kernel socket listens on a port to serve.
    pub fn read(config: &RuntimeConfig) -> Result<HostFacts, RuntimeError> {
        let ifindex = host::interface_index(&config.iface)?;
        check_queues(config)?;
        let (ipv4, prefix_len) = match config.ipv4 {
            Some(ip) => (ip, 32),
            None => reading("the interface address", host::interface_ipv4(ifindex))?.ok_or_else(
                || RuntimeError::NoAddress {
                    iface: config.iface.clone(),
                },
            )?,
        };
        if config.more_ipv4.contains(&ipv4) {
            return Err(ConfigError::AddressTwice { address: ipv4 }.into());
        }
        check_kernel_ports(&config.listen)?;
        let mac = reading(
            "the interface MAC address",
            host::interface_mac(&config.iface),
        )?;
        let mtu = reading("the interface MTU", host::interface_mtu(&config.iface))?;
        let routes = reading("the routing table", host::routes(ifindex))?;
        Ok(HostFacts {
            ifindex,
            ipv4,
            prefix_len,
            mac,
            mtu,
            gateway: routes.iter().find(|r| r.len == 0).and_then(|r| r.gateway),
            routes,
            driver: host::driver_name(&config.iface).ok().flatten(),
            rss: host::rss_config(&config.iface).unwrap_or_else(|e| {
                log::warn!("cannot read the RSS configuration of {}: {e}", config.iface);
                None
            }),
        })
    }

    /// A local kernel sending over veth leaves TCP checksums unfinished (see
    /// [`StackConfig::accept_partial_checksum`]).
    fn accept_partial_checksum(&self) -> bool {
        self.driver.as_deref() == Some("veth")
    }
}

/// The interface has the receive queues the configuration serves.
fn check_queues(config: &RuntimeConfig) -> Result<(), RuntimeError> {
    let count = host::rx_queue_count(&config.iface)?;
    if config.queues > count {
        return Err(XdpError::QueueOutOfRange {
            iface: config.iface.clone(),
            queue: config.queues - 1,
            count,
        }
        .into());
    }
    Ok(())
}

/// No kernel socket listens on a port the stack is to serve: its traffic would be steered
/// away from it.
fn check_kernel_ports(listen: &[u16]) -> Result<(), RuntimeError> {
    let kernel = reading(
        "the kernel's listening sockets",
        host::kernel_listening_ports(),
    )?;
    match listen.iter().find(|port| kernel.contains(port)) {
        Some(&port) => Err(RuntimeError::PortInUseByKernel { port }),
        None => Ok(()),
    }
}

/// The XDP program attached to the interface and one AF_XDP socket per queue in its
/// XSKMAP, with the stack's ports (listening and ephemeral) marked as ours. Nothing is
/// steered until the program is enabled.
pub(super) struct Datapath {
    pub program: XdpProgram,
    pub sockets: Vec<XskSocket>,
}

impl Datapath {
    pub fn open(config: &RuntimeConfig, facts: &HostFacts) -> Result<Datapath, XdpError> {
        let iface = &config.iface;
        let program =
            XdpProgram::load_and_attach(iface, facts.ipv4, config.xdp_attach, config.queues)?;
        log::info!(
            "XDP program attached to {iface} (driver {}) in {} mode",
            facts.driver.as_deref().unwrap_or("unknown"),
            program.mode()
        );
        let sockets = (0..config.queues)
            .map(|queue| {
                let socket = XskSocket::open(iface, queue, &config.xsk)?;
                program.set_socket(queue, socket.fd())?;
                Ok(socket)
            })
            .collect::<Result<Vec<_>, XdpError>>()?;
        let datapath = Datapath { program, sockets };
        let queues = config.queues;
        match (datapath.bind_mode(), config.xsk.zero_copy) {
            (BindMode::ZeroCopy, _) => log::info!(
                "AF_XDP sockets on {queues} queue(s) of {iface} bound in zero-copy mode (XDP_ZEROCOPY, need_wakeup)"
            ),
            (BindMode::Copy, ZeroCopy::Off) => log::info!(
                "AF_XDP sockets on {queues} queue(s) of {iface} in copy mode (zero-copy turned off)"
            ),
            (BindMode::Copy, _) => log::info!(
                "AF_XDP sockets on {queues} queue(s) of {iface} in copy mode: the driver does not support zero-copy"
            ),
        }
        datapath.log_umem_pages(config);
        for port in config
            .listen
            .iter()
            .copied()
            .chain(config.ephemeral_ports.clone())
        {
            datapath.program.set_port(port, true)?;
        }
        Ok(datapath)
    }

    /// Says in the start-up log which pages the UMEMs are on (with `prefer`, a queue that
    /// fell back to normal pages said why when it opened).
    fn log_umem_pages(&self, config: &RuntimeConfig) {
        let mib = (u64::from(config.xsk.frame_count) * u64::from(config.xsk.frame_size)) >> 20;
        let huge = self
            .sockets
            .iter()
            .filter(|s| matches!(s.umem_pages(), UmemPages::Huge { .. }))
            .count();
        let queues = self.sockets.len();
        let setting = config.xsk.huge_pages;
        match self.sockets[0].umem_pages() {
            UmemPages::Huge { page_bytes } if huge == queues => log::info!(
                "UMEM of each of {queues} queue(s): {mib} MiB on huge pages ({} of {} MiB, MAP_HUGETLB; umem.hugepages = {setting})",
                (mib << 20) / page_bytes,
                page_bytes >> 20
            ),
            _ if setting == HugePages::Off => log::info!(
                "UMEM of each of {queues} queue(s): {mib} MiB on normal pages (umem.hugepages = off)"
            ),
            _ => log::info!(
                "UMEM of {queues} queue(s), {mib} MiB each: {huge} on huge pages, {} on normal pages (umem.hugepages = {setting}: the hugetlb pool could not supply them, see above)",
                queues - huge
            ),
        }
    }

    /// How the sockets are bound (all alike: the driver decides).
    pub fn bind_mode(&self) -> BindMode {
        self.sockets[0].mode()
    }
}

/// What the workers of one runtime share, from which each worker is built.
pub(super) struct Workers<'a> {
    config: &'a RuntimeConfig,
    facts: &'a HostFacts,
    isn: IsnGenerator,
    /// The key of `isn`, which the XDP program's cookies are made under too.
    secret: [u8; 16],
    seed: u64,
    /// Which worker owns a connection we opened, and so which ephemeral ports each uses.
    owners: ReplyOwners,
    /// The idle policy the workers run (`Auto` resolved for this machine).
    pub idle: IdlePolicy,
    stop: Arc<AtomicBool>,
    wakers: Vec<Arc<Waker>>,
    handoffs: Arc<Handoffs>,
}

impl<'a> Workers<'a> {
    pub fn new(
        config: &'a RuntimeConfig,
        facts: &'a HostFacts,
        stop: Arc<AtomicBool>,
    ) -> Result<Workers<'a>, RuntimeError> {
        let mut seed = [0u8; 8];
        getrandom::fill(&mut seed)?;
        let cores = core_affinity::get_core_ids().map_or(1, |c| c.len());
        let idle = config.idle.resolve(config.queues as usize, cores);
        log::info!(
            "{} worker(s) on {cores} core(s): idle policy {idle}",
            config.queues
        );
        let wakers = (0..config.queues as usize)
            .map(|worker| {
                let waker = Waker::new().map_err(|source| RuntimeError::Worker {
                    worker,
                    step: "eventfd",
                    source,
                })?;
                Ok(Arc::new(waker))
            })
            .collect::<Result<Vec<_>, RuntimeError>>()?;
        let (owners, line) = ReplyOwners::choose(
            config.ephemeral_ports.clone(),
            config.ephemeral_span(),
            config.queues,
            facts.rss.as_ref(),
        );
        log::info!("{line}");
        let handoffs = Handoffs::new(&wakers, owners.clone());
        let secret = host::isn_secret();
        Ok(Workers {
            config,
            facts,
            isn: IsnGenerator::with_key(secret),
            secret,
            seed: u64::from_ne_bytes(seed),
            owners,
            idle,
            stop,
            wakers,
            handoffs: Arc::new(handoffs),
        })
    }

    /// What the XDP program needs to answer SYNs with the cookie SYN,ACKs the workers'
    /// stacks would send.
    pub fn cookie_answer(&self) -> CookieAnswer {
        let tcp = &self.config.tcp;
        CookieAnswer {
            key: self.secret,
            // As the stacks clamp it: what the MTU carries (IPv4 and TCP headers).
            mss: tcp.mss.min(self.facts.mtu.saturating_sub(40)),
            window: tcp.syn_window(),
            window_shift: tcp.window_scale_shift(),
            timestamps: tcp.timestamps,
            sack: tcp.sack,
            window_scaling: tcp.window_scaling,
            ttl: IP_TTL,
        }
    }

    /// Worker `index`'s stack: the host's facts, its ephemeral ports, the configuration's
    /// listeners. ARP stays with the kernel (see [`crate::host`]).
    fn stack(&self, index: usize) -> Result<Stack, StackError> {
        let (config, facts) = (self.config, self.facts);
        let mut stack_config = StackConfig::new(facts.mac, facts.ipv4, facts.prefix_len);
        stack_config.more_ipv4 = config.more_ipv4.clone();
        stack_config.gateway = facts.gateway;
        stack_config.routes = facts.routes.clone();
        stack_config.mtu = facts.mtu;
        stack_config.arp = false;
        stack_config.accept_partial_checksum = facts.accept_partial_checksum();
        stack_config.max_connections = config.max_connections_per_worker;
        stack_config.buffer_memory_limit = config.buffer_memory_share();
        stack_config.ephemeral_ports = self.owners.ports_of(index);
        if let ReplyOwners::Rss { rss, .. } = &self.owners {
            stack_config.reply_queue = Some(ReplyQueue {
                rss: rss.clone(),
                queue: index as u32,
            });
        }
        stack_config.tcp = config.tcp.clone();
        stack_config.syn_cookies = config.syn_cookies;
        stack_config.accept_queue = config.accept_queue;
        let mut stack = Stack::new(stack_config, self.isn.clone(), self.seed ^ index as u64)?;
        for &port in &config.listen {
            stack.listen(port, config.backlog)?;
        }
        Ok(stack)
    }

    /// Starts worker `index` on `socket`, with the handler `make_handler(index)` builds.
    pub fn spawn<H: Handler>(
        &self,
        index: usize,
        socket: XskSocket,
        cookie_ports: CookiePorts,
        make_handler: &mut impl FnMut(usize) -> H,
    ) -> Result<WorkerHandle<H::Message>, RuntimeError> {
        let stack = self.stack(index).map_err(|source| RuntimeError::Stack {
            worker: index,
            source,
        })?;
        let cores = &self.config.cores;
        let core = (!cores.is_empty()).then(|| cores[index % cores.len()]);
        let stats = Arc::new(StatsSlot::new(WorkerStats {
            queue: index as u32,
            core,
            ..WorkerStats::default()
        }));
        let capture = Arc::new(CaptureTap::new());
        let waker = self.wakers[index].clone();
        let (sender, messages) = crossbeam::channel::bounded(MESSAGE_QUEUE);
        let worker = Worker {
            index,
            ifindex: self.facts.ifindex,
            socket,
            stack,
            host: HandlerHost::new(make_handler(index), index, self.stop.clone()),
            messages,
            waker: waker.clone(),
            stop: self.stop.clone(),
            idle: self.idle,
            batch: self.config.batch,
            core,
            stats: stats.clone(),
            capture: WorkerCapture::new(capture.clone()),
            handoffs: self.handoffs.clone(),
            cookie_ports,
        };
        let thread = std::thread::Builder::new()
            .name(format!("xdptcp-q{index}"))
            .spawn(move || worker.run())
            .map_err(|source| RuntimeError::Worker {
                worker: index,
                step: "thread",
                source,
            })?;
        Ok(WorkerHandle {
            thread: Some(thread),
            sender: Sender {
                channel: sender,
                waker,
            },
            stats,
            capture,
        })
    }
}
