//! The ports kernel TCP sockets listen on, which the stack must leave to the kernel.

use std::io;

/// Ports on which a kernel TCP socket listens in this network namespace (IPv4 and IPv6),
/// from `/proc/net/tcp` and `/proc/net/tcp6`.
pub fn kernel_listening_ports() -> io::Result<std::collections::HashSet<u16>> {
    const LISTEN: &str = "0A";
    let mut ports = std::collections::HashSet::new();
    for path in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(path) else {
            continue; // no IPv6 in this kernel
        };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() < 4 || fields[3] != LISTEN {
                continue;
            }
            if let Some(port) = fields[1].rsplit(':').next() {
                if let Ok(p) = u16::from_str_radix(port, 16) {
                    ports.insert(p);
                }
            }
        }
    }
    Ok(ports)
}
