//! Asking a running `xdptcp serve` for a capture: the request, the `capturing` answer, then
//! the stream of frames (see `capture_stream`) until the client stops it.

use std::io::BufReader;
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use super::capture_stream::{self, StreamMessage};
use super::client::{ask, connect, io_error, ClientError};
use super::protocol::{Answer, CaptureStarted, Request};

/// A capture running on a server, from the client's side. Dropping it (or the process
/// dying) ends the capture on the server.
#[derive(Debug)]
pub struct CaptureClient {
    path: PathBuf,
    stream: UnixStream,
    reader: BufReader<UnixStream>,
    started: CaptureStarted,
}

impl CaptureClient {
    /// Starts a capture of the frames with TCP port `port` (all frames if `None`) on the
    /// server at `path`.
    pub fn start(path: &Path, port: Option<u16>) -> Result<CaptureClient, ClientError> {
        let stream = connect(path)?;
        let mut reader = BufReader::new(stream.try_clone().map_err(|e| io_error(path, e))?);
        match ask(path, &stream, &mut reader, &Request::Capture { port })? {
            Answer::Capturing(started) => Ok(CaptureClient {
                path: path.to_path_buf(),
                stream,
                reader,
                started,
            }),
            _ => Err(ClientError::Refused {
                path: path.to_path_buf(),
                reason: "it answered something else than a capture".into(),
            }),
        }
    }

    /// What the server said when the capture started.
    pub fn started(&self) -> &CaptureStarted {
        &self.started
    }

    /// The next frame, tick or the end (a tick comes at least every few hundred
    /// milliseconds).
    pub fn next_message(&mut self) -> Result<StreamMessage, ClientError> {
        capture_stream::read_message(&mut self.reader).map_err(|e| io_error(&self.path, e))
    }

    /// Asks the server to end the capture: it sends what it still holds, then the summary.
    pub fn stop(&self) -> Result<(), ClientError> {
        self.stream
            .shutdown(Shutdown::Write)
            .map_err(|e| io_error(&self.path, e))
    }
}
