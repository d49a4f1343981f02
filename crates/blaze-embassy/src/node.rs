//! The commands of a [`Node`] through its [`Blaze`] handle.

use core::future::poll_fn;
use core::task::{Context, Poll};

use blaze_node::{CustomProtocol, GroupError, MessageError, Node, PublishError};
#[cfg(feature = "map")]
use blaze_node::{EntryRef, MapError, RequestId, WriteOptions};
#[cfg(feature = "map")]
use blaze_wire::Duration;
use blaze_wire::{GroupId, MemberId};

use crate::Blaze;

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
    Blaze<
        '_,
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
        >,
    >
{
    /// Joins the group `name` ([`Node::join`]); views arrive as events.
    ///
    /// # Errors
    ///
    /// [`GroupError`]; nothing changed.
    pub fn join(&self, name: &str) -> Result<GroupId, GroupError> {
        self.with(|node, now| node.join(now, name))
    }

    /// Leaves `group` gracefully ([`Node::leave`]).
    ///
    /// # Errors
    ///
    /// [`GroupError`]; nothing changed.
    pub fn leave(&self, group: GroupId) -> Result<(), GroupError> {
        self.with(|node, now| node.leave(now, group))
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
        self.poll_until(cx, |node, now| {
            match node.publish(now, group, topic, payload) {
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
        self.with(|node, now| node.send_to(now, to, payload))
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
        self.with(|node, now| node.map_put(now, group, map, key, value, options))
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
        self.with(|node, now| node.map_remove(now, group, map, key, fence))
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
        self.read(|node| f(node.map_get(group, map, key)))
    }

    /// Waits until this member's copy of `key` in `map` of `group` is
    /// `value`.
    ///
    /// Feature `map`.
    #[cfg(feature = "map")]
    pub async fn map_wait_for(&self, group: GroupId, map: &str, key: &[u8], value: &[u8]) {
        self.until(|node, _| {
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
        self.with(|node, now| node.lock(now, group, map, key, lease))
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
        self.with(|node, now| node.unlock(now, group, map, key))
    }

    /// Waits until `key`'s lock in `map` of `group` is held by this
    /// member, as applied here; returns its fencing token.
    ///
    /// Feature `map`.
    #[cfg(feature = "map")]
    pub async fn lock_wait_held(&self, group: GroupId, map: &str, key: &[u8]) -> u64 {
        self.until(|node, _| {
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
        self.until(|node, _| {
            (node.members(group).len() == members)
                .then(|| node.coordinator(group))
                .flatten()
        })
        .await
    }
}
