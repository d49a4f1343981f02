//! Settings, identity and storage of a node.

use blaze_membership::{Metadata, Name};
use blaze_proto_nack::{Buffers, LateJoin};
#[cfg(feature = "map")]
use blaze_wire::GroupId;
use blaze_wire::MemberId;

use crate::group::PLAIN;

/// Settings of a [`Node`](crate::Node): one block per machine. Start from
/// a profile and adjust.
///
/// The reliable and best-effort channels of every group use `nack` (the
/// node sets their `stream` and `reliability`); every group's map uses
/// `map` (the node sets its `group`; feature `map`).
///
/// The profiles set `nack.late_join` to [`LateJoin::Oldest`]: a member
/// that first hears of a sender starts from the oldest message the sender
/// holds. A sender holds every message from the view that added a member
/// until that member acknowledged it, so a member gets every reliable
/// message sent after it joined the view, even when the first datagrams it
/// hears from the sender are lost (and possibly a few sent shortly before).
///
/// ```
/// use blaze_node::Config;
/// let c = Config::lan();
/// assert!(c.nack.validate().is_ok());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// Membership: heartbeats, failure detection, discovery.
    pub membership: blaze_membership::Config,
    /// Reliable multicast: MTU, windows, NACK timing, heartbeats.
    pub nack: blaze_proto_nack::Config,
    /// The replicated map of each group. With
    /// `map.ordering = blaze_map::Ordering::Totem { safe }` (feature
    /// `total-order`) a group's map is ordered by the group's Totem ring
    /// instead of the view's coordinator: its operations travel on the
    /// ring's topic `blaze.map` (kept from the application), and the ring's
    /// configurations take the place of the views. Only groups whose slot
    /// got Totem storage ([`Node::add_total_order`](crate::Node::add_total_order))
    /// have a ring; without one such a map never opens. Feature `map`.
    #[cfg(feature = "map")]
    pub map: blaze_map::Config,
    /// Whether this member runs the maps of its groups (true in the
    /// profiles). A member that does not still joins its groups and
    /// publishes and receives on every channel, but its `Join` leaves out
    /// [`SERVICE_MAP`](blaze_wire::SERVICE_MAP): the members that run the
    /// map leave it out of their maps' views, so it neither coordinates a
    /// map nor holds up a write. Its map and lock commands return
    /// [`MapError::NotRunning`](crate::MapError::NotRunning), and the map
    /// frames it receives are counted in
    /// [`Stats::no_map`](crate::Stats::no_map), as are the map's
    /// operations a ring delivers. A build without feature `map` never
    /// runs one. Feature `map`.
    #[cfg(feature = "map")]
    pub run_map: bool,
    /// Forward error correction of the reliable + FEC channel of groups
    /// whose slot got FEC storage ([`Node::add_fec_buffers`](crate::Node::add_fec_buffers)).
    pub fec: blaze_proto_nack::FecConfig,
    /// Totem timing and flow control of the total-order channel of groups
    /// whose slot got Totem storage ([`Node::add_total_order`](crate::Node::add_total_order)).
    /// Keep its token timeout near `membership.failure_timeout`
    /// ([`TotemConfig::tolerating`](crate::TotemConfig::tolerating)): a
    /// shorter one splits the ring on stalls the view rides out, and the
    /// agreed and safe messages sent meanwhile reach only part of the view.
    /// Feature `total-order`.
    #[cfg(feature = "total-order")]
    pub totem: blaze_proto_totem::Config,
}

impl Config {
    /// The services this member announces to its groups: [`SERVICE_MAP`]
    /// when it runs the map.
    ///
    /// [`SERVICE_MAP`]: blaze_wire::SERVICE_MAP
    pub(crate) const fn services(&self) -> u32 {
        #[cfg(feature = "map")]
        if self.run_map {
            return blaze_wire::SERVICE_MAP;
        }
        0
    }

    /// A local network.
    pub const fn lan() -> Self {
        let mut nack = blaze_proto_nack::Config::lan();
        nack.late_join = LateJoin::Oldest;
        let membership = blaze_membership::Config::lan();
        Config {
            membership,
            nack,
            #[cfg(feature = "map")]
            map: blaze_map::Config::lan(GroupId::from_raw(0)),
            #[cfg(feature = "map")]
            run_map: true,
            fec: blaze_proto_nack::FecConfig::proactive(16, 4),
            // The ring drops a member no quicker than the view does.
            #[cfg(feature = "total-order")]
            totem: blaze_proto_totem::Config::tolerating(membership.failure_timeout),
        }
    }

    /// A wide-area network (the map keeps its LAN timing, scaled by its
    /// retries).
    pub const fn wan() -> Self {
        let mut nack = blaze_proto_nack::Config::wan();
        nack.late_join = LateJoin::Oldest;
        Config {
            membership: blaze_membership::Config::wan(),
            nack,
            #[cfg(feature = "map")]
            map: blaze_map::Config::lan(GroupId::from_raw(0)),
            #[cfg(feature = "map")]
            run_map: true,
            fec: blaze_proto_nack::FecConfig::proactive(16, 4),
            #[cfg(feature = "total-order")]
            totem: blaze_proto_totem::Config::wan(),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config::lan()
    }
}

/// Who a node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity {
    /// 128-bit globally unique id, drawn by the caller from its random
    /// source.
    pub id: MemberId,
    /// Human-readable name.
    pub name: Name,
    /// Opaque application metadata (an encoded `BlazeMessage`).
    pub metadata: Metadata,
    /// Incremented by the caller on every restart under the same id.
    pub incarnation: u64,
    /// Seed of every random choice of the node's machines.
    pub seed: u64,
}

/// The borrowed storage of one group slot: the reliable and best-effort
/// channels' windows. A node gets `G` of them, allocated once by the
/// caller (`static` on firmware, boxed once on a server), and reuses them
/// as groups are joined and left.
///
/// Without feature `best-effort` there is no best-effort channel, and
/// only the reliable channel's storage.
#[derive(Debug)]
pub struct GroupBuffers<'a> {
    /// Storage of the reliable channel.
    pub reliable: Buffers<'a>,
    /// Storage of the best-effort channel. Feature `best-effort`.
    #[cfg(feature = "best-effort")]
    pub best_effort: Buffers<'a>,
}

/// Channels whose storage a [`GroupBuffers`] holds: the reliable one and,
/// with feature `best-effort`, the best-effort one. Code that must build
/// either way sizes its storage by it and uses
/// [`GroupBuffers::from_array`].
pub const GROUP_CHANNELS: usize = PLAIN;

impl<'a> GroupBuffers<'a> {
    /// The storage of each of the [`GROUP_CHANNELS`] channels, in the
    /// order reliable, best-effort.
    ///
    /// ```
    /// use blaze_node::{Buffers, Config, GROUP_CHANNELS, GroupBuffers, RxSlot, SendSlot};
    ///
    /// let config = Config::lan();
    /// let need = GroupBuffers::recv_bytes_needed(&config, 4, 8);
    /// let mut store: Vec<_> = (0..GROUP_CHANNELS)
    ///     .map(|_| (vec![SendSlot::EMPTY; 8], vec![0u8; 8192], vec![0u8; need], vec![RxSlot::EMPTY; 32]))
    ///     .collect();
    /// let mut each = store.iter_mut().map(|s| Buffers {
    ///     send_index: &mut s.0, send_bytes: &mut s.1, recv_bytes: &mut s.2,
    ///     recv_slots: &mut s.3, reassembly: &mut [],
    /// });
    /// let buffers = GroupBuffers::from_array(core::array::from_fn(|_| each.next().unwrap()));
    /// assert_eq!(buffers.reliable.send_index.len(), 8);
    /// ```
    pub fn from_array(buffers: [Buffers<'a>; GROUP_CHANNELS]) -> Self {
        #[cfg(feature = "best-effort")]
        let [reliable, best_effort] = buffers;
        #[cfg(not(feature = "best-effort"))]
        let [reliable] = buffers;
        GroupBuffers {
            reliable,
            #[cfg(feature = "best-effort")]
            best_effort,
        }
    }

    /// The storage by channel index (the reliable channel's first).
    pub(crate) fn into_spare(self) -> [Option<Buffers<'a>>; PLAIN] {
        [
            Some(self.reliable),
            #[cfg(feature = "best-effort")]
            Some(self.best_effort),
        ]
    }

    /// The storage given back by channel index; `None` if a channel's is
    /// missing.
    pub(crate) fn from_spare(spare: [Option<Buffers<'a>>; PLAIN]) -> Option<Self> {
        match spare {
            #[cfg(feature = "best-effort")]
            [Some(reliable), Some(best_effort)] => Some(GroupBuffers {
                reliable,
                best_effort,
            }),
            #[cfg(not(feature = "best-effort"))]
            [Some(reliable)] => Some(GroupBuffers { reliable }),
            _ => None,
        }
    }

    /// Whether every channel's storage can hold a channel of a node with
    /// `peers` members and a window of `window`.
    pub(crate) fn all_fit(&self, config: &Config, peers: usize, window: usize) -> bool {
        #[cfg(feature = "best-effort")]
        if !Self::fits(&self.best_effort, config, peers, window) {
            return false;
        }
        Self::fits(&self.reliable, config, peers, window)
    }
}

impl GroupBuffers<'_> {
    /// Bytes each channel's `recv_bytes` needs for a node with `PEERS`
    /// members per group and a window of `W`.
    pub const fn recv_bytes_needed(config: &Config, peers: usize, window: usize) -> usize {
        Buffers::recv_bytes_needed(&config.nack, peers, window)
    }

    /// Whether `b` can hold a channel of a node with `peers` members and a
    /// window of `window` (as `Endpoint::new` checks).
    pub(crate) fn fits(b: &Buffers<'_>, config: &Config, peers: usize, window: usize) -> bool {
        !b.send_index.is_empty()
            && b.send_bytes.len() >= config.nack.fragment_size()
            && b.recv_bytes.len() >= Self::recv_bytes_needed(config, peers, window)
            && b.recv_slots.len() >= Buffers::recv_slots_needed(peers, window)
    }
}

/// Everything a group slot of a node held, given back by
/// [`Node::into_all_buffers`](crate::Node::into_all_buffers).
#[derive(Debug)]
pub struct SlotStorage<'a, const P: usize, const W: usize, const T: usize = W> {
    /// The reliable and best-effort channels' storage.
    pub group: Option<GroupBuffers<'a>>,
    /// The reliable + FEC channel's storage, if the slot had one.
    pub fec: Option<(Buffers<'a>, blaze_proto_nack::FecBuffers<'a>)>,
    /// The total-order ring's storage, if the slot had one.
    #[cfg(feature = "total-order")]
    pub totem: Option<&'a mut crate::TotemStorage<'a, P, T>>,
}
