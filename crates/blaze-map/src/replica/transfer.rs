//! State transfer: serving and pulling snapshots, and scanning a losing
//! side's state during a merge.
//!
//! A snapshot is pulled in bursts of [`BURST`] records (cursor = slot × 2 +
//! part, part 0 the value, part 1 the lock, then the request windows). Each
//! record names the cursor right after the record before it, so the puller
//! accepts records only without a gap and asks again from where it is. The server's state must not move
//! during a session: a coordinator pauses sequencing while it serves (up to
//! [`Config::snapshot_idle`](crate::Config::snapshot_idle) without a
//! request), and any server whose applied order moved answers "restart".

use super::{AHEAD, Candidate, Replica, Role, Serve};
use crate::event::Tag;
use crate::frames::{Epoch, SnapEnd, SnapWindow};
use crate::store::{FLAG_MASK, LockState};
use blaze_wire::{Duration, Instant, LockOp, MapOp, MemberId};
use core::net::SocketAddr;
use heapless::Vec;

/// Records sent for one pull request.
pub(super) const BURST: u8 = 8;

/// One snapshot record, ready to encode.
pub(super) enum Record<'a> {
    Dedup {
        cursor: u64,
        origin: MemberId,
        high: u64,
        bits: u64,
    },
    Entry {
        cursor: u64,
        map: &'a str,
        key: &'a [u8],
        value: &'a [u8],
        version: u64,
        owner: MemberId,
        flags: u32,
        ttl_us: u64,
        expires: Option<Instant>,
    },
    Lock {
        cursor: u64,
        map: &'a str,
        key: &'a [u8],
        holder: Option<MemberId>,
        fence: u64,
        lease_us: u64,
        quarantined: bool,
    },
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
    /// Whether a snapshot session is live (sequencing pauses).
    pub(super) fn serving(&self, now: Instant) -> bool {
        self.serve.is_some_and(|s| {
            !s.finished
                && (s.reply.is_some()
                    || now.saturating_duration_since(s.last) < self.cfg.snapshot_idle)
        })
    }

    pub(super) fn on_snap_req(
        &mut self,
        now: Instant,
        sender: MemberId,
        from: SocketAddr,
        session: u64,
        cursor: u64,
    ) {
        let restart = |this: &mut Self| {
            if !this
                .out
                .restart
                .iter()
                .any(|r| r.0 == from && r.1 == session)
            {
                let _ = this.out.restart.push((from, session));
            }
        };
        if !self.synced
            || self.pull.is_some_and(|p| !p.scan())
            || matches!(self.role, Role::Syncing | Role::Fetching)
        {
            restart(self);
            return;
        }
        match self.serve.as_mut() {
            Some(s) if s.to == sender && s.session == session => {
                if s.as_of != self.applied {
                    self.serve = None;
                    restart(self);
                    return;
                }
                s.reply = Some(cursor);
                s.prev = cursor;
                s.burst = BURST;
                s.last = now;
            }
            Some(s)
                if !s.finished
                    && now.saturating_duration_since(s.last) < self.cfg.snapshot_idle =>
            {
                restart(self);
            }
            _ => {
                if cursor != 0 {
                    restart(self);
                    return;
                }
                self.serve = Some(Serve {
                    to: sender,
                    addr: from,
                    session,
                    as_of: self.applied,
                    last: now,
                    reply: Some(0),
                    prev: 0,
                    burst: BURST,
                    finished: false,
                });
            }
        }
    }

    /// The first record at `cursor` or after.
    pub(super) fn record_at(&self, cursor: u64) -> Option<Record<'_>> {
        let slots = 2 * ENTRIES as u64;
        let dedup = |c: u64| {
            let i = usize::try_from(c - slots).ok()?;
            let (origin, high, bits) = self.dedup.get(i)?;
            Some(Record::Dedup {
                cursor: c,
                origin,
                high,
                bits,
            })
        };
        if cursor >= slots {
            return dedup(cursor);
        }
        self.slot_record(cursor).or_else(|| dedup(slots))
    }

    fn slot_record(&self, cursor: u64) -> Option<Record<'_>> {
        let slot = usize::try_from(cursor / 2).ok()?;
        let mut part = cursor % 2;
        let mut from = slot;
        loop {
            let (i, s) = self.store.next_from(from)?;
            if i != from {
                part = 0;
            }
            let c = (i as u64) * 2;
            let map = self.store.names.name(s.map);
            if part == 0 && s.has_value {
                return Some(Record::Entry {
                    cursor: c,
                    map,
                    key: &s.key,
                    value: &s.value,
                    version: s.version,
                    owner: s.owner,
                    flags: s.flags,
                    ttl_us: s.ttl_us,
                    expires: s.expires,
                });
            }
            if let Some(l) = s.lock {
                return Some(Record::Lock {
                    cursor: c + 1,
                    map,
                    key: &s.key,
                    holder: Some(l.holder),
                    fence: l.fence,
                    lease_us: l.lease_us,
                    quarantined: false,
                });
            }
            if let Some((lease, _)) = s.quarantine {
                return Some(Record::Lock {
                    cursor: c + 1,
                    map,
                    key: &s.key,
                    holder: None,
                    fence: 0,
                    lease_us: lease,
                    quarantined: true,
                });
            }
            from = i + 1;
            part = 0;
        }
    }

    /// Whether a record (`prev` the cursor right after the record before it)
    /// is taken: the next one, or, when installing, one past a gap (records
    /// of a session are idempotent writes of a state that does not move).
    /// A scan takes records strictly in order, and none while a merge
    /// candidate waits.
    fn pull_accepts(&self, sender: MemberId, session: u64, prev: u64, cursor: u64) -> bool {
        if self.has_candidate() {
            return false;
        }
        let Some(p) = self.pull else {
            return false;
        };
        if p.server != sender || p.session != session {
            return false;
        }
        if prev == p.cursor {
            return true;
        }
        let known = p
            .ahead
            .iter()
            .take(p.ahead_len)
            .any(|(before, _)| *before == prev);
        !p.scan() && prev > p.cursor && cursor >= prev && !known && p.ahead_len < AHEAD
    }

    fn pull_advance(&mut self, now: Instant, prev: u64, cursor: u64) {
        let mut ask = false;
        let mut end = None;
        if let Some(p) = self.pull.as_mut() {
            let after = cursor.saturating_add(1);
            if prev == p.cursor {
                p.cursor = after;
                // Jump over records that arrived early.
                while let Some(i) = p
                    .ahead
                    .iter()
                    .take(p.ahead_len)
                    .position(|(before, _)| *before == p.cursor)
                {
                    p.cursor = p.ahead.get(i).map_or(p.cursor, |(_, a)| *a);
                    p.ahead_len -= 1;
                    p.ahead.swap(i, p.ahead_len);
                }
            } else if let Some(slot) = p.ahead.get_mut(p.ahead_len) {
                *slot = (prev, after);
                p.ahead_len += 1;
            }
            p.next_send = now + self.cfg.retry_interval;
            p.got = p.got.saturating_add(1);
            if p.got >= BURST {
                p.got = 0;
                ask = true;
            }
            end = p.end.filter(|e| e.prev == p.cursor);
        }
        if let Some(e) = end {
            let server = self.pull.map(|p| p.server).unwrap_or(MemberId::NIL);
            self.on_snap_end(now, server, e);
            return;
        }
        self.timers.set(
            super::timer::Timer::Pull,
            Some(now + self.cfg.retry_interval),
        );
        if ask && !self.has_candidate() {
            self.out.snap_req = true;
        }
    }

    pub(super) fn on_snap_window(&mut self, now: Instant, sender: MemberId, w: SnapWindow) {
        if !self.pull_accepts(sender, w.session, w.prev, w.cursor) {
            self.stats.dropped_snapshot += 1;
            return;
        }
        if self.pull.is_some_and(|p| !p.scan()) {
            self.dedup.restore(w.member, w.high, w.bits);
        }
        self.pull_advance(now, w.prev, w.cursor);
    }

    pub(super) fn on_snap_entry(&mut self, now: Instant, sender: MemberId, m: &MapOp<'_>) {
        let (prev, cursor) = (m.snapshot_prev_cursor, m.snapshot_cursor);
        if !self.pull_accepts(sender, m.snapshot_session, prev, cursor) {
            self.stats.dropped_snapshot += 1;
            return;
        }
        let Some(pull) = self.pull else {
            return;
        };
        let Some(map) = self.store.names.intern(m.map) else {
            self.stats.dropped_map_name += 1;
            self.pull_advance(now, prev, cursor);
            return;
        };
        let (Ok(key), Ok(value)) = (Vec::from_slice(m.key), Vec::from_slice(m.value)) else {
            self.stats.dropped_malformed += 1;
            return;
        };
        let owner = m.owner.unwrap_or(MemberId::NIL);
        if pull.scan() {
            self.scan_record(map, key, value, owner, m);
        } else if let Some(i) = self.install_slot(pull.keep(), map, m.key)
            && let Some(s) = self.store.slot_mut(i)
        {
            let ask = self.cfg.merge_policy() == crate::MergePolicy::Ask;
            if pull.keep() && s.keeps_own(ask, m.has_value, &value, m.version) {
                // This coordinator's own newer write stays, to be
                // sequenced again.
                self.pull_advance(now, prev, cursor);
                return;
            }
            if pull.keep() && ask && s.asks(m.has_value, &value) {
                // The application decides between the winner's value,
                // installed now, and this coordinator's own, held aside:
                // the pull waits for the answer.
                self.candidate = Some(Candidate::of_slot(s));
            }
            s.reapply = false;
            s.taken = false;
            s.has_value = m.has_value;
            s.value = value;
            s.version = m.version;
            s.owner = owner;
            s.flags = m.flags & FLAG_MASK;
            s.ttl_us = m.ttl_us;
            s.expires = (m.ttl_us > 0).then(|| now + Duration::from_micros(m.ttl_us));
        } else {
            self.stats.apply_failures += 1;
        }
        self.pull_advance(now, prev, cursor);
    }

    /// The slot a snapshot record installs into. Over kept entries, a full
    /// store gives up kept entries first: the winning side's state must
    /// arrive whole.
    fn install_slot(&mut self, keep: bool, map: u8, key: &[u8]) -> Option<usize> {
        loop {
            if let Some(i) = self.store.find_or_insert(map, key) {
                return Some(i);
            }
            if !keep || !self.store.drop_one_marked() {
                return None;
            }
            self.stats.merge_dropped += 1;
        }
    }

    /// A losing side's entry: a merge candidate if written after that
    /// side's own fail-over and different from the base.
    fn scan_record(
        &mut self,
        map: u8,
        key: Vec<u8, KEY>,
        value: Vec<u8, VALUE>,
        owner: MemberId,
        m: &MapOp<'_>,
    ) {
        let Some(pull) = self.pull else {
            return;
        };
        if !m.has_value || m.version <= pull.newer_than {
            return;
        }
        let base = self.store.get(map, &key).filter(|s| s.has_value);
        if base.is_some_and(|b| b.value == value) {
            return;
        }
        let newer = base.is_none_or(|b| b.version < m.version);
        if self.cfg.merge_policy() == crate::MergePolicy::LatestVersion && !newer {
            return;
        }
        self.candidate = Some(Candidate::of_record(map, key, value, owner, m));
    }

    pub(super) fn on_snap_lock(&mut self, now: Instant, sender: MemberId, l: &LockOp<'_>) {
        let (prev, cursor) = (l.snapshot_prev_cursor, l.snapshot_cursor);
        if !self.pull_accepts(sender, l.snapshot_session, prev, cursor) {
            self.stats.dropped_snapshot += 1;
            return;
        }
        let scan = self.pull.is_some_and(|p| p.scan());
        if !scan {
            let margin = self.cfg.lease_margin;
            let lease = Duration::from_micros(l.lease_us);
            let keep = self.pull.is_some_and(|p| p.keep());
            if let Some(map) = self.store.names.intern(l.map)
                && let Some(i) = self.install_slot(keep, map, l.key)
                && let Some(s) = self.store.slot_mut(i)
            {
                if let Some(holder) = l.holder {
                    s.lock = Some(LockState {
                        holder,
                        fence: l.fence,
                        lease_us: l.lease_us,
                        expires: now + lease + margin,
                    });
                } else if l.quarantined {
                    s.quarantine = Some((l.lease_us, now + lease + margin));
                }
            } else {
                self.stats.apply_failures += 1;
            }
        }
        self.pull_advance(now, prev, cursor);
    }

    pub(super) fn on_snap_end(&mut self, now: Instant, sender: MemberId, end: SnapEnd) {
        let SnapEnd {
            session,
            prev,
            as_of,
            epoch,
            epoch_base,
        } = end;
        let Some(pull) = self.pull else {
            return;
        };
        if pull.server != sender || pull.session != session || self.has_candidate() {
            return;
        }
        if prev != pull.cursor {
            // Records are missing before the end: keep it for later.
            if !pull.scan()
                && prev > pull.cursor
                && let Some(p) = self.pull.as_mut()
            {
                p.end = Some(end);
            } else {
                self.stats.dropped_snapshot += 1;
            }
            return;
        }
        self.pull = None;
        if pull.scan() {
            let next = self.plan.as_mut().and_then(|p| {
                if p.losers.first().is_some_and(|(rep, _)| *rep == sender) {
                    p.losers.remove(0);
                }
                p.losers.first().copied()
            });
            match next {
                Some((rep, newer_than)) => self.start_pull(now, rep, true, newer_than),
                None => {
                    self.losers_reset = true;
                    self.out.beat = true;
                }
            }
            return;
        }
        self.synced = true;
        self.applied = as_of;
        self.high_known = as_of;
        self.epoch = epoch;
        self.epoch_base = epoch_base;
        self.side = self.view_side;
        self.reapplying = pull.keep();
        self.log.clear();
        self.stats.snapshots_installed += 1;
        debug!("blaze-map: snapshot installed as of order {}", as_of);
        if let Some(e) = self.push_event(Tag::Installed) {
            e.number = as_of;
        }
        if self.role == Role::Fetching {
            self.finish_sync(now);
        } else if Some(sender) == self.view.coordinator()
            && epoch
                == (Epoch {
                    id: self.view.id,
                    leader: sender,
                })
        {
            self.accept = Some(epoch);
            self.out.ack = true;
        }
    }

    pub(super) fn on_snap_restart(&mut self, now: Instant, sender: MemberId, session: u64) {
        let Some(p) = self.pull else {
            return;
        };
        if p.server != sender || p.session != session {
            return;
        }
        self.stats.snapshot_restarts += 1;
        if p.keep() {
            // The winner's records may have changed: keep only what is
            // still this replica's own.
            self.store.retain_marked();
        } else if !p.scan() {
            self.store.clear();
        }
        let next = self.next_session;
        self.next_session += 1;
        if let Some(p) = self.pull.as_mut() {
            p.session = next;
            p.cursor = 0;
            p.got = 0;
            p.ahead_len = 0;
            p.end = None;
            p.next_send = now + self.cfg.retry_interval * 2;
        }
        self.out.snap_req = false;
        self.timers.set(
            super::timer::Timer::Pull,
            Some(now + self.cfg.retry_interval * 2),
        );
    }

    /// The leader's log no longer holds what this member misses.
    pub(super) fn on_snap_needed(&mut self, now: Instant, sender: MemberId, epoch: u64) {
        let ours = self.accept
            == Some(Epoch {
                id: epoch,
                leader: sender,
            })
            && self.role == Role::Member;
        let fetching = self.role == Role::Fetching
            && self.pull.is_none()
            && self.plan.as_ref().is_some_and(|p| p.source == sender);
        if !(ours || fetching) {
            return;
        }
        self.reset_local(false);
        self.start_pull(now, sender, false, 0);
    }
}
