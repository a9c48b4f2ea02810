//! The impairment options of `xdptcp lab up` and `xdptcp lab impair`, and `xdptcp lab
//! forward`, the forwarder process the lab starts in its router (see `xdptcp::lab`).

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, ValueEnum};
use xdptcp::lab::{
    run_forwarder, Direction, ForwarderConfig, ForwarderError, Hold, Impairment, PathImpairment,
    DEFAULT_REORDER_DEPTH, READY_LINE,
};

use crate::common::{install_stop_handler, SetupError};

/// Which directions through the router the options apply to.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum Directions {
    Both,
    /// Stack to peer only.
    ToPeer,
    /// Peer to stack only.
    ToStack,
}

/// How the router treats the traffic it forwards. Probabilities are between 0 and 1.
#[derive(Args, Clone, Debug)]
pub struct ImpairFlags {
    /// Drop this share of the TCP segments (nftables, e.g. 0.002 or 0.02).
    #[arg(
        long,
        value_name = "P",
        default_value_t = 0.0,
        allow_negative_numbers = true
    )]
    loss: f64,
    /// Send this share of the TCP segments twice (nftables `dup`).
    #[arg(
        long,
        value_name = "P",
        default_value_t = 0.0,
        allow_negative_numbers = true
    )]
    duplicate: f64,
    /// Hold this share of the frames back until --reorder-depth later frames have overtaken
    /// them (the forwarder).
    #[arg(
        long,
        value_name = "P",
        default_value_t = 0.0,
        allow_negative_numbers = true
    )]
    reorder: f64,
    /// Frames that overtake a held-back frame.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_REORDER_DEPTH)]
    reorder_depth: u32,
    /// Delay every frame by this many microseconds (the forwarder).
    #[arg(long, value_name = "US", default_value_t = 0)]
    delay_us: u64,
    /// Spread each frame's delay uniformly over ± this many microseconds, keeping order.
    #[arg(long, value_name = "US", default_value_t = 0)]
    jitter_us: u64,
    /// The directions these options apply to; the other stays clean.
    #[arg(long, value_enum, default_value = "both")]
    direction: Directions,
    /// Seed of the forwarder's delays and reordering choices.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

impl ImpairFlags {
    /// The impairment these options describe (not yet validated).
    pub fn impairment(&self) -> Impairment {
        let path = PathImpairment {
            loss: self.loss,
            duplicate: self.duplicate,
            reorder: self.reorder,
            reorder_depth: self.reorder_depth,
            delay: Duration::from_micros(self.delay_us),
            jitter: Duration::from_micros(self.jitter_us),
        };
        let mut impairment = Impairment::none();
        impairment.seed = self.seed;
        let directions: &[Direction] = match self.direction {
            Directions::Both => &Direction::BOTH,
            Directions::ToPeer => &[Direction::ToPeer],
            Directions::ToStack => &[Direction::ToStack],
        };
        for &direction in directions {
            *impairment.path_mut(direction) = path.clone();
        }
        impairment
    }
}

/// `xdptcp lab forward`: started by the lab in its router's namespace, never by hand.
#[derive(Args)]
pub struct ForwardArgs {
    /// The hold of frames toward the peer (`delay_us=D,jitter_us=J,reorder=P,depth=N`).
    #[arg(long)]
    to_peer: Option<Hold>,
    /// The hold of frames toward the stack.
    #[arg(long)]
    to_stack: Option<Hold>,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Where to keep the counters.
    #[arg(long)]
    stats: PathBuf,
}

/// Why the forwarder stopped.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    #[error(transparent)]
    Setup(#[from] SetupError),
    #[error(transparent)]
    Forwarder(#[from] ForwarderError),
}

/// Runs the forwarder until SIGTERM; prints the ready line once its queues are bound.
pub fn forward(args: &ForwardArgs) -> Result<(), ForwardError> {
    let stop = Arc::new(AtomicBool::new(false));
    install_stop_handler(stop.clone())?;
    let config = ForwarderConfig {
        to_peer: args.to_peer.clone(),
        to_stack: args.to_stack.clone(),
        seed: args.seed,
        stats_path: args.stats.clone(),
    };
    run_forwarder(&config, &stop, || {
        let mut out = std::io::stdout();
        // The lab waits for this line; if it cannot be written the lab sees EOF and fails.
        let _ = writeln!(out, "{READY_LINE}").and_then(|()| out.flush());
    })?;
    Ok(())
}
