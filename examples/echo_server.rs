//! Embedding xdptcp: an echo server on an interface, in about fifty lines.
//!
//! Run as root, for example in the lab (`xdptcp lab up`):
//!
//! ```sh
//! ip netns exec xdptcp-stack cargo run --release --example echo_server -- xdp0 7
//! ip netns exec xdptcp-peer ncat 10.77.1.2 7
//! ```
//!
//! The handler runs on the worker core between receiving and sending frames: it reads new
//! data in place (zero copy, straight from the frame it arrived in when it can), writes it
//! back as far as the send buffer allows, and waits for `Writable` when it does not.

use std::sync::atomic::Ordering;

use xdptcp::runtime::{Context, Handler, Runtime, RuntimeConfig, StackEvent};
use xdptcp::stack::ConnId;

struct Echo;

impl Handler for Echo {
    type Message = ();

    fn on_event(&mut self, ctx: &mut Context<'_>, conn: ConnId, event: StackEvent) {
        match event {
            StackEvent::Readable | StackEvent::Writable | StackEvent::ReadClosed => {
                // Move what fits from the receive side to the send side, in place.
                loop {
                    let room = ctx.send_capacity(conn);
                    let mut chunk = Vec::new();
                    let took = ctx.read_with(conn, |data| {
                        let n = data.len().min(room);
                        chunk.extend_from_slice(&data[..n]);
                        n
                    });
                    match took {
                        Ok(n) if n > 0 => {
                            let _ = ctx.write(conn, &chunk);
                        }
                        Ok(_) if room > 0 => {
                            // End of stream and everything echoed: close our side too.
                            let _ = ctx.shutdown_write(conn);
                            break;
                        }
                        _ => break,
                    }
                }
            }
            StackEvent::Closed { .. } => ctx.release(conn),
            StackEvent::Accepted { .. } | StackEvent::Connected => {}
        }
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let iface = args.next().unwrap_or_else(|| "xdp0".into());
    let port: u16 = args.next().and_then(|p| p.parse().ok()).unwrap_or(7);

    let mut config = RuntimeConfig::new(&iface);
    config.listen = vec![port];
    config.tcp.nodelay = true;
    let runtime = match Runtime::start(config, |_worker| Echo) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("echo_server: {e}");
            std::process::exit(1);
        }
    };
    let stop = runtime.stop_flag();
    ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst)).expect("Ctrl-C handler");
    println!(
        "echo_server: listening on {}:{port} ({iface})",
        runtime.info().ipv4
    );
    runtime.wait();
    for (queue, s) in runtime.stats().iter().enumerate() {
        println!(
            "queue {queue}: {} segments in, {} read in place, {} out",
            s.stack.rx_tcp_segments, s.stack.rx_zero_copy_segments, s.stack.tx_tcp_segments
        );
    }
}
