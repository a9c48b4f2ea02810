//! A minimal HTTP/1.1 server: GET and HEAD with a fixed body, keep-alive, pipelining.
//! Enough for curl, wrk and ab; not a general web server.

use super::request::{Reply, RequestProtocol, RequestServer};

/// Largest request head accepted; larger gets 431 and a close.
const MAX_HEAD: usize = 16 * 1024;

/// The HTTP protocol: every GET is answered with the same body.
#[derive(Debug)]
pub struct HttpProtocol {
    body: Vec<u8>,
}

/// The HTTP server handler.
pub type Http = RequestServer<HttpProtocol>;

impl Http {
    /// Answers every GET with `body`.
    pub fn with_body(body: Vec<u8>) -> Http {
        RequestServer::new(HttpProtocol { body })
    }

    /// A server whose body is `len` bytes of text.
    pub fn with_body_len(len: usize) -> Http {
        let line = b"xdptcp says hello over AF_XDP\n";
        Http::with_body(line.iter().copied().cycle().take(len).collect())
    }
}

/// One parsed request head: what it asks and how the connection continues.
struct Request {
    head_len: usize,
    body_len: usize,
    method_ok: bool,
    head_only: bool,
    keep_alive: bool,
}

fn parse_request(buf: &[u8]) -> Option<Result<Request, ()>> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&buf[..end]).map_err(|_| ());
    let Ok(head) = head else {
        return Some(Err(()));
    };
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or("");
    let mut parts = request_line.split(' ');
    let method = parts.next().unwrap_or("");
    let _target = parts.next();
    let version = parts.next().unwrap_or("");
    if !version.starts_with("HTTP/1.") {
        return Some(Err(()));
    }
    let mut keep_alive = version == "HTTP/1.1";
    let mut body_len = 0;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("connection") {
            if value.eq_ignore_ascii_case("close") {
                keep_alive = false;
            } else if value.eq_ignore_ascii_case("keep-alive") {
                keep_alive = true;
            }
        } else if name.eq_ignore_ascii_case("content-length") {
            match value.parse() {
                Ok(n) => body_len = n,
                Err(_) => return Some(Err(())),
            }
        }
    }
    Some(Ok(Request {
        head_len: end + 4,
        body_len,
        method_ok: method == "GET" || method == "HEAD",
        head_only: method == "HEAD",
        keep_alive,
    }))
}

impl HttpProtocol {
    fn append_response(
        &self,
        output: &mut Vec<u8>,
        status: &str,
        with_body: bool,
        keep_alive: bool,
    ) {
        let body: &[u8] = if status.starts_with("200") {
            &self.body
        } else {
            b""
        };
        let head = format!(
            "HTTP/1.1 {status}\r\nServer: xdptcp\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n{}\r\n",
            body.len(),
            if keep_alive { "" } else { "Connection: close\r\n" }
        );
        output.extend_from_slice(head.as_bytes());
        if with_body {
            output.extend_from_slice(body);
        }
    }
}

impl RequestProtocol for HttpProtocol {
    type Conn = ();

    fn respond(&mut self, _conn: &mut (), input: &mut Vec<u8>, output: &mut Vec<u8>) -> Reply {
        loop {
            match parse_request(input) {
                None => {
                    if input.len() > MAX_HEAD {
                        input.clear();
                        self.append_response(
                            output,
                            "431 Request Header Fields Too Large",
                            false,
                            false,
                        );
                        return Reply::CloseAfterOutput;
                    }
                    return Reply::Continue;
                }
                Some(Err(())) => {
                    input.clear();
                    self.append_response(output, "400 Bad Request", false, false);
                    return Reply::CloseAfterOutput;
                }
                Some(Ok(req)) => {
                    let total = req.head_len + req.body_len;
                    if input.len() < total {
                        return Reply::Continue; // the request body is still arriving
                    }
                    input.drain(..total);
                    let status = if req.method_ok {
                        "200 OK"
                    } else {
                        "405 Method Not Allowed"
                    };
                    self.append_response(
                        output,
                        status,
                        req.method_ok && !req.head_only,
                        req.keep_alive,
                    );
                    if !req.keep_alive {
                        return Reply::CloseAfterOutput;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_heads() {
        assert!(parse_request(b"GET / HTTP/1.1\r\nHost: x\r\n").is_none());
        let r = parse_request(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET")
            .unwrap()
            .unwrap();
        assert_eq!(r.head_len, 27);
        assert!(r.keep_alive && r.method_ok && !r.head_only);
        let r = parse_request(b"HEAD / HTTP/1.0\r\n\r\n").unwrap().unwrap();
        assert!(!r.keep_alive && r.head_only);
        let r = parse_request(b"POST / HTTP/1.1\r\nContent-Length: 5\r\nConnection: close\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(!r.method_ok && !r.keep_alive);
        assert_eq!(r.body_len, 5);
        assert!(parse_request(b"GET / SPDY\r\n\r\n").unwrap().is_err());
    }

    #[test]
    fn answers_pipelined_requests() {
        let mut http = HttpProtocol {
            body: b"hi".to_vec(),
        };
        let mut input =
            b"GET / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\nConnection: close\r\n\r\nGET".to_vec();
        let mut output = Vec::new();
        let reply = http.respond(&mut (), &mut input, &mut output);
        assert_eq!(reply, Reply::CloseAfterOutput);
        let text = String::from_utf8(output).unwrap();
        assert_eq!(text.matches("200 OK").count(), 2);
        assert!(text.ends_with("Connection: close\r\n\r\nhi"));
        assert_eq!(input, b"GET");
    }
}
