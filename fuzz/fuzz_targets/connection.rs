//! See `xdptcp_fuzz::connection`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| xdptcp_fuzz::connection::run(data));
