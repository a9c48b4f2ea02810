//! Why a load run could not run or finish.

use std::io;

use crate::runtime::RuntimeError;

/// A [`super::LoadSpec`] setting outside what the load generator does; each names the
/// command-line option it comes from.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum SpecError {
    #[error("--connections must be at least 1")]
    NoConnections,
    #[error("--depth must be at least 1")]
    NoDepth,
    #[error("--size must be 1 byte to 1 MiB")]
    Size(usize),
    #[error("--rate must be a positive number of requests per second")]
    Rate(f64),
    #[error("--rate does not apply to bulk (a one-way stream)")]
    RateOnBulk,
    #[error("--duration must be positive")]
    NoDuration,
}

/// Why a load run failed.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error("a worker panicked")]
    WorkerPanicked,
    #[error("a worker ended before reporting its results")]
    WorkerEnded,
    #[error("a load thread panicked")]
    ThreadPanicked,
    #[error("load thread: {0}")]
    Thread(#[source] io::Error),
}
