//! Why the stack refuses a configuration or a request.

use std::net::{Ipv4Addr, SocketAddrV4};

use crate::tcp;

/// A stack setting outside what the stack supports.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StackConfigError {
    #[error(transparent)]
    Tcp(#[from] tcp::ConfigError),
    #[error("mtu {0} outside 576..=9216")]
    Mtu(u16),
    #[error("prefix length {0} above 32")]
    PrefixLen(u8),
    #[error("max_connections must be positive")]
    NoConnections,
    #[error("accept_queue must be positive")]
    NoAcceptQueue,
    #[error("empty or invalid ephemeral port range")]
    EphemeralPorts,
}

/// Why the stack refused a request.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StackError {
    #[error("invalid configuration: {0}")]
    Config(#[from] StackConfigError),
    #[error("port {0} is already in use")]
    PortInUse(u16),
    #[error("{0} is not an address a connection can go to (RFC 1122 §4.2.3.10)")]
    InvalidRemoteAddress(Ipv4Addr),
    #[error("no free ephemeral port toward {0}")]
    NoEphemeralPort(SocketAddrV4),
    #[error("connection limit of {0} reached")]
    TooManyConnections(usize),
    /// The connections hold the payload buffer memory `StackConfig::buffer_memory_limit`
    /// allows: no new one opens until some is given back.
    #[error("payload buffer memory limit of {0} bytes reached")]
    BufferMemoryLimit(usize),
    #[error("no such connection (closed and freed, or never existed)")]
    NoSuchConnection,
    #[error(transparent)]
    Tcp(#[from] tcp::Error),
}
