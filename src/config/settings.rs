//! From a [`ServeFile`] (the file with the flags written over it) to the [`ServeSettings`]
//! `serve` runs: defaults for what is absent, every value checked with the key named.

use std::fmt::Display;
use std::net::{Ipv4Addr, SocketAddr};
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{
    parse_address_range, AppKind, HugePagesChoice, IdleChoice, ServeFile, SettingError, StackKind,
    XdpModeChoice, ZeroCopyChoice,
};
use crate::runtime::{IdlePolicy, RuntimeConfig, MAX_BATCH};
use crate::stack::SynCookies;
use crate::tcp;
use crate::xdp::program::MAX_QUEUES;
use crate::xdp::{BusyPoll, HugePages, XdpAttach, ZeroCopy, MAX_ADDRESSES};

/// Body size of the HTTP answer when the file and the flags give none.
pub const DEFAULT_HTTP_BODY: u64 = 64;
/// The largest HTTP body a listener serves (the body is built once per worker).
const MAX_HTTP_BODY: u64 = 64 << 20;
/// The longest hybrid spin: beyond a second it is spinning, not a hybrid.
const MAX_SPIN_US: u64 = 1_000_000;

/// The value of `management.socket` (and `--management-socket`) that turns it off.
pub const MANAGEMENT_OFF: &str = "off";

/// One port and the app that serves it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listener {
    pub port: u16,
    pub app: AppKind,
    /// Body size of the HTTP answer (http only).
    pub http_body: usize,
}

/// What `serve` runs, every value checked.
#[derive(Clone, Debug)]
pub struct ServeSettings {
    /// The runtime's settings; `listen` holds the listeners' ports. With the kernel stack
    /// only its cores are used.
    pub runtime: RuntimeConfig,
    pub listeners: Vec<Listener>,
    pub stack: StackKind,
    pub management: ManagementSettings,
}

/// How a running server is observed (`[management]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManagementSettings {
    /// The management socket's path; `None` when turned off.
    pub socket: Option<PathBuf>,
    /// The socket's group, as its name and id; `None`: the server's user only.
    pub group: Option<(String, u32)>,
    /// The Prometheus endpoint's address; `None` (the default) when off.
    pub prometheus: Option<SocketAddr>,
}

/// `value` if it lies in `range`, else an error in the form `"queues": must be 1..64, got 0`.
fn within<T: PartialOrd + Display + Copy>(
    key: &str,
    value: T,
    range: RangeInclusive<T>,
) -> Result<T, SettingError> {
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(SettingError::new(
            key,
            format!("must be {}..{}, got {value}", range.start(), range.end()),
        ))
    }
}

fn power_of_two(key: &str, value: u32, range: RangeInclusive<u32>) -> Result<u32, SettingError> {
    within(key, value, range)?;
    if value.is_power_of_two() {
        Ok(value)
    } else {
        Err(SettingError::new(
            key,
            format!("must be a power of two, got {value}"),
        ))
    }
}

fn millis(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

impl ServeFile {
    /// Checks every value and builds the settings; absent keys take their defaults
    /// (`deploy/xdptcp.toml` lists them).
    pub fn settings(&self) -> Result<ServeSettings, SettingError> {
        let stack = self.stack.unwrap_or(StackKind::Xdptcp);
        let interface = match (&self.interface, stack) {
            (Some(name), _) if name.is_empty() => {
                return Err(SettingError::new("interface", "must not be empty"))
            }
            (Some(name), _) => name.clone(),
            (None, StackKind::Xdptcp) => {
                return Err(SettingError::new(
                    "interface",
                    "required for the xdptcp stack (give --iface or interface = \"...\")",
                ))
            }
            (None, StackKind::Kernel) => String::new(),
        };
        let mut runtime = RuntimeConfig::new(&interface);
        runtime.ipv4 = self.ip;
        runtime.more_ipv4 = self.more_addresses()?;
        runtime.queues = within("queues", self.queues.unwrap_or(1), 1..=MAX_QUEUES)?;
        runtime.cores = self.checked_cores()?;
        runtime.idle = self.idle_policy()?;
        runtime.xdp_attach = match self.xdp_mode.unwrap_or(XdpModeChoice::Auto) {
            XdpModeChoice::Auto => XdpAttach::Auto,
            XdpModeChoice::Native => XdpAttach::Native,
            XdpModeChoice::Generic => XdpAttach::Generic,
        };
        runtime.xsk.zero_copy = match self.zero_copy.unwrap_or(ZeroCopyChoice::Prefer) {
            ZeroCopyChoice::Prefer => ZeroCopy::Prefer,
            ZeroCopyChoice::Require => ZeroCopy::Require,
            ZeroCopyChoice::Off => ZeroCopy::Off,
        };
        runtime.xsk.busy_poll = self.busy_poll()?;
        self.apply_umem(&mut runtime)?;
        self.apply_limits(&mut runtime)?;
        runtime.tcp = self.tcp_config()?;
        let listeners = self.listeners()?;
        runtime.listen = listeners.iter().map(|l| l.port).collect();
        let management = self.management_settings()?;
        Ok(ServeSettings {
            runtime,
            listeners,
            stack,
            management,
        })
    }

    fn management_settings(&self) -> Result<ManagementSettings, SettingError> {
        let file = &self.management;
        let socket = match file.socket.as_deref() {
            None => Some(PathBuf::from(crate::management::DEFAULT_SOCKET_PATH)),
            Some(MANAGEMENT_OFF) => None,
            Some(path) if Path::new(path).is_absolute() => Some(PathBuf::from(path)),
            Some(other) => {
                return Err(SettingError::new(
                    "management.socket",
                    format!("must be an absolute path or \"{MANAGEMENT_OFF}\", got {other:?}"),
                ))
            }
        };
        let group = match file.group.as_deref() {
            None => None,
            Some(name) => match crate::host::group_id(name) {
                Some(gid) => Some((name.to_string(), gid)),
                None => {
                    return Err(SettingError::new(
                        "management.group",
                        format!("no group {name:?} in /etc/group"),
                    ))
                }
            },
        };
        Ok(ManagementSettings {
            socket,
            group,
            prometheus: file.prometheus,
        })
    }

    /// `more_ips`: every address each entry names, in order.
    fn more_addresses(&self) -> Result<Vec<Ipv4Addr>, SettingError> {
        let mut all = Vec::new();
        for entry in self.more_ips.iter().flatten() {
            let addresses = parse_address_range(entry)
                .map_err(|e| SettingError::new("more_ips", e.to_string()))?;
            all.extend(addresses);
        }
        if all.len() > MAX_ADDRESSES {
            return Err(SettingError::new(
                "more_ips",
                format!("at most {MAX_ADDRESSES} addresses, got {}", all.len()),
            ));
        }
        Ok(all)
    }

    fn checked_cores(&self) -> Result<Vec<usize>, SettingError> {
        let cores = self.cores.clone().unwrap_or_default();
        let available = core_affinity::get_core_ids().map_or(0, |c| c.len());
        match cores.iter().find(|&&core| core >= available) {
            Some(core) => Err(SettingError::new(
                "cores",
                format!(
                    "core {core} does not exist (this machine has {available}, numbered from 0)"
                ),
            )),
            None => Ok(cores),
        }
    }

    fn idle_policy(&self) -> Result<IdlePolicy, SettingError> {
        let spin_us = within("spin_us", self.spin_us.unwrap_or(50), 0..=MAX_SPIN_US)?;
        Ok(match self.idle.unwrap_or(IdleChoice::Auto) {
            IdleChoice::Auto => IdlePolicy::Auto,
            IdleChoice::Spin => IdlePolicy::BusySpin,
            IdleChoice::Poll => IdlePolicy::Poll,
            IdleChoice::Hybrid => IdlePolicy::Hybrid {
                spin: Duration::from_micros(spin_us),
            },
        })
    }

    /// Busy polling when `busy_poll_us` is above 0; the budget is checked either way.
    fn busy_poll(&self) -> Result<Option<BusyPoll>, SettingError> {
        let budget = within(
            "busy_poll_budget",
            self.busy_poll_budget.unwrap_or(BusyPoll::DEFAULT_BUDGET),
            1..=u16::MAX,
        )?;
        Ok(match self.busy_poll_us.unwrap_or(0) {
            0 => None,
            usecs => Some(BusyPoll {
                usecs: within("busy_poll_us", usecs, 1..=1_000_000)?,
                budget,
            }),
        })
    }

    fn apply_umem(&self, runtime: &mut RuntimeConfig) -> Result<(), SettingError> {
        let umem = &self.umem;
        let xsk = &mut runtime.xsk;
        xsk.frame_count = power_of_two(
            "umem.frame_count",
            umem.frame_count.unwrap_or(xsk.frame_count),
            64..=1 << 20,
        )?;
        xsk.frame_size = match umem.frame_size.unwrap_or(xsk.frame_size) {
            size @ (2048 | 4096) => size,
            other => {
                return Err(SettingError::new(
                    "umem.frame_size",
                    format!("must be 2048 or 4096, got {other}"),
                ))
            }
        };
        xsk.huge_pages = match umem.hugepages.unwrap_or(HugePagesChoice::Prefer) {
            HugePagesChoice::Prefer => HugePages::Prefer,
            HugePagesChoice::Require => HugePages::Require,
            HugePagesChoice::Off => HugePages::Off,
        };
        // The fill ring is given every RX frame (half the UMEM) when the socket opens.
        xsk.ring_size = xsk.frame_count / 2;
        runtime.batch = within(
            "umem.batch",
            umem.batch.unwrap_or(runtime.batch),
            1..=MAX_BATCH,
        )?;
        Ok(())
    }

    fn apply_limits(&self, runtime: &mut RuntimeConfig) -> Result<(), SettingError> {
        let limits = &self.limits;
        runtime.max_connections_per_worker = within(
            "limits.connections_per_worker",
            limits
                .connections_per_worker
                .unwrap_or(runtime.max_connections_per_worker),
            1..=1 << 22,
        )?;
        if let Some(limit) = limits.buffer_memory {
            let bytes = usize::try_from(limit.0)
                .map_err(|_| SettingError::new("limits.buffer_memory", "too large"))?;
            runtime.buffer_memory_limit = Some(bytes);
        }
        runtime.backlog = within(
            "limits.backlog",
            limits.backlog.unwrap_or(runtime.backlog),
            1..=1 << 20,
        )?;
        runtime.accept_queue = within(
            "limits.accept_queue",
            limits.accept_queue.unwrap_or(runtime.accept_queue),
            1..=1 << 20,
        )?;
        if let Some(mode) = &limits.syn_cookies {
            runtime.syn_cookies = match mode.as_str() {
                "when-backlog-full" => SynCookies::WhenBacklogFull,
                "always" => SynCookies::Always,
                "off" => SynCookies::Off,
                other => {
                    return Err(SettingError::new(
                        "limits.syn_cookies",
                        format!("{other:?} is not a mode (when-backlog-full, always, off)"),
                    ))
                }
            };
        }
        Ok(())
    }

    /// The TCP settings, checked by the core's own rules ([`tcp::Config::validate`]), its
    /// complaint told with the file's key and value.
    fn tcp_config(&self) -> Result<tcp::Config, SettingError> {
        let file = &self.tcp;
        let mut config = tcp::Config {
            // Nagle off unless asked for: serve is built for latency.
            nodelay: !file.nagle.unwrap_or(false),
            ..tcp::Config::default()
        };
        let buffer = |size: Option<super::ByteSize>, default: usize, key: &str| {
            let bytes = size.map_or(default as u64, |s| s.0);
            usize::try_from(bytes).map_err(|_| SettingError::new(key, "too large"))
        };
        config.mss = file.mss.unwrap_or(config.mss);
        config.send_buffer = buffer(file.send_buffer, config.send_buffer, "tcp.send_buffer")?;
        config.recv_buffer = buffer(file.recv_buffer, config.recv_buffer, "tcp.recv_buffer")?;
        config.window_scaling = file.window_scaling.unwrap_or(config.window_scaling);
        config.delayed_ack = file.delayed_ack_ms.map_or(config.delayed_ack, millis);
        config.initial_rto = file.initial_rto_ms.map_or(config.initial_rto, millis);
        config.min_rto = file.min_rto_ms.map_or(config.min_rto, millis);
        config.max_rto = file.max_rto_ms.map_or(config.max_rto, millis);
        config.syn_retries = file.syn_retries.unwrap_or(config.syn_retries);
        config.synack_retries = file.synack_retries.unwrap_or(config.synack_retries);
        config.data_retries = file.data_retries.unwrap_or(config.data_retries);
        config.msl = file.msl_ms.map_or(config.msl, millis);
        config.user_timeout = file.user_timeout_ms.map(millis);
        config.timestamps = file.timestamps.unwrap_or(config.timestamps);
        config.sack = file.sack.unwrap_or(config.sack);
        if let Some(name) = &file.congestion {
            config.congestion = name.parse().map_err(|_| {
                SettingError::new(
                    "tcp.congestion",
                    format!("{name:?} is not an algorithm (cubic, newreno)"),
                )
            })?;
        }
        config.validate().map_err(|e| {
            let (key, got) = tcp_key(e.field, &config);
            SettingError::new(key, format!("{}, got {got}", e.reason))
        })?;
        Ok(config)
    }

    fn listeners(&self) -> Result<Vec<Listener>, SettingError> {
        let mut listeners: Vec<Listener> = Vec::new();
        for (i, entry) in self.listen.iter().flatten().enumerate() {
            let key = |name: &str| format!("listen[{i}].{name}");
            let port = within(&key("port"), entry.port, 1..=u16::MAX)?;
            if let Some(first) = listeners.iter().position(|l| l.port == port) {
                return Err(SettingError::new(
                    key("port"),
                    format!("port {port} is already served by listen[{first}]"),
                ));
            }
            let http_body = match (entry.app, entry.http_body) {
                (AppKind::Http, size) => within(
                    &key("http_body"),
                    size.map_or(DEFAULT_HTTP_BODY, |s| s.0),
                    0..=MAX_HTTP_BODY,
                )? as usize,
                (_, None) => 0,
                (app, Some(_)) => {
                    return Err(SettingError::new(
                        key("http_body"),
                        format!(
                            "only the http app has a body, this listener runs {}",
                            app.name()
                        ),
                    ))
                }
            };
            listeners.push(Listener {
                port,
                app: entry.app,
                http_body,
            });
        }
        Ok(listeners)
    }
}

/// The file's key for a field [`tcp::Config::validate`] names, and the value it has.
fn tcp_key(field: &str, config: &tcp::Config) -> (String, String) {
    let ms = |d: Duration| d.as_millis().to_string();
    let (key, got) = match field {
        "mss" => ("mss", config.mss.to_string()),
        "send_buffer" => ("send_buffer", config.send_buffer.to_string()),
        "recv_buffer" => ("recv_buffer", config.recv_buffer.to_string()),
        "delayed_ack" => ("delayed_ack_ms", ms(config.delayed_ack)),
        "min_rto" => ("min_rto_ms", ms(config.min_rto)),
        "initial_rto" => ("initial_rto_ms", ms(config.initial_rto)),
        "msl" => ("msl_ms", ms(config.msl)),
        "user_timeout" => (
            "user_timeout_ms",
            config.user_timeout.map_or_else(String::new, ms),
        ),
        "retries" => (
            "syn_retries, synack_retries, data_retries",
            format!(
                "{}, {}, {}",
                config.syn_retries, config.synack_retries, config.data_retries
            ),
        ),
        other => (other, String::from("?")),
    };
    (format!("tcp.{key}"), got)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tcp::congestion::Algorithm;

    fn problem(text: &str) -> String {
        match ServeFile::parse(text) {
            Err(e) => e.to_string(),
            Ok(file) => file
                .settings()
                .map(|_| String::from("valid"))
                .unwrap_or_else(|e| e.to_string()),
        }
    }

    #[test]
    fn the_buffer_memory_limit_is_a_byte_count_and_absent_by_default() {
        let settings = |text: &str| ServeFile::parse(text).unwrap().settings().unwrap();
        let base = "interface = \"eth0\"\n";
        assert_eq!(settings(base).runtime.buffer_memory_limit, None);
        let limited = settings(&format!("{base}[limits]\nbuffer_memory = \"64M\"\n"));
        assert_eq!(limited.runtime.buffer_memory_limit, Some(64 << 20));
    }

    #[test]
    fn a_file_with_two_listeners_becomes_settings() {
        let file = ServeFile::parse(
            "interface = \"eth0\"\nqueues = 2\nidle = \"hybrid\"\nspin_us = 20\n\
             [[listen]]\nport = 7\napp = \"echo\"\n\
             [[listen]]\nport = 80\napp = \"http\"\nhttp_body = \"4K\"\n\
             [tcp]\nrecv_buffer = \"1M\"\nnagle = true\ncongestion = \"newreno\"\nsack = false\n\
             [limits]\nbacklog = 64\naccept_queue = 128\nsyn_cookies = \"always\"\n",
        )
        .unwrap();
        let settings = file.settings().unwrap();
        assert_eq!(settings.runtime.iface, "eth0");
        assert_eq!(settings.runtime.queues, 2);
        assert_eq!(settings.runtime.listen, vec![7, 80]);
        assert_eq!(
            settings.runtime.idle,
            IdlePolicy::Hybrid {
                spin: Duration::from_micros(20)
            }
        );
        assert_eq!(settings.listeners[1].http_body, 4096);
        assert_eq!(settings.runtime.tcp.recv_buffer, 1 << 20);
        assert!(!settings.runtime.tcp.nodelay);
        assert_eq!(settings.runtime.tcp.congestion, Algorithm::NewReno);
        assert!(!settings.runtime.tcp.sack);
        assert!(settings.runtime.tcp.timestamps);
        assert_eq!(settings.runtime.backlog, 64);
        assert_eq!(settings.runtime.accept_queue, 128);
        assert_eq!(settings.runtime.syn_cookies, SynCookies::Always);
        assert_eq!(settings.stack, StackKind::Xdptcp);
        assert_eq!(
            settings.management,
            ManagementSettings {
                socket: Some(PathBuf::from("/run/xdptcp/xdptcp.sock")),
                group: None,
                prometheus: None,
            }
        );
    }

    #[test]
    fn the_management_socket_can_be_moved_or_turned_off_and_prometheus_turned_on() {
        let settings = |text: &str| {
            ServeFile::parse(&format!("interface = \"eth0\"\n[management]\n{text}"))
                .unwrap()
                .settings()
                .unwrap()
                .management
        };
        let moved = settings("socket = \"/tmp/m.sock\"\nprometheus = \"127.0.0.1:9464\"");
        assert_eq!(moved.socket, Some(PathBuf::from("/tmp/m.sock")));
        assert_eq!(moved.prometheus, Some("127.0.0.1:9464".parse().unwrap()));
        assert_eq!(settings("socket = \"off\"").socket, None);
        assert_eq!(settings("group = \"root\"").group, Some(("root".into(), 0)));
    }

    #[test]
    fn zero_copy_is_prefer_require_or_off_and_true_and_false_still_mean_prefer_and_off() {
        let zero_copy = |value: &str| {
            ServeFile::parse(&format!("interface = \"eth0\"\n{value}"))
                .unwrap()
                .settings()
                .unwrap()
                .runtime
                .xsk
                .zero_copy
        };
        assert_eq!(zero_copy(""), ZeroCopy::Prefer);
        assert_eq!(zero_copy("zero_copy = \"prefer\""), ZeroCopy::Prefer);
        assert_eq!(zero_copy("zero_copy = \"require\""), ZeroCopy::Require);
        assert_eq!(zero_copy("zero_copy = \"off\""), ZeroCopy::Off);
        assert_eq!(zero_copy("zero_copy = true"), ZeroCopy::Prefer);
        assert_eq!(zero_copy("zero_copy = false"), ZeroCopy::Off);
        let refused = problem("interface = \"eth0\"\nzero_copy = \"always\"");
        assert!(
            refused.contains("zero_copy") && refused.contains("\"require\""),
            "{refused}"
        );
    }

    #[test]
    fn umem_hugepages_is_prefer_by_default_require_or_off() {
        let huge_pages = |value: &str| {
            ServeFile::parse(&format!("interface = \"eth0\"\n[umem]\n{value}"))
                .unwrap()
                .settings()
                .unwrap()
                .runtime
                .xsk
                .huge_pages
        };
        assert_eq!(huge_pages(""), HugePages::Prefer);
        assert_eq!(huge_pages("hugepages = \"require\""), HugePages::Require);
        assert_eq!(huge_pages("hugepages = \"off\""), HugePages::Off);
        let refused = problem("interface = \"eth0\"\n[umem]\nhugepages = \"always\"");
        assert!(
            refused.starts_with("line 3: \"umem.hugepages\": unknown variant `always`"),
            "{refused}"
        );
    }

    #[test]
    fn errors_name_the_key_and_the_problem() {
        let base = "interface = \"eth0\"\n";
        let check = |extra: &str| problem(&format!("{base}{extra}"));
        assert_eq!(check("queues = 0"), "\"queues\": must be 1..64, got 0");
        assert_eq!(
            check("[[listen]]\nport = 7\nprot = 8\napp = \"echo\""),
            "unknown key \"listen[0].prot\""
        );
        assert_eq!(check("[tcpp]\nmss = 1"), "unknown key \"tcpp\"");
        assert_eq!(
            check("queues = \"two\""),
            "line 2: \"queues\": invalid type: string \"two\", expected u32"
        );
        assert!(
            check("[[listen]]\nport = 7\napp = \"ech\"")
                .starts_with("line 4: \"listen[0].app\": unknown variant `ech`"),
            "{}",
            check("[[listen]]\nport = 7\napp = \"ech\"")
        );
        assert_eq!(
            check("[[listen]]\nport = 7\napp = \"echo\"\n[[listen]]\nport = 7\napp = \"http\""),
            "\"listen[1].port\": port 7 is already served by listen[0]"
        );
        assert_eq!(
            check("[[listen]]\nport = 7\napp = \"echo\"\nhttp_body = 10"),
            "\"listen[0].http_body\": only the http app has a body, this listener runs echo"
        );
        assert_eq!(
            check("[limits]\nsyn_cookies = \"sometimes\""),
            "\"limits.syn_cookies\": \"sometimes\" is not a mode (when-backlog-full, always, off)"
        );
        assert_eq!(
            check("[limits]\naccept_queue = 0"),
            "\"limits.accept_queue\": must be 1..1048576, got 0"
        );
        assert_eq!(
            check("[management]\ngroup = \"no-such-group-xdptcp\""),
            "\"management.group\": no group \"no-such-group-xdptcp\" in /etc/group"
        );
        assert_eq!(
            check("busy_poll_us = 2000000"),
            "\"busy_poll_us\": must be 1..1000000, got 2000000"
        );
        assert_eq!(
            check("busy_poll_budget = 0"),
            "\"busy_poll_budget\": must be 1..65535, got 0"
        );
        assert_eq!(
            check("[tcp]\ncongestion = \"bbr\""),
            "\"tcp.congestion\": \"bbr\" is not an algorithm (cubic, newreno)"
        );
        assert_eq!(
            check("[tcp]\nmss = 10"),
            "\"tcp.mss\": must be between 88 and 9000 bytes, got 10"
        );
        assert_eq!(
            check("[tcp]\nsend_buffer = \"lots\""),
            "line 3: \"tcp.send_buffer\": \"lots\" is not a byte count (examples: 1500, 64K, 4M, 1G)"
        );
        assert_eq!(
            check("[umem]\nframe_count = 1000"),
            "\"umem.frame_count\": must be a power of two, got 1000"
        );
        assert_eq!(
            check("cores = [4096]"),
            format!(
                "\"cores\": core 4096 does not exist (this machine has {}, numbered from 0)",
                core_affinity::get_core_ids().map_or(0, |c| c.len())
            )
        );
        assert_eq!(
            check("[management]\nsocket = \"x.sock\""),
            "\"management.socket\": must be an absolute path or \"off\", got \"x.sock\""
        );
        assert!(check("[management]\nprometheus = \"localhost:9464\"")
            .starts_with("line 3: \"management.prometheus\": invalid socket address syntax"));
        let syntax = check("queues = [");
        assert!(syntax.starts_with("line 2: "), "{syntax}");
        assert_eq!(
            problem(""),
            "\"interface\": required for the xdptcp stack (give --iface or interface = \"...\")"
        );
        assert_eq!(problem("stack = \"kernel\""), "valid");
    }
}
