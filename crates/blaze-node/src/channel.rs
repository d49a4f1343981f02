//! The protocol enum: one group's channels behind one verb set.

use core::net::SocketAddr;

use blaze_proto_nack::{Endpoint, Event as NackEvent};
#[cfg(feature = "total-order")]
use blaze_proto_totem::{
    Buffers as TotemBuffers, ConfigError as TotemConfigError, Event as TotemEvent, Totem,
};
use blaze_wire::{BatchMessages, Frame, GroupId, Instant, MemberId, Transmit};

use crate::{CustomProtocol, Qos};

/// Bytes of one message slot of the total-order channel: a message's
/// topic and payload together must fit in [`TotemRing::MAX_PAYLOAD`] (the
/// topic travels in the message's own `DataMessage.topic` field): room for
/// a 1 KiB message with its topic, and a slot with its frame still fits one
/// 1,472-byte datagram.
#[cfg(feature = "total-order")]
pub const TOTEM_SLOT: usize = 1152;
/// Messages the total-order channel queues before the token takes them:
/// a busy member has a whole visit's share of a large window ready when
/// the token comes (a queue of 64 held a ring of three to 192 messages a
/// rotation, whatever its window). A queued message of up to
/// [`TOTEM_INLINE`](crate::TOTEM_INLINE) bytes takes that many bytes of storage;
/// a larger one a pool slot.
#[cfg(feature = "total-order")]
pub const TOTEM_QUEUE: usize = 512;

/// The Totem machine of a group's total-order channel: at most `PEERS`
/// members on the ring (this one included) and a window of `W` messages
/// of [`TOTEM_SLOT`] bytes, kept in [`TotemBuffers`].
#[cfg(feature = "total-order")]
pub type TotemRing<'a, const PEERS: usize, const W: usize> =
    Totem<'a, PEERS, W, TOTEM_SLOT, TOTEM_QUEUE>;

/// Storage of one group slot's total-order channel, lent to the node with
/// [`Node::add_total_order`](crate::Node::add_total_order). It borrows
/// the ring's message buffers ([`TotemStorage::slots_needed`] slot
/// headers and [`TotemStorage::bytes_needed`] bytes, about
/// `(W + TOTEM_QUEUE) * TOTEM_SLOT`) and holds the Totem machine, which
/// keeps its messages there, while a group is joined: the machine itself
/// is small, so a large window need not go through the stack.
///
/// ```
/// use blaze_node::{TotemBuffers, TotemSlot, TotemStorage};
/// type S<'a> = TotemStorage<'a, 16, 64>;
/// let mut slots = vec![TotemSlot::EMPTY; S::slots_needed()];
/// let mut bytes = vec![0u8; S::bytes_needed()];
/// let storage = S::new(TotemBuffers { slots: &mut slots, bytes: &mut bytes }).unwrap();
/// assert!(storage.ring().is_none());
/// ```
#[cfg(feature = "total-order")]
pub struct TotemStorage<'a, const PEERS: usize, const W: usize> {
    ring: Option<TotemRing<'a, PEERS, W>>,
    /// The buffers while no machine holds them.
    spare: Option<TotemBuffers<'a>>,
}

#[cfg(feature = "total-order")]
impl<const PEERS: usize, const W: usize> core::fmt::Debug for TotemStorage<'_, PEERS, W> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let t = self.ring.as_ref();
        f.debug_struct("TotemStorage")
            .field("ring", &t.and_then(|t| t.ring()))
            .field("members", &t.map_or(&[][..], |t| t.members()))
            .finish()
    }
}

#[cfg(feature = "total-order")]
impl<'a, const PEERS: usize, const W: usize> TotemStorage<'a, PEERS, W> {
    /// Slot headers a storage needs: one per message of the window.
    pub const fn slots_needed() -> usize {
        TotemBuffers::slots_needed(W)
    }

    /// Message bytes a storage needs so that every message of the window
    /// and the send queue may be a large one: [`bytes_with_pool`](TotemStorage::bytes_with_pool)
    /// with a pool slot for each.
    pub const fn bytes_needed() -> usize {
        TotemBuffers::bytes_needed(W, TOTEM_SLOT, TOTEM_QUEUE)
    }

    /// Message bytes of a storage whose `pool` slots of [`TOTEM_SLOT`]
    /// bytes hold the messages larger than
    /// [`TOTEM_INLINE`](crate::TOTEM_INLINE) (at least 2): smaller ones live in
    /// the window's and the queue's own slots. A pool smaller than the
    /// window bounds the large messages in flight on the ring (half
    /// of the pool after the point every member holds), not the small
    /// ones.
    pub const fn bytes_with_pool(pool: usize) -> usize {
        TotemBuffers::bytes_with_pool(W, TOTEM_SLOT, TOTEM_QUEUE, pool)
    }

    /// Storage in `buffers`, with no machine yet.
    ///
    /// # Errors
    ///
    /// [`TotemConfigError::Buffers`] when the buffers do not have exactly
    /// [`slots_needed`](TotemStorage::slots_needed) slots and at least
    /// [`bytes_needed`](TotemStorage::bytes_needed) bytes.
    pub fn new(buffers: TotemBuffers<'a>) -> Result<Self, TotemConfigError> {
        TotemRing::<PEERS, W>::check_buffers(&buffers)?;
        Ok(TotemStorage {
            ring: None,
            spare: Some(buffers),
        })
    }

    /// The machine of the group last joined with this storage (its ring,
    /// members and counters), if any.
    pub fn ring(&self) -> Option<&TotemRing<'a, PEERS, W>> {
        self.ring.as_ref()
    }

    /// Ends the machine, if any, keeping its buffers for the next one
    /// (the machine of the last group stays readable otherwise).
    pub(crate) fn close(&mut self) {
        if let Some(t) = self.ring.take() {
            self.spare = Some(t.into_buffers());
        }
    }

    /// Opens a new machine in the buffers (ending the last one); whether
    /// it opened (not when `config` is invalid).
    pub(crate) fn open(
        &mut self,
        now: Instant,
        me: MemberId,
        group: GroupId,
        config: blaze_proto_totem::Config,
    ) -> bool {
        self.close();
        if config.validate().is_err() {
            return false;
        }
        let Some(buffers) = self.spare.take() else {
            return false;
        };
        // Only a configuration or buffers `new` refuses fail it, both
        // checked before, so the buffers are not lost.
        self.ring = TotemRing::<PEERS, W>::new(now, me, group, config, buffers).ok();
        self.ring.is_some()
    }

    pub(crate) fn ring_mut(&mut self) -> Option<&mut TotemRing<'a, PEERS, W>> {
        self.ring.as_mut()
    }
}

/// Stream id of every group's reliable channel on the wire.
pub const STREAM_RELIABLE: u32 = 1;
/// Stream id of every group's best-effort channel on the wire.
pub const STREAM_BEST_EFFORT: u32 = 2;
/// Stream id of every group's reliable + FEC channel on the wire.
pub const STREAM_RELIABLE_FEC: u32 = 3;

/// One channel of a group: a built-in protocol or the user's.
///
/// The node composes its machines through this enum (one internal verb
/// set, no `dyn`): each group has a reliable and a best-effort channel,
/// and optionally a custom one (kept apart, at its own size, so that
/// [`Node::channel`](crate::Node::channel) does not return it: see
/// [`Node::custom`](crate::Node::custom)). Topics are routed to a channel by their
/// [`Qos`]. A group has a reliable + FEC channel when its slot got FEC
/// storage, and a total-order channel ([`Qos::Agreed`] and [`Qos::Safe`])
/// when its slot got Totem storage.
///
/// A NACK endpoint has room for `PEERS` remote senders with receive
/// windows of `W` messages; the Totem ring for `RING` members, this one
/// included (`PEERS` unless given: a node passes its `SENDERS` and `P`).
#[derive(Debug)]
#[non_exhaustive]
pub enum Channel<
    'a,
    C,
    const PEERS: usize,
    const W: usize,
    const RING: usize = PEERS,
    const T: usize = W,
> {
    /// Plain datagrams ([`Qos::BestEffort`]).
    BestEffort(Endpoint<'a, PEERS, W>),
    /// NACK-based reliable multicast ([`Qos::Reliable`]).
    Reliable(Endpoint<'a, PEERS, W>),
    /// Reliable multicast with Reed–Solomon parity ([`Qos::ReliableFec`]);
    /// opened only in builds with the `fec` feature.
    ReliableFec(Endpoint<'a, PEERS, W>),
    /// The user's protocol ([`Qos::Custom`]).
    Custom(C),
    /// Totem total order ([`Qos::Agreed`] and [`Qos::Safe`]); it runs its
    /// own ring membership. Feature `total-order`.
    #[cfg(feature = "total-order")]
    Totem(&'a mut TotemStorage<'a, RING, T>),
}

/// A channel of a group slot, built-in or custom (kept apart in the slot),
/// behind the verbs the node drives every channel with.
pub(crate) enum Source<
    's,
    'a,
    C,
    const PEERS: usize,
    const W: usize,
    const RING: usize,
    const T: usize,
> {
    /// A built-in channel.
    Channel(&'s mut Channel<'a, C, PEERS, W, RING, T>),
    /// The custom channel.
    Custom(&'s mut C),
}

impl<C: CustomProtocol, const PEERS: usize, const W: usize, const RING: usize, const T: usize>
    Source<'_, '_, C, PEERS, W, RING, T>
{
    /// A datagram and its frame as the router decoded it
    /// ([`Frame::parse_deferred`]), with the batch's `messages`.
    pub(crate) fn handle_datagram(
        self,
        now: Instant,
        from: SocketAddr,
        datagram: &[u8],
        frame: Frame<'_>,
        messages: BatchMessages<'_>,
    ) {
        match self {
            Source::Channel(c) => c.handle_datagram(now, from, datagram, frame, messages),
            Source::Custom(c) => c.handle_datagram(now, from, datagram),
        }
    }

    pub(crate) fn handle_timeout(self, now: Instant) {
        match self {
            Source::Channel(c) => c.handle_timeout(now),
            Source::Custom(c) => c.handle_timeout(now),
        }
    }

    pub(crate) fn poll_transmit(self, now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        match self {
            Source::Channel(c) => c.poll_transmit(now, buf),
            Source::Custom(c) => c.poll_transmit(now, buf),
        }
    }

    pub(crate) fn poll_timeout(self) -> Option<Instant> {
        match self {
            Source::Channel(c) => c.poll_timeout(),
            Source::Custom(c) => c.poll_timeout(),
        }
    }

    /// As [`Channel::handle_view`].
    pub(crate) fn handle_view(
        self,
        now: Instant,
        group: GroupId,
        added: &[MemberId],
        removed: &[MemberId],
        members: &[MemberId],
    ) -> u64 {
        match self {
            Source::Channel(c) => c.handle_view(now, group, added, removed, members),
            Source::Custom(c) => {
                c.handle_view(now, group, members);
                0
            }
        }
    }
}

/// An event of a channel, before the node adds the group.
pub(crate) enum ChannelEvent<'a, X> {
    Nack(NackEvent<'a>),
    Custom(X),
    #[cfg(feature = "total-order")]
    Totem(TotemEvent<'a>),
}

impl<'a, C: CustomProtocol, const PEERS: usize, const W: usize, const RING: usize, const T: usize>
    Channel<'a, C, PEERS, W, RING, T>
{
    /// The QoS this channel carries.
    pub fn qos(&self) -> Qos {
        match self {
            Channel::BestEffort(_) => Qos::BestEffort,
            Channel::Reliable(_) => Qos::Reliable,
            Channel::ReliableFec(_) => Qos::ReliableFec,
            Channel::Custom(_) => Qos::Custom,
            #[cfg(feature = "total-order")]
            Channel::Totem(_) => Qos::Agreed,
        }
    }

    /// A datagram and its frame as the router decoded it: the NACK-based
    /// channels take the frame (its header is not decoded again, its
    /// batch's messages once), the others the bytes.
    pub(crate) fn handle_datagram(
        &mut self,
        now: Instant,
        from: SocketAddr,
        datagram: &[u8],
        frame: Frame<'_>,
        messages: BatchMessages<'_>,
    ) {
        match self {
            Channel::BestEffort(e) | Channel::Reliable(e) | Channel::ReliableFec(e) => {
                e.handle_frame(now, from, frame, messages)
            }
            Channel::Custom(c) => c.handle_datagram(now, from, datagram),
            #[cfg(feature = "total-order")]
            Channel::Totem(t) => {
                if let Some(t) = t.ring_mut() {
                    t.handle_datagram(now, from, datagram);
                }
            }
        }
    }

    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        match self {
            Channel::BestEffort(e) | Channel::Reliable(e) | Channel::ReliableFec(e) => {
                e.handle_timeout(now)
            }
            Channel::Custom(c) => c.handle_timeout(now),
            #[cfg(feature = "total-order")]
            Channel::Totem(t) => {
                if let Some(t) = t.ring_mut() {
                    t.handle_timeout(now);
                }
            }
        }
    }

    pub(crate) fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        match self {
            Channel::BestEffort(e) | Channel::Reliable(e) | Channel::ReliableFec(e) => {
                e.poll_transmit(now, buf)
            }
            Channel::Custom(c) => c.poll_transmit(now, buf),
            #[cfg(feature = "total-order")]
            Channel::Totem(t) => t.ring_mut()?.poll_transmit(now, buf),
        }
    }

    pub(crate) fn poll_timeout(&mut self) -> Option<Instant> {
        match self {
            Channel::BestEffort(e) | Channel::Reliable(e) | Channel::ReliableFec(e) => {
                e.poll_timeout()
            }
            Channel::Custom(c) => c.poll_timeout(),
            #[cfg(feature = "total-order")]
            Channel::Totem(t) => t.ring()?.poll_timeout(),
        }
    }

    pub(crate) fn poll_event(&mut self, now: Instant) -> Option<ChannelEvent<'_, C::Event<'_>>> {
        match self {
            Channel::BestEffort(e) | Channel::Reliable(e) | Channel::ReliableFec(e) => {
                e.poll_event(now).map(ChannelEvent::Nack)
            }
            Channel::Custom(c) => c.poll_event().map(ChannelEvent::Custom),
            #[cfg(feature = "total-order")]
            Channel::Totem(t) => t.ring_mut()?.poll_event().map(ChannelEvent::Totem),
        }
    }

    /// A new view: `added` and `removed` members (never this one), and the
    /// full member list. Returns how many could not be added.
    pub(crate) fn handle_view(
        &mut self,
        now: Instant,
        group: GroupId,
        added: &[MemberId],
        removed: &[MemberId],
        members: &[MemberId],
    ) -> u64 {
        match self {
            Channel::BestEffort(e) | Channel::Reliable(e) | Channel::ReliableFec(e) => {
                for m in removed {
                    let _known = e.remove_peer(now, *m);
                }
                let mut full = 0;
                for m in added {
                    if e.add_peer(now, *m).is_err() {
                        full += 1;
                    }
                }
                full
            }
            Channel::Custom(c) => {
                c.handle_view(now, group, members);
                0
            }
            // The ring runs its own membership (Totem's join protocol).
            #[cfg(feature = "total-order")]
            Channel::Totem(_) => 0,
        }
    }
}
