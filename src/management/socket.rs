//! The management socket: a Unix stream socket at a configured path, usable by its owner
//! only (mode 0600), or by its owner and a group the operator names (the socket's group is
//! set to it, mode 0660: connecting to a Unix socket needs write permission on it, unix(7));
//! refused when another running instance answers there.

use std::io;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

use super::ManagementError;

/// Where `serve` makes its management socket and `stats`/`ss` look for it by default.
pub const DEFAULT_SOCKET_PATH: &str = "/run/xdptcp/xdptcp.sock";

/// The socket's mode with a group: its owner (root, or the service's user) and the group.
pub const SOCKET_MODE: u32 = 0o660;

/// The socket's mode without a group: its owner only.
pub const OWNER_ONLY_MODE: u32 = 0o600;

/// The mode of a directory made for the socket: others cannot even reach the socket.
const DIRECTORY_MODE: u32 = 0o750;

/// A bound management socket; the socket file is removed when it drops.
#[derive(Debug)]
pub struct ManagementSocket {
    listener: UnixListener,
    path: PathBuf,
}

impl ManagementSocket {
    /// Makes the socket at `path` (and its directory, mode 0750, if missing). A socket file
    /// left by an instance that stopped (nothing answers on it) is replaced; one on which
    /// another instance answers, or a file that is not a socket, is refused. With `group`
    /// (a gid) the socket's group becomes it, mode 0660; without, mode 0600.
    pub fn bind(path: &Path, group: Option<u32>) -> Result<ManagementSocket, ManagementError> {
        let cannot = |step: &'static str| {
            move |source: io::Error| ManagementError::CannotMake {
                path: path.to_path_buf(),
                step,
                source,
            }
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if !dir.exists() {
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(DIRECTORY_MODE)
                    .create(dir)
                    .map_err(cannot("creating its directory"))?;
            }
        }
        match std::fs::symlink_metadata(path) {
            Ok(meta) if !meta.file_type().is_socket() => {
                return Err(ManagementError::NotASocket {
                    path: path.to_path_buf(),
                })
            }
            Ok(_) => match UnixStream::connect(path) {
                Ok(_) => {
                    return Err(ManagementError::InUse {
                        path: path.to_path_buf(),
                    })
                }
                // Nobody listens: a socket file left by an instance that stopped.
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                    std::fs::remove_file(path).map_err(cannot("removing a stale socket"))?
                }
                Err(e) => return Err(cannot("checking whether it is in use")(e)),
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(cannot("checking the path")(e)),
        }
        let listener = UnixListener::bind(path).map_err(|e| match e.kind() {
            // Another instance bound it between our check and our bind.
            io::ErrorKind::AddrInUse => ManagementError::InUse {
                path: path.to_path_buf(),
            },
            _ => cannot("binding")(e),
        })?;
        let socket = ManagementSocket {
            listener,
            path: path.to_path_buf(),
        };
        // The group before the mode: the socket is never open to the group it had at bind.
        let mode = match group {
            Some(gid) => {
                std::os::unix::fs::chown(path, None, Some(gid))
                    .map_err(cannot("setting its group"))?;
                SOCKET_MODE
            }
            None => OWNER_ONLY_MODE,
        };
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .map_err(cannot("setting its mode"))?;
        socket
            .listener
            .set_nonblocking(true)
            .map_err(cannot("making it non-blocking"))?;
        Ok(socket)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(super) fn listener(&self) -> &UnixListener {
        &self.listener
    }
}

impl Drop for ManagementSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("xdptcp-management-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn the_socket_is_its_owners_only_and_a_second_bind_is_refused_until_it_drops() {
        let dir = scratch("bind");
        let path = dir.join("sub").join("m.sock");
        let socket = ManagementSocket::bind(&path, None).unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        assert!(meta.file_type().is_socket());
        assert_eq!(meta.permissions().mode() & 0o777, OWNER_ONLY_MODE);
        let dir_mode = std::fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(dir_mode & 0o777, DIRECTORY_MODE);
        let second = ManagementSocket::bind(&path, None).unwrap_err();
        assert!(
            second.to_string().starts_with(&format!(
                "management socket {}: in use by another running xdptcp",
                path.display()
            )),
            "{second}"
        );
        drop(socket);
        assert!(!path.exists(), "the socket file goes with the socket");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_stale_socket_is_replaced_and_a_plain_file_refused() {
        let dir = scratch("stale");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("m.sock");
        // A socket file nobody listens on: bound, then the listener closed without removing it.
        drop(UnixListener::bind(&path).unwrap());
        assert!(path.exists());
        let socket = ManagementSocket::bind(&path, None).expect("a stale socket is replaced");
        drop(socket);
        std::fs::write(&path, b"not a socket").unwrap();
        let err = ManagementSocket::bind(&path, None).unwrap_err();
        assert!(
            err.to_string().contains("exists and is not a socket"),
            "{err}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_named_group_owns_the_socket_with_mode_0660() {
        // Any group may be given only by root; others may give only their own groups.
        if !crate::host::is_root() {
            eprintln!("skipped: needs root to give the socket a group it is not in");
            return;
        }
        let Some(adm) = crate::host::group_id("adm") else {
            eprintln!("skipped: this system has no group adm");
            return;
        };
        let dir = scratch("group");
        let path = dir.join("m.sock");
        let socket = ManagementSocket::bind(&path, Some(adm)).unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, SOCKET_MODE);
        assert_eq!(std::os::unix::fs::MetadataExt::gid(&meta), adm);
        assert_eq!(std::os::unix::fs::MetadataExt::uid(&meta), 0);
        drop(socket);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
