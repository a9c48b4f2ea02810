//! See `xdptcp_fuzz::stack`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| xdptcp_fuzz::stack::run(data));
