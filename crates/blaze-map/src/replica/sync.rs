//! Views, fail-over and merges: the new coordinator collects every
//! member's history, continues the right one, and tells each member
//! whether to keep its state, wait (merge scan), or take a snapshot.

use super::timer::Timer;
use super::{Peer, Plan, Pull, REAPPLY, Replica, Role};
use crate::event::Tag;
use crate::frames::{Epoch, Side, SyncReport};
use crate::{LockLostReason, MergePolicy, WriteError};
use blaze_wire::{Duration, Instant, MemberId};
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
    /// A new view was installed.
    pub(super) fn on_view(&mut self, now: Instant) {
        debug!(
            "blaze-map: view {} with {} members, quorum {}",
            self.view.id,
            self.view.members.len(),
            self.quorum_present
        );
        if !self.quorum_present {
            self.fail_pending(WriteError::QuorumLost, false);
        }
        if !self.view.merge {
            // A side is no larger than its last view, whether or not that
            // view syncs: a side without a quorum keeps its history but
            // must not weigh as much as before it split, and a member that
            // lags a few views behind its side never outweighs it.
            self.side.size = self.side.size.min(self.view.members.len() as u64);
        }
        self.accept = None;
        self.parked = false;
        self.plan = None;
        self.candidate = None;
        self.losers_reset = false;
        self.serve = None;
        self.peers.clear();
        self.out.sync_done = false;
        self.out.retransmit.clear();
        self.timers.set(Timer::Sync, None);
        self.timers.set(Timer::Beat, None);
        if self
            .pull
            .is_some_and(|p| !self.view.contains(p.server) || p.scan() || p.keep())
        {
            // A pull over kept entries belongs to its sync alone; its
            // replica holds no history until a new one.
            self.pull = None;
        }
        if self.reapplying() && self.store.first_marked().is_some() {
            // Kept entries not yet sequenced again differ from the
            // history this state claims: give the state up rather than
            // diverge.
            self.synced = false;
        }
        self.reapplying = false;
        if !self.view.contains(self.me) || !self.quorum_present {
            self.role = Role::Member;
            return;
        }
        if self.view.coordinator() == Some(self.me) {
            self.start_sync(now);
        } else {
            self.role = Role::Member;
        }
    }

    fn my_report(&self) -> SyncReport {
        SyncReport {
            view: self.view.id,
            applied: self.applied,
            epoch: self.epoch,
            synced: self.synced && self.pull.is_none(),
            epoch_base: self.epoch_base,
            side: self.side,
        }
    }

    fn start_sync(&mut self, now: Instant) {
        self.role = Role::Syncing;
        self.pull = None;
        self.log.purge_above(self.applied);
        let me = self.me;
        let report = self.my_report();
        for m in self.view.members.iter() {
            let _ = self.peers.push(Peer {
                id: m.id,
                acked: 0,
                in_set: false,
                report: (m.id == me).then_some(report),
                done: m.id == me,
            });
        }
        self.out.sync_req = true;
        self.timers
            .set(Timer::Sync, Some(now + self.cfg.retry_interval));
        self.try_decide(now);
    }

    /// The coordinator asks for this member's history.
    pub(super) fn on_sync_req(&mut self, sender: MemberId, view: u64) {
        if view != self.view.id
            || Some(sender) != self.view.coordinator()
            || self.role != Role::Member
        {
            return;
        }
        if self.done_view == view {
            return;
        }
        self.accept = None;
        if self.pull.is_some() {
            self.pull = None;
            self.synced = false;
        }
        self.log.purge_above(self.applied);
        self.out.sync_reply = true;
    }

    pub(super) fn sync_reply(&self) -> SyncReport {
        self.my_report()
    }

    pub(super) fn on_sync_reply(&mut self, now: Instant, sender: MemberId, r: SyncReport) {
        if self.role != Role::Syncing || r.view != self.view.id {
            return;
        }
        if let Some(p) = self.peers.iter_mut().find(|p| p.id == sender) {
            p.report = Some(r);
        }
        self.try_decide(now);
    }

    fn try_decide(&mut self, now: Instant) {
        if self.peers.iter().any(|p| p.report.is_none()) {
            return;
        }
        self.out.sync_req = false;
        self.timers.set(Timer::Sync, None);
        let reports: Vec<(MemberId, SyncReport), MEMBERS> = self
            .peers
            .iter()
            .filter_map(|p| Some((p.id, p.report?)))
            .filter(|(_, r)| r.synced)
            .collect();
        let me = self.me;
        let genesis = reports.is_empty();
        let (winner, side, merge, source, base) = if genesis {
            // Nobody holds a state: the whole view starts from the empty
            // state (the genesis epoch), every member holding it at once, so
            // the first writes already wait for every member. This member
            // then holds the winning history, as in a sync that continues
            // its own.
            self.start_empty();
            let side = self.new_side(Epoch::default());
            (Epoch::default(), side, false, me, 0)
        } else {
            let (winner, side, merge) = self.choose(&reports);
            let (source, base) = reports
                .iter()
                .filter(|(_, r)| r.epoch == winner)
                .map(|(id, r)| (*id, r.applied))
                .max_by_key(|(id, applied)| (*applied, *id == me))
                .unwrap_or((me, 0));
            (winner, side, merge, source, base)
        };
        let mut plan = Plan {
            base,
            winner,
            source,
            losers: Vec::new(),
            side,
            merge,
            won: !merge || (self.synced && self.side == side),
            own_size: if genesis { side.size } else { self.side.size },
        };
        if merge && self.cfg.merge_policy() != MergePolicy::MajoritySide {
            // One representative per losing side: its newest, longest
            // history (the coordinator cannot scan itself).
            let mut seen: Vec<Side, MEMBERS> = Vec::new();
            for (_, r) in reports.iter() {
                if r.side == side || seen.contains(&r.side) {
                    continue;
                }
                let _ = seen.push(r.side);
                let rep = reports
                    .iter()
                    .filter(|(id, x)| x.side == r.side && *id != me)
                    .max_by_key(|(_, x)| (x.epoch, x.applied))
                    .map(|(id, x)| (*id, x.epoch_base));
                if let Some(rep) = rep {
                    let _ = plan.losers.push(rep);
                }
            }
        }
        self.view_side = side;
        let mine = self.my_report();
        debug!(
            "blaze-map: sync of view {} continues epoch {} up to order {}",
            self.view.id, winner.id, base
        );
        self.plan = Some(plan);
        if mine.synced && mine.epoch == winner {
            if self.applied >= base {
                self.finish_sync(now);
            } else {
                self.role = Role::Fetching;
                self.timers.set(Timer::Nack, None);
                self.maybe_nack(now);
            }
        } else {
            self.role = Role::Fetching;
            // The merge event follows in `finish_sync`.
            let lonely = merge
                && matches!(
                    self.cfg.merge_policy(),
                    MergePolicy::LatestVersion | MergePolicy::Ask
                )
                && mine.synced
                && mine.side != side
                && !reports
                    .iter()
                    .any(|(id, r)| *id != me && r.side == mine.side);
            if lonely {
                // No other member stands for this coordinator's side, so
                // no scan re-applies its writes: keep them over the
                // winner's state (asking the application about each under
                // `Ask`) and sequence them again once active.
                self.drop_history();
                self.store.keep_newer(mine.epoch_base);
                self.start_pull(now, source, false, 0);
                if let Some(p) = self.pull.as_mut() {
                    p.keep = true;
                }
            } else {
                self.reset_local(false);
                self.start_pull(now, source, false, 0);
            }
        }
    }

    /// Which history a view continues, the side its new epoch belongs to,
    /// and whether the view merges sides.
    ///
    /// The histories stand for sides ([`Side`]); a history in the epoch
    /// that some side's first view continued is left out (its member was
    /// left behind by that side without being told). When one side
    /// remains and the membership did not flag a merge, the view continues
    /// the newest epoch (a fail-over within the side) and forms a new side:
    /// its own epoch, weighed by its member count. Otherwise it is a merge
    /// (flagged or not: membership may bring sides back over several
    /// views, not every one flagged): the sides are compared as they were
    /// before the merge ([`Side::rank`]: more members, then the later
    /// epoch), not by how many of their members the view holds, so every
    /// step of a merge decides the same way; the view continues the newest
    /// epoch of the winning side and keeps that side.
    fn choose(&self, reports: &[(MemberId, SyncReport)]) -> (Epoch, Side, bool) {
        let current = |r: &SyncReport| !reports.iter().any(|(_, x)| x.side.parent == r.epoch);
        let side = reports
            .iter()
            .filter(|(_, r)| current(r))
            .map(|(_, r)| r.side)
            .max_by_key(Side::rank)
            .or_else(|| reports.iter().map(|(_, r)| r.side).max_by_key(Side::rank))
            .unwrap_or_default();
        let split = reports.iter().any(|(_, r)| current(r) && r.side != side);
        if !self.view.merge && !split {
            let winner = reports
                .iter()
                .map(|(_, r)| r.epoch)
                .max()
                .unwrap_or_default();
            return (winner, self.new_side(winner), false);
        }
        let winner = reports
            .iter()
            .filter(|(_, r)| r.side == side)
            .map(|(_, r)| r.epoch)
            .max()
            .unwrap_or_default();
        (winner, side, true)
    }

    /// The side a view forms when it merges nothing (or starts a group):
    /// its own epoch, weighed by its member count, continuing `parent`.
    fn new_side(&self, parent: Epoch) -> Side {
        Side {
            parent,
            size: self.view.members.len() as u64,
            epoch: Epoch {
                id: self.view.id,
                leader: self.me,
            },
        }
    }

    /// Reports how this member's side (`own_size` members before the
    /// merge) fared in the current merged view.
    pub(super) fn merge_event(&mut self, won: bool, own_size: u64) {
        let view = self.view.id;
        if let Some(e) = self.push_event(Tag::Merged {
            won,
            winner_size: self.view_side.size,
            own_size,
        }) {
            e.number = view;
        }
    }

    /// Adopts the empty state of a new group.
    pub(super) fn start_empty(&mut self) {
        self.store.clear();
        self.log.clear();
        self.dedup.clear();
        self.pull = None;
        self.applied = 0;
        self.committed = 0;
        self.high_known = 0;
        self.epoch = Epoch::default();
        self.synced = true;
        self.reapplying = false;
    }

    /// The coordinator holds the chosen history: start a new epoch.
    pub(super) fn finish_sync(&mut self, now: Instant) {
        let Some(plan) = self.plan.clone() else {
            return;
        };
        if plan.merge {
            self.merge_event(plan.won, plan.own_size);
        }
        self.side = plan.side;
        self.view_side = plan.side;
        self.epoch = Epoch {
            id: self.view.id,
            leader: self.me,
        };
        self.epoch_base = self.applied;
        self.accept = Some(self.epoch);
        self.role = Role::Active;
        self.synced = true;
        self.high_known = self.applied;
        self.out.sent_high = self.applied;
        let me = self.me;
        let applied = self.applied;
        for p in self.peers.iter_mut() {
            let genesis = plan.winner == Epoch::default();
            let keeps = p
                .report
                .is_some_and(|r| genesis || (r.synced && r.epoch == plan.winner));
            p.in_set = p.id == me || keeps;
            p.acked = if p.id == me { applied } else { 0 };
            p.done = p.id == me;
        }
        // Re-base leases on this clock: an old lease may still run at its
        // holder, so it counts from now.
        let margin = self.cfg.lease_margin;
        for s in self.store.iter_mut() {
            if let Some(l) = s.lock.as_mut() {
                l.expires = now + Duration::from_micros(l.lease_us) + margin;
            }
            if let Some((lease, until)) = s.quarantine.as_mut() {
                *until = now + Duration::from_micros(*lease) + margin;
            }
            if s.has_value && s.ttl_us > 0 && s.expires.is_none() {
                s.expires = Some(now + Duration::from_micros(s.ttl_us));
            }
        }
        self.losers_reset = plan.losers.is_empty();
        self.out.sync_done = true;
        self.out.beat = true;
        self.timers
            .set(Timer::Beat, Some(now + self.cfg.beat_interval));
        self.stats.syncs += 1;
        debug!(
            "blaze-map: sequencing epoch {} from order {}",
            self.view.id, self.applied
        );
        self.done_view = self.view.id;
        if REAPPLY && let Some((rep, newer_than)) = plan.losers.first().copied() {
            self.start_pull(now, rep, true, newer_than);
        }
    }

    /// The coordinator's sync result.
    #[allow(clippy::too_many_arguments, reason = "one per field of the message")]
    pub(super) fn on_sync_done(
        &mut self,
        now: Instant,
        sender: MemberId,
        view: u64,
        base: u64,
        winner: Epoch,
        park: bool,
        side: Side,
    ) {
        if view != self.view.id
            || Some(sender) != self.view.coordinator()
            || self.role != Role::Member
        {
            return;
        }
        if self.done_view == view {
            if self.accept.is_some() {
                self.out.ack = true;
            }
            if self.parked {
                self.out.parked_ack = true;
            }
            return;
        }
        self.done_view = view;
        // A merge (flagged by the membership or found by the coordinator)
        // keeps the winning side; any other view forms its own.
        let merge = side.epoch
            != (Epoch {
                id: view,
                leader: sender,
            });
        self.view_side = side;
        // This member's side is the winning one (it may still lack the
        // newest history of it: a later step of a merge).
        let same_side = self.synced && self.pull.is_none() && self.side == side;
        if winner == Epoch::default() {
            self.fail_pending(WriteError::Aborted, true);
            self.lose_held(LockLostReason::Revoked);
            self.start_empty();
        }
        if self.synced && self.pull.is_none() && self.epoch == winner {
            self.epoch = Epoch {
                id: view,
                leader: sender,
            };
            self.epoch_base = base;
            self.accept = Some(self.epoch);
            self.high_known = self.high_known.max(base);
            self.out.ack = true;
            self.timers.set(Timer::Nack, None);
            self.maybe_nack(now);
            if merge {
                self.merge_event(true, self.side.size);
            }
            self.side = side;
        } else if self.synced && self.pull.is_none() && park && !same_side {
            self.parked = true;
            self.out.parked_ack = true;
        } else {
            if merge && same_side {
                self.merge_event(true, self.side.size);
            }
            self.reset_local(merge && !same_side);
            self.start_pull(now, sender, false, 0);
        }
    }

    /// Drops this replica's state before a snapshot: requests already in
    /// the order are aborted, held locks are revoked.
    pub(super) fn reset_local(&mut self, merge_lost: bool) {
        debug!(
            "blaze-map: state dropped for a snapshot (merge lost: {})",
            merge_lost
        );
        let had_state = self.synced;
        self.drop_history();
        self.store.clear();
        if merge_lost && had_state {
            self.merge_event(false, self.side.size);
        }
    }

    /// Drops this replica's history (not its store): requests already in
    /// the order are aborted, held locks are revoked.
    fn drop_history(&mut self) {
        self.fail_pending(WriteError::Aborted, true);
        self.lose_held(LockLostReason::Revoked);
        self.log.clear();
        self.dedup.clear();
        self.applied = 0;
        self.committed = 0;
        self.high_known = 0;
        self.synced = false;
        self.parked = false;
        self.accept = None;
        self.reapplying = false;
    }

    pub(super) fn start_pull(
        &mut self,
        now: Instant,
        server: MemberId,
        scan: bool,
        newer_than: u64,
    ) {
        let session = self.next_session;
        self.next_session += 1;
        self.pull = Some(Pull {
            server,
            session,
            cursor: 0,
            scan,
            newer_than,
            keep: false,
            got: 0,
            ahead: [(0, 0); super::AHEAD],
            ahead_len: 0,
            end: None,
            next_send: now,
        });
        self.out.snap_req = true;
        self.timers
            .set(Timer::Pull, Some(now + self.cfg.retry_interval));
    }

    /// Resends that are due.
    pub(super) fn retry_work(&mut self, now: Instant) {
        if self.role == Role::Syncing && self.timers.due(Timer::Sync, now) {
            self.out.sync_req = true;
            self.timers
                .set(Timer::Sync, Some(now + self.cfg.retry_interval));
        }
        if self.role == Role::Active && self.timers.due(Timer::Beat, now) {
            self.out.beat = true;
            if self.peers.iter().any(|p| !p.done) {
                self.out.sync_done = true;
            }
            self.timers
                .set(Timer::Beat, Some(now + self.cfg.beat_interval));
        }
        if self.timers.due(Timer::Nack, now) {
            self.timers.set(Timer::Nack, None);
        }
        self.maybe_nack(now);
        if let Some(p) = self.pull.as_mut()
            && self.timers.due(Timer::Pull, now)
        {
            if !(REAPPLY && self.candidate.is_some()) {
                self.out.snap_req = true;
            }
            p.next_send = now + self.cfg.retry_interval;
            self.timers.set(Timer::Pull, Some(p.next_send));
        }
        if self.pull.is_none() {
            self.timers.set(Timer::Pull, None);
        }
    }

    /// `t`, or one retry interval from now if `t` has passed (work that is
    /// due but blocked is retried then, not in a busy loop).
    fn later(&self, t: Instant, now: Instant) -> Instant {
        if t > now {
            t
        } else {
            now + self.cfg.retry_interval
        }
    }

    /// Re-reads every computed deadline.
    pub(super) fn refresh_timers(&mut self, now: Instant) {
        let mut client: Option<Instant> = None;
        let mut take = |t: Instant| client = Some(client.map_or(t, |c: Instant| c.min(t)));
        let sends = self.view.coordinator().is_some();
        for p in self.pending.iter() {
            take(p.deadline);
            if p.seen.is_none() && sends {
                take(self.later(p.next_send, now));
            }
        }
        for h in self.held.iter() {
            take(h.deadline);
        }
        if REAPPLY
            && let Some(c) = self.candidate.as_ref()
            && c.decided.is_none()
            && let Some(t) = c.asked
        {
            take(self.later(t + self.cfg.request_timeout, now));
        }
        self.timers.set(Timer::Client, client);
        let expiry = self.next_expiry(now).map(|t| self.later(t, now));
        self.timers.set(Timer::Expiry, expiry);
        let serve = self
            .serve
            .filter(|s| s.reply.is_none())
            .map(|s| s.last + self.cfg.snapshot_idle)
            .filter(|t| *t > now);
        self.timers.set(Timer::Serve, serve);
    }
}
