//! The ring-ordered mode ([`Ordering::Totem`](crate::Ordering::Totem)): a
//! total-order broadcast with extended virtual synchrony (EVS) orders every
//! operation, and every member decides each outcome against the state at
//! the operation's position, so no coordinator is needed.
//!
//! - **Operations.** A member's requests (the same `MapOp` / `LockOp`
//!   frames the coordinator mode sends to the coordinator) go out through
//!   `poll_ordered_submit`; every delivered request is decided and applied
//!   by every member alike (its order number is its position among the
//!   applied operations). A request is resent after a while or after a
//!   configuration change; resends are recognised by the replicated
//!   request windows.
//! - **Expiry.** The lowest member of the configuration proposes entry and
//!   lease expiries (and the end of a revoked lock's quarantine) when they
//!   are due on its clock, naming the entry's version or the grant's
//!   fencing token; applying a proposal whose version or grant changed is
//!   a no-op.
//! - **Configurations.** At a regular configuration whose members all came
//!   from this member's previous one (its transitional configuration), the
//!   state is shared: the owners that left are applied at once (removal and
//!   lock release on exit) and operations go on. Otherwise every member
//!   submits a report (holds a state, its side: the transitional
//!   configuration it came with, its applied order); once all are
//!   delivered, every member makes the same choice. With a quorum the side
//!   whose state was last open in a ring with a quorum wins (the other side
//!   could not acknowledge anything since); without one the largest side
//!   wins; then the longest history, then the lowest leader. Under
//!   `LatestVersion` / `Ask` each losing side's lowest member first streams
//!   its entries through the ring (candidates, re-applied or asked about);
//!   then the winning side's lowest member streams its state, as of that
//!   point, to every member outside the winning side. Operations delivered
//!   meanwhile are dropped by every member alike and resent by their
//!   originators once the group is open again.
//! - **Quorum.** A regular configuration below
//!   [`Config::quorum`](crate::Config::quorum) applies nothing and refuses
//!   commands. A transitional one applies the old ring's messages it
//!   delivers (others may have delivered them in the old configuration),
//!   but below the quorum this member's own requests among them end with
//!   the indeterminate `QuorumLost`.

use super::transfer::Record;
use super::{Candidate, Pull, Replica, Serve};
use crate::event::Tag;
use crate::frames::{self, Epoch, Msg, SnapEnd, SyncReport, ctl, id};
use crate::op::{Op, OpKind};
use crate::request::{Outcome, Pending, ReqKind};
use crate::store::{FLAG_MASK, FLAG_RELEASE_LOCK_ON_EXIT, FLAG_REMOVE_ON_EXIT};
use crate::view::View;
use crate::{MergePolicy, Ordering, RingConfiguration, Submit, ViewMember, WriteError};
use blaze_wire::{
    Body, Destination, Duration, Instant, LockOp, LockOpKind, MapControl, MapControlKind, MapOp,
    MapOpKind, MemberId,
};
use core::net::{Ipv4Addr, SocketAddr};
use heapless::Vec;

/// Where the group stands in the current configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) enum Phase {
    /// No regular configuration yet.
    #[default]
    Idle,
    /// Collecting every member's report.
    Reporting,
    /// Losing sides stream their entries (merge candidates).
    Scanning,
    /// The winning side streams its state to the other members.
    Transfer,
    /// Operations are applied.
    Open,
}

/// One member's report at a configuration change.
#[derive(Debug, Clone, Copy)]
struct Report {
    member: MemberId,
    synced: bool,
    applied: u64,
    /// Its state's lineage (see `Ring::lineage`).
    lineage: Epoch,
    /// The last ring with a quorum in which its state was open.
    quorum_ring: u64,
}

/// A state this member streams through the ring.
#[derive(Debug, Clone, Copy)]
struct Stream {
    /// Cursor of the next record (`None`: the end is next).
    next: Option<u64>,
    /// The cursor right after the record before.
    prev: u64,
}

/// The ring-ordered mode's state.
#[derive(Debug, Default)]
pub(super) struct Ring<const M: usize> {
    phase: Phase,
    /// The current regular configuration's ring sequence (tags reports and
    /// streamed records).
    seq: u64,
    /// Its members, ascending.
    members: Vec<MemberId, M>,
    /// This member's last transitional configuration.
    trans: Vec<MemberId, M>,
    /// Between a transitional and the next regular configuration.
    in_trans: bool,
    /// The transitional configuration holds a quorum.
    trans_quorum: bool,
    reports: Vec<Report, M>,
    report_due: bool,
    /// Names this member's state: the ring in which it last opened (and
    /// that ring's lowest member), or the transitional configuration it
    /// came through since (the new ring and the configuration's lowest
    /// member). Members that report the same lineage hold the same state:
    /// they opened together and delivered the same messages since.
    lineage: Epoch,
    /// Lowest member of the winning side: the one that streams its state.
    winner: MemberId,
    /// This member's state is the winning side's.
    won: bool,
    /// Whether some member lacks the winning state.
    transfer: bool,
    /// Losing sides whose candidates are still to come.
    scans: Vec<MemberId, M>,
    stream: Option<Stream>,
    /// Expiry proposals: next scan, and the slot to scan from.
    propose_at: Instant,
    propose_from: usize,
    /// The last ring with a quorum in which this state was open (a side
    /// that went on with a quorum after a split has the later one).
    quorum_ring: u64,
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
    // ----- public interface ----------------------------------------------

    /// Ring-ordered mode: writes the next operation to broadcast in total
    /// order into `buf` (one `Frame`; 512 bytes is plenty for keys and
    /// values of a hundred bytes). `None` when nothing is due, in the
    /// coordinator mode, or when `buf` is too small.
    ///
    /// Call it only when the ring can take a message (its send queue has
    /// room): what it returns counts as submitted. Requests are resent
    /// after a while (and after every configuration change) until
    /// delivered, so a message lost with a ring is not lost for good.
    ///
    /// ```
    /// use blaze_map::{Config, Ordering, Replica, RingConfiguration, WriteOptions, Event};
    /// use blaze_wire::{GroupId, Instant, MemberId};
    ///
    /// let me = MemberId::from_u128(1);
    /// let cfg = Config { ordering: Ordering::Totem { safe: true }, ..Config::lan(GroupId::from_name("g")) };
    /// let mut r: Replica<16, 4, 16, 32> = Replica::new(cfg, me).unwrap();
    /// let now = Instant::from_millis(1);
    /// // The ring formed with this member alone; the ring delivers what is submitted.
    /// r.handle_configuration(now, RingConfiguration::Regular, 1, &[me]);
    /// let mut buf = [0u8; 512];
    /// let mut deliver = |r: &mut Replica<16, 4, 16, 32>| {
    ///     while let Some(s) = r.poll_ordered_submit(now, &mut buf) {
    ///         assert!(s.safe);
    ///         let msg = buf[..s.len].to_vec();
    ///         r.handle_delivered(now, me, &msg);
    ///     }
    /// };
    /// deliver(&mut r); // the report every member sends at a new configuration
    /// let req = r.put(now, "config", b"colour", b"blue", WriteOptions::default()).unwrap();
    /// deliver(&mut r);
    /// assert_eq!(r.get("config", b"colour").map(|e| e.value), Some(&b"blue"[..]));
    /// let mut done = false;
    /// while let Some(e) = r.poll_event() {
    ///     if let Event::WriteDone { request, version } = e { done |= request == req && version == 1; }
    /// }
    /// assert!(done);
    /// ```
    #[must_use]
    pub fn poll_ordered_submit(&mut self, now: Instant, buf: &mut [u8]) -> Option<Submit> {
        let Ordering::Totem { safe } = self.cfg.ordering else {
            return None;
        };
        let len = self.next_submit(now, buf)?;
        self.stats.frames_out += 1;
        self.refresh_timers(now);
        Some(Submit { len, safe })
    }

    /// Ring-ordered mode: the ring delivered `message` from `sender`, in
    /// total order (every member delivers the same messages in the same
    /// order within a configuration). Anything that is not a valid frame of
    /// this group's map protocol is counted and dropped; ignored in the
    /// coordinator mode.
    ///
    /// Each delivered operation can raise a few events (one per change):
    /// drain [`poll_event`](Replica::poll_event) after each call, or events
    /// beyond [`EVENT_QUEUE`](crate::EVENT_QUEUE) are dropped (counted).
    pub fn handle_delivered(&mut self, now: Instant, sender: MemberId, message: &[u8]) {
        if !self.cfg.ordering.is_totem() {
            self.stats.dropped_stranger += 1;
            return;
        }
        let (from, msg) = match frames::parse(self.cfg.group, message) {
            Ok(x) => x,
            Err(_) => {
                self.stats.dropped_malformed += 1;
                return;
            }
        };
        if from != sender || !self.ring.members.contains(&sender) {
            self.stats.dropped_stranger += 1;
            return;
        }
        self.stats.frames_in += 1;
        self.on_delivered(now, sender, msg);
        self.pump(now);
    }

    /// Ring-ordered mode: the ring installed a configuration: `ring` is
    /// the sequence number of the (new) ring, `members` its members.
    /// Ignored in the coordinator mode.
    pub fn handle_configuration(
        &mut self,
        now: Instant,
        kind: RingConfiguration,
        ring: u64,
        members: &[MemberId],
    ) {
        if !self.cfg.ordering.is_totem() {
            return;
        }
        let sorted = sorted_members(members);
        match kind {
            RingConfiguration::Transitional => {
                // Only a state open in the old ring moves on with this
                // configuration (a frozen one keeps its lineage: its members
                // apply nothing until the group opens again).
                if self.ring.phase == Phase::Open
                    && let Some(first) = sorted.first()
                {
                    self.ring.lineage = Epoch {
                        id: ring,
                        leader: *first,
                    };
                }
                self.ring.in_trans = true;
                self.ring.trans_quorum = self.cfg.quorum == 0 || sorted.len() >= self.cfg.quorum;
                self.ring.trans = sorted;
            }
            RingConfiguration::Regular => self.on_regular(now, ring, sorted),
        }
        self.pump(now);
    }

    // ----- internals -----------------------------------------------------

    /// Whether the group is open (operations are applied).
    pub(super) fn ring_open(&self) -> bool {
        self.ring.phase == Phase::Open
    }

    /// Whether a delivered operation is applied now: the group is open and
    /// the configuration holds a quorum.
    ///
    /// In a transitional configuration every member applies what the ring
    /// delivers, whatever its size: other members of the old ring may have
    /// delivered the same messages in the old (regular) configuration. Below
    /// the quorum, though, this member cannot know whether the other side
    /// holds them, so its own requests among them end with the indeterminate
    /// [`WriteError::QuorumLost`].
    pub(super) fn may_apply(&self) -> bool {
        self.ring.phase == Phase::Open && self.synced && (self.quorum_present || self.ring.in_trans)
    }

    fn resubmit_interval(&self) -> Duration {
        self.cfg.retry_interval * 5
    }

    fn on_regular(&mut self, now: Instant, seq: u64, members: Vec<MemberId, MEMBERS>) {
        if !members.contains(&self.me) {
            return;
        }
        let was_open = self.ring.phase == Phase::Open;
        let same = was_open && self.synced && self.ring.trans == members;
        let old_coord = self.view.coordinator();
        let mut view = View {
            id: seq,
            members: Vec::new(),
            merge: false,
        };
        let nowhere = SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), 0);
        for m in members.iter() {
            let _ = view.members.push(ViewMember {
                id: *m,
                addr: nowhere,
            });
        }
        self.view = view;
        self.ring.seq = seq;
        self.ring.members = members;
        self.ring.in_trans = false;
        self.ring.trans.clear();
        self.ring.reports.clear();
        self.ring.scans.clear();
        self.ring.stream = None;
        self.ring.report_due = false;
        self.pull = None;
        self.candidate = None;
        let present = self.view_events(old_coord);
        if !present {
            self.fail_pending(WriteError::QuorumLost, false);
        }
        debug!(
            "blaze-map: ring {} with {} members (same state: {})",
            seq,
            self.ring.members.len(),
            same
        );
        if same {
            self.open(now);
        } else {
            self.ring.phase = Phase::Reporting;
            self.ring.report_due = true;
        }
    }

    /// Operations flow again: owners that left are applied, and this
    /// member's requests not yet in the order are resent.
    fn open(&mut self, now: Instant) {
        self.ring.phase = Phase::Open;
        self.ring.stream = None;
        self.pull = None;
        self.accept = None;
        self.committed = self.applied;
        if self.may_apply() {
            self.apply_exits(now);
        }
        for p in self.pending.iter_mut() {
            if p.seen.is_none() {
                p.next_send = now;
            }
        }
        self.ring.propose_at = now;
        self.ring.propose_from = 0;
        if self.quorum_present && self.synced {
            self.ring.quorum_ring = self.ring.seq;
        }
        if let Some(first) = self.ring.members.first() {
            self.ring.lineage = Epoch {
                id: self.ring.seq,
                leader: *first,
            };
        }
    }

    /// Removes the entries (remove on exit) and revokes the locks (release
    /// on exit) of members that are not in the configuration, in key order
    /// so that every member numbers them alike.
    fn apply_exits(&mut self, now: Instant) {
        let Some(origin) = self.ring.members.first().copied() else {
            return;
        };
        loop {
            let mut best: Option<usize> = None;
            for (i, s) in self.store.iter() {
                if self.exit_op(s).is_none() {
                    continue;
                }
                let better = best.and_then(|b| self.store.slot(b)).is_none_or(|b| {
                    (self.store.names.name(s.map), s.key.as_slice())
                        < (self.store.names.name(b.map), b.key.as_slice())
                });
                if better {
                    best = Some(i);
                }
            }
            let Some(op) = best
                .and_then(|i| self.store.slot(i))
                .and_then(|s| self.exit_op(s))
            else {
                return;
            };
            self.sequence(now, Op { origin, ..op });
            self.committed = self.applied;
        }
    }

    /// The exit operation `s` needs (its origin is filled in by the caller,
    /// except for a revoke, which names the holder).
    fn exit_op(&self, s: &crate::store::Slot<KEY, VALUE>) -> Option<Op<KEY, VALUE>> {
        let gone = |m: MemberId| !self.ring.members.contains(&m);
        let base = Op {
            order: 0,
            kind: OpKind::Remove,
            map: s.map,
            key: s.key.clone(),
            value: Vec::new(),
            version: 0,
            origin: MemberId::NIL,
            request_id: 0,
            error: 0,
            ttl_us: 0,
            flags: 0,
            fence: 0,
            lease_us: 0,
        };
        if s.has_value && s.flags & FLAG_REMOVE_ON_EXIT != 0 && gone(s.owner) {
            return Some(base);
        }
        let l = s.lock?;
        let release = !s.has_value || s.flags & FLAG_RELEASE_LOCK_ON_EXIT != 0;
        (release && gone(l.holder)).then(|| Op {
            kind: OpKind::Revoke,
            origin: l.holder,
            fence: l.fence,
            lease_us: l.lease_us,
            ..base
        })
    }

    fn on_delivered(&mut self, now: Instant, sender: MemberId, msg: Msg<'_>) {
        let before = self.applied;
        match msg {
            Msg::MapRequest(m) if m.kind == MapOpKind::EXPIRE => self.on_expire(now, sender, &m),
            Msg::MapRequest(m) => self.on_map_request(now, sender, None, &m),
            Msg::LockRequest(l) => self.on_lock_request(now, sender, None, &l),
            Msg::LockSeq(l) if l.kind == LockOpKind::EXPIRED && l.order == 0 => {
                self.on_lock_expire(now, &l);
            }
            Msg::SyncReply(r) => self.on_report(now, sender, r),
            Msg::SnapEntry(m) => self.on_ring_entry(now, sender, &m),
            Msg::SnapWindow(w) if self.receiving(sender, w.session) => {
                self.on_snap_window(now, sender, w);
            }
            Msg::SnapLock(l) if self.receiving(sender, l.snapshot_session) => {
                self.on_snap_lock(now, sender, &l);
            }
            Msg::SnapEnd(end) => self.on_ring_end(now, sender, end),
            Msg::SnapWindow(_) | Msg::SnapLock(_) => {}
            _ => self.stats.dropped_malformed += 1,
        }
        if self.ring.in_trans && !self.ring.trans_quorum && self.applied > before {
            for p in self.pending.iter_mut() {
                if let Some((order, _)) = p.seen
                    && order > before
                {
                    p.seen = Some((order, Outcome::Err(WriteError::QuorumLost)));
                }
            }
        }
        if self.may_apply() {
            self.committed = self.applied;
        }
    }

    /// Whether a streamed state record from `sender` is for this member.
    fn receiving(&self, sender: MemberId, session: u64) -> bool {
        self.ring.phase == Phase::Transfer
            && session == self.ring.seq
            && sender == self.ring.winner
            && self.pull.is_some()
    }

    /// An entry's time to live ran out (proposed with its version).
    fn on_expire(&mut self, now: Instant, sender: MemberId, m: &MapOp<'_>) {
        if !self.may_apply() {
            return;
        }
        let Some(map) = self.store.names.index(m.map) else {
            return;
        };
        let Some(s) = self.store.get(map, m.key) else {
            return;
        };
        if !s.has_value || s.version != m.version {
            return;
        }
        let op = Op {
            order: 0,
            kind: OpKind::Expire,
            map,
            key: s.key.clone(),
            value: Vec::new(),
            version: 0,
            origin: sender,
            request_id: 0,
            error: 0,
            ttl_us: 0,
            flags: 0,
            fence: 0,
            lease_us: 0,
        };
        self.sequence(now, op);
    }

    /// A lease ran out (proposed with the grant's token), or a revoked
    /// lock's quarantine ended (token 0).
    fn on_lock_expire(&mut self, now: Instant, l: &LockOp<'_>) {
        if !self.may_apply() {
            return;
        }
        let Some(map) = self.store.names.index(l.map) else {
            return;
        };
        let Some(i) = self.store.find(map, l.key) else {
            return;
        };
        if l.fence == 0 {
            if let Some(s) = self.store.slot_mut(i)
                && s.lock.is_none()
            {
                s.quarantine = None;
                self.store.tidy(i);
            }
            return;
        }
        let Some(s) = self.store.slot(i) else {
            return;
        };
        let Some(lock) = s.lock.filter(|g| g.fence == l.fence) else {
            return;
        };
        let op = Op {
            order: 0,
            kind: OpKind::LockExpire,
            map,
            key: s.key.clone(),
            value: Vec::new(),
            version: 0,
            origin: lock.holder,
            request_id: 0,
            error: 0,
            ttl_us: 0,
            flags: 0,
            fence: lock.fence,
            lease_us: lock.lease_us,
        };
        self.sequence(now, op);
    }

    fn on_report(&mut self, now: Instant, sender: MemberId, r: SyncReport) {
        if self.ring.phase != Phase::Reporting
            || r.view != self.ring.seq
            || self.ring.reports.iter().any(|x| x.member == sender)
        {
            self.stats.dropped_stale += 1;
            return;
        }
        let report = Report {
            member: sender,
            synced: r.synced,
            applied: r.applied,
            lineage: r.epoch,
            quorum_ring: r.side.epoch.id,
        };
        if self.ring.reports.push(report).is_err() {
            return;
        }
        if self.ring.reports.len() >= self.ring.members.len() {
            self.decide(now);
        }
    }

    /// Every member reported: every member makes the same choice.
    fn decide(&mut self, now: Instant) {
        let quorum = self.cfg.quorum > 0;
        // The sides: (lineage, members present, lowest member, quorum ring,
        // applied).
        let mut sides: Vec<(Epoch, u64, MemberId, u64, u64), MEMBERS> = Vec::new();
        for r in self.ring.reports.iter().filter(|r| r.synced) {
            match sides.iter_mut().find(|s| s.0 == r.lineage) {
                Some(s) => {
                    s.1 += 1;
                    s.2 = s.2.min(r.member);
                }
                None => {
                    let _ = sides.push((r.lineage, 1, r.member, r.quorum_ring, r.applied));
                }
            }
        }
        // With a quorum, the side that went on with one wins; without, the
        // larger side; then the longer history, then the lowest member.
        let best = sides
            .iter()
            .max_by_key(|s| {
                let (first, second) = if quorum { (s.3, s.1) } else { (s.1, s.3) };
                (first, second, s.4, core::cmp::Reverse(s.2))
            })
            .copied();
        let Some(best) = best else {
            // A new group: every member starts from the empty state.
            self.start_empty();
            self.open(now);
            return;
        };
        self.ring.winner = best.2;
        let mine = sides
            .iter()
            .find(|s| self.synced && s.0 == self.ring.lineage)
            .copied();
        self.ring.won = mine.is_some_and(|m| m.0 == best.0);
        if sides.len() > 1
            && let Some(m) = mine
        {
            self.view_side.size = best.1;
            self.merge_event(self.ring.won, m.1);
        }
        self.ring.transfer = self
            .ring
            .reports
            .iter()
            .any(|r| !(r.synced && r.lineage == best.0));
        self.ring.scans.clear();
        if self.cfg.merge_policy() != MergePolicy::MajoritySide {
            for s in sides.iter().filter(|s| s.0 != best.0) {
                let _ = self.ring.scans.push(s.2);
            }
            self.ring.scans.sort_unstable();
        }
        self.stats.syncs += 1;
        self.next_scan(now);
    }

    /// Starts the next losing side's scan, or the transfer, or opens.
    fn next_scan(&mut self, now: Instant) {
        if let Some(first) = self.ring.scans.first().copied() {
            self.ring.phase = Phase::Scanning;
            self.ring.stream = (first == self.me).then_some(Stream {
                next: Some(0),
                prev: 0,
            });
            return;
        }
        if !self.ring.transfer {
            self.open(now);
            return;
        }
        self.ring.phase = Phase::Transfer;
        if self.ring.winner == self.me {
            self.ring.stream = Some(Stream {
                next: Some(0),
                prev: 0,
            });
        }
        if !self.ring.won {
            self.reset_local(false);
            self.pull = Some(Pull {
                server: self.ring.winner,
                session: self.ring.seq,
                cursor: 0,
                scan: false,
                newer_than: 0,
                keep: false,
                got: 0,
                ahead: [(0, 0); super::AHEAD],
                ahead_len: 0,
                end: None,
                next_send: now,
            });
        }
    }

    /// A streamed entry: a merge candidate while scanning, a state record
    /// during a transfer.
    fn on_ring_entry(&mut self, now: Instant, sender: MemberId, m: &MapOp<'_>) {
        if self.receiving(sender, m.snapshot_session) {
            self.on_snap_entry(now, sender, m);
            return;
        }
        let scanning = self.ring.phase == Phase::Scanning
            && m.snapshot_session == self.ring.seq
            && self.ring.scans.first() == Some(&sender);
        if !scanning || !self.ring.won || !m.has_value {
            return;
        }
        let Some(map) = self.store.names.intern(m.map) else {
            self.stats.dropped_map_name += 1;
            return;
        };
        let (Ok(key), Ok(value)) = (Vec::from_slice(m.key), Vec::from_slice(m.value)) else {
            self.stats.dropped_malformed += 1;
            return;
        };
        let base = self.store.get(map, &key).filter(|s| s.has_value);
        if base.is_some_and(|b| b.value == value) {
            return;
        }
        let newer = base.is_none_or(|b| b.version < m.version);
        let owner = m.owner.unwrap_or(MemberId::NIL);
        match self.cfg.merge_policy() {
            MergePolicy::LatestVersion if newer => {
                let op = Op {
                    order: 0,
                    kind: OpKind::Put,
                    map,
                    key,
                    value,
                    version: 0,
                    origin: owner,
                    request_id: 0,
                    error: 0,
                    ttl_us: m.ttl_us,
                    flags: m.flags & FLAG_MASK,
                    fence: 0,
                    lease_us: 0,
                };
                self.sequence(now, op);
            }
            MergePolicy::Ask if self.ring.winner == self.me => {
                if self.has_candidate() || self.events.room() == 0 {
                    // One question at a time: the base keeps this one.
                    self.stats.dropped_snapshot += 1;
                    return;
                }
                if let Some(e) = self
                    .events
                    .push_new(Tag::Conflict, &mut self.stats.events_dropped)
                {
                    e.map = map;
                    e.key = key.clone();
                    e.new = Some(value.clone());
                    e.number = m.version;
                    e.old = base.map(|b| b.value.clone());
                }
                self.candidate = Some(Candidate {
                    asked: Some(now),
                    ..Candidate::of_record(map, key, value, owner, m)
                });
            }
            _ => {}
        }
    }

    fn on_ring_end(&mut self, now: Instant, sender: MemberId, end: SnapEnd) {
        if end.session != self.ring.seq {
            return;
        }
        match self.ring.phase {
            Phase::Scanning if self.ring.scans.first() == Some(&sender) => {
                self.ring.scans.remove(0);
                self.next_scan(now);
            }
            Phase::Transfer if sender == self.ring.winner => {
                if self.pull.is_some() {
                    self.on_snap_end(now, sender, end);
                }
                self.open(now);
            }
            _ => {}
        }
    }

    /// The next message this member owes the ring.
    fn next_submit(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        if self.ring.members.is_empty() {
            return None;
        }
        if self.ring.report_due {
            self.ring.report_due = false;
            let body = MapControl {
                view_id: self.ring.seq,
                order: self.applied,
                holds_state: self.synced,
                epoch: self.ring.lineage.id,
                epoch_leader: id(self.ring.lineage.leader),
                side_epoch: self.ring.quorum_ring,
                ..ctl(MapControlKind::SYNC_REPLY)
            };
            return frames::emit(self.cfg.group, self.me, Body::MapControl(body), buf);
        }
        if let Some(len) = self.stream_next(now, buf) {
            return Some(len);
        }
        if !self.may_apply() {
            return None;
        }
        if let Some(i) = self.take_due_request(now, self.resubmit_interval()) {
            let body = self.request_body(i)?;
            return frames::emit(self.cfg.group, self.me, body, buf);
        }
        self.propose(now, buf)
    }

    /// The next record of the state this member streams.
    fn stream_next(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        let s = self.ring.stream?;
        let record = s.next.and_then(|c| self.record_at(c));
        let next = match &record {
            Some(Record::Dedup { cursor, .. })
            | Some(Record::Entry { cursor, .. })
            | Some(Record::Lock { cursor, .. }) => Some(cursor.saturating_add(1)),
            None => None,
        };
        let serve = Serve {
            to: self.me,
            addr: SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), 0),
            session: self.ring.seq,
            as_of: self.applied,
            last: now,
            reply: None,
            prev: s.prev,
            burst: 0,
            finished: false,
        };
        let t = self.emit_record(record, &serve, s.prev, Destination::Group, now, buf)?;
        self.ring.stream = match next {
            Some(n) => Some(Stream {
                next: Some(n),
                prev: n,
            }),
            None => {
                self.stats.snapshots_served += 1;
                None
            }
        };
        Some(t.len)
    }

    /// The configuration's lowest member proposes what is due: an entry's
    /// expiry, a lease's end, a quarantine's end.
    fn propose(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        if self.ring.members.first() != Some(&self.me) || now < self.ring.propose_at {
            return None;
        }
        let from = self.ring.propose_from;
        let mut found = None;
        for (i, s) in self.store.iter().filter(|(i, _)| *i >= from) {
            let map = self.store.names.name(s.map);
            let body = if s.has_value && s.expires.is_some_and(|t| t <= now) {
                Body::MapOp(MapOp {
                    map,
                    kind: MapOpKind::EXPIRE,
                    key: &s.key,
                    version: s.version,
                    ..MapOp::default()
                })
            } else if let Some(l) = s.lock.filter(|l| l.expires <= now) {
                Body::LockOp(LockOp {
                    map,
                    key: &s.key,
                    kind: LockOpKind::EXPIRED,
                    fence: l.fence,
                    holder: Some(l.holder),
                    lease_us: l.lease_us,
                    ..LockOp::default()
                })
            } else if s.lock.is_none() && s.quarantine.is_some_and(|(_, t)| t <= now) {
                Body::LockOp(LockOp {
                    map,
                    key: &s.key,
                    kind: LockOpKind::EXPIRED,
                    ..LockOp::default()
                })
            } else {
                continue;
            };
            found = Some((i, frames::emit(self.cfg.group, self.me, body, buf)));
            break;
        }
        match found {
            Some((i, len)) => {
                self.ring.propose_from = i + 1;
                len
            }
            None => {
                self.ring.propose_from = 0;
                self.ring.propose_at = now + self.resubmit_interval();
                None
            }
        }
    }

    /// When the proposer next owes a proposal.
    pub(super) fn next_proposal(&self, now: Instant) -> Option<Instant> {
        if self.ring.members.first() != Some(&self.me) || !self.may_apply() {
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
            } else if let Some((_, t)) = s.quarantine {
                take(t);
            }
        }
        let _ = now;
        at.map(|t| t.max(self.ring.propose_at))
    }

    /// Work of the mode that follows from time: the merge question's answer
    /// (a put of the losing side's value, ordered like any write).
    pub(super) fn ordered_work(&mut self, now: Instant) {
        if !self.cfg.ordering.is_totem() {
            return;
        }
        if self.may_apply() {
            self.committed = self.applied;
        }
        let Some(c) = self.candidate.as_ref() else {
            return;
        };
        let expired = c
            .asked
            .is_some_and(|t| now.saturating_duration_since(t) >= self.cfg.request_timeout);
        let decided = if expired && c.decided.is_none() {
            Some(false)
        } else {
            c.decided
        };
        let Some(take) = decided else {
            return;
        };
        let Some(c) = self.candidate.take() else {
            return;
        };
        if !take {
            return;
        }
        let id = self.fresh_request_id();
        let deadline = now + self.cfg.request_timeout;
        let _ = self.pending.push(Pending {
            value: c.value,
            ttl_us: c.ttl_us,
            flags: c.flags,
            report: false,
            ..Pending::new(id, ReqKind::Put, c.map, c.key, now, deadline)
        });
    }
}

/// `members` ascending, at most `M`.
fn sorted_members<const M: usize>(members: &[MemberId]) -> Vec<MemberId, M> {
    let mut v: Vec<MemberId, M> = Vec::new();
    for m in members.iter().take(M) {
        let _ = v.push(*m);
    }
    v.sort_unstable();
    v
}
