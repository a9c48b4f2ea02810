//! Observing a running stack from outside the process: a management socket (a Unix stream
//! socket, mode 0600, or 0660 with a group) that `xdptcp stats`, `xdptcp ss` and `xdptcp capture` ask, and an optional Prometheus
//! endpoint (plain HTTP over the kernel's TCP) that serves the same counters.
//!
//! Both run on threads of their own and reach the workers only through a
//! [`RuntimeObserver`](crate::runtime::RuntimeObserver): a worker copies its counters (and
//! the connection rows asked for) out between two batches when asked, so neither a slow
//! client nor a scrape ever makes a worker wait. One concern per file:
//!
//! - `protocol`: the requests and answers, one JSON document per line;
//! - `metrics`: every counter shown, listed once with its name, meaning and kind;
//! - `socket`: making the socket (refused if another instance answers on it), its mode;
//! - `server`: answering requests on the socket; `client`: asking them, with clear errors;
//! - `capture_server`: streaming a capture's frames on a thread of its own,
//!   `capture_stream`: the messages that carry them, `capture_client`: receiving them, and
//!   `pcap`: the file format they are written in;
//! - `prometheus`: the counters in the Prometheus text exposition format, and
//!   `metrics_http`: the HTTP endpoint that serves them.

mod capture_client;
mod capture_server;
mod capture_stream;
mod client;
mod error;
mod metrics;
mod metrics_http;
mod pcap;
mod prometheus;
mod protocol;
mod server;
mod socket;

pub use capture_client::CaptureClient;
pub use capture_stream::{CaptureSummary, StreamMessage};
pub use client::{request, ClientError};
pub use error::ManagementError;
pub use metrics::{dropped, DropReason, Metric, MetricKind, DROP_REASONS, WORKER_METRICS};
pub use metrics_http::{MetricsEndpoint, ServingMetrics};
pub use pcap::PcapWriter;
pub use prometheus::{render as render_prometheus, CONTENT_TYPE as PROMETHEUS_CONTENT_TYPE};
pub use protocol::{
    Answer, CaptureStarted, ConnectionsReport, Request, RuntimeSummary, StatsReport, WorkerReport,
    MAX_ROWS_PER_WORKER,
};
pub use server::ManagementServer;
pub use socket::{ManagementSocket, DEFAULT_SOCKET_PATH, OWNER_ONLY_MODE, SOCKET_MODE};
