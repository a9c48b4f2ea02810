//! Requests and responses of each workload, seen from the client: encode one request,
//! recognize complete responses in a byte stream. Shared by the xdptcp and Linux-socket
//! drivers so both run exactly the same workload.

use std::fmt;
use std::io::Write as _;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// What the load generator sends.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Workload {
    /// `size`-byte requests to an echo server; a response is the same `size` bytes.
    Echo,
    /// sockperf ping-pong messages of `size` bytes (14-byte header included).
    Sockperf,
    /// HTTP/1.1 GET with keep-alive; a response is a status line, headers and a body.
    Http,
    /// A new connection per request: connect, HTTP GET with `Connection: close`, the
    /// response, the server's close, ours.
    Connect,
    /// One-way stream of `size`-byte writes to a discard server.
    Bulk,
}

impl Workload {
    pub const ALL: [Workload; 5] = [
        Workload::Echo,
        Workload::Sockperf,
        Workload::Http,
        Workload::Connect,
        Workload::Bulk,
    ];

    /// The `xdptcp serve --app` the workload talks to.
    pub fn server_app(self) -> &'static str {
        match self {
            Workload::Echo => "echo",
            Workload::Sockperf => "sockperf",
            Workload::Http | Workload::Connect => "http",
            Workload::Bulk => "discard",
        }
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Workload::Echo => "echo",
            Workload::Sockperf => "sockperf",
            Workload::Http => "http",
            Workload::Connect => "connect",
            Workload::Bulk => "bulk",
        })
    }
}

/// A name that is not one of [`Workload::ALL`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown workload {0:?} (echo, sockperf, http, connect, bulk)")]
pub struct UnknownWorkload(pub String);

impl FromStr for Workload {
    type Err = UnknownWorkload;
    fn from_str(s: &str) -> Result<Workload, UnknownWorkload> {
        Workload::ALL
            .into_iter()
            .find(|w| w.to_string() == s)
            .ok_or_else(|| UnknownWorkload(s.to_string()))
    }
}

const SOCKPERF_HEADER: usize = 14;
const SOCKPERF_CLIENT: u16 = 1;
const SOCKPERF_PONG_REQUEST: u16 = 2;
/// Largest HTTP response head accepted.
const MAX_HTTP_HEAD: usize = 64 * 1024;

/// Two periods of the byte ramp 0, 1, …, 255: any 256 consecutive bytes of the ramp, from
/// any starting value, are one slice of it.
const RAMP: [u8; 512] = {
    let mut ramp = [0u8; 512];
    let mut i = 0;
    while i < ramp.len() {
        ramp[i] = i as u8;
        i += 1;
    }
    ramp
};

/// Appends `len` bytes of the ramp `first, first + 1, …` (mod 256): the echo and bulk
/// payload, so a request is not all zeros and consecutive requests differ. Copied a slice
/// at a time, since the bulk workload writes gigabytes of it.
fn extend_ramp(out: &mut Vec<u8>, first: u8, len: usize) {
    out.reserve(len);
    let start = usize::from(first);
    let mut left = len;
    while left > 0 {
        let n = left.min(256);
        out.extend_from_slice(&RAMP[start..start + n]);
        left -= n;
    }
}

/// One connection's client side of a workload.
#[derive(Debug)]
pub struct ClientCodec {
    workload: Workload,
    size: usize,
    host: Ipv4Addr,
    seq: u64,
    /// Echo: response bytes received toward the current response.
    echo_partial: usize,
    /// Sockperf and HTTP: bytes of an incomplete response.
    partial: Vec<u8>,
    /// HTTP: body bytes still to come for the response whose head was parsed.
    http_body_left: Option<usize>,
}

/// What a chunk of response bytes completed.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Decoded {
    /// Responses completed.
    pub responses: u64,
    /// Of those, answered with an error (HTTP status other than 2xx).
    pub errors: u64,
}

impl ClientCodec {
    /// A codec for `workload` with requests of `size` bytes, to server `host`.
    pub fn new(workload: Workload, size: usize, host: Ipv4Addr) -> ClientCodec {
        ClientCodec {
            workload,
            size: if workload == Workload::Sockperf {
                size.max(SOCKPERF_HEADER)
            } else {
                size.max(1)
            },
            host,
            seq: 0,
            echo_partial: 0,
            partial: Vec::new(),
            http_body_left: None,
        }
    }

    /// Appends one request to `out`.
    pub fn encode_request(&mut self, out: &mut Vec<u8>) {
        self.seq += 1;
        match self.workload {
            Workload::Echo | Workload::Bulk => extend_ramp(out, self.seq as u8, self.size),
            Workload::Sockperf => {
                let at = out.len();
                out.resize(at + self.size, 0);
                out[at..at + 8].copy_from_slice(&self.seq.to_be_bytes());
                let flags = SOCKPERF_CLIENT | SOCKPERF_PONG_REQUEST;
                out[at + 8..at + 10].copy_from_slice(&flags.to_be_bytes());
                out[at + 10..at + 14].copy_from_slice(&(self.size as u32).to_be_bytes());
            }
            Workload::Http => self.encode_http(out, ""),
            Workload::Connect => self.encode_http(out, "Connection: close\r\n"),
        }
    }

    /// A GET of `size` bytes where the size allows: shorter requests are padded with an
    /// `X-Pad` header (the server ignores it); the smallest request is sent whole.
    fn encode_http(&self, out: &mut Vec<u8>, extra_header: &str) {
        let start = out.len();
        let _ = write!(
            out,
            "GET / HTTP/1.1\r\nHost: {}\r\n{extra_header}",
            self.host
        );
        const PAD_HEADER: &str = "X-Pad: \r\n";
        let bare = out.len() - start + 2;
        if self.size >= bare + PAD_HEADER.len() {
            let pad = self.size - bare - PAD_HEADER.len();
            out.extend_from_slice(b"X-Pad: ");
            out.extend(std::iter::repeat_n(b'x', pad));
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
    }

    /// Consumes response bytes. Err when the stream cannot be a valid response.
    pub fn decode(&mut self, data: &[u8]) -> Result<Decoded, String> {
        match self.workload {
            Workload::Bulk => Ok(Decoded::default()),
            Workload::Echo => {
                let total = self.echo_partial + data.len();
                self.echo_partial = total % self.size;
                Ok(Decoded {
                    responses: (total / self.size) as u64,
                    errors: 0,
                })
            }
            Workload::Sockperf => {
                self.partial.extend_from_slice(data);
                let mut done = Decoded::default();
                let mut start = 0;
                while self.partial.len() - start >= SOCKPERF_HEADER {
                    let h = &self.partial[start..];
                    let len = u32::from_be_bytes([h[10], h[11], h[12], h[13]]) as usize;
                    if !(SOCKPERF_HEADER..=1 << 20).contains(&len) {
                        return Err(format!("sockperf reply with length {len}"));
                    }
                    if h.len() < len {
                        break;
                    }
                    done.responses += 1;
                    start += len;
                }
                self.partial.drain(..start);
                Ok(done)
            }
            Workload::Http | Workload::Connect => self.decode_http(data),
        }
    }

    fn decode_http(&mut self, data: &[u8]) -> Result<Decoded, String> {
        self.partial.extend_from_slice(data);
        let mut done = Decoded::default();
        loop {
            if let Some(left) = self.http_body_left {
                if self.partial.len() < left {
                    return Ok(done);
                }
                self.partial.drain(..left);
                self.http_body_left = None;
                done.responses += 1;
                continue;
            }
            let Some(end) = self.partial.windows(4).position(|w| w == b"\r\n\r\n") else {
                if self.partial.len() > MAX_HTTP_HEAD {
                    return Err("HTTP response head too long".into());
                }
                return Ok(done);
            };
            let head = String::from_utf8_lossy(&self.partial[..end]).into_owned();
            self.partial.drain(..end + 4);
            let status_ok = head
                .split(' ')
                .nth(1)
                .is_some_and(|code| code.starts_with('2'));
            if !head.starts_with("HTTP/1.") {
                return Err(format!("not an HTTP response: {:?}", head.lines().next()));
            }
            if !status_ok {
                done.errors += 1;
            }
            let length = head
                .lines()
                .filter_map(|l| l.split_once(':'))
                .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
                .map(|(_, v)| v.trim().parse::<usize>())
                .transpose()
                .map_err(|_| "bad Content-Length".to_string())?
                .unwrap_or(0);
            self.http_body_left = Some(length);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

    #[test]
    fn echo_and_bulk_payloads_are_the_byte_ramp_from_the_request_number() {
        for (workload, size) in [(Workload::Echo, 64), (Workload::Bulk, 1000)] {
            let mut c = ClientCodec::new(workload, size, HOST);
            let mut out = vec![0xee];
            for seq in 1..=300u64 {
                out.truncate(1);
                c.encode_request(&mut out);
                let expected: Vec<u8> = (0..size).map(|i| (seq as usize + i) as u8).collect();
                assert_eq!(&out[1..], &expected[..], "request {seq}");
            }
        }
    }

    #[test]
    fn echo_counts_whole_responses_across_chunks() {
        let mut c = ClientCodec::new(Workload::Echo, 64, HOST);
        let mut req = Vec::new();
        c.encode_request(&mut req);
        assert_eq!(req.len(), 64);
        assert_eq!(c.decode(&[0; 100]).unwrap().responses, 1);
        assert_eq!(c.decode(&[0; 27]).unwrap().responses, 0);
        assert_eq!(c.decode(&[0; 1]).unwrap().responses, 1);
    }

    #[test]
    fn sockperf_messages_have_the_protocol_header() {
        let mut c = ClientCodec::new(Workload::Sockperf, 64, HOST);
        let mut req = Vec::new();
        c.encode_request(&mut req);
        assert_eq!(req.len(), 64);
        assert_eq!(&req[8..10], &3u16.to_be_bytes());
        assert_eq!(&req[10..14], &64u32.to_be_bytes());
        // The server's reply: the same message with the client bit cleared.
        let mut reply = req.clone();
        reply[8..10].copy_from_slice(&2u16.to_be_bytes());
        let mut two = reply.clone();
        two.extend_from_slice(&reply);
        assert_eq!(c.decode(&two[..70]).unwrap().responses, 1);
        assert_eq!(c.decode(&two[70..]).unwrap().responses, 1);
    }

    #[test]
    fn http_parses_pipelined_responses_and_errors() {
        let mut c = ClientCodec::new(Workload::Http, 0, HOST);
        let mut req = Vec::new();
        c.encode_request(&mut req);
        assert!(req.starts_with(b"GET / HTTP/1.1\r\nHost: 10.0.0.2\r\n"));
        let stream = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n";
        let d1 = c.decode(&stream[..30]).unwrap();
        let d2 = c.decode(&stream[30..]).unwrap();
        assert_eq!(d1.responses + d2.responses, 2);
        assert_eq!(d1.errors + d2.errors, 1);
        assert!(c.decode(b"SSH-2.0\r\n\r\n").is_err());
    }

    #[test]
    fn http_requests_are_padded_to_the_size() {
        for size in [64, 100, 1000] {
            let mut c = ClientCodec::new(Workload::Connect, size, HOST);
            let mut req = Vec::new();
            c.encode_request(&mut req);
            assert_eq!(req.len(), size);
            let text = String::from_utf8(req).unwrap();
            assert!(text.starts_with("GET / HTTP/1.1\r\n"));
            assert!(text.contains("Connection: close\r\n"));
            assert!(text.ends_with("\r\n\r\n"));
        }
        // Too small to pad: the bare request.
        let mut c = ClientCodec::new(Workload::Http, 10, HOST);
        let mut req = Vec::new();
        c.encode_request(&mut req);
        assert_eq!(
            req,
            format!("GET / HTTP/1.1\r\nHost: {HOST}\r\n\r\n").into_bytes()
        );
    }

    #[test]
    fn workloads_parse_and_name_their_server() {
        for w in Workload::ALL {
            assert_eq!(w.to_string().parse::<Workload>(), Ok(w));
        }
        assert_eq!(Workload::Connect.server_app(), "http");
        assert!("ftp".parse::<Workload>().is_err());
    }
}
