//! This member as a client: commands, resends, outcomes, held locks.

use super::{REAPPLY, Replica};
use crate::event::Tag;
use crate::request::{Held, Outcome, Pending, ReqKind};
use crate::{CommandError, LockLostReason, RequestId, WriteError, WriteOptions};
use blaze_wire::{Duration, Instant, LockOp, MemberId};
use heapless::Vec;

impl<
    const ENTRIES: usize,
    const LOG: usize,
    const KEY: usize,
    const VALUE: usize,
    const MEMBERS: usize,
    const PENDING: usize,
    const EVENTS: usize,
    const ORIGINS: usize,
> Replica<ENTRIES, LOG, KEY, VALUE, MEMBERS, PENDING, EVENTS, ORIGINS>
{
    // ----- commands ------------------------------------------------------

    /// Sets `key` to `value` in `map` (insert or replace). The outcome is
    /// an [`Event::WriteDone`](crate::Event::WriteDone) or
    /// [`Event::WriteFailed`](crate::Event::WriteFailed) with the returned id.
    pub fn put(
        &mut self,
        now: Instant,
        map: &str,
        key: &[u8],
        value: &[u8],
        opts: WriteOptions,
    ) -> Result<RequestId, CommandError> {
        self.write(now, ReqKind::Put, map, key, value, 0, opts)
    }

    /// Inserts `key` only if it is absent (else [`WriteError::Exists`]).
    pub fn put_if_absent(
        &mut self,
        now: Instant,
        map: &str,
        key: &[u8],
        value: &[u8],
        opts: WriteOptions,
    ) -> Result<RequestId, CommandError> {
        self.write(now, ReqKind::PutIfAbsent, map, key, value, 0, opts)
    }

    /// Replaces `key` only if its version is `expected` (0 = absent), else
    /// [`WriteError::VersionMismatch`].
    pub fn compare_and_set(
        &mut self,
        now: Instant,
        map: &str,
        key: &[u8],
        expected: u64,
        value: &[u8],
        opts: WriteOptions,
    ) -> Result<RequestId, CommandError> {
        self.write(now, ReqKind::Cas, map, key, value, expected, opts)
    }

    /// Removes `key` (else [`WriteError::NotFound`]). `fence` as in
    /// [`WriteOptions::fence`].
    pub fn remove(
        &mut self,
        now: Instant,
        map: &str,
        key: &[u8],
        fence: u64,
    ) -> Result<RequestId, CommandError> {
        let opts = WriteOptions {
            fence,
            ..WriteOptions::default()
        };
        self.write(now, ReqKind::Remove, map, key, &[], 0, opts)
    }

    /// Asks for the write lock of `key`, waiting up to
    /// [`Config::request_timeout`](crate::Config::request_timeout). The
    /// outcome is [`Event::LockAcquired`](crate::Event::LockAcquired) (with
    /// the fencing token and the lease's end on this member's clock) or
    /// [`Event::LockFailed`](crate::Event::LockFailed).
    pub fn lock(
        &mut self,
        now: Instant,
        map: &str,
        key: &[u8],
        lease: Duration,
    ) -> Result<RequestId, CommandError> {
        self.try_lock(now, map, key, lease, self.cfg.request_timeout)
    }

    /// Like [`lock`](Replica::lock), giving up after `timeout` (then
    /// [`WriteError::Held`] names the holder).
    pub fn try_lock(
        &mut self,
        now: Instant,
        map: &str,
        key: &[u8],
        lease: Duration,
        timeout: Duration,
    ) -> Result<RequestId, CommandError> {
        let map = self.prepare(map, key, &[])?;
        let mine = |k: &[u8]| k == key;
        if self.held.iter().any(|h| h.map == map && mine(&h.key))
            || self
                .pending
                .iter()
                .any(|p| p.kind == ReqKind::Acquire && p.map == map && mine(&p.key))
        {
            return Err(CommandError::AlreadyHeld);
        }
        let id = self.fresh_request_id();
        let key = Vec::from_slice(key).map_err(|_| CommandError::TooLarge)?;
        self.enqueue(Pending {
            lease_us: lease.total_micros(),
            ..Pending::new(id, ReqKind::Acquire, map, key, now, now + timeout)
        })?;
        self.pump(now);
        Ok(RequestId(id))
    }

    /// Releases a lock this member holds. It stops counting as held at once.
    pub fn unlock(&mut self, now: Instant, map: &str, key: &[u8]) -> Result<(), CommandError> {
        let m = self.store.names.index(map).ok_or(CommandError::NotHeld)?;
        let i = self
            .held
            .iter()
            .position(|h| h.map == m && h.key.as_slice() == key)
            .ok_or(CommandError::NotHeld)?;
        let h = self.held.swap_remove(i);
        self.queue_release(now, h.map, &h.key, h.fence);
        self.pump(now);
        Ok(())
    }

    /// Extends the lease of a held lock to `lease` from now. The outcome is
    /// [`Event::LockRenewed`](crate::Event::LockRenewed) or `LockFailed`.
    pub fn renew(
        &mut self,
        now: Instant,
        map: &str,
        key: &[u8],
        lease: Duration,
    ) -> Result<RequestId, CommandError> {
        self.command_ready()?;
        let m = self.store.names.index(map).ok_or(CommandError::NotHeld)?;
        let h = self
            .held
            .iter()
            .find(|h| h.map == m && h.key.as_slice() == key)
            .ok_or(CommandError::NotHeld)?;
        let (fence, key) = (h.fence, h.key.clone());
        let id = self.fresh_request_id();
        let deadline = now + self.cfg.request_timeout;
        self.enqueue(Pending {
            fence,
            lease_us: lease.total_micros(),
            ..Pending::new(id, ReqKind::Renew, m, key, now, deadline)
        })?;
        self.pump(now);
        Ok(RequestId(id))
    }

    /// Answers the pending [`Event::MergeConflict`](crate::Event::MergeConflict):
    /// `true` takes the losing side's value. Returns whether a question was
    /// waiting.
    pub fn resolve_merge(&mut self, now: Instant, take_theirs: bool) -> bool {
        if !REAPPLY {
            return false;
        }
        let Some(c) = self.candidate.as_mut() else {
            return false;
        };
        if c.asked.is_none() || c.decided.is_some() {
            return false;
        }
        c.decided = Some(take_theirs);
        self.pump(now);
        true
    }

    // ----- internals -----------------------------------------------------

    pub(super) fn command_ready(&self) -> Result<(), CommandError> {
        if self.view.coordinator().is_none() || !self.view.contains(self.me) {
            return Err(CommandError::NoCoordinator);
        }
        if !self.quorum_present {
            return Err(CommandError::QuorumLost);
        }
        if !self.synced {
            return Err(CommandError::NoCoordinator);
        }
        Ok(())
    }

    fn prepare(&mut self, map: &str, key: &[u8], value: &[u8]) -> Result<u8, CommandError> {
        self.command_ready()?;
        if key.len() > KEY || value.len() > VALUE {
            return Err(CommandError::TooLarge);
        }
        if self.pending.is_full() {
            return Err(CommandError::TooManyPending);
        }
        self.store
            .names
            .intern(map)
            .ok_or(CommandError::TooManyMaps)
    }

    #[allow(
        clippy::too_many_arguments,
        reason = "one private funnel for five commands"
    )]
    fn write(
        &mut self,
        now: Instant,
        kind: ReqKind,
        map: &str,
        key: &[u8],
        value: &[u8],
        expected: u64,
        opts: WriteOptions,
    ) -> Result<RequestId, CommandError> {
        let map = self.prepare(map, key, value)?;
        let id = self.fresh_request_id();
        let key = Vec::from_slice(key).map_err(|_| CommandError::TooLarge)?;
        let deadline = now + self.cfg.request_timeout;
        self.enqueue(Pending {
            value: Vec::from_slice(value).map_err(|_| CommandError::TooLarge)?,
            expected,
            ttl_us: opts.ttl.total_micros(),
            flags: opts.flags(),
            fence: opts.fence,
            ..Pending::new(id, kind, map, key, now, deadline)
        })?;
        self.pump(now);
        Ok(RequestId(id))
    }

    fn enqueue(&mut self, p: Pending<KEY, VALUE>) -> Result<(), CommandError> {
        self.pending
            .push(p)
            .map_err(|_| CommandError::TooManyPending)
    }

    /// A release nobody waits for (after `unlock`, or of a grant that came
    /// too late). Dropped if the table is full: the lease ends it anyway.
    pub(super) fn queue_release(&mut self, now: Instant, map: u8, key: &[u8], fence: u64) {
        let Ok(key) = Vec::from_slice(key) else {
            return;
        };
        let id = self.fresh_request_id();
        let deadline = now + self.cfg.request_timeout;
        let _ = self.pending.push(Pending {
            fence,
            report: false,
            ..Pending::new(id, ReqKind::Release, map, key, now, deadline)
        });
    }

    /// Records the outcome of an applied operation that this member asked
    /// for; a grant nobody waits for is released.
    pub(super) fn note_outcome(
        &mut self,
        now: Instant,
        request_id: u64,
        order: u64,
        outcome: Outcome,
        grant: Option<(u8, &[u8], u64)>,
    ) {
        if let Some(p) = self.pending.iter_mut().find(|p| p.id == request_id) {
            if p.seen.is_none() {
                p.seen = Some((order, outcome));
            }
            return;
        }
        if let Some((map, key, fence)) = grant {
            self.queue_release(now, map, key, fence);
        }
    }

    /// Emits the outcome of every request whose operation is committed.
    pub(super) fn complete(&mut self, now: Instant) {
        let limit = self.committed.min(self.applied);
        let mut i = 0;
        while i < self.pending.len() {
            if !self.event_room() {
                return;
            }
            let done = self
                .pending
                .get(i)
                .and_then(|p| p.seen)
                .is_some_and(|(order, _)| order <= limit);
            if !done {
                i += 1;
                continue;
            }
            let p = self.pending.swap_remove(i);
            self.finish(now, p);
        }
    }

    fn finish(&mut self, now: Instant, p: Pending<KEY, VALUE>) {
        let Some((_, outcome)) = p.seen else {
            return;
        };
        let request = p.public_id;
        match (p.kind, outcome) {
            (ReqKind::Release, _) => {}
            (ReqKind::Acquire, Outcome::Ok(fence)) => {
                let deadline =
                    p.first_sent.unwrap_or(now) + blaze_wire::Duration::from_micros(p.lease_us);
                let held = Held {
                    map: p.map,
                    key: p.key.clone(),
                    fence,
                    deadline,
                };
                if deadline > now && self.held.push(held).is_ok() {
                    if let Some(e) = self.push_event(Tag::LockAcquired) {
                        e.request = request;
                        e.map = p.map;
                        e.key = p.key;
                        e.number = fence;
                        e.at = deadline;
                    }
                } else {
                    self.queue_release(now, p.map, &p.key, fence);
                    self.fail(p.kind, request, WriteError::Timeout);
                }
            }
            (ReqKind::Renew, Outcome::Ok(_)) => {
                let deadline =
                    p.first_sent.unwrap_or(now) + blaze_wire::Duration::from_micros(p.lease_us);
                let held = self
                    .held
                    .iter_mut()
                    .find(|h| h.map == p.map && h.key == p.key && h.fence == p.fence);
                match held {
                    Some(h) if deadline > now => {
                        h.deadline = h.deadline.max(deadline);
                        if let Some(e) = self
                            .events
                            .push_new(Tag::LockRenewed, &mut self.stats.events_dropped)
                        {
                            e.map = p.map;
                            e.key = p.key;
                            e.number = p.fence;
                            e.at = h.deadline;
                        }
                    }
                    _ => {
                        self.queue_release(now, p.map, &p.key, p.fence);
                        self.fail(p.kind, request, WriteError::Timeout);
                    }
                }
            }
            (_, Outcome::Ok(version)) => {
                if let Some(e) = self.push_event(Tag::WriteDone) {
                    e.request = request;
                    e.number = version;
                }
            }
            (kind, Outcome::Err(error)) => self.fail(kind, request, error),
        }
    }

    fn fail(&mut self, kind: ReqKind, request: u64, error: WriteError) {
        let tag = if kind.is_lock() {
            Tag::LockFailed(error)
        } else {
            Tag::WriteFailed(error)
        };
        if let Some(e) = self.push_event(tag) {
            e.request = request;
        }
    }

    /// Fails every request in flight with `error` (quorum lost), or only
    /// those already seen in the order (`seen_only`: state replaced).
    pub(super) fn fail_pending(&mut self, error: WriteError, seen_only: bool) {
        let mut i = 0;
        while i < self.pending.len() {
            let hit = self
                .pending
                .get(i)
                .is_some_and(|p| !seen_only || p.seen.is_some());
            if !hit {
                i += 1;
                continue;
            }
            let p = self.pending.swap_remove(i);
            if p.report {
                self.fail(p.kind, p.public_id, error);
            }
        }
    }

    /// Drops every held lock with a `LockLost` event.
    pub(super) fn lose_held(&mut self, reason: LockLostReason) {
        while let Some(h) = self.held.pop() {
            if let Some(e) = self.push_event(Tag::LockLost(reason)) {
                e.map = h.map;
                e.key = h.key;
                e.number = h.fence;
            }
        }
    }

    /// A lock this member holds was ended by an operation in the order.
    pub(super) fn held_ended(&mut self, map: u8, key: &[u8], fence: u64, reason: LockLostReason) {
        if let Some(i) = self
            .held
            .iter()
            .position(|h| h.map == map && h.key.as_slice() == key && h.fence == fence)
        {
            let h = self.held.swap_remove(i);
            if let Some(e) = self.push_event(Tag::LockLost(reason)) {
                e.map = h.map;
                e.key = h.key;
                e.number = h.fence;
            }
        }
    }

    /// A lock became free: waiting acquires of the key try again now.
    pub(super) fn wake_waiters(&mut self, now: Instant, map: u8, key: &[u8]) {
        for p in self.pending.iter_mut() {
            if p.kind == ReqKind::Acquire
                && p.seen.is_none()
                && p.map == map
                && p.key.as_slice() == key
            {
                p.next_send = p.next_send.min(now);
            }
        }
    }

    /// Time-outs of requests and the end of held leases.
    pub(super) fn client_work(&mut self, now: Instant) {
        let mut i = 0;
        while i < self.pending.len() && self.event_room() {
            let expired = self.pending.get(i).is_some_and(|p| p.deadline <= now);
            if !expired {
                i += 1;
                continue;
            }
            let p = self.pending.swap_remove(i);
            if p.report {
                let error = match (p.kind, p.denied_by) {
                    (ReqKind::Acquire, Some(h)) if p.seen.is_none() && !h.is_nil() => {
                        WriteError::Held(h)
                    }
                    _ => WriteError::Timeout,
                };
                self.fail(p.kind, p.public_id, error);
            }
        }
        let mut i = 0;
        while i < self.held.len() && self.event_room() {
            if self.held.get(i).is_some_and(|h| h.deadline <= now) {
                let h = self.held.swap_remove(i);
                if let Some(e) = self.push_event(Tag::LockLost(LockLostReason::Expired)) {
                    e.map = h.map;
                    e.key = h.key;
                    e.number = h.fence;
                }
            } else {
                i += 1;
            }
        }
    }

    /// The coordinator refused a lock request without sequencing it.
    pub(super) fn on_denied(&mut self, now: Instant, l: &LockOp<'_>) {
        self.denied(now, l.request_id, l.holder, l.error);
    }

    pub(super) fn denied(
        &mut self,
        now: Instant,
        request: u64,
        holder: Option<MemberId>,
        code: u32,
    ) {
        let Some(i) = self.pending.iter().position(|p| p.id == request) else {
            return;
        };
        let retry = self.cfg.retry_interval;
        let Some(p) = self.pending.get_mut(i) else {
            return;
        };
        if p.seen.is_some() {
            return;
        }
        match p.kind {
            ReqKind::Acquire => {
                p.denied_by = holder.or(p.denied_by);
                if code == WriteError::MapFull.code() {
                    let p = self.pending.swap_remove(i);
                    self.fail(p.kind, p.public_id, WriteError::MapFull);
                    return;
                }
                p.renew_id = true;
                p.next_send = now + retry * 4;
            }
            ReqKind::Release => {
                self.pending.swap_remove(i);
            }
            _ => {
                let p = self.pending.swap_remove(i);
                if p.report {
                    let error = holder.map_or(WriteError::Timeout, WriteError::Held);
                    self.fail(p.kind, p.public_id, error);
                }
            }
        }
    }
}
