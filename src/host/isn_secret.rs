//! The per-boot secret behind initial sequence numbers and source ports.

use std::io;

/// Where the per-boot ISN secret lives: tmpfs, so it is new after every boot, and readable
/// by root only.
pub const ISN_SECRET_PATH: &str = "/run/xdptcp/isn.key";

/// The secret for ISNs (RFC 6528) and source ports (RFC 6056), the same for every xdptcp
/// process until the next boot — as the kernel keeps one per boot. A process restarted on a
/// 4-tuple then continues its sequence numbers upward, so a peer holding the old incarnation
/// in TIME-WAIT can reopen it at once (RFC 1122 §4.2.2.13) instead of stalling the new SYN.
/// Created with 0600 on first use; falls back to a process-only secret, with a warning, if
/// `/run` cannot be used.
pub fn isn_secret() -> [u8; 16] {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt;
    let read = || -> Option<[u8; 16]> {
        let bytes = std::fs::read(ISN_SECRET_PATH).ok()?;
        bytes.try_into().ok()
    };
    if let Some(key) = read() {
        return key;
    }
    let mut key = [0u8; 16];
    let _ = getrandom::fill(&mut key);
    let dir = std::path::Path::new(ISN_SECRET_PATH).parent();
    let created = dir
        .map(std::fs::create_dir_all)
        .transpose()
        .and_then(|_| {
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(ISN_SECRET_PATH)
        })
        .and_then(|mut f| f.write_all(&key));
    match created {
        Ok(()) => key,
        // Another process created it first: use theirs.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => read().unwrap_or(key),
        Err(e) => {
            log::warn!("cannot keep an ISN secret in {ISN_SECRET_PATH} ({e}); using one for this process only");
            key
        }
    }
}
