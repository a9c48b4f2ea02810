//! `xdptcp serve`: server applications on the stack, one per listening port, configured by
//! flags, by a configuration file (`--config`, see [`xdptcp::config`]), or both (flags win).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use clap::Args;
use xdptcp::apps::{BoxedApp, ByPort, Discard, Echo, Http, Sockperf};
use xdptcp::apps::{DiscardProtocol, EchoProtocol, RequestProtocol, SockperfProtocol};
use xdptcp::config::{
    AppKind, ByteSize, ConfigFileError, ListenFile, Listener, ServeFile, ServeSettings,
    SettingError, StackKind,
};
use xdptcp::management::{ManagementError, ManagementServer, ManagementSocket, MetricsEndpoint};
use xdptcp::runtime::{Runtime, RuntimeError};

use crate::common::{install_stop_handler, DatapathArgs, SetupError};

/// Why `xdptcp serve` failed.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Setup(#[from] SetupError),
    #[error(transparent)]
    ConfigFile(#[from] ConfigFileError),
    #[error("nothing to serve: give --port and --app, or [[listen]] entries in a --config file")]
    NothingToServe,
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error("kernel server on port {port}: {source}")]
    KernelServer { port: u16, source: std::io::Error },
    #[error("the server stopped unexpectedly")]
    KernelServerStopped,
    #[error("a worker stopped unexpectedly")]
    WorkerStopped,
    #[error(transparent)]
    Management(#[from] ManagementError),
}

impl From<SettingError> for ServeError {
    fn from(e: SettingError) -> ServeError {
        ServeError::Setup(e.into())
    }
}

#[derive(Args)]
pub struct ServeArgs {
    /// A TOML configuration file (deploy/xdptcp.toml lists every key); flags override it.
    #[arg(long)]
    config: Option<PathBuf>,
    #[command(flatten)]
    datapath: DatapathArgs,
    /// Port to accept connections on, served by --app (replaces the file's listeners).
    #[arg(long, requires = "app")]
    port: Option<u16>,
    /// The application on --port.
    #[arg(long, value_enum, requires = "port")]
    app: Option<AppKind>,
    /// Body size of the HTTP answer, for every http listener (suffixes K, M) [default: 64].
    #[arg(long, value_parser = crate::parse_size)]
    http_body: Option<u64>,
    /// The TCP stack: xdptcp over AF_XDP, or the kernel's through sockets (for comparison;
    /// one thread per listener, pinned to the first of --cores) [default: xdptcp].
    #[arg(long, value_enum)]
    stack: Option<StackKind>,
    /// The management socket for `xdptcp stats` and `xdptcp ss`, or "off"
    /// [default: /run/xdptcp/xdptcp.sock].
    #[arg(long, value_name = "PATH|off")]
    management_socket: Option<String>,
    /// The group whose members may use the management socket (it is made root:GROUP mode
    /// 0660); without one only the server's user may (mode 0600).
    #[arg(long, value_name = "GROUP")]
    management_group: Option<String>,
    /// Serve the counters to Prometheus at http://ADDR/metrics (kernel TCP), e.g.
    /// 127.0.0.1:9464 [default: off].
    #[arg(long, value_name = "ADDR")]
    prometheus: Option<std::net::SocketAddr>,
}

impl ServeArgs {
    /// The file's settings (if one is given) with the flags written over them, checked.
    fn settings(&self) -> Result<ServeSettings, ServeError> {
        let mut file = match &self.config {
            Some(path) => xdptcp::config::read(path)?,
            None => ServeFile::default(),
        };
        self.datapath.write_over(&mut file);
        file.stack = self.stack.or(file.stack);
        if let Some(socket) = &self.management_socket {
            file.management.socket = Some(socket.clone());
        }
        if let Some(group) = &self.management_group {
            file.management.group = Some(group.clone());
        }
        file.management.prometheus = self.prometheus.or(file.management.prometheus);
        if let (Some(port), Some(app)) = (self.port, self.app) {
            file.listen = Some(vec![ListenFile {
                port,
                app,
                http_body: None,
            }]);
        }
        if let Some(body) = self.http_body {
            for listener in file.listen.iter_mut().flatten() {
                if listener.app == AppKind::Http {
                    listener.http_body = Some(ByteSize(body));
                }
            }
        }
        // A value out of range is told as the file's when there is a file (a flag given
        // over it is named by the same key).
        let settings = file.settings().map_err(|e| match &self.config {
            Some(path) => ServeError::ConfigFile(ConfigFileError::Invalid {
                path: path.clone(),
                problem: e.into(),
            }),
            None => e.into(),
        })?;
        if settings.listeners.is_empty() {
            return Err(ServeError::NothingToServe);
        }
        Ok(settings)
    }
}

/// What is served where, for the ready line: `echo on 10.77.1.2:7 and http on 10.77.1.2:80`.
fn served(listeners: &[Listener], host: &str) -> String {
    let each: Vec<String> = listeners
        .iter()
        .map(|l| format!("{} on {host}:{}", l.app.name(), l.port))
        .collect();
    each.join(" and ")
}

/// Serves one listener on the kernel's TCP until `stop` is set.
fn serve_kernel_listener(
    listener: &Listener,
    core: Option<usize>,
    stop: Arc<AtomicBool>,
    count: Arc<Mutex<u64>>,
) -> Result<(), ServeError> {
    fn run<P: RequestProtocol>(
        port: u16,
        protocol: P,
        core: Option<usize>,
        stop: Arc<AtomicBool>,
        count: Arc<Mutex<u64>>,
    ) -> Result<(), ServeError> {
        xdptcp::load::linux::serve(port, protocol, core, stop, count)
            .map_err(|source| ServeError::KernelServer { port, source })
    }
    let port = listener.port;
    match listener.app {
        AppKind::Echo => run(port, EchoProtocol, core, stop, count),
        AppKind::Discard => run(port, DiscardProtocol, core, stop, count),
        AppKind::Http => {
            let protocol = Http::with_body_len(listener.http_body).into_protocol();
            run(port, protocol, core, stop, count)
        }
        AppKind::Sockperf => run(port, SockperfProtocol::default(), core, stop, count),
    }
}

fn serve_kernel(settings: &ServeSettings) -> Result<(), ServeError> {
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(Mutex::new(0u64));
    let interrupted = install_stop_handler(stop.clone())?;
    let core = settings.runtime.cores.first().copied();
    println!(
        "xdptcp: serving {} over Linux TCP sockets (epoll); Ctrl-C stops",
        served(&settings.listeners, "*")
    );
    std::thread::scope(|scope| {
        let threads: Vec<_> = settings
            .listeners
            .iter()
            .map(|listener| {
                let (stop, count) = (stop.clone(), count.clone());
                scope.spawn(move || {
                    let result = serve_kernel_listener(listener, core, stop.clone(), count);
                    stop.store(true, Ordering::SeqCst); // one listener ending ends them all
                    result
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().unwrap_or(Err(ServeError::KernelServerStopped)))
            .collect::<Result<Vec<()>, ServeError>>()
    })?;
    let connections = count.lock().map(|n| *n).unwrap_or(0);
    println!("xdptcp: stopped after {connections} connection(s)");
    if !interrupted.load(Ordering::SeqCst) {
        return Err(ServeError::KernelServerStopped);
    }
    Ok(())
}

/// A new instance of the app a listener runs.
fn app(listener: &Listener) -> BoxedApp {
    match listener.app {
        AppKind::Echo => Box::new(Echo::default()),
        AppKind::Discard => Box::new(Discard::default()),
        AppKind::Http => Box::new(Http::with_body_len(listener.http_body)),
        AppKind::Sockperf => Box::new(Sockperf::sockperf()),
    }
}

/// Starts the runtime: one listener runs its app directly; several share each worker
/// through [`ByPort`].
fn start(settings: &ServeSettings) -> Result<Runtime<()>, RuntimeError> {
    let config = settings.runtime.clone();
    match settings.listeners.as_slice() {
        [only] => match only.app {
            AppKind::Echo => Runtime::start(config, |_| Echo::default()),
            AppKind::Discard => Runtime::start(config, |_| Discard::default()),
            AppKind::Http => Runtime::start(config, |_| Http::with_body_len(only.http_body)),
            AppKind::Sockperf => Runtime::start(config, |_| Sockperf::sockperf()),
        },
        listeners => Runtime::start(config, |_| {
            listeners.iter().fold(ByPort::new(), |apps, listener| {
                apps.serve(vec![listener.port], app(listener))
            })
        }),
    }
}

pub fn run(args: &ServeArgs) -> Result<(), ServeError> {
    let settings = args.settings()?;
    if settings.stack == StackKind::Kernel {
        return serve_kernel(&settings);
    }
    // The runtime's own checks come first (privileges, the interface, its queues and
    // ports, another instance on it); then the management socket and the Prometheus
    // address, each refused with one line if in use (the runtime then stops, detaching
    // the program).
    let mut runtime = start(&settings)?;
    let socket = match &settings.management.socket {
        Some(path) => Some(ManagementSocket::bind(
            path,
            settings.management.group.as_ref().map(|(_, gid)| *gid),
        )?),
        None => None,
    };
    let metrics = match settings.management.prometheus {
        Some(addr) => Some(MetricsEndpoint::bind(addr)?),
        None => None,
    };
    let info = runtime.info().clone();
    let management = match socket {
        Some(socket) => {
            println!(
                "xdptcp: management socket {} (xdptcp stats, ss, capture; {})",
                socket.path().display(),
                match &settings.management.group {
                    Some((name, _)) => format!("group {name}, mode 0660"),
                    None => "its user only, mode 0600".to_string(),
                }
            );
            Some(ManagementServer::start(socket, runtime.observer())?)
        }
        None => None,
    };
    let metrics = match metrics {
        Some(endpoint) => {
            println!(
                "xdptcp: Prometheus metrics at http://{}/metrics",
                endpoint.local_addr()
            );
            Some(endpoint.serve(runtime.observer())?)
        }
        None => None,
    };
    println!(
        "xdptcp: serving {} via {} ({} queue(s), XDP {}, AF_XDP {} mode, idle {}); Ctrl-C stops",
        served(&settings.listeners, &info.ipv4.to_string()),
        info.iface,
        info.queues,
        info.xdp_mode,
        info.bind_mode,
        info.idle
    );
    let interrupted = install_stop_handler(runtime.stop_flag())?;
    runtime.wait();
    drop((management, metrics));
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
