//! The configuration file's keys as typed values, every one optional: what is absent takes
//! its default when [`ServeFile::settings`](super::ServeFile::settings) builds the settings,
//! and a command-line flag given replaces what the file says.

use std::net::{Ipv4Addr, SocketAddr};

use serde::Deserialize;

use super::ByteSize;

/// The whole file (its top-level keys and its tables).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct ServeFile {
    /// The network interface to serve (`--iface`).
    pub interface: Option<String>,
    /// The stack's IPv4 address; by default the interface's (`--ip`).
    pub ip: Option<Ipv4Addr>,
    /// Further addresses the stack owns, each an address or a range FIRST-LAST
    /// (`--more-ips`).
    pub more_ips: Option<Vec<String>>,
    /// Queues to serve from queue 0, one worker each (`--queues`).
    pub queues: Option<u32>,
    /// Cores to pin the workers to (`--cores`).
    pub cores: Option<Vec<usize>>,
    /// What a worker does when idle (`--idle`).
    pub idle: Option<IdleChoice>,
    /// With `idle = "hybrid"`: microseconds to spin after the last work (`--spin-us`).
    pub spin_us: Option<u64>,
    /// XDP attach mode (`--xdp-mode`).
    pub xdp_mode: Option<XdpModeChoice>,
    /// Zero-copy AF_XDP: `"prefer"` (or `true`), `"require"` (`--zero-copy`), `"off"` (or
    /// `false`, `--no-zero-copy`).
    pub zero_copy: Option<ZeroCopyChoice>,
    /// Preferred busy polling on the AF_XDP sockets: microseconds one system call may poll
    /// (`SO_BUSY_POLL`); 0, the default, sets no busy-poll option (`--busy-poll-us`).
    pub busy_poll_us: Option<u32>,
    /// With `busy_poll_us`: frames one NAPI run may take (`SO_BUSY_POLL_BUDGET`)
    /// (`--busy-poll-budget`).
    pub busy_poll_budget: Option<u16>,
    /// xdptcp, or the kernel's TCP for comparison (`--stack`).
    pub stack: Option<StackKind>,
    /// The ports to serve, each with its app (`--port` and `--app` give one).
    pub listen: Option<Vec<ListenFile>>,
    pub tcp: TcpFile,
    pub limits: LimitsFile,
    pub umem: UmemFile,
    pub management: ManagementFile,
}

/// `[management]`: how a running server is observed.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct ManagementFile {
    /// The management socket for `xdptcp stats` and `xdptcp ss`: an absolute path, or
    /// `"off"` (`--management-socket`).
    pub socket: Option<String>,
    /// The group whose members may use the socket (mode 0660, group owner this group);
    /// without one only the server's user may (mode 0600) (`--management-group`).
    pub group: Option<String>,
    /// Address and port of the Prometheus endpoint, off when absent (`--prometheus`).
    pub prometheus: Option<SocketAddr>,
}

/// One `[[listen]]` entry.
#[derive(Clone, Debug, Deserialize)]
pub struct ListenFile {
    pub port: u16,
    pub app: AppKind,
    /// Body size of the HTTP answer (http only; `--http-body`).
    #[serde(default)]
    pub http_body: Option<ByteSize>,
}

/// The applications `serve` runs.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum AppKind {
    /// Send back every byte; close after the peer closes (RFC 862).
    Echo,
    /// Answer HTTP/1.1 GET with a fixed body, keep-alive.
    Http,
    /// The sockperf TCP server protocol.
    Sockperf,
    /// Read and drop everything (RFC 863).
    Discard,
}

impl AppKind {
    /// The name the file and the command line use.
    pub fn name(self) -> &'static str {
        match self {
            AppKind::Echo => "echo",
            AppKind::Http => "http",
            AppKind::Sockperf => "sockperf",
            AppKind::Discard => "discard",
        }
    }
}

/// Which TCP stack a command runs on.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum StackKind {
    /// xdptcp over AF_XDP.
    Xdptcp,
    /// The Linux kernel's TCP through ordinary sockets (epoll).
    Kernel,
}

/// What a worker does when idle.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum IdleChoice {
    /// Hybrid while workers fit the cores, poll when they outnumber them (measured best).
    Auto,
    /// Never sleep.
    Spin,
    /// Sleep in poll() whenever idle.
    Poll,
    /// Spin spin_us after the last work, then sleep.
    Hybrid,
}

/// The XDP attach mode (see [`XdpAttach`](crate::xdp::XdpAttach)).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum XdpModeChoice {
    /// Native where the driver has it, generic otherwise (and on a one-queue veth).
    Auto,
    /// Native only: fail if the driver has no XDP support.
    Native,
    /// Generic (SKB) only.
    Generic,
}

/// The `umem.hugepages` key (see [`HugePages`](crate::xdp::HugePages)).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum HugePagesChoice {
    /// Huge pages where the hugetlb pool has them, else normal pages (the log says why).
    Prefer,
    /// Huge pages or a failed start that names the pages needed.
    Require,
    /// Normal pages.
    Off,
}

/// The `zero_copy` key (see [`ZeroCopy`](crate::xdp::ZeroCopy)): `"prefer"`, `"require"`
/// or `"off"`; `true` and `false`, which it was before it had three values, still mean
/// `"prefer"` and `"off"`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ZeroCopyChoice {
    Prefer,
    Require,
    Off,
}

impl<'de> Deserialize<'de> for ZeroCopyChoice {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Choice;
        impl serde::de::Visitor<'_> for Choice {
            type Value = ZeroCopyChoice;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("\"prefer\", \"require\", \"off\", true or false")
            }
            fn visit_bool<E: serde::de::Error>(self, on: bool) -> Result<ZeroCopyChoice, E> {
                Ok(if on {
                    ZeroCopyChoice::Prefer
                } else {
                    ZeroCopyChoice::Off
                })
            }
            fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<ZeroCopyChoice, E> {
                match name {
                    "prefer" => Ok(ZeroCopyChoice::Prefer),
                    "require" => Ok(ZeroCopyChoice::Require),
                    "off" => Ok(ZeroCopyChoice::Off),
                    _ => Err(E::invalid_value(serde::de::Unexpected::Str(name), &self)),
                }
            }
        }
        deserializer.deserialize_any(Choice)
    }
}

/// `[tcp]`: the TCP settings of every connection.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct TcpFile {
    /// Keep Nagle's algorithm on (`--nagle`; off by default, for latency).
    pub nagle: Option<bool>,
    pub mss: Option<u16>,
    pub send_buffer: Option<ByteSize>,
    pub recv_buffer: Option<ByteSize>,
    pub window_scaling: Option<bool>,
    pub delayed_ack_ms: Option<u64>,
    pub initial_rto_ms: Option<u64>,
    pub min_rto_ms: Option<u64>,
    pub max_rto_ms: Option<u64>,
    pub syn_retries: Option<u8>,
    pub synack_retries: Option<u8>,
    pub data_retries: Option<u8>,
    pub msl_ms: Option<u64>,
    /// As Linux's `TCP_USER_TIMEOUT`; absent means none.
    pub user_timeout_ms: Option<u64>,
    /// Offer timestamps (RFC 7323).
    pub timestamps: Option<bool>,
    /// Offer selective acknowledgments (RFC 2018).
    pub sack: Option<bool>,
    /// The congestion control algorithm: `cubic` or `newreno` (`--congestion`).
    pub congestion: Option<String>,
}

/// `[limits]`: connection limits.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct LimitsFile {
    /// Connections each worker holds at most.
    pub connections_per_worker: Option<usize>,
    /// Payload buffer bytes (send and receive rings) all connections of the process may
    /// hold before new ones are refused; each worker gets an equal share. Absent: no limit.
    pub buffer_memory: Option<ByteSize>,
    /// Half-open connections each worker holds per listening port.
    pub backlog: Option<usize>,
    /// Connections each worker holds per listening port established and not yet taken by
    /// the handler (Linux's accept queue).
    pub accept_queue: Option<usize>,
    /// SYN cookies: `when-backlog-full` (the default), `always` or `off`.
    pub syn_cookies: Option<String>,
}

/// `[umem]`: the AF_XDP buffers of each queue and the batch size. Each ring has
/// `frame_count / 2` entries: the fill ring takes every RX frame at start.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct UmemFile {
    /// Frames in each queue's UMEM (half RX, half TX); a power of two.
    pub frame_count: Option<u32>,
    /// Bytes per frame: 2048 or 4096.
    pub frame_size: Option<u32>,
    /// Map each UMEM on huge pages: `"prefer"`, `"require"` or `"off"`
    /// (`--umem-hugepages`).
    pub hugepages: Option<HugePagesChoice>,
    /// Frames taken from the RX ring (and built for TX) per loop turn.
    pub batch: Option<usize>,
}
