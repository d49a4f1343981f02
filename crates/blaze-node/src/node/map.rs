//! Replicated map and lock commands, routed to the group's map.

use blaze_map::{EntryRef, LockInfo, Replica, RequestId, WriteOptions};
use blaze_wire::{Duration, GroupId, Instant};

use super::Node;
use crate::{CustomProtocol, MapError};

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
    /// Runs `f` on the map of `group`, then propagates its output.
    fn with_map<R>(
        &mut self,
        now: Instant,
        group: GroupId,
        f: impl FnOnce(
            &mut Replica<E, L, K, V, P, MAP_PENDING, MAP_EVENTS, MAP_ORIGINS>,
        ) -> Result<R, blaze_map::CommandError>,
    ) -> Result<R, MapError> {
        if !self.config.run_map {
            return Err(MapError::NotRunning);
        }
        self.advance(now);
        let map = self
            .slot_mut(group)
            .and_then(|s| s.map.as_mut())
            .ok_or(MapError::NotJoined)?;
        let r = f(map).map_err(MapError::Map);
        self.after_input(now);
        r
    }

    /// The local value of `key` in `map` of `group` (this member's copy).
    ///
    /// Feature `map`.
    pub fn map_get(&self, group: GroupId, map: &str, key: &[u8]) -> Option<EntryRef<'_>> {
        self.map(group)?.get(map, key)
    }

    /// The holder of `key`'s lock in `map` of `group`, as applied here.
    ///
    /// Feature `map`.
    pub fn lock_info(&self, group: GroupId, map: &str, key: &[u8]) -> Option<LockInfo> {
        self.map(group)?.lock_info(map, key)
    }

    /// Sets `key` to `value` in `map` of `group`. The outcome is
    /// [`Event::WriteDone`](crate::Event::WriteDone) or
    /// [`Event::WriteFailed`](crate::Event::WriteFailed) with the returned
    /// id; every member sees [`Event::MapChanged`](crate::Event::MapChanged).
    ///
    /// Feature `map`.
    ///
    /// # Errors
    ///
    /// [`MapError`]; nothing was sent.
    pub fn map_put(
        &mut self,
        now: Instant,
        group: GroupId,
        map: &str,
        key: &[u8],
        value: &[u8],
        options: WriteOptions,
    ) -> Result<RequestId, MapError> {
        self.with_map(now, group, |m| m.put(now, map, key, value, options))
    }

    /// Inserts `key` only if absent.
    ///
    /// Feature `map`.
    ///
    /// # Errors
    ///
    /// [`MapError`]; nothing was sent.
    pub fn map_put_if_absent(
        &mut self,
        now: Instant,
        group: GroupId,
        map: &str,
        key: &[u8],
        value: &[u8],
        options: WriteOptions,
    ) -> Result<RequestId, MapError> {
        self.with_map(now, group, |m| {
            m.put_if_absent(now, map, key, value, options)
        })
    }

    /// Replaces `key` only if its version is `expected` (0 = absent).
    ///
    /// Feature `map`.
    ///
    /// # Errors
    ///
    /// [`MapError`]; nothing was sent.
    #[allow(
        clippy::too_many_arguments,
        reason = "one argument per part of the compare-and-set"
    )]
    pub fn map_cas(
        &mut self,
        now: Instant,
        group: GroupId,
        map: &str,
        key: &[u8],
        expected: u64,
        value: &[u8],
        options: WriteOptions,
    ) -> Result<RequestId, MapError> {
        self.with_map(now, group, |m| {
            m.compare_and_set(now, map, key, expected, value, options)
        })
    }

    /// Removes `key` (`fence`: this member's lock token on it, or 0).
    ///
    /// Feature `map`.
    ///
    /// # Errors
    ///
    /// [`MapError`]; nothing was sent.
    pub fn map_remove(
        &mut self,
        now: Instant,
        group: GroupId,
        map: &str,
        key: &[u8],
        fence: u64,
    ) -> Result<RequestId, MapError> {
        self.with_map(now, group, |m| m.remove(now, map, key, fence))
    }

    /// Asks for the write lock of `key` with a `lease`; the outcome is
    /// [`Event::LockGranted`](crate::Event::LockGranted) or
    /// [`Event::LockFailed`](crate::Event::LockFailed).
    ///
    /// Feature `map`.
    ///
    /// # Errors
    ///
    /// [`MapError`]; nothing was sent.
    pub fn lock(
        &mut self,
        now: Instant,
        group: GroupId,
        map: &str,
        key: &[u8],
        lease: Duration,
    ) -> Result<RequestId, MapError> {
        self.with_map(now, group, |m| m.lock(now, map, key, lease))
    }

    /// Like [`lock`](Node::lock), giving up after `timeout`.
    ///
    /// Feature `map`.
    ///
    /// # Errors
    ///
    /// [`MapError`]; nothing was sent.
    pub fn try_lock(
        &mut self,
        now: Instant,
        group: GroupId,
        map: &str,
        key: &[u8],
        lease: Duration,
        timeout: Duration,
    ) -> Result<RequestId, MapError> {
        self.with_map(now, group, |m| m.try_lock(now, map, key, lease, timeout))
    }

    /// Extends the lease of a held lock to `lease` from now.
    ///
    /// Feature `map`.
    ///
    /// # Errors
    ///
    /// [`MapError`]; nothing was sent.
    pub fn renew_lock(
        &mut self,
        now: Instant,
        group: GroupId,
        map: &str,
        key: &[u8],
        lease: Duration,
    ) -> Result<RequestId, MapError> {
        self.with_map(now, group, |m| m.renew(now, map, key, lease))
    }

    /// Releases a lock this member holds.
    ///
    /// Feature `map`.
    ///
    /// # Errors
    ///
    /// [`MapError`].
    pub fn unlock(
        &mut self,
        now: Instant,
        group: GroupId,
        map: &str,
        key: &[u8],
    ) -> Result<(), MapError> {
        self.with_map(now, group, |m| m.unlock(now, map, key))
    }

    /// Answers the pending merge question of `group`'s map (merge policy
    /// `Ask`, [`blaze_map::Event::MergeConflict`] in
    /// [`Event::Map`](crate::Event::Map)): `true` takes the losing side's
    /// value. Returns whether a question was waiting.
    ///
    /// Feature `map`.
    ///
    /// # Errors
    ///
    /// [`MapError::NotJoined`].
    pub fn map_resolve_merge(
        &mut self,
        now: Instant,
        group: GroupId,
        take_theirs: bool,
    ) -> Result<bool, MapError> {
        self.with_map(now, group, |m| Ok(m.resolve_merge(now, take_theirs)))
    }
}
