//! Facts printed with the results: the datapath modes the servers reported, the machine,
//! the kernel, the date, whether cycles can be counted.

use std::process::Command;

/// Facts printed with the results.
#[derive(Default)]
pub(super) struct Facts {
    pub(super) xdptcp_modes: Option<String>,
    pub(super) floor_modes: Option<String>,
    /// Minutes the loss case's bulk runs and its latency runs took.
    pub(super) loss_bulk_minutes: Option<f64>,
    pub(super) loss_latency_minutes: Option<f64>,
}

/// The CPU model, cores, memory and whether this is a virtual machine.
pub(super) fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown CPU".to_string(), |(_, m)| m.trim().to_string());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_gib = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0 / 1024.0);
    let virt = if cpuinfo.contains(" hypervisor") {
        ", virtual machine"
    } else {
        ""
    };
    format!("{model}, {cores} cores, {mem_gib:.0} GiB{virt}")
}

/// The running kernel's release.
pub(super) fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

/// Today's date (UTC), from the system clock.
pub(super) fn utc_date() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = (secs / 86_400) as i64;
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!("{y:04}-{m:02}-{d:02}")
}

/// Whether `perf stat` can count cycles here.
pub(super) fn cycles_support() -> String {
    match Command::new("perf")
        .args(["stat", "-x,", "-e", "cycles", "--", "true"])
        .output()
    {
        Ok(o) => {
            let text = String::from_utf8_lossy(&o.stderr);
            if text.contains("<not supported>")
                || text.contains("<not counted>")
                || !o.status.success()
            {
                "not measured: this machine exposes no hardware cycle counter (`perf stat -e cycles` says <not supported>)".into()
            } else {
                "counters available but not yet wired into the bench".into()
            }
        }
        Err(_) => "not measured: perf is not installed".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_civil() {
        let d = utc_date();
        assert_eq!(d.len(), 10);
        assert!(d.starts_with("20"));
    }
}
