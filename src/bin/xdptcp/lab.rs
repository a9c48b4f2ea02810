//! `xdptcp lab up|down`: the namespace lab (see `xdptcp::lab`).

use clap::{Args, Subcommand};
use xdptcp::lab::Lab;

#[derive(Args)]
pub struct LabArgs {
    #[command(subcommand)]
    action: LabAction,
}

#[derive(Subcommand)]
enum LabAction {
    /// Create the stack, router and peer namespaces and print their addresses.
    Up {
        /// Prefix of the namespace names.
        #[arg(long, default_value = "xdptcp")]
        name: String,
        /// Queues on the stack's interface.
        #[arg(long, default_value_t = 1)]
        queues: u32,
    },
    /// Remove the lab's namespaces (and with them its interfaces).
    Down {
        #[arg(long, default_value = "xdptcp")]
        name: String,
    },
}

pub fn run(args: &LabArgs) -> Result<(), String> {
    match &args.action {
        LabAction::Up { name, queues } => {
            let lab = Lab::up(name, *queues).map_err(|e| e.to_string())?;
            println!("{}", lab.describe());
            lab.keep();
            Ok(())
        }
        LabAction::Down { name } => {
            if !xdptcp::xdp::is_root() {
                return Err("the lab needs root (network namespaces and veth)".into());
            }
            Lab::down(name).map_err(|e| e.to_string())?;
            println!("lab {name} removed");
            Ok(())
        }
    }
}
