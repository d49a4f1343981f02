//! Datagram input: decoding, filtering and dispatch.

use blaze_wire::{DataBatch, DataMessage, Instant, MemberId, Qos, RingId};
use core::net::SocketAddr;

use super::{State, Totem};
use crate::frames::{self, BodyIn, TokenOut};
use crate::window::Refused;

impl<const N: usize, const W: usize, const P: usize, const Q: usize> Totem<'_, N, W, P, Q> {
    /// A datagram arrived from `from`. Malformed, foreign or stale input is
    /// counted in [`Stats`](crate::Stats) and dropped.
    ///
    /// A process that stalled past its token timeout (not handled for more
    /// than a join interval) first handles the stall: it leaves its ring,
    /// and for a join interval it drops the joins it reads (counted as
    /// [`stale`](crate::Stats::stale)), which may have waited out the stall.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, datagram: &[u8]) {
        self.check_stall(now);
        let frame = match frames::parse(datagram) {
            Ok(f) => f,
            Err(_) => {
                self.stats.malformed += 1;
                return;
            }
        };
        if frame.version != frames::VERSION || frame.group != self.group {
            self.stats.foreign += 1;
            return;
        }
        if frame.sender.is_nil() {
            self.stats.malformed += 1;
            return;
        }
        if frame.sender == self.me && !matches!(frame.body, BodyIn::Data(_)) {
            // Our own control frame looped back (data may be our message
            // retransmitted by another member: handled as a duplicate).
            self.stats.duplicates += 1;
            return;
        }
        match frame.body {
            BodyIn::Data(d) => self.on_data(now, frame.sender, &d),
            BodyIn::Token(t) => {
                self.learn(frame.sender, from);
                self.on_token(now, &t);
            }
            BodyIn::Join(j) => {
                self.learn(frame.sender, from);
                if now < self.stale_until {
                    self.stats.stale += 1;
                    return;
                }
                self.on_join(now, frame.sender, &j);
            }
            BodyIn::Commit(v) => {
                self.learn(frame.sender, from);
                self.on_commit(now, &v);
            }
            BodyIn::Other => self.stats.foreign += 1,
        }
    }

    fn on_data(&mut self, now: Instant, origin: MemberId, d: &DataBatch<'_>) {
        let Some(ring) = d.ring else {
            self.stats.malformed += 1;
            return;
        };
        if self.state == State::Operational
            && ring != self.tag
            && d.messages.is_empty()
            && d.first_seq == 0
            && !self.members.contains(&origin)
        {
            // Another ring's announcement: it is within reach (a partition
            // healed), merge. (Late data of an old ring does not count, nor
            // a token request on it: a member still on a ring that broke
            // would make every new ring gather again.)
            debug!(
                "{} {:x} hears ring {} of {:x}",
                now,
                self.me.as_u128() & 0xffff,
                ring.seq,
                origin.as_u128() & 0xffff
            );
            self.enter_gather(now);
            return;
        }
        let live = matches!(self.state, State::Operational | State::Recovery);
        if !live || ring != self.tag {
            self.stats.wrong_ring += 1;
            return;
        }
        if d.messages.is_empty() {
            // An announcement of our own ring (`first_seq` 0), or a member
            // that wants the token: then the ring is busy, an idle token
            // held here goes on at once, and one that comes by later is
            // passed on without a hold.
            if d.first_seq > 0
                && self.state == State::Operational
                && origin != self.me
                && self.members.contains(&origin)
            {
                self.stats.token_requests += 1;
                self.busy_until = self.busy_until.max(now + self.config.token_linger);
                self.wanted = true;
                if self.token_held.is_some() {
                    self.timers.set(super::Timer::TokenHold, now);
                }
            }
            return;
        }
        let recovered = d.recovered_from.is_some();
        if recovered != (self.state == State::Recovery) {
            // Recovery traffic after install, or new-ring traffic before:
            // it comes again through the token's retransmission requests.
            self.stats.wrong_ring += 1;
            return;
        }
        let safe = d.qos == Qos::SAFE;
        for (i, m) in d.messages.iter().enumerate() {
            let Some(seq) = d.first_seq.checked_add(i as u64) else {
                break;
            };
            if seq == 0 {
                continue;
            }
            if let Some(fwd) = &self.token_fwd
                && seq > fwd.seq
            {
                // Someone after us held the token: it got through.
                self.token_fwd = None;
                self.timers.stop(super::Timer::TokenRetransmit);
            }
            match d.recovered_from {
                Some(old) => self.on_recovered(seq, old, &m),
                None => self.on_regular(seq, origin, safe, m.topic, m.payload),
            }
        }
        self.advance_aru();
    }

    fn on_regular(&mut self, seq: u64, origin: MemberId, safe: bool, topic: &str, payload: &[u8]) {
        if seq <= self.pos.my_aru {
            self.stats.duplicates += 1;
            return;
        }
        let abs = self.pos.offset + seq;
        match self
            .window
            .insert(abs, seq, origin, safe, (topic, payload), true)
        {
            Ok(()) => self.pos.high_seq = self.pos.high_seq.max(seq),
            Err(Refused::Duplicate) => self.stats.duplicates += 1,
            Err(Refused::NoRoom) => self.stats.oversized += 1,
        }
        self.stats.pool_evictions = self.window.evictions();
    }

    /// A message of ring `old_ring` re-sent on the new one as `new_seq`.
    fn on_recovered(&mut self, new_seq: u64, old_ring: RingId, m: &DataMessage<'_>) {
        if new_seq <= self.pos.my_aru || self.rlog_has(new_seq) {
            self.stats.duplicates += 1;
            return;
        }
        let Some((h, sender)) = m.recovered.and_then(|h| Some((h, h.sender?))) else {
            self.stats.malformed += 1;
            return;
        };
        let mine = self.recovery.had_ring && old_ring == self.recovery.old_tag && h.seq > 0;
        let old_seq = if mine { h.seq } else { 0 };
        if !self.rlog_room(new_seq) {
            self.stats.oversized += 1;
            return;
        }
        let abs = self.recovery.old.offset + h.seq;
        if mine {
            // Stored first: a message with no room (a full pool) is not
            // counted as held, so it is asked for again.
            match self
                .window
                .insert(abs, h.seq, sender, h.safe, (m.topic, m.payload), false)
            {
                Ok(()) | Err(Refused::Duplicate) => {}
                Err(Refused::NoRoom) => {
                    self.stats.oversized += 1;
                    return;
                }
            }
        }
        self.rlog_put(new_seq, old_seq);
        self.pos.high_seq = self.pos.high_seq.max(new_seq);
        if mine {
            self.recovery.top = self.recovery.top.max(h.seq);
            // Someone re-sent it: nobody else needs to.
            if let Some(s) = self.window.get_mut(abs) {
                s.recovered = true;
            }
        }
    }

    fn rlog_index(seq: u64) -> usize {
        usize::try_from(seq % W as u64).unwrap_or(0)
    }

    pub(super) fn rlog_has(&self, new_seq: u64) -> bool {
        self.rlog
            .get(Self::rlog_index(new_seq))
            .is_some_and(|e| e.0 == new_seq)
    }

    /// The old sequence number re-sent as `new_seq` (0: another ring's).
    pub(super) fn rlog_get(&self, new_seq: u64) -> Option<u64> {
        self.rlog
            .get(Self::rlog_index(new_seq))
            .filter(|e| e.0 == new_seq)
            .map(|e| e.1)
    }

    /// True when `new_seq` may be recorded in the recovery log (its entry
    /// is free or long past).
    pub(super) fn rlog_room(&self, new_seq: u64) -> bool {
        let safe = self.pos.safe_upto;
        let aru = self.pos.my_aru;
        self.rlog
            .get(Self::rlog_index(new_seq))
            .is_some_and(|e| e.0 == 0 || (e.0 <= safe && e.0 <= aru))
    }

    pub(super) fn rlog_put(&mut self, new_seq: u64, old_seq: u64) -> bool {
        if !self.rlog_room(new_seq) {
            return false;
        }
        match self.rlog.get_mut(Self::rlog_index(new_seq)) {
            Some(e) => {
                *e = (new_seq, old_seq);
                true
            }
            None => false,
        }
    }

    /// True when message `seq` of the current ring is held.
    pub(super) fn has(&self, seq: u64) -> bool {
        if self.state == State::Recovery {
            self.rlog_has(seq)
        } else {
            self.window.has(self.pos.offset + seq)
        }
    }

    /// Moves `my_aru` over the messages received in order.
    pub(super) fn advance_aru(&mut self) {
        while self.pos.my_aru < self.pos.high_seq && self.has(self.pos.my_aru + 1) {
            self.pos.my_aru += 1;
        }
    }

    fn on_token(&mut self, now: Instant, t: &blaze_wire::Token<'_>) {
        let Some(ring) = t.ring else {
            self.stats.malformed += 1;
            return;
        };
        let live = matches!(self.state, State::Operational | State::Recovery);
        if !live || ring != self.pos.ring {
            self.stats.wrong_ring += 1;
            return;
        }
        if t.next != Some(self.me) {
            self.stats.wrong_ring += 1;
            return;
        }
        if t.token_seq <= self.last_token_seq {
            self.stats.duplicates += 1;
            return;
        }
        if self.timers.due(super::Timer::TokenLoss, now) {
            // The token came in just as the token timeout passed, before
            // the deadline was handled: the ring is lost here too (a
            // longer stall was handled in `check_stall`).
            self.stats.stale += 1;
            self.timers.stop(super::Timer::TokenLoss);
            self.on_timer(now, super::Timer::TokenLoss);
            return;
        }
        let next = Self::successor(&self.members, self.me);
        // Processed at the next poll, once the rest of the input that came
        // in with it has been handled (`take_token_in`); a retransmitted
        // copy meanwhile is a duplicate.
        self.last_token_seq = t.token_seq;
        self.token_in = Some((TokenOut::from_wire(t, ring, next), now));
    }
}
