//! Point-to-point messages and inboxes (request / reply).
//!
//! Every message to one member travels as a `Request` frame with a
//! per-pair sequence number (`p2p_seq`, from 1) within an epoch of the
//! channel (`p2p_epoch`). The receiver accepts only the next number in
//! order, acknowledges cumulatively with `Ack.p2p_seq` and `Ack.p2p_epoch`,
//! and drops (but re-acknowledges) duplicates and gaps; the sender repeats
//! every unacknowledged message each `retransmit_interval` (go-back-N), so
//! delivery is reliable and FIFO per pair while both members live. A side
//! that declares the other failed resets the channel: it starts a greater
//! epoch (renumbering what is still unacknowledged from 1), which the
//! receiver recognises as a new life; messages of older epochs are stale.
//!
//! Replies are `Reply` frames repeated until the requester acknowledges them
//! with `Ack.correlation` (or a few times at most). A reply for a request
//! that already timed out is dropped and counted in `Stats::late_replies`.
//!
//! Without feature `messaging` the commands here and in `queue.rs` return
//! `SendError::NotBuiltIn`, the frames are counted and dropped
//! (`receive.rs`), and the internal steps return at once, so that none of
//! this code is linked.

use crate::frames::{Ack, Reply, Request};
use crate::membership::{Control, Membership, Pending, PlainEvent, Record};
use crate::pool::{Header, Inbound, SlotState, alloc};
use crate::{Name, SendError};
use blaze_wire::{Duration, GroupId, Instant, MemberId, QueueOp};
use core::net::SocketAddr;

/// Why an inbound message was not accepted (it will be retransmitted).
pub(crate) struct NoStorage;

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
    /// Sends `payload` to `to`, reliably and in order with the other
    /// messages to `to`. It arrives as [`Event::Message`](crate::Event::Message).
    pub fn send(&mut self, now: Instant, to: MemberId, payload: &[u8]) -> Result<(), SendError> {
        if !cfg!(feature = "messaging") {
            return Err(SendError::NotBuiltIn);
        }
        self.release_delivered();
        let header = Header {
            group: GroupId::from_raw(0),
            correlation: 0,
            target: Some(to),
            timeout_us: 0,
            queue: Name::default(),
            redelivered: false,
            one_way: true,
            queue_op: QueueOp::NONE,
        };
        let r = self.p2p_send(now, to, header, payload);
        self.update_timers(now);
        r
    }

    /// Sends a request to `to`; the answer arrives as
    /// [`Event::Reply`](crate::Event::Reply) with the returned correlation
    /// id, or [`Event::RequestTimedOut`](crate::Event::RequestTimedOut)
    /// after `timeout`.
    pub fn request(
        &mut self,
        now: Instant,
        to: MemberId,
        payload: &[u8],
        timeout: Duration,
    ) -> Result<u64, SendError> {
        if !cfg!(feature = "messaging") {
            return Err(SendError::NotBuiltIn);
        }
        self.release_delivered();
        let r = self.start_request(now, to, None, payload, timeout);
        self.update_timers(now);
        r
    }

    /// Sends a request to one member of `group` (chosen at random among the
    /// others; re-routed to another if that one fails before answering).
    pub fn request_any(
        &mut self,
        now: Instant,
        group: GroupId,
        payload: &[u8],
        timeout: Duration,
    ) -> Result<u64, SendError> {
        if !cfg!(feature = "messaging") {
            return Err(SendError::NotBuiltIn);
        }
        self.release_delivered();
        let slot = self.group_slot(group).ok_or(SendError::NotInGroup)?;
        let to = self.pick_member(slot, None).ok_or(SendError::NotInGroup)?;
        let r = self.start_request(now, to, Some(slot), payload, timeout);
        self.update_timers(now);
        r
    }

    /// Answers request `correlation` of `to` (`error` 0 means success).
    pub fn reply(
        &mut self,
        now: Instant,
        to: MemberId,
        correlation: u64,
        error: u32,
        payload: &[u8],
    ) -> Result<(), SendError> {
        if !cfg!(feature = "messaging") {
            return Err(SendError::NotBuiltIn);
        }
        self.release_delivered();
        if payload.len() > B {
            return Err(SendError::PayloadTooLarge);
        }
        if to == self.me.id {
            return self
                .accept_reply(to, correlation, error, payload)
                .map_err(|_| SendError::StorageFull);
        }
        if !self.peer(to).is_some_and(|p| p.alive() && p.addr.is_some()) {
            return Err(SendError::UnknownMember);
        }
        let state = SlotState::Reply {
            to,
            correlation,
            error,
            next_tx: now,
            tries: crate::membership::REPLY_TRIES,
        };
        alloc(&mut self.slots, state, payload).ok_or(SendError::StorageFull)?;
        self.update_timers(now);
        Ok(())
    }

    fn start_request(
        &mut self,
        now: Instant,
        to: MemberId,
        any: Option<usize>,
        payload: &[u8],
        timeout: Duration,
    ) -> Result<u64, SendError> {
        if self.pending.is_full() {
            return Err(SendError::TooManyPending);
        }
        let correlation = self.next_correlation;
        let group = any
            .and_then(|s| self.group(s))
            .map_or(GroupId::from_raw(0), |g| g.id);
        let header = Header {
            group,
            correlation,
            target: if any.is_some() { None } else { Some(to) },
            timeout_us: timeout.total_micros(),
            queue: Name::default(),
            redelivered: false,
            one_way: false,
            queue_op: QueueOp::NONE,
        };
        self.p2p_send(now, to, header, payload)?;
        self.next_correlation = self.next_correlation.wrapping_add(1).max(1);
        let _ = self.pending.push(Pending {
            correlation,
            target: to,
            deadline: now + timeout,
            any,
        });
        Ok(correlation)
    }

    /// A live member of the group's view other than this one and `not`
    /// (this member if it is alone).
    pub(crate) fn pick_member(&mut self, slot: usize, not: Option<MemberId>) -> Option<MemberId> {
        let me = self.me.id;
        let g = self.group(slot)?;
        if g.view.id == 0 {
            return None;
        }
        let candidates: heapless::Vec<MemberId, M> = g
            .view
            .members
            .iter()
            .map(|m| m.id)
            .filter(|id| *id != me && Some(*id) != not && self.peer(*id).is_some_and(|p| p.alive()))
            .collect();
        if candidates.is_empty() {
            return (not != Some(me)).then_some(me);
        }
        let k = self.random_below(candidates.len());
        candidates.get(k).copied()
    }

    /// Queues one reliable point-to-point message (or delivers it here).
    pub(crate) fn p2p_send(
        &mut self,
        now: Instant,
        to: MemberId,
        header: Header,
        payload: &[u8],
    ) -> Result<(), SendError> {
        if payload.len() > B {
            return Err(SendError::PayloadTooLarge);
        }
        if to == self.me.id {
            let req = Request {
                correlation: header.correlation,
                target: header.target,
                timeout_us: header.timeout_us,
                payload,
                queue: header.queue.as_str(),
                redelivered: header.redelivered,
                p2p_seq: 0,
                one_way: header.one_way,
                queue_op: header.queue_op,
                p2p_epoch: 0,
            };
            return self
                .accept(now, to, header.group, &req)
                .map_err(|_| SendError::StorageFull);
        }
        let Some(p) = self
            .peers
            .iter()
            .find(|p| p.id == to && p.alive() && p.addr.is_some())
        else {
            return Err(SendError::UnknownMember);
        };
        let seq = p.tx_next;
        let state = SlotState::Outgoing {
            to,
            seq,
            next_tx: now,
            header,
            sent: false,
        };
        alloc(&mut self.slots, state, payload).ok_or(SendError::StorageFull)?;
        if let Some(p) = self.peer_mut(to) {
            p.tx_next += 1;
        }
        Ok(())
    }

    pub(crate) fn on_request(
        &mut self,
        now: Instant,
        sender: MemberId,
        group: GroupId,
        r: &Request<'_>,
    ) {
        if r.p2p_seq == 0 {
            return;
        }
        let Some(p) = self.peer_mut(sender) else {
            return;
        };
        p.ack_due = true;
        let (e, s) = (r.p2p_epoch, r.p2p_seq);
        match p.rx {
            // The epoch being received: only the next message is taken.
            Some((epoch, next)) if epoch == e && s != next => {
                self.stats.p2p_duplicates += 1;
                return;
            }
            Some((epoch, _)) if epoch == e => {}
            // A newer epoch (the sender reset the channel): it starts at 1.
            Some((epoch, _)) if e > epoch && s == 1 => {}
            // An older epoch, or a newer one not from its start.
            Some(_) => {
                self.stats.p2p_duplicates += 1;
                return;
            }
            // This side forgot the channel: the sender sends nothing but its
            // first unacknowledged message until acknowledged, so that one
            // is the start.
            None => {}
        }
        match self.accept(now, sender, group, r) {
            Ok(()) => {
                if let Some(p) = self.peer_mut(sender) {
                    p.rx = Some((e, s.wrapping_add(1)));
                }
            }
            Err(NoStorage) => self.stats.p2p_no_storage += 1,
        }
    }

    /// Hands one in-order message to its consumer: an event, the queue
    /// coordinator or the producer.
    fn accept(
        &mut self,
        now: Instant,
        from: MemberId,
        group: GroupId,
        r: &Request<'_>,
    ) -> Result<(), NoStorage> {
        if r.queue_op != QueueOp::NONE {
            return self.accept_queue(now, from, group, r);
        }
        let inbound = if r.one_way {
            Inbound::Message { from }
        } else {
            let group = r.target.is_none().then_some(group);
            Inbound::Request {
                from,
                correlation: r.correlation,
                group,
            }
        };
        self.deliver(inbound, r.payload)
    }

    /// Stores a payload for `poll_event`.
    pub(crate) fn deliver(&mut self, inbound: Inbound, payload: &[u8]) -> Result<(), NoStorage> {
        if self.events.is_full() {
            return Err(NoStorage);
        }
        let i = alloc(&mut self.slots, SlotState::Inbound(inbound), payload).ok_or(NoStorage)?;
        let _ = self.events.push_back(Record::Payload(i));
        Ok(())
    }

    fn accept_reply(
        &mut self,
        from: MemberId,
        correlation: u64,
        error: u32,
        payload: &[u8],
    ) -> Result<(), NoStorage> {
        let Some(i) = self
            .pending
            .iter()
            .position(|p| p.correlation == correlation && p.target == from)
        else {
            if let Some(k) = self.timed_out.iter().position(|c| *c == correlation) {
                // Counted once; repeated copies count as unknown.
                self.timed_out.swap_remove_back(k);
                self.stats.late_replies += 1;
            } else {
                self.stats.unknown_replies += 1;
            }
            return Ok(());
        };
        self.deliver(
            Inbound::Reply {
                from,
                correlation,
                error,
            },
            payload,
        )?;
        self.pending.swap_remove(i);
        Ok(())
    }

    pub(crate) fn on_reply(&mut self, sender: MemberId, from: SocketAddr, r: &Reply<'_>) {
        if r.target.is_some_and(|t| t != self.me.id) {
            return;
        }
        if self
            .accept_reply(sender, r.correlation, r.error, r.payload)
            .is_ok()
        {
            self.push_control(Control::ReplyAck {
                to: from,
                target: sender,
                correlation: r.correlation,
            });
        }
    }

    pub(crate) fn on_ack(&mut self, _now: Instant, sender: MemberId, a: &Ack<'_>) {
        let acked = self.peer_mut(sender).is_some_and(|p| {
            // Only acks of this epoch of the channel count.
            let in_life = a.p2p_epoch == p.tx_epoch && a.p2p_seq >= 1 && a.p2p_seq < p.tx_next;
            if in_life {
                p.tx_synced = true;
            }
            in_life
        });
        if acked {
            for s in self.slots.iter_mut() {
                if let SlotState::Outgoing { to, seq, .. } = s.state
                    && to == sender
                    && seq <= a.p2p_seq
                {
                    s.state = SlotState::Free;
                }
            }
        }
        if a.correlation != 0 && a.queue.is_empty() {
            for s in self.slots.iter_mut() {
                if let SlotState::Reply {
                    to, correlation, ..
                } = s.state
                    && to == sender
                    && correlation == a.correlation
                {
                    s.state = SlotState::Free;
                }
            }
        }
    }

    pub(crate) fn expire_requests(&mut self, now: Instant) {
        if !cfg!(feature = "messaging") {
            return;
        }
        while let Some(i) = self.pending.iter().position(|p| p.deadline <= now) {
            let p = self.pending.swap_remove(i);
            if self.timed_out.is_full() {
                self.timed_out.pop_front();
            }
            let _ = self.timed_out.push_back(p.correlation);
            self.push_event(PlainEvent::RequestTimedOut {
                correlation: p.correlation,
            });
        }
    }

    /// A peer failed or restarted: its channel is gone.
    pub(crate) fn on_peer_gone(&mut self, now: Instant, id: MemberId) {
        if !cfg!(feature = "messaging") {
            return;
        }
        for i in 0..S {
            let Some(s) = self.slots.get(i) else { break };
            match s.state {
                SlotState::Outgoing { to, header, .. } if to == id => {
                    let any = self
                        .pending
                        .iter()
                        .find(|p| {
                            p.correlation == header.correlation && p.target == id && p.any.is_some()
                        })
                        .and_then(|p| p.any);
                    let rerouted = header.target.is_none()
                        && header.queue_op == QueueOp::NONE
                        && !header.one_way
                        && any
                            .is_some_and(|slot| self.reroute(now, i, slot, id, header.correlation));
                    if !rerouted && let Some(s) = self.slots.get_mut(i) {
                        s.state = SlotState::Free;
                    }
                }
                SlotState::Reply { to, .. } if to == id => {
                    if let Some(s) = self.slots.get_mut(i) {
                        s.state = SlotState::Free;
                    }
                }
                _ => {}
            }
        }
        for slot in 0..G {
            self.consumer_gone(slot, id);
        }
    }

    /// Starts a new life of the channel to `id` on this side: a new epoch;
    /// messages still unacknowledged are renumbered from 1, in order, into
    /// it (none is dropped).
    pub(crate) fn reset_channel(&mut self, now: Instant, id: MemberId) {
        if !cfg!(feature = "messaging") {
            return;
        }
        let epoch = self.new_epoch();
        let Some(p) = self.peer_mut(id) else { return };
        p.tx_epoch = epoch;
        p.tx_synced = false;
        p.rx = None;
        let mut pending: heapless::Vec<(u64, usize), S> = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| match s.state {
                SlotState::Outgoing { to, seq, .. } if to == id => Some((seq, i)),
                _ => None,
            })
            .collect();
        crate::insertion_sort::sort_by_key(&mut pending, |&entry| entry);
        let mut next = 1;
        for (_, i) in pending {
            if let Some(SlotState::Outgoing {
                seq, next_tx, sent, ..
            }) = self.slots.get_mut(i).map(|s| &mut s.state)
            {
                *seq = next;
                *next_tx = now;
                *sent = false;
            }
            next += 1;
        }
        if let Some(p) = self.peer_mut(id) {
            p.tx_next = next;
        }
    }

    fn reroute(
        &mut self,
        now: Instant,
        i: usize,
        slot: usize,
        gone: MemberId,
        correlation: u64,
    ) -> bool {
        let Some(to) = self.pick_member(slot, Some(gone)) else {
            return false;
        };
        if to == self.me.id {
            return false;
        }
        let Some(p) = self.peer_mut(to) else {
            return false;
        };
        let seq = p.tx_next;
        p.tx_next += 1;
        if let Some(SlotState::Outgoing {
            to: t,
            seq: s,
            next_tx,
            sent,
            ..
        }) = self.slots.get_mut(i).map(|s| &mut s.state)
        {
            *t = to;
            *s = seq;
            *next_tx = now;
            *sent = false;
        }
        if let Some(p) = self
            .pending
            .iter_mut()
            .find(|p| p.correlation == correlation)
        {
            p.target = to;
        }
        true
    }
}
