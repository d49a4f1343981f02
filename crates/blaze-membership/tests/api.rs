//! Command errors and hostile input, on a single machine.

use blaze_membership::{Config, GroupError, Identity, Membership, Metadata, Name, SendError};
use blaze_wire::{Duration, GroupId, Instant, MemberId, Rng};
use proptest::prelude::*;

type M = Membership<4, 2, 4, 16>;

fn machine() -> M {
    let me = Identity {
        id: MemberId::from_u128(1),
        name: Name::new("solo").unwrap(),
        metadata: Metadata::default(),
        incarnation: 0,
        services: 0,
    };
    M::new(Config::lan(), me, Rng::new(1)).unwrap()
}

/// Runs the machine alone until `t`.
fn run(m: &mut M, t: Instant) {
    let mut buf = [0u8; 1500];
    while let Some(next) = m.poll_timeout().filter(|n| *n <= t) {
        m.handle_timeout(next);
        while m.poll_transmit(next, &mut buf).is_some() {}
        while m.poll_event(next).is_some() {}
    }
}

#[test]
fn group_commands_refuse_without_changing_state() {
    let mut m = machine();
    let now = Instant::ZERO;
    let g = m.join(now, "a").unwrap();
    assert_eq!(m.join(now, "a"), Err(GroupError::AlreadyJoined));
    m.join(now, "b").unwrap();
    assert_eq!(m.join(now, "c"), Err(GroupError::TooManyGroups));
    assert_eq!(m.join(now, &"x".repeat(40)), Err(GroupError::NameTooLong));
    assert_eq!(
        m.leave(now, GroupId::from_name("c")),
        Err(GroupError::NotJoined)
    );
    assert_eq!(m.groups().count(), 2);
    assert!(m.view(g).is_none());
    run(&mut m, Instant::from_millis(1_000));
    assert_eq!(m.view(g).unwrap().members().len(), 1);
    // Alone in the view: leaving completes at once.
    m.leave(Instant::from_millis(1_000), g).unwrap();
    assert_eq!(m.groups().count(), 1);
}

#[cfg(feature = "messaging")]
#[test]
fn send_commands_refuse_without_changing_state() {
    let mut m = machine();
    let now = Instant::ZERO;
    let stranger = MemberId::from_u128(99);
    assert_eq!(m.send(now, stranger, b"x"), Err(SendError::UnknownMember));
    assert_eq!(
        m.request(now, stranger, b"x", Duration::from_secs(1)),
        Err(SendError::UnknownMember)
    );
    assert_eq!(
        m.send(now, m.id(), &[0; 17]),
        Err(SendError::PayloadTooLarge)
    );
    let g = GroupId::from_name("a");
    assert_eq!(
        m.request_any(now, g, b"x", Duration::from_secs(1)),
        Err(SendError::NotInGroup)
    );
    assert_eq!(m.send_queue(now, g, "q", b"x"), Err(SendError::NotInGroup));
    m.join(now, "a").unwrap();
    run(&mut m, Instant::from_millis(1_000));
    let now = Instant::from_millis(1_000);
    assert_eq!(m.send_queue(now, g, "", b"x"), Err(SendError::BadQueueName));
    assert_eq!(m.free_slots(), 4);
}

/// Without `messaging` every send command is refused as not built, and
/// nothing is queued.
#[cfg(not(feature = "messaging"))]
#[test]
fn send_commands_are_not_built_without_messaging() {
    let mut m = machine();
    m.join(Instant::ZERO, "a").unwrap();
    run(&mut m, Instant::from_millis(1_000));
    let now = Instant::from_millis(1_000);
    let g = GroupId::from_name("a");
    let me = m.id();
    assert_eq!(m.send(now, me, b"x"), Err(SendError::NotBuiltIn));
    assert_eq!(
        m.request(now, me, b"x", Duration::from_secs(1)),
        Err(SendError::NotBuiltIn)
    );
    assert_eq!(
        m.request_any(now, g, b"x", Duration::from_secs(1)),
        Err(SendError::NotBuiltIn)
    );
    assert_eq!(m.send_queue(now, g, "q", b"x"), Err(SendError::NotBuiltIn));
    assert_eq!(m.poll_event(now), None);
}

#[cfg(feature = "messaging")]
#[test]
fn a_lone_member_serves_its_own_requests_and_queue() {
    let mut m = machine();
    m.join(Instant::ZERO, "a").unwrap();
    run(&mut m, Instant::from_millis(1_000));
    let now = Instant::from_millis(1_000);
    let g = GroupId::from_name("a");
    // request_any with nobody else answers locally.
    let c = m
        .request_any(now, g, b"q?", Duration::from_secs(1))
        .unwrap();
    let (from, corr) = match m.poll_event(now) {
        Some(blaze_membership::Event::Request {
            from,
            correlation,
            payload,
            group,
        }) => {
            assert_eq!(payload, b"q?");
            assert_eq!(group, Some(g));
            (from, correlation)
        }
        e => panic!("unexpected {e:?}"),
    };
    assert_eq!(corr, c);
    m.reply(now, from, corr, 0, b"a!").unwrap();
    assert!(matches!(
        m.poll_event(now),
        Some(blaze_membership::Event::Reply { payload: b"a!", .. })
    ));
    // A queue with this member as its only consumer.
    m.subscribe(now, g, "jobs").unwrap();
    let sent = m.send_queue(now, g, "jobs", b"job").unwrap();
    let delivery = match m.poll_event(now) {
        Some(blaze_membership::Event::QueueMessage {
            delivery,
            queue,
            redelivered,
            payload,
        }) => {
            assert_eq!((queue, redelivered, payload), ("jobs", false, &b"job"[..]));
            delivery
        }
        e => panic!("unexpected {e:?}"),
    };
    m.ack(now, delivery).unwrap();
    assert_eq!(
        m.poll_event(now),
        Some(blaze_membership::Event::QueueAcked {
            group: g,
            correlation: sent
        })
    );
    assert_eq!(
        m.ack(now, delivery).map(|_| m.stats().queue_stale_acks),
        Ok(1)
    );
    assert_eq!(m.free_slots(), 4);
    // Without a consumer the message waits at the coordinator.
    m.unsubscribe(now, g, "jobs").unwrap();
    m.send_queue(now, g, "jobs", b"later").unwrap();
    assert_eq!(m.poll_event(now), None);
    m.subscribe(now, g, "jobs").unwrap();
    assert!(matches!(
        m.poll_event(now),
        Some(blaze_membership::Event::QueueMessage {
            payload: b"later",
            ..
        })
    ));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, rng_seed: proptest::test_runner::RngSeed::Fixed(11), ..ProptestConfig::default() })]

    /// Arbitrary datagrams never panic, and are counted when malformed.
    #[test]
    fn hostile_datagrams_are_dropped(datagrams in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..120), 1..20)) {
        let mut m = machine();
        m.join(Instant::ZERO, "a").unwrap();
        run(&mut m, Instant::from_millis(500));
        let from = "10.0.0.2:7400".parse().unwrap();
        let mut buf = [0u8; 1500];
        for (i, d) in datagrams.iter().enumerate() {
            let now = Instant::from_millis(500 + i as u64);
            m.handle_datagram(now, from, d);
            while m.poll_transmit(now, &mut buf).is_some() {}
            while m.poll_event(now).is_some() {}
        }
        run(&mut m, Instant::from_millis(5_000));
        prop_assert_eq!(m.stats().datagrams, datagrams.len() as u64);
    }
}
