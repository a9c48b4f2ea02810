//! Loading, attaching and feeding the XDP steering program (`bpf/xdp_steer.c`).
//!
//! The program is attached through a BPF link (`bpf_link_create`), not the netlink attach
//! that `ip link` uses: the kernel detaches a link's program when the last file descriptor to
//! the link closes, so the program goes away when xdptcp stops — on a clean exit, Ctrl-C, a
//! panic, or even SIGKILL — and a second attach to the same interface fails with EBUSY
//! instead of silently replacing ours.

use std::ffi::{c_void, CStr};
use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::ptr::NonNull;

use libbpf_sys as bpf;

use super::cookie_ports::{CookieAnswer, CookieAnswerValue, CookiePorts};
use super::counters::{ProgramCounters, QueueCounters};
use super::XdpError;

/// The compiled program (built by `build.rs` from `bpf/`), 8-byte aligned for libelf.
#[repr(C, align(8))]
struct Aligned<T: ?Sized>(T);
static OBJECT: &Aligned<[u8]> = &Aligned(*include_bytes!(concat!(env!("OUT_DIR"), "/xdp_steer.o")));

/// Mirrors `XDPTCP_MAX_QUEUES` in `bpf/xdp_steer.h`.
pub const MAX_QUEUES: u32 = 64;

/// Mirrors `XDPTCP_MAX_ADDRESSES` in `bpf/xdp_steer.h`.
pub const MAX_ADDRESSES: usize = 1024;

/// Mirrors `struct xdptcp_config` in `bpf/xdp_steer.h`.
#[repr(C)]
#[derive(Copy, Clone, Default)]
struct ConfigValue {
    ipv4: u32, // network byte order
    enabled: u32,
    more_addresses: u32,
    reserved0: u32,
    cookie: CookieAnswerValue,
}

/// How the program runs on the interface.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum XdpMode {
    /// In the driver (`XDP_FLAGS_DRV_MODE`): before any socket buffer is allocated.
    Native,
    /// In the generic network path (`XDP_FLAGS_SKB_MODE`), for drivers without XDP.
    Generic,
}

impl std::fmt::Display for XdpMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            XdpMode::Native => "native",
            XdpMode::Generic => "generic (SKB)",
        })
    }
}

/// Which attach mode to ask for.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub enum XdpAttach {
    /// Native where the driver has it, generic otherwise — except on a veth served by one
    /// queue, where generic goes first: a veth in native mode converts every socket buffer
    /// to an XDP frame (a copy), and generic XDP measured faster there (`xdptcp floor ping`
    /// RTT p50 2.96 µs generic vs 3.75 µs native on the bench VM). With several queues a
    /// veth needs native mode: only its NAPI path records the receive queue, so in generic
    /// mode every frame reports queue 0 and the other queues' sockets see nothing.
    #[default]
    Auto,
    /// Native only: fail if the driver has no XDP support.
    Native,
    /// Generic (SKB) only.
    Generic,
}

/// A name that is not an [`XdpAttach`] mode.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an XDP mode (auto, native, generic)")]
pub struct UnknownXdpMode(pub String);

impl std::str::FromStr for XdpAttach {
    type Err = UnknownXdpMode;
    fn from_str(text: &str) -> Result<XdpAttach, UnknownXdpMode> {
        match text {
            "auto" => Ok(XdpAttach::Auto),
            "native" => Ok(XdpAttach::Native),
            "generic" => Ok(XdpAttach::Generic),
            _ => Err(UnknownXdpMode(text.to_string())),
        }
    }
}

/// The loaded and attached program and its maps.
pub struct XdpProgram {
    object: NonNull<bpf::bpf_object>,
    /// Held, never read: closing it detaches the program.
    _link: OwnedFd,
    mode: XdpMode,
    iface: String,
    xsks_fd: RawFd,
    ports_fd: RawFd,
    config_fd: RawFd,
    stats_fd: RawFd,
    cookie_ports_fd: RawFd,
    addresses_fd: RawFd,
    possible_cpus: usize,
}

// SAFETY: the bpf_object is only used through &self/&mut self methods that call libbpf
// functions which do not depend on the calling thread; nothing else holds the pointer.
unsafe impl Send for XdpProgram {}
// SAFETY: after loading, &self methods only read map file descriptors and call bpf() map
// operations, which the kernel serializes; libbpf object state is not mutated.
unsafe impl Sync for XdpProgram {}

impl std::fmt::Debug for XdpProgram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XdpProgram")
            .field("iface", &self.iface)
            .field("mode", &self.mode)
            .finish()
    }
}

pub(super) fn last_os_error_or(code: i32) -> io::Error {
    if code < 0 {
        io::Error::from_raw_os_error(-code)
    } else {
        io::Error::last_os_error()
    }
}

fn map_fd(object: NonNull<bpf::bpf_object>, name: &CStr) -> Result<RawFd, XdpError> {
    // SAFETY: `object` is a loaded bpf_object and `name` a NUL-terminated string.
    let fd = unsafe { bpf::bpf_object__find_map_fd_by_name(object.as_ptr(), name.as_ptr()) };
    if fd < 0 {
        return Err(XdpError::Load(format!(
            "map {} missing from the program",
            name.to_string_lossy()
        )));
    }
    Ok(fd)
}

impl XdpProgram {
    /// Loads the program, attaches it to `iface` in the mode `attach` asks for (`queues`
    /// is how many receive queues the stack binds, which [`XdpAttach::Auto`] weighs), and
    /// sets the stack's address. Frames are not steered until [`XdpProgram::enable`] is
    /// called.
    pub fn load_and_attach(
        iface: &str,
        ipv4: Ipv4Addr,
        attach: XdpAttach,
        queues: u32,
    ) -> Result<XdpProgram, XdpError> {
        let ifindex = crate::host::interface_index(iface)?;
        let name = c"xdptcp_steer";
        let opts = bpf::bpf_object_open_opts {
            sz: std::mem::size_of::<bpf::bpf_object_open_opts>() as _,
            object_name: name.as_ptr(),
            // SAFETY: all-zero is the documented default for every other field of the opts.
            ..unsafe { std::mem::zeroed() }
        };
        // SAFETY: OBJECT is 'static and outlives the bpf_object; opts is valid for the call.
        let raw = unsafe {
            bpf::bpf_object__open_mem(
                OBJECT.0.as_ptr().cast::<c_void>(),
                OBJECT.0.len() as _,
                &opts,
            )
        };
        let object = NonNull::new(raw).ok_or_else(|| {
            XdpError::Load(format!(
                "opening the object: {}",
                io::Error::last_os_error()
            ))
        })?;
        // From here on, dropping `guard` closes the object if anything fails.
        struct Guard(Option<NonNull<bpf::bpf_object>>);
        impl Drop for Guard {
            fn drop(&mut self) {
                if let Some(o) = self.0.take() {
                    // SAFETY: the object was opened by bpf_object__open_mem and is closed once.
                    unsafe { bpf::bpf_object__close(o.as_ptr()) };
                }
            }
        }
        let mut guard = Guard(Some(object));
        // SAFETY: `object` was just opened and is not shared.
        let err = unsafe { bpf::bpf_object__load(object.as_ptr()) };
        if err != 0 {
            let e = last_os_error_or(err);
            return Err(XdpError::from_os(&e).unwrap_or_else(|| {
                XdpError::Load(format!("the kernel refused the program: {e}"))
            }));
        }
        // SAFETY: `object` is loaded; the name is NUL-terminated.
        let prog = unsafe { bpf::bpf_object__find_program_by_name(object.as_ptr(), name.as_ptr()) };
        if prog.is_null() {
            return Err(XdpError::Load(
                "program xdptcp_steer missing from the object".into(),
            ));
        }
        // SAFETY: `prog` belongs to the loaded object.
        let prog_fd = unsafe { bpf::bpf_program__fd(prog) };
        let xsks_fd = map_fd(object, c"xsks")?;
        let ports_fd = map_fd(object, c"ports")?;
        let config_fd = map_fd(object, c"config")?;
        let stats_fd = map_fd(object, c"stats")?;
        let cookie_ports_fd = map_fd(object, c"cookie_ports")?;
        let addresses_fd = map_fd(object, c"addresses")?;

        let config = ConfigValue {
            ipv4: u32::from_ne_bytes(ipv4.octets()),
            ..ConfigValue::default()
        };
        update(config_fd, "config", &0u32, &config)?;

        let (link, mode) = attach_program(prog_fd, ifindex, iface, attach, queues)?;
        // SAFETY: no preconditions.
        let cpus = unsafe { bpf::libbpf_num_possible_cpus() };
        guard.0 = None;
        Ok(XdpProgram {
            object,
            _link: link,
            mode,
            iface: iface.to_string(),
            xsks_fd,
            ports_fd,
            config_fd,
            stats_fd,
            cookie_ports_fd,
            addresses_fd,
            possible_cpus: cpus.max(1) as usize,
        })
    }

    /// Where the program runs.
    pub fn mode(&self) -> XdpMode {
        self.mode
    }

    pub fn iface(&self) -> &str {
        &self.iface
    }

    /// Marks `port` as the stack's (its frames go to the sockets) or not.
    pub fn set_port(&self, port: u16, owned: bool) -> Result<(), XdpError> {
        update(self.ports_fd, "ports", &u32::from(port), &u8::from(owned))
    }

    /// Puts the AF_XDP socket `xsk_fd` in the slot of RX queue `queue`.
    pub fn set_socket(&self, queue: u32, xsk_fd: RawFd) -> Result<(), XdpError> {
        if queue >= MAX_QUEUES {
            return Err(XdpError::Limit {
                what: "queue",
                value: u64::from(queue),
                max: u64::from(MAX_QUEUES - 1),
            });
        }
        update(self.xsks_fd, "xsks", &queue, &(xsk_fd as u32))
    }

    /// Starts steering (call after the ports and sockets are in place): frames to `ipv4`
    /// and to each of `more_addresses` are the stack's. With `cookies`, SYNs to the (queue,
    /// port) pairs that [`CookiePorts`] marks are answered in the program with the SYN
    /// cookie SYN,ACK the stack would send; without, no SYN is.
    pub fn enable(
        &self,
        ipv4: Ipv4Addr,
        more_addresses: &[Ipv4Addr],
        cookies: Option<&CookieAnswer>,
    ) -> Result<(), XdpError> {
        if more_addresses.len() > MAX_ADDRESSES {
            return Err(XdpError::Limit {
                what: "further addresses",
                value: more_addresses.len() as u64,
                max: MAX_ADDRESSES as u64,
            });
        }
        for address in more_addresses {
            let key = u32::from_ne_bytes(address.octets());
            update(self.addresses_fd, "addresses", &key, &1u8)?;
        }
        let config = ConfigValue {
            ipv4: u32::from_ne_bytes(ipv4.octets()),
            enabled: 1,
            more_addresses: u32::from(!more_addresses.is_empty()),
            reserved0: 0,
            cookie: cookies.map(CookieAnswer::value).unwrap_or_default(),
        };
        update(self.config_fd, "config", &0u32, &config)
    }

    /// A handle for the workers to mark and unmark the ports whose SYNs the program answers
    /// with cookies (its own descriptor of the `cookie_ports` map).
    pub fn cookie_ports(&self) -> Result<CookiePorts, XdpError> {
        CookiePorts::new(self.cookie_ports_fd)
    }

    /// The program's counters for RX queue `queue`, summed over CPUs.
    pub fn queue_counters(&self, queue: u32) -> Result<QueueCounters, XdpError> {
        super::counters::lookup(self.stats_fd, self.possible_cpus, queue)
    }

    /// A reader of the program's counters that other threads may hold (it keeps its own
    /// descriptor of the map, so it stays valid while any reader lives).
    pub fn counters(&self) -> Result<ProgramCounters, XdpError> {
        ProgramCounters::new(self.stats_fd, self.possible_cpus)
    }
}

fn update<K, V>(fd: RawFd, map: &'static str, key: &K, value: &V) -> Result<(), XdpError> {
    // SAFETY: `key` and `value` point to initialized values of the sizes the map was declared
    // with (checked by the layout mirrors above); the kernel copies them during the call.
    let err = unsafe {
        bpf::bpf_map_update_elem(
            fd,
            (key as *const K).cast(),
            (value as *const V).cast(),
            u64::from(bpf::BPF_ANY),
        )
    };
    if err != 0 {
        let e = last_os_error_or(err);
        return Err(XdpError::from_os(&e).unwrap_or(XdpError::Map { map, source: e }));
    }
    Ok(())
}

/// Why attaching found the interface taken: another xdptcp instance, or a foreign program.
fn taken(ifindex: u32, iface: &str) -> XdpError {
    let mut name = String::from("unknown");
    for mode in [bpf::XDP_FLAGS_DRV_MODE, bpf::XDP_FLAGS_SKB_MODE] {
        let mut id: u32 = 0;
        // SAFETY: `id` is a valid u32 for the kernel to fill.
        let rc = unsafe { bpf::bpf_xdp_query_id(ifindex as i32, mode as i32, &mut id) };
        if rc != 0 || id == 0 {
            continue;
        }
        // SAFETY: a plain lookup by id; a negative result is checked.
        let fd = unsafe { bpf::bpf_prog_get_fd_by_id(id) };
        if fd < 0 {
            continue;
        }
        // SAFETY: all-zero is a valid bpf_prog_info; the kernel fills at most `len` bytes.
        let mut info: bpf::bpf_prog_info = unsafe { std::mem::zeroed() };
        let mut len = std::mem::size_of::<bpf::bpf_prog_info>() as u32;
        // SAFETY: `info` and `len` are valid for writing; `fd` is the program's descriptor.
        let rc = unsafe { bpf::bpf_prog_get_info_by_fd(fd, &mut info, &mut len) };
        // SAFETY: closing the descriptor we got above, once.
        unsafe { libc::close(fd) };
        if rc == 0 {
            let bytes: Vec<u8> = info
                .name
                .iter()
                .take_while(|&&c| c != 0)
                .map(|&c| c as u8)
                .collect();
            name = String::from_utf8_lossy(&bytes).into_owned();
            break;
        }
    }
    if name == "xdptcp_steer" {
        XdpError::InterfaceOwned {
            iface: iface.into(),
        }
    } else {
        XdpError::AlreadyAttached {
            iface: iface.into(),
            program: name,
        }
    }
}

/// Attaches `prog_fd` to `ifindex` with a BPF link, trying the modes `attach` allows in
/// order; the first that the driver takes wins.
fn attach_program(
    prog_fd: RawFd,
    ifindex: u32,
    iface: &str,
    attach: XdpAttach,
    queues: u32,
) -> Result<(OwnedFd, XdpMode), XdpError> {
    let try_mode = |mode: XdpMode| -> Result<OwnedFd, io::Error> {
        let flags = match mode {
            XdpMode::Native => bpf::XDP_FLAGS_DRV_MODE,
            XdpMode::Generic => bpf::XDP_FLAGS_SKB_MODE,
        };
        let opts = bpf::bpf_link_create_opts {
            sz: std::mem::size_of::<bpf::bpf_link_create_opts>() as _,
            flags,
            // SAFETY: all-zero is the documented default for the remaining fields.
            ..unsafe { std::mem::zeroed() }
        };
        // SAFETY: prog_fd is a loaded XDP program; opts is valid for the call.
        let fd = unsafe { bpf::bpf_link_create(prog_fd, ifindex as i32, bpf::BPF_XDP, &opts) };
        if fd < 0 {
            return Err(last_os_error_or(fd));
        }
        // SAFETY: bpf_link_create returned a new file descriptor that nothing else owns.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    };
    let order: &[XdpMode] = match attach {
        XdpAttach::Native => &[XdpMode::Native],
        XdpAttach::Generic => &[XdpMode::Generic],
        XdpAttach::Auto if queues == 1 && is_veth(iface) => &[XdpMode::Generic, XdpMode::Native],
        XdpAttach::Auto => &[XdpMode::Native, XdpMode::Generic],
    };
    let busy = |e: &io::Error| matches!(e.raw_os_error(), Some(libc::EBUSY) | Some(libc::EEXIST));
    let mut last_error = None;
    for &mode in order {
        match try_mode(mode) {
            Ok(link) => return Ok((link, mode)),
            Err(e) if busy(&e) => return Err(taken(ifindex, iface)),
            Err(e) => {
                if let Some(err) = XdpError::from_os(&e) {
                    return Err(err);
                }
                last_error = Some((mode, e));
            }
        }
    }
    let (mode, source) = last_error.expect("at least one mode was tried");
    Err(XdpError::Attach {
        iface: iface.into(),
        mode: mode.to_string(),
        source,
    })
}

/// True when `iface` is a veth device (see [`crate::host::driver_name`]).
fn is_veth(iface: &str) -> bool {
    matches!(crate::host::driver_name(iface), Ok(Some(driver)) if driver == "veth")
}

impl Drop for XdpProgram {
    fn drop(&mut self) {
        // Stop steering first, so nothing is redirected to sockets that are going away.
        let _ = update(self.config_fd, "config", &0u32, &ConfigValue::default());
        // The link closes after this (field drop) and that detaches the program.
        // SAFETY: the object was opened by bpf_object__open_mem and is closed exactly once;
        // its map and program file descriptors are not used after this.
        unsafe { bpf::bpf_object__close(self.object.as_ptr()) };
    }
}
