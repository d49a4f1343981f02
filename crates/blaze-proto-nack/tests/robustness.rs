//! Hostile input: random bytes and mutated valid frames never panic an
//! endpoint; every datagram is counted, and the machine keeps working.

use std::net::SocketAddr;
use std::num::NonZeroU32;

use blaze_proto_nack::{Buffers, Config, Endpoint, Event, Identity, LateJoin, RxSlot, SendSlot};
use blaze_wire::{GroupId, Instant, MemberId};
use proptest::prelude::*;

const P: usize = 4;
const W: usize = 16;

fn config() -> Config {
    let mut c = Config::lan();
    c.late_join = LateJoin::Oldest;
    c.flow_window = NonZeroU32::new(W as u32).unwrap();
    c
}

struct Store(Vec<SendSlot>, Vec<u8>, Vec<u8>, Vec<u8>, Vec<RxSlot>);

impl Store {
    fn new() -> Self {
        let need = Buffers::recv_bytes_needed(&config(), P, W);
        Store(
            vec![SendSlot::EMPTY; 64],
            vec![0; 64 * 1024],
            vec![0; need],
            vec![0; 16 * 1024],
            vec![RxSlot::EMPTY; Buffers::recv_slots_needed(P, W)],
        )
    }

    fn endpoint(&mut self, id: u128) -> Endpoint<'_, P, W> {
        let ident = Identity {
            member: MemberId::from_u128(id),
            group: GroupId::from_name("fuzz"),
            seed: id as u64,
        };
        let b = Buffers {
            send_index: &mut self.0,
            send_bytes: &mut self.1,
            recv_bytes: &mut self.2,
            recv_slots: &mut self.4,
            reassembly: &mut self.3,
        };
        Endpoint::new(Instant::ZERO, config(), ident, b).unwrap()
    }
}

/// Valid datagrams of every kind this machine produces: data (small and
/// fragmented), NACKs, heartbeats and acknowledgements.
fn corpus() -> Vec<Vec<u8>> {
    let (mut sa, mut sb) = (Store::new(), Store::new());
    let (mut a, mut b) = (sa.endpoint(1), sb.endpoint(2));
    // Open groups: each learns the other from its first frame.
    a.set_open(true);
    b.set_open(true);
    let from: SocketAddr = "10.0.0.1:7400".parse().unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 1500];
    let mut now = Instant::from_micros(10);
    for i in 0..6u8 {
        let len = if i == 3 { 4_000 } else { 10 * usize::from(i) };
        a.send(now, &vec![i; len]).unwrap();
        while let Some(t) = a.poll_transmit(now, &mut buf) {
            out.push(buf[..t.len].to_vec());
            if i != 1 {
                b.handle_datagram(now, from, &buf[..t.len]);
            }
        }
        while b.poll_event(now).is_some() {}
        now += blaze_wire::Duration::from_millis(2);
        b.handle_timeout(now);
        a.handle_timeout(now);
        while let Some(t) = b.poll_transmit(now, &mut buf) {
            out.push(buf[..t.len].to_vec());
        }
        while let Some(t) = a.poll_transmit(now, &mut buf) {
            out.push(buf[..t.len].to_vec());
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, rng_seed: proptest::test_runner::RngSeed::Fixed(17), ..ProptestConfig::default() })]

    #[test]
    fn mutated_and_random_datagrams_never_panic(
        picks in proptest::collection::vec((any::<prop::sample::Index>(), proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4), any::<Option<prop::sample::Index>>()), 1..24),
        noise in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..8),
    ) {
        let corpus = corpus();
        let mut store = Store::new();
        let mut ep = store.endpoint(3);
        // Closed to all but the corpus' senders: mutated senders are strangers.
        ep.add_peer(Instant::ZERO, MemberId::from_u128(1)).unwrap();
        ep.add_peer(Instant::ZERO, MemberId::from_u128(2)).unwrap();
        let from: SocketAddr = "10.0.0.9:7400".parse().unwrap();
        let mut now = Instant::from_micros(5);
        let mut fed = 0u64;
        let mut buf = [0u8; 1500];
        let mut feed = |ep: &mut Endpoint<'_, P, W>, d: &[u8], now: Instant| {
            ep.handle_datagram(now, from, d);
            while ep.poll_transmit(now, &mut buf).is_some() {}
            while let Some(e) = ep.poll_event(now) {
                if let Event::Message { payload, .. } = e {
                    assert!(payload.len() <= 16 * 1024);
                }
            }
            ep.handle_timeout(now);
            let _ = ep.poll_timeout();
        };
        for (pick, flips, cut) in &picks {
            let mut d = pick.get(&corpus).clone();
            for (at, byte) in flips {
                if !d.is_empty() {
                    let i = at.index(d.len());
                    d[i] ^= byte;
                }
            }
            if let Some(c) = cut {
                let n = c.index(d.len() + 1);
                d.truncate(n);
            }
            feed(&mut ep, &d, now);
            fed += 1;
            now += blaze_wire::Duration::from_micros(137);
        }
        for d in &noise {
            feed(&mut ep, d, now);
            fed += 1;
        }
        prop_assert_eq!(ep.stats().datagrams_received, fed);
        prop_assert!(ep.occupancy() <= 64 + P * W);
        // Still a working sender afterwards.
        prop_assert!(ep.send(now, b"still alive").is_ok());
    }
}

/// A closed endpoint (the default) drops and counts every frame of a
/// sender it was not given; an open one admits it.
#[test]
fn only_added_peers_are_heard_unless_open() {
    let corpus = corpus();
    let from: SocketAddr = "10.0.0.9:7400".parse().unwrap();
    let now = Instant::from_micros(5);
    let mut buf = [0u8; 1500];

    let mut store = Store::new();
    let mut ep = store.endpoint(3);
    assert!(!ep.is_open());
    for d in &corpus {
        ep.handle_datagram(now, from, d);
    }
    assert_eq!(ep.stats().drops.unknown_peer, corpus.len() as u64);
    assert!(ep.poll_event(now).is_none());
    assert!(ep.recv_stats(MemberId::from_u128(1)).is_none());
    while ep.poll_transmit(now, &mut buf).is_some() {}

    // Once added, member 1 is heard; member 2 still is not.
    ep.add_peer(now, MemberId::from_u128(1)).unwrap();
    let before = ep.stats().drops.unknown_peer;
    for d in &corpus {
        ep.handle_datagram(now, from, d);
    }
    assert!(
        ep.recv_stats(MemberId::from_u128(1))
            .is_some_and(|s| s.datagrams > 0)
    );
    assert!(ep.recv_stats(MemberId::from_u128(2)).is_none());
    assert!(ep.stats().drops.unknown_peer > before);
    let mut delivered = 0;
    while let Some(e) = ep.poll_event(now) {
        if let Event::Message { sender, .. } = e {
            assert_eq!(sender, MemberId::from_u128(1));
            delivered += 1;
        }
    }
    assert!(delivered > 0);

    // Removed again: a stranger once more.
    assert!(ep.remove_peer(now, MemberId::from_u128(1)));
    let before = ep.stats().drops.unknown_peer;
    ep.handle_datagram(now, from, &corpus[0]);
    assert_eq!(ep.stats().drops.unknown_peer, before + 1);

    // Open: both senders get a slot.
    let mut store = Store::new();
    let mut ep = store.endpoint(3);
    ep.set_open(true);
    for d in &corpus {
        ep.handle_datagram(now, from, d);
    }
    assert_eq!(ep.stats().drops.unknown_peer, 0);
    assert!(ep.recv_stats(MemberId::from_u128(1)).is_some());
    assert!(ep.recv_stats(MemberId::from_u128(2)).is_some());
}

/// A data frame whose last message is malformed is dropped whole: no
/// message of it is stored or delivered, and the sender is not admitted.
#[test]
fn a_batch_with_a_bad_message_changes_nothing() {
    use blaze_wire::{Body, DataBatch, DataMessage, Frame, Message, Qos, Repeated, VERSION};

    let payloads: [&[u8]; 3] = [b"one", b"two", b"three"];
    let msgs = payloads.map(|p| DataMessage {
        payload: p,
        ..DataMessage::default()
    });
    let frame = Frame {
        version: VERSION,
        group: GroupId::from_name("fuzz"),
        sender: MemberId::from_u128(1),
        auth_tag: &[],
        body: Body::Data(DataBatch {
            stream: 0,
            first_seq: 0,
            messages: Repeated::from_slice(&msgs),
            qos: Qos::RELIABLE,
            ..DataBatch::default()
        }),
    };
    let mut good = [0u8; 256];
    let n = frame.emit(&mut good).unwrap();
    let good = &good[..n];
    // The last payload's length, pointed past its message's end.
    let at = good.windows(5).position(|w| w == b"three").unwrap() - 1;
    assert_eq!(good[at], 5);
    let mut bad = good.to_vec();
    bad[at] = 9;

    let from: SocketAddr = "10.0.0.9:7400".parse().unwrap();
    let now = Instant::from_micros(5);
    let mut store = Store::new();
    let mut ep = store.endpoint(3);
    ep.set_open(true);
    ep.handle_datagram(now, from, &bad);
    assert_eq!(ep.stats().drops.malformed, 1);
    assert!(ep.recv_stats(MemberId::from_u128(1)).is_none());
    assert!(ep.poll_event(now).is_none());

    ep.handle_datagram(now, from, good);
    let mut got = Vec::new();
    while let Some(e) = ep.poll_event(now) {
        if let Event::Message { payload, .. } = e {
            got.push(payload.to_vec());
        }
    }
    assert_eq!(got, payloads.map(<[u8]>::to_vec));
}
