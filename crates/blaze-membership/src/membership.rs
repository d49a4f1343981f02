//! The membership state machine: its storage, commands and outputs.
//!
//! The behaviour is split by concern over sibling modules, each holding one
//! `impl` block: `receive.rs` (datagram dispatch), `detector.rs` (failure
//! detection), `coordinator.rs` (views), `messaging.rs` (point-to-point,
//! inboxes), `queue.rs` (queues) and `transmit.rs` (`poll_transmit`).

use crate::config::{Config, ConfigError, MAX_SEEDS};
use crate::frames::{Probe, Suspect};
use crate::group::{Group, Phase};
use crate::peer::{DUE_JOIN, DUE_LEAVE, Peer};
use crate::pool::{Inbound, Slot, SlotState};
use crate::view::View;
use crate::{Event, GroupError, Metadata, Name, Stats};
use blaze_wire::{GroupId, Instant, MemberId, Rng};
use core::net::SocketAddr;

/// Rows of per-seed queues: none without feature `unicast`.
const SEED_ROWS: usize = if cfg!(feature = "unicast") {
    MAX_SEEDS
} else {
    0
};

/// Capacity of the event queue.
pub const EVENT_CAPACITY: usize = 128;
/// Capacity of the queue of pending small control frames (probes, acks).
pub const CONTROL_CAPACITY: usize = 64;
/// Most queue subscriptions of this member.
pub const MAX_SUBSCRIPTIONS: usize = 8;
/// Most queue consumers a coordinator tracks.
pub const MAX_CONSUMERS: usize = 32;
/// Deliveries a coordinator keeps in flight per consumer.
pub(crate) const PREFETCH: usize = 4;
/// Reply retransmissions before giving up.
pub(crate) const REPLY_TRIES: u8 = 10;
/// Leave repetitions.
pub(crate) const LEAVE_TRIES: u8 = 5;

/// Who this member is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity {
    /// 128-bit globally unique id, drawn by the caller from its random source.
    pub id: MemberId,
    /// Human-readable name.
    pub name: Name,
    /// Application metadata: an encoded `BlazeMessage` (see
    /// `blaze_wire::BlazeMessageWriter`), carried opaquely in `Join` frames.
    /// Bytes that do not parse as a `BlazeMessage` are sent as absent.
    pub metadata: Metadata,
    /// Incremented by the caller on every restart under the same id.
    pub incarnation: u64,
    /// Services this member runs in its groups, a bit set carried in its
    /// `Join`, its heartbeats and every view that lists it
    /// ([`blaze_wire::SERVICE_MAP`]). Membership only carries it; the
    /// services' owners read it from [`ViewMember::services`](crate::ViewMember::services).
    pub services: u32,
}

/// What is known about another member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberInfo {
    /// Its id.
    pub id: MemberId,
    /// Its name (empty until learnt).
    pub name: Name,
    /// Its metadata (empty until its `Join` was seen).
    pub metadata: Metadata,
    /// Its coordinator weight.
    pub weight: u32,
    /// The services it runs (see [`Identity::services`]).
    pub services: u32,
    /// Its incarnation.
    pub incarnation: u64,
    /// Its unicast address.
    pub address: Option<SocketAddr>,
    /// False once declared failed.
    pub alive: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Record {
    Plain(PlainEvent),
    Payload(usize),
}

/// Events without payload (a copy of the public ones).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PlainEvent {
    ViewInstalled {
        group: GroupId,
        view_id: u64,
        members: usize,
        merge: bool,
    },
    MemberJoined {
        group: GroupId,
        member: MemberId,
    },
    MemberLeft {
        group: GroupId,
        member: MemberId,
    },
    MemberFailed {
        group: GroupId,
        member: MemberId,
    },
    CoordinatorChanged {
        group: GroupId,
        coordinator: MemberId,
        previous: Option<MemberId>,
    },
    Merged {
        group: GroupId,
        view_id: u64,
    },
    Left {
        group: GroupId,
    },
    RequestTimedOut {
        correlation: u64,
    },
    QueueAcked {
        group: GroupId,
        correlation: u64,
    },
}

/// A small frame waiting for `poll_transmit`.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Control {
    Probe {
        to: SocketAddr,
        probe: Probe,
    },
    Suspect {
        to: SocketAddr,
        suspect: Suspect,
    },
    ReplyAck {
        to: SocketAddr,
        target: MemberId,
        correlation: u64,
    },
    ForwardJoin {
        to: SocketAddr,
        slot_group: usize,
        joiner: MemberId,
    },
}

/// A request awaiting its reply.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pending {
    pub(crate) correlation: u64,
    pub(crate) target: MemberId,
    pub(crate) deadline: Instant,
    /// For `request_any`: the group slot to re-route within.
    pub(crate) any: Option<usize>,
}

/// A queue consumer known to the coordinator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Consumer {
    pub(crate) slot_group: usize,
    pub(crate) queue: Name,
    pub(crate) member: MemberId,
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Timer {
    Heartbeat = 0,
    Announce = 1,
    Retransmit = 2,
    Dynamic = 3,
}

const TIMERS: usize = 4;

/// Group membership of one member, as a sans-IO state machine.
///
/// Capacities: `M` known members, `G` groups this member can be in, `S`
/// message storage slots of `B` payload bytes each (outgoing messages
/// awaiting acks, received messages awaiting [`poll_event`](Self::poll_event),
/// queue messages held by a coordinator or a producer, pending requests);
/// and, with defaults, `EVENTS` events waiting for
/// [`poll_event`](Self::poll_event) ([`EVENT_CAPACITY`]; more are dropped
/// and counted in [`Stats::events_dropped`](crate::Stats::events_dropped)),
/// `CONTROL` small control frames (probes, suspicions, acks) waiting for
/// [`poll_transmit`](Self::poll_transmit) ([`CONTROL_CAPACITY`]; counted in
/// [`Stats::control_dropped`](crate::Stats::control_dropped)) and
/// `CONSUMERS` queue consumers a coordinator tracks ([`MAX_CONSUMERS`]).
/// Together these are about 17 KB on a 64-bit host at the defaults; a
/// small member picks them smaller.
///
/// - **Getters**: [`id`](Self::id), [`view`](Self::view),
///   [`member`](Self::member), [`stats`](Self::stats), …
/// - **Commands**: [`join`](Self::join), [`leave`](Self::leave),
///   [`send`](Self::send), [`request`](Self::request),
///   [`request_any`](Self::request_any), [`reply`](Self::reply),
///   [`subscribe`](Self::subscribe), [`send_queue`](Self::send_queue),
///   [`ack`](Self::ack).
/// - **Inputs**: [`handle_datagram`](Self::handle_datagram),
///   [`handle_timeout`](Self::handle_timeout).
/// - **Outputs**, polled after every input or command until `None`:
///   [`poll_transmit`](Self::poll_transmit), [`poll_event`](Self::poll_event),
///   then [`poll_timeout`](Self::poll_timeout).
///
/// Time only moves forward; a spurious `handle_timeout` is a no-op.
///
/// ```
/// use blaze_membership::{Config, Identity, Membership, Metadata, Name, Event};
/// use blaze_wire::{Instant, MemberId, Rng};
///
/// let me = Identity {
///     id: MemberId::from_u128(7),
///     name: Name::new("ann").unwrap(),
///     metadata: Metadata::default(),
///     incarnation: 0,
///     services: 0,
/// };
/// let mut m: Membership<8, 2, 8, 256> = Membership::new(Config::lan(), me, Rng::new(1)).unwrap();
/// let chat = m.join(Instant::ZERO, "chat").unwrap();
/// // Alone on the network: after the join wait, a view of one is formed.
/// let mut now = Instant::ZERO;
/// let mut buf = [0u8; 1500];
/// while m.view(chat).is_none() {
///     now = m.poll_timeout().unwrap();
///     m.handle_timeout(now);
///     while let Some(_t) = m.poll_transmit(now, &mut buf) {}
/// }
/// assert_eq!(m.view(chat).unwrap().coordinator(), Some(MemberId::from_u128(7)));
/// assert!(matches!(m.poll_event(now), Some(Event::ViewInstalled { members: 1, .. })));
/// ```
#[derive(Debug)]
pub struct Membership<
    const M: usize,
    const G: usize,
    const S: usize,
    const B: usize,
    const EVENTS: usize = EVENT_CAPACITY,
    const CONTROL: usize = CONTROL_CAPACITY,
    const CONSUMERS: usize = MAX_CONSUMERS,
> {
    pub(crate) config: Config,
    pub(crate) me: Identity,
    pub(crate) rng: Rng,
    pub(crate) peers: heapless::Vec<Peer<G>, M>,
    pub(crate) groups: [Option<Group<M>>; G],
    pub(crate) slots: [Slot<B>; S],
    pub(crate) pending: heapless::Vec<Pending, S>,
    pub(crate) timed_out: heapless::Deque<u64, 32>,
    pub(crate) subscriptions: heapless::Vec<(usize, Name), MAX_SUBSCRIPTIONS>,
    pub(crate) consumers: heapless::Vec<Consumer, CONSUMERS>,
    pub(crate) events: heapless::Deque<Record, EVENTS>,
    pub(crate) control: heapless::Deque<Control, CONTROL>,
    /// Per seed, per group slot: pending frames (`DUE_*` bits).
    pub(crate) seed_due: [[u8; G]; SEED_ROWS],
    pub(crate) timers: [Option<Instant>; TIMERS],
    /// A slot handed out by the last `poll_event`, freed on the next call.
    pub(crate) release: Option<usize>,
    pub(crate) next_probe_seq: u64,
    pub(crate) next_correlation: u64,
    pub(crate) next_queue_id: u64,
    /// The epoch the next life of a point-to-point channel gets.
    pub(crate) next_epoch: u64,
    pub(crate) stats: Stats,
}

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
    /// A member with no group yet. `rng` is the only randomness used
    /// (probe helper choice, `request_any` target choice).
    pub fn new(config: Config, me: Identity, rng: Rng) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Membership {
            config,
            me,
            rng,
            peers: heapless::Vec::new(),
            groups: core::array::from_fn(|_| None),
            slots: [const { Slot::FREE }; S],
            pending: heapless::Vec::new(),
            timed_out: heapless::Deque::new(),
            subscriptions: heapless::Vec::new(),
            consumers: heapless::Vec::new(),
            events: heapless::Deque::new(),
            control: heapless::Deque::new(),
            seed_due: [[0; G]; SEED_ROWS],
            timers: [None; TIMERS],
            release: None,
            next_probe_seq: 1,
            next_correlation: 1,
            next_queue_id: 1,
            next_epoch: crate::peer::first_epoch(me.incarnation),
            stats: Stats::default(),
        })
    }

    /// A fresh point-to-point channel epoch: greater than every epoch this
    /// process handed out before (and, through the incarnation in its high
    /// bits, than those of earlier incarnations).
    pub(crate) fn new_epoch(&mut self) -> u64 {
        let e = self.next_epoch;
        self.next_epoch = e.wrapping_add(1);
        e
    }

    // ------------------------------------------------------------ getters

    /// This member's id.
    pub fn id(&self) -> MemberId {
        self.me.id
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The installed view of `group`, if this member is in one.
    pub fn view(&self, group: GroupId) -> Option<&View<M>> {
        self.group_slot(group)
            .and_then(|i| self.group(i))
            .filter(|g| g.view.id != 0)
            .map(|g| &g.view)
    }

    /// The groups this member is in or joining.
    pub fn groups(&self) -> impl Iterator<Item = GroupId> + '_ {
        self.groups.iter().flatten().map(|g| g.id)
    }

    /// What is known about a member.
    pub fn member(&self, id: MemberId) -> Option<MemberInfo> {
        self.peer(id).map(|p| MemberInfo {
            id: p.id,
            name: p.name,
            metadata: p.metadata,
            weight: p.weight,
            services: p.services,
            incarnation: p.incarnation,
            address: p.addr,
            alive: p.alive(),
        })
    }

    /// Number of free storage slots.
    pub fn free_slots(&self) -> usize {
        self.slots
            .iter()
            .filter(|s| s.state == SlotState::Free)
            .count()
    }

    // ----------------------------------------------------------- commands

    /// Joins the group `name`; the view arrives as events. Returns the
    /// group's id.
    pub fn join(&mut self, now: Instant, name: &str) -> Result<GroupId, GroupError> {
        self.release_delivered();
        let name = Name::new(name).ok_or(GroupError::NameTooLong)?;
        let id = GroupId::from_name(name.as_str());
        if self.group_slot(id).is_some() {
            return Err(GroupError::AlreadyJoined);
        }
        let slot = self
            .groups
            .iter()
            .position(Option::is_none)
            .ok_or(GroupError::TooManyGroups)?;
        let mut g = Group::new(name, now);
        g.phase = Phase::Joining {
            deadline: now + self.config.join_wait,
        };
        g.mcast |= DUE_JOIN;
        if let Some(e) = self.groups.get_mut(slot) {
            *e = Some(g);
        }
        self.broadcast(slot, DUE_JOIN, true);
        if self.timer(Timer::Heartbeat).is_none() {
            self.set_timer(Timer::Heartbeat, Some(now + self.config.heartbeat_interval));
            self.set_timer(Timer::Announce, Some(now + self.config.announce_interval));
            self.set_timer(
                Timer::Retransmit,
                Some(now + self.config.retransmit_interval),
            );
        }
        self.update_timers(now);
        Ok(id)
    }

    /// Leaves `group` gracefully: the other members see
    /// [`Event::MemberLeft`] within about one round trip, and this member
    /// gets [`Event::Left`] when the coordinator confirmed (or after a few
    /// repetitions of the leave).
    pub fn leave(&mut self, now: Instant, group: GroupId) -> Result<(), GroupError> {
        self.release_delivered();
        let slot = self.group_slot(group).ok_or(GroupError::NotJoined)?;
        let Some(g) = self.group_mut(slot) else {
            return Err(GroupError::NotJoined);
        };
        if matches!(g.phase, Phase::Leaving { .. }) {
            return Err(GroupError::NotJoined);
        }
        if g.view.id == 0 || g.view.members.len() <= 1 {
            self.finish_leave(slot);
        } else {
            g.phase = Phase::Leaving { tries: LEAVE_TRIES };
            g.mcast = DUE_LEAVE;
            self.broadcast(slot, DUE_LEAVE, false);
        }
        self.update_timers(now);
        Ok(())
    }

    // ------------------------------------------------------------ outputs

    /// The next event. A payload borrowed from the returned event stays
    /// valid until the next call on the machine.
    #[must_use]
    pub fn poll_event(&mut self, now: Instant) -> Option<Event<'_>> {
        let _ = now;
        self.release_delivered();
        let rec = self.events.pop_front()?;
        Some(match rec {
            Record::Plain(p) => match p {
                PlainEvent::ViewInstalled {
                    group,
                    view_id,
                    members,
                    merge,
                } => Event::ViewInstalled {
                    group,
                    view_id,
                    members,
                    merge,
                },
                PlainEvent::MemberJoined { group, member } => Event::MemberJoined { group, member },
                PlainEvent::MemberLeft { group, member } => Event::MemberLeft { group, member },
                PlainEvent::MemberFailed { group, member } => Event::MemberFailed { group, member },
                PlainEvent::CoordinatorChanged {
                    group,
                    coordinator,
                    previous,
                } => Event::CoordinatorChanged {
                    group,
                    coordinator,
                    previous,
                },
                PlainEvent::Merged { group, view_id } => Event::Merged { group, view_id },
                PlainEvent::Left { group } => Event::Left { group },
                PlainEvent::RequestTimedOut { correlation } => {
                    Event::RequestTimedOut { correlation }
                }
                PlainEvent::QueueAcked { group, correlation } => {
                    Event::QueueAcked { group, correlation }
                }
            },
            Record::Payload(i) => {
                self.release = Some(i);
                let slot = self.slots.get(i)?;
                let payload = slot.payload();
                match slot.state {
                    SlotState::Inbound(Inbound::Message { from }) => {
                        Event::Message { from, payload }
                    }
                    SlotState::Inbound(Inbound::Request {
                        from,
                        correlation,
                        group,
                    }) => Event::Request {
                        from,
                        correlation,
                        group,
                        payload,
                    },
                    SlotState::Inbound(Inbound::Reply {
                        from,
                        correlation,
                        error,
                    }) => Event::Reply {
                        from,
                        correlation,
                        error,
                        payload,
                    },
                    SlotState::Inbound(Inbound::Queue {
                        ref delivery,
                        redelivered,
                    }) => Event::QueueMessage {
                        delivery: *delivery,
                        queue: delivery_queue(delivery),
                        redelivered,
                        payload,
                    },
                    _ => return None,
                }
            }
        })
    }

    /// The next deadline at which [`handle_timeout`](Self::handle_timeout)
    /// must be called.
    #[must_use]
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        self.timers.iter().flatten().min().copied()
    }

    // ------------------------------------------------------------- inputs

    /// A deadline passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.release_delivered();
        if self.expired(Timer::Heartbeat, now) {
            self.set_timer(Timer::Heartbeat, Some(now + self.config.heartbeat_interval));
            self.heartbeat_tick();
        }
        if self.expired(Timer::Announce, now) {
            self.set_timer(Timer::Announce, Some(now + self.config.announce_interval));
            self.announce_tick(now);
        }
        if self.expired(Timer::Retransmit, now) {
            self.set_timer(
                Timer::Retransmit,
                Some(now + self.config.retransmit_interval),
            );
            self.retransmit_tick(now);
        }
        self.check_liveness(now);
        self.expire_requests(now);
        self.maintain(now);
        self.update_timers(now);
    }

    fn timer(&self, t: Timer) -> Option<Instant> {
        self.timers.get(t as usize).copied().flatten()
    }

    fn set_timer(&mut self, t: Timer, at: Option<Instant>) {
        if let Some(slot) = self.timers.get_mut(t as usize) {
            *slot = at;
        }
    }

    fn expired(&self, t: Timer, now: Instant) -> bool {
        self.timer(t).is_some_and(|at| at <= now)
    }

    // ------------------------------------------------------------ helpers

    pub(crate) fn update_timers(&mut self, _now: Instant) {
        let mut next: Option<Instant> = None;
        let mut take = |t: Instant| next = Some(next.map_or(t, |n: Instant| n.min(t)));
        let suspect = self.config.suspect_after();
        for p in self.peers.iter().filter(|p| p.alive()) {
            take(p.last_heard + self.config.failure_timeout);
            take((p.last_heard + suspect).max(p.next_probe));
        }
        for r in self.pending.iter() {
            take(r.deadline);
        }
        for s in self.slots.iter() {
            match s.state {
                SlotState::Outgoing {
                    to, seq, next_tx, ..
                } => {
                    let open = self
                        .peers
                        .iter()
                        .any(|p| p.id == to && (p.tx_synced || seq == 1));
                    if open {
                        take(next_tx);
                    }
                }
                SlotState::Reply { next_tx, .. } => take(next_tx),
                _ => {}
            }
        }
        for g in self.groups.iter().flatten() {
            if let Phase::Joining { deadline } = g.phase {
                take(deadline);
            }
        }
        self.set_timer(Timer::Dynamic, next);
    }

    pub(crate) fn group_slot(&self, id: GroupId) -> Option<usize> {
        self.groups
            .iter()
            .position(|g| g.as_ref().is_some_and(|g| g.id == id))
    }

    pub(crate) fn group(&self, slot: usize) -> Option<&Group<M>> {
        self.groups.get(slot).and_then(Option::as_ref)
    }

    pub(crate) fn group_mut(&mut self, slot: usize) -> Option<&mut Group<M>> {
        self.groups.get_mut(slot).and_then(Option::as_mut)
    }

    pub(crate) fn peer(&self, id: MemberId) -> Option<&Peer<G>> {
        self.peers.iter().find(|p| p.id == id)
    }

    pub(crate) fn peer_mut(&mut self, id: MemberId) -> Option<&mut Peer<G>> {
        self.peers.iter_mut().find(|p| p.id == id)
    }

    /// True for this member and for peers not declared failed.
    pub(crate) fn is_alive(&self, id: MemberId) -> bool {
        id == self.me.id || self.peer(id).is_some_and(Peer::alive)
    }

    pub(crate) fn push_event(&mut self, e: PlainEvent) {
        if self.events.push_back(Record::Plain(e)).is_err() {
            self.stats.events_dropped += 1;
        }
    }

    pub(crate) fn push_control(&mut self, c: Control) {
        if self.control.push_back(c).is_err() {
            self.stats.control_dropped += 1;
        }
    }

    pub(crate) fn release_delivered(&mut self) {
        if let Some(i) = self.release.take()
            && let Some(s) = self.slots.get_mut(i)
        {
            s.state = SlotState::Free;
        }
    }

    pub(crate) fn unicast_mode(&self) -> bool {
        // Without feature `unicast` such a configuration is refused.
        cfg!(feature = "unicast")
            && matches!(self.config.discovery, crate::Discovery::Unicast { .. })
    }

    /// Schedules a group-wide frame: one multicast, or a unicast to every
    /// alive peer (and, with `seeds`, to every seed).
    pub(crate) fn broadcast(&mut self, slot: usize, bit: u8, seeds: bool) {
        if !self.unicast_mode() {
            if let Some(g) = self.group_mut(slot) {
                g.mcast |= bit;
            }
            return;
        }
        for p in self.peers.iter_mut().filter(|p| p.alive()) {
            if let Some(d) = p.due.get_mut(slot) {
                *d |= bit;
            }
        }
        if seeds {
            self.queue_for_seeds(slot, bit);
        }
    }

    pub(crate) fn queue_for_seeds(&mut self, slot: usize, bit: u8) {
        if !self.unicast_mode() {
            return;
        }
        if let crate::Discovery::Unicast { seeds } = self.config.discovery {
            for (i, s) in seeds.iter().enumerate() {
                if s.is_some()
                    && let Some(d) = self.seed_due.get_mut(i).and_then(|r| r.get_mut(slot))
                {
                    *d |= bit;
                }
            }
        }
    }

    pub(crate) fn finish_leave(&mut self, slot: usize) {
        let Some(g) = self.groups.get_mut(slot).and_then(Option::take) else {
            return;
        };
        for p in self.peers.iter_mut() {
            if let Some(c) = p.claims.get_mut(slot) {
                *c = None;
            }
            if let Some(d) = p.due.get_mut(slot) {
                *d = 0;
            }
        }
        for s in self.seed_due.iter_mut() {
            if let Some(d) = s.get_mut(slot) {
                *d = 0;
            }
        }
        self.subscriptions.retain(|(g, _)| *g != slot);
        self.consumers.retain(|c| c.slot_group != slot);
        for s in self.slots.iter_mut() {
            match s.state {
                SlotState::Queued { slot_group, .. } | SlotState::Produced { slot_group, .. }
                    if slot_group == slot =>
                {
                    s.state = SlotState::Free;
                }
                _ => {}
            }
        }
        self.pending.retain(|p| p.any != Some(slot));
        self.push_event(PlainEvent::Left { group: g.id });
    }

    pub(crate) fn random_below(&mut self, n: usize) -> usize {
        self.rng.below(n as u64) as usize
    }
}

fn delivery_queue(d: &crate::Delivery) -> &str {
    d.queue.as_str()
}
