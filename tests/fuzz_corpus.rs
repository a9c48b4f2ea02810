//! The fuzz targets' harness (`fuzz/src`, included here with `#[path]`) on stable Rust, in
//! every `make test`:
//!
//! - the seed corpus in `fuzz/corpus/<target>/` is what `fuzz/src/seeds.rs` builds (set
//!   `XDPTCP_WRITE_FUZZ_CORPUS=1` to write it after changing the generator or the stack);
//! - each `stack_frames` seed is counted by the stack under the class it is named for;
//! - every seed and every input the fuzzers found a defect with (`fuzz/regressions/<target>/`,
//!   each also a named scenario test where the defect was fixed) runs through its target's
//!   checks without a failure.

#[path = "../fuzz/src/lib.rs"]
#[allow(dead_code)]
mod harness;

use std::fs;
use std::path::{Path, PathBuf};

const TARGETS: [&str; 3] = ["wire_parsers", "connection", "stack_frames"];

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

fn run(target: &str, data: &[u8]) {
    match target {
        "wire_parsers" => harness::wire::run(data),
        "connection" => harness::connection::run(data),
        "stack_frames" => harness::stack::run(data),
        _ => unreachable!("{target}"),
    }
}

#[test]
fn the_seed_corpus_is_what_the_generator_builds() {
    let write = std::env::var_os("XDPTCP_WRITE_FUZZ_CORPUS").is_some();
    let mut stale = Vec::new();
    for seed in harness::seeds::all() {
        let dir = fuzz_dir().join("corpus").join(seed.target);
        let path = dir.join(&seed.name);
        if write {
            fs::create_dir_all(&dir).unwrap();
            fs::write(&path, &seed.bytes).unwrap();
        } else if fs::read(&path).ok().as_deref() != Some(&seed.bytes[..]) {
            stale.push(path.display().to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "seed files missing or different from fuzz/src/seeds.rs (XDPTCP_WRITE_FUZZ_CORPUS=1 \
         cargo test --test fuzz_corpus writes them): {stale:?}"
    );
}

#[test]
fn each_stack_seed_is_counted_under_its_class() {
    for seed in harness::seeds::all() {
        let Some(outcome) = seed.outcome else {
            continue;
        };
        let mut sim = harness::stack::setup();
        let frame = &seed.bytes[3..];
        let now = sim.net.now();
        let counted =
            harness::stack::receive_counted(sim.net.stack(harness::stack::SERVER), now, frame);
        assert_eq!(counted, outcome, "seed {}", seed.name);
    }
}

#[test]
fn every_seed_and_regression_input_passes_its_target() {
    let mut ran = 0;
    for target in TARGETS {
        for kind in ["corpus", "regressions"] {
            let Ok(entries) = fs::read_dir(fuzz_dir().join(kind).join(target)) else {
                continue;
            };
            for entry in entries {
                let path = entry.unwrap().path();
                let data = fs::read(&path).unwrap();
                eprintln!("{}", path.display());
                run(target, &data);
                ran += 1;
            }
        }
    }
    assert!(ran > 0);
}
