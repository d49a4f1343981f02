//! How datagrams move between the sockets and the kernel.

/// The most datagrams moved by one batched system call. Batch sizes in
/// [`DriverConfig`](crate::DriverConfig) are clamped to it.
pub const MAX_BATCH: usize = 64;

/// How datagrams are moved between a socket and the kernel.
///
/// On Linux and Android, [`Batched`](IoMode::Batched) moves up to a batch
/// of datagrams per system call with `recvmmsg` and `sendmmsg`, and
/// [`BatchedGso`](IoMode::BatchedGso) adds UDP segmentation offload; on
/// other systems both behave as [`Plain`](IoMode::Plain).
///
/// Why not `quinn-udp`: it batches receives (`recvmmsg`, GRO) but sends one
/// destination per call and only with equal-sized segments (GSO), and it
/// configures QUIC-specific options (`IP_PMTUDISC_PROBE`, ECN, `UDP_GRO`
/// that needs 64-segment receive buffers). A Blaze node sends datagrams of
/// varying sizes to the group and to several peers in one burst, which is
/// what `sendmmsg` batches, so this crate calls `recvmmsg`/`sendmmsg`
/// through `libc` directly, and adds segmentation offload itself for the
/// runs of equal-sized datagrams to one destination that a saturated sender
/// produces. On this project's loopback benchmark (`benches/raw_udp.rs`)
/// segmentation multiplies the sender's datagram rate several times over,
/// which is why it is the default.
///
/// ```
/// use blaze_std::IoMode;
/// assert_eq!(IoMode::default(), IoMode::BatchedGso);
/// assert!(!IoMode::Plain.is_batched());
/// assert_eq!(IoMode::Batched.is_batched(), cfg!(any(target_os = "linux", target_os = "android")));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum IoMode {
    /// `recvmmsg`/`sendmmsg` where available, else as `Plain`.
    Batched,
    /// As `Batched`, and UDP generic segmentation offload (`UDP_SEGMENT`)
    /// on send: consecutive datagrams of one size to one destination (the
    /// last may be shorter) go down the stack as one message and are split
    /// into datagrams below it. Receivers see ordinary datagrams. Where
    /// the kernel or device refuses segmentation, the batch falls back to
    /// `Batched` by itself. A [`Driver`](crate::Driver) in this mode also
    /// turns on generic receive offload (`UDP_GRO`) where the kernel has
    /// it: a segmented burst (on loopback, a whole `UDP_SEGMENT` message)
    /// is received as one message of up to 64 KiB and split back into its
    /// datagrams by the segment size the kernel reports. The default.
    #[default]
    BatchedGso,
    /// One `recv_from` or `send_to` per datagram.
    Plain,
}

impl IoMode {
    /// Whether this mode makes batched system calls on this system.
    pub const fn is_batched(self) -> bool {
        matches!(self, IoMode::Batched | IoMode::BatchedGso)
            && cfg!(any(target_os = "linux", target_os = "android"))
    }

    /// Whether this mode asks for UDP segmentation offload on this system.
    pub const fn is_segmented(self) -> bool {
        matches!(self, IoMode::BatchedGso) && cfg!(any(target_os = "linux", target_os = "android"))
    }
}
