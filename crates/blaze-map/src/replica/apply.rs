//! The stream side: accepting sequenced operations, filling gaps, applying
//! them in order, and answering re-requests from the log.

use super::{Replica, Role};
use crate::event::Tag;
use crate::frames::Epoch;
use crate::op::{Op, OpKind};
use crate::request::Outcome;
use crate::store::{FLAG_MASK, LockState};
use crate::{ChangeKind, LockLostReason, WriteError};
use blaze_wire::{Duration, Instant, LockOp, LockOpKind, MapOp, MapOpKind, MemberId};
use core::net::SocketAddr;
use heapless::Vec;

use super::timer::Timer;

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
    /// Whether a sequenced operation from `sender` in `epoch` belongs to the
    /// stream this replica follows (or fetches, as a new coordinator).
    fn accepts(&self, sender: MemberId, epoch: u64) -> bool {
        if self.accept
            == Some(Epoch {
                id: epoch,
                leader: sender,
            })
            && self.role == Role::Member
        {
            return true;
        }
        self.role == Role::Fetching
            && self.pull.is_none()
            && self.plan.as_ref().is_some_and(|p| p.source == sender)
            && epoch == self.view.id
    }

    pub(super) fn on_map_seq(&mut self, now: Instant, sender: MemberId, m: &MapOp<'_>) {
        let kind = match m.kind {
            MapOpKind::PUT => OpKind::Put,
            MapOpKind::PUT_IF_ABSENT => OpKind::PutIfAbsent,
            MapOpKind::COMPARE_AND_SET => OpKind::Cas,
            MapOpKind::REMOVE => OpKind::Remove,
            _ => OpKind::Expire,
        };
        let op = Op {
            order: m.order,
            kind,
            map: 0,
            key: Vec::new(),
            value: Vec::new(),
            version: m.version,
            origin: m.origin.unwrap_or(MemberId::NIL),
            request_id: m.request_id,
            error: m.error,
            ttl_us: m.ttl_us,
            flags: m.flags & FLAG_MASK,
            fence: 0,
            lease_us: 0,
        };
        self.on_seq(now, sender, m.epoch, (m.map, m.key, m.value), op);
    }

    pub(super) fn on_lock_seq(&mut self, now: Instant, sender: MemberId, l: &LockOp<'_>) {
        let kind = match l.kind {
            LockOpKind::GRANTED => OpKind::Grant,
            LockOpKind::RELEASE => OpKind::Release,
            LockOpKind::EXPIRED => OpKind::LockExpire,
            LockOpKind::REVOKED => OpKind::Revoke,
            _ => OpKind::Renew,
        };
        let op = Op {
            order: l.order,
            kind,
            map: 0,
            key: Vec::new(),
            value: Vec::new(),
            version: 0,
            origin: l.holder.unwrap_or(MemberId::NIL),
            request_id: l.request_id,
            error: 0,
            ttl_us: 0,
            flags: 0,
            fence: l.fence,
            lease_us: l.lease_us,
        };
        self.on_seq(now, sender, l.epoch, (l.map, l.key, &[]), op);
    }

    /// A sequenced map or lock operation from `sender` in `epoch`: `op`
    /// with its map name, key and value (`names`) still to be taken from
    /// the wire.
    fn on_seq(
        &mut self,
        now: Instant,
        sender: MemberId,
        epoch: u64,
        names: (&str, &[u8], &[u8]),
        mut op: Op<KEY, VALUE>,
    ) {
        if !self.accepts(sender, epoch) {
            self.stats.dropped_stale += 1;
            return;
        }
        let (map, key, value) = names;
        let Some(map) = self.store.names.intern(map) else {
            self.stats.dropped_map_name += 1;
            return;
        };
        op.map = map;
        if op.key.extend_from_slice(key).is_err() || op.value.extend_from_slice(value).is_err() {
            self.stats.dropped_malformed += 1;
            return;
        }
        self.receive(now, op);
    }

    fn receive(&mut self, now: Instant, op: Op<KEY, VALUE>) {
        if self.role == Role::Member {
            self.out.ack = true;
        }
        if op.order <= self.applied {
            return;
        }
        if op.order - self.applied >= LOG as u64 {
            self.stats.dropped_window += 1;
            return;
        }
        self.high_known = self.high_known.max(op.order);
        if !self.log.contains(op.order) {
            self.log.insert(op);
        }
        self.maybe_nack(now);
    }

    /// Re-requests the first gap, at most once per retry interval.
    pub(super) fn maybe_nack(&mut self, now: Instant) {
        let (target, epoch, upto) = match (self.role, self.accept, self.plan.as_ref()) {
            (Role::Member, Some(e), _) => (e.leader, e.id, self.high_known),
            (Role::Fetching, _, Some(p)) if self.pull.is_none() => (p.source, self.view.id, p.base),
            _ => return,
        };
        let lo = self.applied.saturating_add(1);
        let hi = match self.log.next_after(self.applied) {
            Some(o) if o > lo => o - 1,
            Some(_) => return,
            None => upto,
        };
        if lo > hi {
            self.timers.set(Timer::Nack, None);
            return;
        }
        if self.timers.get(Timer::Nack).is_some_and(|at| at > now) {
            return;
        }
        let hi = hi.min(lo.saturating_add(LOG as u64 - 2));
        self.out.nack = Some((target, lo, hi, epoch));
        self.stats.nacks_sent += 1;
        self.timers
            .set(Timer::Nack, Some(now + self.cfg.retry_interval));
    }

    /// A member asks for orders `lo..=hi`: resend them from the log, or tell
    /// it to take a snapshot if they are gone.
    pub(super) fn on_nack(
        &mut self,
        sender: MemberId,
        from: SocketAddr,
        epoch: u64,
        lo: u64,
        hi: u64,
    ) {
        if !self.synced || lo == 0 {
            return;
        }
        let _ = sender;
        let hi = hi.min(self.applied);
        if lo > hi {
            return;
        }
        if !self.log.contains(lo) {
            if !self.out.snap_needed.iter().any(|(a, _)| *a == from) {
                let _ = self.out.snap_needed.push((from, epoch));
            }
            return;
        }
        if let Some(r) = self.out.retransmit.iter_mut().find(|r| r.0 == from) {
            r.1 = r.1.min(lo);
            r.2 = r.2.max(hi);
            r.3 = epoch;
        } else {
            let _ = self.out.retransmit.push((from, lo, hi, epoch));
        }
    }

    /// The leader's heartbeat: tail loss, commit progress, parked losers.
    pub(super) fn on_beat(
        &mut self,
        now: Instant,
        sender: MemberId,
        epoch: u64,
        high: u64,
        committed: u64,
        reset_losers: bool,
    ) {
        if self.parked
            && reset_losers
            && epoch == self.view.id
            && Some(sender) == self.view.coordinator()
        {
            self.reset_local(true);
            self.start_pull(now, sender, false, 0);
            return;
        }
        if self.accept
            != Some(Epoch {
                id: epoch,
                leader: sender,
            })
            || self.role != Role::Member
        {
            return;
        }
        self.high_known = self.high_known.max(high);
        self.committed = self.committed.max(committed.min(self.applied));
        self.out.ack = true;
        self.maybe_nack(now);
    }

    /// Applies every operation that is next in order, while events fit.
    pub(super) fn apply_ready(&mut self, now: Instant) {
        while self.event_room() {
            let Some(op) = self.log.get(self.applied.saturating_add(1)).cloned() else {
                break;
            };
            self.apply_op(now, &op);
            self.applied = op.order;
            if self.role == Role::Member {
                self.out.ack = true;
            }
        }
        if self.role == Role::Fetching
            && self.pull.is_none()
            && self.plan.as_ref().is_some_and(|p| self.applied >= p.base)
        {
            self.finish_sync(now);
        }
    }

    /// Applies one operation whose outcome the coordinator decided.
    pub(super) fn apply_op(&mut self, now: Instant, op: &Op<KEY, VALUE>) {
        self.stats.applied += 1;
        self.dedup.record(op.origin, op.request_id);
        let margin = self.cfg.lease_margin;
        // The change to report (its kind, the old value, whether the new
        // one is shown) and the outcome a request of this member gets.
        let (change, outcome) = match op.kind {
            _ if op.kind.is_lock() => {
                let Some(outcome) = self.apply_lock(now, op, margin) else {
                    return;
                };
                (None, Outcome::Ok(outcome))
            }
            _ if op.error != 0 => (None, Outcome::Err(self.decode_error(op))),
            OpKind::Put | OpKind::PutIfAbsent | OpKind::Cas => {
                let Some(i) = self.store.find_or_insert(op.map, &op.key) else {
                    self.stats.apply_failures += 1;
                    return;
                };
                let Some(s) = self.store.slot_mut(i) else {
                    return;
                };
                let old = s.has_value.then(|| s.value.clone());
                if !s.has_value {
                    s.owner = op.origin;
                }
                s.has_value = true;
                s.value = op.value.clone();
                s.version = op.order;
                s.flags = op.flags;
                s.ttl_us = op.ttl_us;
                s.expires = (op.ttl_us > 0).then(|| now + Duration::from_micros(op.ttl_us));
                let kind = if old.is_some() {
                    ChangeKind::Updated
                } else {
                    ChangeKind::Inserted
                };
                (Some((kind, old, true)), Outcome::Ok(op.order))
            }
            _ => match self.store.find(op.map, &op.key) {
                Some(i) => {
                    let Some(s) = self.store.slot_mut(i) else {
                        return;
                    };
                    let old = s.has_value.then(|| s.value.clone());
                    s.has_value = false;
                    s.value.clear();
                    s.expires = None;
                    self.store.tidy(i);
                    let kind = if op.kind == OpKind::Expire {
                        ChangeKind::Expired
                    } else {
                        ChangeKind::Removed
                    };
                    (old.map(|old| (kind, Some(old), false)), Outcome::Ok(0))
                }
                None => (None, Outcome::Ok(0)),
            },
        };
        if let Some((kind, old, new)) = change
            && let Some(e) = self.push_event(Tag::Changed(kind))
        {
            e.map = op.map;
            e.key = op.key.clone();
            e.old = old;
            e.new = new.then(|| op.value.clone());
            e.number = op.order;
            e.member = Some(op.origin);
        }
        if op.origin == self.me {
            // A grant nobody waits for is released.
            let grant = (op.kind == OpKind::Grant).then_some((op.map, op.key.as_slice(), op.order));
            self.note_outcome(now, op.request_id, op.order, outcome, grant);
        }
    }

    /// Applies a lock operation; returns the outcome a request of this
    /// member gets (`None`: not applied, no outcome).
    fn apply_lock(&mut self, now: Instant, op: &Op<KEY, VALUE>, margin: Duration) -> Option<u64> {
        let lease = Duration::from_micros(op.lease_us);
        // The outcome a request of this member gets: the grant's fencing
        // token, else the fence the operation named.
        let outcome = match op.kind {
            OpKind::Grant => {
                let Some(i) = self.store.find_or_insert(op.map, &op.key) else {
                    self.stats.apply_failures += 1;
                    return None;
                };
                if let Some(s) = self.store.slot_mut(i) {
                    s.lock = Some(LockState {
                        holder: op.origin,
                        fence: op.order,
                        lease_us: op.lease_us,
                        expires: now + lease + margin,
                    });
                    s.quarantine = None;
                }
                op.order
            }
            OpKind::Renew => {
                if let Some(i) = self.store.find(op.map, &op.key)
                    && let Some(s) = self.store.slot_mut(i)
                    && let Some(l) = s.lock.as_mut()
                    && l.fence == op.fence
                {
                    l.lease_us = op.lease_us;
                    l.expires = now + lease + margin;
                }
                op.fence
            }
            _ => {
                if let Some(i) = self.store.find(op.map, &op.key)
                    && let Some(s) = self.store.slot_mut(i)
                    && s.lock.is_some_and(|l| l.fence == op.fence)
                {
                    let old = s.lock.take();
                    if op.kind == OpKind::Revoke
                        && let Some(l) = old
                    {
                        let lease = Duration::from_micros(l.lease_us);
                        s.quarantine = Some((l.lease_us, now + lease + margin));
                    }
                    self.store.tidy(i);
                }
                if op.origin == self.me && op.kind != OpKind::Release {
                    let reason = if op.kind == OpKind::Revoke {
                        LockLostReason::Revoked
                    } else {
                        LockLostReason::Expired
                    };
                    self.held_ended(op.map, &op.key, op.fence, reason);
                }
                self.wake_waiters(now, op.map, &op.key);
                op.fence
            }
        };
        Some(outcome)
    }

    /// The error of a refused operation, with details from the state it was
    /// decided against (identical here, since the order is the same).
    fn decode_error(&self, op: &Op<KEY, VALUE>) -> WriteError {
        let slot = self.store.get(op.map, &op.key);
        match op.error {
            1 => WriteError::Owned(slot.map_or(MemberId::NIL, |s| s.owner)),
            2 => WriteError::Locked(
                slot.and_then(|s| s.lock)
                    .map_or(MemberId::NIL, |l| l.holder),
            ),
            3 => WriteError::StaleFence,
            4 => WriteError::VersionMismatch {
                current: op.version,
            },
            5 => WriteError::Exists,
            6 => WriteError::NotFound,
            _ => WriteError::MapFull,
        }
    }
}
