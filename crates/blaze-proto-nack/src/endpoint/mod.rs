//! The state machine of one member in one group.
//!
//! Inputs live in `input.rs`, outputs (transmit and timers) in
//! `output.rs`.

mod fec;
mod input;
mod output;

use blaze_wire::{Duration, GroupId, Instant, MemberId, Rng, Seq};

use crate::config::{Config, ConfigError};
use crate::error::{PeerTableFull, SendError};
use crate::event::{CutReason, Event};
use crate::fec::{Fec, FecBuffers, FecStats};
use crate::peer::{Flow, Peer};
use crate::receiver::{ReasmBuf, Receiver, RxSlot, Step};
use crate::rtt::RttEstimator;
use crate::send_window::{SendSlot, SendWindow};
use crate::stats::{RecvStats, Stats};
use crate::token_bucket::TokenBucket;

/// Most ranges in one NACK frame.
const MAX_NACK_RANGES: usize = 64;

/// Most messages in one data datagram.
const MAX_BATCH: usize = 64;

/// Messages delivered from one sender in a row before the next sender
/// with a message gets its turn: delivery stays fair between senders,
/// and a burst from one sender does not look through every peer per
/// message.
const BURST: u32 = 64;

const QOS_BEST_EFFORT: u32 = 0;
const QOS_RELIABLE: u32 = 1;
const QOS_RELIABLE_FEC: u32 = 2;

/// The storage an [`Endpoint`] borrows for its lifetime.
///
/// - `send_index`: one [`SendSlot`] per sequence number the retransmit
///   window can hold; a message of `n` fragments needs `n` of them.
/// - `send_bytes`: the payload bytes of the retransmit window (at least
///   one fragment).
/// - `recv_bytes`: the receive rings of the remote streams,
///   [`Buffers::recv_bytes_needed`] bytes or more.
/// - `recv_slots`: the receive windows of the remote streams, one
///   [`RxSlot`] per sequence number: [`Buffers::recv_slots_needed`]
///   (`PEERS * W`) entries or more.
/// - `reassembly`: one message being reassembled at a time (its length is
///   the largest fragmented message this member can receive; may be empty
///   when every message fits one datagram).
#[derive(Debug)]
pub struct Buffers<'a> {
    /// Entries of the retransmit window.
    pub send_index: &'a mut [SendSlot],
    /// Payload bytes of the retransmit window.
    pub send_bytes: &'a mut [u8],
    /// Receive rings of every remote stream.
    pub recv_bytes: &'a mut [u8],
    /// Receive window entries of every remote stream.
    pub recv_slots: &'a mut [RxSlot],
    /// The reassembly buffer.
    pub reassembly: &'a mut [u8],
}

impl Buffers<'_> {
    /// Bytes of `recv_bytes` needed by an `Endpoint<PEERS, W>`: one ring
    /// of [`Config::recv_region_len`] bytes per peer, whatever the window
    /// `W` in messages (kept as a parameter for callers sizing by both).
    pub const fn recv_bytes_needed(config: &Config, peers: usize, _window: usize) -> usize {
        peers * config.recv_region_len()
    }

    /// Entries of `recv_slots` needed by an `Endpoint<PEERS, W>`:
    /// `peers * window`.
    pub const fn recv_slots_needed(peers: usize, window: usize) -> usize {
        peers * window
    }
}

/// Who an endpoint is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity {
    /// The local member.
    pub member: MemberId,
    /// The group.
    pub group: GroupId,
    /// Seed of the endpoint's random generator (NACK back-off jitter and
    /// the initial sequence number).
    pub seed: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Timer {
    /// Next heartbeat.
    Heartbeat = 0,
    /// A partial batch waits for more messages.
    Linger = 1,
    /// The data rate limit admits the next datagram.
    Pace = 2,
    /// The repair rate limit admits the next repair.
    Repair = 3,
}

const TIMERS: usize = 4;

/// One member of one group: a reliable (or best-effort) sending stream and
/// a table of up to `PEERS` remote members, each with a receive window of
/// `W` sequence numbers.
///
/// This is a sans-IO state machine: it never touches a socket or a clock.
///
/// - **Inputs**: [`handle_datagram`](Self::handle_datagram) for every
///   datagram of the group, [`handle_timeout`](Self::handle_timeout) when
///   the deadline of [`poll_timeout`](Self::poll_timeout) passes (a
///   spurious call is a no-op).
/// - **Commands**: [`send`](Self::send), [`add_peer`](Self::add_peer),
///   [`remove_peer`](Self::remove_peer), [`set_config`](Self::set_config),
///   [`set_open`](Self::set_open). Only frames of added peers are accepted
///   unless the endpoint is open.
/// - **Outputs**, to drain after every input or command:
///   [`poll_transmit`](Self::poll_transmit) until `None` (with a buffer of
///   at least `mtu` bytes), then [`poll_event`](Self::poll_event) until
///   `None`, then [`poll_timeout`](Self::poll_timeout).
/// - **Getters**: [`stats`](Self::stats), [`recv_stats`](Self::recv_stats),
///   [`rtt`](Self::rtt), [`occupancy`](Self::occupancy), ...
///
/// `now` must never go backwards. A delivered [`Event`] borrows the
/// endpoint; its storage is reused at the next call.
///
/// ```
/// use blaze_proto_nack::{Buffers, Config, Endpoint, Event, Identity, RxSlot, SendSlot};
/// use blaze_wire::{GroupId, Instant, MemberId};
///
/// type Store = ([SendSlot; 16], [u8; 4096], Vec<u8>, [RxSlot; 2 * 8]);
/// fn endpoint<'a>(id: u128, store: &'a mut Store) -> Endpoint<'a, 2, 8> {
///     let mut config = Config::lan();
///     config.flow_window = core::num::NonZeroU32::new(8).unwrap();
///     let id = Identity { member: MemberId::from_u128(id), group: GroupId::from_name("g"), seed: id as u64 };
///     let (index, bytes, recv, slots) = store;
///     let buffers = Buffers {
///         send_index: index, send_bytes: bytes, recv_bytes: recv, recv_slots: slots, reassembly: &mut [],
///     };
///     Endpoint::new(Instant::ZERO, config, id, buffers).unwrap()
/// }
/// let need = Buffers::recv_bytes_needed(&Config::lan(), 2, 8);
/// let mut sa = ([SendSlot::EMPTY; 16], [0u8; 4096], vec![0u8; need], [RxSlot::EMPTY; 2 * 8]);
/// let mut sb = ([SendSlot::EMPTY; 16], [0u8; 4096], vec![0u8; need], [RxSlot::EMPTY; 2 * 8]);
/// let (mut a, mut b) = (endpoint(1, &mut sa), endpoint(2, &mut sb));
/// let now = Instant::from_micros(10);
/// // Each accepts frames only from the peers it was given.
/// a.add_peer(now, MemberId::from_u128(2)).unwrap();
/// b.add_peer(now, MemberId::from_u128(1)).unwrap();
/// a.send(now, b"hello").unwrap();
/// let mut buf = [0u8; 1500];
/// let from = "10.0.0.1:5000".parse().unwrap();
/// while let Some(t) = a.poll_transmit(now, &mut buf) {
///     b.handle_datagram(now, from, &buf[..t.len]);
/// }
/// match b.poll_event(now) {
///     Some(Event::Message { payload, .. }) => assert_eq!(payload, b"hello"),
///     other => panic!("{other:?}"),
/// }
/// ```
#[derive(Debug)]
pub struct Endpoint<'a, const PEERS: usize, const W: usize> {
    cfg: Config,
    id: MemberId,
    group: GroupId,
    rng: Rng,
    window: SendWindow<'a>,
    sent_any: bool,
    recv_bytes: &'a mut [u8],
    /// `W` entries per peer, peer `i` at `i * W`.
    recv_slots: &'a mut [RxSlot],
    reasm: ReasmBuf<'a>,
    /// The topic of the last message delivered: a message on the same
    /// topic (stored as bytes) is compared with it instead of checked
    /// as UTF-8 again.
    last_topic: heapless::String<{ crate::MAX_TOPIC_LEN }>,
    peers: [Option<Peer<W>>; PEERS],
    timers: [Option<Instant>; TIMERS],
    hb_interval: Duration,
    hb_pending: bool,
    data_since_hb: bool,
    last_data_tx: Option<Instant>,
    data_bucket: Option<TokenBucket>,
    repair_bucket: TokenBucket,
    /// A delivered event whose storage is released at the next call.
    pending: Option<(usize, Step)>,
    /// Peers that may have a receive stream: set before a peer's stream
    /// is made, cleared when the peer goes (a superset, so that event
    /// polling looks through a few bytes, not every peer).
    receiving: [bool; PEERS],
    /// What [`poll_timeout`](Endpoint::poll_timeout) last returned, while
    /// nothing it reads has changed since (`None`: ask again). Only
    /// [`send`](Endpoint::send) keeps it, unless it released a delivered
    /// event or cut a receiver loose: a publisher asks after every
    /// message.
    deadline: Option<Option<Instant>>,
    /// Which entries of `peers` hold a peer (so that looking through the
    /// peers reads a few bytes, not every slot).
    present: [bool; PEERS],
    /// The next event, found by [`has_event`](Endpoint::has_event) and
    /// not handed out yet.
    staged: Option<Staged>,
    /// Some peer holds a cut-loose notice (so that delivering a message
    /// does not look through every peer for one).
    notices: bool,
    /// The peer whose turn it is to deliver.
    rr: usize,
    /// Messages delivered from `rr` in a row (up to [`BURST`]).
    burst: u32,
    stats: Stats,
    fec: Fec<'a>,
    /// Frames of unknown senders create peers.
    open: bool,
}

/// An event found but not handed out yet (see
/// [`Endpoint::has_event`]).
#[derive(Debug, Clone, Copy)]
enum Staged {
    CutLoose {
        member: MemberId,
        reason: CutReason,
    },
    Lost {
        sender: MemberId,
        stream: u32,
        from: Seq,
        to: Seq,
    },
    /// A message of peer `peer` (a `Slot` or `Reassembled` step).
    Message {
        peer: usize,
        sender: MemberId,
        stream: u32,
        step: Step,
    },
}

impl<'a, const PEERS: usize, const W: usize> Endpoint<'a, PEERS, W> {
    /// A new endpoint. Its first sequence number is drawn from the seed.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when `config` is invalid, `flow_window > W`, or the
    /// buffers are too small; nothing is created.
    pub fn new(
        now: Instant,
        config: Config,
        identity: Identity,
        buffers: Buffers<'a>,
    ) -> Result<Self, ConfigError> {
        Self::with_fec(now, config, identity, buffers, FecBuffers::default())
    }

    /// A new endpoint with storage for forward error correction: needed to
    /// send a [`ReliableFec`](crate::Reliability::ReliableFec) stream (scratch of
    /// [`FecBuffers::scratch_needed`] for its `k`), and to rebuild other
    /// members' FEC blocks (the parity pool; without it this member asks
    /// for plain retransmissions).
    ///
    /// ```
    /// use blaze_proto_nack::{Buffers, Config, Endpoint, FecBuffers, FecConfig, Identity, Reliability, RxSlot, SendSlot};
    /// use blaze_wire::{GroupId, Instant, MemberId};
    ///
    /// # #[cfg(not(feature = "fec"))] fn main() {}
    /// # #[cfg(feature = "fec")]
    /// # fn main() -> Result<(), blaze_proto_nack::ConfigError> {
    /// let mut config = Config::lan();
    /// config.flow_window = core::num::NonZeroU32::new(16).unwrap();
    /// config.reliability = Reliability::ReliableFec(FecConfig::proactive(8, 2));
    /// let (mut index, mut bytes) = ([SendSlot::EMPTY; 32], vec![0u8; 16 * 1024]);
    /// let mut recv = vec![0u8; Buffers::recv_bytes_needed(&config, 2, 16)];
    /// let mut scratch = vec![0u8; FecBuffers::scratch_needed(&config, 8)];
    /// let mut parity = vec![0u8; 8 * FecBuffers::parity_slot_len(&config)];
    /// let mut slots = [RxSlot::EMPTY; 2 * 16];
    /// let buffers = Buffers {
    ///     send_index: &mut index, send_bytes: &mut bytes, recv_bytes: &mut recv, recv_slots: &mut slots, reassembly: &mut [],
    /// };
    /// let fec = FecBuffers { scratch: &mut scratch, parity: &mut parity };
    /// let id = Identity { member: MemberId::from_u128(1), group: GroupId::from_name("g"), seed: 1 };
    /// let ep: Endpoint<'_, 2, 16> = Endpoint::with_fec(Instant::ZERO, config, id, buffers, fec)?;
    /// assert_eq!(ep.fec_stats().blocks, 0);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`Endpoint::new`]; [`ConfigError::Buffers`] also when the FEC
    /// scratch is too small or `k > W`.
    pub fn with_fec(
        now: Instant,
        config: Config,
        identity: Identity,
        buffers: Buffers<'a>,
        fec: FecBuffers<'a>,
    ) -> Result<Self, ConfigError> {
        config.validate()?;
        check_fec::<W>(&config, fec.scratch.len())?;
        if config.flow_window.get() as usize > W {
            return Err(ConfigError::FlowWindow);
        }
        let frag = config.fragment_size();
        if PEERS == 0
            || W == 0
            || buffers.send_index.is_empty()
            || buffers.send_bytes.len() < frag
            || buffers.recv_bytes.len() < Buffers::recv_bytes_needed(&config, PEERS, W)
        {
            return Err(ConfigError::Buffers);
        }
        if buffers.recv_slots.len() < Buffers::recv_slots_needed(PEERS, W) {
            return Err(ConfigError::RecvSlots);
        }
        let mut rng = Rng::new(identity.seed);
        let start = Seq::new(rng.next_u64() >> 1);
        let mut timers = [None; TIMERS];
        if let Some(t) = timers.get_mut(Timer::Heartbeat as usize) {
            *t = Some(now + config.heartbeat_interval);
        }
        Ok(Endpoint {
            cfg: config,
            id: identity.member,
            group: identity.group,
            rng,
            window: SendWindow::new(buffers.send_index, buffers.send_bytes, start),
            sent_any: false,
            recv_bytes: buffers.recv_bytes,
            recv_slots: buffers.recv_slots,
            reasm: ReasmBuf {
                bytes: buffers.reassembly,
                owner: None,
                topic: [0; crate::MAX_TOPIC_LEN],
                topic_len: 0,
            },
            last_topic: heapless::String::new(),
            peers: core::array::from_fn(|_| None),
            timers,
            hb_interval: config.heartbeat_interval,
            hb_pending: false,
            data_since_hb: false,
            last_data_tx: None,
            data_bucket: config
                .rate_limit
                .map(|r| TokenBucket::new(now, r.get(), u64::from(config.burst.get()))),
            repair_bucket: TokenBucket::new(
                now,
                config.repair_rate.get(),
                u64::from(config.burst.get()),
            ),
            pending: None,
            receiving: [false; PEERS],
            present: [false; PEERS],
            deadline: None,
            staged: None,
            notices: false,
            rr: 0,
            burst: 0,
            stats: Stats::default(),
            fec: Fec::new(fec, &config),
            open: false,
        })
    }

    /// Ends the endpoint and gives its storage back (for reuse by a new
    /// endpoint; the contents are unspecified).
    pub fn into_buffers(self) -> Buffers<'a> {
        self.into_all_buffers().0
    }

    /// Ends the endpoint and gives all its storage back, FEC included.
    pub fn into_all_buffers(self) -> (Buffers<'a>, FecBuffers<'a>) {
        let (send_index, send_bytes) = self.window.into_parts();
        let buffers = Buffers {
            send_index,
            send_bytes,
            recv_bytes: self.recv_bytes,
            recv_slots: self.recv_slots,
            reassembly: self.reasm.bytes,
        };
        (buffers, self.fec.into_buffers())
    }

    /// Forward error correction counters.
    pub const fn fec_stats(&self) -> &FecStats {
        &self.fec.stats
    }

    /// Sets the first sequence number of the local stream. Only possible
    /// before the first `send`; returns whether it was applied.
    #[must_use = "the sequence number is not set once sending has started"]
    pub fn set_initial_seq(&mut self, seq: Seq) -> bool {
        self.deadline = None;
        if self.window.len() > 0 || self.sent_any {
            return false;
        }
        self.window.restart(seq);
        self.fec.encoder.clear();
        true
    }

    /// Replaces the configuration. The `mtu` and `recv_window_bytes`
    /// cannot change (the receive rings are laid out by them).
    ///
    /// # Errors
    ///
    /// [`ConfigError`]; the old configuration stays.
    pub fn set_config(&mut self, now: Instant, config: Config) -> Result<(), ConfigError> {
        self.deadline = None;
        config.validate()?;
        check_fec::<W>(&config, self.fec.scratch.len())?;
        if config.mtu != self.cfg.mtu {
            return Err(ConfigError::Mtu);
        }
        if config.recv_region_len() != self.cfg.recv_region_len() {
            return Err(ConfigError::Buffers);
        }
        if config.flow_window.get() as usize > W {
            return Err(ConfigError::FlowWindow);
        }
        self.data_bucket = config
            .rate_limit
            .map(|r| TokenBucket::new(now, r.get(), u64::from(config.burst.get())));
        self.repair_bucket =
            TokenBucket::new(now, config.repair_rate.get(), u64::from(config.burst.get()));
        self.cfg = config;
        Ok(())
    }

    /// The configuration.
    pub const fn config(&self) -> &Config {
        &self.cfg
    }

    /// The local member.
    pub const fn member(&self) -> MemberId {
        self.id
    }

    /// All counters.
    pub const fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Counters of `sender`'s stream as received here.
    pub fn recv_stats(&self, sender: MemberId) -> Option<&RecvStats> {
        self.peer(sender)
            .and_then(|p| p.rx.as_ref())
            .map(|rx| &rx.stats)
    }

    /// Receive counters summed over all remote streams.
    pub fn recv_totals(&self) -> RecvStats {
        let mut t = RecvStats::default();
        for rx in self.peers.iter().flatten().filter_map(|p| p.rx.as_ref()) {
            t.accumulate(&rx.stats);
        }
        t
    }

    /// The smoothed RTT to `member`, once measured.
    pub fn rtt(&self, member: MemberId) -> Option<Duration> {
        self.peer(member)
            .filter(|p| p.rtt.is_measured())
            .map(|p| p.rtt.srtt())
    }

    /// Entries held: messages in the retransmit window plus messages
    /// received and not yet delivered. Bounded by the buffers.
    pub fn occupancy(&self) -> usize {
        self.window.len()
            + self
                .peers
                .iter()
                .flatten()
                .filter_map(|p| p.rx.as_ref())
                .map(Receiver::held)
                .sum::<usize>()
    }

    /// Messages in the retransmit window (sent or waiting to be sent).
    pub fn send_window_len(&self) -> usize {
        self.window.len()
    }

    /// The next sequence number `send` assigns.
    pub fn next_seq(&self) -> Seq {
        self.window.end()
    }

    fn peer(&self, id: MemberId) -> Option<&Peer<W>> {
        self.live_peers().find(|p| p.id == id)
    }

    fn find(&self, id: MemberId) -> Option<usize> {
        (0..PEERS).find(|&i| {
            self.present.get(i) == Some(&true)
                && self
                    .peers
                    .get(i)
                    .and_then(Option::as_ref)
                    .is_some_and(|p| p.id == id)
        })
    }

    /// The peers in the table, in slot order.
    fn live_peers(&self) -> impl Iterator<Item = &Peer<W>> {
        self.peers
            .iter()
            .zip(&self.present)
            .filter_map(|(p, on)| if *on { p.as_ref() } else { None })
    }

    /// A frame from `id`, which is not in the peer table: in an open
    /// endpoint it takes a free slot, otherwise it is refused. Counts the
    /// refusal.
    fn admit(&mut self, id: MemberId, now: Instant) -> Option<usize> {
        if !self.open {
            self.stats.drops.unknown_peer += 1;
            return None;
        }
        let i = self.find_or_insert(id, now);
        if i.is_none() {
            self.stats.drops.peer_table_full += 1;
        }
        i
    }

    /// Whether frames from senders never added with
    /// [`add_peer`](Self::add_peer) are accepted.
    pub const fn is_open(&self) -> bool {
        self.open
    }

    /// Opens the endpoint to any sender (`true`), or closes it to all but
    /// the peers added with [`add_peer`](Self::add_peer) (`false`, the
    /// default).
    ///
    /// A closed endpoint drops every frame of an unknown sender and counts
    /// it in [`Drops::unknown_peer`](crate::Drops::unknown_peer): a
    /// stranger can neither take a peer-table slot nor have its messages
    /// delivered. An open endpoint (an open group without a membership
    /// layer) gives the first frame of an unknown sender a free slot, if
    /// any ([`Drops::peer_table_full`](crate::Drops::peer_table_full)
    /// otherwise). Peers already in the table stay either way.
    pub fn set_open(&mut self, open: bool) {
        self.open = open;
    }

    fn find_or_insert(&mut self, id: MemberId, now: Instant) -> Option<usize> {
        if let Some(i) = self.find(id) {
            return Some(i);
        }
        let i = self.peers.iter().position(Option::is_none)?;
        if let Some(slot) = self.peers.get_mut(i) {
            *slot = Some(Peer::new(id, now, RttEstimator::new(self.cfg.initial_rtt)));
        }
        if let Some(on) = self.present.get_mut(i) {
            *on = true;
        }
        // The new peer's stream starts from empty window entries.
        if let Some(slots) = self.recv_slots.get_mut(i * W..(i + 1) * W) {
            slots.fill(RxSlot::EMPTY);
        }
        Some(i)
    }

    /// Registers `member` as a receiver of the local stream: the window
    /// holds everything from now on until it acknowledges (the membership
    /// layer calls this from a view). Adding a known member is a no-op.
    ///
    /// # Errors
    ///
    /// [`PeerTableFull`]; nothing changed.
    pub fn add_peer(&mut self, now: Instant, member: MemberId) -> Result<(), PeerTableFull> {
        self.deadline = None;
        self.release(now);
        let start = self.window.start();
        let reliable = self.cfg.reliability.is_reliable();
        let i = self.find_or_insert(member, now).ok_or(PeerTableFull)?;
        if let Some(p) = self.peers.get_mut(i).and_then(Option::as_mut)
            && reliable
            && p.flow == Flow::Untracked
        {
            p.flow = Flow::Tracking { next: start };
        }
        Ok(())
    }

    /// Forgets `member` (it left the group): the window no longer waits for
    /// it and its undelivered messages are dropped. Returns whether it was
    /// known.
    pub fn remove_peer(&mut self, now: Instant, member: MemberId) -> bool {
        self.deadline = None;
        self.release(now);
        let Some(i) = self.find(member) else {
            return false;
        };
        if self.reasm.owner == Some(i) {
            self.reasm.owner = None;
        }
        // A message of the member found by `has_event` goes with it.
        if let Some(Staged::Message { peer, .. }) = self.staged
            && peer == i
        {
            self.staged = None;
        }
        if cfg!(feature = "fec") {
            self.fec.pool.free_where(|m| usize::from(m.peer) == i);
        }
        if let Some(slot) = self.peers.get_mut(i) {
            *slot = None;
        }
        if let Some(on) = self.present.get_mut(i) {
            *on = false;
        }
        if let Some(r) = self.receiving.get_mut(i) {
            *r = false;
        }
        true
    }

    fn release(&mut self, now: Instant) {
        let Some((i, step)) = self.pending.take() else {
            return;
        };
        self.deadline = None;
        if let Some(rx) = self
            .peers
            .get_mut(i)
            .and_then(Option::as_mut)
            .and_then(|p| p.rx.as_mut())
        {
            rx.release(step, &mut self.reasm, i, now, &self.cfg);
        }
    }

    fn set_timer(&mut self, timer: Timer, at: Option<Instant>) {
        if let Some(t) = self.timers.get_mut(timer as usize) {
            *t = at;
        }
    }

    fn reliable(&self) -> bool {
        self.cfg.reliability.is_reliable()
    }

    /// The lowest acknowledged position over the receivers the window
    /// waits for; `None` when it waits for nobody.
    fn min_ack(&self) -> Option<Seq> {
        self.live_peers()
            .filter_map(Peer::tracking)
            .reduce(Seq::min_serial)
    }

    fn cut(&mut self, i: usize, reason: CutReason) {
        self.deadline = None;
        if let Some(p) = self.peers.get_mut(i).and_then(Option::as_mut) {
            debug!("cutting loose receiver {}", p.id);
            p.flow = Flow::Released;
            p.notice = Some(reason);
            self.notices = true;
            self.stats.send.receivers_cut_loose += 1;
        }
    }

    /// Queues a message for the group.
    ///
    /// The message is copied into the retransmit window (cut into
    /// fragments if larger than one datagram) and goes out at the next
    /// [`poll_transmit`](Self::poll_transmit). Returns its sequence number
    /// (that of its first fragment).
    ///
    /// # Errors
    ///
    /// - [`SendError::WouldBlock`]: the window is full until receivers
    ///   acknowledge; nothing was queued (back-pressure, never a drop).
    /// - [`SendError::TooLarge`]: it can never fit.
    pub fn send(&mut self, now: Instant, message: &[u8]) -> Result<Seq, SendError> {
        self.send_topic(now, "", message)
    }

    /// Queues a message on `topic` for the group, like
    /// [`send`](Self::send) (which sends on the empty topic). The topic
    /// travels with the message and is delivered in
    /// [`Event::Message::topic`](crate::Event::Message).
    ///
    /// # Errors
    ///
    /// As [`send`](Self::send), plus [`SendError::TopicTooLong`] for a
    /// topic longer than [`MAX_TOPIC_LEN`](crate::MAX_TOPIC_LEN).
    pub fn send_topic(
        &mut self,
        now: Instant,
        topic: &str,
        message: &[u8],
    ) -> Result<Seq, SendError> {
        self.release(now);
        if topic.len() > crate::MAX_TOPIC_LEN {
            return Err(SendError::TopicTooLong);
        }
        let frag = self.cfg.send_fragment_size();
        let pieces = crate::send_window::piece_count(topic.len(), message.len(), frag);
        if message.len() > self.cfg.max_message_len.get() as usize
            || pieces > self.window.capacity()
            || message.len() + topic.len() > self.window.byte_capacity()
        {
            return Err(SendError::TooLarge);
        }
        loop {
            let floor = if self.reliable() {
                self.min_ack().unwrap_or(self.window.next_send())
            } else {
                self.window.next_send()
            };
            while !self.window.fits_topic(topic.len(), message.len(), frag)
                && self.window.start() < floor
                && self.window.evict_one()
            {}
            if self.window.fits_topic(topic.len(), message.len(), frag) {
                break;
            }
            if !self.cut_laggard() {
                self.stats.send.would_block += 1;
                return Err(SendError::WouldBlock);
            }
        }
        let seq = self
            .window
            .push_topic(topic, message, frag)
            .ok_or(SendError::WouldBlock)?;
        self.stats.send.messages_sent += 1;
        Ok(seq)
    }

    /// Cuts loose the slowest receiver if it lags beyond `max_lag`.
    fn cut_laggard(&mut self) -> bool {
        let Some(max) = self.cfg.max_lag else {
            return false;
        };
        // Lag counts every accepted message, sent or held back by flow control.
        let end = self.window.end();
        let slowest = self
            .peers
            .iter()
            .enumerate()
            .filter_map(|(i, p)| Some((i, p.as_ref()?.tracking()?)))
            .reduce(|a, b| if b.1 < a.1 { b } else { a });
        match slowest {
            Some((i, next)) if end.distance_from(next) > i64::from(max.get()) => {
                self.cut(i, CutReason::Lagging);
                true
            }
            _ => false,
        }
    }

    /// The next event. The returned event borrows the endpoint; its
    /// storage is released by the next call on the endpoint.
    #[must_use]
    pub fn poll_event(&mut self, now: Instant) -> Option<Event<'_>> {
        self.deadline = None;
        let staged = match self.staged.take() {
            Some(staged) => staged,
            None => self.stage(now)?,
        };
        self.render(staged)
    }

    /// Whether [`poll_event`](Self::poll_event) has an event now. The
    /// event is found (and what the previous one held released, as
    /// `poll_event` does) but kept for the next `poll_event`, which
    /// returns it whatever happens in between (unless its sender is
    /// [removed](Self::remove_peer)): a caller can ask several endpoints
    /// without holding a borrow of each.
    #[must_use]
    pub fn has_event(&mut self, now: Instant) -> bool {
        self.deadline = None;
        if self.staged.is_none() {
            self.staged = self.stage(now);
        }
        self.staged.is_some()
    }

    /// Releases the previous event and finds the next one.
    fn stage(&mut self, now: Instant) -> Option<Staged> {
        self.release(now);
        if self.notices {
            for p in self.peers.iter_mut().flatten() {
                if let Some(reason) = p.notice.take() {
                    return Some(Staged::CutLoose {
                        member: p.id,
                        reason,
                    });
                }
            }
            self.notices = false;
        }
        let region_len = self.cfg.recv_region_len();
        let max_len = u64::from(self.cfg.max_message_len.get());
        for k in 0..PEERS {
            let i = (self.rr + k) % PEERS;
            if self.receiving.get(i) != Some(&true) {
                continue;
            }
            let Some(p) = self.peers.get_mut(i).and_then(Option::as_mut) else {
                continue;
            };
            let Some(rx) = p.rx.as_mut() else { continue };
            let (Some(region), Some(slots)) = (
                self.recv_bytes.get(i * region_len..(i + 1) * region_len),
                self.recv_slots.get(i * W..(i + 1) * W),
            ) else {
                continue;
            };
            let step = rx.step(region, slots, &mut self.reasm, i, max_len);
            let (sender, stream) = (p.id, rx.stream);
            match step {
                Step::Stalled => {
                    rx.after_consume(now, &self.cfg);
                }
                Step::Lost { from, to } => {
                    rx.after_consume(now, &self.cfg);
                    return Some(Staged::Lost {
                        sender,
                        stream,
                        from,
                        to,
                    });
                }
                Step::Slot { .. } | Step::Reassembled { .. } => {
                    self.burst = if i == self.rr { self.burst + 1 } else { 1 };
                    self.rr = i;
                    if self.burst >= BURST {
                        self.rr = (i + 1) % PEERS;
                        self.burst = 0;
                    }
                    return Some(Staged::Message {
                        peer: i,
                        sender,
                        stream,
                        step,
                    });
                }
            }
        }
        None
    }

    /// The event `staged` stands for; a message's storage is released at
    /// the next call.
    fn render(&mut self, staged: Staged) -> Option<Event<'_>> {
        match staged {
            Staged::CutLoose { member, reason } => Some(Event::ReceiverCutLoose { member, reason }),
            Staged::Lost {
                sender,
                stream,
                from,
                to,
            } => Some(Event::Unrecoverable {
                sender,
                stream,
                from,
                to,
            }),
            Staged::Message {
                peer,
                sender,
                stream,
                step,
            } => {
                self.pending = Some((peer, step));
                let (seq, topic, payload) = match step {
                    Step::Slot {
                        seq,
                        offset,
                        len,
                        topic_len,
                    } => {
                        let at = peer * self.cfg.recv_region_len() + offset;
                        let bytes = self.recv_bytes.get(at - topic_len..at).unwrap_or(&[]);
                        if bytes != self.last_topic.as_bytes() {
                            self.last_topic.clear();
                            // Not UTF-8 (or too long): delivered as "".
                            if let Ok(t) = core::str::from_utf8(bytes)
                                && self.last_topic.push_str(t).is_err()
                            {
                                self.last_topic.clear();
                            }
                        }
                        (
                            seq,
                            self.last_topic.as_str(),
                            self.recv_bytes.get(at..at + len)?,
                        )
                    }
                    Step::Reassembled { seq, len } => {
                        (seq, self.reasm.topic(), self.reasm.bytes.get(..len)?)
                    }
                    Step::Lost { .. } | Step::Stalled => return None,
                };
                Some(Event::Message {
                    sender,
                    topic,
                    stream,
                    seq,
                    payload,
                })
            }
        }
    }
}
/// The FEC scratch covers the local stream's blocks, and a block fits the
/// receive window.
fn check_fec<const W: usize>(config: &Config, scratch: usize) -> Result<(), ConfigError> {
    match config.reliability.fec() {
        Some(f)
            if usize::from(f.k) > W
                || scratch < FecBuffers::scratch_needed(config, usize::from(f.k)) =>
        {
            Err(ConfigError::Buffers)
        }
        _ => Ok(()),
    }
}

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
