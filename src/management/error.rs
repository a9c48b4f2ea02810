//! Why the management socket or the Prometheus endpoint could not be opened.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Why `serve` could not open its management interfaces; each is one line that says what
/// to do.
#[derive(Debug, thiserror::Error)]
pub enum ManagementError {
    #[error(
        "management socket {}: in use by another running xdptcp (it answers there); stop it or \
         give this one another path (--management-socket or [management] socket)",
        path.display()
    )]
    InUse { path: PathBuf },
    #[error(
        "management socket {}: the path exists and is not a socket; remove it or choose another \
         path (--management-socket or [management] socket)",
        path.display()
    )]
    NotASocket { path: PathBuf },
    #[error("management socket {}: cannot be made: {step}: {source}", path.display())]
    CannotMake {
        path: PathBuf,
        step: &'static str,
        source: io::Error,
    },
    #[error("prometheus endpoint {addr}: cannot listen: {source}")]
    Prometheus { addr: SocketAddr, source: io::Error },
    #[error("starting the {what} thread: {source}")]
    Thread {
        what: &'static str,
        source: io::Error,
    },
}
