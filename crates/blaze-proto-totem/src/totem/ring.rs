//! The token holder: retransmission requests, broadcasting within flow
//! control, aru and safe delivery bookkeeping, passing the token on, and
//! token retransmission.

use blaze_wire::{Instant, SeqRange};

use super::{OutMsg, RTR, State, Timer, Totem, add_range};
use crate::frames::TokenOut;

impl<const N: usize, const W: usize, const P: usize, const Q: usize> Totem<'_, N, W, P, Q> {
    /// This member holds the token `t` (already checked to be ours).
    pub(super) fn process_token(&mut self, now: Instant, mut t: TokenOut<RTR>) {
        self.stats.tokens += 1;
        self.last_token_seq = t.token_seq;
        self.token_fwd = None;
        self.commit = None;
        self.commit_fwd = None;
        self.commit_out = false;
        self.timers.stop(Timer::TokenRetransmit);
        self.timers
            .set(Timer::TokenLoss, now + self.config.token_timeout);
        let recovering = self.state == State::Recovery;

        // 1. Serve the retransmission requests we can.
        let mut budget = self.config.max_messages;
        let mut rtr: heapless::Vec<SeqRange, RTR> = heapless::Vec::new();
        let mut served = 0u32;
        for r in t.rtr.iter() {
            // Bound the work on hostile ranges to the window.
            let start = r.start.max(t.aru.saturating_add(1)).max(1);
            let end = r.end.min(t.seq).min(start.saturating_add(W as u64));
            let mut s = start;
            while s <= end {
                if budget > 0 && self.outq.len() < W && self.has(s) {
                    let m = if recovering {
                        let old = self.rlog_get(s).unwrap_or(0);
                        OutMsg::Recovered {
                            new_seq: s,
                            old_abs: self.recovery.old.offset + old,
                        }
                    } else {
                        OutMsg::Regular {
                            abs: self.pos.offset + s,
                            repair: true,
                        }
                    };
                    // A recovered message of another ring's group is not
                    // ours to re-send.
                    let ok = match m {
                        OutMsg::Recovered { old_abs, .. } => self.window.has(old_abs),
                        OutMsg::Regular { .. } => true,
                    };
                    if ok && self.outq.push_back(m).is_ok() {
                        budget -= 1;
                        served += 1;
                        s += 1;
                        continue;
                    }
                }
                if !add_range(&mut rtr, s) {
                    break;
                }
                s += 1;
            }
        }
        self.stats.retransmits += u64::from(served);

        // 2. Ask for what we miss.
        let top = t.seq.min(self.pos.my_aru.saturating_add(W as u64));
        let mut s = self.pos.my_aru + 1;
        while s <= top {
            if !self.has(s) && !add_range(&mut rtr, s) {
                break;
            }
            s += 1;
        }
        t.rtr = rtr;

        // 3. Broadcast new messages within flow control.
        let others = t.fcc.saturating_sub(self.my_last_sent);
        let mut allowed = budget
            .min(self.config.window.saturating_sub(others))
            .min(self.config.max_messages.saturating_sub(served));
        let safe_known = t.aru.min(self.last_aru_fwd);
        let room = (safe_known + W as u64).saturating_sub(t.seq);
        allowed = allowed.min(u32::try_from(room).unwrap_or(u32::MAX));
        if !recovering {
            allowed = allowed.min(self.fair_share(&t));
        }
        if self.quiet_visits > 0 {
            self.quiet_visits -= 1;
            allowed = 0;
        }
        // What this member had to send at this visit (its backlog on the
        // token: the demand the others' shares are weighed against).
        let demand = u32::try_from(self.window.queued()).unwrap_or(u32::MAX);
        // A large message (in a pool slot) goes out only within half of
        // the pool after the safe point, so that every member's
        // pool holds the large messages not yet safe (and freed) everywhere,
        // through a recovery too.
        let large_top = safe_known.saturating_add(self.window.pool() as u64 / 2);
        let sent = if recovering {
            self.broadcast_recovered(&mut t, allowed)
        } else {
            self.broadcast_new(&mut t, allowed, large_top)
        };
        self.stats.broadcasts += u64::from(sent);
        self.my_last_sent = sent + served;
        t.fcc = others.saturating_add(sent + served);
        let mine = if recovering {
            self.count_unrecovered()
        } else {
            demand
        };
        t.backlog = t
            .backlog
            .saturating_sub(self.my_last_backlog)
            .saturating_add(mine);
        self.my_last_backlog = mine;

        // 4. The all-received-up-to rule.
        self.advance_aru();
        if self.pos.my_aru < t.aru || t.aru_id == Some(self.me) || t.aru_id.is_none() {
            t.aru = self.pos.my_aru.min(t.seq);
            t.aru_id = if t.aru == t.seq { None } else { Some(self.me) };
        }

        // 5. Safe: what the token showed on two successive visits.
        // Everything sent so far was already safe here before this visit:
        // only then may an idle holder keep the token (otherwise the ring
        // turns at once until every member has seen the aru reach the top
        // twice, so safe messages are not delayed by holds).
        let was_safe = self.pos.safe_upto >= t.seq;
        let safe = t.aru.min(self.last_aru_fwd);
        self.pos.safe_upto = self.pos.safe_upto.max(safe);
        self.last_aru_fwd = t.aru;

        // 6. Recovery ends after two clean visits.
        let mut install = false;
        if recovering {
            // Clean twice with nothing sent in between: every member
            // visited in between and none lowered the aru, so all hold all.
            if t.aru == t.seq && t.backlog == 0 && mine == 0 {
                self.recovery.clean_visits = if t.seq == self.recovery.clean_seq {
                    self.recovery.clean_visits.saturating_add(1)
                } else {
                    1
                };
                self.recovery.clean_seq = t.seq;
            } else {
                self.recovery.clean_visits = 0;
            }
            install = self.recovery.clean_visits >= 2;
            trace!(
                "{} {:x} recovery token aru {} seq {} backlog {} mine {} clean {} rtr {}",
                now,
                self.me.as_u128() & 0xffff,
                t.aru,
                t.seq,
                t.backlog,
                mine,
                self.recovery.clean_visits,
                t.rtr.len()
            );
        }

        // 7. Pass it on.
        t.token_seq = t.token_seq.wrapping_add(1);
        t.next = Self::successor(&self.members, self.me);
        if install {
            self.install(now, t.seq);
            self.my_last_backlog = 0;
        }
        let quiet = sent == 0
            && served == 0
            && t.rtr.is_empty()
            && t.aru == t.seq
            && t.backlog == 0
            && was_safe;
        if !quiet {
            self.busy_until = now + self.config.token_linger;
        }
        // A busy ring keeps turning: a quiet visit holds the token only
        // once nothing happened here for `token_linger`, and never when a
        // member asked for the token.
        let idle = quiet && !self.wanted && now >= self.busy_until;
        self.wanted = false;
        self.requested = false;
        self.left_quiet = quiet;
        let progress = sent > 0 || served > 0;
        if idle || t.next == self.me {
            // Alone on the ring, the token comes straight back: without
            // progress it waits like an idle one.
            let hold = if idle || !progress {
                self.config.token_hold
            } else {
                blaze_wire::Duration::ZERO
            };
            self.token_held = Some(t);
            self.timers.set(Timer::TokenHold, now + hold);
        } else {
            self.token_out = Some(t);
        }
    }

    /// This member's share of a rotation's messages when others have a
    /// backlog too: the rotation carries at most the window (the storage's
    /// `W` messages lie between the safe point and the top), split in
    /// proportion to the queues the token reports. Without it the first
    /// members after the safe point fill the window each rotation and a
    /// member further on never gets to send.
    fn fair_share(&self, t: &TokenOut<RTR>) -> u32 {
        let queued = u32::try_from(self.window.queued()).unwrap_or(u32::MAX);
        let total = t
            .backlog
            .saturating_sub(self.my_last_backlog)
            .saturating_add(queued);
        if queued == 0 || total <= queued {
            return u32::MAX;
        }
        let mut rotation = (W as u64).min(u64::from(self.config.window));
        if self.window.front().is_some_and(|(_, large)| large) {
            // Large messages share the half of the pool that may be in
            // flight (see `broadcast_new`).
            rotation = rotation.min((self.window.pool() as u64 / 2).max(1));
        }
        let share = (rotation * u64::from(queued)).div_ceil(u64::from(total));
        u32::try_from(share).unwrap_or(u32::MAX)
    }

    /// Old-ring messages held here that nobody has re-sent yet.
    fn count_unrecovered(&self) -> u32 {
        if !self.recovery.had_ring {
            return 0;
        }
        let old = self.recovery.old;
        let top = old.high_seq.max(self.recovery.top);
        let mut n = 0u32;
        let mut s = self.recovery.low + 1;
        while s <= top && s <= self.recovery.low + W as u64 {
            if self
                .window
                .get(old.offset + s)
                .is_some_and(|slot| !slot.recovered)
            {
                n += 1;
            }
            s += 1;
        }
        n
    }

    /// Takes queued application messages onto the ring.
    /// A large message goes only up to sequence number `large_top`, and
    /// the visit's messages (after the first) within `max_bytes`.
    fn broadcast_new(&mut self, t: &mut TokenOut<RTR>, allowed: u32, large_top: u64) -> u32 {
        let mut sent = 0;
        let mut bytes = 0usize;
        let max_bytes = usize::try_from(self.config.max_bytes).unwrap_or(usize::MAX);
        while sent < allowed && self.outq.len() < W {
            let seq = t.seq + 1;
            let Some((len, large)) = self.window.front() else {
                break;
            };
            if (seq > large_top && large) || (sent > 0 && bytes + len > max_bytes) {
                break;
            }
            bytes += len;
            let abs = self.pos.offset + seq;
            if self.window.take_queued(abs, seq, self.me).is_none() {
                break;
            }
            let _ = self.outq.push_back(OutMsg::Regular { abs, repair: false });
            t.seq = seq;
            self.pos.high_seq = self.pos.high_seq.max(seq);
            sent += 1;
        }
        sent
    }

    /// Re-sends old-ring messages on the new ring during recovery.
    fn broadcast_recovered(&mut self, t: &mut TokenOut<RTR>, allowed: u32) -> u32 {
        let mut sent = 0;
        if !self.recovery.had_ring {
            return 0;
        }
        let old = self.recovery.old;
        let mut s = self.recovery.low + 1;
        let top = old.high_seq.max(self.recovery.top);
        while sent < allowed && s <= top && self.outq.len() < W {
            let abs = old.offset + s;
            let due = self.window.get(abs).is_some_and(|slot| !slot.recovered);
            if due {
                let new_seq = t.seq + 1;
                if !self.rlog_put(new_seq, s) {
                    break;
                }
                if let Some(slot) = self.window.get_mut(abs) {
                    slot.recovered = true;
                }
                let _ = self.outq.push_back(OutMsg::Recovered {
                    new_seq,
                    old_abs: abs,
                });
                t.seq = new_seq;
                self.pos.high_seq = self.pos.high_seq.max(new_seq);
                sent += 1;
            }
            s += 1;
        }
        sent
    }

    /// Starts retransmission of the forwarded token (or commit token).
    pub(super) fn arm_retransmit(&mut self, now: Instant) {
        let per = self.config.token_retransmit.total_micros().max(1);
        self.retransmits_left =
            u32::try_from(self.config.token_timeout.total_micros() / per).unwrap_or(u32::MAX);
        self.timers
            .set(Timer::TokenRetransmit, now + self.config.token_retransmit);
    }

    pub(super) fn retransmit_token(&mut self, now: Instant) {
        if self.retransmits_left == 0 {
            return;
        }
        self.retransmits_left -= 1;
        let again = if let Some(t) = &self.token_fwd {
            self.token_out = Some(t.clone());
            true
        } else if self.commit_fwd.is_some() && self.commit.is_some() {
            self.commit_out = true;
            true
        } else {
            false
        };
        if again {
            self.stats.token_retransmits += 1;
            self.timers
                .set(Timer::TokenRetransmit, now + self.config.token_retransmit);
        }
    }
}
