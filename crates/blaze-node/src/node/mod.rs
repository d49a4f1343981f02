//! The node: every protocol machine of one member, behind one [`Protocol`].
//!
//! Commands live in `commands.rs`, the map and lock commands in `map.rs`
//! (feature `map`), the five verbs (routing, merging, view propagation) in
//! `io.rs`.

mod commands;
mod deadlines;
mod io;
#[cfg(feature = "map")]
mod map;
#[cfg(test)]
mod tests;

use core::mem::MaybeUninit;
use core::ptr::addr_of_mut;

#[cfg(feature = "map")]
use blaze_map::Replica;
use blaze_membership::Membership;
use blaze_wire::{GroupId, Instant, MemberId, Rng};

use crate::group::Slot;
use crate::qos::Topics;
use crate::{
    Channel, Config, ConfigError, CustomProtocol, GroupBuffers, Identity, NoCustom, Protocol, Qos,
    Stats,
};
use deadlines::Deadlines;

/// The default capacities of a group's map ([`Replica`]'s `PENDING`,
/// `EVENTS` and `ORIGINS`); 0 without feature `map`, where they are not
/// used.
#[cfg(feature = "map")]
const DEFAULT_MAP_PENDING: usize = blaze_map::MAX_PENDING;
#[cfg(feature = "map")]
const DEFAULT_MAP_EVENTS: usize = blaze_map::EVENT_QUEUE;
#[cfg(feature = "map")]
const DEFAULT_MAP_ORIGINS: usize = blaze_map::MAX_ORIGINS;
#[cfg(not(feature = "map"))]
const DEFAULT_MAP_PENDING: usize = 0;
#[cfg(not(feature = "map"))]
const DEFAULT_MAP_EVENTS: usize = 0;
#[cfg(not(feature = "map"))]
const DEFAULT_MAP_ORIGINS: usize = 0;

/// One Blaze member as a sans-IO state machine: membership of several
/// groups, a reliable and a best-effort multicast channel per group (plus
/// the user's [`CustomProtocol`], if installed), a replicated map per
/// group (feature `map`), point-to-point messages, requests, queues and
/// locks.
///
/// The node implements [`Protocol`], so any adapter drives it: every
/// datagram goes to [`handle_datagram`](Protocol::handle_datagram), which
/// routes it by group and body to the machine it is for (frames of groups
/// not joined, of another version or malformed are counted in
/// [`stats`](Node::stats) and dropped); the outputs of all machines are
/// merged fairly (round robin) by [`poll_transmit`](Protocol::poll_transmit)
/// and [`poll_event`](Protocol::poll_event), and
/// [`poll_timeout`](Protocol::poll_timeout) is the earliest of their
/// deadlines. All groups share one multicast destination
/// ([`Destination::Group`](crate::Destination::Group)): frames carry their
/// group.
///
/// - **Getters**: [`id`](Node::id), [`stats`](Node::stats),
///   [`view`](Node::view), [`coordinator`](Node::coordinator),
///   `map_get` (feature `map`), [`qos`](Node::qos), …
/// - **Commands** (each a thin routing to one machine, with a typed
///   error): [`join`](Node::join), [`leave`](Node::leave),
///   [`set_qos`](Node::set_qos), [`publish`](Node::publish),
///   [`send_to`](Node::send_to), [`request`](Node::request),
///   [`request_any`](Node::request_any), [`reply`](Node::reply),
///   [`queue_subscribe`](Node::queue_subscribe),
///   [`queue_send`](Node::queue_send), [`queue_ack`](Node::queue_ack),
///   `map_put`, `map_remove`, `lock`, `unlock` (feature `map`),
///   [`set_custom`](Node::set_custom), …
/// - **Inputs and outputs**: the five verbs of [`Protocol`], in the order
///   its documentation gives. Time only moves forward; a spurious
///   `handle_timeout` is a no-op.
///
/// Membership views feed each group's channels (their peer tables) and
/// map as soon as they are installed.
///
/// Without feature `map` the node has no map: it has none of the map
/// commands, getters and events, and drops the map's frames (counted in
/// [`Stats::no_map`] or [`Stats::no_body`]).
///
/// # Capacities
///
/// - `G` group slots; each borrows one [`GroupBuffers`].
/// - `P` members: known members overall (this one included), the members
///   a group's map and total-order ring track.
/// - `W` messages in each channel's receive window per sender.
/// - `T` messages in the total-order ring's window (a [`TotemStorage`](crate::TotemStorage)
///   holds `T` message slots of [`TOTEM_SLOT`](crate::TOTEM_SLOT) bytes); `W` by
///   default. A node with many small messages in flight runs its reliable
///   channels with a large `W` (a window costs only its slots' indices and
///   bytes) and keeps `T` small.
/// - `S` membership storage slots of `B` bytes (point-to-point messages,
///   requests, replies and queue messages must fit `B`).
/// - `E` map entries, `L` map log length, `K` key and `V` value bytes
///   (not used without feature `map`, nor are `MAP_PENDING`, `MAP_EVENTS`
///   and `MAP_ORIGINS`).
/// - `EVENTS` membership events waiting for [`poll_event`](Protocol::poll_event),
///   `CONTROL` membership control frames (probes, suspicions, acks)
///   waiting for [`poll_transmit`](Protocol::poll_transmit) and
///   `CONSUMERS` queue consumers a coordinator tracks: `blaze-membership`'s
///   capacities ([`Membership`](blaze_membership::Membership)), by default
///   128, 64 and 32 (about 17 KB on a 64-bit host); a small member picks
///   them smaller.
/// - `MAP_PENDING`, `MAP_EVENTS` and `MAP_ORIGINS`: each map's requests in
///   flight, queued events and remembered request origins
///   (`blaze_map::Replica`'s `PENDING`, `EVENTS` and `ORIGINS`), by
///   default 16, 16 and 32 (0 without feature `map`).
/// - `SENDERS` remote senders per channel (receive windows, the buffers'
///   `recv_bytes` and `recv_slots` are sized for them), by default `P`: a
///   view of `P` members has `P - 1` others, so `P - 1` suffice; members a
///   full table cannot take are counted in
///   [`Stats::peer_table_full`](crate::Stats::peer_table_full).
/// - `TOPICS` topics with an explicit QoS ([`set_qos`](Node::set_qos)),
///   by default [`MAX_TOPICS`](crate::MAX_TOPICS).
///
/// `C` is the user's protocol for [`Qos::Custom`] topics ([`NoCustom`] by
/// default).
///
/// # Example
///
/// ```
/// use blaze_node::{Config, GroupBuffers, Identity, Name, Metadata, Node, Protocol, RxSlot, SendSlot, Buffers};
/// use blaze_wire::{Instant, MemberId};
///
/// let config = Config::lan();
/// let need = GroupBuffers::recv_bytes_needed(&config, 4, 8);
/// let mut store = [(vec![SendSlot::EMPTY; 8], vec![0u8; 8192], vec![0u8; need], [RxSlot::EMPTY; 4 * 8]),
///                  (vec![SendSlot::EMPTY; 8], vec![0u8; 8192], vec![0u8; need], [RxSlot::EMPTY; 4 * 8])];
/// let [r, b] = &mut store;
/// let buffers = [GroupBuffers {
///     reliable: Buffers { send_index: &mut r.0, send_bytes: &mut r.1, recv_bytes: &mut r.2, recv_slots: &mut r.3, reassembly: &mut [] },
///     best_effort: Buffers { send_index: &mut b.0, send_bytes: &mut b.1, recv_bytes: &mut b.2, recv_slots: &mut b.3, reassembly: &mut [] },
/// }];
/// let me = Identity { id: MemberId::from_u128(1), name: Name::new("ann").unwrap(),
///                     metadata: Metadata::default(), incarnation: 0, seed: 7 };
/// let mut config = config;
/// config.nack.flow_window = core::num::NonZeroU32::new(8).unwrap();
/// let mut node: Box<Node<'_, blaze_node::NoCustom, 1, 4, 8, 4, 256, 8, 8, 16, 32>> =
///     Box::new(Node::new(Instant::ZERO, config, me, buffers).unwrap());
/// let chat = node.join(Instant::ZERO, "chat").unwrap();
/// // Alone: after the join wait the node forms a view of one and leads it.
/// let mut buf = [0u8; 1500];
/// let mut now = Instant::ZERO;
/// while node.coordinator(chat).is_none() {
///     now = node.poll_timeout().unwrap();
///     node.handle_timeout(now);
///     while node.poll_transmit(now, &mut buf).is_some() {}
///     while node.poll_event().is_some() {}
/// }
/// assert_eq!(node.coordinator(chat), Some(MemberId::from_u128(1)));
/// ```
pub struct Node<
    'a,
    C = NoCustom,
    const G: usize = 4,
    const P: usize = 16,
    const W: usize = 64,
    const S: usize = 32,
    const B: usize = 1024,
    const E: usize = 64,
    const L: usize = 64,
    const K: usize = 64,
    const V: usize = 256,
    const EVENTS: usize = { blaze_membership::EVENT_CAPACITY },
    const CONTROL: usize = { blaze_membership::CONTROL_CAPACITY },
    const CONSUMERS: usize = { blaze_membership::MAX_CONSUMERS },
    const MAP_PENDING: usize = DEFAULT_MAP_PENDING,
    const MAP_EVENTS: usize = DEFAULT_MAP_EVENTS,
    const MAP_ORIGINS: usize = DEFAULT_MAP_ORIGINS,
    const SENDERS: usize = P,
    const TOPICS: usize = { crate::MAX_TOPICS },
    const T: usize = W,
> {
    config: Config,
    me: MemberId,
    /// This member's incarnation: its map requests are numbered above
    /// those of earlier incarnations.
    incarnation: u64,
    rng: Rng,
    membership: Membership<P, G, S, B, EVENTS, CONTROL, CONSUMERS>,
    slots: [Slot<'a, C, P, SENDERS, W, E, L, K, V, MAP_PENDING, MAP_EVENTS, MAP_ORIGINS, T>; G],
    topics: Topics<TOPICS>,
    stats: Stats,
    /// The latest `now` seen (events are polled without one).
    now: Instant,
    /// The earliest deadline of every machine, as of the last call.
    deadline: Option<Instant>,
    /// Each machine's deadline as of the last full refresh (membership
    /// first, then each slot's sources and map), so that a datagram for
    /// one channel recomputes only that channel's.
    deadlines: Deadlines<G>,
    /// Next source asked by `poll_transmit`.
    tx_cursor: usize,
    /// Next source asked by `poll_event`.
    ev_cursor: usize,
    /// Events were handed out since `poll_event` last returned `None`.
    delivered: bool,
    /// The members whose last ring join said they run no map: a map
    /// ordered by a ring leaves them out of the ring's configurations
    /// (which the ring agrees on apart from the views).
    #[cfg(all(feature = "map", feature = "total-order"))]
    map_less: heapless::Vec<MemberId, P>,
}

impl<
    'a,
    C: CustomProtocol,
    const G: usize,
    const P: usize,
    const W: usize,
    const S: usize,
    const B: usize,
    const E: usize,
    const L: usize,
    const K: usize,
    const V: usize,
    const EVENTS: usize,
    const CONTROL: usize,
    const CONSUMERS: usize,
    const MAP_PENDING: usize,
    const MAP_EVENTS: usize,
    const MAP_ORIGINS: usize,
    const SENDERS: usize,
    const TOPICS: usize,
    const T: usize,
>
    Node<
        'a,
        C,
        G,
        P,
        W,
        S,
        B,
        E,
        L,
        K,
        V,
        EVENTS,
        CONTROL,
        CONSUMERS,
        MAP_PENDING,
        MAP_EVENTS,
        MAP_ORIGINS,
        SENDERS,
        TOPICS,
        T,
    >
{
    /// A node that is in no group yet, with one [`GroupBuffers`] per group
    /// slot.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when a block of `config` is invalid, the reliable
    /// channels' `flow_window` exceeds `W`, or a slot's buffers are too
    /// small; no node is made.
    pub fn new(
        now: Instant,
        config: Config,
        identity: Identity,
        buffers: [GroupBuffers<'a>; G],
    ) -> Result<Self, ConfigError> {
        let (rng, membership) = Self::prepare(&config, identity, &buffers)?;
        Ok(Node {
            config,
            me: identity.id,
            incarnation: identity.incarnation,
            rng,
            membership,
            slots: buffers.map(|b| Slot::idle(b.into_spare())),
            topics: Topics::default(),
            stats: Stats::default(),
            now,
            deadline: None,
            deadlines: Deadlines::new(),
            tx_cursor: 0,
            ev_cursor: 0,
            delivered: false,
            #[cfg(all(feature = "map", feature = "total-order"))]
            map_less: heapless::Vec::new(),
        })
    }

    /// Checks the configuration and the buffers, and makes the membership
    /// machine and the random generator (everything that can fail).
    fn prepare(
        config: &Config,
        identity: Identity,
        buffers: &[GroupBuffers<'a>; G],
    ) -> Result<(Rng, Membership<P, G, S, B, EVENTS, CONTROL, CONSUMERS>), ConfigError> {
        config.nack.validate().map_err(ConfigError::Nack)?;
        if config.nack.flow_window.get() as usize > W {
            return Err(ConfigError::Nack(blaze_proto_nack::ConfigError::FlowWindow));
        }
        #[cfg(feature = "map")]
        config.map.validate().map_err(ConfigError::Map)?;
        if buffers.iter().any(|b| !b.all_fit(config, SENDERS, W))
            || P == 0
            || SENDERS == 0
            || W == 0
        {
            return Err(ConfigError::Buffers);
        }
        let mut rng = Rng::new(identity.seed);
        let me = blaze_membership::Identity {
            id: identity.id,
            name: identity.name,
            metadata: identity.metadata,
            incarnation: identity.incarnation,
            services: config.services(),
        };
        let membership = Membership::new(config.membership, me, Rng::new(rng.next_u64()))
            .map_err(ConfigError::Membership)?;
        Ok((rng, membership))
    }

    /// Builds the node that [`new`](Node::new) returns, but in `place`,
    /// one field (and one group slot) at a time, so that no whole node is
    /// ever on the stack: a node is large (its capacities are inline), and
    /// building one by value takes several times its size of stack in an
    /// unoptimised build. An adapter allocates the place (for instance
    /// `Box::new_uninit`) and, once this returned `Ok`, may treat it as
    /// initialised (`assume_init`).
    ///
    /// ```
    /// use core::mem::MaybeUninit;
    /// use blaze_node::{Config, GroupBuffers, Identity, Name, Metadata, Node, RxSlot, SendSlot, Buffers};
    /// use blaze_wire::{Instant, MemberId};
    ///
    /// let mut config = Config::lan();
    /// config.nack.flow_window = core::num::NonZeroU32::new(8).unwrap();
    /// let need = GroupBuffers::recv_bytes_needed(&config, 4, 8);
    /// let mut store = [(vec![SendSlot::EMPTY; 8], vec![0u8; 8192], vec![0u8; need], [RxSlot::EMPTY; 4 * 8]),
    ///                  (vec![SendSlot::EMPTY; 8], vec![0u8; 8192], vec![0u8; need], [RxSlot::EMPTY; 4 * 8])];
    /// let [r, b] = &mut store;
    /// let buffers = [GroupBuffers {
    ///     reliable: Buffers { send_index: &mut r.0, send_bytes: &mut r.1, recv_bytes: &mut r.2, recv_slots: &mut r.3, reassembly: &mut [] },
    ///     best_effort: Buffers { send_index: &mut b.0, send_bytes: &mut b.1, recv_bytes: &mut b.2, recv_slots: &mut b.3, reassembly: &mut [] },
    /// }];
    /// let me = Identity { id: MemberId::from_u128(1), name: Name::new("ann").unwrap(),
    ///                     metadata: Metadata::default(), incarnation: 0, seed: 7 };
    /// let mut place: Box<MaybeUninit<Node<'_, blaze_node::NoCustom, 1, 4, 8, 4, 256, 8, 8, 16, 32>>> =
    ///     Box::new_uninit();
    /// let node = Node::init_in(&mut place, Instant::ZERO, config, me, buffers).unwrap();
    /// assert_eq!(node.id(), MemberId::from_u128(1));
    /// ```
    ///
    /// # Errors
    ///
    /// As [`new`](Node::new); `place` is then left untouched
    /// (uninitialised).
    #[allow(
        unsafe_code,
        reason = "writing a struct in place field by field needs raw pointers"
    )]
    // Out of line: called once, its temporaries (the membership machine
    // on its way into place) then take no room in the caller's frame for
    // as long as the caller runs (on a microcontroller, an async task's
    // frame that every later call sits on).
    #[inline(never)]
    pub fn init_in<'n>(
        place: &'n mut MaybeUninit<Self>,
        now: Instant,
        config: Config,
        identity: Identity,
        buffers: [GroupBuffers<'a>; G],
    ) -> Result<&'n mut Self, ConfigError> {
        // Everything that can fail happens before the first write.
        let (rng, membership) = Self::prepare(&config, identity, &buffers)?;
        let me = identity.id;
        let node = place.as_mut_ptr();
        // SAFETY: `node` comes from a live `&mut MaybeUninit<Self>`, so it
        // is non-null, aligned and valid for writes of a `Self`, and nothing
        // else reads or writes that memory meanwhile. `addr_of_mut!` takes
        // each field's address without making a reference to uninitialised
        // memory, and `write` stores without reading or dropping the old
        // (uninitialised) contents. The slots are written through a pointer
        // to the array's first element: `[T; G]` lays its `G` elements out
        // contiguously, and `add(i)` stays inside the array for `i < G`,
        // which holds because `buffers` (an array of `G`) yields exactly `G`
        // items; each slot pointer therefore meets `Slot::init_idle_in`'s
        // contract.
        unsafe {
            addr_of_mut!((*node).config).write(config);
            addr_of_mut!((*node).me).write(me);
            addr_of_mut!((*node).incarnation).write(identity.incarnation);
            addr_of_mut!((*node).rng).write(rng);
            addr_of_mut!((*node).membership).write(membership);
            let slots = addr_of_mut!((*node).slots).cast::<Slot<
                'a,
                C,
                P,
                SENDERS,
                W,
                E,
                L,
                K,
                V,
                MAP_PENDING,
                MAP_EVENTS,
                MAP_ORIGINS,
                T,
            >>();
            for (i, b) in buffers.into_iter().enumerate() {
                Slot::init_idle_in(slots.add(i), b.into_spare());
            }
            addr_of_mut!((*node).topics).write(Topics::default());
            addr_of_mut!((*node).stats).write(Stats::default());
            addr_of_mut!((*node).now).write(now);
            addr_of_mut!((*node).deadline).write(None);
            addr_of_mut!((*node).deadlines).write(Deadlines::new());
            addr_of_mut!((*node).tx_cursor).write(0);
            addr_of_mut!((*node).ev_cursor).write(0);
            addr_of_mut!((*node).delivered).write(false);
            #[cfg(all(feature = "map", feature = "total-order"))]
            addr_of_mut!((*node).map_less).write(heapless::Vec::new());
        }
        // SAFETY: every field of the node was written above, and every one
        // of the `G` slots (see the proof of the writes). The exhaustive
        // pattern below stops the build if a field is added to `Node`
        // without a write here.
        let node = unsafe { place.assume_init_mut() };
        let Node {
            config: _,
            me: _,
            incarnation: _,
            rng: _,
            membership: _,
            slots: _,
            topics: _,
            stats: _,
            now: _,
            deadline: _,
            deadlines: _,
            tx_cursor: _,
            ev_cursor: _,
            delivered: _,
            #[cfg(all(feature = "map", feature = "total-order"))]
                map_less: _,
        } = node;
        Ok(node)
    }

    // ------------------------------------------------------------ getters

    /// This member's id.
    pub fn id(&self) -> MemberId {
        self.me
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The router's counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The membership machine (views, members, its counters).
    pub fn membership(&self) -> &Membership<P, G, S, B, EVENTS, CONTROL, CONSUMERS> {
        &self.membership
    }

    /// The groups this node is in (or joining).
    pub fn groups(&self) -> impl Iterator<Item = GroupId> + '_ {
        self.slots.iter().filter_map(|s| s.group)
    }

    /// The installed view of `group`, if any.
    pub fn view(&self, group: GroupId) -> Option<&blaze_membership::View<P>> {
        self.membership.view(group)
    }

    /// The members of `group`'s view, coordinator first (empty before the
    /// first view).
    pub fn members(&self, group: GroupId) -> &[blaze_membership::ViewMember] {
        self.membership.view(group).map_or(&[], |v| v.members())
    }

    /// The coordinator (master) of `group`, once a view is installed.
    pub fn coordinator(&self, group: GroupId) -> Option<MemberId> {
        self.membership.view(group).and_then(|v| v.coordinator())
    }

    /// Whether this member coordinates `group`.
    pub fn is_coordinator(&self, group: GroupId) -> bool {
        self.coordinator(group) == Some(self.me)
    }

    /// The QoS of `topic` ([`Qos::Reliable`] unless set).
    pub fn qos(&self, topic: &str) -> Qos {
        self.topics.qos(topic)
    }

    /// The built-in channel of `group` carrying `qos`, for its counters
    /// (`None` for [`Qos::Custom`]: see [`Node::custom`]).
    pub fn channel(&self, group: GroupId, qos: Qos) -> Option<&Channel<'a, C, SENDERS, W, P, T>> {
        let slot = self.slot(group)?;
        slot.channels.get(crate::group::channel_of(qos)?)?.as_ref()
    }

    /// The replicated map of `group` (entries, locks, its counters).
    /// Feature `map`.
    #[cfg(feature = "map")]
    pub fn map(
        &self,
        group: GroupId,
    ) -> Option<&Replica<E, L, K, V, P, MAP_PENDING, MAP_EVENTS, MAP_ORIGINS>> {
        self.slot(group)?.map.as_ref()
    }

    fn slot(
        &self,
        group: GroupId,
    ) -> Option<&Slot<'a, C, P, SENDERS, W, E, L, K, V, MAP_PENDING, MAP_EVENTS, MAP_ORIGINS, T>>
    {
        self.slots.iter().find(|s| s.serves(group))
    }

    fn slot_mut(
        &mut self,
        group: GroupId,
    ) -> Option<&mut Slot<'a, C, P, SENDERS, W, E, L, K, V, MAP_PENDING, MAP_EVENTS, MAP_ORIGINS, T>>
    {
        self.slots.iter_mut().find(|s| s.serves(group))
    }
}

impl<
    C,
    const G: usize,
    const P: usize,
    const W: usize,
    const S: usize,
    const B: usize,
    const E: usize,
    const L: usize,
    const K: usize,
    const V: usize,
    const EVENTS: usize,
    const CONTROL: usize,
    const CONSUMERS: usize,
    const MAP_PENDING: usize,
    const MAP_EVENTS: usize,
    const MAP_ORIGINS: usize,
    const SENDERS: usize,
    const TOPICS: usize,
    const T: usize,
> core::fmt::Debug
    for Node<
        '_,
        C,
        G,
        P,
        W,
        S,
        B,
        E,
        L,
        K,
        V,
        EVENTS,
        CONTROL,
        CONSUMERS,
        MAP_PENDING,
        MAP_EVENTS,
        MAP_ORIGINS,
        SENDERS,
        TOPICS,
        T,
    >
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Node")
            .field("me", &self.me)
            .field("slots", &self.slots)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

// `Protocol` is implemented in `io.rs`.
const _: fn() = || {
    fn is_protocol<T: Protocol>() {}
    is_protocol::<Node<'static>>();
};
