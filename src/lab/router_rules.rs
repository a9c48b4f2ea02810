//! The router's netfilter rules for an impairment, and the counters read back from them.
//!
//! Loss and duplication are nftables rules in the table `ip impair` of the router's
//! namespace, on the forward hook, matching TCP only (ARP never reaches that hook; ICMP and
//! the rest pass untouched), each direction told apart by its input interface:
//!
//! ```text
//! chain lose       (forward, priority -20): count TCP; numgen random mod 1000000 < p·10⁶ → drop
//! FORWARD          (forward, priority   0): NFQUEUE to the forwarder (delay, jitter, reorder)
//! chain duplicate  (forward, priority  10): numgen random mod 1000000 < p·10⁶ → dup to next hop
//! ```
//!
//! Loss comes first so that a dropped segment never costs the forwarder anything; duplication
//! comes after the forwarder so that both copies leave when the held frame is let go
//! (`NF_ACCEPT` resumes the hook at the next priority; `nf_reinject` in net/netfilter/
//! nf_queue.c). `dup to ADDR device DEV` (nft(8), DUP STATEMENT) sends the copy straight to
//! the direction's next hop. Probabilities are applied in millionths.
//!
//! The queue rule is written with `iptables-nft`, not `nft`: this kernel has no nftables
//! `queue` expression (CONFIG_NFT_QUEUE is off) but has the xtables NFQUEUE target, which
//! `iptables-nft` places in an nftables chain through nft_compat (`table ip filter`, chain
//! FORWARD). The router's namespace holds nothing else, so its whole ruleset belongs to the
//! impairment: every change starts with `flush ruleset`, which also sets the counters to zero.

use std::io::Write;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

use super::forwarder::{queue_number, ForwarderCounts};
use super::impairment::{Direction, Impairment};
use super::{LabError, PEER_IP, STACK_IP};

/// The router's interface a direction comes in on and goes out of, and its next hop.
pub(crate) fn interfaces(direction: Direction) -> (&'static str, &'static str, Ipv4Addr) {
    match direction {
        Direction::ToPeer => ("rt-stack", "rt-peer", PEER_IP),
        Direction::ToStack => ("rt-peer", "rt-stack", STACK_IP),
    }
}

/// `p` as a threshold for `numgen random mod 1000000`.
fn millionths(p: f64) -> u32 {
    (p * 1e6).round() as u32
}

/// The nft script that replaces the router's ruleset with counting, loss and duplication.
pub(crate) fn loss_and_duplication_script(impairment: &Impairment) -> String {
    let mut counters = String::new();
    let mut lose = String::new();
    let mut duplicate = String::new();
    for direction in Direction::BOTH {
        let d = direction.name();
        let path = impairment.path(direction);
        let (input, output, next_hop) = interfaces(direction);
        let tcp = format!("iifname \"{input}\" meta l4proto tcp");
        for name in ["tcp", "lost", "duplicated"] {
            counters.push_str(&format!("  counter {name}_{d} {{ }}\n"));
        }
        lose.push_str(&format!("    {tcp} counter name \"tcp_{d}\"\n"));
        if path.loss > 0.0 {
            lose.push_str(&format!(
                "    {tcp} numgen random mod 1000000 < {} counter name \"lost_{d}\" drop\n",
                millionths(path.loss)
            ));
        }
        if path.duplicate > 0.0 {
            duplicate.push_str(&format!(
                "    {tcp} numgen random mod 1000000 < {} counter name \"duplicated_{d}\" \
                 dup to {next_hop} device \"{output}\"\n",
                millionths(path.duplicate)
            ));
        }
    }
    format!(
        "flush ruleset\n\
         table ip impair {{\n{counters}\
         \x20 chain lose {{\n    type filter hook forward priority -20; policy accept;\n{lose}  }}\n\
         \x20 chain duplicate {{\n    type filter hook forward priority 10; policy accept;\n{duplicate}  }}\n\
         }}\n"
    )
}

fn tool_error(tool: &'static str, package: &'static str, e: std::io::Error) -> LabError {
    if e.kind() == std::io::ErrorKind::NotFound {
        LabError::ToolMissing { tool, package }
    } else {
        LabError::Spawn {
            command: tool.into(),
            source: e,
        }
    }
}

/// Runs `tool args` in namespace `ns` with `input` on its standard input.
fn run_tool(
    ns: &str,
    (tool, package): (&'static str, &'static str),
    args: &[&str],
    input: &str,
) -> Result<String, LabError> {
    // `ip netns exec` reports a program it cannot find on stderr, so look first.
    if !tool_on_path(tool) {
        return Err(LabError::ToolMissing { tool, package });
    }
    let mut child = Command::new("ip")
        .args(["netns", "exec", ns, tool])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| tool_error(tool, package, e))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(input.as_bytes())
            .map_err(|e| tool_error(tool, package, e))?;
    }
    let output = child
        .wait_with_output()
        .map_err(|e| tool_error(tool, package, e))?;
    if !output.status.success() {
        return Err(LabError::Command {
            command: format!("ip netns exec {ns} {tool} {}", args.join(" ")),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

fn tool_on_path(tool: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).any(|dir| dir.join(tool).is_file())
}

const NFT: (&str, &str) = ("nft", "nftables");
const IPTABLES_NFT: (&str, &str) = ("iptables-nft", "iptables");

/// Fails before anything changes when a tool `impairment` needs is missing.
pub(crate) fn check_tools(impairment: &Impairment) -> Result<(), LabError> {
    let mut tools = vec![NFT];
    if impairment.needs_forwarder() {
        tools.push(IPTABLES_NFT);
    }
    match tools.into_iter().find(|(tool, _)| !tool_on_path(tool)) {
        Some((tool, package)) => Err(LabError::ToolMissing { tool, package }),
        None => Ok(()),
    }
}

/// Replaces the router's ruleset with the impairment's loss and duplication (and counters);
/// no frame goes to the forwarder until [`add_queue_rules`].
pub(crate) fn apply_loss_and_duplication(
    router_ns: &str,
    impairment: &Impairment,
) -> Result<(), LabError> {
    let script = loss_and_duplication_script(impairment);
    run_tool(router_ns, NFT, &["-f", "-"], &script)?;
    Ok(())
}

/// Sends the forwarded IPv4 frames of each direction that needs the forwarder to its queue.
pub(crate) fn add_queue_rules(router_ns: &str, impairment: &Impairment) -> Result<(), LabError> {
    for direction in Direction::BOTH {
        if impairment.path(direction).hold().is_none() {
            continue;
        }
        let (input, _, _) = interfaces(direction);
        let queue = queue_number(direction).to_string();
        let args = [
            "-w",
            "-t",
            "filter",
            "-A",
            "FORWARD",
            "-i",
            input,
            "-j",
            "NFQUEUE",
            "--queue-num",
            &queue,
        ];
        run_tool(router_ns, IPTABLES_NFT, &args, "")?;
    }
    Ok(())
}

/// Empties the router's ruleset: plain kernel forwarding, nothing counted.
pub(crate) fn remove_all(router_ns: &str) -> Result<(), LabError> {
    run_tool(router_ns, NFT, &["flush", "ruleset"], "")?;
    Ok(())
}

/// What the router did to one direction since the impairment was applied.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct DirectionCounters {
    /// TCP segments that reached the router's forward hook.
    pub tcp_packets: u64,
    /// Of those, dropped by the loss rule.
    pub lost: u64,
    /// Segments sent twice by the duplication rule.
    pub duplicated: u64,
    /// Frames the forwarder held (delay, jitter, reordering), and of those, how many left
    /// after a frame that came later.
    pub forwarder: ForwarderCounts,
    /// Frames the kernel dropped because the forwarder's queue or socket buffer was full
    /// (`queue_dropped` + `user_dropped` of /proc/net/netfilter/nfnetlink_queue).
    pub queue_dropped: u64,
}

/// The router's counters, both directions.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct ImpairmentCounters {
    pub to_peer: DirectionCounters,
    pub to_stack: DirectionCounters,
}

impl ImpairmentCounters {
    pub fn direction(&self, direction: Direction) -> &DirectionCounters {
        match direction {
            Direction::ToPeer => &self.to_peer,
            Direction::ToStack => &self.to_stack,
        }
    }

    fn direction_mut(&mut self, direction: Direction) -> &mut DirectionCounters {
        match direction {
            Direction::ToPeer => &mut self.to_peer,
            Direction::ToStack => &mut self.to_stack,
        }
    }
}

impl std::fmt::Display for ImpairmentCounters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for direction in Direction::BOTH {
            let c = self.direction(direction);
            let percent = |n: u64, of: u64| {
                if of == 0 {
                    0.0
                } else {
                    100.0 * n as f64 / of as f64
                }
            };
            writeln!(
                f,
                "{:<9} tcp {} lost {} ({:.2}%) duplicated {} ({:.2}%) held {} reordered {} \
                 queue-dropped {}",
                direction.name(),
                c.tcp_packets,
                c.lost,
                percent(c.lost, c.tcp_packets),
                c.duplicated,
                percent(c.duplicated, c.tcp_packets - c.lost.min(c.tcp_packets)),
                c.forwarder.arrived,
                c.forwarder.reordered,
                c.queue_dropped
            )?;
        }
        Ok(())
    }
}

/// Reads the nft counters of the table `ip impair` (`None` if the router has none).
pub(crate) fn read_nft_counters(router_ns: &str) -> Result<Option<ImpairmentCounters>, LabError> {
    match run_tool(
        router_ns,
        NFT,
        &["list", "counters", "table", "ip", "impair"],
        "",
    ) {
        Ok(listing) => Ok(Some(parse_nft_counters(&listing))),
        Err(LabError::Command { stderr, .. }) if stderr.contains("No such file") => Ok(None),
        Err(e) => Err(e),
    }
}

/// Picks `counter NAME { packets N bytes M }` out of `nft list counters` output.
pub(crate) fn parse_nft_counters(listing: &str) -> ImpairmentCounters {
    let mut counters = ImpairmentCounters::default();
    let mut current: Option<&str> = None;
    for line in listing.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("counter ") {
            current = rest.split_whitespace().next();
            continue;
        }
        let (Some(name), Some(rest)) = (current, line.strip_prefix("packets ")) else {
            continue;
        };
        let packets: u64 = rest
            .split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        for direction in Direction::BOTH {
            let Some(kind) = name.strip_suffix(direction.name()) else {
                continue;
            };
            let c = counters.direction_mut(direction);
            match kind {
                "tcp_" => c.tcp_packets = packets,
                "lost_" => c.lost = packets,
                "duplicated_" => c.duplicated = packets,
                _ => {}
            }
        }
        current = None;
    }
    counters
}

/// Adds the kernel's drop counts of each direction's queue, from
/// /proc/net/netfilter/nfnetlink_queue as read in the router's namespace: one line per
/// bound queue, `queue_num portid queue_total copy_mode copy_range queue_dropped
/// user_dropped id_sequence 1` (nfqnl_seq_show in net/netfilter/nfnetlink_queue.c).
pub(crate) fn add_queue_drops(table: &str, counters: &mut ImpairmentCounters) {
    for line in table.lines() {
        let fields: Vec<u64> = line
            .split_whitespace()
            .filter_map(|f| f.parse().ok())
            .collect();
        if fields.len() < 8 {
            continue;
        }
        for direction in Direction::BOTH {
            if fields[0] == u64::from(queue_number(direction)) {
                counters.direction_mut(direction).queue_dropped = fields[5] + fields[6];
            }
        }
    }
}

/// The kernel's queue table in the router's namespace.
pub(crate) fn read_queue_table(router_ns: &str) -> Result<String, LabError> {
    run_tool(
        router_ns,
        ("cat", "coreutils"),
        &["/proc/net/netfilter/nfnetlink_queue"],
        "",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::impairment::PathImpairment;

    #[test]
    fn the_script_drops_and_duplicates_tcp_per_direction() {
        let mut imp = Impairment::none();
        imp.to_peer.loss = 0.02;
        imp.to_stack.duplicate = 0.005;
        let script = loss_and_duplication_script(&imp);
        assert!(script.starts_with("flush ruleset\n"));
        assert!(script.contains(
            "iifname \"rt-stack\" meta l4proto tcp numgen random mod 1000000 < 20000 \
             counter name \"lost_to_peer\" drop"
        ));
        assert!(script.contains(
            "iifname \"rt-peer\" meta l4proto tcp numgen random mod 1000000 < 5000 \
             counter name \"duplicated_to_stack\" dup to 10.77.1.2 device \"rt-stack\""
        ));
        assert!(!script.contains("lost_to_stack\" drop"));
        assert_eq!(script.matches("counter name \"tcp_").count(), 2);
    }

    #[test]
    fn a_clean_impairment_only_counts() {
        let script = loss_and_duplication_script(&Impairment::both(PathImpairment::default()));
        assert!(!script.contains("drop"));
        assert!(!script.contains("dup to"));
        assert!(script.contains("counter name \"tcp_to_stack\""));
    }

    #[test]
    fn nft_counter_listing_is_parsed() {
        let listing =
            "table ip impair {\n\tcounter tcp_to_peer {\n\t\tpackets 6058 bytes 8855720\n\t}\n\
                       \tcounter lost_to_peer {\n\t\tpackets 108 bytes 157704\n\t}\n\
                       \tcounter duplicated_to_stack {\n\t\tpackets 7 bytes 1\n\t}\n}\n";
        let c = parse_nft_counters(listing);
        assert_eq!(c.to_peer.tcp_packets, 6058);
        assert_eq!(c.to_peer.lost, 108);
        assert_eq!(c.to_stack.duplicated, 7);
        assert_eq!(c.to_stack.lost, 0);
    }

    #[test]
    fn queue_drops_are_added_per_queue() {
        let table = "    0   1234     3 1     0     5     2     9000  1\n\
                     \x20   1   1234     0 1     0     0     1      800  1\n";
        let mut c = ImpairmentCounters::default();
        add_queue_drops(table, &mut c);
        assert_eq!(c.to_peer.queue_dropped, 7);
        assert_eq!(c.to_stack.queue_dropped, 1);
    }
}
