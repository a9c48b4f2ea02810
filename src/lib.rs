//! xdptcp: a kernel-bypass TCP/IP stack over Linux AF_XDP.
//!
//! Layers, each a module whose name says what it owns:
//! - [`wire`]: zero-copy views over Ethernet, ARP, IPv4 and TCP, and emitters.
//! - [`tcp`]: the sans-IO connection state machine (segments and time in, segments and a
//!   deadline out).
//! - [`management`]: the management socket (`xdptcp stats`, `xdptcp ss`) and the Prometheus
//!   endpoint of a running stack.
//! - [`sim`]: a deterministic in-memory network with loss, reordering, duplication and
//!   corruption, for testing the core.

// `unsafe` is confined to the AF_XDP layer (`xdp`), which allows it explicitly.
#![deny(unsafe_code)]

pub mod apps;
pub mod config;
pub mod flow;
pub mod host;
pub mod lab;
pub mod load;
pub mod management;
pub mod runtime;
pub mod sim;
pub mod stack;
pub mod tcp;
pub mod time;
pub mod wire;
pub mod xdp;

pub use time::Instant;
