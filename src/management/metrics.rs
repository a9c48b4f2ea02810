//! The counters a running stack shows, listed once: `xdptcp stats` prints them as a table
//! and the Prometheus endpoint serves them, from the same list (name, meaning, kind, and
//! where each worker keeps it).

use super::WorkerReport;
use crate::stack::StackStats;

/// A counter only grows; a gauge goes up and down (Prometheus metric types).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum MetricKind {
    Counter,
    Gauge,
}

/// One per-worker value.
pub struct Metric {
    /// Prometheus name after `xdptcp_` (counters end in `_total`).
    pub name: &'static str,
    /// The row's label in `xdptcp stats`.
    pub label: &'static str,
    pub help: &'static str,
    pub kind: MetricKind,
    pub value: fn(&WorkerReport) -> u64,
}

use MetricKind::{Counter, Gauge};

/// Every per-worker value, in the order `xdptcp stats` prints them.
pub const WORKER_METRICS: &[Metric] = &[
    Metric {
        name: "rx_frames_total",
        label: "frames in",
        help: "Frames the stack received from its AF_XDP socket.",
        kind: Counter,
        value: |w| w.stats.stack.rx_frames,
    },
    Metric {
        name: "tx_frames_total",
        label: "frames out",
        help: "Frames the stack built and sent.",
        kind: Counter,
        value: |w| w.stats.stack.tx_frames,
    },
    Metric {
        name: "xdp_steered_frames_total",
        label: "XDP steered to the socket",
        help: "Frames the XDP program redirected to this queue's AF_XDP socket.",
        kind: Counter,
        value: |w| w.program.steered,
    },
    Metric {
        name: "xdp_steered_no_socket_total",
        label: "  of which no socket",
        help: "Of the frames steered: those the queue's XSKMAP slot held no socket for, passed to the kernel instead.",
        kind: Counter,
        value: |w| w.program.no_socket,
    },
    Metric {
        name: "xdp_passed_frames_total",
        label: "XDP passed to the kernel",
        help: "Frames the XDP program passed to the kernel on this queue (not ours).",
        kind: Counter,
        value: |w| w.program.passed,
    },
    Metric {
        name: "tcp_segments_received_total",
        label: "TCP segments in",
        help: "TCP segments received.",
        kind: Counter,
        value: |w| w.stats.stack.rx_tcp_segments,
    },
    Metric {
        name: "tcp_segments_sent_total",
        label: "TCP segments out",
        help: "TCP segments sent.",
        kind: Counter,
        value: |w| w.stats.stack.tx_tcp_segments,
    },
    Metric {
        name: "tcp_received_bytes_total",
        label: "TCP bytes received",
        help: "Payload bytes received in order, each byte once.",
        kind: Counter,
        value: |w| w.stats.tcp.bytes_in,
    },
    Metric {
        name: "tcp_sent_bytes_total",
        label: "TCP bytes sent",
        help: "Payload bytes sent, retransmissions included.",
        kind: Counter,
        value: |w| w.stats.tcp.bytes_out,
    },
    Metric {
        name: "tcp_retransmitted_segments_total",
        label: "retransmitted segments",
        help: "Segments sent again (timeouts, fast retransmit, loss probes).",
        kind: Counter,
        value: |w| w.stats.tcp.retransmitted_segments,
    },
    Metric {
        name: "tcp_retransmission_timeouts_total",
        label: "retransmission timeouts",
        help: "Retransmission timer expiries (RFC 6298 RTOs).",
        kind: Counter,
        value: |w| w.stats.tcp.timeouts,
    },
    Metric {
        name: "tcp_fast_retransmits_total",
        label: "fast retransmits",
        help: "Fast retransmissions (RFC 5681, RFC 6675).",
        kind: Counter,
        value: |w| w.stats.tcp.fast_retransmits,
    },
    Metric {
        name: "tcp_loss_probes_total",
        label: "tail loss probes",
        help: "Tail loss probes sent (RFC 8985).",
        kind: Counter,
        value: |w| w.stats.tcp.loss_probes,
    },
    Metric {
        name: "tcp_challenge_acks_total",
        label: "challenge ACKs",
        help: "Challenge ACKs sent (RFC 5961).",
        kind: Counter,
        value: |w| w.stats.tcp.challenge_acks,
    },
    Metric {
        name: "xdp_syn_cookies_sent_total",
        label: "SYN cookies sent by XDP",
        help: "SYNs the XDP program answered with a SYN cookie SYN,ACK (they never reach the stack).",
        kind: Counter,
        value: |w| w.program.cookies_sent,
    },
    Metric {
        name: "xdp_syn_cookies_skipped_total",
        label: "SYN cookies left to the stack",
        help: "SYNs to a cookie port the XDP program could not answer (malformed options, no room in the frame), steered to the stack instead.",
        kind: Counter,
        value: |w| w.program.cookie_skipped,
    },
    Metric {
        name: "syn_cookies_sent_total",
        label: "SYN cookies sent by the stack",
        help: "SYNs the stack answered with a SYN cookie SYN,ACK (RFC 4987 3.6).",
        kind: Counter,
        value: |w| w.stats.stack.syn_cookies_sent,
    },
    Metric {
        name: "syn_cookies_accepted_total",
        label: "SYN cookies accepted",
        help: "ACKs that brought a valid SYN cookie back and opened a connection.",
        kind: Counter,
        value: |w| w.stats.stack.syn_cookies_accepted,
    },
    Metric {
        name: "syn_cookies_rejected_total",
        label: "SYN cookies rejected",
        help: "ACKs to a listener, while cookies were in use, that carried no valid cookie.",
        kind: Counter,
        value: |w| w.stats.stack.syn_cookies_rejected,
    },
    Metric {
        name: "tcp_resets_sent_total",
        label: "resets sent",
        help: "Resets sent for segments that reached no connection (RFC 9293 3.10.7.1).",
        kind: Counter,
        value: |w| w.stats.stack.rst_sent,
    },
    Metric {
        name: "xdp_icmp_steered_total",
        label: "ICMP errors steered by XDP",
        help: "ICMP destination unreachable messages about the stack's TCP segments the XDP program steered to the socket.",
        kind: Counter,
        value: |w| w.program.icmp_steered,
    },
    Metric {
        name: "icmp_received_total",
        label: "ICMP received",
        help: "ICMP messages taken in with a valid checksum (RFC 792).",
        kind: Counter,
        value: |w| w.stats.stack.rx_icmp,
    },
    Metric {
        name: "path_mtu_lowered_total",
        label: "path MTU lowered",
        help: "Fragmentation-needed errors, quoting a segment in flight, that lowered a connection's send MSS (RFC 1191, RFC 5927 4.1).",
        kind: Counter,
        value: |w| w.stats.stack.path_mtu_lowered,
    },
    Metric {
        name: "icmp_soft_errors_total",
        label: "ICMP soft errors",
        help: "Destination unreachable errors a connection kept as soft errors, never aborting (RFC 1122 4.2.3.9, RFC 5461).",
        kind: Counter,
        value: |w| w.stats.stack.icmp_soft_errors,
    },
    Metric {
        name: "icmp_opens_aborted_total",
        label: "opens aborted by ICMP",
        help: "Active opens ended in SYN-SENT by a protocol or port unreachable error quoting our SYN.",
        kind: Counter,
        value: |w| w.stats.stack.icmp_opens_aborted,
    },
    Metric {
        name: "connections_accepted_total",
        label: "connections accepted",
        help: "Connections opened by a peer (passive opens).",
        kind: Counter,
        value: |w| w.stats.stack.connections_accepted,
    },
    Metric {
        name: "connections_opened_total",
        label: "connections opened",
        help: "Connections this stack opened (active opens).",
        kind: Counter,
        value: |w| w.stats.stack.connections_opened,
    },
    Metric {
        name: "connections_freed_total",
        label: "connections freed",
        help: "Connections whose memory was given back.",
        kind: Counter,
        value: |w| w.stats.stack.connections_freed,
    },
    Metric {
        name: "handoff_frames_total",
        label: "frames handed to other queues",
        help: "Frames that arrived on this queue for another worker's connection, handed over.",
        kind: Counter,
        value: |w| w.stats.frames_handed_off,
    },
    Metric {
        name: "handoff_dropped_frames_total",
        label: "hand-offs dropped",
        help: "Frames that could not be handed over (the owner's queue was full).",
        kind: Counter,
        value: |w| w.stats.handoff_drops,
    },
    Metric {
        name: "socket_rx_dropped_frames_total",
        label: "kernel RX drops",
        help: "Frames the kernel dropped before our RX ring (XDP_STATISTICS rx_dropped).",
        kind: Counter,
        value: |w| w.stats.socket.rx_dropped,
    },
    Metric {
        name: "socket_rx_ring_full_total",
        label: "kernel RX ring full",
        help: "Times the kernel found our RX ring full (XDP_STATISTICS).",
        kind: Counter,
        value: |w| w.stats.socket.rx_ring_full,
    },
    Metric {
        name: "socket_fill_ring_empty_total",
        label: "kernel fill ring empty",
        help: "Times the kernel found our fill ring empty (XDP_STATISTICS).",
        kind: Counter,
        value: |w| w.stats.socket.rx_fill_ring_empty,
    },
    Metric {
        name: "socket_tx_frames_exhausted_total",
        label: "TX frames exhausted",
        help: "Times the stack had a frame to send and every TX frame was in flight.",
        kind: Counter,
        value: |w| w.stats.socket.tx_frames_exhausted,
    },
    Metric {
        name: "umem_tx_frames_free",
        label: "UMEM TX frames free",
        help: "UMEM frames of the TX pool free to build frames in.",
        kind: Gauge,
        value: |w| w.stats.tx_frames_free as u64,
    },
    Metric {
        name: "umem_tx_frames",
        label: "UMEM TX frames",
        help: "UMEM frames set aside for TX (the RX half is always in the fill and RX rings).",
        kind: Gauge,
        value: |w| w.stats.tx_frames_total as u64,
    },
    Metric {
        name: "accept_queue",
        label: "accept queue",
        help: "Connections established and not yet taken by the handler (limits.accept_queue per listener).",
        kind: Gauge,
        value: |w| w.stats.accept_queue as u64,
    },
    Metric {
        name: "connections",
        label: "connections",
        help: "Connections held, in any state.",
        kind: Gauge,
        value: |w| w.stats.connections as u64,
    },
    Metric {
        name: "loop_turns_total",
        label: "loop turns",
        help: "Turns of the worker's run-to-completion loop.",
        kind: Counter,
        value: |w| w.stats.loop_turns,
    },
    Metric {
        name: "sleeps_total",
        label: "sleeps",
        help: "Times the worker slept in poll() while idle.",
        kind: Counter,
        value: |w| w.stats.sleeps,
    },
    Metric {
        name: "handler_panics_total",
        label: "handler panics",
        help: "Panics of the application's handler (each lost only its connection).",
        kind: Counter,
        value: |w| w.stats.handler_panics,
    },
];

/// One reason a frame is dropped (every dropped frame counts under exactly one).
pub struct DropReason {
    /// The `reason` label of `xdptcp_dropped_frames_total`.
    pub reason: &'static str,
    pub value: fn(&StackStats) -> u64,
}

/// Every drop reason the stack counts.
pub const DROP_REASONS: &[DropReason] = &[
    DropReason {
        reason: "truncated",
        value: |s| s.drop_truncated,
    },
    DropReason {
        reason: "not_for_us",
        value: |s| s.drop_not_for_us,
    },
    DropReason {
        reason: "unsupported_ethertype",
        value: |s| s.drop_unsupported_ethertype,
    },
    DropReason {
        reason: "unsupported_protocol",
        value: |s| s.drop_unsupported_protocol,
    },
    DropReason {
        reason: "bad_ip_header",
        value: |s| s.drop_bad_ip_header,
    },
    DropReason {
        reason: "bad_ip_checksum",
        value: |s| s.drop_bad_ip_checksum,
    },
    DropReason {
        reason: "ip_fragment",
        value: |s| s.drop_ip_fragment,
    },
    DropReason {
        reason: "bad_tcp_header",
        value: |s| s.drop_bad_tcp_header,
    },
    DropReason {
        reason: "bad_tcp_checksum",
        value: |s| s.drop_bad_tcp_checksum,
    },
    DropReason {
        reason: "bad_tcp_option",
        value: |s| s.drop_bad_tcp_option,
    },
    DropReason {
        reason: "bad_source_address",
        value: |s| s.drop_bad_source_address,
    },
    DropReason {
        reason: "illegal_flags",
        value: |s| s.drop_illegal_flags,
    },
    DropReason {
        reason: "bad_arp",
        value: |s| s.drop_bad_arp,
    },
    DropReason {
        reason: "bad_icmp",
        value: |s| s.drop_bad_icmp,
    },
    DropReason {
        reason: "bad_icmp_checksum",
        value: |s| s.drop_bad_icmp_checksum,
    },
    DropReason {
        reason: "icmp_unhandled",
        value: |s| s.drop_icmp_unhandled,
    },
    DropReason {
        reason: "icmp_no_connection",
        value: |s| s.drop_icmp_no_connection,
    },
    DropReason {
        reason: "icmp_out_of_window",
        value: |s| s.drop_icmp_out_of_window,
    },
    DropReason {
        reason: "icmp_mtu_not_lower",
        value: |s| s.drop_icmp_mtu_not_lower,
    },
    DropReason {
        reason: "listen_overflow",
        value: |s| s.drop_listen_overflow,
    },
    DropReason {
        reason: "accept_queue_full",
        value: |s| s.drop_accept_queue_full,
    },
    DropReason {
        reason: "connection_limit",
        value: |s| s.drop_connection_limit,
    },
    DropReason {
        reason: "buffer_memory",
        value: |s| s.drop_buffer_memory,
    },
    DropReason {
        reason: "no_connection",
        value: |s| s.drop_no_connection,
    },
    DropReason {
        reason: "reset_queue_full",
        value: |s| s.drop_reset_queue_full,
    },
];

/// Frames dropped for any reason.
pub fn dropped(stats: &StackStats) -> u64 {
    DROP_REASONS.iter().map(|r| (r.value)(stats)).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_prometheus_conventions() {
        for metric in WORKER_METRICS {
            let valid = metric
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            assert!(valid, "{}", metric.name);
            assert_eq!(
                metric.kind == MetricKind::Counter,
                metric.name.ends_with("_total"),
                "{}: counters and only counters end in _total",
                metric.name
            );
        }
        let mut names: Vec<_> = WORKER_METRICS.iter().map(|m| m.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), WORKER_METRICS.len(), "a name twice");
    }

    #[test]
    fn every_drop_counter_of_the_stack_has_a_reason() {
        // StackStats' drop_* fields, each set to a different power of two.
        let stats = StackStats {
            drop_truncated: 1,
            drop_not_for_us: 1 << 1,
            drop_unsupported_ethertype: 1 << 2,
            drop_unsupported_protocol: 1 << 3,
            drop_bad_ip_header: 1 << 4,
            drop_bad_ip_checksum: 1 << 5,
            drop_ip_fragment: 1 << 6,
            drop_bad_tcp_header: 1 << 7,
            drop_bad_tcp_checksum: 1 << 8,
            drop_bad_tcp_option: 1 << 9,
            drop_bad_source_address: 1 << 10,
            drop_illegal_flags: 1 << 11,
            drop_bad_arp: 1 << 12,
            drop_listen_overflow: 1 << 13,
            drop_connection_limit: 1 << 14,
            drop_no_connection: 1 << 15,
            drop_reset_queue_full: 1 << 16,
            drop_bad_icmp: 1 << 17,
            drop_bad_icmp_checksum: 1 << 18,
            drop_icmp_unhandled: 1 << 19,
            drop_icmp_no_connection: 1 << 20,
            drop_icmp_out_of_window: 1 << 21,
            drop_icmp_mtu_not_lower: 1 << 22,
            drop_accept_queue_full: 1 << 23,
            drop_buffer_memory: 1 << 24,
            ..StackStats::default()
        };
        assert_eq!(dropped(&stats), (1 << 25) - 1);
        let debug = format!("{stats:?}");
        assert_eq!(debug.matches("drop_").count(), DROP_REASONS.len());
    }
}
