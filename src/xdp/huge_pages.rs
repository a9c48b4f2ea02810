//! Whether each queue's UMEM is mapped on huge pages (`MAP_HUGETLB`, from the kernel's
//! hugetlb pool, `/proc/sys/vm/nr_hugepages`). The default 16 MiB UMEM then takes 8 TLB
//! entries of 2 MiB instead of 4096 of 4 KiB, which the frames' scattered accesses (RX
//! frames from the fill ring, TX frames from the free list) would otherwise miss in.
//!
//! xsk-rs maps the UMEM with `mmap(MAP_ANONYMOUS | MAP_SHARED | MAP_POPULATE | MAP_HUGETLB)`
//! of exactly `frame_count × frame_size` bytes. The kernel rounds such a mapping up to whole
//! huge pages but `munmap` of a length that is not a multiple of the huge page size fails,
//! so a UMEM is put on huge pages only when its size is a multiple of one. Pages are
//! reserved at `mmap`, so a pool too small shows there (ENOMEM), never later.

use std::fmt;
use std::time::{Duration, Instant};

use super::XskConfig;
use crate::host::{HugePagePool, NR_HUGEPAGES};

/// What to do about huge pages for the UMEMs (`umem.hugepages`).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub enum HugePages {
    /// Huge pages where the pool has them, normal pages where it does not (the start-up log
    /// says why).
    #[default]
    Prefer,
    /// Huge pages or nothing: a pool too small stops the start with the pages needed.
    Require,
    /// Normal pages always.
    Off,
}

impl fmt::Display for HugePages {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HugePages::Prefer => "prefer",
            HugePages::Require => "require",
            HugePages::Off => "off",
        })
    }
}

/// The pages one UMEM is mapped on.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum UmemPages {
    /// `MAP_HUGETLB`, pages of this many bytes.
    Huge { page_bytes: u64 },
    /// The system's base pages.
    Normal,
}

/// Bytes of one queue's UMEM.
pub(super) fn umem_bytes(xsk: &XskConfig) -> u64 {
    u64::from(xsk.frame_count) * u64::from(xsk.frame_size)
}

/// Why the UMEMs cannot be on huge pages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HugePageShortfall {
    /// The kernel has no hugetlb pool (or /proc/meminfo could not be read).
    NoPool,
    /// The UMEM is not a whole number of huge pages.
    NotAMultiple { umem_bytes: u64, page_bytes: u64 },
    /// The pool has fewer pages available than the UMEMs need.
    TooFew {
        queues: u32,
        frame_count: u32,
        frame_size: u32,
        page_bytes: u64,
        /// Pages all `queues` UMEMs need.
        needed: u64,
        /// Pages the pool has for a new mapping ([`HugePagePool::available`]).
        available: u64,
        /// The pool's size (`nr_hugepages`).
        total: u64,
    },
    /// The pool looked large enough but `mmap(MAP_HUGETLB)` failed (another process took the
    /// pages in between, or a hugetlb cgroup limit).
    MapFailed { umem_bytes: u64, error: String },
}

fn mib(bytes: u64) -> String {
    if bytes % (1 << 20) == 0 {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{} KiB", bytes.div_ceil(1024))
    }
}

impl fmt::Display for HugePageShortfall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HugePageShortfall::NoPool => {
                write!(f, "the kernel has no hugetlb pool (no HugePages_Total in /proc/meminfo)")
            }
            HugePageShortfall::NotAMultiple {
                umem_bytes,
                page_bytes,
            } => write!(
                f,
                "the UMEM ({}, umem.frame_count × umem.frame_size) is not a multiple of the {} huge page",
                mib(*umem_bytes),
                mib(*page_bytes)
            ),
            HugePageShortfall::TooFew {
                queues,
                frame_count,
                frame_size,
                page_bytes,
                needed,
                available,
                total,
            } => write!(
                f,
                "the UMEMs of {queues} queue(s) ({frame_count} frames × {frame_size} B each) need \
                 {needed} huge pages of {} but the hugetlb pool has {available} available \
                 ({NR_HUGEPAGES} is {total}); reserve them with `echo {} > {NR_HUGEPAGES}` \
                 (or deploy/tune-host.sh IFACE --hugepages auto)",
                mib(*page_bytes),
                total + needed - available.min(needed),
            ),
            HugePageShortfall::MapFailed { umem_bytes, error } => write!(
                f,
                "mmap(MAP_HUGETLB) of the {} UMEM failed: {error} (is {NR_HUGEPAGES} large enough?)",
                mib(*umem_bytes)
            ),
        }
    }
}

/// The pages the UMEMs of `queues` queues (not yet mapped) would be on with `pool` as it is.
pub(super) fn plan(
    xsk: &XskConfig,
    queues: u32,
    pool: Option<HugePagePool>,
) -> Result<UmemPages, HugePageShortfall> {
    if xsk.huge_pages == HugePages::Off {
        return Ok(UmemPages::Normal);
    }
    let pool = pool.ok_or(HugePageShortfall::NoPool)?;
    let bytes = umem_bytes(xsk);
    if pool.page_bytes == 0 || bytes % pool.page_bytes != 0 {
        return Err(HugePageShortfall::NotAMultiple {
            umem_bytes: bytes,
            page_bytes: pool.page_bytes,
        });
    }
    let needed = u64::from(queues) * (bytes / pool.page_bytes);
    if pool.available() < needed {
        return Err(HugePageShortfall::TooFew {
            queues,
            frame_count: xsk.frame_count,
            frame_size: xsk.frame_size,
            page_bytes: pool.page_bytes,
            needed,
            available: pool.available(),
            total: pool.total,
        });
    }
    Ok(UmemPages::Huge {
        page_bytes: pool.page_bytes,
    })
}

/// How long a pool that is large enough but short of free pages is watched: the pages of a
/// UMEM closed just before (by this process's zero-copy attempt, or by an instance that has
/// just exited) come back from a kernel work queue after the close
/// (`xdp_umem_release_deferred`, net/xdp/xdp_umem.c): 17 to 103 ms on the lab here.
pub(super) const PAGES_RETURN: Duration = Duration::from_millis(500);

/// The hugetlb pool as the UMEMs of `queues` queues will find it: read again for up to
/// [`PAGES_RETURN`] while its size would hold them but too few are free.
pub(super) fn pool_for(xsk: &XskConfig, queues: u32) -> Option<HugePagePool> {
    let deadline = Instant::now() + PAGES_RETURN;
    loop {
        let pool = crate::host::huge_page_pool().ok().flatten()?;
        let needed = match u64::from(queues).checked_mul(umem_bytes(xsk) / pool.page_bytes.max(1)) {
            Some(pages) => pages,
            None => return Some(pool),
        };
        let may_return = pool.total + pool.overcommit >= needed;
        if pool.available() >= needed || !may_return || Instant::now() >= deadline {
            return Some(pool);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// With `umem.hugepages = "require"`: fails when the pool cannot hold the UMEMs of all
/// `queues` queues, before anything is attached or mapped.
pub fn check_huge_pages(queues: u32, xsk: &XskConfig) -> Result<(), super::XdpError> {
    if xsk.huge_pages != HugePages::Require {
        return Ok(());
    }
    let pool = pool_for(xsk, queues);
    plan(xsk, queues, pool)
        .map(|_| ())
        .map_err(|shortfall| super::XdpError::HugePagesRequired { shortfall })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(free: u64) -> Option<HugePagePool> {
        Some(HugePagePool {
            page_bytes: 2 << 20,
            total: 20,
            free,
            reserved: 0,
            surplus: 0,
            overcommit: 0,
        })
    }

    #[test]
    fn the_default_umem_takes_eight_2_mib_pages_per_queue() {
        let xsk = XskConfig::default();
        assert_eq!(xsk.huge_pages, HugePages::Prefer);
        let huge = UmemPages::Huge {
            page_bytes: 2 << 20,
        };
        assert_eq!(plan(&xsk, 2, pool(16)), Ok(huge));
        let short = plan(&xsk, 2, pool(15)).unwrap_err();
        assert_eq!(
            short.to_string(),
            "the UMEMs of 2 queue(s) (4096 frames × 4096 B each) need 16 huge pages of 2 MiB \
             but the hugetlb pool has 15 available (/proc/sys/vm/nr_hugepages is 20); reserve \
             them with `echo 21 > /proc/sys/vm/nr_hugepages` (or deploy/tune-host.sh IFACE \
             --hugepages auto)"
        );
        let off = XskConfig {
            huge_pages: HugePages::Off,
            ..XskConfig::default()
        };
        assert_eq!(plan(&off, 2, None), Ok(UmemPages::Normal));
        assert_eq!(plan(&xsk, 1, None), Err(HugePageShortfall::NoPool));
    }

    #[test]
    fn a_umem_smaller_than_a_huge_page_stays_on_normal_pages() {
        let small = XskConfig {
            frame_count: 256,
            frame_size: 2048,
            ..XskConfig::default()
        };
        let err = plan(&small, 1, pool(20)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the UMEM (512 KiB, umem.frame_count × umem.frame_size) is not a multiple of the 2 MiB huge page"
        );
    }
}
