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

use std::net::Ipv4Addr;
use std::process::{Command, Output};

/// The stack's interface, address and gateway.
pub const STACK_IFACE: &str = "xdp0";
pub const STACK_IP: Ipv4Addr = Ipv4Addr::new(10, 77, 1, 2);
pub const ROUTER_STACK_IP: Ipv4Addr = Ipv4Addr::new(10, 77, 1, 1);
pub const ROUTER_PEER_IP: Ipv4Addr = Ipv4Addr::new(10, 77, 2, 1);
/// The Linux peer's interface and address (routed topology).
pub const PEER_IFACE: &str = "peer0";
pub const PEER_IP: Ipv4Addr = Ipv4Addr::new(10, 77, 2, 2);
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
}

/// A lab that exists; dropping it removes it unless [`Lab::keep`] was called.
#[derive(Debug)]
pub struct Lab {
    name: String,
    queues: u32,
    topology: Topology,
    remove_on_drop: bool,
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
        if name.is_empty()
            || name.len() > 12
            || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return Err(LabError::BadName(name.into()));
        }
        if !(1..=64).contains(&queues) {
            return Err(LabError::BadQueues(queues));
        }
        let _ = Lab::down(name);
        let lab = Lab {
            name: name.into(),
            queues,
            topology,
            remove_on_drop: true,
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

    /// Removes the lab `name` (its namespaces and, with them, the veths).
    pub fn down(name: &str) -> Result<(), LabError> {
        let mut first_error = None;
        for suffix in ["stack", "router", "peer"] {
            let ns = format!("{name}-{suffix}");
            let exists = std::path::Path::new("/run/netns").join(&ns).exists();
            if exists {
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

impl Drop for Lab {
    fn drop(&mut self) {
        if self.remove_on_drop {
            let _ = Lab::down(&self.name);
        }
    }
}
