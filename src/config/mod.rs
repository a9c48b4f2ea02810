//! The configuration file of `xdptcp serve` (TOML): which ports to serve with which app, the
//! interface and its queues, the worker cores and idle policy, buffer sizes, connection
//! limits, TCP settings, and how the running server is observed (`[management]`: the
//! management socket, the Prometheus endpoint).
//!
//! Reading happens in three steps, one file each: [`read`] turns the text into a
//! [`ServeFile`] (every key optional, unknown keys and mistyped values refused with the key
//! named), the command's flags are written over it (flags override the file), and
//! [`ServeFile::settings`] checks every value and builds the [`ServeSettings`] the command
//! runs: a [`RuntimeConfig`](crate::runtime::RuntimeConfig) and the listeners. Errors name
//! the key and the problem: `unknown key "listen[0].prot"`, `"queues": must be 1..64, got 0`.
//!
//! ```toml
//! interface = "xdp0"
//! more_ips = ["10.0.2.10-10.0.2.49"]   # further addresses of the stack (load generators)
//! queues = 1
//! cores = [1]
//! idle = "hybrid"          # auto, spin, poll, hybrid (with spin_us)
//!
//! [[listen]]
//! port = 7
//! app = "echo"             # echo, http, discard, sockperf
//!
//! [[listen]]
//! port = 8080
//! app = "http"
//! http_body = "4K"
//!
//! [tcp]
//! send_buffer = "256K"
//! recv_buffer = "256K"
//!
//! [limits]
//! connections_per_worker = 65536
//!
//! [management]
//! socket = "/run/xdptcp/xdptcp.sock"   # or "off"
//! prometheus = "127.0.0.1:9464"        # off when absent
//! ```
//!
//! `deploy/xdptcp.toml` lists every key with its default.

mod addresses;
mod error;
mod file;
mod read;
mod settings;
mod size;

pub use addresses::{parse_address_range, NotAnAddressRange};
pub use error::{ConfigFileError, ConfigProblem, SettingError};
pub use file::{
    AppKind, IdleChoice, LimitsFile, ListenFile, ManagementFile, ServeFile, StackKind, TcpFile,
    UmemFile,
};
pub use file::{HugePagesChoice, XdpModeChoice, ZeroCopyChoice};
pub use read::read;
pub use settings::{
    Listener, ManagementSettings, ServeSettings, DEFAULT_HTTP_BODY, MANAGEMENT_OFF,
};
pub use size::{parse_size, ByteSize, NotAByteCount};
