//! The replica: one member's full copy of the replicated maps, its part in
//! ordering every write, and, while it is the coordinator, the sequencer.

mod apply;
mod client;
#[cfg(feature = "ring")]
mod ordered;
mod sequencer;
mod sync;
mod timer;
mod transfer;
mod transmit;

use crate::dedup::Dedup;
use crate::event::{self, Queue, Slot as EventSlot, Tag};
use crate::frames::{self, Epoch, Msg, Side, SyncReport};
use crate::log::Log;
use crate::request::{Held, Pending};
use crate::store::Store;
use crate::view::View;
use crate::{
    Config, ConfigError, EVENT_QUEUE, Event, MAX_HELD, MAX_MEMBERS, MAX_ORIGINS, MAX_PENDING,
    Stats, ViewInfo,
};
use blaze_wire::{Instant, MemberId, Transmit};
use core::net::SocketAddr;
use heapless::Vec;
use timer::Timers;

/// A read of one entry (local: this replica's copy, which may lag the
/// coordinator by the operations in flight).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryRef<'a> {
    /// The value.
    pub value: &'a [u8],
    /// Version: the order number of the write that produced the value.
    pub version: u64,
    /// The member that created the entry.
    pub owner: MemberId,
    /// Option bits ([`FLAG_OWNER_ONLY`](crate::FLAG_OWNER_ONLY), ...).
    pub flags: u32,
}

/// The holder of a key's lock, as this replica last applied it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockInfo {
    /// The holder.
    pub holder: MemberId,
    /// The grant's fencing token.
    pub fence: u64,
    /// The lease, microseconds.
    pub lease_us: u64,
}

/// What this member does for the ordering protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Not the coordinator (or the view has no quorum).
    Member,
    /// Coordinator, collecting every member's history.
    Syncing,
    /// Coordinator, bringing its own state to the chosen history.
    Fetching,
    /// Coordinator, sequencing.
    Active,
}

/// The coordinator's view of one member.
#[derive(Debug, Clone, Copy)]
struct Peer {
    id: MemberId,
    /// Highest contiguous order it acknowledged in this epoch.
    acked: u64,
    /// Whether commits wait for it.
    in_set: bool,
    report: Option<SyncReport>,
    /// It answered this epoch's sync result (ack or parked).
    done: bool,
}

/// What a sync decided.
#[derive(Debug, Clone)]
struct Plan<const M: usize> {
    base: u64,
    winner: Epoch,
    source: MemberId,
    /// Representatives of losing sides to scan (merge policies that
    /// re-apply), with their epoch base.
    losers: Vec<(MemberId, u64), M>,
    /// The side the new epoch belongs to (the winning side in a merge).
    side: Side,
    /// Whether the view merges sides.
    merge: bool,
    /// Whether the coordinator's own side is that side.
    won: bool,
    /// The size of the coordinator's own side before the merge.
    own_size: u64,
}

/// Reordered snapshot records remembered past a gap.
const AHEAD: usize = 8;

/// Whether the merge policies that re-apply a losing side's writes
/// ([`MergePolicy::LatestVersion`](crate::MergePolicy::LatestVersion),
/// [`MergePolicy::Ask`](crate::MergePolicy::Ask)) are built (feature
/// `merge-reapply`). Without them the state only they set (scans, kept
/// entries, merge candidates) reads as absent, so their code folds away.
const REAPPLY: bool = cfg!(feature = "merge-reapply");

/// A snapshot pull in progress.
#[derive(Debug, Clone, Copy)]
struct Pull {
    server: MemberId,
    session: u64,
    cursor: u64,
    /// Scan a losing side (compare, do not install).
    scan: bool,
    /// Only records newer than this are merge candidates (scan).
    newer_than: u64,
    /// Install over this replica's own kept entries (a losing coordinator
    /// with no other member of its side in the view; see
    /// [`Slot::keeps_own`](crate::store::Slot::keeps_own)).
    keep: bool,
    /// Records accepted since the last request.
    got: u8,
    /// Records installed past a gap (reordered): (cursor before, cursor
    /// after), so the frontier can jump over them once the gap is filled.
    ahead: [(u64, u64); AHEAD],
    ahead_len: usize,
    /// The end, if it arrived before the records it follows.
    end: Option<frames::SnapEnd>,
    next_send: Instant,
}

impl Pull {
    /// Scans a losing side (see [`REAPPLY`]).
    fn scan(&self) -> bool {
        REAPPLY && self.scan
    }

    /// Installs over kept entries (see [`REAPPLY`]).
    fn keep(&self) -> bool {
        REAPPLY && self.keep
    }
}

/// A snapshot session this replica serves.
#[derive(Debug, Clone, Copy)]
struct Serve {
    to: MemberId,
    addr: SocketAddr,
    session: u64,
    as_of: u64,
    last: Instant,
    /// Cursor of the record to send next, if one is due.
    reply: Option<u64>,
    /// The cursor right after the record sent before (what the puller
    /// holds); each record names it so a gap is noticed.
    prev: u64,
    /// Records left in this burst.
    burst: u8,
    /// The end was sent; sequencing may resume.
    finished: bool,
}

/// A merge candidate waiting for the application (policy `Ask`) or for room
/// to be sequenced.
#[derive(Debug, Clone)]
struct Candidate<const K: usize, const V: usize> {
    map: u8,
    key: Vec<u8, K>,
    value: Vec<u8, V>,
    owner: MemberId,
    flags: u32,
    ttl_us: u64,
    version: u64,
    /// `Some(take_theirs)` once decided.
    decided: Option<bool>,
    /// When the application was asked (policy `Ask`).
    asked: Option<Instant>,
}

impl<const K: usize, const V: usize> Candidate<K, V> {
    /// A losing side's entry as a snapshot or ring record carried it.
    fn of_record(
        map: u8,
        key: Vec<u8, K>,
        value: Vec<u8, V>,
        owner: MemberId,
        m: &blaze_wire::MapOp<'_>,
    ) -> Self {
        Candidate {
            map,
            key,
            value,
            owner,
            flags: m.flags & crate::store::FLAG_MASK,
            ttl_us: m.ttl_us,
            version: m.version,
            decided: None,
            asked: None,
        }
    }

    /// This replica's own entry, held in `s`.
    fn of_slot(s: &crate::store::Slot<K, V>) -> Self {
        Candidate {
            map: s.map,
            key: s.key.clone(),
            value: s.value.clone(),
            owner: s.owner,
            flags: s.flags,
            ttl_us: s.ttl_us,
            version: s.version,
            decided: None,
            asked: None,
        }
    }
}

/// Work waiting for `poll_transmit`.
#[derive(Debug, Default)]
struct Out<const M: usize> {
    ack: bool,
    parked_ack: bool,
    /// (target, lo, hi, epoch)
    nack: Option<(MemberId, u64, u64, u64)>,
    beat: bool,
    sync_req: bool,
    sync_reply: bool,
    sync_done: bool,
    snap_req: bool,
    /// Next order to multicast (coordinator).
    sent_high: u64,
    /// (to, lo, hi, epoch)
    retransmit: Vec<(SocketAddr, u64, u64, u64), M>,
    /// (to, session)
    restart: Vec<(SocketAddr, u64), 4>,
    /// (to, epoch)
    snap_needed: Vec<(SocketAddr, u64), 4>,
    /// (to, request id, holder, code)
    denied: Vec<(SocketAddr, u64, Option<MemberId>, u32), 8>,
}

/// One member's replica of the group's maps, locks and ordering protocol.
///
/// # Model
///
/// Every write and lock operation is sent to the coordinator (the first
/// member of the current [`ViewInfo`]), which decides its outcome against
/// its state, gives it the next **order number**, applies it and multicasts
/// it. Every member applies operations strictly in order (gaps are
/// re-requested from the coordinator's bounded log) and acknowledges them.
/// An operation is **committed** once every member of the view that holds
/// the state (and at least [`Config::quorum`] members) acknowledged it; only
/// then does the requester hear `WriteDone` / `LockAcquired`. When the
/// coordinator changes, the new one first collects every member's history,
/// continues from the longest history of the newest epoch, and re-bases
/// every lease to its own clock, so no acknowledged write is lost and no
/// lock is granted while an old lease may run. Joiners (and members that
/// lag past the log, or lose a merge) pull a snapshot while the coordinator
/// pauses sequencing, then follow the stream.
///
/// Membership is an input: the composing node feeds each view with
/// [`handle_view`](Replica::handle_view).
///
/// # Capacities
///
/// `ENTRIES` slots (a slot holds one key's value and lock), a log of `LOG`
/// operations, keys up to `KEY` bytes and values up to `VALUE` bytes. A
/// full map refuses a new key with [`WriteError::MapFull`](crate::WriteError::MapFull).
///
/// The defaulted capacities size the rest: `MEMBERS` members in a view
/// (more are ignored; [`MAX_MEMBERS`]), `PENDING` requests of this member
/// in flight ([`CommandError::TooManyPending`](crate::CommandError::TooManyPending) beyond;
/// [`MAX_PENDING`]), `EVENTS` events waiting for `poll_event` (at least 4;
/// operations wait while it is full; [`EVENT_QUEUE`]) and `ORIGINS`
/// members whose request numbers are remembered against duplicates (the
/// one used longest ago is forgotten first; [`MAX_ORIGINS`]). A small
/// member picks them to fit its group, for instance
/// `Replica<8, 8, 16, 32, 4, 4, 8, 8>` for groups of up to 4 members.
///
/// ```
/// use blaze_map::{Config, Replica, ViewInfo, ViewMember, WriteOptions};
/// use blaze_wire::{GroupId, Instant, MemberId};
///
/// // Up to 4 members, 4 requests in flight, 8 events, 8 origins.
/// type Small = Replica<8, 8, 16, 32, 4, 4, 8, 8>;
/// assert!(size_of::<Small>() < size_of::<Replica<8, 8, 16, 32>>());
/// let me = MemberId::from_u128(1);
/// let mut r = Small::new(Config::lan(GroupId::from_name("g")), me).unwrap();
/// let members = [ViewMember { id: me, addr: "127.0.0.1:7400".parse().unwrap() }];
/// let now = Instant::from_millis(1);
/// r.handle_view(now, &ViewInfo { id: 1, members: &members, merge: false });
/// r.put(now, "m", b"k", b"v", WriteOptions::default()).unwrap();
/// r.handle_timeout(now);
/// assert_eq!(r.get("m", b"k").map(|e| e.value), Some(&b"v"[..]));
/// ```
///
/// # Driving it
///
/// Inputs: [`handle_view`](Replica::handle_view),
/// [`handle_datagram`](Replica::handle_datagram),
/// [`handle_timeout`](Replica::handle_timeout) and the commands (`put`,
/// `lock`, ...). After each, drain [`poll_transmit`](Replica::poll_transmit)
/// and [`poll_event`](Replica::poll_event), then re-read
/// [`poll_timeout`](Replica::poll_timeout). Time only moves forward; a
/// spurious `handle_timeout` is harmless. Getters (`get`, `lock_info`, ...)
/// read the local copy.
///
/// ```
/// use blaze_map::{Config, Event, Replica, ViewInfo, ViewMember, WriteOptions};
/// use blaze_wire::{GroupId, Instant, MemberId};
///
/// let me = MemberId::from_u128(1);
/// let mut r: Replica<16, 32, 16, 32> = Replica::new(Config::lan(GroupId::from_name("g")), me).unwrap();
/// let members = [ViewMember { id: me, addr: "127.0.0.1:7400".parse().unwrap() }];
/// let now = Instant::from_millis(1);
/// r.handle_view(now, &ViewInfo { id: 1, members: &members, merge: false });
/// let req = r.put(now, "config", b"colour", b"blue", WriteOptions::default()).unwrap();
/// r.handle_timeout(now);
/// assert_eq!(r.get("config", b"colour").map(|e| e.value), Some(&b"blue"[..]));
/// let mut done = false;
/// while let Some(e) = r.poll_event() {
///     if let Event::WriteDone { request, .. } = e { done |= request == req; }
/// }
/// assert!(done);
/// ```
#[derive(Debug)]
pub struct Replica<
    const ENTRIES: usize,
    const LOG: usize,
    const KEY: usize,
    const VALUE: usize,
    const MEMBERS: usize = MAX_MEMBERS,
    const PENDING: usize = MAX_PENDING,
    const EVENTS: usize = EVENT_QUEUE,
    const ORIGINS: usize = MAX_ORIGINS,
> {
    cfg: Config,
    me: MemberId,
    view: View<MEMBERS>,
    quorum_present: bool,
    store: Store<ENTRIES, KEY, VALUE>,
    log: Log<LOG, KEY, VALUE>,
    dedup: Dedup<ORIGINS>,
    events: Queue<KEY, VALUE, EVENTS>,
    stats: Stats,

    // Ordering state.
    /// This replica holds a state (it is not a fresh joiner or mid-transfer).
    synced: bool,
    /// The epoch of the history this state belongs to.
    epoch: Epoch,
    epoch_base: u64,
    /// The side this state's history belongs to.
    side: Side,
    /// The side of the current view's epoch, as its sync decided.
    view_side: Side,
    applied: u64,
    committed: u64,
    /// Highest order the leader announced.
    high_known: u64,
    /// The leader and epoch whose stream is accepted.
    accept: Option<Epoch>,
    /// Merge loser waiting for the coordinator's scan to finish.
    parked: bool,
    /// View id whose sync result was handled.
    done_view: u64,

    // Coordinator.
    role: Role,
    peers: Vec<Peer, MEMBERS>,
    plan: Option<Plan<MEMBERS>>,
    /// Parked losers may reset (merge scan done).
    losers_reset: bool,
    candidate: Option<Candidate<KEY, VALUE>>,
    /// Slots marked to be re-applied may remain (a lonely losing
    /// coordinator's own writes, kept over the winner's state).
    reapplying: bool,

    // State transfer.
    pull: Option<Pull>,
    serve: Option<Serve>,
    next_session: u64,

    // Client.
    pending: Vec<Pending<KEY, VALUE>, PENDING>,
    held: Vec<Held<KEY>, MAX_HELD>,
    next_request: u64,

    out: Out<MEMBERS>,
    timers: Timers,
    /// Ring-ordered mode ([`Ordering::Totem`](crate::Ordering::Totem)).
    #[cfg(feature = "ring")]
    ring: ordered::Ring<MEMBERS>,
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
    /// A replica for member `me`, with no view yet.
    ///
    /// Fails if `cfg` does not validate. `LOG` must be at least 2 (checked
    /// at compile time).
    pub fn new(cfg: Config, me: MemberId) -> Result<Self, ConfigError> {
        const { assert!(LOG >= 2, "blaze-map: LOG must be at least 2") };
        cfg.validate()?;
        Ok(Replica {
            cfg,
            me,
            view: View::default(),
            quorum_present: false,
            store: Store::new(),
            log: Log::new(),
            dedup: Dedup::new(),
            events: Queue::new(),
            stats: Stats::default(),
            synced: false,
            epoch: Epoch::default(),
            epoch_base: 0,
            side: Side::default(),
            view_side: Side::default(),
            applied: 0,
            committed: 0,
            high_known: 0,
            accept: None,
            parked: false,
            done_view: 0,
            role: Role::Member,
            peers: Vec::new(),
            plan: None,
            losers_reset: false,
            candidate: None,
            reapplying: false,
            pull: None,
            serve: None,
            next_session: 1,
            pending: Vec::new(),
            held: Vec::new(),
            next_request: 1,
            out: Out::default(),
            timers: Timers::default(),
            #[cfg(feature = "ring")]
            ring: ordered::Ring::default(),
        })
    }

    // ----- getters -------------------------------------------------------

    /// This member's id.
    pub fn id(&self) -> MemberId {
        self.me
    }

    /// The local value of `key` in `map`.
    pub fn get(&self, map: &str, key: &[u8]) -> Option<EntryRef<'_>> {
        let m = self.store.names.index(map)?;
        let s = self.store.get(m, key)?;
        s.has_value.then(|| EntryRef {
            value: s.value.as_slice(),
            version: s.version,
            owner: s.owner,
            flags: s.flags,
        })
    }

    /// Every entry of every map: (map name, key, entry).
    pub fn entries(&self) -> impl Iterator<Item = (&str, &[u8], EntryRef<'_>)> {
        self.store
            .iter()
            .filter(|(_, s)| s.has_value)
            .map(|(_, s)| {
                (
                    self.store.names.name(s.map),
                    s.key.as_slice(),
                    EntryRef {
                        value: s.value.as_slice(),
                        version: s.version,
                        owner: s.owner,
                        flags: s.flags,
                    },
                )
            })
    }

    /// The lock of `key` in `map`, as last applied here.
    pub fn lock_info(&self, map: &str, key: &[u8]) -> Option<LockInfo> {
        let m = self.store.names.index(map)?;
        let l = self.store.get(m, key)?.lock?;
        Some(LockInfo {
            holder: l.holder,
            fence: l.fence,
            lease_us: l.lease_us,
        })
    }

    /// The coordinator of the current view.
    pub fn coordinator(&self) -> Option<MemberId> {
        self.view.coordinator()
    }

    /// Whether this member is the coordinator and sequencing.
    pub fn is_sequencing(&self) -> bool {
        self.role == Role::Active
    }

    /// Whether this replica holds a state and follows the current
    /// coordinator's stream.
    pub fn is_synced(&self) -> bool {
        #[cfg(feature = "ring")]
        if self.ring_mode() {
            return self.synced && self.ring_open();
        }
        self.synced && self.accept.is_some()
    }

    /// Highest order number applied here.
    pub fn applied(&self) -> u64 {
        self.applied
    }

    /// Highest order number known to be committed.
    pub fn committed(&self) -> u64 {
        self.committed
    }

    /// Slots in use (entries and locks).
    pub fn len(&self) -> usize {
        self.store.len()
    }

    /// Whether no slot is in use.
    pub fn is_empty(&self) -> bool {
        self.store.len() == 0
    }

    /// Who orders this replica's writes ([`Config::ordering`]).
    pub fn ordering(&self) -> crate::Ordering {
        self.cfg.ordering
    }

    /// Counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    // ----- inputs --------------------------------------------------------

    /// Installs a membership view (from the membership layer).
    ///
    /// Views with an id not above the installed one are ignored. A view
    /// without this member makes the replica idle.
    /// In the ring-ordered mode the ring's configurations take the place
    /// of views, and this call is ignored.
    pub fn handle_view(&mut self, now: Instant, info: &ViewInfo<'_>) {
        if info.id <= self.view.id || self.ring_mode() {
            return;
        }
        let old_coord = self.view.coordinator();
        self.view = View::from_info(info);
        self.view_events(old_coord);
        self.on_view(now);
        self.pump(now);
    }

    /// After a new view (or ring configuration): the quorum and coordinator
    /// events it causes. Returns whether the quorum is present.
    fn view_events(&mut self, old_coord: Option<MemberId>) -> bool {
        let present = self.cfg.quorum == 0 || self.view.members.len() >= self.cfg.quorum;
        if present != self.quorum_present {
            self.quorum_present = present;
            self.push_event(Tag::Quorum(present));
        }
        let coordinator = self.view.coordinator();
        if coordinator != old_coord {
            let number = self.view.id;
            if let Some(e) = self.push_event(Tag::Coordinator) {
                e.number = number;
                e.member = coordinator;
            }
        }
        present
    }

    /// A datagram arrived from `from`. Anything that is not a valid frame
    /// of this group's map protocol is counted and dropped.
    /// In the ring-ordered mode every datagram is dropped (counted as from
    /// a stranger): operations arrive through
    /// [`handle_delivered`](Replica::handle_delivered).
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, datagram: &[u8]) {
        match <blaze_wire::Frame<'_> as blaze_wire::Message>::parse(datagram) {
            Ok(frame) => self.handle_frame(now, from, &frame),
            Err(_) if self.ring_mode() => self.stats.dropped_stranger += 1,
            Err(_) => self.stats.dropped_malformed += 1,
        }
    }

    /// A datagram arrived from `from`, already decoded (by a router that
    /// decodes each datagram once): the same as
    /// [`handle_datagram`](Replica::handle_datagram) with its frame.
    pub fn handle_frame(&mut self, now: Instant, from: SocketAddr, frame: &blaze_wire::Frame<'_>) {
        if self.ring_mode() {
            self.stats.dropped_stranger += 1;
            return;
        }
        let Ok((sender, msg)) = frames::parse_frame(self.cfg.group, frame) else {
            self.stats.dropped_malformed += 1;
            return;
        };
        if sender == self.me || !self.view.contains(sender) {
            self.stats.dropped_stranger += 1;
            return;
        }
        self.stats.frames_in += 1;
        self.dispatch(now, sender, from, msg);
        self.pump(now);
    }

    /// A deadline passed (or a spurious wake-up).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.pump(now);
    }

    // ----- outputs -------------------------------------------------------

    /// The next event. The event borrows the replica until the next call.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event<'_>> {
        let head = self.events.next()?;
        Some(event::to_event(head, self.store.names.name(head.map)))
    }

    /// The next deadline.
    #[must_use]
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        self.timers.next()
    }

    /// Writes the next datagram into `buf` (at least 1500 bytes is plenty
    /// for keys and values of a few hundred bytes).
    #[must_use]
    /// Nothing in the ring-ordered mode (see
    /// [`poll_ordered_submit`](Replica::poll_ordered_submit)).
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        if self.ring_mode() {
            return None;
        }
        let t = self.transmit(now, buf);
        if t.is_some() {
            self.stats.frames_out += 1;
        }
        t
    }

    // ----- internals shared by the sub-modules ---------------------------

    fn dispatch(&mut self, now: Instant, sender: MemberId, from: SocketAddr, msg: Msg<'_>) {
        match msg {
            Msg::MapRequest(m) => self.on_map_request(now, sender, Some(from), &m),
            Msg::LockRequest(l) => self.on_lock_request(now, sender, Some(from), &l),
            Msg::MapSeq(m) => self.on_map_seq(now, sender, &m),
            Msg::LockSeq(l) => self.on_lock_seq(now, sender, &l),
            Msg::Ack {
                epoch,
                applied,
                parked,
            } => self.on_ack(sender, epoch, applied, parked),
            Msg::Nack { epoch, lo, hi } => self.on_nack(sender, from, epoch, lo, hi),
            Msg::Beat {
                epoch,
                high,
                committed,
                reset_losers,
            } => self.on_beat(now, sender, epoch, high, committed, reset_losers),
            Msg::SyncReq { view } => self.on_sync_req(sender, view),
            Msg::SyncReply(r) => self.on_sync_reply(now, sender, r),
            Msg::SyncDone {
                view,
                base,
                winner,
                park,
                side,
            } => self.on_sync_done(now, sender, view, base, winner, park, side),
            Msg::SnapReq { session, cursor } => {
                self.on_snap_req(now, sender, from, session, cursor)
            }
            Msg::SnapEntry(m) => self.on_snap_entry(now, sender, &m),
            Msg::SnapWindow(w) => self.on_snap_window(now, sender, w),
            Msg::SnapLock(l) => self.on_snap_lock(now, sender, &l),
            Msg::SnapEnd(end) => self.on_snap_end(now, sender, end),
            Msg::SnapRestart { session } => self.on_snap_restart(now, sender, session),
            Msg::SnapNeeded { epoch } => self.on_snap_needed(now, sender, epoch),
            Msg::Denied(l) => self.on_denied(now, &l),
        }
    }

    /// Everything that follows from time and state: sequencing, applying,
    /// committing, completions, expiries, retries; then the timers.
    fn pump(&mut self, now: Instant) {
        #[cfg(feature = "ring")]
        self.ordered_work(now);
        self.sequencer_work(now);
        self.apply_ready(now);
        self.advance_commit();
        self.complete(now);
        self.client_work(now);
        self.retry_work(now);
        self.refresh_timers(now);
    }

    /// Whether a ring orders this replica's writes: always `false` without
    /// the `ring` feature (the configuration refuses it), so the mode's
    /// branches fold away.
    fn ring_mode(&self) -> bool {
        cfg!(feature = "ring") && self.cfg.ordering.is_totem()
    }

    /// Kept merge writes remain to be sequenced again (see [`REAPPLY`]).
    fn reapplying(&self) -> bool {
        REAPPLY && self.reapplying
    }

    /// A merge candidate waits (see [`REAPPLY`]).
    fn has_candidate(&self) -> bool {
        REAPPLY && self.candidate.is_some()
    }

    /// Queues an event of kind `tag` and hands it out to be filled in
    /// place; `None` (the drop counted) when the queue is full.
    fn push_event(&mut self, tag: Tag) -> Option<&mut EventSlot<KEY, VALUE>> {
        self.events.push_new(tag, &mut self.stats.events_dropped)
    }

    /// Room for the events one applied operation can raise.
    fn event_room(&self) -> bool {
        self.events.room() >= 4
    }

    fn addr_of(&self, id: MemberId) -> Option<SocketAddr> {
        self.view.addr(id)
    }

    /// Numbers this replica's requests from `base + 1` on, and returns
    /// whether it took effect (only before the first request).
    ///
    /// The coordinator recognises resent requests by (member, request
    /// number). A member that restarts under the same id must therefore
    /// number its requests above any it used before, or its first writes
    /// are taken for resent ones and dropped: pass a base that grows with
    /// each incarnation, such as the incarnation shifted left by 32.
    pub fn set_request_base(&mut self, base: u64) -> bool {
        if self.next_request != 1 {
            return false;
        }
        self.next_request = base.saturating_add(1);
        true
    }

    fn fresh_request_id(&mut self) -> u64 {
        let id = self.next_request;
        self.next_request += 1;
        id
    }
}

#[cfg(test)]
mod tests {
    use super::Replica;
    use crate::frames::{self, ctl};
    use crate::{Config, ViewInfo, ViewMember};
    use blaze_wire::{
        Body, Frame, GroupId, Instant, MapControl, MapControlKind, MemberId, Message,
    };
    use core::net::SocketAddr;

    /// A frame handed over decoded has the effect of the same datagram.
    #[test]
    fn handle_frame_is_handle_datagram() {
        let g = GroupId::from_name("g");
        let (me, two) = (MemberId::from_u128(1), MemberId::from_u128(2));
        let addr: SocketAddr = "10.0.0.2:7400".parse().unwrap();
        let members = [
            ViewMember { id: two, addr },
            ViewMember {
                id: me,
                addr: "10.0.0.1:7400".parse().unwrap(),
            },
        ];
        let view = ViewInfo {
            id: 5,
            members: &members,
            merge: false,
        };
        let mut a: Replica<4, 4, 16, 16, 4, 4, 8, 8> = Replica::new(Config::lan(g), me).unwrap();
        let mut b: Replica<4, 4, 16, 16, 4, 4, 8, 8> = Replica::new(Config::lan(g), me).unwrap();
        a.handle_view(Instant::ZERO, &view);
        b.handle_view(Instant::ZERO, &view);
        let sync = MapControl {
            view_id: 5,
            ..ctl(MapControlKind::SYNC_REQUEST)
        };
        let frames = [
            // The coordinator asks for this member's history.
            (g, two, Body::MapControl(sync)),
            // A stranger, another group, a body that is not the map's.
            (g, MemberId::from_u128(9), Body::MapControl(sync)),
            (GroupId::from_name("h"), two, Body::MapControl(sync)),
            (g, two, Body::Leave(blaze_wire::Leave::default())),
        ];
        for (i, (group, sender, body)) in frames.into_iter().enumerate() {
            let mut buf = [0u8; 256];
            let n = frames::emit(group, sender, body, &mut buf).unwrap();
            let now = Instant::from_micros(1_000 * (i as u64 + 1));
            a.handle_datagram(now, addr, &buf[..n]);
            b.handle_frame(now, addr, &Frame::parse(&buf[..n]).unwrap());
            assert_eq!(a.stats(), b.stats(), "frame {i}");
            let (mut out_a, mut out_b) = ([0u8; 256], [0u8; 256]);
            let ta = a.poll_transmit(now, &mut out_a);
            let tb = b.poll_transmit(now, &mut out_b);
            assert_eq!(ta, tb);
            if let Some(t) = ta {
                assert_eq!(out_a[..t.len], out_b[..t.len]);
            }
        }
        assert_eq!(a.stats().frames_in, 1);
        assert_eq!(a.stats().dropped_stranger, 1);
        assert_eq!(a.stats().dropped_malformed, 2);
    }
}
