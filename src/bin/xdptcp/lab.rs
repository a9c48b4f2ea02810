//! `xdptcp lab up|impair|counters|down`: the namespace lab and its impaired router (see
//! `xdptcp::lab`).

use clap::{Args, Subcommand};
use xdptcp::lab::{Impairment, Lab, LabError, Topology};

use crate::impair::{ForwardArgs, ForwardError, ImpairFlags};

/// Why `xdptcp lab` failed.
#[derive(Debug, thiserror::Error)]
pub enum LabCommandError {
    #[error("the lab needs root (network namespaces and veth)")]
    NotRoot,
    #[error(transparent)]
    Lab(#[from] LabError),
    #[error("nothing to change: give an impairment (--loss, --delay-us, ...) or --clear")]
    NothingToChange,
    #[error("--clear takes no impairment options")]
    ClearWithOptions,
    #[error("forwarder: {0}")]
    Forward(#[from] ForwardError),
}

#[derive(Args)]
pub struct LabArgs {
    #[command(subcommand)]
    action: LabAction,
}

#[derive(Subcommand)]
enum LabAction {
    /// Create the stack, router and peer namespaces (or, with --direct, stack and peer) and
    /// print their addresses; the options below make the router impair what it forwards.
    Up {
        /// Prefix of the namespace names.
        #[arg(long, default_value = "xdptcp")]
        name: String,
        /// Queues on the stack's interface.
        #[arg(long, default_value_t = 1)]
        queues: u32,
        /// One veth pair between stack and peer, no router (the benchmark topology).
        #[arg(long)]
        direct: bool,
        /// Further addresses for the peer, after its own (10.77.2.10 on in the routed lab):
        /// for `xdptcp load --more-ips` there.
        #[arg(long, default_value_t = 0)]
        peer_addresses: u32,
        #[command(flatten)]
        impair: ImpairFlags,
    },
    /// Change the impairment of a running routed lab (counters start again at zero), or
    /// with --clear restore a clean path that is still counted.
    Impair {
        #[arg(long, default_value = "xdptcp")]
        name: String,
        /// A clean path: no loss, duplication, delay or reordering.
        #[arg(long)]
        clear: bool,
        #[command(flatten)]
        impair: ImpairFlags,
    },
    /// Print what the router did since the impairment was applied: TCP segments, lost,
    /// duplicated, held and reordered frames.
    Counters {
        #[arg(long, default_value = "xdptcp")]
        name: String,
    },
    /// Remove the lab's namespaces (and with them its interfaces) and its forwarder.
    Down {
        #[arg(long, default_value = "xdptcp")]
        name: String,
    },
    /// The lab's delay, jitter and reordering forwarder (started by the lab in its router).
    #[command(hide = true)]
    Forward(ForwardArgs),
}

pub fn run(args: &LabArgs) -> Result<(), LabCommandError> {
    match &args.action {
        LabAction::Up {
            name,
            queues,
            direct,
            peer_addresses,
            impair,
        } => {
            let topology = if *direct {
                Topology::Direct
            } else {
                Topology::Routed
            };
            let impairment = impair.impairment();
            // Refuse bad values, and impairment without a router, before anything is built.
            impairment.validate().map_err(LabError::from)?;
            if *direct && !impairment.is_clean() {
                return Err(LabError::NotRouted(name.clone()).into());
            }
            let lab = Lab::up_with(name, *queues, topology)?;
            if !impairment.is_clean() {
                lab.impair(&impairment)?;
            }
            let more = lab.add_peer_addresses(*peer_addresses)?;
            println!("{}", lab.describe());
            if let (Some(first), Some(last)) = (more.first(), more.last()) {
                println!("peer also:    {first}-{last} (xdptcp load --more-ips {first}-{last})");
            }
            if !impairment.is_clean() {
                println!("impaired:     {impairment}");
            }
            lab.keep();
            Ok(())
        }
        LabAction::Impair {
            name,
            clear,
            impair,
        } => {
            let impairment = impair.impairment();
            impairment.validate().map_err(LabError::from)?;
            let impairment = match (*clear, impairment.is_clean()) {
                (true, true) => Impairment::none(),
                (true, false) => return Err(LabCommandError::ClearWithOptions),
                (false, true) => return Err(LabCommandError::NothingToChange),
                (false, false) => impairment,
            };
            let lab = Lab::attach(name)?;
            lab.impair(&impairment)?;
            println!("lab {name}: {impairment}");
            Ok(())
        }
        LabAction::Counters { name } => {
            let lab = Lab::attach(name)?;
            print!("{}", lab.counters()?);
            Ok(())
        }
        LabAction::Down { name } => {
            if !xdptcp::host::is_root() {
                return Err(LabCommandError::NotRoot);
            }
            Lab::down(name)?;
            println!("lab {name} removed");
            Ok(())
        }
        LabAction::Forward(args) => Ok(crate::impair::forward(args)?),
    }
}
