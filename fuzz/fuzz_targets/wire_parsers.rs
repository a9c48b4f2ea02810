//! See `xdptcp_fuzz::wire`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| xdptcp_fuzz::wire::run(data));
