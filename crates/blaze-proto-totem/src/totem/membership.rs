//! Membership: the gather state (joins, consensus, failure marking), the
//! commit token's two rotations, recovery bookkeeping, and installing a
//! ring with its extended-virtual-synchrony delivery plan.

use blaze_wire::{Instant, Join, MemberId, MemberRingState, RingId, View};

use super::{RTR, RingPos, State, Step, Timer, Totem};
use crate::ConfigurationKind;
use crate::frames::{CommitOut, TokenOut};

/// Ring sequence numbers grow by this much per new ring.
const RING_SEQ_STEP: u64 = 4;

/// Collects member ids into a sorted, deduplicated set; `None` if more
/// than `N` or if an id is nil.
fn collect_set<const N: usize>(
    ids: impl Iterator<Item = MemberId>,
) -> Option<heapless::Vec<MemberId, N>> {
    let mut v: heapless::Vec<MemberId, N> = heapless::Vec::new();
    for id in ids {
        if id.is_nil() {
            return None;
        }
        if !v.contains(&id) {
            v.push(id).ok()?;
        }
    }
    v.sort_unstable();
    Some(v)
}

impl<const N: usize, const W: usize, const P: usize, const Q: usize> Totem<'_, N, W, P, Q> {
    /// Leaves the ring (or a forming one) and starts gathering.
    pub(super) fn enter_gather(&mut self, now: Instant) {
        if self.state == State::Recovery {
            // The new ring never got installed: back to the old one.
            if self.recovery.had_ring {
                // Keep what recovery brought in: they are messages of the
                // old ring, stored at its positions.
                self.pos = self.recovery.old;
                self.pos.high_seq = self.pos.high_seq.max(self.recovery.top);
                self.tag = self.recovery.old_tag;
                self.members.clone_from(&self.old_members);
                self.state = State::Gather;
                self.advance_aru();
            } else {
                self.installed = false;
                self.pos = RingPos::NONE;
                self.members.clear();
            }
        }
        debug!(
            "{} {:x} gather from {:?}",
            now,
            self.me.as_u128() & 0xffff,
            self.state
        );
        // A fresh round starts from the ring; a failed formation keeps
        // what it learned (who is out there, who failed) until a ring is
        // installed, so that formation converges.
        if self.state == State::Operational {
            self.proc_set.clear();
            self.fail_set.clear();
        }
        self.state = State::Gather;
        if !self.proc_set.contains(&self.me) {
            let _ = self.proc_set.push(self.me);
        }
        if self.installed {
            for m in self.members.iter() {
                if !self.proc_set.contains(m) {
                    let _ = self.proc_set.push(*m);
                }
            }
        }
        self.proc_set.sort_unstable();
        self.consensus.clear();
        let _ = self.consensus.push(self.me);
        self.heard.clear();
        let _ = self.heard.push(self.me);
        self.gather_since = now;
        self.join_pending = true;
        self.token_out = None;
        self.token_fwd = None;
        self.token_held = None;
        self.token_in = None;
        self.outq.clear();
        self.commit = None;
        self.commit_out = false;
        self.commit_fwd = None;
        self.timers.stop(Timer::TokenLoss);
        self.timers.stop(Timer::TokenRetransmit);
        self.timers.stop(Timer::TokenHold);
        self.timers
            .set(Timer::Join, now + self.config.join_interval);
        self.timers
            .set(Timer::Consensus, now + self.config.consensus_timeout);
    }

    pub(super) fn on_join(&mut self, now: Instant, from: MemberId, j: &Join<'_>) {
        let (Some(jp), Some(jf)) = (
            collect_set::<N>(j.proc_set.iter()),
            collect_set::<N>(j.fail_set.iter()),
        ) else {
            self.stats.oversized += 1;
            return;
        };
        self.max_ring_seq = self.max_ring_seq.max(j.ring_seq);
        if self.fail_set.contains(&from) && self.state != State::Operational {
            // Declared failed in this round; it can merge once a ring is
            // installed. It is alive, though: keep it failed.
            if !self.heard.contains(&from) {
                let _ = self.heard.push(from);
            }
            self.stats.duplicates += 1;
            return;
        }
        // A join of a member of the ring being formed (or installed) that
        // proposes exactly that ring, or that predates it, changes nothing.
        let ring = match self.state {
            State::Operational | State::Recovery => Some((self.members.clone(), self.pos.ring.seq)),
            State::Commit => self
                .commit
                .as_ref()
                .map(|c| (c.members.clone(), c.ring.seq)),
            State::Gather => None,
        };
        if let Some((members, seq)) = ring {
            let proposes: heapless::Vec<MemberId, N> =
                jp.iter().filter(|m| !jf.contains(m)).copied().collect();
            if members.contains(&from) && (j.ring_seq < seq || proposes == members) {
                self.stats.duplicates += 1;
                return;
            }
            debug!(
                "{} {:x} join from {:x} (ring seq {}, proposes {}) interrupts {:?}",
                now,
                self.me.as_u128() & 0xffff,
                from.as_u128() & 0xffff,
                j.ring_seq,
                proposes.len(),
                self.state
            );
            self.enter_gather(now);
        }
        if !self.heard.contains(&from) {
            let _ = self.heard.push(from);
        }
        let mut changed = false;
        if jf.contains(&self.me) {
            changed |= self.fail_set.push(from).is_ok();
        } else {
            for m in jp.iter().chain(core::iter::once(&from)) {
                if !self.proc_set.contains(m) && self.add_proc(*m) {
                    changed = true;
                }
            }
            for m in jf.iter() {
                if *m != self.me && !self.fail_set.contains(m) && self.fail_set.push(*m).is_ok() {
                    changed = true;
                }
            }
        }
        self.proc_set.sort_unstable();
        self.fail_set.sort_unstable();
        if changed {
            self.consensus.clear();
            let _ = self.consensus.push(self.me);
            self.join_pending = true;
        }
        if jp == self.proc_set && jf == self.fail_set && !self.consensus.contains(&from) {
            let _ = self.consensus.push(from);
        }
        self.check_consensus(now);
    }

    /// Adds a member to the process set; when it is full, a failed member
    /// (preferably one not heard from lately) makes room.
    fn add_proc(&mut self, m: MemberId) -> bool {
        if self.proc_set.is_full() {
            let victim = self
                .proc_set
                .iter()
                .position(|p| self.fail_set.contains(p) && !self.heard.contains(p))
                .or_else(|| self.proc_set.iter().position(|p| self.fail_set.contains(p)));
            let Some(i) = victim else { return false };
            let gone = self.proc_set.swap_remove(i);
            self.fail_set.retain(|f| *f != gone);
        }
        self.proc_set.push(m).is_ok()
    }

    /// The members of `proc_set` not in `fail_set`.
    fn live(&self) -> heapless::Vec<MemberId, N> {
        self.proc_set
            .iter()
            .filter(|m| !self.fail_set.contains(m))
            .copied()
            .collect()
    }

    fn agreed(&self) -> bool {
        self.live().iter().all(|m| self.consensus.contains(m))
    }

    /// With consensus, the representative sends the commit token.
    pub(super) fn check_consensus(&mut self, now: Instant) {
        if self.state != State::Gather
            || now < self.gather_since + self.config.join_interval
            || !self.agreed()
        {
            return;
        }
        let live = self.live();
        if live.first() != Some(&self.me) {
            return;
        }
        let seq = self.max_ring_seq.max(self.pos.ring.seq) + RING_SEQ_STEP;
        self.max_ring_seq = seq;
        let c = CommitOut {
            ring: RingId {
                rep: Some(self.me),
                seq,
            },
            hop: 0,
            members: live,
            states: heapless::Vec::new(),
        };
        debug!(
            "{} {:x} commits ring {} of {}",
            now,
            self.me.as_u128() & 0xffff,
            seq,
            self.live().len()
        );
        self.commit_first_pass(now, c);
    }

    pub(super) fn consensus_timeout(&mut self, now: Instant) {
        if self.state != State::Gather {
            return;
        }
        debug!(
            "{} {:x} consensus timeout: proc {} fail {} agreed {} heard {}",
            now,
            self.me.as_u128() & 0xffff,
            self.proc_set.len(),
            self.fail_set.len(),
            self.consensus.len(),
            self.heard.len()
        );
        if self.agreed() {
            // Agreed, but no commit token came: ask again; a dead
            // representative will then fail to agree.
            self.consensus.clear();
            let _ = self.consensus.push(self.me);
        } else {
            // Fail the members that stayed silent; those that answer but do
            // not agree yet are alive and get another round.
            for m in self.live() {
                if !self.consensus.contains(&m) && !self.heard.contains(&m) {
                    let _ = self.fail_set.push(m);
                }
            }
            self.fail_set.sort_unstable();
            self.consensus.clear();
            let _ = self.consensus.push(self.me);
        }
        self.heard.clear();
        let _ = self.heard.push(self.me);
        self.join_pending = true;
        self.timers
            .set(Timer::Consensus, now + self.config.consensus_timeout);
        self.check_consensus(now);
    }

    fn my_ring_state(&self) -> MemberRingState {
        MemberRingState {
            id: Some(self.me),
            old_ring: self.installed.then_some(self.pos.ring),
            aru: self.pos.my_aru,
            high_delivered: self.pos.delivered,
            received_flag: self.pos.my_aru == self.pos.high_seq,
        }
    }

    fn commit_first_pass(&mut self, now: Instant, mut c: CommitOut<N>) {
        if c.states.push(self.my_ring_state()).is_err() {
            return;
        }
        c.hop += 1;
        self.state = State::Commit;
        self.max_ring_seq = self.max_ring_seq.max(c.ring.seq);
        self.timers.stop(Timer::Join);
        self.timers.stop(Timer::Consensus);
        self.timers
            .set(Timer::TokenLoss, now + self.config.token_timeout);
        let n = c.members.len() as u64;
        let target = c
            .members
            .get(usize::try_from(c.hop % n.max(1)).unwrap_or(0))
            .copied();
        if target == Some(self.me) {
            self.commit_second_pass(now, c);
        } else {
            self.commit = Some(c);
            self.commit_out = true;
        }
    }

    fn commit_second_pass(&mut self, now: Instant, mut c: CommitOut<N>) {
        self.enter_recovery(now, &c);
        c.hop += 1;
        let n = c.members.len() as u64;
        let to_rep = c.hop >= 2 * n;
        let rep_is_me = c.members.first() == Some(&self.me);
        self.commit = Some(c);
        if to_rep && rep_is_me {
            self.start_token(now);
        } else {
            self.commit_out = true;
        }
    }

    pub(super) fn on_commit(&mut self, now: Instant, v: &View<'_>) {
        let Some(ring) = v.ring else { return };
        let Some(members) = collect_set::<N>(v.members.iter().map(|m| m.id.unwrap_or_default()))
        else {
            self.stats.oversized += 1;
            return;
        };
        let n = members.len() as u64;
        if n == 0 || !members.contains(&self.me) || ring.rep != members.first().copied() {
            self.stats.wrong_ring += 1;
            return;
        }
        let hop = v.commit_hop;
        let idx = usize::try_from(hop % n).unwrap_or(0);
        if members.get(idx) != Some(&self.me) {
            self.stats.wrong_ring += 1;
            return;
        }
        let Some(states) = collect_states::<N>(v) else {
            self.stats.oversized += 1;
            return;
        };
        let c = CommitOut {
            ring,
            hop,
            members,
            states,
        };
        if hop < n {
            let fits = self.state == State::Gather
                && self.live() == c.members
                && ring.seq > self.pos.ring.seq
                && c.states.len() as u64 == hop;
            if fits {
                self.commit_first_pass(now, c);
            } else {
                self.stats.duplicates += 1;
            }
        } else if hop < 2 * n {
            let ours = self.state == State::Commit
                && self.commit.as_ref().is_some_and(|mine| mine.ring == ring)
                && c.states.len() as u64 == n;
            if ours {
                self.commit_second_pass(now, c);
            } else {
                self.stats.duplicates += 1;
            }
        } else if hop == 2 * n
            && self.state == State::Recovery
            && self.pos.ring == ring
            && self.last_token_seq == 0
            && self.token_held.is_none()
        {
            self.start_token(now);
        } else {
            self.stats.duplicates += 1;
        }
    }

    fn start_token(&mut self, now: Instant) {
        let t = TokenOut::<RTR> {
            ring: self.pos.ring,
            token_seq: 1,
            seq: 0,
            aru: 0,
            aru_id: None,
            rtr: heapless::Vec::new(),
            fcc: 0,
            backlog: 0,
            next: self.me,
        };
        self.last_token_seq = 0;
        self.process_token(now, t);
    }

    fn enter_recovery(&mut self, now: Instant, c: &CommitOut<N>) {
        let had_ring = self.installed;
        let old = self.pos;
        let mut low = old.my_aru;
        let mut cutoff = old.delivered;
        self.trans_members.clear();
        if had_ring {
            for s in c.states.iter() {
                if s.old_ring == Some(old.ring)
                    && let Some(id) = s.id
                {
                    low = low.min(s.aru);
                    cutoff = cutoff.max(s.high_delivered);
                    let _ = self.trans_members.push(id);
                }
            }
            if !self.trans_members.contains(&self.me) {
                let _ = self.trans_members.push(self.me);
            }
            self.trans_members.sort_unstable();
        }
        let mut pending = 0u32;
        if had_ring {
            let mut s = low + 1;
            while s <= old.high_seq {
                if let Some(slot) = self.window.get_mut(old.offset + s) {
                    slot.recovered = false;
                    pending += 1;
                }
                s += 1;
            }
        }
        self.recovery.had_ring = had_ring;
        self.recovery.old = old;
        self.recovery.old_tag = self.tag;
        self.recovery.low = low;
        self.recovery.cutoff = cutoff;
        self.recovery.top = old.high_seq;
        self.recovery.clean_visits = 0;
        self.recovery.clean_seq = 0;
        if had_ring {
            self.old_members.clone_from(&self.members);
        }
        self.members.clone_from(&c.members);
        self.pos = RingPos {
            ring: c.ring,
            offset: 0,
            my_aru: 0,
            high_seq: 0,
            delivered: 0,
            safe_upto: 0,
        };
        self.tag = c.ring;
        self.last_token_seq = 0;
        self.last_aru_fwd = 0;
        self.my_last_sent = 0;
        self.my_last_backlog = 0;
        self.quiet_visits = 0;
        self.rlog = [(0, 0); W];
        self.outq.clear();
        self.state = State::Recovery;
        self.max_ring_seq = self.max_ring_seq.max(c.ring.seq);
        self.timers.stop(Timer::Join);
        self.timers.stop(Timer::Consensus);
        self.timers
            .set(Timer::TokenLoss, now + self.config.token_timeout);
        debug!(
            "{} {:x} recovery onto ring {} (low {}, cutoff {}, pending {})",
            now,
            self.me.as_u128() & 0xffff,
            c.ring.seq,
            low,
            cutoff,
            pending
        );
    }

    /// Every member holds every recovered message: deliver the old ring's
    /// messages (EVS plan) and go operational on the new ring, whose
    /// messages start after `top`.
    pub(super) fn install(&mut self, now: Instant, top: u64) {
        self.stats.rings += 1;
        let ring = self.pos.ring;
        self.plan_ring = ring;
        let offset = if self.recovery.had_ring {
            let old = self.recovery.old;
            let old_top = self.recovery.top.max(old.high_seq).max(old.delivered);
            let cutoff = self.recovery.cutoff.max(old.delivered).min(old_top);
            let _ = self.plan.push_back(Step::Deliver {
                from: old.offset + old.delivered + 1,
                to: old.offset + cutoff,
            });
            let _ = self
                .plan
                .push_back(Step::Config(ConfigurationKind::Transitional));
            let _ = self.plan.push_back(Step::Deliver {
                from: old.offset + cutoff + 1,
                to: old.offset + old_top,
            });
            old.offset + old_top
        } else {
            self.window.base()
        };
        let _ = self
            .plan
            .push_back(Step::Config(ConfigurationKind::Regular));
        self.pos = RingPos {
            ring,
            offset,
            my_aru: top,
            high_seq: top,
            delivered: top,
            safe_upto: top,
        };
        self.last_aru_fwd = top;
        self.installed = true;
        self.state = State::Operational;
        if self.members.first() == Some(&self.me) {
            self.timers
                .set(Timer::Merge, now + self.config.merge_interval);
        }
        self.quiet_visits = 1;
        debug!(
            "{} {:x} installed ring {} at {}",
            now,
            self.me.as_u128() & 0xffff,
            ring.seq,
            top
        );
    }
}

fn collect_states<const N: usize>(v: &View<'_>) -> Option<heapless::Vec<MemberRingState, N>> {
    let mut out = heapless::Vec::new();
    for s in v.ring_states.iter() {
        out.push(s).ok()?;
    }
    Some(out)
}
