//! The static storage of an embassy-run node.

use embassy_net::udp::PacketMetadata;

use crate::shared::Shared;

/// The largest datagram the runner sends or receives by default
/// ([`Resources`]' `DATAGRAM`): an Ethernet frame less the IPv4 and UDP
/// headers. Longer datagrams received are counted and dropped.
pub const MAX_DATAGRAM: usize = 1472;

/// Everything a node needs beside its machine, for a `static` (like
/// embassy-net's `StackResources`): the machine's slot, the send and
/// receive buffers of the runner, and the packet buffers of its three
/// sockets: the unicast socket (`PACKETS` datagrams and `BYTES` bytes each
/// way), the socket on the group's port (receiving only) and the socket
/// that sends to the group (sending only, from the unicast port).
///
/// `DATAGRAM` is the runner's send and receive buffer: the largest datagram
/// it handles ([`MAX_DATAGRAM`] by default). A node whose members all use
/// a smaller `mtu` can take that instead (it must be at least the `mtu`;
/// longer datagrams received are counted in `dropped_oversized` and
/// dropped).
///
/// ```
/// use blaze_embassy::Resources;
/// use static_cell::StaticCell;
/// // A small node: 1 group of 4 members, windows of 8 messages.
/// type Small = blaze_node::Node<'static, blaze_node::NoCustom, 1, 4, 8, 4, 256, 8, 8, 16, 32>;
/// static RESOURCES: StaticCell<Resources<Small, 8, 4096>> = StaticCell::new();
/// let resources: &'static mut Resources<Small, 8, 4096> = RESOURCES.init(Resources::new());
/// # let _ = resources;
/// ```
pub struct Resources<
    M,
    const PACKETS: usize = 8,
    const BYTES: usize = 4096,
    const DATAGRAM: usize = MAX_DATAGRAM,
> {
    pub(crate) shared: Option<Shared<M>>,
    pub(crate) tx: [u8; DATAGRAM],
    pub(crate) rx: [u8; DATAGRAM],
    pub(crate) unicast: SocketBuffers<PACKETS, BYTES, PACKETS, BYTES>,
    pub(crate) group: SocketBuffers<PACKETS, BYTES, 1, 0>,
    pub(crate) group_tx: SocketBuffers<1, 0, PACKETS, BYTES>,
}

/// A socket's packet metadata, filled when the socket is made. Empty
/// resources leave it unset (discriminant 0, nothing else written), so
/// that they are all zero bytes: a `static` of them then takes no initial
/// image in flash and is made without passing through the stack.
#[repr(u8)]
pub(crate) enum Meta<const N: usize> {
    /// Not filled yet.
    Unset = 0,
    /// Filled with [`PacketMetadata::EMPTY`].
    Set([PacketMetadata; N]),
}

impl<const N: usize> Meta<N> {
    /// Fills the metadata with empty entries and lends them to a socket.
    pub(crate) fn fill(&mut self) -> &mut [PacketMetadata] {
        *self = Meta::Set([PacketMetadata::EMPTY; N]);
        match self {
            Meta::Set(m) => m,
            Meta::Unset => &mut [],
        }
    }
}

pub(crate) struct SocketBuffers<const RP: usize, const RB: usize, const TP: usize, const TB: usize>
{
    pub(crate) rx_meta: Meta<RP>,
    pub(crate) rx: [u8; RB],
    pub(crate) tx_meta: Meta<TP>,
    pub(crate) tx: [u8; TB],
}

impl<const RP: usize, const RB: usize, const TP: usize, const TB: usize>
    SocketBuffers<RP, RB, TP, TB>
{
    const fn new() -> Self {
        SocketBuffers {
            rx_meta: Meta::Unset,
            rx: [0; RB],
            tx_meta: Meta::Unset,
            tx: [0; TB],
        }
    }
}

impl<M, const PACKETS: usize, const BYTES: usize, const DATAGRAM: usize>
    Resources<M, PACKETS, BYTES, DATAGRAM>
{
    /// Empty resources (a `const fn`, for a `static`).
    pub const fn new() -> Self {
        Resources {
            shared: None,
            tx: [0; DATAGRAM],
            rx: [0; DATAGRAM],
            unicast: SocketBuffers::new(),
            group: SocketBuffers::new(),
            group_tx: SocketBuffers::new(),
        }
    }
}

impl<M, const PACKETS: usize, const BYTES: usize, const DATAGRAM: usize> Default
    for Resources<M, PACKETS, BYTES, DATAGRAM>
{
    fn default() -> Self {
        Self::new()
    }
}

impl<M, const PACKETS: usize, const BYTES: usize, const DATAGRAM: usize> core::fmt::Debug
    for Resources<M, PACKETS, BYTES, DATAGRAM>
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Resources")
            .field("in_use", &self.shared.is_some())
            .finish_non_exhaustive()
    }
}
