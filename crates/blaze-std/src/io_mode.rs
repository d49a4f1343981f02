//! How datagrams move between the sockets and the kernel.

/// The most datagrams moved by one batched system call. Batch sizes in
/// [`DriverConfig`](crate::DriverConfig) are clamped to it.
pub const MAX_BATCH: usize = 64;

/// How datagrams are moved between a socket and the kernel.
///
/// On Linux and Android, [`Batched`](IoMode::Batched) moves up to a batch
/// of datagrams per system call with `recvmmsg` and `sendmmsg`; on other
/// systems it behaves as [`Plain`](IoMode::Plain).
///
/// Why not `quinn-udp`: it batches receives (`recvmmsg`, GRO) but sends one
/// destination per call and only with equal-sized segments (GSO), and it
/// configures QUIC-specific options (`IP_PMTUDISC_PROBE`, ECN, `UDP_GRO`
/// that needs 64-segment receive buffers). A Blaze node sends datagrams of
/// varying sizes to the group and to several peers in one burst, which is
/// what `sendmmsg` batches, so this crate calls `recvmmsg`/`sendmmsg`
/// through `libc` directly.
///
/// ```
/// use blaze_std::IoMode;
/// assert_eq!(IoMode::default(), IoMode::Batched);
/// assert!(!IoMode::Plain.is_batched());
/// assert_eq!(IoMode::Batched.is_batched(), cfg!(any(target_os = "linux", target_os = "android")));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum IoMode {
    /// `recvmmsg`/`sendmmsg` where available, else as `Plain`.
    #[default]
    Batched,
    /// One `recv_from` or `send_to` per datagram.
    Plain,
}

impl IoMode {
    /// Whether this mode makes batched system calls on this system.
    pub const fn is_batched(self) -> bool {
        matches!(self, IoMode::Batched) && cfg!(any(target_os = "linux", target_os = "android"))
    }
}
