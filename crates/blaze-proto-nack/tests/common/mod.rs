//! Shared test harness: an [`Endpoint`] wrapped as a `blaze_sim::Machine`
//! that sends a planned series of messages, and the scenario runner with
//! its invariant checks.
#![allow(
    dead_code,
    reason = "each test binary uses a different part of the harness"
)]

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::SocketAddr;

use blaze_proto_nack::{
    Buffers, Config, CutReason, Endpoint, Event, FecBuffers, Identity, LateJoin, RxSlot, SendError,
    SendSlot,
};
use blaze_sim::{LinkConfig, Machine, Spawn, World, check_bounded, check_exactly_once, check_fifo};
use blaze_wire::{Duration, GroupId, Instant, MemberId, Seq, Transmit};

/// Entries of the send window in the harness.
pub(crate) const SEND_SLOTS: usize = 512;
/// Bytes of the send window in the harness.
pub(crate) const SEND_BYTES: usize = 256 * 1024;
/// Bytes of the reassembly buffer in the harness.
pub(crate) const REASM_BYTES: usize = 64 * 1024;
/// Largest FEC block (`k`) the harness's scratch covers.
pub(crate) const FEC_MAX_K: usize = 32;
/// Parity symbols the harness's receivers can hold.
pub(crate) const FEC_PARITY_SLOTS: usize = 64;

type Storage = (Buffers<'static>, FecBuffers<'static>);

thread_local! {
    /// Storage reused across seeds (an endpoint borrows `'static` storage,
    /// and the machine gives it back when dropped), keyed by receive size.
    static POOL: RefCell<HashMap<(usize, usize, usize), Vec<Storage>>> = RefCell::new(HashMap::new());
}

fn take_buffers(cfg: &Config, recv: usize, slots: usize) -> Storage {
    let scratch = FecBuffers::scratch_needed(cfg, FEC_MAX_K);
    let parity = FEC_PARITY_SLOTS * FecBuffers::parity_slot_len(cfg);
    let key = (recv, slots, scratch + parity);
    let reused = POOL.with(|p| p.borrow_mut().get_mut(&key).and_then(Vec::pop));
    reused.unwrap_or_else(|| {
        (
            Buffers {
                send_index: Box::leak(vec![SendSlot::EMPTY; SEND_SLOTS].into_boxed_slice()),
                send_bytes: Box::leak(vec![0u8; SEND_BYTES].into_boxed_slice()),
                recv_bytes: Box::leak(vec![0u8; recv].into_boxed_slice()),
                recv_slots: Box::leak(vec![RxSlot::EMPTY; slots].into_boxed_slice()),
                reassembly: Box::leak(vec![0u8; REASM_BYTES].into_boxed_slice()),
            },
            FecBuffers {
                scratch: Box::leak(vec![0u8; scratch].into_boxed_slice()),
                parity: Box::leak(vec![0u8; parity].into_boxed_slice()),
            },
        )
    })
}

fn give_buffers(b: Storage) {
    let key = (
        b.0.recv_bytes.len(),
        b.0.recv_slots.len(),
        b.1.scratch.len() + b.1.parity.len(),
    );
    POOL.with(|p| p.borrow_mut().entry(key).or_default().push(b));
}

/// The member id of node `i`.
pub(crate) fn member(i: usize) -> MemberId {
    MemberId::from_u128(0x1000 + i as u128)
}

/// The node index of a member id.
pub(crate) fn index_of(m: MemberId) -> usize {
    (m.as_u128() - 0x1000) as usize
}

/// The payload of message `idx` of `sender`: a header and a checkable
/// filler.
pub(crate) fn payload(sender: usize, idx: u32, len: usize) -> Vec<u8> {
    let mut p = Vec::with_capacity(len.max(5));
    p.push(sender as u8);
    p.extend_from_slice(&idx.to_le_bytes());
    while p.len() < len {
        p.push((p.len() as u32 ^ idx).wrapping_mul(31) as u8 ^ sender as u8);
    }
    p
}

fn parse_payload(p: &[u8]) -> Option<(usize, u32)> {
    let sender = *p.first()? as usize;
    let idx = u32::from_le_bytes(p.get(1..5)?.try_into().ok()?);
    (payload(sender, idx, p.len()) == p).then_some((sender, idx))
}

/// One delivered event, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Rec {
    /// A message `idx` of node `sender`, at `seq`, `len` bytes.
    Msg {
        sender: usize,
        idx: u32,
        seq: u64,
        len: usize,
    },
    /// A payload that does not match its header.
    Corrupt { sender: usize },
    /// Sequence numbers lost for good.
    Lost { sender: usize, from: u64, to: u64 },
    /// A receiver cut loose.
    Cut { member: usize, reason: CutReason },
}

/// What a node sends.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plan {
    /// Messages to send.
    pub(crate) count: u32,
    /// Time between sends.
    pub(crate) interval: Duration,
    /// Every `large_every`-th message is `large_len` bytes (0: never).
    pub(crate) large_every: u32,
    /// Length of large messages.
    pub(crate) large_len: usize,
    /// Length of the others.
    pub(crate) small_len: usize,
}

impl Plan {
    /// The length of message `idx`.
    pub(crate) fn len(&self, idx: u32) -> usize {
        if self.large_every > 0 && idx % self.large_every == self.large_every - 1 {
            self.large_len
        } else {
            self.small_len + (idx as usize * 7) % 64
        }
    }
}

/// An endpoint in the simulator.
pub(crate) struct Node<const P: usize, const W: usize> {
    /// Boxed: the simulator moves machines around on every drive.
    pub(crate) ep: Option<Box<Endpoint<'static, P, W>>>,
    pub(crate) index: usize,
    pub(crate) plan: Option<Plan>,
    pub(crate) sent: u32,
    pub(crate) next_send_at: Option<Instant>,
    pub(crate) blocked: bool,
    /// When each message was accepted by `send`.
    pub(crate) sent_at: Vec<Instant>,
}

impl<const P: usize, const W: usize> Node<P, W> {
    /// A node of a group of `n`, knowing every other member.
    pub(crate) fn new(
        spawn: Spawn,
        n: usize,
        cfg: Config,
        plan: Option<Plan>,
        start: Instant,
    ) -> Self {
        let recv = Buffers::recv_bytes_needed(&cfg, P, W);
        let id = Identity {
            member: member(spawn.index),
            group: GroupId::from_name("test"),
            seed: spawn.seed,
        };
        let (buffers, fec) = take_buffers(&cfg, recv, Buffers::recv_slots_needed(P, W));
        let mut ep =
            Endpoint::with_fec(Instant::ZERO, cfg, id, buffers, fec).expect("valid config");
        // Start every stream near the wrap-around point.
        assert!(ep.set_initial_seq(Seq::new(u64::MAX - 50 - spawn.index as u64)));
        for j in (0..n).filter(|&j| j != spawn.index) {
            ep.add_peer(Instant::ZERO, member(j))
                .expect("peer table large enough");
        }
        Node {
            ep: Some(Box::new(ep)),
            index: spawn.index,
            plan,
            sent: 0,
            next_send_at: plan.map(|_| start),
            blocked: false,
            sent_at: Vec::new(),
        }
    }

    pub(crate) fn ep(&self) -> &Endpoint<'static, P, W> {
        self.ep.as_ref().expect("endpoint present until drop")
    }

    fn ep_mut(&mut self) -> &mut Endpoint<'static, P, W> {
        self.ep.as_mut().expect("endpoint present until drop")
    }

    /// True when every planned message has been accepted.
    pub(crate) fn done_sending(&self) -> bool {
        self.plan.is_none_or(|p| self.sent >= p.count)
    }

    fn pump(&mut self, now: Instant) {
        let Some(plan) = self.plan else { return };
        while self.sent < plan.count
            && (self.blocked || self.next_send_at.is_some_and(|t| t <= now))
        {
            let msg = payload(self.index, self.sent, plan.len(self.sent));
            match self.ep_mut().send(now, &msg) {
                Ok(_) => {
                    self.sent += 1;
                    self.sent_at.push(now);
                    self.blocked = false;
                    self.next_send_at = Some(now + plan.interval);
                    if plan.interval > Duration::ZERO {
                        break;
                    }
                }
                Err(SendError::WouldBlock) => {
                    // Retried on the next input (an acknowledgement).
                    self.blocked = true;
                    self.next_send_at = None;
                    break;
                }
                Err(e) => panic!("send failed: {e}"),
            }
        }
        if self.sent >= plan.count {
            self.next_send_at = None;
        }
    }
}

impl<const P: usize, const W: usize> Drop for Node<P, W> {
    fn drop(&mut self) {
        if let Some(ep) = self.ep.take() {
            give_buffers((*ep).into_all_buffers());
        }
    }
}

impl<const P: usize, const W: usize> Machine for Node<P, W> {
    type Event = Rec;

    fn handle_datagram(&mut self, now: Instant, from: SocketAddr, datagram: &[u8]) {
        self.ep_mut().handle_datagram(now, from, datagram);
        self.pump(now);
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.ep_mut().handle_timeout(now);
        self.pump(now);
    }

    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        self.ep_mut().poll_transmit(now, buf)
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        let t = self.ep_mut().poll_timeout();
        match (t, self.next_send_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn poll_event(&mut self, now: Instant) -> Option<Rec> {
        let ev = self.ep_mut().poll_event(now)?;
        Some(match ev {
            Event::Message {
                sender,
                seq,
                payload,
                ..
            } => match parse_payload(payload) {
                Some((s, idx)) if s == index_of(sender) => Rec::Msg {
                    sender: s,
                    idx,
                    seq: seq.raw(),
                    len: payload.len(),
                },
                _ => Rec::Corrupt {
                    sender: index_of(sender),
                },
            },
            Event::Unrecoverable {
                sender, from, to, ..
            } => Rec::Lost {
                sender: index_of(sender),
                from: from.raw(),
                to: to.raw(),
            },
            Event::ReceiverCutLoose { member, reason } => Rec::Cut {
                member: index_of(member),
                reason,
            },
            _ => unreachable!("no other events in this crate version"),
        })
    }

    fn occupancy(&self) -> usize {
        self.ep().occupancy()
    }
}

/// The test configuration: LAN profile, oldest-first late join.
pub(crate) fn test_config() -> Config {
    let mut c = Config::lan();
    c.late_join = LateJoin::Oldest;
    c
}

/// A scenario of the simulator.
#[derive(Debug, Clone)]
pub(crate) struct Scenario {
    pub(crate) nodes: usize,
    pub(crate) senders: Vec<usize>,
    pub(crate) plan: Plan,
    pub(crate) link: LinkConfig,
    pub(crate) config: Config,
    /// Give up (and fail) after this much virtual time.
    pub(crate) deadline: Duration,
}

/// The outcome of a successful run.
pub(crate) struct Outcome<const P: usize, const W: usize> {
    pub(crate) world: World<Node<P, W>>,
    pub(crate) finished_at: Instant,
}

/// Runs `sc` from `seed` until every receiver delivered every message
/// (or the deadline), then checks exactly-once, FIFO, integrity, no
/// unrecoverable loss and bounded memory.
pub(crate) fn run<const P: usize, const W: usize>(
    seed: u64,
    sc: &Scenario,
) -> Result<Outcome<P, W>, String> {
    let (n, cfg, plan) = (sc.nodes, sc.config, sc.plan);
    let senders = sc.senders.clone();
    let sim = blaze_sim::Config {
        mtu: usize::from(cfg.mtu.get()),
        ..blaze_sim::Config::default()
    };
    let mut world = World::with_config(seed, n, sim, move |s: Spawn| {
        let plan = senders.contains(&s.index).then_some(plan);
        Node::<P, W>::new(s, n, cfg, plan, Instant::from_micros(100))
    });
    world.set_default_link(sc.link);
    let expected_total: usize = sc.senders.len() * (n - 1) * plan.count as usize;
    let mut delivered = 0;
    let mut seen = 0;
    let deadline = Instant::ZERO + sc.deadline;
    while delivered < expected_total && world.now() < deadline {
        world.run_for(Duration::from_millis(1));
        let events = world.events();
        delivered += events[seen..]
            .iter()
            .filter(|e| matches!(e.event, Rec::Msg { .. }))
            .count();
        seen = events.len();
    }
    let finished_at = world.now();
    // Let late duplicates and stray repairs arrive.
    world.run_for(Duration::from_millis(5));
    check(&world, sc)?;
    if delivered < expected_total {
        return Err(format!(
            "only {delivered} of {expected_total} deliveries by {}",
            world.now()
        ));
    }
    let bound = SEND_SLOTS + P * W;
    check_bounded(&world, bound).map_err(|v| v.to_string())?;
    Ok(Outcome { world, finished_at })
}

/// Exactly once, FIFO, intact, nothing unrecoverable.
pub(crate) fn check<const P: usize, const W: usize>(
    world: &World<Node<P, W>>,
    sc: &Scenario,
) -> Result<(), String> {
    for r in 0..sc.nodes {
        let mut order = Vec::new();
        let mut got = Vec::new();
        for e in world.events().iter().filter(|e| e.node == r) {
            match e.event {
                Rec::Msg { sender, idx, .. } => {
                    order.push((sender, idx));
                    got.push((sender, idx));
                }
                Rec::Corrupt { sender } => {
                    return Err(format!("node {r}: corrupt payload from {sender}"));
                }
                Rec::Lost { sender, from, to } => {
                    return Err(format!(
                        "node {r}: unrecoverable {from}..={to} from {sender}"
                    ));
                }
                Rec::Cut { .. } => {}
            }
        }
        check_fifo(r, &order).map_err(|v| v.to_string())?;
        let expected: Vec<(usize, u32)> = sc
            .senders
            .iter()
            .filter(|&&s| s != r)
            .flat_map(|&s| (0..sc.plan.count).map(move |i| (s, i)))
            .collect();
        check_exactly_once(r, &got, &expected).map_err(|v| v.to_string())?;
    }
    Ok(())
}

/// The five network conditions, each with duplication, reordering and
/// jitter: 0 %, 1 %, 10 %, 30 % uniform loss, and bursty loss.
pub(crate) fn link(profile: u64) -> (&'static str, LinkConfig) {
    let base = LinkConfig::default()
        .with_delay(Duration::from_micros(100), Duration::from_micros(20))
        .with_duplicate(0.01)
        .with_reorder(0.03, Duration::from_micros(300));
    match profile % 5 {
        0 => ("loss 0%", base),
        1 => ("loss 1%", base.with_loss(0.01)),
        2 => ("loss 10%", base.with_loss(0.10)),
        3 => ("loss 30%", base.with_loss(0.30)),
        _ => (
            "bursty",
            base.with_burst(blaze_sim::GilbertElliott::bursts(0.02, 5.0)),
        ),
    }
}
