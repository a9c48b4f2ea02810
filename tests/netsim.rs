//! Property test over many seeds: a transfer of 1 B to 4 MiB in each direction between two
//! stacks over a link with 5% loss, 10% reordering, 1% duplication and 0.1% corruption.
//! Every byte must arrive exactly once and in order, both ends must reach CLOSED and be freed,
//! and nothing may panic.
//!
//! `XDPTCP_SIM_SEEDS=N` sets how many seeds run (default 1000) and `XDPTCP_SIM_FIRST_SEED`
//! where they start; `XDPTCP_SIM_SEED=S` replays one, and `XDPTCP_SIM_TRACE=1` prints its
//! frames (as does `xdptcp sim --seed S --trace`). `XDPTCP_SIM_REORDER=F` sets the
//! fraction of frames reordered (`make soak` runs 10,000 seeds at 0.25).

use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use xdptcp::sim::transfer::{run_transfer, TransferReport, TransferSpec};
use xdptcp::sim::LinkConfig;

const MAX_TRANSFER: u64 = 4 * 1024 * 1024;

fn log_uniform_size(rng: &mut ChaCha8Rng) -> u64 {
    let exp: f64 = rng.random_range(0.0..(MAX_TRANSFER as f64).ln());
    (exp.exp() as u64).clamp(1, MAX_TRANSFER)
}

/// The property test's link, with the reordering `XDPTCP_SIM_REORDER` asks for.
fn link() -> LinkConfig {
    let mut link = TransferSpec::lossy_link();
    if let Some(reorder) = std::env::var("XDPTCP_SIM_REORDER")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
    {
        assert!(
            (0.0..=1.0).contains(&reorder),
            "XDPTCP_SIM_REORDER must be a fraction"
        );
        link.reorder = reorder;
    }
    link
}

fn spec(seed: u64) -> TransferSpec {
    let mut sizes = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed);
    TransferSpec {
        seed,
        upload: log_uniform_size(&mut sizes),
        download: log_uniform_size(&mut sizes),
        link: link(),
        msl: Duration::from_secs(1),
        time_limit: Duration::from_secs(3600),
        trace: std::env::var("XDPTCP_SIM_TRACE").is_ok(),
    }
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|s| s.parse().ok())
}

#[test]
fn lossy_transfers_deliver_every_byte_once_in_order() {
    let seeds: Vec<u64> = match env_u64("XDPTCP_SIM_SEED") {
        Some(seed) => vec![seed],
        None => {
            let first = env_u64("XDPTCP_SIM_FIRST_SEED").unwrap_or(0);
            (first..first + env_u64("XDPTCP_SIM_SEEDS").unwrap_or(1000)).collect()
        }
    };
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    let results: Vec<Result<TransferReport, String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|w| {
                let mine: Vec<u64> = seeds.iter().copied().skip(w).step_by(workers).collect();
                scope.spawn(move || {
                    mine.into_iter()
                        .map(|seed| {
                            std::panic::catch_unwind(|| run_transfer(&spec(seed))).unwrap_or_else(
                                |_| {
                                    Err(format!(
                                        "seed {seed}: panicked (replay: XDPTCP_SIM_SEED={seed})"
                                    ))
                                },
                            )
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("worker thread"))
            .collect()
    });
    let mut failures = Vec::new();
    let (mut transfers, mut bytes, mut mismatches, mut corrupted, mut rejected) = (0, 0, 0, 0, 0);
    let mut longest = Duration::ZERO;
    for result in results {
        match result {
            Ok(r) => {
                transfers += 1;
                bytes += r.upload + r.download;
                mismatches += r.mismatches;
                corrupted += r.net.corrupted;
                rejected += r.frames_rejected();
                longest = longest.max(r.virtual_time);
                if r.mismatches > 0 {
                    failures.push(format!(
                        "seed {}: {} bytes mismatched",
                        r.seed, r.mismatches
                    ));
                }
            }
            Err(e) => failures.push(e),
        }
    }
    let l = link();
    println!(
        "netsim link: {:.1}% loss, {:.0}% reordering, {:.0}% duplication, {:.1}% corruption; \
         SACK, timestamps and CUBIC on",
        l.loss * 100.0,
        l.reorder * 100.0,
        l.duplicate * 100.0,
        l.corrupt * 100.0
    );
    println!(
        "netsim: {transfers} transfers ({} seeds), {bytes} bytes ({:.1} MiB), {mismatches} mismatches, \
         {corrupted} frames corrupted on the wire, {rejected} dropped by checksum/header/address checks \
         (the rest hit bytes no checksum covers: Ethernet source, padding, ARP), longest {:.1} s virtual",
        seeds.len(),
        bytes as f64 / (1024.0 * 1024.0),
        longest.as_secs_f64()
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(mismatches, 0);
    assert_eq!(transfers, seeds.len());
}
