//! Queues: each message to exactly one live consumer, at least once.
//!
//! A queue lives in a group and is run by the group's coordinator:
//!
//! 1. Consumers [`subscribe`](crate::Membership::subscribe); the
//!    subscription goes to the coordinator (and again to every new
//!    coordinator).
//! 2. A producer's [`send_queue`](crate::Membership::send_queue) keeps a copy
//!    of the message and sends it to the coordinator. The coordinator's own
//!    messages are queued at once, in a single copy.
//! 3. The coordinator dispatches each message to the live consumer with the
//!    fewest unacknowledged deliveries (at most `PREFETCH` each) and keeps
//!    it until the consumer [`ack`](crate::Membership::ack)s; then it tells
//!    the producer ([`Event::QueueAcked`](crate::Event::QueueAcked)), which
//!    drops its copy.
//! 4. If a consumer fails or leaves before acknowledging, the coordinator
//!    dispatches the message again to another consumer, flagged
//!    `redelivered`.
//! 5. If the coordinator fails (or hands over to a heavier member), its
//!    queue state is lost, so every producer sends its unacknowledged
//!    messages again to the new coordinator, flagged `redelivered`.
//!
//! Delivery is therefore **at least once**: a message acknowledged by a
//! consumer whose ack was lost with the coordinator is delivered again.
//! Exactly-once processing is not promised; consumers that need it must
//! deduplicate (the `redelivered` flag tells them when to look).

use crate::membership::{Consumer, Membership, PREFETCH, PlainEvent};
use crate::messaging::NoStorage;
use crate::pool::{Header, Inbound, QueueState, SlotState, alloc};
use crate::{Delivery, Name, SendError};
use blaze_wire::{GroupId, Instant, MemberId, QueueOp};

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
    /// Consumes queue `queue` of `group` from this member.
    pub fn subscribe(
        &mut self,
        now: Instant,
        group: GroupId,
        queue: &str,
    ) -> Result<(), SendError> {
        if !cfg!(feature = "messaging") {
            return Err(SendError::NotBuiltIn);
        }
        self.release_delivered();
        let slot = self.group_slot(group).ok_or(SendError::NotInGroup)?;
        let name = Name::new(queue)
            .filter(|n| !n.as_str().is_empty())
            .ok_or(SendError::BadQueueName)?;
        if !self.subscriptions.contains(&(slot, name)) {
            self.subscriptions
                .push((slot, name))
                .map_err(|_| SendError::TooManyPending)?;
        }
        if self.group(slot).is_some_and(|g| g.view.id != 0) {
            self.send_subscription(now, slot, name, true)?;
        }
        self.dispatch_queues(now);
        self.update_timers(now);
        Ok(())
    }

    /// Stops consuming `queue`; unacknowledged deliveries go to others.
    pub fn unsubscribe(
        &mut self,
        now: Instant,
        group: GroupId,
        queue: &str,
    ) -> Result<(), SendError> {
        if !cfg!(feature = "messaging") {
            return Err(SendError::NotBuiltIn);
        }
        self.release_delivered();
        let slot = self.group_slot(group).ok_or(SendError::NotInGroup)?;
        let name = Name::new(queue).ok_or(SendError::BadQueueName)?;
        self.subscriptions.retain(|s| *s != (slot, name));
        let r = self.send_subscription(now, slot, name, false);
        self.dispatch_queues(now);
        self.update_timers(now);
        r
    }

    /// Sends `payload` to queue `queue` of `group`; it goes to exactly one
    /// consumer at a time (at least once overall). Returns the id that
    /// [`Event::QueueAcked`](crate::Event::QueueAcked) reports.
    pub fn send_queue(
        &mut self,
        now: Instant,
        group: GroupId,
        queue: &str,
        payload: &[u8],
    ) -> Result<u64, SendError> {
        if !cfg!(feature = "messaging") {
            return Err(SendError::NotBuiltIn);
        }
        self.release_delivered();
        let slot = self.group_slot(group).ok_or(SendError::NotInGroup)?;
        let name = Name::new(queue)
            .filter(|n| !n.as_str().is_empty())
            .ok_or(SendError::BadQueueName)?;
        if self
            .group(slot)
            .and_then(|g| g.view.coordinator())
            .is_none()
        {
            return Err(SendError::NotInGroup);
        }
        let correlation = self.next_correlation;
        let coordinator = self.group(slot).and_then(|g| g.view.coordinator());
        if coordinator == Some(self.me.id) {
            // Queued at once, in its only copy; one slot stays free so that
            // a queued message can always be dispatched.
            if self.free_slots() < 2 {
                return Err(SendError::StorageFull);
            }
            let state = self.queued_state(slot, name, self.me.id, correlation, false);
            alloc(&mut self.slots, state, payload).ok_or(SendError::StorageFull)?;
        } else {
            let state = SlotState::Produced {
                slot_group: slot,
                queue: name,
                correlation,
                coordinator: None,
                redelivered: false,
            };
            let i = alloc(&mut self.slots, state, payload).ok_or(SendError::StorageFull)?;
            if let Err(e) = self.forward_produced(now, i) {
                if let Some(s) = self.slots.get_mut(i) {
                    s.state = SlotState::Free;
                }
                return Err(e);
            }
        }
        self.next_correlation = self.next_correlation.wrapping_add(1).max(1);
        self.dispatch_queues(now);
        self.update_timers(now);
        Ok(correlation)
    }

    /// The coordinator's record of a new queue message (its delivery id
    /// assigned now).
    fn queued_state(
        &mut self,
        slot: usize,
        queue: Name,
        producer: MemberId,
        producer_correlation: u64,
        redelivered: bool,
    ) -> SlotState {
        let id = self.next_queue_id;
        self.next_queue_id = self.next_queue_id.wrapping_add(1).max(1);
        SlotState::Queued {
            slot_group: slot,
            queue,
            id,
            producer,
            producer_correlation,
            redelivered,
            state: QueueState::Pending,
        }
    }

    /// Acknowledges a queue delivery: the coordinator forgets the message.
    pub fn ack(&mut self, now: Instant, delivery: Delivery) -> Result<(), SendError> {
        if !cfg!(feature = "messaging") {
            return Err(SendError::NotBuiltIn);
        }
        self.release_delivered();
        let slot = self
            .group_slot(delivery.group)
            .ok_or(SendError::NotInGroup)?;
        let header = Header {
            group: delivery.group,
            correlation: delivery.id,
            target: Some(delivery.coordinator),
            timeout_us: 0,
            queue: delivery.queue,
            redelivered: false,
            one_way: true,
            queue_op: QueueOp::CONSUMED,
        };
        let _ = slot;
        let r = self.p2p_send(now, delivery.coordinator, header, &[]);
        self.dispatch_queues(now);
        self.update_timers(now);
        r
    }

    fn send_subscription(
        &mut self,
        now: Instant,
        slot: usize,
        queue: Name,
        on: bool,
    ) -> Result<(), SendError> {
        let g = self.group(slot).ok_or(SendError::NotInGroup)?;
        let coordinator = g.view.coordinator().ok_or(SendError::NotInGroup)?;
        let header = Header {
            group: g.id,
            correlation: 0,
            target: Some(coordinator),
            timeout_us: 0,
            queue,
            redelivered: false,
            one_way: true,
            queue_op: if on {
                QueueOp::SUBSCRIBE
            } else {
                QueueOp::UNSUBSCRIBE
            },
        };
        self.p2p_send(now, coordinator, header, &[])
    }

    /// Sends the producer's copy in slot `i` to the current coordinator.
    fn forward_produced(&mut self, now: Instant, i: usize) -> Result<(), SendError> {
        let Some(s) = self.slots.get(i) else {
            return Err(SendError::StorageFull);
        };
        let SlotState::Produced {
            slot_group,
            queue,
            correlation,
            redelivered,
            ..
        } = s.state
        else {
            return Err(SendError::StorageFull);
        };
        let g = self.group(slot_group).ok_or(SendError::NotInGroup)?;
        let coordinator = g.view.coordinator().ok_or(SendError::NotInGroup)?;
        if coordinator == self.me.id {
            // This member coordinates now: the copy becomes the queue's.
            let me = self.me.id;
            let state = self.queued_state(slot_group, queue, me, correlation, redelivered);
            if let Some(s) = self.slots.get_mut(i) {
                s.state = state;
            }
            return Ok(());
        }
        let header = Header {
            group: g.id,
            correlation,
            target: None,
            timeout_us: 0,
            queue,
            redelivered,
            one_way: true,
            queue_op: QueueOp::PRODUCE,
        };
        // Copy the payload out: the same pool holds the outgoing copy.
        let mut buf = [0u8; B];
        let len = s.len;
        if let (Some(dst), Some(src)) = (buf.get_mut(..len), s.data.get(..len)) {
            dst.copy_from_slice(src);
        }
        self.p2p_send(now, coordinator, header, buf.get(..len).unwrap_or(&[]))?;
        if let Some(SlotState::Produced { coordinator: c, .. }) =
            self.slots.get_mut(i).map(|s| &mut s.state)
        {
            *c = Some(coordinator);
        }
        Ok(())
    }

    /// Hands every producer copy not yet with the current coordinator to it
    /// (retried after every input while storage is short).
    pub(crate) fn send_produced(&mut self, now: Instant) {
        for i in 0..S {
            let unsent = matches!(
                self.slots.get(i).map(|s| &s.state),
                Some(SlotState::Produced {
                    coordinator: None,
                    ..
                })
            );
            if unsent && self.forward_produced(now, i) == Err(SendError::StorageFull) {
                return;
            }
        }
    }

    /// An in-order queue frame from `from` (or from this member).
    pub(crate) fn accept_queue(
        &mut self,
        now: Instant,
        from: MemberId,
        group: GroupId,
        r: &crate::frames::Request<'_>,
    ) -> Result<(), NoStorage> {
        let Some(queue) = Name::new(r.queue).filter(|n| !n.as_str().is_empty()) else {
            self.stats.malformed += 1;
            return Ok(());
        };
        let Some(slot) = self.group_slot(group) else {
            self.stats.other_group += 1;
            return Ok(());
        };
        match r.queue_op {
            QueueOp::PRODUCE => {
                // A producer's message, for the coordinator.
                if self.group(slot).is_none_or(|g| g.view.id == 0) {
                    self.stats.queue_not_coordinator += 1;
                    return Ok(());
                }
                // One slot stays free so that a queued message can always
                // be dispatched (the producer retransmits meanwhile).
                if self.free_slots() < 2 {
                    return Err(NoStorage);
                }
                let state = self.queued_state(slot, queue, from, r.correlation, r.redelivered);
                alloc(&mut self.slots, state, r.payload).ok_or(NoStorage)?;
                Ok(())
            }
            QueueOp::DELIVER => {
                // A delivery to this consumer.
                let delivery = Delivery {
                    group,
                    coordinator: from,
                    id: r.correlation,
                    queue,
                };
                self.deliver(
                    Inbound::Queue {
                        delivery,
                        redelivered: r.redelivered,
                    },
                    r.payload,
                )
            }
            QueueOp::SUBSCRIBE => {
                let c = Consumer {
                    slot_group: slot,
                    queue,
                    member: from,
                };
                if !self.consumers.contains(&c) && self.consumers.push(c).is_err() {
                    return Err(NoStorage);
                }
                Ok(())
            }
            QueueOp::UNSUBSCRIBE => {
                let c = Consumer {
                    slot_group: slot,
                    queue,
                    member: from,
                };
                self.consumers.retain(|x| *x != c);
                self.requeue(slot, Some(queue), from);
                Ok(())
            }
            QueueOp::CONSUMED => self.on_consumed(now, from, group, slot, r.correlation),
            QueueOp::PRODUCED => {
                // The coordinator reports a consumer's ack to this producer.
                let Some(i) = self.slots.iter().position(|s| {
                    matches!(s.state, SlotState::Produced { slot_group, correlation, .. }
                        if slot_group == slot && correlation == r.correlation)
                }) else {
                    return Ok(());
                };
                if let Some(s) = self.slots.get_mut(i) {
                    s.state = SlotState::Free;
                }
                self.push_event(PlainEvent::QueueAcked {
                    group,
                    correlation: r.correlation,
                });
                Ok(())
            }
            _ => {
                self.stats.malformed += 1;
                Ok(())
            }
        }
    }

    /// A consumer acknowledges delivery `id`: the coordinator forgets the
    /// message and tells its producer.
    fn on_consumed(
        &mut self,
        now: Instant,
        from: MemberId,
        group: GroupId,
        slot: usize,
        id: u64,
    ) -> Result<(), NoStorage> {
        let Some(i) = self.slots.iter().position(|s| {
            matches!(s.state, SlotState::Queued { slot_group, id: q, state: QueueState::InFlight { consumer }, .. }
                if slot_group == slot && q == id && consumer == from)
        }) else {
            self.stats.queue_stale_acks += 1;
            return Ok(());
        };
        let Some(SlotState::Queued {
            producer,
            producer_correlation,
            queue,
            ..
        }) = self.slots.get(i).map(|s| s.state)
        else {
            return Ok(());
        };
        if producer == self.me.id {
            // The coordinator's own message: done.
            if let Some(s) = self.slots.get_mut(i) {
                s.state = SlotState::Free;
            }
            self.push_event(PlainEvent::QueueAcked {
                group,
                correlation: producer_correlation,
            });
            return Ok(());
        }
        let header = Header {
            group,
            correlation: producer_correlation,
            target: Some(producer),
            timeout_us: 0,
            queue,
            redelivered: false,
            one_way: true,
            queue_op: QueueOp::PRODUCED,
        };
        // Free the slot first: the message to the producer needs exactly
        // this one.
        let saved = self.slots.get(i).map(|s| s.state);
        if let Some(s) = self.slots.get_mut(i) {
            s.state = SlotState::Free;
        }
        match self.p2p_send(now, producer, header, &[]) {
            Ok(()) | Err(SendError::UnknownMember) => Ok(()),
            Err(_) => {
                if let (Some(s), Some(st)) = (self.slots.get_mut(i), saved) {
                    s.state = st;
                }
                Err(NoStorage)
            }
        }
    }

    /// Deliveries to `member` in `slot` (optionally one queue) go back to
    /// pending, flagged redelivered.
    fn requeue(&mut self, slot: usize, queue: Option<Name>, member: MemberId) {
        for s in self.slots.iter_mut() {
            if let SlotState::Queued {
                slot_group,
                queue: q,
                state,
                redelivered,
                ..
            } = &mut s.state
                && *slot_group == slot
                && queue.is_none_or(|n| n == *q)
                && *state == (QueueState::InFlight { consumer: member })
            {
                *state = QueueState::Pending;
                *redelivered = true;
                self.stats.queue_redeliveries += 1;
            }
        }
    }

    /// `member` left the view of `slot` or failed.
    pub(crate) fn consumer_gone(&mut self, slot: usize, member: MemberId) {
        if !cfg!(feature = "messaging") {
            return;
        }
        self.consumers
            .retain(|c| !(c.slot_group == slot && c.member == member));
        self.requeue(slot, None, member);
    }

    /// After a view was installed: follow a coordinator change.
    pub(crate) fn after_install(&mut self, now: Instant, slot: usize, previous: Option<MemberId>) {
        if !cfg!(feature = "messaging") {
            return;
        }
        let me = self.me.id;
        let Some(g) = self.group(slot) else { return };
        let coordinator = g.view.coordinator();
        if coordinator != Some(me) {
            // Only the coordinator holds queue state; its own messages go
            // back to being a producer's copies, for the new coordinator.
            for s in self.slots.iter_mut() {
                if let SlotState::Queued {
                    slot_group,
                    queue,
                    producer,
                    producer_correlation,
                    ..
                } = s.state
                    && slot_group == slot
                {
                    s.state = if producer == me {
                        SlotState::Produced {
                            slot_group,
                            queue,
                            correlation: producer_correlation,
                            coordinator: None,
                            redelivered: true,
                        }
                    } else {
                        SlotState::Free
                    };
                }
            }
            self.consumers.retain(|c| c.slot_group != slot);
        }
        if coordinator == previous {
            return;
        }
        let subs: heapless::Vec<Name, { crate::membership::MAX_SUBSCRIPTIONS }> = self
            .subscriptions
            .iter()
            .filter(|(s, _)| *s == slot)
            .map(|(_, n)| *n)
            .collect();
        for q in subs {
            let _ = self.send_subscription(now, slot, q, true);
        }
        for s in self.slots.iter_mut() {
            if let SlotState::Produced {
                slot_group,
                coordinator: c,
                redelivered,
                ..
            } = &mut s.state
                && *slot_group == slot
                && c.is_some()
                && *c != coordinator
            {
                *c = None;
                *redelivered = true;
            }
        }
        self.send_produced(now);
    }

    /// The coordinator hands pending messages to the least loaded consumers.
    pub(crate) fn dispatch_queues(&mut self, now: Instant) {
        if !cfg!(feature = "messaging") {
            return;
        }
        self.send_produced(now);
        let me = self.me.id;
        if !self.slots.iter().any(|s| {
            matches!(
                s.state,
                SlotState::Queued {
                    state: QueueState::Pending,
                    ..
                }
            )
        }) {
            return;
        }
        for i in 0..S {
            let Some(SlotState::Queued {
                slot_group,
                queue,
                id,
                redelivered,
                state: QueueState::Pending,
                ..
            }) = self.slots.get(i).map(|s| s.state)
            else {
                continue;
            };
            let Some(g) = self.group(slot_group) else {
                continue;
            };
            if g.view.coordinator() != Some(me) {
                continue;
            }
            let group = g.id;
            // Least loaded live consumer of this queue in the view.
            let mut best: Option<(usize, u64, MemberId)> = None;
            for c in self
                .consumers
                .iter()
                .filter(|c| c.slot_group == slot_group && c.queue == queue)
            {
                if !g.view.contains(c.member) || !self.is_alive(c.member) {
                    continue;
                }
                let load = self
                    .slots
                    .iter()
                    .filter(|s| matches!(s.state, SlotState::Queued { state: QueueState::InFlight { consumer }, .. } if consumer == c.member))
                    .count();
                if load >= PREFETCH {
                    continue;
                }
                let spread = (c.member.as_u128() as u64) ^ id.wrapping_mul(0x9e37_79b9_7f4a_7c15);
                let key = (load, spread, c.member);
                if best.is_none_or(|b| key < b) {
                    best = Some(key);
                }
            }
            let Some((_, _, consumer)) = best else {
                continue;
            };
            let header = Header {
                group,
                correlation: id,
                target: Some(consumer),
                timeout_us: 0,
                queue,
                redelivered,
                one_way: true,
                queue_op: QueueOp::DELIVER,
            };
            let mut buf = [0u8; B];
            let len = self.slots.get(i).map_or(0, |s| s.len);
            if let (Some(dst), Some(src)) = (
                buf.get_mut(..len),
                self.slots.get(i).and_then(|s| s.data.get(..len)),
            ) {
                dst.copy_from_slice(src);
            }
            if self
                .p2p_send(now, consumer, header, buf.get(..len).unwrap_or(&[]))
                .is_err()
            {
                return;
            }
            if let Some(SlotState::Queued { state, .. }) =
                self.slots.get_mut(i).map(|s| &mut s.state)
            {
                *state = QueueState::InFlight { consumer };
            }
        }
    }
}
