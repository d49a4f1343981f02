//! The commands of a [`Node`] through its [`Blaze`] handle.

use core::future::poll_fn;
use core::task::{Context, Poll};

use blaze_node::{CustomProtocol, GroupError, MessageError, Node, Protocol, PublishError};
#[cfg(feature = "map")]
use blaze_node::{EntryRef, MapError, RequestId, WriteOptions};
#[cfg(feature = "map")]
use blaze_wire::Duration;
use blaze_wire::{GroupId, MemberId};

use crate::Blaze;

/// A machine whose [`Node`] the [`Blaze`] handle's node commands reach:
/// a node the [`Resources`](crate::Resources) own, or one borrowed
/// (`&'static mut Node`) from the place it was built in with
/// [`Node::init_in`], so that no whole node passes through the stack on
/// its way into a `static`, which matters on a microcontroller: a node
/// is tens of kilobytes.
///
/// ```
/// use core::mem::MaybeUninit;
/// use blaze_embassy::{AsNode, Resources};
/// use blaze_node::{Buffers, Config, GroupBuffers, Identity, Metadata, Name, Node, RxSlot, SendSlot};
/// use blaze_wire::{Instant, MemberId};
/// use static_cell::StaticCell;
///
/// type Small = Node<'static, blaze_node::NoCustom, 1, 4, 8, 4, 256, 8, 8, 16, 32>;
/// // The node's place and the adapter's resources, each in a `static`.
/// static NODE: StaticCell<MaybeUninit<Small>> = StaticCell::new();
/// static RESOURCES: StaticCell<Resources<&'static mut Small, 8, 4096>> = StaticCell::new();
///
/// let mut config = Config::lan();
/// config.nack.flow_window = core::num::NonZeroU32::new(8).unwrap();
/// let need = GroupBuffers::recv_bytes_needed(&config, 4, 8);
/// let r = Box::leak(Box::new((vec![SendSlot::EMPTY; 8], vec![0u8; 8192], vec![0u8; need], [RxSlot::EMPTY; 32])));
/// let b = Box::leak(Box::new((vec![SendSlot::EMPTY; 8], vec![0u8; 8192], vec![0u8; need], [RxSlot::EMPTY; 32])));
/// let buffers = [GroupBuffers {
///     reliable: Buffers { send_index: &mut r.0, send_bytes: &mut r.1, recv_bytes: &mut r.2, recv_slots: &mut r.3, reassembly: &mut [] },
///     best_effort: Buffers { send_index: &mut b.0, send_bytes: &mut b.1, recv_bytes: &mut b.2, recv_slots: &mut b.3, reassembly: &mut [] },
/// }];
/// let me = Identity { id: MemberId::from_u128(1), name: Name::new("ann").unwrap(),
///                     metadata: Metadata::default(), incarnation: 0, seed: 7 };
/// // Built in its place, a field at a time, and lent to the adapter:
/// // `blaze_embassy::new(stack, node, config, resources)` runs it.
/// let mut node: &'static mut Small =
///     Small::init_in(NODE.init(MaybeUninit::uninit()), Instant::ZERO, config, me, buffers).unwrap();
/// let resources = RESOURCES.init(Resources::new());
/// assert_eq!(node.node_mut().id(), MemberId::from_u128(1));
/// # let _ = resources;
/// ```
pub trait AsNode {
    /// The node.
    type Node;

    /// The node, to read.
    fn node(&self) -> &Self::Node;

    /// The node, to command.
    fn node_mut(&mut self) -> &mut Self::Node;
}

impl<T: AsNode + ?Sized> AsNode for &mut T {
    type Node = T::Node;

    fn node(&self) -> &Self::Node {
        (**self).node()
    }

    fn node_mut(&mut self) -> &mut Self::Node {
        (**self).node_mut()
    }
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
> AsNode
    for Node<
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
    type Node = Self;

    fn node(&self) -> &Self {
        self
    }

    fn node_mut(&mut self) -> &mut Self {
        self
    }
}

impl<
    'a,
    M,
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
> Blaze<'_, M>
where
    M: Protocol
        + AsNode<
            Node = Node<
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
            >,
        >,
{
    /// Joins the group `name` ([`Node::join`]); views arrive as events.
    ///
    /// # Errors
    ///
    /// [`GroupError`]; nothing changed.
    pub fn join(&self, name: &str) -> Result<GroupId, GroupError> {
        self.with(|m, now| m.node_mut().join(now, name))
    }

    /// Leaves `group` gracefully ([`Node::leave`]).
    ///
    /// # Errors
    ///
    /// [`GroupError`]; nothing changed.
    pub fn leave(&self, group: GroupId) -> Result<(), GroupError> {
        self.with(|m, now| m.node_mut().leave(now, group))
    }

    /// Publishes `payload` on `topic` of `group` ([`Node::publish`]), or
    /// registers the task to be woken when the channel's window may have
    /// room (`WouldBlock`).
    pub fn poll_publish(
        &self,
        cx: &mut Context<'_>,
        group: GroupId,
        topic: &str,
        payload: &[u8],
    ) -> Poll<Result<(), PublishError<C::PublishError>>> {
        self.poll_until(cx, |m, now| {
            match m.node_mut().publish(now, group, topic, payload) {
                Err(PublishError::WouldBlock) => None,
                r => Some(r),
            }
        })
    }

    /// Publishes `payload` on `topic` of `group`, waiting while the
    /// channel's window is full.
    ///
    /// # Errors
    ///
    /// [`PublishError`] other than `WouldBlock`; nothing was queued.
    pub async fn publish(
        &self,
        group: GroupId,
        topic: &str,
        payload: &[u8],
    ) -> Result<(), PublishError<C::PublishError>> {
        poll_fn(|cx| self.poll_publish(cx, group, topic, payload)).await
    }

    /// Sends `payload` to member `to` ([`Node::send_to`]).
    ///
    /// # Errors
    ///
    /// [`MessageError`]; nothing was sent.
    pub fn send_to(&self, to: MemberId, payload: &[u8]) -> Result<(), MessageError> {
        self.with(|m, now| m.node_mut().send_to(now, to, payload))
    }

    /// Sets `key` to `value` in `map` of `group` ([`Node::map_put`]); the
    /// outcome arrives as an event with the returned id.
    ///
    /// Feature `map`.
    ///
    /// # Errors
    ///
    /// [`MapError`]; nothing was sent.
    #[cfg(feature = "map")]
    pub fn map_put(
        &self,
        group: GroupId,
        map: &str,
        key: &[u8],
        value: &[u8],
        options: WriteOptions,
    ) -> Result<RequestId, MapError> {
        self.with(|m, now| m.node_mut().map_put(now, group, map, key, value, options))
    }

    /// Removes `key` from `map` of `group` ([`Node::map_remove`]).
    ///
    /// Feature `map`.
    ///
    /// # Errors
    ///
    /// [`MapError`]; nothing was sent.
    #[cfg(feature = "map")]
    pub fn map_remove(
        &self,
        group: GroupId,
        map: &str,
        key: &[u8],
        fence: u64,
    ) -> Result<RequestId, MapError> {
        self.with(|m, now| m.node_mut().map_remove(now, group, map, key, fence))
    }

    /// Hands this member's copy of `key` in `map` of `group` to `f`.
    ///
    /// Feature `map`.
    #[cfg(feature = "map")]
    pub fn map_get<R>(
        &self,
        group: GroupId,
        map: &str,
        key: &[u8],
        f: impl FnOnce(Option<EntryRef<'_>>) -> R,
    ) -> R {
        self.read(|m| f(m.node().map_get(group, map, key)))
    }

    /// Waits until this member's copy of `key` in `map` of `group` is
    /// `value`.
    ///
    /// Feature `map`.
    #[cfg(feature = "map")]
    pub async fn map_wait_for(&self, group: GroupId, map: &str, key: &[u8], value: &[u8]) {
        self.until(|m, _| {
            let node = m.node();
            node.map_get(group, map, key)
                .is_some_and(|e| e.value == value)
                .then_some(())
        })
        .await;
    }

    /// Asks for the write lock of `key` ([`Node::lock`]); the outcome
    /// arrives as an event with the returned id.
    ///
    /// Feature `map`.
    ///
    /// # Errors
    ///
    /// [`MapError`]; nothing was sent.
    #[cfg(feature = "map")]
    pub fn lock(
        &self,
        group: GroupId,
        map: &str,
        key: &[u8],
        lease: Duration,
    ) -> Result<RequestId, MapError> {
        self.with(|m, now| m.node_mut().lock(now, group, map, key, lease))
    }

    /// Releases a lock this member holds ([`Node::unlock`]).
    ///
    /// Feature `map`.
    ///
    /// # Errors
    ///
    /// [`MapError`].
    #[cfg(feature = "map")]
    pub fn unlock(&self, group: GroupId, map: &str, key: &[u8]) -> Result<(), MapError> {
        self.with(|m, now| m.node_mut().unlock(now, group, map, key))
    }

    /// Waits until `key`'s lock in `map` of `group` is held by this
    /// member, as applied here; returns its fencing token.
    ///
    /// Feature `map`.
    #[cfg(feature = "map")]
    pub async fn lock_wait_held(&self, group: GroupId, map: &str, key: &[u8]) -> u64 {
        self.until(|m, _| {
            let node = m.node();
            let me = node.id();
            node.lock_info(group, map, key)
                .filter(|l| l.holder == me)
                .map(|l| l.fence)
        })
        .await
    }

    /// Waits until the view of `group` has `members` members; returns the
    /// view's coordinator.
    pub async fn wait_view(&self, group: GroupId, members: usize) -> MemberId {
        self.until(|m, _| {
            let node = m.node();
            (node.members(group).len() == members)
                .then(|| node.coordinator(group))
                .flatten()
        })
        .await
    }
}
