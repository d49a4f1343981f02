//! Topics travel with their messages: mixed in one batch, on fragmented
//! messages, and across repairs.

use blaze_proto_nack::{
    Buffers, Config, Endpoint, Event, Identity, MAX_TOPIC_LEN, RxSlot, SendError, SendSlot,
};
use blaze_wire::{GroupId, Instant, MemberId};
use core::num::NonZeroU32;

type Store = (Vec<SendSlot>, Vec<u8>, Vec<u8>, Vec<u8>, Vec<RxSlot>);

fn store() -> Store {
    let need = Buffers::recv_bytes_needed(&config(), 2, 16);
    (
        vec![SendSlot::EMPTY; 32],
        vec![0; 64 * 1024],
        vec![0; need],
        vec![0; 16 * 1024],
        vec![RxSlot::EMPTY; Buffers::recv_slots_needed(2, 16)],
    )
}

fn config() -> Config {
    let mut c = Config::lan();
    c.flow_window = NonZeroU32::new(16).unwrap();
    c
}

fn endpoint(id: u128, s: &mut Store) -> Endpoint<'_, 2, 16> {
    let identity = Identity {
        member: MemberId::from_u128(id),
        group: GroupId::from_name("g"),
        seed: id as u64,
    };
    let buffers = Buffers {
        send_index: &mut s.0,
        send_bytes: &mut s.1,
        recv_bytes: &mut s.2,
        recv_slots: &mut s.4,
        reassembly: &mut s.3,
    };
    Endpoint::new(Instant::ZERO, config(), identity, buffers).unwrap()
}

/// Moves every datagram of `a` to `b`, dropping those for which `drop`
/// says so; returns how many were sent.
fn pump(
    a: &mut Endpoint<'_, 2, 16>,
    b: &mut Endpoint<'_, 2, 16>,
    now: Instant,
    mut drop: impl FnMut(usize) -> bool,
) -> usize {
    let mut buf = [0u8; 1500];
    let from = "10.0.0.1:5000".parse().unwrap();
    let mut n = 0;
    while let Some(t) = a.poll_transmit(now, &mut buf) {
        if !drop(n) {
            b.handle_datagram(now, from, &buf[..t.len]);
        }
        n += 1;
    }
    n
}

fn drain(b: &mut Endpoint<'_, 2, 16>, now: Instant) -> Vec<(String, Vec<u8>)> {
    let mut got = Vec::new();
    while let Some(e) = b.poll_event(now) {
        if let Event::Message { topic, payload, .. } = e {
            got.push((topic.to_string(), payload.to_vec()));
        }
    }
    got
}

#[test]
fn topics_are_delivered_with_their_messages() {
    let (mut sa, mut sb) = (store(), store());
    let (mut a, mut b) = (endpoint(1, &mut sa), endpoint(2, &mut sb));
    let mut now = Instant::from_micros(10);
    a.add_peer(now, MemberId::from_u128(2)).unwrap();
    b.add_peer(now, MemberId::from_u128(1)).unwrap();
    let big: Vec<u8> = (0..5000u32).map(|i| i as u8).collect();
    // A near-full fragment with the longest topic must split rather than
    // overflow the datagram.
    let edge = vec![7u8; config().fragment_size() - 1];
    let long_topic = "t".repeat(MAX_TOPIC_LEN);
    let sent: Vec<(String, Vec<u8>)> = vec![
        ("prices".into(), b"p1".to_vec()),
        (String::new(), b"plain".to_vec()),
        ("news/eu".into(), b"n1".to_vec()),
        ("prices".into(), b"p2".to_vec()),
        ("bulk".into(), big),
        (long_topic, edge),
        ("tail".into(), b"last".to_vec()),
    ];
    // Under load so that several messages share a datagram.
    a.send(now, b"warm-up").unwrap();
    pump(&mut a, &mut b, now, |_| false);
    for (t, p) in &sent {
        if t.is_empty() {
            a.send(now, p).unwrap();
        } else {
            a.send_topic(now, t, p).unwrap();
        }
    }
    // Lose the second datagram: the repair carries the topics too.
    let mut dropped = false;
    let mut got = drain(&mut b, now);
    for _ in 0..2000 {
        pump(&mut a, &mut b, now, |n| {
            let d = !dropped && n == 1;
            dropped |= d;
            d
        });
        pump(&mut b, &mut a, now, |_| false);
        got.extend(drain(&mut b, now));
        now += blaze_wire::Duration::from_micros(50);
        a.handle_timeout(now);
        b.handle_timeout(now);
    }
    assert!(dropped);
    assert!(a.stats().send.nacks_received > 0, "the loss was repaired");
    let mut expected = vec![(String::new(), b"warm-up".to_vec())];
    expected.extend(sent);
    assert_eq!(got, expected);
}

#[test]
fn a_topic_longer_than_the_maximum_is_refused() {
    let mut sa = store();
    let mut a = endpoint(1, &mut sa);
    let t = "x".repeat(MAX_TOPIC_LEN + 1);
    assert_eq!(
        a.send_topic(Instant::ZERO, &t, b"m"),
        Err(SendError::TopicTooLong)
    );
    assert_eq!(a.send_window_len(), 0);
}

/// The length of the one datagram that carries `n` messages of `payload`
/// on `topic`, and what the receiver delivers.
fn one_batch(topic: &str, n: usize, payload: &[u8]) -> (usize, Vec<(String, Vec<u8>)>) {
    let (mut sa, mut sb) = (store(), store());
    let (mut a, mut b) = (endpoint(1, &mut sa), endpoint(2, &mut sb));
    let now = Instant::from_micros(10);
    a.add_peer(now, MemberId::from_u128(2)).unwrap();
    b.add_peer(now, MemberId::from_u128(1)).unwrap();
    for _ in 0..n {
        a.send_topic(now, topic, payload).unwrap();
    }
    let mut buf = [0u8; 1500];
    let from = "10.0.0.1:5000".parse().unwrap();
    let t = a.poll_transmit(now, &mut buf).expect("one datagram");
    b.handle_datagram(now, from, &buf[..t.len]);
    (t.len, drain(&mut b, now))
}

#[test]
fn messages_on_the_batch_topic_do_not_repeat_it() {
    let topic = "prices/eu/fx";
    let (plain, _) = one_batch("", 10, b"0123456789");
    let (on_topic, got) = one_batch(topic, 10, b"0123456789");
    // The topic is written once, in the batch (tag, length, bytes).
    assert_eq!(on_topic, plain + 2 + topic.len());
    assert_eq!(got, vec![(topic.to_string(), b"0123456789".to_vec()); 10]);
}
