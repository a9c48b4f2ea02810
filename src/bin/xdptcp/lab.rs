//! `xdptcp lab up|down`: the namespace lab (see `xdptcp::lab`).

use clap::{Args, Subcommand};
use xdptcp::lab::{Lab, LabError, Topology};

/// Why `xdptcp lab` failed.
#[derive(Debug, thiserror::Error)]
pub enum LabCommandError {
    #[error("the lab needs root (network namespaces and veth)")]
    NotRoot,
    #[error(transparent)]
    Lab(#[from] LabError),
}

#[derive(Args)]
pub struct LabArgs {
    #[command(subcommand)]
    action: LabAction,
}

#[derive(Subcommand)]
enum LabAction {
    /// Create the stack, router and peer namespaces (or, with --direct, stack and peer) and
    /// print their addresses.
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
    },
    /// Remove the lab's namespaces (and with them its interfaces).
    Down {
        #[arg(long, default_value = "xdptcp")]
        name: String,
    },
}

pub fn run(args: &LabArgs) -> Result<(), LabCommandError> {
    match &args.action {
        LabAction::Up {
            name,
            queues,
            direct,
        } => {
            let topology = if *direct {
                Topology::Direct
            } else {
                Topology::Routed
            };
            let lab = Lab::up_with(name, *queues, topology)?;
            println!("{}", lab.describe());
            lab.keep();
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
    }
}
