//! One AF_XDP socket with its own UMEM: the fill, completion, RX and TX rings of one queue.
//!
//! The UMEM's frames are split in two fixed pools: RX frames live in the fill and RX rings
//! and go straight back to the fill ring once the stack has looked at them; TX frames are
//! taken from a free list, written in place by the stack, and return through the completion
//! ring. Nothing is allocated per frame, and [`XskSocket::tx_frames_in_flight`] returns to
//! zero when traffic stops (frames are never leaked).

use std::io;
use std::num::NonZeroU32;
use std::os::fd::{AsRawFd, RawFd};

use xsk_rs::config::{
    BindFlags, FrameSize, Interface, LibxdpFlags, QueueSize, SocketConfig, UmemConfig,
};
use xsk_rs::{CompQueue, FillQueue, FrameDesc, RxQueue, Socket, TxQueue, Umem};

use super::huge_pages::{self, HugePageShortfall};
use super::{BusyPoll, HugePages, UmemPages, XdpError, ZeroCopy};
use crate::host::NoSuchInterface;

/// Sizes of one socket's UMEM and rings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct XskConfig {
    /// Frames in the UMEM (half for RX, half for TX); a power of two.
    pub frame_count: u32,
    /// Bytes per frame (2048 or 4096).
    pub frame_size: u32,
    /// Entries in each ring; a power of two, at most `frame_count / 2`.
    pub ring_size: u32,
    /// Whether to bind in zero-copy mode.
    pub zero_copy: ZeroCopy,
    /// Preferred busy polling with these options; `None`: none set (the kernel's default).
    pub busy_poll: Option<BusyPoll>,
    /// Whether the UMEM is mapped on huge pages.
    pub huge_pages: HugePages,
}

impl Default for XskConfig {
    fn default() -> XskConfig {
        XskConfig {
            frame_count: 4096,
            frame_size: 4096,
            ring_size: 2048,
            zero_copy: ZeroCopy::Prefer,
            busy_poll: None,
            huge_pages: HugePages::Prefer,
        }
    }
}

/// How the socket moves frames.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum BindMode {
    /// The NIC DMAs straight into the UMEM (`XDP_ZEROCOPY`).
    ZeroCopy,
    /// The kernel copies frames between its buffers and the UMEM (`XDP_COPY`); works with
    /// every driver, veth included.
    Copy,
}

impl std::fmt::Display for BindMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BindMode::ZeroCopy => "zero-copy",
            BindMode::Copy => "copy",
        })
    }
}

/// Counters of one socket.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct SocketStats {
    pub rx_frames: u64,
    pub tx_frames: u64,
    /// Times the stack had a frame to send but every TX frame was in flight.
    pub tx_frames_exhausted: u64,
    /// sendto() calls made to kick the kernel's TX processing.
    pub tx_kicks: u64,
    /// recvfrom() calls made because the fill ring asked for a wake-up.
    pub rx_kicks: u64,
    /// Frames the kernel dropped because the RX ring was full (from XDP_STATISTICS).
    pub rx_dropped: u64,
    pub rx_ring_full: u64,
    pub rx_fill_ring_empty: u64,
    pub rx_invalid_descs: u64,
    pub tx_invalid_descs: u64,
}

/// An AF_XDP socket bound to one queue, with its UMEM and rings.
pub struct XskSocket {
    iface: String,
    queue: u32,
    mode: BindMode,
    pages: UmemPages,
    // Field order is drop order: rings before the UMEM they point into.
    fill: FillQueue,
    comp: CompQueue,
    tx: TxQueue,
    rx: RxQueue,
    umem: Umem,
    fd: RawFd,
    tx_free: Vec<FrameDesc>,
    tx_total: usize,
    rx_scratch: Vec<FrameDesc>,
    tx_scratch: Vec<FrameDesc>,
    frame_capacity: usize,
    pending_kick: bool,
    /// The last `transmit` found no free TX frame: the stack may still have frames to send.
    tx_starved: bool,
    stats: SocketStats,
}

// SAFETY: an XskSocket is owned by one worker thread at a time; its rings and UMEM are not
// shared with another XskSocket, and xsk-rs's shared handles inside are reference counted
// with a mutex.
unsafe impl Send for XskSocket {}

impl std::fmt::Debug for XskSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XskSocket")
            .field("iface", &self.iface)
            .field("queue", &self.queue)
            .field("mode", &self.mode)
            .finish()
    }
}

/// The operating-system error behind an xsk-rs error, if any.
fn os_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a io::Error> {
    e.source().and_then(|s| s.downcast_ref::<io::Error>())
}

fn socket_error(iface: &str, queue: u32, err: Option<&io::Error>, what: &str) -> XdpError {
    if let Some(e) = err {
        if let Some(mapped) = XdpError::from_os(e) {
            return mapped;
        }
        if e.raw_os_error() == Some(libc::EBUSY) {
            return XdpError::QueueBusy {
                iface: iface.into(),
                queue,
            };
        }
        return XdpError::Socket {
            iface: iface.into(),
            queue,
            detail: format!("{what}: {e}"),
        };
    }
    XdpError::Socket {
        iface: iface.into(),
        queue,
        detail: what.into(),
    }
}

impl XskSocket {
    /// Creates the UMEM and socket for `queue` of `iface`, zero-copy or copy mode as
    /// `config.zero_copy` says: with [`ZeroCopy::Prefer`], copy mode when the driver refuses
    /// zero-copy (its reason logged). The XDP program is never loaded by this call (ours is,
    /// by [`super::XdpProgram`]).
    pub fn open(iface: &str, queue: u32, config: &XskConfig) -> Result<XskSocket, XdpError> {
        let count = crate::host::rx_queue_count(iface)?;
        if queue >= count {
            return Err(XdpError::QueueOutOfRange {
                iface: iface.into(),
                queue,
                count,
            });
        }
        let pool = match config.huge_pages {
            HugePages::Off => None,
            _ => huge_pages::pool_for(config, 1),
        };
        let pages = &mut match huge_pages::plan(config, 1, pool) {
            Ok(pages) => pages,
            Err(shortfall) if config.huge_pages == HugePages::Require => {
                return Err(XdpError::HugePagesRequired { shortfall })
            }
            Err(shortfall) => {
                log::info!("{iface} queue {queue}: UMEM on normal pages: {shortfall}");
                UmemPages::Normal
            }
        };
        match config.zero_copy {
            ZeroCopy::Off => XskSocket::open_mode(iface, queue, config, BindMode::Copy, pages),
            ZeroCopy::Require => {
                XskSocket::open_mode(iface, queue, config, BindMode::ZeroCopy, pages).map_err(|e| {
                    match e {
                        XdpError::Socket {
                            iface,
                            queue,
                            detail,
                        } => XdpError::ZeroCopyRefused {
                            iface,
                            queue,
                            detail,
                        },
                        other => other,
                    }
                })
            }
            ZeroCopy::Prefer => {
                match XskSocket::open_mode(iface, queue, config, BindMode::ZeroCopy, pages) {
                    Ok(socket) => Ok(socket),
                    // The driver cannot: fall back to copy mode.
                    Err(XdpError::Socket { detail, .. }) => {
                        log::info!(
                            "{iface} queue {queue}: the driver refused zero-copy ({detail}): copy mode"
                        );
                        XskSocket::open_mode(iface, queue, config, BindMode::Copy, pages)
                    }
                    Err(other) => Err(other),
                }
            }
        }
    }

    /// Maps the UMEM on `pages`; with [`HugePages::Prefer`], on normal pages when the huge
    /// ones cannot be had after all (and `pages` then says so, for a second attempt).
    fn map_umem(
        iface: &str,
        queue: u32,
        config: &XskConfig,
        umem_config: UmemConfig,
        frames: NonZeroU32,
        pages: &mut UmemPages,
    ) -> Result<(Umem, Vec<FrameDesc>), XdpError> {
        let huge = matches!(pages, UmemPages::Huge { .. });
        // A UMEM the kernel let go of just now (the zero-copy attempt before a copy-mode
        // bind) gives its huge pages back from a work queue after the close: until then the
        // pool looks empty (see `huge_pages::PAGES_RETURN`).
        let start = std::time::Instant::now();
        let deadline = start + huge_pages::PAGES_RETURN;
        let error = loop {
            match Umem::new(umem_config, frames, huge) {
                Ok(umem) => {
                    log::debug!(
                        "{iface} queue {queue}: UMEM mapped in {:?}",
                        start.elapsed()
                    );
                    return Ok(umem);
                }
                Err(e) if huge && std::time::Instant::now() < deadline => {
                    if os_error(&e).and_then(|e| e.raw_os_error()) != Some(libc::ENOMEM) {
                        break e;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(2));
                }
                Err(e) => break e,
            }
        };
        let errno = os_error(&error).and_then(|e| e.raw_os_error());
        match errno {
            // The hugetlb reservation at mmap failed (xsk-rs maps before it registers).
            Some(libc::ENOMEM) if matches!(pages, UmemPages::Huge { .. }) => {
                let shortfall = HugePageShortfall::MapFailed {
                    umem_bytes: huge_pages::umem_bytes(config),
                    error: os_error(&error).map_or_else(String::new, |e| e.to_string()),
                };
                if config.huge_pages == HugePages::Require {
                    return Err(XdpError::HugePagesRequired { shortfall });
                }
                log::info!("{iface} queue {queue}: UMEM on normal pages: {shortfall}");
                *pages = UmemPages::Normal;
                XskSocket::map_umem(iface, queue, config, umem_config, frames, pages)
            }
            // xdp_umem_account_pages (net/xdp/xdp_umem.c): over RLIMIT_MEMLOCK.
            Some(libc::ENOBUFS) => Err(XdpError::UmemNotLocked {
                iface: iface.into(),
                queue,
                limit_kib: crate::host::locked_memory_limit().unwrap_or(0) / 1024,
            }),
            _ => Err(socket_error(
                iface,
                queue,
                os_error(&error),
                "creating the UMEM",
            )),
        }
    }

    fn open_mode(
        iface: &str,
        queue: u32,
        config: &XskConfig,
        mode: BindMode,
        pages: &mut UmemPages,
    ) -> Result<XskSocket, XdpError> {
        let invalid = |what: String| XdpError::Socket {
            iface: iface.into(),
            queue,
            detail: what,
        };
        let ring =
            QueueSize::new(config.ring_size).map_err(|e| invalid(format!("ring size: {e}")))?;
        let frame_size =
            FrameSize::new(config.frame_size).map_err(|e| invalid(format!("frame size: {e}")))?;
        let umem_config = UmemConfig::builder()
            .frame_size(frame_size)
            .fill_queue_size(ring)
            .comp_queue_size(ring)
            .build()
            .map_err(|e| invalid(format!("UMEM config: {e}")))?;
        let frames =
            NonZeroU32::new(config.frame_count).ok_or_else(|| invalid("zero frames".into()))?;
        let (umem, mut descs) =
            XskSocket::map_umem(iface, queue, config, umem_config, frames, pages)?;
        let bind = match mode {
            BindMode::ZeroCopy => BindFlags::XDP_ZEROCOPY | BindFlags::XDP_USE_NEED_WAKEUP,
            BindMode::Copy => BindFlags::XDP_COPY | BindFlags::XDP_USE_NEED_WAKEUP,
        };
        let socket_config = SocketConfig::builder()
            .rx_queue_size(ring)
            .tx_queue_size(ring)
            .libxdp_flags(LibxdpFlags::XSK_LIBXDP_FLAGS_INHIBIT_PROG_LOAD)
            .bind_flags(bind)
            .build();
        let name: Interface = iface.parse().map_err(|_| NoSuchInterface(iface.into()))?;
        // SAFETY: the UMEM is new and not shared with another socket, so the
        // INHIBIT_PROG_LOAD requirement for shared UMEMs does not arise; it is set anyway.
        let (tx, rx, rings) = unsafe { Socket::new(socket_config, &umem, &name, queue) }
            .map_err(|e| socket_error(iface, queue, os_error(&e), &format!("{mode} bind")))?;
        let (mut fill, comp) =
            rings.ok_or_else(|| invalid("no fill and completion rings".into()))?;
        let fd = rx.fd().as_raw_fd();
        if let Some(busy) = config.busy_poll {
            super::busy_poll::apply(fd, iface, queue, busy)?;
        }

        let rx_frames = (config.frame_count / 2) as usize;
        let tx_descs = descs.split_off(rx_frames);
        // SAFETY: the RX half of the frames belongs to this UMEM and nothing else uses them.
        let produced = unsafe { fill.produce(&descs) };
        if produced == 0 {
            return Err(invalid("could not give RX frames to the fill ring".into()));
        }
        // The bind came first (xsk-rs binds in `Socket::new`), so a zero-copy driver found an
        // empty fill ring and posted no RX buffers. With need_wakeup it may wait to be woken
        // before it takes these (ice, i40e and mlx5 refill from the NAPI a wake-up runs;
        // virtio_net also retries from its refill work every 500 ms).
        if fill.needs_wakeup() {
            super::wait::kick_rx(fd);
        }
        let frame_capacity = config.frame_size as usize;
        Ok(XskSocket {
            iface: iface.into(),
            queue,
            mode,
            pages: *pages,
            fill,
            comp,
            tx,
            rx,
            umem,
            fd,
            tx_total: tx_descs.len(),
            tx_free: tx_descs,
            rx_scratch: vec![FrameDesc::default(); config.ring_size as usize],
            tx_scratch: Vec::with_capacity(config.ring_size as usize),
            frame_capacity,
            pending_kick: false,
            tx_starved: false,
            stats: SocketStats::default(),
        })
    }

    pub fn mode(&self) -> BindMode {
        self.mode
    }

    /// The pages the UMEM is mapped on.
    pub fn umem_pages(&self) -> UmemPages {
        self.pages
    }

    pub fn queue(&self) -> u32 {
        self.queue
    }

    /// The socket's file descriptor (for the XSKMAP and for poll).
    pub fn fd(&self) -> RawFd {
        self.fd
    }

    /// TX frames handed to the kernel and not yet completed.
    pub fn tx_frames_in_flight(&self) -> usize {
        self.tx_total - self.tx_free.len()
    }

    /// The UMEM frames set aside for TX (the other half of the UMEM is the RX pool, always
    /// in the fill and RX rings).
    pub fn tx_frames_total(&self) -> usize {
        self.tx_total
    }

    /// TX frames on the free list: what the stack can build frames in right now.
    pub fn tx_frames_free(&self) -> usize {
        self.tx_free.len()
    }

    pub fn stats(&self) -> SocketStats {
        self.stats
    }

    /// Adds the kernel's counters (ring full, invalid descriptors) to [`SocketStats`].
    pub fn refresh_kernel_stats(&mut self) {
        if let Ok(s) = self.rx.fd().xdp_statistics() {
            self.stats.rx_dropped = s.rx_dropped();
            self.stats.rx_ring_full = s.rx_ring_full();
            self.stats.rx_fill_ring_empty = s.rx_fill_ring_empty_descs();
            self.stats.rx_invalid_descs = s.rx_invalid_descs();
            self.stats.tx_invalid_descs = s.tx_invalid_descs();
        }
    }

    /// Hands up to `max` received frames to `handle` (in place, in the UMEM) and returns the
    /// frames to the fill ring. Returns how many were received.
    pub fn receive(&mut self, max: usize, mut handle: impl FnMut(&[u8])) -> usize {
        let max = max.min(self.rx_scratch.len());
        // SAFETY: the descriptors filled in come from this socket's RX ring and so describe
        // frames of this UMEM.
        let n = unsafe { self.rx.consume(&mut self.rx_scratch[..max]) };
        if n == 0 {
            return 0;
        }
        for desc in &self.rx_scratch[..n] {
            // SAFETY: the frame was just consumed from the RX ring, so the kernel no longer
            // writes it, and it is not in the fill ring until produced back below.
            let data = unsafe { self.umem.data(desc) };
            handle(data.contents());
        }
        let mut given = 0;
        while given < n {
            // SAFETY: these frames belong to this UMEM and are no longer read by us.
            let k = unsafe { self.fill.produce(&self.rx_scratch[given..n]) };
            given += k;
            if k == 0 {
                break; // cannot happen: the fill ring holds every RX frame
            }
        }
        // A zero-copy driver that ran out of fill-ring frames stops taking frames until it
        // is woken (need_wakeup on the fill ring); copy mode never asks. Waking it here,
        // and not only when idle, keeps a worker that is always busy from starving RX.
        if self.fill.needs_wakeup() {
            self.stats.rx_kicks += 1;
            super::wait::kick_rx(self.fd);
        }
        self.stats.rx_frames += n as u64;
        n
    }

    /// True if the kernel asks to be woken up to keep filling the RX ring (zero-copy drivers
    /// with `XDP_USE_NEED_WAKEUP`); the idle poll does that.
    pub fn rx_needs_wakeup(&self) -> bool {
        self.fill.needs_wakeup()
    }

    /// True if the RX ring holds frames. Reads the kernel's producer index only when the
    /// cached one shows none: cheap enough to spin on.
    pub fn rx_ready(&mut self) -> bool {
        self.rx.nb_avail(1) > 0
    }

    /// True if the last [`XskSocket::transmit`] ran out of free TX frames before its
    /// builder ran dry; completions must be reclaimed before more can be sent.
    pub fn tx_starved(&self) -> bool {
        self.tx_starved
    }

    /// Returns completed TX frames to the free list.
    pub fn reclaim(&mut self) -> usize {
        let start = self.tx_free.len();
        self.tx_free.resize(self.tx_total, FrameDesc::default());
        // SAFETY: the completion ring only returns frames of this UMEM that we sent.
        let n = unsafe { self.comp.consume(&mut self.tx_free[start..]) };
        self.tx_free.truncate(start + n);
        n
    }

    /// Lets `build` write frames in place into free TX frames until it returns `None` or
    /// `max` frames are queued; the frames go on the TX ring. Call [`XskSocket::flush`] to
    /// make the kernel send them. Returns the number queued.
    pub fn transmit(
        &mut self,
        max: usize,
        mut build: impl FnMut(&mut [u8]) -> Option<usize>,
    ) -> usize {
        if self.tx_free.len() < max.min(self.tx_total / 4).max(1) {
            self.reclaim();
        }
        self.tx_scratch.clear();
        self.tx_starved = false;
        while self.tx_scratch.len() < max {
            let Some(mut desc) = self.tx_free.pop() else {
                self.stats.tx_frames_exhausted += 1;
                self.tx_starved = true;
                break;
            };
            // SAFETY: `desc` came from the free list: it is neither in the TX ring nor in the
            // completion ring, so no one else reads or writes the frame.
            let mut data = unsafe { self.umem.data_mut(&mut desc) };
            let mut cursor = data.cursor();
            cursor.set_pos(self.frame_capacity);
            let room = cursor.pos();
            let written = build(&mut data.contents_mut()[..room]);
            match written {
                Some(len) => {
                    data.cursor().set_pos(len);
                    self.tx_scratch.push(desc);
                }
                None => {
                    self.tx_free.push(desc);
                    break;
                }
            }
        }
        let n = self.tx_scratch.len();
        if n == 0 {
            return 0;
        }
        let mut queued = 0;
        while queued < n {
            // SAFETY: the descriptors describe frames of this UMEM that we just wrote and no
            // longer touch until the completion ring returns them.
            let k = unsafe { self.tx.produce(&self.tx_scratch[queued..n]) };
            if k == 0 {
                // TX ring full: give the rest back to the free list (they were not sent).
                self.kick();
                self.reclaim();
                for desc in self.tx_scratch.drain(queued..n) {
                    self.tx_free.push(desc);
                }
                break;
            }
            queued += k;
        }
        self.stats.tx_frames += queued as u64;
        self.pending_kick = true;
        queued
    }

    fn kick(&mut self) {
        if self.tx.needs_wakeup() {
            self.stats.tx_kicks += 1;
            // A failed kick (EAGAIN, ENOBUFS: the kernel is busy) is retried on the next flush.
            if self.tx.wakeup().is_err() {
                self.pending_kick = true;
            }
        }
    }

    /// Kicks the kernel once for everything queued since the last flush (and again after a
    /// kick that failed).
    pub fn flush(&mut self) {
        if self.pending_kick {
            self.pending_kick = false;
            self.kick();
        }
    }

    /// Kicks the kernel again if frames are still in flight and the TX ring asks for a
    /// wake-up. In copy mode the kick sends the frames and completes them in the system call;
    /// a zero-copy driver sends them from its own NAPI later, completes them when the device
    /// is done, and may set need_wakeup again in between: frames in the TX ring would then
    /// wait, and their completions with them, until the next kick.
    /// Copy mode needs none of this (and a system call per idle turn would cost it).
    pub fn kick_if_waiting(&mut self) {
        if self.mode == BindMode::ZeroCopy && self.tx_frames_in_flight() > 0 {
            self.kick();
        }
    }
}
