//! A deterministic two- or three-member harness in virtual time (after
//! quinn-proto's `tests/util.rs`), for the features the simulator scenarios
//! do not isolate: batching, linger, fragmentation of large messages,
//! back-pressure, the slow-receiver policy, rate limiting, best effort.

use std::net::SocketAddr;
use std::num::{NonZeroU32, NonZeroU64};

use blaze_proto_nack::{
    Buffers, Config, CutReason, Endpoint, Event, Identity, LateJoin, Reliability, RxSlot,
    SendError, SendSlot,
};
use blaze_wire::{Destination, Duration, GroupId, Instant, MemberId, Rng, Seq};

const P: usize = 4;
const W: usize = 32;

struct Store {
    index: Vec<SendSlot>,
    bytes: Vec<u8>,
    recv: Vec<u8>,
    recv_slots: Vec<RxSlot>,
    reasm: Vec<u8>,
}

impl Store {
    fn new(cfg: &Config, slots: usize, bytes: usize, reasm: usize) -> Self {
        Store {
            index: vec![SendSlot::EMPTY; slots],
            bytes: vec![0; bytes],
            recv: vec![0; Buffers::recv_bytes_needed(cfg, P, W)],
            recv_slots: vec![RxSlot::EMPTY; Buffers::recv_slots_needed(P, W)],
            reasm: vec![0; reasm],
        }
    }

    fn buffers(&mut self) -> Buffers<'_> {
        Buffers {
            send_index: &mut self.index,
            send_bytes: &mut self.bytes,
            recv_bytes: &mut self.recv,
            recv_slots: &mut self.recv_slots,
            reassembly: &mut self.reasm,
        }
    }
}

fn addr(i: usize) -> SocketAddr {
    SocketAddr::from(([10, 0, 0, i as u8 + 1], 7400))
}

fn config() -> Config {
    let mut c = Config::lan();
    c.late_join = LateJoin::Oldest;
    c.flow_window = NonZeroU32::new(W as u32).unwrap();
    c
}

/// Owned copy of an event.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ev {
    Msg(usize, u64, Vec<u8>),
    Lost(usize, u64, u64),
    Cut(usize, CutReason),
}

/// Members in one virtual-time world; datagram `k` (counting all) is lost
/// when `lose(k)` holds. `deaf[i]` members do not poll their events.
struct Group<'a> {
    eps: Vec<Endpoint<'a, P, W>>,
    now: Instant,
    delay: Duration,
    lose: Box<dyn FnMut(u64) -> bool>,
    sent: u64,
    datagrams: Vec<u64>,
    events: Vec<Vec<Ev>>,
    deaf: Vec<bool>,
    /// Datagrams to muted members are lost.
    mute: Vec<bool>,
    in_flight: Vec<(Instant, usize, usize, Vec<u8>)>,
}

fn id(i: usize) -> MemberId {
    MemberId::from_u128(100 + i as u128)
}

impl<'a> Group<'a> {
    fn new(stores: &'a mut [Store], cfg: Config) -> Self {
        let n = stores.len();
        let mut eps = Vec::new();
        for (i, s) in stores.iter_mut().enumerate() {
            let ident = Identity {
                member: id(i),
                group: GroupId::from_name("pair"),
                seed: i as u64,
            };
            let mut ep = Endpoint::new(Instant::ZERO, cfg, ident, s.buffers()).unwrap();
            assert!(ep.set_initial_seq(Seq::new(u64::MAX - 3)));
            for j in (0..n).filter(|&j| j != i) {
                ep.add_peer(Instant::ZERO, id(j)).unwrap();
            }
            eps.push(ep);
        }
        Group {
            eps,
            now: Instant::ZERO,
            delay: Duration::from_micros(50),
            lose: Box::new(|_| false),
            sent: 0,
            datagrams: vec![0; n],
            events: vec![Vec::new(); n],
            deaf: vec![false; n],
            mute: vec![false; n],
            in_flight: Vec::new(),
        }
    }

    /// Drains every member's output at the current time.
    fn drive(&mut self) {
        let mut buf = [0u8; 1500];
        for i in 0..self.eps.len() {
            while let Some(t) = self.eps[i].poll_transmit(self.now, &mut buf) {
                self.datagrams[i] += 1;
                let k = self.sent;
                self.sent += 1;
                if (self.lose)(k) {
                    continue;
                }
                let targets: Vec<usize> = match t.to {
                    Destination::Group => (0..self.eps.len()).filter(|&j| j != i).collect(),
                    Destination::Peer(a) => (0..self.eps.len()).filter(|&j| addr(j) == a).collect(),
                };
                for j in targets.into_iter().filter(|&j| !self.mute[j]) {
                    self.in_flight
                        .push((self.now + self.delay, i, j, buf[..t.len].to_vec()));
                }
            }
            if self.deaf[i] {
                continue;
            }
            while let Some(e) = self.eps[i].poll_event(self.now) {
                self.events[i].push(match e {
                    Event::Message {
                        sender,
                        seq,
                        payload,
                        ..
                    } => Ev::Msg(
                        (sender.as_u128() - 100) as usize,
                        seq.raw(),
                        payload.to_vec(),
                    ),
                    Event::Unrecoverable {
                        sender, from, to, ..
                    } => Ev::Lost((sender.as_u128() - 100) as usize, from.raw(), to.raw()),
                    Event::ReceiverCutLoose { member, reason } => {
                        Ev::Cut((member.as_u128() - 100) as usize, reason)
                    }
                    _ => unreachable!(),
                });
            }
        }
    }

    /// Advances to the next arrival or deadline (at most `until`).
    fn step(&mut self, until: Instant) -> bool {
        self.drive();
        let arrival = self.in_flight.iter().map(|d| d.0).min();
        let deadline = self.eps.iter_mut().filter_map(|e| e.poll_timeout()).min();
        let Some(next) = [arrival, deadline].into_iter().flatten().min() else {
            return false;
        };
        if next > until {
            self.now = until;
            return false;
        }
        self.now = self.now.max(next);
        let now = self.now;
        let (due, rest): (Vec<_>, Vec<_>) = self.in_flight.drain(..).partition(|d| d.0 <= now);
        self.in_flight = rest;
        for (_, from, to, bytes) in due {
            self.eps[to].handle_datagram(now, addr(from), &bytes);
        }
        for e in &mut self.eps {
            e.handle_timeout(now);
        }
        true
    }

    fn run_for(&mut self, d: Duration) {
        let until = self.now + d;
        while self.step(until) {}
        self.drive();
    }

    fn messages(&self, i: usize) -> Vec<&[u8]> {
        self.events[i]
            .iter()
            .filter_map(|e| match e {
                Ev::Msg(_, _, p) => Some(&p[..]),
                _ => None,
            })
            .collect()
    }
}

fn msg(i: u32, len: usize) -> Vec<u8> {
    let mut v: Vec<u8> = (0..len)
        .map(|k| (k as u32).wrapping_mul(2_654_435_761).wrapping_add(i) as u8)
        .collect();
    if len >= 4 {
        v[..4].copy_from_slice(&i.to_le_bytes());
    }
    v
}

#[test]
fn small_messages_batch_and_a_lone_message_goes_at_once() {
    let cfg = config();
    let mut stores: Vec<Store> = (0..2).map(|_| Store::new(&cfg, 64, 64 * 1024, 0)).collect();
    let mut g = Group::new(&mut stores, cfg);
    g.now = Instant::from_micros(10);
    // Idle sender: one message, one datagram, at once.
    g.eps[0].send(g.now, b"lone").unwrap();
    g.drive();
    assert_eq!(g.datagrams[0], 1);
    assert_eq!(g.in_flight.len(), 1);
    g.run_for(Duration::from_micros(100));
    assert_eq!(g.messages(1), [b"lone"]);
    // Twenty small messages queued together share one datagram.
    for i in 0..20 {
        g.eps[0].send(g.now, &msg(i, 40)).unwrap();
    }
    g.drive();
    assert_eq!(g.datagrams[0], 2);
    // Under load, a message sent right after waits for the linger time.
    g.eps[0].send(g.now, &msg(20, 40)).unwrap();
    g.drive();
    assert_eq!(
        g.datagrams[0], 2,
        "linger holds a partial datagram under load"
    );
    g.run_for(Duration::from_millis(2));
    assert_eq!(g.messages(1).len(), 22);
    assert!(g.datagrams[0] <= 4, "{} datagrams", g.datagrams[0]);
}

#[test]
fn large_messages_are_fragmented_and_reassembled_under_loss() {
    let cfg = config();
    let big = 1 << 20;
    let mut stores: Vec<Store> = (0..3)
        .map(|_| Store::new(&cfg, 2048, 2 * big, big))
        .collect();
    let mut g = Group::new(&mut stores, cfg);
    let mut rng = Rng::new(5);
    g.lose = Box::new(move |_| rng.below(100) < 3);
    let sizes = [big, 5_000, 1, 0, 70_000, big / 2];
    for (i, &len) in sizes.iter().enumerate() {
        g.eps[0].send(g.now, &msg(i as u32, len)).unwrap();
    }
    g.run_for(Duration::from_secs(2));
    for r in 1..3 {
        let got = g.messages(r);
        assert_eq!(
            got.len(),
            sizes.len(),
            "receiver {r}: {:?}",
            g.events[r].len()
        );
        for (i, (&len, m)) in sizes.iter().zip(&got).enumerate() {
            assert_eq!(*m, &msg(i as u32, len)[..], "receiver {r} message {i}");
        }
        assert!(g.events[r].iter().all(|e| matches!(e, Ev::Msg(..))));
    }
    // Too large for the window: refused, not truncated.
    assert_eq!(
        g.eps[0].send(g.now, &vec![0; 3 * big]),
        Err(SendError::TooLarge)
    );
}

#[test]
fn back_pressure_instead_of_drops() {
    let cfg = config();
    let mut stores: Vec<Store> = (0..2).map(|_| Store::new(&cfg, 64, 64 * 1024, 0)).collect();
    let mut g = Group::new(&mut stores, cfg);
    g.deaf[1] = true;
    let mut accepted = 0u32;
    let mut blocked = 0;
    for _ in 0..200 {
        match g.eps[0].send(g.now, &msg(accepted, 100)) {
            Ok(_) => accepted += 1,
            Err(SendError::WouldBlock) => blocked += 1,
            Err(e) => panic!("{e}"),
        }
        g.run_for(Duration::from_micros(200));
    }
    assert!(
        blocked > 0,
        "the window must fill while the receiver does not consume"
    );
    assert_eq!(g.eps[0].stats().send.would_block, blocked);
    // The receiver catches up; every accepted message arrives, in order.
    g.deaf[1] = false;
    for _ in 0..400 {
        if accepted < 200 && g.eps[0].send(g.now, &msg(accepted, 100)).is_ok() {
            accepted += 1;
        }
        g.run_for(Duration::from_micros(200));
    }
    g.run_for(Duration::from_millis(20));
    let got = g.messages(1);
    assert_eq!(got.len(), accepted as usize);
    for (i, m) in got.iter().enumerate() {
        assert_eq!(*m, &msg(i as u32, 100)[..]);
    }
}

#[test]
fn a_lagging_receiver_is_cut_loose_and_told_what_it_missed() {
    let mut cfg = config();
    cfg.max_lag = NonZeroU32::new(32);
    let mut stores: Vec<Store> = (0..3).map(|_| Store::new(&cfg, 64, 64 * 1024, 0)).collect();
    let mut g = Group::new(&mut stores, cfg);
    g.deaf[2] = true;
    for i in 0..300 {
        g.eps[0]
            .send(g.now, &msg(i, 100))
            .expect("the laggard never blocks the sender");
        g.run_for(Duration::from_micros(200));
    }
    g.run_for(Duration::from_millis(10));
    assert!(
        g.events[0].contains(&Ev::Cut(2, CutReason::Lagging)),
        "{:?}",
        g.events[0]
    );
    assert_eq!(g.messages(1).len(), 300);
    // The laggard wakes up: what it held is delivered, the rest is
    // reported unrecoverable, then it catches up from the window.
    g.deaf[2] = false;
    g.run_for(Duration::from_millis(50));
    let mut next = u64::MAX - 3;
    let mut lost = 0;
    for e in &g.events[2] {
        match *e {
            Ev::Msg(0, seq, _) => {
                assert_eq!(seq, next, "in order, nothing skipped silently");
                next = next.wrapping_add(1);
            }
            Ev::Lost(0, from, to) => {
                assert_eq!(from, next);
                lost += to.wrapping_sub(from) + 1;
                next = to.wrapping_add(1);
            }
            ref other => panic!("unexpected {other:?}"),
        }
    }
    assert!(lost > 0);
    assert_eq!(
        next,
        (u64::MAX - 3).wrapping_add(300),
        "accounted up to the last message"
    );
}

#[test]
fn rate_limit_paces_the_sender_in_virtual_time() {
    let mut cfg = config();
    cfg.rate_limit = NonZeroU64::new(1_000_000);
    cfg.burst = NonZeroU32::new(1_500).unwrap();
    let mut stores: Vec<Store> = (0..2)
        .map(|_| Store::new(&cfg, 256, 256 * 1024, 0))
        .collect();
    let mut g = Group::new(&mut stores, cfg);
    for i in 0..100 {
        g.eps[0].send(g.now, &msg(i, 1_000)).unwrap();
    }
    g.run_for(Duration::from_millis(50));
    let half = g.messages(1).len();
    assert!(
        (40..=60).contains(&half),
        "about 50 kB in 50 ms at 1 MB/s, got {half} messages"
    );
    g.run_for(Duration::from_millis(100));
    assert_eq!(g.messages(1).len(), 100);
}

#[test]
fn best_effort_never_nacks_and_never_duplicates() {
    let mut cfg = config();
    cfg.reliability = Reliability::BestEffort;
    let mut stores: Vec<Store> = (0..2)
        .map(|_| Store::new(&cfg, 64, 64 * 1024, 4096))
        .collect();
    let mut g = Group::new(&mut stores, cfg);
    let mut rng = Rng::new(9);
    g.lose = Box::new(move |_| rng.below(100) < 20);
    for i in 0..300 {
        g.eps[0].send(g.now, &msg(i, 50)).unwrap();
        g.run_for(Duration::from_micros(100));
    }
    g.run_for(Duration::from_millis(10));
    let got: Vec<u32> = g
        .messages(1)
        .iter()
        .map(|m| u32::from_le_bytes(m[..4].try_into().unwrap()))
        .collect();
    assert!(
        got.windows(2).all(|w| w[0] < w[1]),
        "in order, no duplicates"
    );
    assert!(
        got.len() > 150 && got.len() < 300,
        "{} delivered",
        got.len()
    );
    let rs = g.eps[1].recv_stats(id(0)).unwrap();
    assert_eq!(rs.nacks_sent, 0);
    assert_eq!(
        rs.best_effort_lost as usize + got.len(),
        300 - (299 - *got.last().unwrap() as usize)
    );
    assert_eq!(g.eps[0].stats().send.repairs, 0);
}

fn late_joiner_gets(policy: LateJoin) -> Vec<u32> {
    let mut cfg = config();
    cfg.late_join = policy;
    let mut stores: Vec<Store> = (0..3).map(|_| Store::new(&cfg, 64, 64 * 1024, 0)).collect();
    let mut g = Group::new(&mut stores, cfg);
    g.mute[2] = true;
    for i in 0..10 {
        g.eps[0].send(g.now, &msg(i, 20)).unwrap();
        g.run_for(Duration::from_micros(300));
    }
    g.mute[2] = false;
    for i in 10..20 {
        g.eps[0].send(g.now, &msg(i, 20)).unwrap();
        g.run_for(Duration::from_micros(300));
    }
    g.run_for(Duration::from_millis(20));
    assert_eq!(g.messages(1).len(), 20);
    assert!(
        g.events[2].iter().all(|e| matches!(e, Ev::Msg(..))),
        "{:?}",
        g.events[2]
    );
    g.messages(2)
        .iter()
        .map(|m| u32::from_le_bytes(m[..4].try_into().unwrap()))
        .collect()
}

#[test]
fn late_join_from_the_next_message_or_from_the_oldest_held() {
    assert_eq!(
        late_joiner_gets(LateJoin::Next),
        (10..20).collect::<Vec<_>>()
    );
    assert_eq!(
        late_joiner_gets(LateJoin::Oldest),
        (0..20).collect::<Vec<_>>()
    );
}

#[test]
fn has_event_keeps_what_it_found_for_the_next_poll() {
    let cfg = config();
    let mut stores: Vec<Store> = (0..2)
        .map(|_| Store::new(&cfg, 256, 256 * 1024, 64 * 1024))
        .collect();
    let mut g = Group::new(&mut stores, cfg);
    // Small, fragmented and small again, received while the reader does
    // not poll.
    g.deaf[1] = true;
    let sizes = [10, 20_000, 30];
    for (i, &len) in sizes.iter().enumerate() {
        g.eps[0].send(g.now, &msg(i as u32, len)).unwrap();
    }
    g.run_for(Duration::from_millis(20));
    let now = g.now;
    let ep = &mut g.eps[1];
    for (i, &len) in sizes.iter().enumerate() {
        // Asking twice finds the same event; an input in between (here a
        // timeout) leaves it for the next poll.
        assert!(ep.has_event(now));
        assert!(ep.has_event(now));
        ep.handle_timeout(now);
        match ep.poll_event(now) {
            Some(Event::Message { payload, .. }) => {
                assert_eq!(payload, &msg(i as u32, len)[..], "message {i}");
            }
            other => panic!("message {i}: {other:?}"),
        }
    }
    assert!(!ep.has_event(now));
    assert!(ep.poll_event(now).is_none());
}
