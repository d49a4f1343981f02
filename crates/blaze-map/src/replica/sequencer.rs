//! The coordinator as sequencer: deciding requests, numbering them,
//! committing them, and the operations it issues itself (expiry, owner
//! exit, merge re-application).

use super::{Candidate, REAPPLY, Replica, Role};
use crate::event::Tag;
use crate::op::{Op, OpKind};
use crate::request::ReqKind;
use crate::store::{FLAG_MASK, FLAG_OWNER_ONLY, FLAG_RELEASE_LOCK_ON_EXIT, FLAG_REMOVE_ON_EXIT};
use crate::{MergePolicy, WriteError};
use blaze_wire::{Duration, Instant, LockOp, LockOpKind, MapOp, MapOpKind, MemberId};
use core::net::SocketAddr;
use heapless::Vec;

/// A request as the sequencer sees it (from the wire or from this member).
#[derive(Debug, Clone, Copy)]
pub(super) struct Req<'a> {
    pub(super) kind: ReqKind,
    pub(super) map: u8,
    pub(super) key: &'a [u8],
    pub(super) value: &'a [u8],
    pub(super) expected: u64,
    pub(super) ttl_us: u64,
    pub(super) flags: u32,
    pub(super) fence: u64,
    pub(super) lease_us: u64,
    pub(super) request_id: u64,
}

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
    /// Whether the next operation may be sequenced now.
    pub(super) fn can_sequence(&self, now: Instant) -> bool {
        self.role == Role::Active
            && self.quorum_present
            && !self.serving(now)
            && self.applied.saturating_sub(self.committed) + 2 < LOG as u64
            && self.event_room()
    }

    pub(super) fn on_map_request(
        &mut self,
        now: Instant,
        sender: MemberId,
        from: Option<SocketAddr>,
        m: &MapOp<'_>,
    ) {
        let kind = match m.kind {
            MapOpKind::PUT => ReqKind::Put,
            MapOpKind::PUT_IF_ABSENT => ReqKind::PutIfAbsent,
            MapOpKind::COMPARE_AND_SET => ReqKind::Cas,
            MapOpKind::REMOVE => ReqKind::Remove,
            _ => {
                self.stats.dropped_malformed += 1;
                return;
            }
        };
        self.wire_request(
            now,
            sender,
            from,
            m.map,
            Req {
                kind,
                map: 0,
                key: m.key,
                value: m.value,
                expected: m.version,
                ttl_us: m.ttl_us,
                flags: m.flags & FLAG_MASK,
                fence: m.fence,
                lease_us: 0,
                request_id: m.request_id,
            },
        );
    }

    pub(super) fn on_lock_request(
        &mut self,
        now: Instant,
        sender: MemberId,
        from: Option<SocketAddr>,
        l: &LockOp<'_>,
    ) {
        let kind = match l.kind {
            LockOpKind::ACQUIRE => ReqKind::Acquire,
            LockOpKind::RELEASE => ReqKind::Release,
            _ => ReqKind::Renew,
        };
        self.wire_request(
            now,
            sender,
            from,
            l.map,
            Req {
                kind,
                map: 0,
                key: l.key,
                value: &[],
                expected: 0,
                ttl_us: 0,
                flags: 0,
                fence: l.fence,
                lease_us: l.lease_us,
                request_id: l.request_id,
            },
        );
    }

    fn wire_request<'a>(
        &mut self,
        now: Instant,
        sender: MemberId,
        from: Option<SocketAddr>,
        map: &str,
        mut req: Req<'a>,
    ) {
        // A ring-delivered request is decided at its position by every
        // member alike; a datagram only by the sequencing coordinator.
        let open = match () {
            #[cfg(feature = "ring")]
            () if self.ring_mode() => from.is_none() && self.may_apply(),
            // Kept merge writes go first: a request must not be decided
            // against a value the other members do not hold yet.
            () => from.is_some() && self.can_sequence(now) && !self.reapplying(),
        };
        if !open {
            self.stats.dropped_request += 1;
            return;
        }
        let Some(map) = self.store.names.intern(map) else {
            self.stats.dropped_map_name += 1;
            return;
        };
        req.map = map;
        if req.key.len() > KEY || req.value.len() > VALUE || req.request_id == 0 {
            self.stats.dropped_malformed += 1;
            return;
        }
        self.sequence_request(now, sender, from, &req);
    }

    /// Decides a request and sequences its operation (or, for a lock that
    /// cannot be granted now, answers with a denial).
    pub(super) fn sequence_request(
        &mut self,
        now: Instant,
        origin: MemberId,
        from: Option<SocketAddr>,
        r: &Req<'_>,
    ) {
        if self.dedup.seen(origin, r.request_id) {
            return;
        }
        let (Ok(key), Ok(value)) = (Vec::from_slice(r.key), Vec::from_slice(r.value)) else {
            return;
        };
        let mut op = Op {
            order: 0,
            kind: OpKind::Put,
            map: r.map,
            key,
            value,
            version: 0,
            origin,
            request_id: r.request_id,
            error: 0,
            ttl_us: r.ttl_us,
            flags: r.flags,
            fence: r.fence,
            lease_us: r.lease_us,
        };
        let slot = self.store.get(r.map, r.key);
        let lock = slot.and_then(|s| s.lock);
        // A lock request that cannot be decided now leaves with the
        // denial's holder and code.
        let (holder, code) = 'deny: {
            match r.kind {
                ReqKind::Put | ReqKind::PutIfAbsent | ReqKind::Cas | ReqKind::Remove => {
                    op.kind = match r.kind {
                        ReqKind::Put => OpKind::Put,
                        ReqKind::PutIfAbsent => OpKind::PutIfAbsent,
                        ReqKind::Cas => OpKind::Cas,
                        _ => OpKind::Remove,
                    };
                    if r.kind == ReqKind::Remove {
                        op.value.clear();
                    }
                    match self.evaluate(origin, r) {
                        Ok(()) => op.version = self.applied.saturating_add(1),
                        Err(e) => {
                            op.error = e.code();
                            if let WriteError::VersionMismatch { current } = e {
                                op.version = current;
                            }
                        }
                    }
                    op.fence = 0;
                }
                ReqKind::Acquire => {
                    if let Some(l) = lock
                        && l.holder != origin
                    {
                        break 'deny (Some(l.holder), 0);
                    }
                    if slot.is_some_and(|s| self.quarantined(s, now)) {
                        break 'deny (None, 0);
                    }
                    if slot.is_none() && !self.store.has_room() {
                        break 'deny (None, WriteError::MapFull.code());
                    }
                    op.kind = OpKind::Grant;
                    op.fence = self.applied.saturating_add(1);
                }
                ReqKind::Release | ReqKind::Renew => {
                    let Some(l) = lock.filter(|l| l.holder == origin && l.fence == r.fence) else {
                        break 'deny (lock.map(|l| l.holder), 0);
                    };
                    op.kind = if r.kind == ReqKind::Release {
                        OpKind::Release
                    } else {
                        OpKind::Renew
                    };
                    op.fence = l.fence;
                    if r.kind == ReqKind::Release {
                        op.lease_us = l.lease_us;
                    }
                }
            }
            self.sequence(now, op);
            return;
        };
        self.deny(now, origin, from, r.request_id, holder, code);
    }

    /// Whether a revoked lock still keeps `slot` from being granted. In
    /// ring order the quarantine ends only by an ordered operation, so
    /// every member decides alike.
    fn quarantined(&self, slot: &crate::store::Slot<KEY, VALUE>, now: Instant) -> bool {
        match slot.quarantine {
            Some(_) if self.ring_mode() => true,
            Some((_, until)) => until > now,
            None => false,
        }
    }

    fn evaluate(&self, origin: MemberId, r: &Req<'_>) -> Result<(), WriteError> {
        let slot = self.store.get(r.map, r.key);
        match slot.and_then(|s| s.lock) {
            Some(l) if r.fence != 0 && l.fence != r.fence => return Err(WriteError::StaleFence),
            Some(l) if r.fence == 0 && l.holder != origin => {
                return Err(WriteError::Locked(l.holder));
            }
            None if r.fence != 0 => return Err(WriteError::StaleFence),
            _ => {}
        }
        let has_value = slot.is_some_and(|s| s.has_value);
        if let Some(s) = slot
            && s.has_value
            && s.flags & FLAG_OWNER_ONLY != 0
            && s.owner != origin
        {
            return Err(WriteError::Owned(s.owner));
        }
        match r.kind {
            ReqKind::PutIfAbsent if has_value => return Err(WriteError::Exists),
            ReqKind::Cas => {
                let current = slot.filter(|s| s.has_value).map_or(0, |s| s.version);
                if current != r.expected {
                    return Err(WriteError::VersionMismatch { current });
                }
            }
            ReqKind::Remove if !has_value => return Err(WriteError::NotFound),
            _ => {}
        }
        if r.kind != ReqKind::Remove && slot.is_none() && !self.store.has_room() {
            return Err(WriteError::MapFull);
        }
        Ok(())
    }

    fn deny(
        &mut self,
        now: Instant,
        origin: MemberId,
        from: Option<SocketAddr>,
        request: u64,
        holder: Option<MemberId>,
        code: u32,
    ) {
        if origin == self.me {
            self.denied(now, request, holder, code);
        } else if let Some(to) = from {
            let _ = self.out.denied.push((to, request, holder, code));
        }
    }

    /// Gives `op` the next order number, logs it and applies it here.
    pub(super) fn sequence(&mut self, now: Instant, mut op: Op<KEY, VALUE>) {
        op.order = self.applied.saturating_add(1);
        self.log.insert(op.clone());
        self.apply_op(now, &op);
        self.applied = op.order;
        self.high_known = self.applied;
        self.stats.sequenced += 1;
    }

    /// The sequencer's own work: this member's requests, expiries, owner
    /// exits and merge re-application.
    pub(super) fn sequencer_work(&mut self, now: Instant) {
        if self.role == Role::Fetching && self.pull.is_some_and(|p| p.keep()) {
            self.resolve_kept(now);
            return;
        }
        if self.role != Role::Active {
            return;
        }
        self.merge_candidate(now);
        while self.can_sequence(now) {
            if self.reapplying() && self.has_candidate() {
                // A kept entry waits for the application's answer: nothing
                // is decided before it.
                self.merge_candidate(now);
                if self.has_candidate() {
                    break;
                }
                continue;
            }
            if let Some(op) = self.next_reapply() {
                self.sequence(now, op);
                continue;
            }
            if let Some(op) = self.next_own_op(now) {
                self.sequence(now, op);
                continue;
            }
            let Some(i) = self
                .pending
                .iter()
                .position(|p| p.seen.is_none() && p.next_send <= now)
            else {
                break;
            };
            let Some(p) = self.pending.get_mut(i) else {
                break;
            };
            p.next_send = now + self.cfg.retry_interval;
            if p.first_sent.is_none() || p.renew_id {
                if p.renew_id {
                    p.id = self.next_request;
                    self.next_request += 1;
                    p.renew_id = false;
                }
                p.first_sent = Some(now);
            }
            let p = p.clone();
            let req = Req {
                kind: p.kind,
                map: p.map,
                key: &p.key,
                value: &p.value,
                expected: p.expected,
                ttl_us: p.ttl_us,
                flags: p.flags,
                fence: p.fence,
                lease_us: p.lease_us,
                request_id: p.id,
            };
            self.sequence_request(now, self.me, None, &req);
        }
    }

    /// A Put of the next entry this coordinator kept over the winning side's
    /// state in a merge (its side's write, newer than the winner's, or
    /// taken by the application), with a new order number, as a merge scan
    /// re-applies a candidate; the mark is cleared. Under
    /// [`MergePolicy::Ask`], an entry not asked about yet (the winner holds
    /// no value for its key) leaves the store for the merge candidate
    /// instead, and `None` is returned.
    fn next_reapply(&mut self) -> Option<Op<KEY, VALUE>> {
        if !self.reapplying() {
            return None;
        }
        let Some((i, s)) = self.store.first_marked() else {
            self.reapplying = false;
            return None;
        };
        if self.cfg.merge_policy() == MergePolicy::Ask && !s.taken {
            if !self.has_candidate() {
                self.candidate = Some(Candidate::of_slot(s));
                if let Some(s) = self.store.slot_mut(i) {
                    s.clear_value();
                }
                self.store.tidy(i);
            }
            return None;
        }
        let op = Op {
            order: 0,
            kind: OpKind::Put,
            map: s.map,
            key: s.key.clone(),
            value: s.value.clone(),
            version: self.applied.saturating_add(1),
            origin: s.owner,
            request_id: 0,
            error: 0,
            ttl_us: s.ttl_us,
            flags: s.flags,
            fence: 0,
            lease_us: 0,
        };
        if let Some(s) = self.store.slot_mut(i) {
            s.reapply = false;
        }
        Some(op)
    }

    /// An operation the coordinator owes: an expiry, an owner exit.
    fn next_own_op(&self, now: Instant) -> Option<Op<KEY, VALUE>> {
        for (_, s) in self.store.iter() {
            let base = || Op {
                order: 0,
                kind: OpKind::Expire,
                map: s.map,
                key: s.key.clone(),
                value: Vec::new(),
                version: 0,
                origin: self.me,
                request_id: 0,
                error: 0,
                ttl_us: 0,
                flags: 0,
                fence: 0,
                lease_us: 0,
            };
            if s.has_value && s.expires.is_some_and(|t| t <= now) {
                return Some(base());
            }
            if s.has_value && s.flags & FLAG_REMOVE_ON_EXIT != 0 && !self.view.contains(s.owner) {
                return Some(Op {
                    kind: OpKind::Remove,
                    ..base()
                });
            }
            if let Some(l) = s.lock {
                if l.expires <= now {
                    return Some(Op {
                        kind: OpKind::LockExpire,
                        origin: l.holder,
                        fence: l.fence,
                        lease_us: l.lease_us,
                        ..base()
                    });
                }
                let release = !s.has_value || s.flags & FLAG_RELEASE_LOCK_ON_EXIT != 0;
                if release && !self.view.contains(l.holder) {
                    return Some(Op {
                        kind: OpKind::Revoke,
                        origin: l.holder,
                        fence: l.fence,
                        lease_us: l.lease_us,
                        ..base()
                    });
                }
            }
        }
        None
    }

    /// Earliest time the coordinator owes an expiry.
    pub(super) fn next_expiry(&self, now: Instant) -> Option<Instant> {
        #[cfg(feature = "ring")]
        if self.ring_mode() {
            return self.next_proposal(now);
        }
        if self.role != Role::Active {
            return None;
        }
        let mut at: Option<Instant> = None;
        let mut take = |t: Instant| at = Some(at.map_or(t, |a: Instant| a.min(t)));
        for (_, s) in self.store.iter() {
            if s.has_value
                && let Some(t) = s.expires
            {
                take(t);
            }
            if let Some(l) = s.lock {
                take(l.expires);
            }
            if let Some((_, until)) = s.quarantine
                && until > now
            {
                take(until);
            }
        }
        at
    }

    /// Whether the merge candidate is taken: always under a re-applying
    /// policy; under [`MergePolicy::Ask`], asks the application first
    /// (`None` until it answered, `false` if it did not within
    /// [`Config::request_timeout`](crate::Config::request_timeout)). The
    /// question's old value is the one in the store now.
    fn candidate_taken(&mut self, now: Instant) -> Option<bool> {
        if !REAPPLY {
            return None;
        }
        let c = self.candidate.as_mut()?;
        if self.cfg.merge_policy() != MergePolicy::Ask {
            return Some(true);
        }
        if c.decided.is_none()
            && c.asked
                .is_some_and(|t| now.saturating_duration_since(t) >= self.cfg.request_timeout)
        {
            // Nobody answered: the base keeps its value.
            c.decided = Some(false);
        }
        if c.asked.is_none() {
            if self.events.room() == 0 {
                return None;
            }
            c.asked = Some(now);
            if let Some(e) = self
                .events
                .push_new(Tag::Conflict, &mut self.stats.events_dropped)
            {
                e.map = c.map;
                e.key = c.key.clone();
                e.new = Some(c.value.clone());
                e.number = c.version;
                let ours = self
                    .store
                    .get(c.map, &c.key)
                    .filter(|s| s.has_value)
                    .map(|s| s.value.clone());
                e.old = ours;
            }
            return None;
        }
        c.decided
    }

    /// Sequences a decided merge candidate, or asks the application.
    fn merge_candidate(&mut self, now: Instant) {
        let Some(take) = self.candidate_taken(now) else {
            return;
        };
        if take {
            if !self.can_sequence(now) {
                return;
            }
            let Some(c) = self.candidate.take() else {
                return;
            };
            let op = Op {
                order: 0,
                kind: OpKind::Put,
                map: c.map,
                key: c.key,
                value: c.value,
                version: self.applied.saturating_add(1),
                origin: c.owner,
                request_id: 0,
                error: 0,
                ttl_us: c.ttl_us,
                flags: c.flags,
                fence: 0,
                lease_us: 0,
            };
            self.sequence(now, op);
        } else {
            self.candidate = None;
        }
        self.out.snap_req = true;
    }

    /// A lonely losing coordinator's own entry that the winner's record
    /// replaced while it fetches (see `on_snap_entry`): once the
    /// application answered, it is put back over the winner's value, marked
    /// to be sequenced again once active (taken), or dropped (kept the
    /// winner's, or no answer); the pull then goes on.
    fn resolve_kept(&mut self, now: Instant) {
        let Some(take) = self.candidate_taken(now) else {
            return;
        };
        let Some(c) = self.candidate.take() else {
            return;
        };
        self.out.snap_req = true;
        if !take {
            return;
        }
        match self.store.find_or_insert(c.map, &c.key) {
            Some(i) => {
                if let Some(s) = self.store.slot_mut(i) {
                    s.has_value = true;
                    s.value = c.value;
                    s.version = c.version;
                    s.owner = c.owner;
                    s.flags = c.flags;
                    s.ttl_us = c.ttl_us;
                    s.expires = (c.ttl_us > 0).then(|| now + Duration::from_micros(c.ttl_us));
                    s.reapply = true;
                    s.taken = true;
                }
            }
            None => self.stats.merge_dropped += 1,
        }
    }

    /// Moves the commit point: every member that must hold an operation
    /// acknowledged it, and at least a quorum of members did.
    pub(super) fn advance_commit(&mut self) {
        if self.role != Role::Active {
            return;
        }
        let me = self.me;
        let applied = self.applied;
        let mut low = applied;
        let mut count = 0usize;
        for p in self.peers.iter_mut() {
            if p.id == me {
                p.acked = applied;
            }
            if p.in_set {
                low = low.min(p.acked);
                count += 1;
            }
        }
        if self.cfg.quorum > 0 && count < self.cfg.quorum {
            return;
        }
        if low > self.committed {
            self.committed = low;
            self.out.beat = true;
        }
    }

    /// A member acknowledged the stream up to `applied`.
    pub(super) fn on_ack(&mut self, sender: MemberId, epoch: u64, applied: u64, parked: bool) {
        if self.role != Role::Active || epoch != self.epoch.id {
            return;
        }
        if let Some(p) = self.peers.iter_mut().find(|p| p.id == sender) {
            p.done = true;
            if !parked {
                p.acked = p.acked.max(applied.min(self.applied));
                p.in_set = true;
            }
        }
    }
}
