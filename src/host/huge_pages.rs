//! The kernel's hugetlb pool, from `/proc/meminfo` and `/proc/sys/vm`: how large a huge page
//! is and how many of them a new `MAP_HUGETLB` mapping can still have.

use std::io;

/// Where the pool's size is set (and where an operator raises it).
pub const NR_HUGEPAGES: &str = "/proc/sys/vm/nr_hugepages";
const MEMINFO: &str = "/proc/meminfo";
const NR_OVERCOMMIT: &str = "/proc/sys/vm/nr_overcommit_hugepages";

/// The default huge page size's pool (the one `MAP_HUGETLB` without a size flag draws from).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct HugePagePool {
    /// Bytes per huge page (`Hugepagesize`; 2 MiB on x86-64).
    pub page_bytes: u64,
    /// Pages in the pool (`HugePages_Total`, what `nr_hugepages` asked for and got).
    pub total: u64,
    /// Pages not faulted in by anyone (`HugePages_Free`).
    pub free: u64,
    /// Free pages promised to mappings that have not touched them yet (`HugePages_Rsvd`).
    pub reserved: u64,
    /// Pages above `nr_hugepages` allocated on demand (`HugePages_Surp`).
    pub surplus: u64,
    /// How many surplus pages the kernel may allocate (`nr_overcommit_hugepages`).
    pub overcommit: u64,
}

impl HugePagePool {
    /// Pages a new mapping can get: the free ones nobody reserved, plus the surplus pages the
    /// kernel may still allocate (if it finds the contiguous memory).
    pub fn available(&self) -> u64 {
        self.free.saturating_sub(self.reserved) + self.overcommit.saturating_sub(self.surplus)
    }

    /// Reads `Hugepagesize` and the `HugePages_*` lines of `meminfo`'s text; `None` when the
    /// kernel has no hugetlb support (the lines are absent).
    pub fn parse(meminfo: &str, overcommit: u64) -> Option<HugePagePool> {
        let field = |name: &str| {
            meminfo.lines().find_map(|line| {
                let rest = line.strip_prefix(name)?.strip_prefix(':')?;
                rest.split_whitespace().next()?.parse::<u64>().ok()
            })
        };
        Some(HugePagePool {
            page_bytes: field("Hugepagesize")? * 1024,
            total: field("HugePages_Total")?,
            free: field("HugePages_Free")?,
            reserved: field("HugePages_Rsvd").unwrap_or(0),
            surplus: field("HugePages_Surp").unwrap_or(0),
            overcommit,
        })
    }
}

/// The hugetlb pool as it is now; `Ok(None)` when the kernel has none (no
/// CONFIG_HUGETLBFS).
pub fn huge_page_pool() -> io::Result<Option<HugePagePool>> {
    let meminfo = std::fs::read_to_string(MEMINFO)?;
    let overcommit = std::fs::read_to_string(NR_OVERCOMMIT)
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(0);
    Ok(HugePagePool::parse(&meminfo, overcommit))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pool_is_read_from_meminfo_and_reserved_pages_are_not_available() {
        let meminfo = "MemTotal:       24684000 kB\nAnonHugePages:         0 kB\n\
                       HugePages_Total:      16\nHugePages_Free:       10\n\
                       HugePages_Rsvd:        2\nHugePages_Surp:        0\n\
                       Hugepagesize:       2048 kB\nHugetlb:           32768 kB\n";
        let pool = HugePagePool::parse(meminfo, 0).unwrap();
        assert_eq!(pool.page_bytes, 2 << 20);
        assert_eq!((pool.total, pool.free, pool.reserved), (16, 10, 2));
        assert_eq!(pool.available(), 8);
        assert_eq!(HugePagePool::parse(meminfo, 4).unwrap().available(), 12);
        assert_eq!(HugePagePool::parse("MemTotal: 1 kB\n", 0), None);
    }

    #[test]
    fn this_hosts_pool_reads() {
        // Every kernel this runs on has hugetlb; the size is what the architecture says.
        if let Some(pool) = huge_page_pool().unwrap() {
            assert!(pool.page_bytes.is_power_of_two(), "{pool:?}");
        }
    }
}
