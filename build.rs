//! Compiles the XDP program in `bpf/` with clang; the object is embedded in the binary.

use std::env;
use std::path::PathBuf;
use std::process::Command;

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR"));
    let object = out.join("xdp_steer.o");
    println!("cargo:rerun-if-changed=bpf/xdp_steer.c");
    println!("cargo:rerun-if-changed=bpf/xdp_steer.h");
    println!("cargo:rerun-if-changed=bpf/syn_cookie.h");
    println!("cargo:rerun-if-changed=bpf/siphash.h");
    println!("cargo:rerun-if-env-changed=CLANG");

    let arch = env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let multiarch = match arch.as_str() {
        "x86_64" => "x86_64-linux-gnu",
        "aarch64" => "aarch64-linux-gnu",
        other => panic!("xdptcp builds its XDP program for x86_64 and aarch64 hosts, not {other}"),
    };
    let clang = env::var("CLANG").unwrap_or_else(|_| "clang".to_string());
    let status = Command::new(&clang)
        .args(["-O2", "-g", "-Wall", "-Werror", "-target", "bpf"])
        .arg(format!("-I/usr/include/{multiarch}"))
        .args(["-Ibpf", "-c", "bpf/xdp_steer.c", "-o"])
        .arg(&object)
        .status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => panic!("clang failed to compile bpf/xdp_steer.c ({s}); see the errors above"),
        Err(e) => panic!(
            "cannot run {clang} to build the XDP program ({e}); install clang, llvm and \
             libbpf-dev (`make deps` does) or set CLANG"
        ),
    }
}
