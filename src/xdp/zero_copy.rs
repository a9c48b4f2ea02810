//! Whether the AF_XDP sockets bind in zero-copy mode (`XDP_ZEROCOPY`): the driver then hands
//! the UMEM's frames to the NIC itself, where copy mode (`XDP_COPY`) has the kernel copy
//! each frame between its own buffers and the UMEM.

/// What to do about zero-copy binding.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub enum ZeroCopy {
    /// Zero-copy where the driver supports it, copy mode where it refuses (and the start-up
    /// log says why).
    #[default]
    Prefer,
    /// Zero-copy or nothing: a driver that refuses stops the start with its reason.
    Require,
    /// Copy mode even where the driver supports zero-copy.
    Off,
}

impl std::fmt::Display for ZeroCopy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ZeroCopy::Prefer => "prefer",
            ZeroCopy::Require => "require",
            ZeroCopy::Off => "off",
        })
    }
}
