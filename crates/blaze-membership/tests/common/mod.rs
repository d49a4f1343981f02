//! A test application around `Membership` for blaze-sim.
#![allow(dead_code, reason = "each test binary uses a part of the harness")]

use blaze_membership::{Config, Delivery, Discovery, Event, Identity, Membership, Metadata, Name};
use blaze_sim::{Machine, Spawn, node_addr};
use blaze_wire::{Duration, GroupId, Instant, MemberId, Rng, Transmit};
use core::net::SocketAddr;
use std::collections::BTreeMap;

/// Capacities used by the tests.
pub type Member = Membership<16, 2, 64, 128>;

pub const GROUP: &str = "g";

pub fn group() -> GroupId {
    GroupId::from_name(GROUP)
}

/// The stable member id of node `i`.
pub fn id_of(i: usize) -> MemberId {
    MemberId::from_u128(((i as u128 + 1) << 96) | 0x9e37_79b9)
}

pub fn node_of(id: MemberId) -> Option<usize> {
    (0..64).find(|i| id_of(*i) == id)
}

/// What the harness records, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ev {
    View {
        group: GroupId,
        view_id: u64,
        members: Option<Vec<MemberId>>,
        merge: bool,
    },
    Joined(MemberId),
    Left(MemberId),
    Failed(MemberId),
    Coordinator(MemberId),
    Merged(u64),
    LeaveDone,
    Message {
        from: MemberId,
        payload: Vec<u8>,
    },
    Request {
        from: MemberId,
        correlation: u64,
        payload: Vec<u8>,
    },
    Reply {
        from: MemberId,
        correlation: u64,
        payload: Vec<u8>,
    },
    TimedOut(u64),
    Queue {
        delivery: Delivery,
        redelivered: bool,
        payload: Vec<u8>,
    },
    QueueAcked(u64),
}

/// A node: the machine plus a small scripted application.
pub struct Node {
    /// Boxed: the simulator moves machines on every drive.
    pub m: Box<Member>,
    pub joins: Vec<&'static str>,
    /// Queue deliveries are acknowledged this long after arrival (None: never).
    pub ack_delay: Option<Duration>,
    pub unacked: Vec<(Instant, Delivery)>,
    pub subscribe: Option<&'static str>,
    pub subscribed: bool,
}

pub struct Setup {
    pub config: Config,
    /// Weight per node index (default 0).
    pub weights: BTreeMap<usize, u32>,
    /// Services per node index (default none).
    pub services: BTreeMap<usize, u32>,
    pub joins: Vec<&'static str>,
    pub consumers: Vec<usize>,
    pub ack_delay: Option<Duration>,
    /// Nodes that do not join at start.
    pub idle: Vec<usize>,
    /// Metadata (an encoded `BlazeMessage`) per node index (default none).
    pub metadata: BTreeMap<usize, Vec<u8>>,
    /// Unicast seeds (node indices) per node index, replacing the config's.
    pub seeds: BTreeMap<usize, Vec<usize>>,
}

impl Setup {
    pub fn new(config: Config) -> Self {
        Setup {
            config,
            weights: BTreeMap::new(),
            services: BTreeMap::new(),
            joins: vec![GROUP],
            consumers: Vec::new(),
            ack_delay: None,
            idle: Vec::new(),
            metadata: BTreeMap::new(),
            seeds: BTreeMap::new(),
        }
    }

    pub fn factory(&self) -> impl FnMut(Spawn) -> Node + 'static {
        let cfg = self.config;
        let weights = self.weights.clone();
        let services = self.services.clone();
        let joins = self.joins.clone();
        let consumers = self.consumers.clone();
        let ack_delay = self.ack_delay;
        let idle = self.idle.clone();
        let metadata = self.metadata.clone();
        let seeds = self.seeds.clone();
        move |s: Spawn| {
            let mut c = cfg;
            c.weight = weights.get(&s.index).copied().unwrap_or(0);
            if let Some(list) = seeds.get(&s.index) {
                let addrs: Vec<SocketAddr> = list.iter().map(|i| node_addr(*i)).collect();
                c.discovery = Discovery::unicast(&addrs);
            }
            let me = Identity {
                id: id_of(s.index),
                name: Name::new(&format!("n{}", s.index)).unwrap(),
                metadata: metadata
                    .get(&s.index)
                    .map(|m| Metadata::new(m).expect("metadata fits"))
                    .unwrap_or_default(),
                incarnation: u64::from(s.incarnation),
                services: services.get(&s.index).copied().unwrap_or(0),
            };
            let m = Box::new(Member::new(c, me, Rng::new(s.seed)).unwrap());
            Node {
                m,
                joins: if idle.contains(&s.index) {
                    Vec::new()
                } else {
                    joins.clone()
                },
                ack_delay,
                unacked: Vec::new(),
                subscribe: consumers.contains(&s.index).then_some("q"),
                subscribed: false,
            }
        }
    }
}

/// A config with the given timing and unicast seeds (nodes `seeds`), or multicast.
pub fn config(interval_ms: u64, timeout_ms: u64, unicast_seeds: Option<&[usize]>) -> Config {
    let mut c = Config::lan();
    c.heartbeat_interval = Duration::from_millis(interval_ms);
    c.failure_timeout = Duration::from_millis(timeout_ms);
    c.retransmit_interval = Duration::from_millis((interval_ms / 3).max(5));
    c.join_wait = Duration::from_millis(interval_ms * 3);
    c.announce_interval = Duration::from_millis(interval_ms * 10);
    if let Some(seeds) = unicast_seeds {
        let addrs: Vec<SocketAddr> = seeds.iter().map(|i| node_addr(*i)).collect();
        c.discovery = Discovery::unicast(&addrs);
    }
    c
}

impl Node {
    fn app(&mut self, now: Instant) {
        for g in std::mem::take(&mut self.joins) {
            self.m.join(now, g).unwrap();
        }
        if let Some(q) = self.subscribe
            && !self.subscribed
            && self.m.view(group()).is_some()
        {
            self.subscribed = self.m.subscribe(now, group(), q).is_ok();
        }
        while let Some(i) = self.unacked.iter().position(|(t, _)| *t <= now) {
            let (_, d) = self.unacked.remove(i);
            let _ = self.m.ack(now, d);
        }
    }
}

impl Machine for Node {
    type Event = Ev;

    fn handle_datagram(&mut self, now: Instant, from: SocketAddr, datagram: &[u8]) {
        self.m.handle_datagram(now, from, datagram);
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.app(now);
        self.m.handle_timeout(now);
    }

    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        self.app(now);
        self.m.poll_transmit(now, buf)
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        let app = self.unacked.iter().map(|(t, _)| *t).min();
        match (self.m.poll_timeout(), app) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn poll_event(&mut self, now: Instant) -> Option<Ev> {
        let ev = self.m.poll_event(now)?;
        let out = match ev {
            Event::ViewInstalled {
                group,
                view_id,
                merge,
                ..
            } => Ev::View {
                group,
                view_id,
                members: None,
                merge,
            },
            Event::MemberJoined { member, .. } => Ev::Joined(member),
            Event::MemberLeft { member, .. } => Ev::Left(member),
            Event::MemberFailed { member, .. } => Ev::Failed(member),
            Event::CoordinatorChanged { coordinator, .. } => Ev::Coordinator(coordinator),
            Event::Merged { view_id, .. } => Ev::Merged(view_id),
            Event::Left { .. } => Ev::LeaveDone,
            Event::Message { from, payload } => Ev::Message {
                from,
                payload: payload.to_vec(),
            },
            Event::Request {
                from,
                correlation,
                payload,
                ..
            } => Ev::Request {
                from,
                correlation,
                payload: payload.to_vec(),
            },
            Event::Reply {
                from,
                correlation,
                payload,
                ..
            } => Ev::Reply {
                from,
                correlation,
                payload: payload.to_vec(),
            },
            Event::RequestTimedOut { correlation } => Ev::TimedOut(correlation),
            Event::QueueMessage {
                delivery,
                redelivered,
                payload,
                ..
            } => {
                if let Some(d) = self.ack_delay {
                    self.unacked.push((now + d, delivery));
                }
                Ev::Queue {
                    delivery,
                    redelivered,
                    payload: payload.to_vec(),
                }
            }
            Event::QueueAcked { correlation, .. } => Ev::QueueAcked(correlation),
            _ => return None,
        };
        // Snapshot the members of a view when it is still the installed one.
        if let Ev::View {
            group,
            view_id,
            merge,
            ..
        } = out
        {
            let members = self
                .m
                .view(group)
                .filter(|v| v.id() == view_id)
                .map(|v| v.members().iter().map(|m| m.id).collect());
            return Some(Ev::View {
                group,
                view_id,
                members,
                merge,
            });
        }
        Some(out)
    }
}

/// Every view id maps to one member list across all nodes that recorded
/// it (at least 95 % of installs must have been snapshot). Returns the
/// number of distinct views.
pub fn check_agreement(events: &[blaze_sim::EventRecord<Ev>]) -> Result<usize, String> {
    let mut seen: BTreeMap<u64, (usize, Vec<MemberId>)> = BTreeMap::new();
    let mut checked = 0usize;
    let installs = events
        .iter()
        .filter(|r| matches!(r.event, Ev::View { .. }))
        .count();
    for r in events {
        if let Ev::View {
            view_id,
            members: Some(members),
            ..
        } = &r.event
        {
            checked += 1;
            match seen.get(view_id) {
                Some((node, first)) if first != members => {
                    return Err(format!(
                        "view {view_id:x}: node {node} installed {first:?}, node {} installed {members:?}",
                        r.node
                    ));
                }
                Some(_) => {}
                None => {
                    seen.insert(*view_id, (r.node, members.clone()));
                }
            }
        }
    }
    if checked * 100 < installs * 95 {
        return Err(format!(
            "only {checked} of {installs} installed views could be compared"
        ));
    }
    Ok(seen.len())
}

/// The installed view of `group` at node `i`: (id, member node indexes sorted).
pub fn view_at(w: &blaze_sim::World<Node>, i: usize) -> Option<(u64, Vec<usize>)> {
    let v = w.machine(i)?.m.view(group())?;
    let mut nodes: Vec<usize> = v.members().iter().filter_map(|m| node_of(m.id)).collect();
    nodes.sort_unstable();
    Some((v.id(), nodes))
}

/// True when every node in `nodes` has the same view with exactly `nodes`.
pub fn converged(w: &blaze_sim::World<Node>, nodes: &[usize]) -> bool {
    let mut want = nodes.to_vec();
    want.sort_unstable();
    let mut id = None;
    for &i in nodes {
        match view_at(w, i) {
            Some((v, members)) if members == want && id.is_none_or(|x| x == v) => id = Some(v),
            _ => return false,
        }
    }
    true
}
