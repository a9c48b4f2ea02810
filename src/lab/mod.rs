//! A lab of network namespaces joined by veth, for running xdptcp against Linux peers. The
//! routed topology (the default) puts a Linux router between the stack and its peer, so the
//! stack reaches the peer through a gateway as it would in a real network:
//!
//! ```text
//!  <name>-stack              <name>-router                          <name>-peer
//!  xdp0 10.77.1.2/24 ─veth─ rt-stack 10.77.1.1 │ rt-peer 10.77.2.1 ─veth─ peer0 10.77.2.2/24
//!  (xdptcp runs here)         (IPv4 forwarding)                      (curl, wrk, sockperf)
//! ```
//!
//! The direct topology, for benchmarks, joins the two ends with one veth pair and nothing in
//! between — like two hosts on one switch — so the measurement holds only the two ends:
//!
//! ```text
//!  <name>-stack                  <name>-peer
//!  xdp0 10.77.1.2/24 ───veth─── peer0 10.77.1.3/24
//! ```
//!
//! `xdp0` gets as many queues as asked for. The interface facing the stack (`rt-stack`, or
//! `peer0` in the direct topology) has TSO and GSO off: a kernel sending over veth otherwise
//! hands over 64 KB GSO bursts, which no AF_XDP frame holds; a real NIC always delivers
//! MTU-sized frames. The routed lab also turns TX checksum offload off there (checksums left
//! unfinished on veth are accepted by the stack, but the routed lab shows finished ones).
//! Every address lives inside the namespaces.
//!
//! ## Impairment
//!
//! [`Lab::impair`] makes the routed lab's router a bad network, per direction
//! ([`Impairment`]): a share of TCP segments lost or duplicated, a share of frames held back so
//! later ones overtake them, a delay and a jitter. [`Lab::counters`] reads back what it did.
//!
//! - **Loss and duplication** are nftables rules on the router's forward hook
//!   (`router_rules`): nothing leaves the kernel, so a loss-only lab forwards as fast as a
//!   clean one.
//! - **Delay, jitter and reordering** need time, which nftables does not have, and this kernel
//!   has no netem. Two ways were open: an NFQUEUE forwarder, which lets the kernel keep
//!   routing and only decides *when* each packet goes on, or a user-space router over
//!   AF_PACKET, which would copy every frame twice, redo routing, TTL and ARP, and need kernel
//!   forwarding switched off. The lab takes NFQUEUE (`forwarder`, `nfqueue`): with
//!   metadata-only copies a held frame costs one small netlink message each way, and a
//!   direction without delay, jitter or reordering never reaches it.
//! - Impairment applies **per wire frame**: [`Lab::impair`] turns TSO and GSO off on the two
//!   ends (`xdp0`, `peer0`) and GRO off on the router, so a Linux sender's 64 KB GSO burst is
//!   not lost or delayed as one packet. [`Lab::set_segmentation_offloads`]`(true)` afterwards
//!   would undo that for the stack's side. It also turns on receive packet steering along the
//!   path, without which veth reorders a flow whose sender changes CPU, with or without
//!   impairment (`Lab::frames_in_order`).

mod forwarder;
mod forwarder_process;
mod hold_schedule;
mod impairment;
mod nfqueue;
mod router_rules;

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::{Child, Command, Output};
use std::sync::Mutex;

pub use forwarder::{
    queue_number, run_forwarder, ForwarderConfig, ForwarderCounts, ForwarderError,
};
pub use forwarder_process::{forwarder_args, forwarder_program, READY_LINE};
pub use hold_schedule::{BadHold, Hold, REORDER_WAIT_LIMIT};
pub use impairment::{
    Direction, Impairment, ImpairmentError, PathImpairment, DEFAULT_REORDER_DEPTH, MAX_DELAY,
};
pub use router_rules::{DirectionCounters, ImpairmentCounters};

/// The stack's interface, address and gateway.
pub const STACK_IFACE: &str = "xdp0";
pub const STACK_IP: Ipv4Addr = Ipv4Addr::new(10, 77, 1, 2);
pub const ROUTER_STACK_IP: Ipv4Addr = Ipv4Addr::new(10, 77, 1, 1);
pub const ROUTER_PEER_IP: Ipv4Addr = Ipv4Addr::new(10, 77, 2, 1);
/// The Linux peer's interface and address (routed topology).
pub const PEER_IFACE: &str = "peer0";
pub const PEER_IP: Ipv4Addr = Ipv4Addr::new(10, 77, 2, 2);
/// The last byte of the first of the peer's further addresses ([`Lab::add_peer_addresses`]).
const PEER_MORE_ADDRESSES_FROM: u32 = 10;
/// The peer's address in the direct topology (the stack's subnet).
pub const DIRECT_PEER_IP: Ipv4Addr = Ipv4Addr::new(10, 77, 1, 3);

/// How the stack's namespace reaches the peer's.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Topology {
    /// Through a Linux router namespace (see the module docs).
    Routed,
    /// One veth pair, same subnet.
    Direct,
}

/// Why the lab could not be built or removed.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error("the lab needs root (network namespaces and veth)")]
    NotRoot,
    #[error("lab name {0:?} must be 1 to 12 letters, digits or '-'")]
    BadName(String),
    #[error("queues must be between 1 and 64, not {0}")]
    BadQueues(u32),
    #[error("`{command}` failed: {stderr}")]
    Command { command: String, stderr: String },
    #[error("cannot run `{command}`: {source}")]
    Spawn {
        command: String,
        source: std::io::Error,
    },
    #[error("no lab {0:?} (its namespaces do not exist; `xdptcp lab up --name {0}` makes it)")]
    NoSuchLab(String),
    #[error("lab {0:?} is direct: only a routed lab has a router to impair")]
    NotRouted(String),
    #[error("lab {0:?} has no impairment rules (`xdptcp lab impair` adds them)")]
    NotImpaired(String),
    #[error(
        "`{tool}` is not installed (Debian package {package}; deploy/install-deps.sh installs it)"
    )]
    ToolMissing {
        tool: &'static str,
        package: &'static str,
    },
    #[error(transparent)]
    Impairment(#[from] ImpairmentError),
    #[error("no xdptcp executable to run the forwarder (set XDPTCP_BIN)")]
    NoForwarderProgram,
    #[error("the forwarder did not start: {0}")]
    Forwarder(String),
    #[error("cannot write the lab's state in {path}: {source}")]
    State {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A lab that exists; dropping it removes it unless [`Lab::keep`] was called.
#[derive(Debug)]
pub struct Lab {
    name: String,
    queues: u32,
    topology: Topology,
    remove_on_drop: bool,
    /// The forwarder this value started, reaped when it is stopped.
    forwarder: Mutex<Option<Child>>,
}

fn run(program: &str, args: &[&str]) -> Result<Output, LabError> {
    let command = format!("{program} {}", args.join(" "));
    let output = Command::new(program)
        .args(args)
        .output()
        .map_err(|source| LabError::Spawn {
            command: command.clone(),
            source,
        })?;
    if !output.status.success() {
        return Err(LabError::Command {
            command,
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        });
    }
    Ok(output)
}

/// Creates the namespaces, each with its loopback up.
fn add_namespaces(names: &[&str]) -> Result<(), LabError> {
    for ns in names {
        run("ip", &["netns", "add", ns])?;
        run("ip", &["-n", ns, "link", "set", "lo", "up"])?;
    }
    Ok(())
}

/// A veth pair from `dev` in namespace `ns` to `peer_dev` in `peer_ns`; with `queues`, both
/// ends get that many TX and RX queues (else the kernel's default).
fn add_veth(
    (ns, dev): (&str, &str),
    (peer_ns, peer_dev): (&str, &str),
    queues: Option<u32>,
) -> Result<(), LabError> {
    let q = queues.map(|q| q.to_string());
    let counts: Vec<&str> = match &q {
        Some(q) => vec!["numtxqueues", q, "numrxqueues", q],
        None => Vec::new(),
    };
    let mut args = vec!["-n", ns, "link", "add", dev];
    args.extend(&counts);
    args.extend(["type", "veth", "peer", "name", peer_dev, "netns", peer_ns]);
    args.extend(&counts);
    run("ip", &args)?;
    Ok(())
}

/// Gives `dev` in `ns` the address `ip`/24 and brings it up.
fn address(ns: &str, dev: &str, ip: Ipv4Addr) -> Result<(), LabError> {
    let cidr = format!("{ip}/24");
    run("ip", &["-n", ns, "addr", "add", &cidr, "dev", dev])?;
    run("ip", &["-n", ns, "link", "set", dev, "up"])?;
    Ok(())
}

impl Lab {
    /// Creates the routed lab `name` with `queues` queues on `xdp0` (removing a stale one
    /// first).
    pub fn up(name: &str, queues: u32) -> Result<Lab, LabError> {
        Lab::up_with(name, queues, Topology::Routed)
    }

    /// Creates the lab `name` in the given topology.
    pub fn up_with(name: &str, queues: u32, topology: Topology) -> Result<Lab, LabError> {
        if !crate::host::is_root() {
            return Err(LabError::NotRoot);
        }
        check_name(name)?;
        if !(1..=64).contains(&queues) {
            return Err(LabError::BadQueues(queues));
        }
        let _ = Lab::down(name);
        let lab = Lab {
            name: name.into(),
            queues,
            topology,
            remove_on_drop: true,
            forwarder: Mutex::new(None),
        };
        // On failure `lab` drops and removes what was made.
        match topology {
            Topology::Routed => lab.build_routed()?,
            Topology::Direct => lab.build_direct()?,
        }
        Ok(lab)
    }

    fn build_direct(&self) -> Result<(), LabError> {
        let (stack, peer) = (self.stack_ns(), self.peer_ns());
        add_namespaces(&[&stack, &peer])?;
        let queues = Some(self.queues);
        add_veth((&stack, STACK_IFACE), (&peer, PEER_IFACE), queues)?;
        address(&stack, STACK_IFACE, STACK_IP)?;
        address(&peer, PEER_IFACE, DIRECT_PEER_IP)?;
        self.set_segmentation_offloads(false)
    }

    /// Turns TSO, GSO and GRO on or off on both ends of the veth pair that joins the stack
    /// to its neighbour (off is what the lab starts with toward the stack). Linux-to-Linux
    /// measurements turn them on to give the kernel its offloads; xdptcp needs them off on
    /// the kernel's side.
    pub fn set_segmentation_offloads(&self, on: bool) -> Result<(), LabError> {
        let state = if on { "on" } else { "off" };
        let (near_ns, near_dev) = match self.topology {
            Topology::Routed => (self.router_ns(), "rt-stack"),
            Topology::Direct => (self.peer_ns(), PEER_IFACE),
        };
        for (ns, dev) in [
            (near_ns.as_str(), near_dev),
            (&self.stack_ns(), STACK_IFACE),
        ] {
            run(
                "ip",
                &[
                    "netns", "exec", ns, "ethtool", "-K", dev, "tso", state, "gso", state, "gro",
                    state,
                ],
            )?;
        }
        Ok(())
    }

    /// The peer's address.
    pub fn peer_ip(&self) -> Ipv4Addr {
        match self.topology {
            Topology::Routed => PEER_IP,
            Topology::Direct => DIRECT_PEER_IP,
        }
    }

    pub fn topology(&self) -> Topology {
        self.topology
    }

    /// Gives the peer `count` further addresses of its subnet after its own (10.77.2.10 on,
    /// in the routed lab), so a load generator there reaches more 4-tuples toward one server
    /// (`xdptcp load --more-ips`); returns them. The peer's kernel holds them, so it answers
    /// ARP for them.
    pub fn add_peer_addresses(&self, count: u32) -> Result<Vec<Ipv4Addr>, LabError> {
        let first = u32::from(self.peer_ip()) & !0xff | PEER_MORE_ADDRESSES_FROM;
        if count > 0xfe - PEER_MORE_ADDRESSES_FROM {
            return Err(LabError::Command {
                command: format!("add {count} peer addresses"),
                stderr: format!(
                    "at most {} fit the peer's /24",
                    0xfe - PEER_MORE_ADDRESSES_FROM
                ),
            });
        }
        let addresses: Vec<Ipv4Addr> = (first..first + count).map(Ipv4Addr::from).collect();
        for address in &addresses {
            run(
                "ip",
                &[
                    "-n",
                    &self.peer_ns(),
                    "addr",
                    "add",
                    &format!("{address}/24"),
                    "dev",
                    PEER_IFACE,
                ],
            )?;
        }
        Ok(addresses)
    }

    fn build_routed(&self) -> Result<(), LabError> {
        let (stack, router, peer) = (self.stack_ns(), self.router_ns(), self.peer_ns());
        add_namespaces(&[&stack, &router, &peer])?;
        let queues = Some(self.queues);
        add_veth((&router, "rt-stack"), (&stack, STACK_IFACE), queues)?;
        add_veth((&router, "rt-peer"), (&peer, PEER_IFACE), None)?;
        let interfaces = [
            (&stack, STACK_IFACE, STACK_IP),
            (&router, "rt-stack", ROUTER_STACK_IP),
            (&router, "rt-peer", ROUTER_PEER_IP),
            (&peer, PEER_IFACE, PEER_IP),
        ];
        for (ns, dev, ip) in interfaces {
            address(ns, dev, ip)?;
        }
        for (ns, gateway) in [(&stack, ROUTER_STACK_IP), (&peer, ROUTER_PEER_IP)] {
            run(
                "ip",
                &[
                    "-n",
                    ns,
                    "route",
                    "add",
                    "default",
                    "via",
                    &gateway.to_string(),
                ],
            )?;
        }
        run(
            "ip",
            &[
                "netns",
                "exec",
                &router,
                "sysctl",
                "-qw",
                "net.ipv4.ip_forward=1",
            ],
        )?;
        // Finished checksums and MTU-sized frames toward the stack (see the module docs).
        let offload_off = [
            "netns", "exec", &router, "ethtool", "-K", "rt-stack", "tx", "off", "tso", "off",
            "gso", "off",
        ];
        run("ip", &offload_off)?;
        Ok(())
    }

    /// A handle on the existing lab `name` (made by `xdptcp lab up` or another process);
    /// dropping it leaves the lab in place.
    pub fn attach(name: &str) -> Result<Lab, LabError> {
        if !crate::host::is_root() {
            return Err(LabError::NotRoot);
        }
        check_name(name)?;
        let exists = |suffix: &str| namespace_exists(&format!("{name}-{suffix}"));
        let topology = match (exists("stack"), exists("router"), exists("peer")) {
            (true, true, true) => Topology::Routed,
            (true, false, true) => Topology::Direct,
            _ => return Err(LabError::NoSuchLab(name.into())),
        };
        let stack = format!("{name}-stack");
        let details = run("ip", &["-d", "-n", &stack, "link", "show", STACK_IFACE])?;
        let details = String::from_utf8_lossy(&details.stdout).into_owned();
        let queues = details
            .split_whitespace()
            .skip_while(|word| *word != "numrxqueues")
            .nth(1)
            .and_then(|n| n.parse().ok())
            .unwrap_or(1);
        Ok(Lab {
            name: name.into(),
            queues,
            topology,
            remove_on_drop: false,
            forwarder: Mutex::new(None),
        })
    }

    /// Makes the router impair the traffic it forwards, replacing any impairment before
    /// (and setting the counters to zero). [`Impairment::none`] restores a clean path that is
    /// still counted. Delay, jitter or reordering start the forwarder process, which runs
    /// until the impairment changes or the lab is removed.
    pub fn impair(&self, impairment: &Impairment) -> Result<(), LabError> {
        impairment.validate()?;
        if self.topology != Topology::Routed {
            return Err(LabError::NotRouted(self.name.clone()));
        }
        router_rules::check_tools(impairment)?;
        let router = self.router_ns();
        self.frames_in_order()?;
        // New frames stop going to the old forwarder first; then it lets its frames go.
        router_rules::apply_loss_and_duplication(&router, impairment)?;
        let mut forwarder = self.forwarder.lock().unwrap_or_else(|e| e.into_inner());
        forwarder_process::stop(&self.name, forwarder.take())?;
        if impairment.needs_forwarder() {
            *forwarder = Some(forwarder_process::start(&self.name, &router, impairment)?);
            router_rules::add_queue_rules(&router, impairment)?;
        }
        Ok(())
    }

    /// Removes every impairment rule and the forwarder: the router forwards as a plain
    /// Linux router again, and nothing is counted.
    pub fn remove_impairment(&self) -> Result<(), LabError> {
        if self.topology != Topology::Routed {
            return Err(LabError::NotRouted(self.name.clone()));
        }
        let router = self.router_ns();
        router_rules::remove_all(&router)?;
        let mut forwarder = self.forwarder.lock().unwrap_or_else(|e| e.into_inner());
        forwarder_process::stop(&self.name, forwarder.take())
    }

    /// What the router did since the impairment was last applied: TCP segments seen, lost
    /// and duplicated (nft counters), frames the forwarder held and reordered, and frames the
    /// kernel dropped because the forwarder's queue was full.
    pub fn counters(&self) -> Result<ImpairmentCounters, LabError> {
        if self.topology != Topology::Routed {
            return Err(LabError::NotRouted(self.name.clone()));
        }
        let router = self.router_ns();
        let mut counters = router_rules::read_nft_counters(&router)?
            .ok_or_else(|| LabError::NotImpaired(self.name.clone()))?;
        router_rules::add_queue_drops(&router_rules::read_queue_table(&router)?, &mut counters);
        counters.to_peer.forwarder = forwarder_process::read_counts(&self.name, Direction::ToPeer);
        counters.to_stack.forwarder =
            forwarder_process::read_counts(&self.name, Direction::ToStack);
        Ok(counters)
    }

    /// Makes every packet the router sees one wire frame, and keeps each flow in order on
    /// its way: TSO and GSO off where the two ends send into the router and GRO off where
    /// the router receives (see the module docs); receive packet steering over all CPUs on
    /// the four interfaces of the path. Without steering, a veth queues a frame on the
    /// backlog of the CPU its sender runs on, and a sender that moves between CPUs reorders
    /// its own flow (measured: 11 out-of-order queueings at the receiver in one of six clean
    /// 8 MiB transfers, 17 to 36 per transfer behind the forwarder; none in ten of each with
    /// steering). Steering picks the backlog by the flow's hash instead
    /// (Documentation/networking/scaling.rst, RPS).
    fn frames_in_order(&self) -> Result<(), LabError> {
        let path = [
            (self.stack_ns(), STACK_IFACE, ["tso", "off", "gso", "off"]),
            (self.peer_ns(), PEER_IFACE, ["tso", "off", "gso", "off"]),
            (self.router_ns(), "rt-stack", ["gro", "off", "gso", "off"]),
            (self.router_ns(), "rt-peer", ["gro", "off", "gso", "off"]),
        ];
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let steer = format!(
            "for q in /sys/class/net/\"$1\"/queues/rx-*; do echo {} > \"$q/rps_cpus\"; done",
            rps_mask(cpus)
        );
        for (ns, dev, features) in &path {
            let mut args = vec!["netns", "exec", ns, "ethtool", "-K", dev];
            args.extend(features);
            run("ip", &args)?;
            run(
                "ip",
                &["netns", "exec", ns, "sh", "-c", &steer, "steer", dev],
            )?;
        }
        Ok(())
    }

    /// Removes the lab `name` (its forwarder, its namespaces and, with them, the veths).
    pub fn down(name: &str) -> Result<(), LabError> {
        let mut first_error = None;
        let router = format!("{name}-router");
        if namespace_exists(&router) {
            if let Err(e) = forwarder_process::stop(name, None) {
                first_error.get_or_insert(e);
            }
        }
        let _ = std::fs::remove_dir_all(forwarder_process::state_dir(name));
        for suffix in ["stack", "router", "peer"] {
            let ns = format!("{name}-{suffix}");
            if namespace_exists(&ns) {
                if let Err(e) = run("ip", &["netns", "del", &ns]) {
                    first_error.get_or_insert(e);
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Leaves the lab in place when this value is dropped (for `xdptcp lab up`).
    pub fn keep(mut self) {
        self.remove_on_drop = false;
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn queues(&self) -> u32 {
        self.queues
    }

    pub fn stack_ns(&self) -> String {
        format!("{}-stack", self.name)
    }

    pub fn router_ns(&self) -> String {
        format!("{}-router", self.name)
    }

    pub fn peer_ns(&self) -> String {
        format!("{}-peer", self.name)
    }

    /// A command that runs `program` inside namespace `ns`.
    pub fn command_in(ns: &str, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", ns, program]);
        c
    }

    /// A description of the lab and how to use it.
    pub fn describe(&self) -> String {
        let name_arg = if self.name == "xdptcp" {
            String::new()
        } else {
            format!(" --name {}", self.name)
        };
        let usage = format!(
            "run a server: ip netns exec {stack} xdptcp serve --iface {STACK_IFACE} --port 8080 --app http\n\
             reach it:     ip netns exec {peer} curl http://{STACK_IP}:8080/\n\
             remove it:    xdptcp lab down{name_arg}",
            stack = self.stack_ns(),
            peer = self.peer_ns(),
        );
        if self.topology == Topology::Direct {
            return format!(
                "lab {name} is up, direct ({q} queue(s) on {STACK_IFACE}):\n\
                 \x20 stack   namespace {stack:<16} {STACK_IFACE} {STACK_IP}/24\n\
                 \x20 peer    namespace {peer:<16} {PEER_IFACE} {DIRECT_PEER_IP}/24\n\
                 {usage}",
                name = self.name,
                q = self.queues,
                stack = self.stack_ns(),
                peer = self.peer_ns(),
            );
        }
        format!(
            "lab {name} is up ({q} queue(s) on {STACK_IFACE}):\n\
             \x20 stack   namespace {stack:<16} {STACK_IFACE} {STACK_IP}/24, gateway {ROUTER_STACK_IP}\n\
             \x20 router  namespace {router:<16} rt-stack {ROUTER_STACK_IP} <-> rt-peer {ROUTER_PEER_IP}\n\
             \x20 peer    namespace {peer:<16} {PEER_IFACE} {PEER_IP}/24, gateway {ROUTER_PEER_IP}\n\
             {usage}",
            name = self.name,
            q = self.queues,
            stack = self.stack_ns(),
            router = self.router_ns(),
            peer = self.peer_ns(),
        )
    }
}

/// A lab's name is 1 to 12 letters, digits or '-' (it prefixes namespace names).
fn check_name(name: &str) -> Result<(), LabError> {
    let valid = !name.is_empty()
        && name.len() <= 12
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if valid {
        Ok(())
    } else {
        Err(LabError::BadName(name.into()))
    }
}

/// The `rps_cpus` mask of the first `cpus` CPUs: hexadecimal, in comma-separated words of 32
/// bits, the highest first (the kernel's bitmap format, cpumask_parse).
fn rps_mask(cpus: usize) -> String {
    let words = cpus.div_ceil(32).max(1);
    (0..words)
        .rev()
        .map(|w| {
            let bits = cpus.saturating_sub(w * 32).min(32);
            let word = if bits == 32 {
                u32::MAX
            } else {
                (1u32 << bits) - 1
            };
            format!("{word:08x}")
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn namespace_exists(ns: &str) -> bool {
    std::path::Path::new("/run/netns").join(ns).exists()
}

impl Drop for Lab {
    fn drop(&mut self) {
        let own = self
            .forwarder
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if self.remove_on_drop {
            if let Some(child) = own {
                let _ = forwarder_process::stop(&self.name, Some(child));
            }
            let _ = Lab::down(&self.name);
        }
        // A kept lab keeps its forwarder running (dropping a `Child` leaves the process be).
    }
}

#[cfg(test)]
mod tests {
    use super::rps_mask;

    #[test]
    fn the_steering_mask_covers_every_cpu() {
        assert_eq!(rps_mask(1), "00000001");
        assert_eq!(rps_mask(2), "00000003");
        assert_eq!(rps_mask(32), "ffffffff");
        assert_eq!(rps_mask(40), "000000ff,ffffffff");
    }
}
