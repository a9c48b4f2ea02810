//! What the fuzz targets run, apart from libFuzzer, so that the main crate's tests can run it
//! too: `tests/fuzz_corpus.rs` includes this file (`#[path]`), replays every seed and every
//! kept crash input through it on stable Rust, and writes the seed corpus.
//!
//! | module | target | input |
//! |---|---|---|
//! | [`wire`] | `wire_parsers` | one Ethernet frame: every parser on it and on its inner layers; round trips |
//! | [`connection`] | `connection` | a script for one `tcp::Connection`: set-up byte, then segments, clock steps, application calls |
//! | [`stack`] | `stack_frames` | records for a simulated network of two stacks with a listener and one established connection: frames, clock steps, application calls |
//!
//! [`seeds`] builds the seed corpus (one input per malformed class) and [`input`] holds the
//! byte reader the decoders share. Every check is an `assert!`: a failed invariant is a
//! crash to libFuzzer.

pub mod connection;
pub mod input;
pub mod seeds;
pub mod stack;
pub mod wire;
