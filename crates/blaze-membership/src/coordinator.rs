//! Views: forming, coordinating, installing, merging.
//!
//! Only a coordinator issues views, and every member installs a view only
//! from a member listed in it, with a higher id than its current one. A view
//! id is a counter in the high 32 bits and the issuer in the low 32 bits, so
//! two coordinators (say, on two sides of a partition) never issue different
//! views under the same id: every member that installs view `v` sees the same
//! members. The coordinator of a view is its first member in the order
//! (weight desc, rank asc, id asc): the heaviest, then the oldest.
//!
//! - **Join**: a joiner announces itself with `Join` frames; the coordinator
//!   admits it in its next view. If no member claims an installed view after
//!   `join_wait`, the best joiner (by weight, then id) forms the first view
//!   with every joiner it has heard.
//! - **Leave / failure**: the coordinator drops left or failed members (the
//!   view lists those that left in `View.left`, so every member reports a
//!   leave or a failure alike); when
//!   the coordinator itself goes, the next member in order (by its own
//!   failure detector) takes over.
//! - **Partition and merge**: each side's coordinator keeps its side's view.
//!   Coordinators announce their view every `announce_interval`; when a
//!   coordinator hears members of another view again, the better of the two
//!   coordinators issues one view holding both sides, flagged `merge`.
//! - **Reliability**: members confirm a view with their heartbeats (which
//!   carry their view id); the coordinator repeats it by unicast to each
//!   member that has not confirmed, every `retransmit_interval`.

use crate::frames::View as WireView;
use crate::group::{Foreign, Phase};
use crate::membership::{Control, Membership, PlainEvent};
use crate::peer::{DUE_HEARTBEAT, DUE_JOIN, DUE_LEAVE, DUE_VIEW, Peer};
use crate::view::{View, make_view_id, sort_members, view_counter};
use crate::{Name, ViewMember};
use blaze_wire::{Instant, MemberId};

impl<
    const M: usize,
    const G: usize,
    const S: usize,
    const B: usize,
    const EVENTS: usize,
    const CONTROL: usize,
    const CONSUMERS: usize,
> Membership<M, G, S, B, EVENTS, CONTROL, CONSUMERS>
{
    pub(crate) fn heartbeat_tick(&mut self) {
        for slot in 0..G {
            let Some(g) = self.group(slot) else { continue };
            match g.phase {
                Phase::Member => self.broadcast(slot, DUE_HEARTBEAT, false),
                Phase::Joining { .. } => self.broadcast(slot, DUE_JOIN, true),
                Phase::Leaving { .. } => {}
            }
        }
    }

    pub(crate) fn announce_tick(&mut self, now: Instant) {
        let ttl = self.config.tombstone_ttl;
        self.peers.retain(|p| {
            p.dead_since
                .is_none_or(|d| now.saturating_duration_since(d) < ttl)
        });
        let stale = self.config.announce_interval * 3;
        let unicast = self.unicast_mode();
        for slot in 0..G {
            let me = self.me.id;
            let Some(g) = self.group_mut(slot) else {
                continue;
            };
            if g.foreign
                .is_some_and(|f| now.saturating_duration_since(f.heard) >= stale)
            {
                g.foreign = None;
            }
            if g.phase != Phase::Member {
                continue;
            }
            let bit = if g.view.coordinator() == Some(me) {
                DUE_VIEW
            } else {
                DUE_HEARTBEAT
            };
            if bit == DUE_VIEW {
                self.broadcast(slot, DUE_VIEW, false);
            }
            if unicast {
                // Seeds and recently failed members: how partitions heal.
                self.queue_for_seeds(slot, bit);
                for p in self.peers.iter_mut().filter(|p| !p.alive()) {
                    if let Some(d) = p.due.get_mut(slot) {
                        *d |= bit;
                    }
                }
            }
        }
    }

    pub(crate) fn retransmit_tick(&mut self, now: Instant) {
        let rto = self.config.retransmit_interval;
        for slot in 0..G {
            let me = self.me.id;
            let Some(g) = self.group_mut(slot) else {
                continue;
            };
            match g.phase {
                Phase::Leaving { tries } => {
                    if tries == 0 {
                        self.finish_leave(slot);
                    } else {
                        g.phase = Phase::Leaving { tries: tries - 1 };
                        self.broadcast(slot, DUE_LEAVE, false);
                    }
                }
                Phase::Member => {
                    if g.view.coordinator() != Some(me) || now < g.installed_at + rto {
                        continue;
                    }
                    let view_id = g.view.id;
                    let Some(g) = self.groups.get(slot).and_then(Option::as_ref) else {
                        continue;
                    };
                    for m in g.view.members.iter() {
                        let id = m.id;
                        if let Some(p) = self.peers.iter_mut().find(|p| p.id == id && p.alive()) {
                            let confirmed = p.claims.get(slot).copied().flatten() == Some(view_id);
                            if !confirmed && let Some(d) = p.due.get_mut(slot) {
                                *d |= DUE_VIEW;
                            }
                        }
                    }
                }
                Phase::Joining { .. } => {}
            }
        }
    }

    /// Runs the view logic of every group after any input.
    pub(crate) fn maintain(&mut self, now: Instant) {
        for slot in 0..G {
            match self.group(slot).map(|g| g.phase) {
                Some(Phase::Joining { deadline }) if now >= deadline => {
                    self.form(now, slot);
                    let retry = now + self.config.heartbeat_interval;
                    if let Some(g) = self.group_mut(slot)
                        && let Phase::Joining { deadline } = &mut g.phase
                    {
                        *deadline = retry;
                    }
                }
                Some(Phase::Member) => self.coordinate(now, slot),
                _ => {}
            }
        }
        self.dispatch_queues(now);
    }

    /// The view `p` claims in the group of `slot` (0: joining). A joiner
    /// heard only through its heartbeats claims nothing until its `Join`
    /// (retransmitted until it is in a view) describes it: a view lists
    /// what the `Join` says of it.
    fn claim(p: &Peer<G>, slot: usize) -> Option<u64> {
        p.claims
            .get(slot)
            .copied()
            .flatten()
            .filter(|&v| v != 0 || p.described)
    }

    #[inline(never)]
    fn entry_of(p: &Peer<G>, rank: u64) -> ViewMember {
        ViewMember {
            id: p.id,
            name: p.name,
            weight: p.weight,
            services: p.services,
            incarnation: p.incarnation,
            address: p.addr,
            rank,
        }
    }

    fn my_entry(&self, rank: u64) -> ViewMember {
        ViewMember {
            id: self.me.id,
            name: self.me.name,
            weight: self.config.weight,
            services: self.me.services,
            incarnation: self.me.incarnation,
            address: None,
            rank,
        }
    }

    /// A joiner with no group to join forms the first view.
    fn form(&mut self, now: Instant, slot: usize) {
        let Some(g) = self.group(slot) else { return };
        let existing = self.peers.iter().any(|p| {
            p.alive() && !g.left.contains(&p.id) && Self::claim(p, slot).is_some_and(|v| v != 0)
        });
        if existing {
            return;
        }
        let me = self.my_entry(0);
        let best = |p: &Peer<G>| (core::cmp::Reverse(p.weight), p.id);
        let joiners = || {
            self.peers.iter().filter(move |p| {
                p.alive() && !g.left.contains(&p.id) && Self::claim(p, slot) == Some(0)
            })
        };
        if joiners().any(|p| best(p) < (core::cmp::Reverse(me.weight), me.id)) {
            return;
        }
        let mut members: heapless::Vec<ViewMember, M> = heapless::Vec::new();
        let _ = members.push(me);
        for (rank, p) in (1..).zip(joiners()) {
            if members.push(Self::entry_of(p, rank)).is_err() {
                break;
            }
        }
        sort_members(&mut members);
        self.issue(now, slot, members, false, &[]);
    }

    /// The coordinator's duty: drop gone members, admit joiners, merge.
    fn coordinate(&mut self, now: Instant, slot: usize) {
        let me = self.me.id;
        let Some(g) = self.group(slot) else { return };
        let present = |m: &ViewMember| {
            m.id == me
                || (!g.left.contains(&m.id)
                    && self
                        .peer(m.id)
                        .is_some_and(|p| p.alive() && p.incarnation == m.incarnation))
        };
        if g.view.members.iter().find(|m| present(m)).map(|m| m.id) != Some(me) {
            return;
        }
        // Fast path: nothing to do.
        let joiner = |p: &Peer<G>| {
            p.alive()
                && !g.left.contains(&p.id)
                && Self::claim(p, slot).is_some()
                && !g.view.contains(p.id)
        };
        if g.view.coordinator() == Some(me)
            && g.view.members.iter().all(&present)
            && !self.peers.iter().any(joiner)
        {
            return;
        }
        let mut members: heapless::Vec<ViewMember, M> = g
            .view
            .members
            .iter()
            .filter(|m| present(m))
            .copied()
            .collect();
        let my_key = members.first().map(ViewMember::key);
        let mut merged_from: heapless::Vec<u64, 4> = heapless::Vec::new();
        let mut counter = g.counter;
        let mut next_rank = g.view.max_rank() + 1;
        let mut joiners: heapless::Vec<ViewMember, M> = heapless::Vec::new();
        for p in self
            .peers
            .iter()
            .filter(|p| p.alive() && !g.left.contains(&p.id))
        {
            let Some(claim) = Self::claim(p, slot) else {
                continue;
            };
            if g.view.contains(p.id) {
                continue;
            }
            if claim != 0 && claim != g.view.id {
                // A member of another view: merge, unless that view's
                // coordinator outranks us (it will merge us instead).
                if let Some(f) = g.foreign {
                    let theirs_better = Some(f.coordinator.key()) < my_key;
                    if f.view_id == claim && theirs_better && self.is_alive(f.coordinator.id) {
                        continue;
                    }
                }
                counter = counter.max(view_counter(claim));
                if !merged_from.contains(&claim) {
                    let _ = merged_from.push(claim);
                }
            }
            let _ = joiners.push(Self::entry_of(p, 0));
        }
        if joiners.is_empty() && g.view.same_members(&members) {
            return;
        }
        crate::insertion_sort::sort_by_key(&mut joiners, |m| (core::cmp::Reverse(m.weight), m.id));
        for j in joiners {
            let mut j = j;
            j.rank = next_rank;
            next_rank += 1;
            if members.push(j).is_err() {
                break;
            }
        }
        sort_members(&mut members);
        let merge = !merged_from.is_empty();
        if merge && !merged_from.contains(&g.view.id) {
            let _ = merged_from.insert(0, g.view.id);
        }
        if let Some(g) = self.group_mut(slot) {
            g.counter = counter;
        }
        self.issue(now, slot, members, merge, &merged_from);
    }

    fn issue(
        &mut self,
        now: Instant,
        slot: usize,
        members: heapless::Vec<ViewMember, M>,
        merge: bool,
        merged_from: &[u64],
    ) {
        let (me, inc) = (self.me.id, self.me.incarnation);
        let Some(g) = self.group_mut(slot) else {
            return;
        };
        let id = make_view_id(g.counter + 1, me, inc);
        g.merged_from.clear();
        for v in merged_from {
            let _ = g.merged_from.push(*v);
        }
        debug!("issuing view {:x} with {} members", id, members.len());
        self.install(now, slot, View { id, members, merge }, me);
        self.broadcast(slot, DUE_VIEW, false);
    }

    pub(crate) fn on_view(
        &mut self,
        now: Instant,
        sender: MemberId,
        group: blaze_wire::GroupId,
        v: &WireView<'_>,
    ) {
        let me = self.me.id;
        let join_wait = self.config.join_wait;
        let Some(slot) = self.group_slot(group) else {
            self.stats.other_group += 1;
            return;
        };
        let Some(g) = self.group_mut(slot) else {
            return;
        };
        g.counter = g.counter.max(view_counter(v.view_id));
        let includes_me = v.members().any(|m| m.id == me);
        if !includes_me {
            let from_my_view = g.view.contains(sender);
            if from_my_view && v.view_id > g.view.id {
                match g.phase {
                    // The leave is repeated to the end, so that members that
                    // missed it still see a leave rather than a failure.
                    Phase::Leaving { .. } => {}
                    Phase::Member => {
                        // Excluded (falsely suspected): join again.
                        debug!("excluded from view {:x}; rejoining", v.view_id);
                        let old = core::mem::take(&mut g.view);
                        g.phase = Phase::Joining {
                            deadline: now + join_wait,
                        };
                        self.broadcast(slot, DUE_JOIN, true);
                        // The members that excluded us reset their channels
                        // to us: start new lives on our side too.
                        for m in old
                            .members
                            .iter()
                            .filter(|m| v.members().any(|n| n.id == m.id))
                        {
                            self.reset_channel(now, m.id);
                        }
                    }
                    Phase::Joining { .. } => {}
                }
                return;
            }
            if let Some(first) = v.members().next().filter(|f| f.id == sender) {
                // The other coordinator's own entry says what it runs (a
                // `Join` forwarded for it carries that).
                let services = first.services;
                g.foreign = Some(Foreign {
                    view_id: v.view_id,
                    coordinator: ViewMember {
                        id: first.id,
                        name: Name::new(first.name).unwrap_or_default(),
                        weight: first.weight,
                        services: first.services,
                        incarnation: first.incarnation,
                        address: first.address,
                        rank: first.rank,
                    },
                    heard: now,
                });
                if let Some(p) = self.peer_mut(sender) {
                    p.services = services;
                }
            }
            return;
        }
        if v.view_id <= g.view.id || matches!(g.phase, Phase::Leaving { .. }) {
            if v.view_id < g.view.id {
                self.stats.views_refused += 1;
                self.introduce_foreign_coordinator(slot, sender);
            }
            return;
        }
        if !v.members().any(|m| m.id == sender) || v.member_count() > M {
            self.stats.views_refused += 1;
            return;
        }
        // Members the view says left gracefully (the others it dropped
        // failed), whether or not their own `Leave` reached this member.
        for id in v.left() {
            g.mark_left(id);
        }
        let mut members: heapless::Vec<ViewMember, M> = heapless::Vec::new();
        for m in v.members() {
            let entry = ViewMember {
                id: m.id,
                name: Name::new(m.name).unwrap_or_default(),
                weight: m.weight,
                services: m.services,
                incarnation: m.incarnation,
                address: m.address,
                rank: m.rank,
            };
            let _ = members.push(entry);
        }
        g.merged_from.clear();
        for id in v.merged_from().take(4) {
            let _ = g.merged_from.push(id);
        }
        self.install(
            now,
            slot,
            View {
                id: v.view_id,
                members,
                merge: v.merge,
            },
            sender,
        );
        // Metadata of members whose `Join` this member never saw.
        for m in v.members() {
            if let Some(p) = self.peer_mut(m.id)
                && p.incarnation == m.incarnation
                && let Some(md) = m.metadata
            {
                p.metadata = md;
            }
        }
    }

    /// A coordinator of an older view still lists this member, which has
    /// moved on to a newer view. Without multicast, that coordinator and
    /// ours may know nothing of each other, and the other one would keep
    /// this member in its view for ever: pass it on to our coordinator as a
    /// joiner, which admits it (and so its side learns our view).
    fn introduce_foreign_coordinator(&mut self, slot: usize, sender: MemberId) {
        let me = self.me.id;
        let Some(g) = self.group(slot) else { return };
        let coordinator = g.view.coordinator();
        if !self.unicast_mode()
            || g.phase != Phase::Member
            || coordinator == Some(me)
            || g.view.contains(sender)
        {
            return;
        }
        if let Some(to) = coordinator.and_then(|c| self.peer(c)).and_then(|p| p.addr) {
            self.stats.coordinators_introduced += 1;
            self.push_control(Control::ForwardJoin {
                to,
                slot_group: slot,
                joiner: sender,
            });
        }
    }

    /// Installs `view` and reports the differences as events.
    fn install(&mut self, now: Instant, slot: usize, mut view: View<M>, issuer: MemberId) {
        let me = self.me.id;
        // A merge that brings back members of our previous view which were
        // in another view meanwhile: they declared us failed and reset
        // their channels to us (we may not have seen that view).
        let mut stale: heapless::Vec<MemberId, M> = heapless::Vec::new();
        if view.merge
            && let Some(g) = self.group(slot)
        {
            for m in view
                .members
                .iter()
                .filter(|m| m.id != me && g.view.contains(m.id))
            {
                let claim = self
                    .peer(m.id)
                    .and_then(|p| p.claims.get(slot).copied().flatten());
                if claim.is_some_and(|c| c != g.view.id && c != view.id && c != 0) {
                    let _ = stale.push(m.id);
                }
            }
        }
        for id in stale {
            self.reset_channel(now, id);
        }
        // Learn the members we did not know, refresh what we know.
        for m in view.members.iter_mut() {
            if m.id == me {
                m.address = None;
                continue;
            }
            match self.peers.iter_mut().find(|p| p.id == m.id) {
                Some(p) => {
                    if p.alive() && (!p.incarnation_known || p.incarnation == m.incarnation) {
                        p.name = m.name;
                        p.weight = m.weight;
                        p.services = m.services;
                        p.described = true;
                        p.incarnation = m.incarnation;
                        p.incarnation_known = true;
                        if p.addr.is_none() {
                            p.addr = m.address;
                        }
                    }
                    if m.address.is_none() {
                        m.address = p.addr;
                    }
                }
                None => {
                    let epoch = self.new_epoch();
                    let mut p = Peer::new(m.id, now, epoch);
                    p.addr = m.address;
                    p.name = m.name;
                    p.weight = m.weight;
                    p.services = m.services;
                    p.described = true;
                    p.incarnation = m.incarnation;
                    p.incarnation_known = true;
                    if self.peers.push(p).is_err() {
                        self.stats.table_full += 1;
                    }
                }
            }
        }
        if let Some(c) = self.peer_mut(issuer).and_then(|p| p.claims.get_mut(slot)) {
            *c = Some(view.id);
        }
        let Some(g) = self.group_mut(slot) else {
            return;
        };
        let group = g.id;
        let old = core::mem::replace(&mut g.view, view);
        let installed = &g.view;
        // A member admitted again is no longer "left".
        let old_members = &old;
        g.left
            .retain(|m| !installed.contains(*m) || old_members.contains(*m));
        g.counter = g.counter.max(view_counter(g.view.id));
        g.installed_at = now;
        g.phase = Phase::Member;
        g.foreign = None;
        let new_view = g.view.clone();
        // The members of the old view that left (listed in `View.left`).
        let view_left = old
            .members
            .iter()
            .filter(|o| g.left.contains(&o.id) && !new_view.contains(o.id))
            .map(|o| o.id)
            .collect();
        g.view_left = view_left;
        self.stats.views_installed += 1;
        self.push_event(PlainEvent::ViewInstalled {
            group,
            view_id: new_view.id,
            members: new_view.members.len(),
            merge: new_view.merge,
        });
        if new_view.merge {
            self.push_event(PlainEvent::Merged {
                group,
                view_id: new_view.id,
            });
        }
        for m in new_view.members.iter() {
            if !old
                .members
                .iter()
                .any(|o| o.id == m.id && o.incarnation == m.incarnation)
            {
                self.push_event(PlainEvent::MemberJoined {
                    group,
                    member: m.id,
                });
            }
        }
        for o in old.members.iter() {
            if !new_view
                .members
                .iter()
                .any(|m| m.id == o.id && o.incarnation == m.incarnation)
            {
                let member = o.id;
                if self.group(slot).is_some_and(|g| g.left.contains(&member)) {
                    self.push_event(PlainEvent::MemberLeft { group, member });
                } else {
                    self.push_event(PlainEvent::MemberFailed { group, member });
                }
                self.consumer_gone(slot, member);
            }
        }
        let (prev, now_coord) = (old.coordinator(), new_view.coordinator());
        if prev != now_coord
            && let Some(coordinator) = now_coord
        {
            self.push_event(PlainEvent::CoordinatorChanged {
                group,
                coordinator,
                previous: prev,
            });
        }
        self.after_install(now, slot, prev);
        // Confirm at once (the heartbeat carries the view id).
        self.broadcast(slot, DUE_HEARTBEAT, false);
    }
}
