//! The ring member: one sans-IO state machine per member and group.

mod input;
mod membership;
mod output;
mod ring;
mod timer;

use blaze_wire::{GroupId, Instant, MemberId, RingId, SeqRange};
use core::net::SocketAddr;

use crate::frames::{CommitOut, TokenOut};
use crate::window::Window;
use crate::{Buffers, Config, ConfigError, Qos, SendError, Stats};
use timer::{Timer, Timers};

/// Retransmission-request ranges carried on a token.
const RTR: usize = 32;
/// Messages one data frame carries at most.
const MAX_BATCH: usize = 64;

/// Where a member is in the Totem protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
enum State {
    /// Exchanging joins to agree on a new ring's membership.
    Gather,
    /// The commit token is on its first rotation.
    Commit,
    /// On the new ring, exchanging the old ring's messages.
    Recovery,
    /// Ordinary operation on an installed ring.
    Operational,
}

/// Position of this member on one ring.
#[derive(Debug, Clone, Copy, PartialEq)]
struct RingPos {
    ring: RingId,
    /// Local storage offset: the message with sequence number `s` lives at
    /// window position `offset + s`.
    offset: u64,
    /// Every message up to here has been received.
    my_aru: u64,
    /// Highest sequence number seen.
    high_seq: u64,
    /// Highest sequence number delivered.
    delivered: u64,
    /// Every member of the ring holds every message up to here.
    safe_upto: u64,
}

impl RingPos {
    const NONE: RingPos = RingPos {
        ring: RingId { rep: None, seq: 0 },
        offset: 0,
        my_aru: 0,
        high_seq: 0,
        delivered: 0,
        safe_upto: 0,
    };
}

/// A message to multicast.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OutMsg {
    /// A message of the current ring at window position `abs`.
    Regular { abs: u64, repair: bool },
    /// An old ring's message at `old_abs`, re-sent as `new_seq`.
    Recovered { new_seq: u64, old_abs: u64 },
}

/// A step of the delivery plan that installs a ring (extended virtual
/// synchrony): old messages, transitional configuration, recovered
/// messages, regular configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Deliver the held messages at window positions `from..=to`, holes
    /// skipped.
    Deliver { from: u64, to: u64 },
    /// Report a configuration.
    Config(crate::ConfigurationKind),
}

/// What the recovery state knows of the old ring.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Recovery {
    /// This member had an installed ring before.
    had_ring: bool,
    old: RingPos,
    /// The ring this member's recovered messages come from (the ring its
    /// data was stamped with when recovery started).
    old_tag: RingId,
    /// Lowest aru of the old ring's members that move on together.
    low: u64,
    /// Highest sequence number any of them delivered.
    cutoff: u64,
    /// Highest sequence number of the old ring held (recovery adds some).
    top: u64,
    /// Consecutive token visits with nothing left anywhere.
    clean_visits: u8,
    /// The token's sequence number at those visits.
    clean_seq: u64,
}

/// A Totem single-ring member: total order, agreed and safe delivery,
/// membership with extended virtual synchrony, as an allocation-free
/// sans-IO state machine.
///
/// Capacities are const generics: `N` members, a window of `W` messages,
/// message slots of `P` bytes (topic and payload together, see
/// [`Totem::MAX_PAYLOAD`]) and a send queue of `Q` messages. The messages
/// themselves live in [`Buffers`] the caller lends (`W` slot headers and
/// `(W + Q) * P` bytes), so the machine stays small whatever the window.
///
/// - Getters: [`id`](Totem::id), [`ring`](Totem::ring),
///   [`members`](Totem::members), [`is_operational`](Totem::is_operational),
///   [`stats`](Totem::stats), [`queued`](Totem::queued),
///   [`occupancy`](Totem::occupancy).
/// - Commands: [`send`](Totem::send), [`send_topic`](Totem::send_topic).
/// - Inputs: [`handle_datagram`](Totem::handle_datagram),
///   [`handle_timeout`](Totem::handle_timeout).
/// - Outputs, polled after every input in this order:
///   [`poll_transmit`](Totem::poll_transmit) until `None`,
///   [`poll_event`](Totem::poll_event) until `None`, then
///   [`poll_timeout`](Totem::poll_timeout).
///
/// Time only moves forward; a spurious `handle_timeout` is a no-op. A new
/// member starts in the gather state and forms (or joins) a ring with the
/// members it hears from.
///
/// ```
/// use blaze_proto_totem::{Config, Event, Qos, Totem};
/// use blaze_wire::{GroupId, Instant, MemberId};
///
/// use blaze_proto_totem::{Buffers, Slot};
///
/// let now = Instant::ZERO;
/// let mut slots = vec![Slot::EMPTY; Buffers::slots_needed(64)];
/// let mut bytes = vec![0u8; Buffers::bytes_needed(64, 96, 8)];
/// let buffers = Buffers { slots: &mut slots, bytes: &mut bytes };
/// let mut solo: Totem<'_, 4, 64, 96, 8> =
///     Totem::new(now, MemberId::from_u128(1), GroupId::from_name("demo"), Config::lan(), buffers)
///         .unwrap();
/// solo.send(now, Qos::Safe, b"hello").unwrap();
/// // Alone, the member forms a ring of one after the consensus timeout.
/// let mut t = now;
/// let mut buf = [0u8; 1500];
/// let mut got = None;
/// for _ in 0..100 {
///     while solo.poll_transmit(t, &mut buf).is_some() {}
///     while let Some(ev) = solo.poll_event() {
///         if let Event::Deliver { payload, safe, .. } = ev {
///             got = Some((payload.to_vec(), safe));
///         }
///     }
///     t = solo.poll_timeout().unwrap();
///     solo.handle_timeout(t);
/// }
/// assert_eq!(got, Some((b"hello".to_vec(), true)));
/// ```
pub struct Totem<'a, const N: usize, const W: usize, const P: usize, const Q: usize> {
    me: MemberId,
    group: u64,
    config: Config,
    stats: Stats,
    state: State,
    timers: Timers,

    /// The current ring (or the ring being recovered onto).
    pos: RingPos,
    /// The ring this member's data frames are stamped with.
    tag: RingId,
    members: heapless::Vec<MemberId, N>,
    /// The old ring's members while recovering from it.
    old_members: heapless::Vec<MemberId, N>,
    installed: bool,
    max_ring_seq: u64,
    last_token_seq: u64,
    last_aru_fwd: u64,
    my_last_sent: u32,
    my_last_backlog: u32,
    /// Visits to wait after installing before sending (see `install`).
    quiet_visits: u8,
    /// The messages of the window and of the send queue.
    window: Window<'a, W, P, Q>,

    outq: heapless::Deque<OutMsg, W>,
    token_out: Option<TokenOut<RTR>>,
    /// A token received for this member, processed at the next poll (see
    /// `take_token_in`), and when it came.
    token_in: Option<(TokenOut<RTR>, Instant)>,
    token_fwd: Option<TokenOut<RTR>>,
    token_held: Option<TokenOut<RTR>>,
    retransmits_left: u32,
    /// Until then an idle token is passed on at once (see
    /// [`Config::token_linger`]).
    busy_until: Instant,
    /// A token request (an empty data batch on the ring) is due.
    request_pending: bool,
    /// A token request went out since this member last held the token.
    requested: bool,
    /// The token left this member's last visit with nothing going on.
    left_quiet: bool,
    /// Another member asked for the token since it was last here: pass it
    /// on at once.
    wanted: bool,

    proc_set: heapless::Vec<MemberId, N>,
    fail_set: heapless::Vec<MemberId, N>,
    consensus: heapless::Vec<MemberId, N>,
    /// Members heard from since the consensus timer was last armed.
    heard: heapless::Vec<MemberId, N>,
    gather_since: Instant,
    /// Joins read before then may predate a stall of this process.
    stale_until: Instant,
    join_pending: bool,
    /// The representative's ring announcement is due.
    merge_pending: bool,
    commit: Option<CommitOut<N>>,
    commit_out: bool,
    /// Hop of the commit token forwarded last, while it may need resending.
    commit_fwd: Option<u64>,

    recovery: Recovery,
    /// New-ring sequence number to old-ring sequence number of recovered
    /// messages, indexed by new sequence number modulo `W`.
    rlog: [(u64, u64); W],

    plan: heapless::Deque<Step, 4>,
    plan_ring: RingId,
    trans_members: heapless::Vec<MemberId, N>,

    addrs: heapless::Vec<(MemberId, SocketAddr), N>,
}

impl<'a, const N: usize, const W: usize, const P: usize, const Q: usize> Totem<'a, N, W, P, Q> {
    /// The largest payload [`send`](Totem::send) accepts; with
    /// [`send_topic`](Totem::send_topic), the topic and the payload together.
    pub const MAX_PAYLOAD: usize = P;

    /// The longest topic [`send_topic`](Totem::send_topic) accepts.
    pub const MAX_TOPIC: usize = if P < 255 { P } else { 255 };

    /// A member `me` of `group`, starting in the gather state at `now`,
    /// keeping its messages in `buffers`.
    ///
    /// # Errors
    ///
    /// The configuration is invalid ([`Config::validate`]), or the
    /// buffers do not fit the capacities ([`Totem::check_buffers`]).
    pub fn new(
        now: Instant,
        me: MemberId,
        group: GroupId,
        config: Config,
        buffers: Buffers<'a>,
    ) -> Result<Self, ConfigError> {
        config.validate()?;
        if N == 0 || W < 2 || P == 0 {
            return Err(ConfigError::FlowControl);
        }
        let window = Window::new(buffers, me).map_err(|(e, _)| e)?;
        let mut t = Totem {
            me,
            group: group.raw(),
            config,
            stats: Stats::default(),
            state: State::Gather,
            timers: Timers::default(),
            pos: RingPos::NONE,
            tag: RingPos::NONE.ring,
            members: heapless::Vec::new(),
            old_members: heapless::Vec::new(),
            installed: false,
            max_ring_seq: 0,
            last_token_seq: 0,
            last_aru_fwd: 0,
            my_last_sent: 0,
            my_last_backlog: 0,
            quiet_visits: 0,
            window,
            outq: heapless::Deque::new(),
            token_out: None,
            token_in: None,
            token_fwd: None,
            token_held: None,
            retransmits_left: 0,
            busy_until: now,
            request_pending: false,
            requested: false,
            left_quiet: false,
            wanted: false,
            proc_set: heapless::Vec::new(),
            fail_set: heapless::Vec::new(),
            consensus: heapless::Vec::new(),
            heard: heapless::Vec::new(),
            gather_since: now,
            stale_until: now,
            join_pending: false,
            merge_pending: false,
            commit: None,
            commit_out: false,
            commit_fwd: None,
            recovery: Recovery {
                had_ring: false,
                old: RingPos::NONE,
                old_tag: RingPos::NONE.ring,
                low: 0,
                cutoff: 0,
                top: 0,
                clean_visits: 0,
                clean_seq: 0,
            },
            rlog: [(0, 0); W],
            plan: heapless::Deque::new(),
            plan_ring: RingPos::NONE.ring,
            trans_members: heapless::Vec::new(),
            addrs: heapless::Vec::new(),
        };
        t.enter_gather(now);
        Ok(t)
    }

    /// Checks that `buffers` fit a `Totem<N, W, P, Q>`: exactly
    /// [`Buffers::slots_needed(W)`](Buffers::slots_needed) slots and at
    /// least [`Buffers::bytes_with_pool(W, P, Q, 2)`](Buffers::bytes_with_pool)
    /// bytes (the bytes beyond the inline ones are the pool of large
    /// messages; [`Buffers::bytes_needed`] has a pool slot per message).
    ///
    /// # Errors
    ///
    /// [`ConfigError::Buffers`] when they do not.
    pub fn check_buffers(buffers: &Buffers<'_>) -> Result<(), ConfigError> {
        if buffers.slots.len() != Buffers::slots_needed(W)
            || buffers.bytes.len() < Buffers::bytes_with_pool(W, P, Q, 2)
        {
            return Err(ConfigError::Buffers);
        }
        Ok(())
    }

    /// Ends the machine and hands its buffers back (to build the next
    /// machine in them).
    pub fn into_buffers(self) -> Buffers<'a> {
        self.window.into_buffers()
    }

    /// Sets the lowest ring sequence number this member will use, for a
    /// process that restarts with the same id: ring ids must never repeat,
    /// so such a process passes one more than the highest ring sequence
    /// number it saw before (kept in persistent storage), as corosync does.
    /// A process with a fresh id needs nothing.
    ///
    /// ```
    /// use blaze_proto_totem::{Config, Totem};
    /// use blaze_wire::{GroupId, Instant, MemberId};
    /// # use blaze_proto_totem::{Buffers, Slot};
    /// # let mut slots = [Slot::EMPTY; 64];
    /// # let mut bytes = vec![0u8; Buffers::bytes_needed(64, 96, 8)];
    /// # let buffers = Buffers { slots: &mut slots, bytes: &mut bytes };
    /// let m: Totem<'_, 4, 64, 96, 8> =
    ///     Totem::new(Instant::ZERO, MemberId::from_u128(1), GroupId::from_name("g"), Config::lan(), buffers)
    ///         .unwrap()
    ///         .with_ring_seq_floor(1_000);
    /// assert_eq!(m.ring(), None);
    /// ```
    #[must_use]
    pub fn with_ring_seq_floor(mut self, seq: u64) -> Self {
        self.raise_ring_seq_floor(seq);
        self
    }

    /// [`with_ring_seq_floor`](Totem::with_ring_seq_floor) on a machine in
    /// place (a large machine need not be moved to set it).
    pub fn raise_ring_seq_floor(&mut self, seq: u64) {
        self.max_ring_seq = self.max_ring_seq.max(seq);
    }

    /// The highest ring sequence number this member has seen (what a
    /// restarting process keeps for [`with_ring_seq_floor`](Totem::with_ring_seq_floor)).
    pub fn max_ring_seq(&self) -> u64 {
        self.max_ring_seq.max(self.pos.ring.seq)
    }

    /// This member's id.
    pub fn id(&self) -> MemberId {
        self.me
    }

    /// The installed ring, if any (the last one while a new ring forms).
    pub fn ring(&self) -> Option<RingId> {
        match self.state {
            State::Operational => Some(self.pos.ring),
            State::Recovery if self.recovery.had_ring => Some(self.recovery.old.ring),
            _ if self.installed && self.state != State::Recovery => Some(self.pos.ring),
            _ => None,
        }
    }

    /// The members of the current ring in ascending id order (empty before
    /// the first ring).
    pub fn members(&self) -> &[MemberId] {
        if self.state == State::Recovery {
            if self.recovery.had_ring {
                &self.old_members
            } else {
                &[]
            }
        } else if self.installed {
            &self.members
        } else {
            &[]
        }
    }

    /// True on an installed ring (not forming a new one).
    pub fn is_operational(&self) -> bool {
        self.state == State::Operational
    }

    /// The counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Messages in the send queue.
    pub fn queued(&self) -> usize {
        self.window.queued()
    }

    /// Messages held in the window plus queued ones.
    pub fn occupancy(&self) -> usize {
        self.window.occupancy() + self.window.queued()
    }

    /// Queues `payload` for total-order broadcast; it goes onto the ring the
    /// next time the token visits this member (at once if this member holds
    /// an idle token; while a new ring forms, it is sent on the new ring).
    ///
    /// # Errors
    ///
    /// [`SendError::TooLarge`] if `payload` exceeds
    /// [`MAX_PAYLOAD`](Totem::MAX_PAYLOAD); [`SendError::WouldBlock`] if the
    /// queue is full (back-pressure). Nothing is queued on error.
    pub fn send(&mut self, now: Instant, qos: Qos, payload: &[u8]) -> Result<(), SendError> {
        self.send_topic(now, qos, "", payload)
    }

    /// Queues `payload` on `topic` for total-order broadcast, as
    /// [`send`](Totem::send); the topic travels in the message's
    /// `DataMessage.topic` field and comes out in
    /// [`Event::Deliver`](crate::Event::Deliver).
    ///
    /// ```
    /// use blaze_proto_totem::{Config, Qos, SendError, Totem};
    /// use blaze_wire::{GroupId, Instant, MemberId};
    /// # use blaze_proto_totem::{Buffers, Slot};
    /// # let mut slots = [Slot::EMPTY; 64];
    /// # let mut bytes = vec![0u8; Buffers::bytes_needed(64, 16, 8)];
    /// # let buffers = Buffers { slots: &mut slots, bytes: &mut bytes };
    /// let mut m: Totem<'_, 4, 64, 16, 8> =
    ///     Totem::new(Instant::ZERO, MemberId::from_u128(1), GroupId::from_name("g"), Config::lan(), buffers)
    ///         .unwrap();
    /// assert_eq!(m.send_topic(Instant::ZERO, Qos::Agreed, "orders", b"0123456789"), Ok(()));
    /// assert_eq!(
    ///     m.send_topic(Instant::ZERO, Qos::Agreed, "orders", b"0123456789a"),
    ///     Err(SendError::TooLarge)
    /// );
    /// ```
    ///
    /// # Errors
    ///
    /// [`SendError::TooLarge`] if the topic is longer than
    /// [`MAX_TOPIC`](Totem::MAX_TOPIC) or topic and payload together exceed
    /// [`MAX_PAYLOAD`](Totem::MAX_PAYLOAD); [`SendError::WouldBlock`] if the
    /// queue is full, or the message is larger than [`INLINE`](crate::INLINE)
    /// and the pool of large messages has no slot to spare (back-pressure).
    /// Nothing is queued on error.
    pub fn send_topic(
        &mut self,
        now: Instant,
        qos: Qos,
        topic: &str,
        payload: &[u8],
    ) -> Result<(), SendError> {
        if topic.len() > Self::MAX_TOPIC || topic.len() + payload.len() > Self::MAX_PAYLOAD {
            return Err(SendError::TooLarge);
        }
        if self.window.queued() >= Q {
            self.stats.would_block += 1;
            return Err(SendError::WouldBlock);
        }
        if !self.window.push_queued(qos == Qos::Safe, topic, payload) {
            // The size fits a slot: the pool of large messages is full
            // until the ring frees some.
            self.stats.would_block += 1;
            return Err(SendError::WouldBlock);
        }
        if self.token_held.is_some() {
            // An idle token waits here: take it now, not after the hold
            // (in the next `poll_transmit`, so that the messages queued
            // meanwhile go out together).
            self.timers.set(Timer::TokenHold, now);
        } else if self.state == State::Operational
            && self.members.len() > 1
            && !self.requested
            && self.token_in.is_none()
            && (self.left_quiet || now >= self.busy_until)
        {
            // The ring was quiet when the token last left, or a while ago:
            // it may be held idle elsewhere, so ask for it (once per visit
            // of the token here). A busy ring turns without holds and needs
            // no request.
            self.requested = true;
            self.request_pending = true;
        }
        Ok(())
    }

    /// The next deadline (one already passed while a received token
    /// waits to be processed).
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match (self.timers.next(), &self.token_in) {
            (Some(d), Some((_, at))) => Some(d.min(*at)),
            (d, t) => d.or(t.as_ref().map(|(_, at)| *at)),
        }
    }

    /// Processes the token received since the last poll, if it is still
    /// this member's: after every datagram that came in with it, so that
    /// the data its predecessor multicast just before passing it on (read
    /// from another socket, or later in the same batch) is not asked for
    /// again on the token.
    fn take_token_in(&mut self, now: Instant) {
        let Some((t, _)) = self.token_in.take() else {
            return;
        };
        let live = matches!(self.state, State::Operational | State::Recovery);
        if live && t.ring == self.pos.ring {
            self.process_token(now, t);
        }
    }

    /// A deadline passed (a spurious call is a no-op).
    ///
    /// A token received since the last poll waits for the next
    /// [`poll_transmit`](Totem::poll_transmit), so that the messages the
    /// caller queues in between (a driver runs its application's commands
    /// after the timeout) go out on this visit rather than a rotation
    /// later; only when one of the member's timers is due is the token
    /// taken here first (it shows the ring alive before its timers run).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.check_stall(now);
        if self.timers.next().is_some_and(|d| d <= now) {
            self.take_token_in(now);
        }
        // Each timer fires at most once per call: one re-armed for `now`
        // waits for the next call.
        for t in self.timers.take_expired(now).into_iter().flatten() {
            self.on_timer(now, t);
        }
    }

    /// The token timeout passed more than a join interval ago without
    /// being handled: this process stalled (a scheduling pause, a debug
    /// build on a loaded machine) while it had a ring, and what it reads
    /// now may have waited out the stall. It leaves the ring at once (the
    /// others have moved on without it, and a token taken now would keep it
    /// on the old ring for another timeout), and for a join interval it
    /// drops the joins it reads: the others' joins of the round held while
    /// it stalled name it failed, and taking those up would make it fail
    /// every member that has long since moved on, and them fail it in turn.
    /// Fresh joins come again within a join interval.
    fn check_stall(&mut self, now: Instant) {
        let Some(deadline) = self.timers.at(Timer::TokenLoss) else {
            return;
        };
        if deadline + self.config.join_interval > now {
            return;
        }
        debug!(
            "{} {:x} stalled past its token timeout of {}",
            now,
            self.me.as_u128() & 0xffff,
            deadline
        );
        self.stale_until = now + self.config.join_interval;
        self.timers.stop(Timer::TokenLoss);
        self.on_timer(now, Timer::TokenLoss);
    }

    fn on_timer(&mut self, now: Instant, t: Timer) {
        match t {
            Timer::TokenLoss => {
                if self.state != State::Gather {
                    self.stats.token_losses += 1;
                    debug!(
                        "{} {:x} token lost in {:?}",
                        now,
                        self.me.as_u128() & 0xffff,
                        self.state
                    );
                    self.enter_gather(now);
                }
            }
            Timer::TokenRetransmit => self.retransmit_token(now),
            Timer::TokenHold => {
                if let Some(t) = self.token_held.take() {
                    // Alone on the ring, or a message queued here since the
                    // token was held: a visit again, as if it had come back
                    // at once (held only when everything up to its `seq` was
                    // safe here, so the safe rule learns nothing wrong).
                    // Recovery and the quiet visits after an install count
                    // rotations: no extra visit there.
                    let again = t.next == self.me
                        || (self.state == State::Operational
                            && self.quiet_visits == 0
                            && self.window.queued() > 0);
                    if again {
                        self.process_token(now, t);
                    } else {
                        self.token_out = Some(t);
                    }
                }
            }
            Timer::Join => {
                if self.state == State::Gather {
                    self.join_pending = true;
                    self.timers
                        .set(Timer::Join, now + self.config.join_interval);
                    self.check_consensus(now);
                }
            }
            Timer::Consensus => self.consensus_timeout(now),
            Timer::Merge => {
                if self.state == State::Operational && self.members.first() == Some(&self.me) {
                    self.merge_pending = true;
                    self.timers
                        .set(Timer::Merge, now + self.config.merge_interval);
                }
            }
        }
    }

    /// Remembers the unicast address of a member.
    fn learn(&mut self, id: MemberId, from: SocketAddr) {
        if let Some(e) = self.addrs.iter_mut().find(|(m, _)| *m == id) {
            e.1 = from;
            return;
        }
        if self.addrs.is_full() {
            // Forget someone that is not on the ring.
            let members = &self.members;
            if let Some(i) = self.addrs.iter().position(|(m, _)| !members.contains(m)) {
                self.addrs.swap_remove(i);
            } else {
                return;
            }
        }
        let _ = self.addrs.push((id, from));
    }

    fn addr_of(&self, id: MemberId) -> Option<SocketAddr> {
        self.addrs.iter().find(|(m, _)| *m == id).map(|(_, a)| *a)
    }

    /// The member after `me` on the ring `members`.
    fn successor(members: &[MemberId], me: MemberId) -> MemberId {
        let i = members.iter().position(|m| *m == me).unwrap_or(0);
        members
            .get(i + 1)
            .or_else(|| members.first())
            .copied()
            .unwrap_or(me)
    }
}

/// Inserts `seq` into a list of ascending, disjoint inclusive ranges,
/// merging neighbours; `false` when a new range does not fit.
fn add_range<const R: usize>(rtr: &mut heapless::Vec<SeqRange, R>, seq: u64) -> bool {
    if rtr.iter().any(|r| r.start <= seq && seq <= r.end) {
        return true;
    }
    if let Some(r) = rtr.iter_mut().find(|r| r.end.checked_add(1) == Some(seq)) {
        r.end = seq;
        return true;
    }
    rtr.push(SeqRange {
        start: seq,
        end: seq,
    })
    .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_merge() {
        let mut v = heapless::Vec::<SeqRange, 2>::new();
        assert!(add_range(&mut v, 3));
        assert!(add_range(&mut v, 4));
        assert!(add_range(&mut v, 4));
        assert!(add_range(&mut v, 9));
        assert!(!add_range(&mut v, 20));
        assert_eq!(v.len(), 2);
        assert_eq!((v[0].start, v[0].end), (3, 4));
    }
}
