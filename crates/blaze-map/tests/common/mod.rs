//! The simulation harness: replicas in a `blaze-sim` world, a test-only
//! oracle membership that installs views after a detection delay, a
//! recorded history of commands and outcomes, and the checkers.

#![allow(
    dead_code,
    unreachable_pub,
    reason = "each test binary uses part of the harness"
)]

pub mod linearizability;
pub mod locks;

#[cfg(feature = "ring")]
use blaze_map::RingConfiguration;
use blaze_map::{
    ChangeKind, CommandError, Config, Event, LockLostReason, MergePolicy, Ordering, Replica,
    RequestId, ViewInfo, ViewMember, WriteError, WriteOptions,
};
use blaze_proto_totem::{Buffers as TotemBuffers, Config as TotemConfig, Slot as TotemSlot, Totem};
#[cfg(feature = "ring")]
use blaze_proto_totem::{ConfigurationKind, Event as TotemEvent, Qos};
use blaze_sim::{Machine, Spawn, World, node_addr};
use blaze_wire::{Duration, GroupId, Instant, MemberId, Rng, Transmit};
use core::net::SocketAddr;
use std::collections::VecDeque;
use std::collections::{BTreeMap, BTreeSet};

/// The replica under test: 32 slots, 64-operation log, 16-byte keys,
/// 32-byte values.
pub type R = Replica<32, 64, 16, 32>;

/// A node's entries: (map, key, value, version), sorted.
pub type State = Vec<(String, Vec<u8>, Vec<u8>, u64)>;
/// A node's applied changes: (version, key, new value).
pub type Stream = Vec<(u64, Vec<u8>, Option<Vec<u8>>)>;

/// An owned copy of one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rec {
    Changed {
        kind: ChangeKind,
        map: String,
        key: Vec<u8>,
        old: Option<Vec<u8>>,
        new: Option<Vec<u8>>,
        version: u64,
        cause: MemberId,
    },
    WriteDone {
        request: RequestId,
        version: u64,
    },
    WriteFailed {
        request: RequestId,
        error: WriteError,
    },
    LockAcquired {
        request: RequestId,
        key: Vec<u8>,
        fence: u64,
        deadline: Instant,
    },
    LockFailed {
        request: RequestId,
        error: WriteError,
    },
    LockRenewed {
        key: Vec<u8>,
        fence: u64,
        deadline: Instant,
    },
    LockLost {
        key: Vec<u8>,
        fence: u64,
        reason: LockLostReason,
    },
    Coordinator,
    Quorum(bool),
    Installed(u64),
    Merged {
        view: u64,
        won: bool,
        winner_size: u64,
        own_size: u64,
    },
    Conflict {
        key: Vec<u8>,
        ours: Option<Vec<u8>>,
        theirs: Vec<u8>,
    },
}

fn own(e: Event<'_>) -> Rec {
    match e {
        Event::Changed(c) => Rec::Changed {
            kind: c.kind,
            map: c.map.to_string(),
            key: c.key.to_vec(),
            old: c.old.map(<[u8]>::to_vec),
            new: c.new.map(<[u8]>::to_vec),
            version: c.version,
            cause: c.cause,
        },
        Event::WriteDone { request, version } => Rec::WriteDone { request, version },
        Event::WriteFailed { request, error } => Rec::WriteFailed { request, error },
        Event::LockAcquired {
            request,
            key,
            fence,
            deadline,
            ..
        } => Rec::LockAcquired {
            request,
            key: key.to_vec(),
            fence,
            deadline,
        },
        Event::LockFailed { request, error } => Rec::LockFailed { request, error },
        Event::LockRenewed {
            key,
            fence,
            deadline,
            ..
        } => Rec::LockRenewed {
            key: key.to_vec(),
            fence,
            deadline,
        },
        Event::LockLost {
            key, fence, reason, ..
        } => Rec::LockLost {
            key: key.to_vec(),
            fence,
            reason,
        },
        Event::CoordinatorChanged { .. } => Rec::Coordinator,
        Event::QuorumChanged { present } => Rec::Quorum(present),
        Event::StateInstalled { as_of } => Rec::Installed(as_of),
        Event::Merged {
            view,
            won,
            winner_size,
            own_size,
        } => Rec::Merged {
            view,
            won,
            winner_size,
            own_size,
        },
        Event::MergeConflict {
            key, ours, theirs, ..
        } => Rec::Conflict {
            key: key.to_vec(),
            ours: ours.map(<[u8]>::to_vec),
            theirs: theirs.to_vec(),
        },
        _ => Rec::Coordinator,
    }
}

/// The Totem member paired with each replica in the ring-ordered tests.
pub type T = Totem<'static, 8, 256, 256, 64>;

/// Message storage for a Totem member, leaked (a test process is
/// short-lived).
fn totem_buffers() -> TotemBuffers<'static> {
    TotemBuffers {
        slots: vec![TotemSlot::EMPTY; TotemBuffers::slots_needed(256)].leak(),
        bytes: vec![0; TotemBuffers::bytes_needed(256, 256, 64)].leak(),
    }
}

/// One simulated member: a replica, and in the ring-ordered mode the Totem
/// member that orders its operations.
pub struct Node {
    pub r: R,
    /// The ring (ring-ordered mode only).
    pub t: Option<Box<T>>,
    /// How to answer merge questions (`Some(true)`: take theirs).
    pub answer: Option<bool>,
    /// A question seen, answered at the next `poll_event`.
    asked: bool,
    /// Replica events drained while the ring delivered (ring mode).
    queue: VecDeque<Rec>,
}

impl Node {
    /// Without the `ring` feature no node has a ring (a ring-ordered
    /// configuration is refused).
    #[cfg(not(feature = "ring"))]
    fn pump_ring(&mut self, _now: Instant) {}

    /// Moves what the ring delivered into the replica and what the replica
    /// submits onto the ring, until neither has anything.
    #[cfg(feature = "ring")]
    fn pump_ring(&mut self, now: Instant) {
        let Some(t) = self.t.as_mut() else {
            return;
        };
        let mut buf = [0u8; 512];
        loop {
            let mut moved = false;
            while let Some(ev) = t.poll_event() {
                moved = true;
                match ev {
                    TotemEvent::Deliver {
                        sender,
                        payload,
                        safe,
                        ..
                    } => {
                        if std::env::var("MAP_DEBUG").is_ok() {
                            eprintln!(
                                "{now} n{} deliver from n{} safe {safe} len {}",
                                (self.r.id().as_u128() >> 32) - 1,
                                (sender.as_u128() >> 32) - 1,
                                payload.len()
                            );
                        }
                        self.r.handle_delivered(now, sender, payload)
                    }
                    TotemEvent::ConfigurationChange {
                        kind,
                        ring,
                        members,
                    } => {
                        if std::env::var("MAP_DEBUG").is_ok() {
                            eprintln!(
                                "{now} n{} conf {kind:?} ring {} {:?}",
                                (self.r.id().as_u128() >> 32) - 1,
                                ring.seq,
                                members
                                    .iter()
                                    .map(|m| (m.as_u128() >> 32) - 1)
                                    .collect::<Vec<_>>()
                            );
                        }
                        let kind = match kind {
                            ConfigurationKind::Regular => RingConfiguration::Regular,
                            ConfigurationKind::Transitional => RingConfiguration::Transitional,
                        };
                        self.r.handle_configuration(now, kind, ring.seq, members);
                    }
                }
                while let Some(e) = self.r.poll_event() {
                    self.queue.push_back(own(e));
                }
            }
            while t.queued() < 64 {
                let Some(sub) = self.r.poll_ordered_submit(now, &mut buf) else {
                    break;
                };
                let qos = if sub.safe { Qos::Safe } else { Qos::Agreed };
                t.send(now, qos, &buf[..sub.len]).expect("queue has room");
                moved = true;
            }
            if !moved {
                break;
            }
        }
    }
}

impl Machine for Node {
    type Event = Rec;
    fn handle_datagram(&mut self, now: Instant, from: SocketAddr, d: &[u8]) {
        match self.t.as_mut() {
            Some(t) => {
                t.handle_datagram(now, from, d);
                self.pump_ring(now);
            }
            None => self.r.handle_datagram(now, from, d),
        }
    }
    fn handle_timeout(&mut self, now: Instant) {
        if let Some(t) = self.t.as_mut()
            && t.poll_timeout().is_some_and(|at| at <= now)
        {
            t.handle_timeout(now);
        }
        self.r.handle_timeout(now);
        self.pump_ring(now);
    }
    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        self.pump_ring(now);
        match self.t.as_mut() {
            Some(t) => t.poll_transmit(now, buf),
            None => self.r.poll_transmit(now, buf),
        }
    }
    fn poll_timeout(&mut self) -> Option<Instant> {
        let r = self.r.poll_timeout();
        match self.t.as_ref().and_then(|t| t.poll_timeout()) {
            Some(a) => Some(r.map_or(a, |b| a.min(b))),
            None => r,
        }
    }
    fn poll_event(&mut self, now: Instant) -> Option<Rec> {
        if self.asked
            && let Some(take) = self.answer
        {
            self.asked = false;
            self.r.resolve_merge(now, take);
        }
        let rec = match self.queue.pop_front() {
            Some(rec) => rec,
            None => own(self.r.poll_event()?),
        };
        if matches!(rec, Rec::Conflict { .. }) {
            self.asked = true;
        }
        Some(rec)
    }
    fn occupancy(&self) -> usize {
        self.r.len()
    }
}

pub fn member_id(index: usize, incarnation: u32) -> MemberId {
    MemberId::from_u128(((index as u128 + 1) << 32) | u128::from(incarnation))
}

/// What the test asked for, and where in the event record it happened.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// `world.events().len()` when the command ran (real-time position).
    pub pos: usize,
    pub time: Instant,
    pub node: usize,
    pub incarnation: u32,
    pub request: RequestId,
    pub op: OpCall,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpCall {
    Put {
        key: Vec<u8>,
        value: Vec<u8>,
        fence: u64,
    },
    Cas {
        key: Vec<u8>,
        expected: u64,
        value: Vec<u8>,
    },
    Lock {
        key: Vec<u8>,
    },
}

/// A world of replicas with an oracle membership.
pub struct Cluster {
    pub world: World<Node>,
    pub n: usize,
    /// Join rank per node (lower is older); restarts join last.
    rank: Vec<u64>,
    next_rank: u64,
    next_view: u64,
    /// Partition sets as last set (empty: connected).
    sets: Vec<Vec<usize>>,
    /// Per node: the view id of the component it was last in (0 = none).
    last_view: Vec<u64>,
    pub history: Vec<Invocation>,
    /// (node, incarnation, key, fence, time) of each `unlock`.
    pub unlocks: Vec<(usize, u32, Vec<u8>, u64, Instant)>,
    /// (node, incarnation, time) of each crash.
    pub crashes: Vec<(usize, u32, Instant)>,
    /// (node, from, until) of each pause.
    pub pauses: Vec<(usize, Instant, Instant)>,
    pub views_installed: u64,
    /// The ring orders the operations (no oracle views).
    pub ring: bool,
}

pub fn config(quorum: usize, merge: MergePolicy) -> Config {
    Config {
        quorum,
        merge,
        request_timeout: Duration::from_millis(500),
        ..Config::lan(GroupId::from_name("map-test"))
    }
}

/// The settings of the ring-ordered tests.
pub fn ring_config(quorum: usize, merge: MergePolicy, safe: bool) -> Config {
    Config {
        ordering: Ordering::Totem { safe },
        ..config(quorum, merge)
    }
}

impl Cluster {
    pub fn new(seed: u64, n: usize, cfg: Config) -> Self {
        let ring = cfg.ordering.is_totem();
        let world = World::new(seed, n, move |s: Spawn| {
            let id = member_id(s.index, s.incarnation);
            let t = ring.then(|| {
                Box::new(
                    T::new(
                        Instant::ZERO,
                        id,
                        GroupId::from_name("map-ring"),
                        TotemConfig::lan(),
                        totem_buffers(),
                    )
                    .expect("valid ring config"),
                )
            });
            Node {
                r: R::new(cfg, id).expect("valid config"),
                t,
                answer: Some(true),
                asked: false,
                queue: VecDeque::new(),
            }
        });
        let mut c = Cluster {
            world,
            n,
            rank: (0..n as u64).collect(),
            next_rank: n as u64,
            next_view: 0,
            sets: Vec::new(),
            last_view: vec![0; n],
            history: Vec::new(),
            unlocks: Vec::new(),
            crashes: Vec::new(),
            pauses: Vec::new(),
            views_installed: 0,
            ring,
        };
        c.install_views();
        c
    }

    pub fn now(&self) -> Instant {
        self.world.now()
    }

    pub fn up(&self, i: usize) -> bool {
        self.world.is_up(i)
    }

    pub fn incarnation(&self, i: usize) -> u32 {
        self.world.incarnation(i).unwrap_or(0)
    }

    fn component_of(&self, i: usize) -> usize {
        self.sets
            .iter()
            .position(|s| s.contains(&i))
            .unwrap_or(self.sets.len())
    }

    /// The oracle: every connected set of live nodes gets a view, oldest
    /// member first; a set holding members of different previous views is
    /// a merge.
    pub fn install_views(&mut self) {
        self.install_views_excluding(&[]);
    }

    /// Like [`install_views`](Cluster::install_views), but the membership
    /// wrongly suspects `suspects`: they are left out of the views and are
    /// not told (they keep their old view).
    pub fn install_views_excluding(&mut self, suspects: &[usize]) {
        if self.ring {
            // The ring forms its own configurations.
            return;
        }
        let mut comps: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for i in 0..self.n {
            if self.up(i) && !suspects.contains(&i) {
                comps.entry(self.component_of(i)).or_default().push(i);
            }
        }
        for (_, members) in comps {
            self.install_view(members);
        }
        self.views_installed += 1;
    }

    /// Installs one view holding exactly `members` (oldest first), as a
    /// merge if they come from different previous views. Membership may
    /// bring partitioned sides back this way, one part at a time.
    pub fn install_view(&mut self, members: Vec<usize>) {
        self.install_view_as(members, None);
    }

    /// Like [`install_view`](Cluster::install_view), with the merge flag
    /// `merge` when given (membership may not flag every step of a merge).
    pub fn install_view_as(&mut self, mut members: Vec<usize>, merge: Option<bool>) {
        {
            members.sort_by_key(|&i| self.rank[i]);
            self.next_view += 1;
            let id = self.next_view;
            let previous: BTreeSet<u64> = members
                .iter()
                .map(|&i| self.last_view[i])
                .filter(|&v| v != 0)
                .collect();
            let merge = merge.unwrap_or(previous.len() > 1);
            let vm: Vec<ViewMember> = members
                .iter()
                .map(|&i| ViewMember {
                    id: member_id(i, self.incarnation(i)),
                    addr: node_addr(i),
                })
                .collect();
            for &i in &members {
                self.last_view[i] = id;
                let info = ViewInfo {
                    id,
                    members: &vm,
                    merge,
                };
                self.world
                    .command(i, |node, now| node.r.handle_view(now, &info));
            }
        }
    }

    pub fn crash(&mut self, i: usize) {
        let inc = self.incarnation(i);
        self.crashes.push((i, inc, self.now()));
        self.world.crash(i);
        self.last_view[i] = 0;
    }

    pub fn restart(&mut self, i: usize) {
        self.world.restart(i);
        self.rank[i] = self.next_rank;
        self.next_rank += 1;
        self.last_view[i] = 0;
    }

    pub fn partition(&mut self, sets: &[&[usize]]) {
        self.sets = sets.iter().map(|s| s.to_vec()).collect();
        self.world.partition(sets);
    }

    pub fn heal(&mut self) {
        self.sets.clear();
        self.world.heal();
    }

    pub fn pause(&mut self, i: usize, d: Duration) {
        self.pauses.push((i, self.now(), self.now() + d));
        self.world.pause(i, d);
    }

    pub fn run_for(&mut self, d: Duration) {
        self.world.run_for(d);
    }

    /// The current coordinator as the oracle sees it (oldest live node of
    /// the component holding `i`).
    pub fn oldest_up(&self) -> Option<usize> {
        (0..self.n)
            .filter(|&i| self.up(i))
            .min_by_key(|&i| self.rank[i])
    }

    fn invoke(
        &mut self,
        i: usize,
        op: OpCall,
        f: impl FnOnce(&mut R, Instant) -> Result<RequestId, CommandError>,
    ) -> Option<RequestId> {
        if !self.up(i) || self.world.is_paused(i) {
            return None;
        }
        let pos = self.world.events().len();
        let time = self.now();
        let incarnation = self.incarnation(i);
        let r = self.world.command(i, |node, now| f(&mut node.r, now))?;
        let request = r.ok()?;
        self.history.push(Invocation {
            pos,
            time,
            node: i,
            incarnation,
            request,
            op,
        });
        Some(request)
    }

    pub fn put(&mut self, i: usize, key: &[u8], value: &[u8], fence: u64) -> Option<RequestId> {
        let op = OpCall::Put {
            key: key.to_vec(),
            value: value.to_vec(),
            fence,
        };
        let opts = WriteOptions {
            fence,
            ..WriteOptions::default()
        };
        self.invoke(i, op, |r, now| r.put(now, "m", key, value, opts))
    }

    pub fn cas(&mut self, i: usize, key: &[u8], expected: u64, value: &[u8]) -> Option<RequestId> {
        let op = OpCall::Cas {
            key: key.to_vec(),
            expected,
            value: value.to_vec(),
        };
        self.invoke(i, op, |r, now| {
            r.compare_and_set(now, "m", key, expected, value, WriteOptions::default())
        })
    }

    pub fn try_lock(
        &mut self,
        i: usize,
        key: &[u8],
        lease: Duration,
        wait: Duration,
    ) -> Option<RequestId> {
        let op = OpCall::Lock { key: key.to_vec() };
        self.invoke(i, op, |r, now| r.try_lock(now, "m", key, lease, wait))
    }

    pub fn unlock(&mut self, i: usize, key: &[u8], fence: u64) -> bool {
        if !self.up(i) || self.world.is_paused(i) {
            return false;
        }
        let inc = self.incarnation(i);
        let now = self.now();
        let ok = self
            .world
            .command(i, |node, now| node.r.unlock(now, "m", key))
            .is_some_and(|r| r.is_ok());
        if ok {
            self.unlocks.push((i, inc, key.to_vec(), fence, now));
        }
        ok
    }

    pub fn version(&self, i: usize, key: &[u8]) -> u64 {
        self.world
            .machine(i)
            .and_then(|n| n.r.get("m", key))
            .map_or(0, |e| e.version)
    }

    /// The outcome event of each invocation, with its position.
    pub fn outcomes(&self) -> Vec<Option<(usize, Rec)>> {
        let mut by_req: BTreeMap<(usize, u32, RequestId), (usize, Rec)> = BTreeMap::new();
        for (pos, e) in self.world.events().iter().enumerate() {
            let req = match &e.event {
                Rec::WriteDone { request, .. }
                | Rec::WriteFailed { request, .. }
                | Rec::LockAcquired { request, .. }
                | Rec::LockFailed { request, .. } => *request,
                _ => continue,
            };
            by_req
                .entry((e.node, e.incarnation, req))
                .or_insert((pos, e.event.clone()));
        }
        self.history
            .iter()
            .map(|inv| {
                by_req
                    .get(&(inv.node, inv.incarnation, inv.request))
                    .cloned()
            })
            .collect()
    }

    /// Final states of the live nodes: (node, sorted entries).
    pub fn states(&self) -> Vec<(usize, State)> {
        (0..self.n)
            .filter_map(|i| {
                let m = self.world.machine(i)?;
                let mut v: Vec<_> = m
                    .r
                    .entries()
                    .map(|(map, k, e)| (map.to_string(), k.to_vec(), e.value.to_vec(), e.version))
                    .collect();
                v.sort();
                Some((i, v))
            })
            .collect()
    }

    /// Every live node holds a state and they are all identical.
    pub fn check_converged(&self) -> Result<(), String> {
        let states = self.states();
        for i in 0..self.n {
            if let Some(m) = self.world.machine(i)
                && !m.r.is_synced()
            {
                return Err(format!("node {i} is not synced at {}", self.now()));
            }
        }
        let Some((first, s0)) = states.first() else {
            return Ok(());
        };
        for (i, s) in &states[1..] {
            if s != s0 {
                return Err(format!(
                    "node {i} differs from node {first}:\n  {s:?}\nvs\n  {s0:?}"
                ));
            }
        }
        Ok(())
    }

    /// Changed events per live node as (version, key, new value), in order.
    pub fn streams(&self) -> BTreeMap<usize, Stream> {
        let mut out: BTreeMap<usize, Stream> = BTreeMap::new();
        for e in self.world.events() {
            if !self.up(e.node) || e.incarnation != self.incarnation(e.node) {
                continue;
            }
            match &e.event {
                Rec::Changed {
                    version, key, new, ..
                } => out
                    .entry(e.node)
                    .or_default()
                    .push((*version, key.clone(), new.clone())),
                Rec::Installed(_) => {
                    out.entry(e.node).or_default().clear();
                }
                _ => {}
            }
        }
        out
    }

    /// Every live node applied changes in increasing order, and any two
    /// nodes agree on the change at each order number.
    pub fn check_total_order(&self) -> Result<(), String> {
        type Seen = (usize, Vec<u8>, Option<Vec<u8>>);
        let mut at: BTreeMap<u64, Seen> = BTreeMap::new();
        for (node, stream) in self.streams() {
            let mut last = 0;
            for (v, k, val) in stream {
                if v <= last {
                    return Err(format!("node {node}: version {v} after {last}"));
                }
                last = v;
                match at.get(&v) {
                    Some((other, k2, val2)) if (k2, val2) != (&k, &val) => {
                        return Err(format!(
                            "order {v}: node {node} applied {k:?}={val:?}, node {other} applied {k2:?}={val2:?}"
                        ));
                    }
                    None => {
                        at.insert(v, (node, k, val));
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    /// Every acknowledged write appears, with its version, in the change
    /// stream of every live node that followed the stream since before it
    /// (a node that installed a snapshot later holds it in its state).
    pub fn check_acked_present(&self) -> Result<usize, String> {
        let streams = self.streams();
        let outcomes = self.outcomes();
        let mut acked = 0;
        for (inv, out) in self.history.iter().zip(&outcomes) {
            let Some((_, Rec::WriteDone { version, .. })) = out else {
                continue;
            };
            let (key, value) = match &inv.op {
                OpCall::Put { key, value, .. } | OpCall::Cas { key, value, .. } => (key, value),
                OpCall::Lock { .. } => continue,
            };
            acked += 1;
            for (node, stream) in &streams {
                let first = stream.first().map_or(u64::MAX, |s| s.0);
                if first > *version {
                    continue;
                }
                let hit = stream
                    .iter()
                    .any(|(v, k, val)| v == version && k == key && val.as_deref() == Some(value));
                if !hit {
                    return Err(format!(
                        "acknowledged write {key:?}={value:?} v{version} (node {}) missing at node {node}",
                        inv.node
                    ));
                }
            }
        }
        Ok(acked)
    }
}

/// A seeded helper for workloads.
pub fn rng(seed: u64) -> Rng {
    Rng::new(seed ^ 0x05ee_d0fb_1a2e)
}

/// Number of seeds: `BLAZE_SIM_SEEDS` or the default.
pub fn seeds(default: u64) -> u64 {
    default
}

/// The value of `key` in map `m` at the first live node.
pub fn value(c: &Cluster, key: &[u8]) -> Option<Vec<u8>> {
    let i = (0..c.n).find(|&i| c.up(i))?;
    c.world
        .machine(i)?
        .r
        .get("m", key)
        .map(|e| e.value.to_vec())
}

/// After a split brain where each side wrote its own key (`min`, `maj`):
/// what each merge policy promises.
pub mod merged {
    use super::{Cluster, Rec, value};

    /// Every node of the losing side was told it lost the merge.
    pub fn losers_told(c: &Cluster, losers: &[usize]) -> Result<(), String> {
        for i in losers {
            let lost = c
                .world
                .events()
                .iter()
                .any(|e| e.node == *i && matches!(e.event, Rec::Merged { won: false, .. }));
            if !lost {
                return Err(format!("minority node {i} was not told it lost the merge"));
            }
        }
        Ok(())
    }

    /// MajoritySide: the minority's key is gone, the majority's last
    /// write is there.
    pub fn majority_side_won(c: &Cluster, last_maj: &[u8]) -> Result<(), String> {
        if value(c, b"min").is_some() {
            return Err("the minority's key survived a majority-wins merge".into());
        }
        if value(c, b"maj").as_deref() != Some(last_maj) {
            return Err("the majority's last write is missing".into());
        }
        Ok(())
    }

    /// LatestVersion: both sides' last writes are there.
    pub fn both_sides_kept(c: &Cluster, last_min: &[u8], last_maj: &[u8]) -> Result<(), String> {
        if value(c, b"min").as_deref() != Some(last_min) {
            return Err(format!(
                "the minority's last write is missing: {:?}",
                value(c, b"min")
            ));
        }
        if value(c, b"maj").as_deref() != Some(last_maj) {
            return Err("the majority's last write is missing".into());
        }
        Ok(())
    }

    /// Ask, answered "take": the application was asked about the
    /// minority's key and its value was applied.
    pub fn asked_and_taken(c: &Cluster, last_min: &[u8]) -> Result<(), String> {
        let asked = c.world.events().iter().any(|e| {
            matches!(&e.event, Rec::Conflict { key, ours: None, theirs } if key == b"min" && theirs.as_slice() == last_min)
        });
        if !asked {
            return Err("no merge question about the minority's key".into());
        }
        if value(c, b"min").as_deref() != Some(last_min) {
            return Err("the answered value was not applied".into());
        }
        Ok(())
    }
}
