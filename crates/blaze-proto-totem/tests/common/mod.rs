//! Shared test harness: a [`Totem`] member wrapped as a
//! `blaze_sim::Machine` that sends a planned series of messages and
//! records what it delivers, plus the extended-virtual-synchrony checkers.
#![allow(
    dead_code,
    reason = "each test binary uses a different part of the harness"
)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;

use blaze_proto_totem::{Buffers, Config, ConfigurationKind, Event, Qos, SendError, Slot, Totem};
use blaze_sim::{EventRecord, Machine, Spawn, check_agreed_order};
use blaze_wire::{
    Body, Destination, Duration, Frame, GroupId, Instant, MemberId, Message, Transmit,
};

/// The member type of the tests: messages of up to 256 bytes, so that
/// the larger ones (over [`blaze_proto_totem::INLINE`]) take the pool.
pub(crate) type Member = Totem<'static, 8, 256, 256, 64>;

/// Pool slots of a test member: few, so that under loss a full pool drops
/// messages after a gap to fill it.
pub(crate) const POOL: usize = 48;

/// Storage for a member, leaked (a test process is short-lived).
pub(crate) fn buffers(w: usize, p: usize, q: usize) -> Buffers<'static> {
    Buffers {
        slots: vec![Slot::EMPTY; Buffers::slots_needed(w)].leak(),
        bytes: vec![0; Buffers::bytes_needed(w, p, q)].leak(),
    }
}

/// Storage for a test [`Member`] with a pool of [`POOL`] slots.
pub(crate) fn member_buffers() -> Buffers<'static> {
    Buffers {
        slots: vec![Slot::EMPTY; Buffers::slots_needed(256)].leak(),
        bytes: vec![0; Buffers::bytes_with_pool(256, 256, 64, POOL)].leak(),
    }
}

/// Member id of node `i` in incarnation `inc` (a restarted process is a
/// new member with a new id).
pub(crate) fn member(i: usize, inc: u32) -> MemberId {
    MemberId::from_u128(0x1000 + i as u128 + 0x100 * u128::from(inc))
}

/// Node index of a member id.
pub(crate) fn index_of(m: MemberId) -> usize {
    ((m.as_u128() - 0x1000) & 0xff) as usize
}

/// A message id: (sending node, index, incarnation).
pub(crate) type MsgId = (usize, u32, u32);

fn payload(id: MsgId) -> Vec<u8> {
    let mut p = vec![id.0 as u8, id.2 as u8];
    p.extend_from_slice(&id.1.to_le_bytes());
    // Every fourth message is too large to be stored inline.
    let large = if id.1 % 4 == 3 { 130 } else { 0 };
    p.resize(12 + (id.1 as usize % 40) + large, 0xa5);
    p
}

/// The topic a message is sent on: it names the sending node, so a
/// delivery with the wrong topic is caught.
fn topic(id: MsgId) -> String {
    format!("node{}", id.0)
}

fn parse_payload(p: &[u8]) -> Option<MsgId> {
    let idx = u32::from_le_bytes(p.get(2..6)?.try_into().ok()?);
    let id = (usize::from(*p.first()?), idx, u32::from(*p.get(1)?));
    (payload(id) == p).then_some(id)
}

/// One recorded event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Rec {
    /// A delivered message.
    Msg {
        id: MsgId,
        ring_seq_sent: u64,
        safe: bool,
        /// Tag and sequence number on the ring it was received on, and
        /// whether every member had received it when delivered (safe check).
        key: (u32, u64),
    },
    /// A configuration change.
    Conf {
        kind: ConfigurationKind,
        ring: (u128, u64),
        members: Vec<usize>,
    },
    /// A payload that did not parse.
    Garbage,
}

/// What a node sends: `count` messages every `every`, from `start`, with
/// every `safe_every`-th one safe (0: none).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plan {
    pub(crate) start: Instant,
    pub(crate) every: Duration,
    pub(crate) count: u32,
    pub(crate) safe_every: u32,
}

/// A member plus its send plan and receipt log.
pub(crate) struct Node {
    pub(crate) m: Box<Member>,
    index: usize,
    incarnation: u32,
    plan: Plan,
    next: u32,
    next_at: Instant,
    /// First time this node held each (ring tag, seq) of regular data.
    pub(crate) received: HashMap<(u32, u64), Instant>,
    /// Tag of the last regular configuration this node reported.
    cur_tag: u32,
}

/// Ring tag as the frames carry it, learned from datagrams.
impl Node {
    pub(crate) fn new(s: Spawn, config: Config, plan: Plan) -> Node {
        let m = Member::new(
            Instant::ZERO,
            member(s.index, s.incarnation),
            GroupId::from_name("totem-test"),
            config,
            member_buffers(),
        )
        .expect("valid config");
        Node {
            m: Box::new(m),
            index: s.index,
            incarnation: s.incarnation,
            plan,
            next: 0,
            next_at: plan.start,
            received: HashMap::new(),
            cur_tag: 0,
        }
    }

    fn note_data(&mut self, now: Instant, datagram: &[u8]) {
        if let Ok(f) = Frame::parse(datagram)
            && let Body::Data(d) = f.body
            && d.recovered_from.is_none()
            && let Some(ring) = d.ring
        {
            let tag = tag_of(ring.rep.unwrap_or_default(), ring.seq);
            for i in 0..d.messages.len() as u64 {
                self.received.entry((tag, d.first_seq + i)).or_insert(now);
            }
        }
    }

    fn send_due(&mut self, now: Instant) {
        while self.next < self.plan.count && self.next_at <= now {
            let id = (self.index, self.next, self.incarnation);
            let qos = if self.plan.safe_every > 0 && self.next.is_multiple_of(self.plan.safe_every)
            {
                Qos::Safe
            } else {
                Qos::Agreed
            };
            match self.m.send_topic(now, qos, &topic(id), &payload(id)) {
                Ok(()) => {
                    self.next += 1;
                    self.next_at += self.plan.every;
                }
                Err(SendError::WouldBlock) => {
                    self.next_at = now + Duration::from_millis(5);
                    break;
                }
                Err(e) => panic!("send: {e}"),
            }
        }
    }
}

impl Machine for Node {
    type Event = Rec;
    fn handle_datagram(&mut self, now: Instant, from: SocketAddr, datagram: &[u8]) {
        self.note_data(now, datagram);
        self.m.handle_datagram(now, from, datagram);
        self.send_due(now);
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.m.handle_timeout(now);
        self.send_due(now);
    }
    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        let t = self.m.poll_transmit(now, buf)?;
        if t.to == Destination::Group {
            let b = buf[..t.len].to_vec();
            self.note_data(now, &b);
        }
        Some(t)
    }
    fn poll_timeout(&mut self) -> Option<Instant> {
        let mine = (self.next < self.plan.count).then_some(self.next_at);
        match (self.m.poll_timeout(), mine) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
    fn poll_event(&mut self, _now: Instant) -> Option<Rec> {
        let cur_tag = self.cur_tag;
        // `peek_event` shows exactly what `poll_event` then gives.
        let peeked = self.m.peek_event().map(|e| std::format!("{e:?}"));
        let ev = self.m.poll_event();
        if let Some(peeked) = peeked {
            assert_eq!(Some(peeked), ev.map(|e| std::format!("{e:?}")));
        }
        Some(match ev? {
            Event::Deliver {
                seq,
                safe,
                topic: t,
                payload,
                ..
            } => match parse_payload(payload) {
                Some(id) if t == topic(id) => Rec::Msg {
                    id,
                    ring_seq_sent: seq,
                    safe,
                    key: (cur_tag, seq),
                },
                _ => Rec::Garbage,
            },
            Event::ConfigurationChange {
                kind,
                ring,
                members,
            } => {
                if kind == ConfigurationKind::Regular {
                    self.cur_tag = tag_of(ring.rep.unwrap_or_default(), ring.seq);
                }
                Rec::Conf {
                    kind,
                    ring: (ring.rep.unwrap_or_default().as_u128(), ring.seq),
                    members: members.iter().map(|m| index_of(*m)).collect(),
                }
            }
        })
    }
    fn occupancy(&self) -> usize {
        self.m.occupancy()
    }
}

/// A 32-bit tag of a ring id (FNV-1a over representative and sequence),
/// keying what a node saw per ring.
pub(crate) fn tag_of(rep: MemberId, seq: u64) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in rep.to_bytes().iter().chain(seq.to_le_bytes().iter()) {
        h ^= u32::from(*b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// Per node, the recorded events (all incarnations in order).
pub(crate) fn per_node(records: &[EventRecord<Rec>], n: usize) -> Vec<Vec<(Instant, u32, Rec)>> {
    let mut out = vec![Vec::new(); n];
    for r in records {
        if let Some(v) = out.get_mut(r.node) {
            v.push((r.time, r.incarnation, r.event.clone()));
        }
    }
    out
}

/// Per node, the regular configurations it installed, in order.
pub(crate) fn regular_confs(records: &[EventRecord<Rec>], n: usize) -> Vec<Vec<Vec<usize>>> {
    per_node(records, n)
        .into_iter()
        .map(|evs| {
            evs.into_iter()
                .filter_map(|(_, _, e)| match e {
                    Rec::Conf {
                        kind: ConfigurationKind::Regular,
                        members,
                        ..
                    } => Some(members),
                    _ => None,
                })
                .collect()
        })
        .collect()
}

/// Message ids delivered by each node (per incarnation as separate lists).
pub(crate) fn deliveries(records: &[EventRecord<Rec>]) -> Vec<((usize, u32), Vec<MsgId>)> {
    let mut map: BTreeMap<(usize, u32), Vec<MsgId>> = BTreeMap::new();
    for r in records {
        let e = map.entry((r.node, r.incarnation)).or_default();
        if let Rec::Msg { id, .. } = r.event {
            e.push(id);
        }
    }
    map.into_iter().collect()
}

/// Extended virtual synchrony, checked on the records of every node
/// incarnation:
/// - no garbage, no message delivered twice, any two nodes deliver common
///   messages in the same order ([`check_agreed_order`]);
/// - a sender's messages in its order (per incarnation);
/// - agreement on configurations: every node that reports a configuration
///   (kind, ring) reports the same members;
/// - same messages in the same configuration: two nodes that both go from
///   configuration C to the same next configuration delivered the same
///   messages in C.
pub(crate) fn check_evs(records: &[EventRecord<Rec>]) -> Result<(), String> {
    if records.iter().any(|r| r.event == Rec::Garbage) {
        return Err("a delivered payload did not parse".into());
    }
    let dels = deliveries(records);
    let seqs: Vec<(usize, &[MsgId])> = dels
        .iter()
        .map(|((node, inc), v)| (node * 1000 + *inc as usize, &v[..]))
        .collect();
    check_agreed_order(&seqs).map_err(|v| v.to_string())?;
    for ((node, inc), v) in &dels {
        let mut last: HashMap<(usize, u32), u32> = HashMap::new();
        for id in v {
            if let Some(prev) = last.insert((id.0, id.2), id.1)
                && prev >= id.1
            {
                return Err(format!(
                    "node {node}/{inc}: sender {}'s message {} after {prev}",
                    id.0, id.1
                ));
            }
        }
    }
    // Configurations.
    // A transitional configuration is one per old ring that moves on to
    // the new ring, so its members are part of its identity.
    type ConfKey = (ConfigurationKind, (u128, u64), Vec<usize>);
    let mut members: HashMap<ConfKey, Vec<usize>> = HashMap::new();
    let mut trans: Vec<((u128, u64), Vec<usize>)> = Vec::new();
    // (node, inc) -> list of (configuration, messages delivered in it)
    type Epochs = Vec<(Option<ConfKey>, BTreeSet<MsgId>)>;
    let mut epochs: BTreeMap<(usize, u32), Epochs> = BTreeMap::new();
    for r in records {
        let list = epochs
            .entry((r.node, r.incarnation))
            .or_insert_with(|| vec![(None, BTreeSet::new())]);
        match &r.event {
            Rec::Conf {
                kind,
                ring,
                members: m,
            } => {
                let key = match kind {
                    ConfigurationKind::Regular => (*kind, *ring, Vec::new()),
                    ConfigurationKind::Transitional => (*kind, *ring, m.clone()),
                };
                if let Some(prev) = members.insert(key.clone(), m.clone())
                    && prev != *m
                {
                    return Err(format!(
                        "configuration {key:?}: members {prev:?} and {m:?} (node {})",
                        r.node
                    ));
                }
                if *kind == ConfigurationKind::Transitional {
                    // Members of one transitional configuration agree on it.
                    for (other, om) in &trans {
                        if *other == *ring && om != m && om.iter().any(|x| m.contains(x)) {
                            return Err(format!(
                                "transitional configurations {om:?} and {m:?} of ring {ring:?} overlap"
                            ));
                        }
                    }
                    trans.push((*ring, m.clone()));
                }
                if !m.contains(&r.node) {
                    return Err(format!(
                        "node {} installed {key:?} without being in it: {m:?}",
                        r.node
                    ));
                }
                list.push((Some(key), BTreeSet::new()));
            }
            Rec::Msg { id, .. } => {
                if let Some(last) = list.last_mut() {
                    last.1.insert(*id);
                }
            }
            Rec::Garbage => {}
        }
    }
    // For each (config, next config) pair, the delivered set must agree.
    let mut seen: HashMap<(ConfKey, ConfKey), (usize, BTreeSet<MsgId>)> = HashMap::new();
    for ((node, _), list) in &epochs {
        for w in list.windows(2) {
            let (Some(c), set) = (&w[0].0, &w[0].1) else {
                continue;
            };
            let Some(next) = &w[1].0 else { continue };
            let pair = (c.clone(), next.clone());
            match seen.get(&pair) {
                Some((other, s)) if s != set => {
                    let only_a: Vec<_> = s.difference(set).take(3).collect();
                    let only_b: Vec<_> = set.difference(s).take(3).collect();
                    return Err(format!(
                        "in {c:?} before {next:?}: node {other} delivered {} messages, node {node} {}; only at {other}: {only_a:?}, only at {node}: {only_b:?}",
                        s.len(),
                        set.len()
                    ));
                }
                Some(_) => {}
                None => {
                    seen.insert(pair, (*node, set.clone()));
                }
            }
        }
    }
    Ok(())
}

/// Safe delivery: every safe message was held by every member of the ring
/// it was delivered on when it was delivered (`members_of` gives the ring
/// members of a node at that time, `received` the receipt logs).
pub(crate) fn check_safe(
    records: &[EventRecord<Rec>],
    received: &[HashMap<(u32, u64), Instant>],
) -> Result<usize, String> {
    let mut current: HashMap<usize, Vec<usize>> = HashMap::new();
    let mut checked = 0;
    for r in records {
        match &r.event {
            Rec::Conf {
                kind: ConfigurationKind::Regular,
                members,
                ..
            } => {
                current.insert(r.node, members.clone());
            }
            Rec::Conf { .. } => {
                current.remove(&r.node);
            }
            Rec::Msg {
                safe: true,
                key,
                id,
                ..
            } => {
                let Some(members) = current.get(&r.node) else {
                    continue;
                };
                for m in members {
                    let got = received.get(*m).and_then(|log| log.get(key));
                    if got.is_none_or(|t| *t > r.time) {
                        return Err(format!(
                            "node {} delivered safe {id:?} ({key:?}) at {} before node {m} received it ({got:?})",
                            r.node, r.time
                        ));
                    }
                }
                checked += 1;
            }
            _ => {}
        }
    }
    Ok(checked)
}
