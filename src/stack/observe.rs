//! What a stack tells an observer (`xdptcp stats`, `xdptcp ss`): its connections counted by
//! state, the TCP counters summed over every connection it has held, and one row per
//! connection with what `ss -tni` shows. None of it is kept up to date on the fast path:
//! each is computed when asked, by walking the connections.

use std::net::SocketAddrV4;

use super::Stack;
use crate::tcp::congestion::Algorithm;
use crate::tcp::{ConnStats, Connection, State};

/// Connections held, by state (indexed by [`State::index`]).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StateCounts(pub [u64; 11]);

impl StateCounts {
    pub fn get(&self, state: State) -> u64 {
        self.0[state.index()]
    }

    /// Every state with its count, in the order of [`State::ALL`].
    pub fn iter(&self) -> impl Iterator<Item = (State, u64)> + '_ {
        State::ALL.into_iter().map(|s| (s, self.get(s)))
    }

    pub fn accumulate(&mut self, other: &StateCounts) {
        for (mine, theirs) in self.0.iter_mut().zip(other.0) {
            *mine += theirs;
        }
    }
}

/// Bytes of buffer storage a stack holds (see [`Stack::buffer_memory`]).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct BufferMemory {
    /// Allocated to connections.
    pub held: usize,
    /// Idle in the pools, kept for reuse (at most `POOLED_BUFFERS` of each kind).
    pub pooled: usize,
}

/// Which connections a listing wants; `None` matches all.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ConnectionFilter {
    pub state: Option<State>,
    /// Matches the local or the remote port (as `ss '( sport = P or dport = P )'`).
    pub port: Option<u16>,
}

impl ConnectionFilter {
    pub fn matches(&self, local: SocketAddrV4, remote: SocketAddrV4, state: State) -> bool {
        self.state.is_none_or(|s| s == state)
            && self
                .port
                .is_none_or(|p| local.port() == p || remote.port() == p)
    }
}

/// One connection as `ss -tni` shows it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ConnectionInfo {
    pub local: SocketAddrV4,
    pub remote: SocketAddrV4,
    pub state: State,
    /// Smoothed RTT (RFC 6298 SRTT) in microseconds, once measured.
    pub srtt_us: Option<u64>,
    /// RTTVAR in microseconds.
    pub rttvar_us: u64,
    /// The retransmission timeout in force (backoff included), in microseconds.
    pub rto_us: u64,
    /// The MSS our segments carry at most.
    pub mss: u16,
    /// Congestion window and slow-start threshold, in bytes.
    pub cwnd: u32,
    pub ssthresh: u32,
    /// The peer's receive window, scaled.
    pub send_window: u32,
    /// Bytes queued to send and not yet acknowledged (ss's Send-Q).
    pub send_queue: usize,
    /// Bytes received and not yet read by the application (ss's Recv-Q).
    pub recv_queue: usize,
    pub congestion: Algorithm,
    pub stats: ConnStats,
}

impl ConnectionInfo {
    fn of(local: SocketAddrV4, remote: SocketAddrV4, conn: &Connection) -> ConnectionInfo {
        let micros = |d: std::time::Duration| u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        ConnectionInfo {
            local,
            remote,
            state: conn.state(),
            srtt_us: conn.srtt().map(micros),
            rttvar_us: micros(conn.rttvar()),
            rto_us: micros(conn.rto()),
            mss: conn.send_mss(),
            cwnd: conn.congestion_window(),
            ssthresh: conn.slow_start_threshold(),
            send_window: conn.send_window(),
            send_queue: conn.send_queue_len(),
            recv_queue: conn.recv_available(),
            congestion: conn.congestion_algorithm(),
            stats: *conn.stats(),
        }
    }

    /// A 4-tuple in TIME-WAIT held as a compact record: nothing is in flight or queued,
    /// and the connection's measurements went with it.
    fn of_time_wait(
        local: SocketAddrV4,
        remote: SocketAddrV4,
        congestion: Algorithm,
    ) -> ConnectionInfo {
        ConnectionInfo {
            local,
            remote,
            state: State::TimeWait,
            srtt_us: None,
            rttvar_us: 0,
            rto_us: 0,
            mss: 0,
            cwnd: 0,
            ssthresh: 0,
            send_window: 0,
            send_queue: 0,
            recv_queue: 0,
            congestion,
            stats: ConnStats::default(),
        }
    }
}

impl Stack {
    /// The connections held now, by state; TIME-WAIT counts the compact records too.
    pub fn state_counts(&self) -> StateCounts {
        let mut counts = StateCounts::default();
        for slot in self.conns.values() {
            counts.0[slot.conn.state().index()] += 1;
        }
        counts.0[State::TimeWait.index()] += self.time_waits.len() as u64;
        counts
    }

    /// The TCP counters of every connection this stack has held: those it holds now and
    /// those it has freed.
    pub fn tcp_totals(&self) -> ConnStats {
        let mut totals = self.freed_connection_totals;
        for slot in self.conns.values() {
            totals.accumulate(&slot.conn.stats());
        }
        totals
    }

    /// Send and receive buffer storage now: held by connections, and idle in the pools.
    pub fn buffer_memory(&self) -> BufferMemory {
        BufferMemory {
            held: self.conns.values().map(|s| s.conn.buffer_memory()).sum(),
            pooled: self.send_pool.idle() * self.send_pool.buffer_size()
                + self.recv_pool.idle() * self.recv_pool.buffer_size(),
        }
    }

    /// The most [`BufferMemory::held`] can reach: every connection `max_connections`
    /// allows, each with both buffers allocated (capacity is fixed per connection, see
    /// `crate::tcp::buffer`).
    pub fn buffer_memory_bound(&self) -> usize {
        self.config.max_connections * (self.tcp_config.send_buffer + self.tcp_config.recv_buffer)
    }

    /// Appends to `rows` the connections `filter` matches, at most `limit` of them; returns
    /// how many more matched and were left off.
    pub fn list_connections(
        &self,
        filter: &ConnectionFilter,
        limit: usize,
        rows: &mut Vec<ConnectionInfo>,
    ) -> usize {
        let mut left_off = 0;
        for slot in self.conns.values() {
            let (local, remote, state) = (slot.key.local(), slot.key.remote(), slot.conn.state());
            if !filter.matches(local, remote, state) {
                continue;
            }
            if rows.len() < limit {
                rows.push(ConnectionInfo::of(local, remote, &slot.conn));
            } else {
                left_off += 1;
            }
        }
        for (key, _) in self.time_waits.iter() {
            let (local, remote) = (key.local(), key.remote());
            if !filter.matches(local, remote, State::TimeWait) {
                continue;
            }
            if rows.len() < limit {
                let congestion = self.tcp_config.congestion;
                rows.push(ConnectionInfo::of_time_wait(local, remote, congestion));
            } else {
                left_off += 1;
            }
        }
        left_off
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn addr(last: u8, port: u16) -> SocketAddrV4 {
        SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, last), port)
    }

    #[test]
    fn a_filter_matches_by_state_and_by_either_port() {
        let (local, remote) = (addr(1, 7), addr(2, 40000));
        let all = ConnectionFilter::default();
        assert!(all.matches(local, remote, State::Established));
        let by_state = ConnectionFilter {
            state: Some(State::TimeWait),
            port: None,
        };
        assert!(by_state.matches(local, remote, State::TimeWait));
        assert!(!by_state.matches(local, remote, State::Established));
        for port in [7, 40000] {
            let by_port = ConnectionFilter {
                state: None,
                port: Some(port),
            };
            assert!(by_port.matches(local, remote, State::Established));
        }
        let other_port = ConnectionFilter {
            state: Some(State::Established),
            port: Some(8),
        };
        assert!(!other_port.matches(local, remote, State::Established));
    }

    #[test]
    fn state_counts_add_up_per_state() {
        let mut a = StateCounts::default();
        a.0[State::Established.index()] = 2;
        let mut b = StateCounts::default();
        b.0[State::Established.index()] = 1;
        b.0[State::TimeWait.index()] = 4;
        a.accumulate(&b);
        assert_eq!(a.get(State::Established), 3);
        assert_eq!(a.get(State::TimeWait), 4);
        assert_eq!(a.iter().map(|(_, n)| n).sum::<u64>(), 7);
    }
}
