//! The Prometheus endpoint: plain HTTP/1.1 over the kernel's TCP (a management port, not
//! the stack's), `GET /metrics` answered with [`super::render_prometheus`] of fresh
//! counters, then the connection closed. A thread of its own accepts one scrape at a time;
//! like the management socket it reaches the workers only through a
//! [`RuntimeObserver`], so a scrape never makes a worker wait.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::prometheus::{render, CONTENT_TYPE};
use super::server::wait_readable;
use super::{ManagementError, StatsReport};
use crate::runtime::RuntimeObserver;

/// How long a scraper may take to send its request or read the answer.
const SCRAPER_PATIENCE: Duration = Duration::from_secs(3);
/// The longest request head read (request line and headers).
const MAX_REQUEST_HEAD: u64 = 8192;

/// A bound endpoint; serving starts with [`MetricsEndpoint::serve`] and stops when the
/// value returned drops.
#[derive(Debug)]
pub struct MetricsEndpoint {
    listener: TcpListener,
    addr: SocketAddr,
}

/// The serving thread of a [`MetricsEndpoint`]; stops when dropped.
#[derive(Debug)]
pub struct ServingMetrics {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl MetricsEndpoint {
    /// Listens on `addr` (port 0 picks a free one, see [`MetricsEndpoint::local_addr`]).
    pub fn bind(addr: SocketAddr) -> Result<MetricsEndpoint, ManagementError> {
        let failed = |source| ManagementError::Prometheus { addr, source };
        let listener = TcpListener::bind(addr).map_err(failed)?;
        listener.set_nonblocking(true).map_err(failed)?;
        let addr = listener.local_addr().map_err(failed)?;
        Ok(MetricsEndpoint { listener, addr })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn serve(self, observer: RuntimeObserver) -> Result<ServingMetrics, ManagementError> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("xdptcp-metrics".into())
            .spawn(move || self.accept_until_stopped(&observer, &flag))
            .map_err(|source| ManagementError::Thread {
                what: "Prometheus endpoint",
                source,
            })?;
        Ok(ServingMetrics {
            stop,
            thread: Some(thread),
        })
    }

    fn accept_until_stopped(&self, observer: &RuntimeObserver, stop: &AtomicBool) {
        while !stop.load(Ordering::SeqCst) {
            match self.listener.accept() {
                Ok((client, _)) => {
                    if let Err(e) = answer_scrape(client, observer) {
                        log::debug!("prometheus scrape: {e}");
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => wait_readable(&self.listener),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    log::warn!("prometheus endpoint {}: accept failed: {e}", self.addr);
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
    }
}

impl Drop for ServingMetrics {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// What a request line asks for.
#[derive(Debug, PartialEq, Eq)]
enum Route {
    Metrics,
    /// `/`: a pointer to `/metrics`.
    Index,
    NotFound,
    MethodNotAllowed,
    BadRequest,
}

/// Routes an HTTP request line (RFC 9112 §3: method SP request-target SP HTTP-version).
fn route(request_line: &str) -> Route {
    let mut parts = request_line.trim_end().split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Route::BadRequest;
    };
    if !version.starts_with("HTTP/1.") {
        return Route::BadRequest;
    }
    if method != "GET" && method != "HEAD" {
        return Route::MethodNotAllowed;
    }
    match target.split('?').next() {
        Some("/metrics") => Route::Metrics,
        Some("/") => Route::Index,
        _ => Route::NotFound,
    }
}

fn answer_scrape(client: TcpStream, observer: &RuntimeObserver) -> io::Result<()> {
    client.set_nonblocking(false)?;
    client.set_read_timeout(Some(SCRAPER_PATIENCE))?;
    client.set_write_timeout(Some(SCRAPER_PATIENCE))?;
    let mut reader = BufReader::new((&client).take(MAX_REQUEST_HEAD));
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    // The headers are read and ignored, up to the blank line that ends them.
    let mut header = String::new();
    while reader.read_line(&mut header)? > 0 && header.trim_end() != "" {
        header.clear();
    }
    let head_only = request_line.starts_with("HEAD ");
    let (status, content_type, body) = match route(&request_line) {
        Route::Metrics => ("200 OK", CONTENT_TYPE, render(&StatsReport::of(observer))),
        Route::Index => (
            "200 OK",
            "text/plain; charset=utf-8",
            "xdptcp: the metrics are at /metrics\n".to_string(),
        ),
        Route::NotFound => ("404 Not Found", "text/plain", "not found\n".to_string()),
        Route::MethodNotAllowed => (
            "405 Method Not Allowed",
            "text/plain",
            "only GET and HEAD\n".to_string(),
        ),
        Route::BadRequest => ("400 Bad Request", "text/plain", "bad request\n".to_string()),
    };
    let mut answer = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        body.len()
    );
    if !head_only {
        answer.push_str(&body);
    }
    (&client).write_all(answer.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_lines_are_routed() {
        assert_eq!(route("GET /metrics HTTP/1.1\r\n"), Route::Metrics);
        assert_eq!(route("HEAD /metrics?x=1 HTTP/1.0\r\n"), Route::Metrics);
        assert_eq!(route("GET / HTTP/1.1\r\n"), Route::Index);
        assert_eq!(route("GET /other HTTP/1.1\r\n"), Route::NotFound);
        assert_eq!(route("POST /metrics HTTP/1.1\r\n"), Route::MethodNotAllowed);
        assert_eq!(route("GET /metrics\r\n"), Route::BadRequest);
        assert_eq!(route("GET /metrics SPDY/3\r\n"), Route::BadRequest);
        assert_eq!(route(""), Route::BadRequest);
    }
}
