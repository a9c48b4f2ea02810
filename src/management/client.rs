//! Asking a running `xdptcp serve` over its management socket, with an error that says
//! what to do when it cannot be asked.

use std::io::{self, BufRead, BufReader};
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::protocol::{self, Answer, Request};
use crate::host::group_name;

/// How long a client waits for the answer: the server waits at most a second per worker
/// round (see [`crate::runtime::OBSERVER_PATIENCE`]).
const ANSWER_PATIENCE: Duration = Duration::from_secs(10);

/// Why a management request failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(
        "no management socket at {}: is `xdptcp serve` running? (its socket is set by \
         --management-socket or [management] socket; give the same path with --socket)",
        path.display()
    )]
    NoSocket { path: PathBuf },
    #[error(
        "permission denied on the management socket {} (mode {mode:04o}, owner uid {uid}, \
         group {group}): run as root or as a member of group {group}",
        path.display()
    )]
    PermissionDenied {
        path: PathBuf,
        mode: u32,
        uid: u32,
        group: String,
    },
    #[error(
        "nothing answers on the management socket {} (left by an xdptcp that stopped?)",
        path.display()
    )]
    NotListening { path: PathBuf },
    #[error("management socket {}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("management socket {}: the server refused the request: {reason}", path.display())]
    Refused { path: PathBuf, reason: String },
}

/// Connects to the server at `path`, with [`ANSWER_PATIENCE`] for each read and write.
pub(super) fn connect(path: &Path) -> Result<UnixStream, ClientError> {
    let stream = UnixStream::connect(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => ClientError::NoSocket {
            path: path.to_path_buf(),
        },
        io::ErrorKind::PermissionDenied => match std::fs::metadata(path) {
            Ok(meta) => ClientError::PermissionDenied {
                path: path.to_path_buf(),
                mode: meta.mode() & 0o7777,
                uid: meta.uid(),
                group: group_name(meta.gid()),
            },
            // Not even the socket can be looked at: its directory is closed to us.
            Err(source) => io_error(path, source),
        },
        io::ErrorKind::ConnectionRefused => ClientError::NotListening {
            path: path.to_path_buf(),
        },
        _ => io_error(path, e),
    })?;
    stream
        .set_read_timeout(Some(ANSWER_PATIENCE))
        .map_err(|e| io_error(path, e))?;
    stream
        .set_write_timeout(Some(ANSWER_PATIENCE))
        .map_err(|e| io_error(path, e))?;
    Ok(stream)
}

pub(super) fn io_error(path: &Path, source: io::Error) -> ClientError {
    ClientError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Sends `request` on `stream` and reads the answer line; a refusal is an error.
pub(super) fn ask(
    path: &Path,
    stream: &UnixStream,
    reader: &mut impl BufRead,
    request: &Request,
) -> Result<Answer, ClientError> {
    protocol::write_line(&mut &*stream, request).map_err(|e| io_error(path, e))?;
    match protocol::read_line::<Answer>(reader, protocol::MAX_ANSWER_LINE)
        .map_err(|e| io_error(path, e))?
    {
        Answer::Refused { reason } => Err(ClientError::Refused {
            path: path.to_path_buf(),
            reason,
        }),
        answer => Ok(answer),
    }
}

/// Sends `request` to the server at `path` and returns its answer.
pub fn request(path: &Path, request: &Request) -> Result<Answer, ClientError> {
    let stream = connect(path)?;
    let mut reader = BufReader::new(&stream);
    ask(path, &stream, &mut reader, request)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_errors_say_what_to_do() {
        let path = std::env::temp_dir().join(format!("xdptcp-none-{}.sock", std::process::id()));
        let err = request(&path, &Request::Stats).unwrap_err();
        assert!(
            err.to_string().starts_with(&format!(
                "no management socket at {}: is `xdptcp serve` running?",
                path.display()
            )),
            "{err}"
        );
        let denied = ClientError::PermissionDenied {
            path: PathBuf::from("/run/xdptcp/xdptcp.sock"),
            mode: 0o660,
            uid: 0,
            group: "root".into(),
        };
        assert_eq!(
            denied.to_string(),
            "permission denied on the management socket /run/xdptcp/xdptcp.sock (mode 0660, \
             owner uid 0, group root): run as root or as a member of group root"
        );
    }
}
