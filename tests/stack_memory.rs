//! The memory budget of an idle established connection (issue 12: at most 1 KiB of
//! control state, payload buffers excluded), run in the simulator: 32 connections echo a
//! request each way with SACK and timestamps on, then go idle. After that
//!
//! - no connection holds a payload buffer (both rings went back to the pools at the
//!   stack's idle-buffer sweep), on either end, while a busy one keeps them;
//! - the slot, timer entries, flow table share and control heap of each stay within
//!   [`BOUND`], and the slot itself within the figure measured when this test was written
//!   plus a little, so that growth is a decision and not an accident (README, "Memory per
//!   connection", has the figures and what is left to reach the issue's 1 KiB).

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use xdptcp::sim::{Network, NodeId};
use xdptcp::stack::StackEvent;
use xdptcp::tcp::State;

const PORT: u16 = 7;
const CONNECTIONS: u16 = 32;
/// Control state per idle established connection when measured: 968 bytes (slot 912,
/// flow table share 56, no heap: the scoreboard freed its records with the send ring and
/// no event counter was boxed, no timer armed), and a little room, within the issue's
/// target of 1,024.
const BOUND: usize = 968 + 32;
/// `size_of` of a connection slot when measured (912 bytes: `tcp::Connection` 856 and the
/// stack's 48 beside it, and the slab's version word padded), and the room allowed above it.
const SLOT_BOUND: usize = 912 + 16;

fn echo() -> (Network, NodeId, NodeId) {
    let mut net = Network::new(5);
    let client = net.add_node(Network::node_config(1)).unwrap();
    let server = net.add_node(Network::node_config(2)).unwrap();
    net.stack(server).listen(PORT, 64).unwrap();
    let to = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), PORT);
    let now = net.now();
    let ids: Vec<_> = (0..CONNECTIONS)
        .map(|i| net.stack(client).connect_from(now, 41_000 + i, to).unwrap())
        .collect();
    let mut connected = 0;
    let mut echoed = 0;
    let limit = net.now() + Duration::from_secs(10);
    let done = net.run_until(limit, |net| {
        let now = net.now();
        while let Some((id, event)) = net.stack(client).poll_event() {
            match event {
                StackEvent::Connected => {
                    connected += 1;
                    net.stack(client).send(id, &[7u8; 300], now).unwrap();
                }
                StackEvent::Readable => {
                    let mut buf = [0u8; 512];
                    while let Ok(n @ 1..) = net.stack(client).recv(id, &mut buf) {
                        echoed += n;
                    }
                }
                _ => {}
            }
        }
        while let Some((id, event)) = net.stack(server).poll_event() {
            if event == StackEvent::Readable || matches!(event, StackEvent::Accepted { .. }) {
                let mut buf = [0u8; 512];
                while let Ok(n @ 1..) = net.stack(server).recv(id, &mut buf) {
                    net.stack(server).send(id, &buf[..n], now).unwrap();
                }
            }
        }
        connected == ids.len() && echoed == ids.len() * 300
    });
    assert!(done, "{connected} connected, {echoed} bytes echoed");
    (net, client, server)
}

fn echo_then_idle() -> (Network, NodeId, NodeId) {
    let (mut net, client, server) = echo();
    // Idle: delayed ACKs go out, nothing is left in flight, the idle-buffer sweep runs.
    let until = net.now() + Duration::from_secs(1);
    net.run_until(until, |_| false);
    (net, client, server)
}

#[test]
fn a_connection_keeps_its_drained_buffers_while_busy_and_returns_them_once_idle() {
    let (mut net, client, server) = echo();
    // Just after the echo the rings are empty but kept: the next segment finds storage.
    for node in [client, server] {
        assert!(net.stack(node).buffer_memory().held > 0);
    }
    // Two sweep periods (200 ms each) without use give them back.
    let until = net.now() + Duration::from_millis(450);
    net.run_until(until, |_| false);
    for node in [client, server] {
        assert_eq!(net.stack(node).buffer_memory().held, 0);
        assert_eq!(net.stack(node).poll_deadline(), None, "the sweep stops");
    }
}

#[test]
fn an_idle_established_connection_holds_no_payload_buffer_and_bounded_control_state() {
    let (mut net, client, server) = echo_then_idle();
    for node in [client, server] {
        let stack = net.stack(node);
        assert_eq!(
            stack.state_counts().get(State::Established),
            u64::from(CONNECTIONS)
        );
        assert_eq!(
            stack.buffer_memory().held,
            0,
            "payload buffers held while idle"
        );
        let f = stack.connection_footprint();
        let n = usize::from(CONNECTIONS);
        let heap = stack.control_heap() / n;
        let timers = stack.scheduled_timers() * f.timer_entry / n;
        let total = f.slot + f.flow_table_share + timers + heap;
        println!(
            "per idle established connection: slot {} (tcp::Connection {}), timer entries {timers} \
             ({} each when armed), flow table share {}, control heap {heap}: {total} bytes; \
             TIME-WAIT record {}",
            f.slot, f.connection, f.timer_entry, f.flow_table_share, f.time_wait_record
        );
        assert!(f.slot <= SLOT_BOUND, "slot of {} bytes", f.slot);
        assert!(total <= BOUND, "{total} bytes of control state");
        assert!(f.time_wait_record <= 64, "{f:?}");
    }
}
