//! This process's Linux capabilities (capabilities(7)): which it holds in its effective set,
//! read from the `CapEff` line of `/proc/self/status` (proc(5)), and which of a required list
//! it lacks.

use std::fmt;
use std::io;

/// The capabilities xdptcp has a use for, numbered as in `include/uapi/linux/capability.h`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Capability {
    /// Attach XDP programs to interfaces (and everything else `ip link` does).
    NetAdmin,
    /// Open raw sockets; the kernel asks it of `socket(AF_XDP, ...)`.
    NetRaw,
    /// Lock memory beyond `RLIMIT_MEMLOCK` (UMEM registration charges locked pages).
    IpcLock,
    /// Raise scheduling priority or set real-time scheduling.
    SysNice,
    /// Raise resource limits past their hard limit.
    SysResource,
    /// Performance monitoring; for BPF, pointer arithmetic the verifier otherwise refuses.
    Perfmon,
    /// Load BPF programs and create BPF maps (Linux 5.8 split it out of CAP_SYS_ADMIN).
    Bpf,
}

impl Capability {
    /// Its bit in the kernel's capability masks.
    pub fn number(self) -> u32 {
        match self {
            Capability::NetAdmin => 12,
            Capability::NetRaw => 13,
            Capability::IpcLock => 14,
            Capability::SysNice => 23,
            Capability::SysResource => 24,
            Capability::Perfmon => 38,
            Capability::Bpf => 39,
        }
    }

    /// Its name as capabilities(7) spells it.
    pub fn name(self) -> &'static str {
        match self {
            Capability::NetAdmin => "CAP_NET_ADMIN",
            Capability::NetRaw => "CAP_NET_RAW",
            Capability::IpcLock => "CAP_IPC_LOCK",
            Capability::SysNice => "CAP_SYS_NICE",
            Capability::SysResource => "CAP_SYS_RESOURCE",
            Capability::Perfmon => "CAP_PERFMON",
            Capability::Bpf => "CAP_BPF",
        }
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The effective capability mask in the text of a `/proc/<pid>/status` file.
fn effective_mask(status: &str) -> Option<u64> {
    let hex = status
        .lines()
        .find_map(|line| line.strip_prefix("CapEff:"))?;
    u64::from_str_radix(hex.trim(), 16).ok()
}

/// This process's effective capability mask.
pub fn effective_capabilities() -> io::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    effective_mask(&status)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no CapEff in /proc/self/status"))
}

/// The capabilities of `required` that the effective mask `mask` lacks, in `required`'s order.
pub fn missing_from(mask: u64, required: &[Capability]) -> Vec<Capability> {
    required
        .iter()
        .copied()
        .filter(|c| mask & (1u64 << c.number()) == 0)
        .collect()
}

/// The capabilities of `required` this process lacks; all of them if its status is
/// unreadable.
pub fn missing_capabilities(required: &[Capability]) -> Vec<Capability> {
    match effective_capabilities() {
        Ok(mask) => missing_from(mask, required),
        Err(_) => required.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_effective_mask_and_names_what_is_missing() {
        let status = "Name:\tx\nCapInh:\t0000000000000000\nCapPrm:\t0000008000003000\n\
                      CapEff:\t0000008000001000\nCapBnd:\t000001ffffffffff\n";
        let mask = effective_mask(status).unwrap();
        assert_eq!(mask, (1 << 39) | (1 << 12));
        let required = [Capability::NetAdmin, Capability::Bpf, Capability::NetRaw];
        assert_eq!(missing_from(mask, &required), vec![Capability::NetRaw]);
        assert_eq!(Capability::NetRaw.to_string(), "CAP_NET_RAW");
        assert_eq!(effective_mask("Name:\tx\n"), None);
    }

    #[test]
    fn this_process_has_a_readable_mask() {
        assert!(effective_capabilities().is_ok());
    }
}
