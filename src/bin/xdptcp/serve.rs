//! `xdptcp serve`: a server application on the stack.

use std::num::TryFromIntError;
use std::sync::atomic::Ordering;

use clap::{Args, ValueEnum};
use xdptcp::apps::{Discard, Echo, Http, Sockperf};
use xdptcp::runtime::{Runtime, RuntimeConfig, RuntimeError};

use crate::common::{install_stop_handler, DatapathArgs, SetupError, StackKind};
use xdptcp::apps::{DiscardProtocol, EchoProtocol, RequestProtocol, SockperfProtocol};

/// Why `xdptcp serve` failed.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Setup(#[from] SetupError),
    #[error("--http-body is too large")]
    HttpBody(#[from] TryFromIntError),
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error("kernel server on port {port}: {source}")]
    KernelServer { port: u16, source: std::io::Error },
    #[error("the server stopped unexpectedly")]
    KernelServerStopped,
    #[error("a worker stopped unexpectedly")]
    WorkerStopped,
}

#[derive(Copy, Clone, Debug, ValueEnum)]
enum App {
    /// Send back every byte; close after the peer closes (RFC 862).
    Echo,
    /// Answer HTTP/1.1 GET with a fixed body, keep-alive.
    Http,
    /// The sockperf TCP server protocol.
    Sockperf,
    /// Read and drop everything (RFC 863).
    Discard,
}

#[derive(Args)]
pub struct ServeArgs {
    #[command(flatten)]
    datapath: DatapathArgs,
    /// Port to accept connections on.
    #[arg(long)]
    port: u16,
    /// The application.
    #[arg(long, value_enum)]
    app: App,
    /// Body size of the HTTP answer (suffixes K, M).
    #[arg(long, default_value = "64", value_parser = crate::parse_size)]
    http_body: u64,
    /// The TCP stack: xdptcp over AF_XDP, or the kernel's through sockets (for comparison;
    /// one thread, pinned to the first of --cores).
    #[arg(long, value_enum, default_value = "xdptcp")]
    stack: StackKind,
}

fn serve_kernel<P: RequestProtocol>(args: &ServeArgs, protocol: P) -> Result<(), ServeError> {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let served = std::sync::Arc::new(std::sync::Mutex::new(0u64));
    let interrupted = install_stop_handler(stop.clone())?;
    println!(
        "xdptcp: serving {:?} on port {} over Linux TCP sockets (epoll); Ctrl-C stops",
        args.app, args.port
    );
    xdptcp::load::linux::serve(
        args.port,
        protocol,
        args.datapath.cores.first().copied(),
        stop,
        served.clone(),
    )
    .map_err(|source| ServeError::KernelServer {
        port: args.port,
        source,
    })?;
    let count = served.lock().map(|n| *n).unwrap_or(0);
    println!("xdptcp: stopped after {count} connection(s)");
    if !interrupted.load(Ordering::SeqCst) {
        return Err(ServeError::KernelServerStopped);
    }
    Ok(())
}

pub fn run(args: &ServeArgs) -> Result<(), ServeError> {
    if args.stack == StackKind::Kernel {
        let body = usize::try_from(args.http_body)?;
        return match args.app {
            App::Echo => serve_kernel(args, EchoProtocol),
            App::Discard => serve_kernel(args, DiscardProtocol),
            App::Http => serve_kernel(args, Http::with_body_len(body).into_protocol()),
            App::Sockperf => serve_kernel(args, SockperfProtocol::default()),
        };
    }
    let mut config: RuntimeConfig = args.datapath.runtime_config()?;
    config.listen = vec![args.port];
    let mut runtime: Runtime<()> = match args.app {
        App::Echo => Runtime::start(config, |_| Echo::default()),
        App::Discard => Runtime::start(config, |_| Discard::default()),
        App::Http => {
            let body = usize::try_from(args.http_body)?;
            Runtime::start(config, move |_| Http::with_body_len(body))
        }
        App::Sockperf => Runtime::start(config, |_| Sockperf::sockperf()),
    }?;
    let info = runtime.info().clone();
    println!(
        "xdptcp: serving {:?} on {}:{} via {} ({} queue(s), XDP {}, AF_XDP {} mode, idle {}); Ctrl-C stops",
        args.app,
        info.ipv4,
        args.port,
        info.iface,
        info.queues,
        info.xdp_mode,
        info.bind_mode,
        info.idle
    );
    let interrupted = install_stop_handler(runtime.stop_flag())?;
    runtime.wait();
    let stopped_by_request = interrupted.load(Ordering::SeqCst);
    runtime.finish();
    crate::common::print_stats(&runtime);
    drop(runtime);
    println!("xdptcp: stopped; XDP program detached from {}", info.iface);
    if !stopped_by_request {
        return Err(ServeError::WorkerStopped);
    }
    Ok(())
}
