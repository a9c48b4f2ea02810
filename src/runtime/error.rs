//! Why a runtime could not start.

use std::io;

use super::ConfigError;
use crate::host::NoSuchInterface;
use crate::stack::StackError;
use crate::xdp::XdpError;

/// Why the runtime could not start.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error(transparent)]
    Xdp(#[from] XdpError),
    #[error(transparent)]
    Interface(#[from] NoSuchInterface),
    #[error("invalid configuration: {0}")]
    Config(#[from] ConfigError),
    #[error("port {port} is in use by a kernel socket in this network namespace; xdptcp would take its traffic")]
    PortInUseByKernel { port: u16 },
    #[error("{iface} has no IPv4 address; give one with --ip")]
    NoAddress { iface: String },
    #[error("reading {what} from the kernel failed: {source}")]
    Host {
        what: &'static str,
        source: io::Error,
    },
    #[error("setting up the stack of worker {worker}: {source}")]
    Stack { worker: usize, source: StackError },
    #[error("no randomness from the OS for the stacks' hash seeds: {0}")]
    Randomness(#[from] getrandom::Error),
    #[error("starting worker {worker}: {step}: {source}")]
    Worker {
        worker: usize,
        step: &'static str,
        source: io::Error,
    },
}
