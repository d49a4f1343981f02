//! Hostile input: random bytes and mutated valid frames never panic a
//! member, and are counted.

use blaze_proto_totem::{Buffers, Config, Qos, SendError, Slot, Totem};
use blaze_wire::{
    Body, DataBatch, DataMessage, Frame, GroupId, Instant, Join, MemberId, MemberRingState,
    Message, Repeated, RingId, SeqRange, Token, View, ViewMember,
};
use core::net::SocketAddr;
use proptest::prelude::*;

type Member = Totem<'static, 4, 32, 96, 4>;

/// Storage for a member, leaked (a test process is short-lived).
fn buffers(w: usize, p: usize, q: usize) -> Buffers<'static> {
    Buffers {
        slots: vec![Slot::EMPTY; Buffers::slots_needed(w)].leak(),
        bytes: vec![0; Buffers::bytes_needed(w, p, q)].leak(),
    }
}

fn member(now: Instant) -> Member {
    Member::new(
        now,
        MemberId::from_u128(2),
        GroupId::from_name("g"),
        Config::lan(),
        buffers(32, 96, 4),
    )
    .unwrap()
}

fn from() -> SocketAddr {
    "127.0.0.9:7400".parse().unwrap()
}

/// Valid frames of every kind this member reads, as seeds for mutation.
fn samples() -> Vec<Vec<u8>> {
    let ring = RingId {
        rep: Some(MemberId::from_u128(1)),
        seq: 4,
    };
    let ids = [MemberId::from_u128(1), MemberId::from_u128(2)];
    let ranges = [SeqRange {
        start: 1,
        end: u64::MAX,
    }];
    let msgs = [DataMessage {
        payload: &[7; 40],
        ..DataMessage::default()
    }];
    let vm = [
        ViewMember {
            id: Some(ids[0]),
            ..ViewMember::default()
        },
        ViewMember {
            id: Some(ids[1]),
            ..ViewMember::default()
        },
    ];
    let st = [MemberRingState {
        id: Some(ids[0]),
        old_ring: Some(ring),
        aru: 3,
        high_delivered: 2,
        received_flag: true,
    }];
    let bodies = [
        Body::Join(Join {
            proc_set: Repeated::from_slice(&ids),
            ring_seq: 2,
            ..Join::default()
        }),
        Body::Token(Token {
            ring: Some(ring),
            token_seq: 9,
            seq: u64::MAX,
            aru: 0,
            rtr: Repeated::from_slice(&ranges),
            next: Some(ids[1]),
            ..Token::default()
        }),
        Body::View(View {
            view_id: 1,
            members: Repeated::from_slice(&vm),
            ring: Some(ring),
            ring_states: Repeated::from_slice(&st),
            ..View::default()
        }),
        Body::Data(DataBatch {
            stream: 0,
            first_seq: u64::MAX - 1,
            messages: Repeated::from_slice(&msgs),
            window_start: 1,
            ..DataBatch::default()
        }),
    ];
    bodies
        .iter()
        .map(|b| {
            let f = Frame {
                version: 1,
                group: GroupId::from_name("g"),
                sender: ids[0],
                auth_tag: &[],
                body: *b,
            };
            let mut buf = vec![0u8; f.encoded_len()];
            let n = f.emit(&mut buf).unwrap();
            buf.truncate(n);
            buf
        })
        .collect()
}

fn drive(m: &mut Member, now: Instant) {
    let mut buf = [0u8; 1500];
    while m.poll_transmit(now, &mut buf).is_some() {}
    while m.poll_event().is_some() {}
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, rng_seed: proptest::test_runner::RngSeed::Fixed(7), ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..300)) {
        let mut m = member(Instant::ZERO);
        m.handle_datagram(Instant::from_millis(1), from(), &data);
        drive(&mut m, Instant::from_millis(1));
        let s = m.stats();
        prop_assert!(s.malformed + s.foreign + s.duplicates + s.wrong_ring + s.oversized <= 1);
    }

    #[test]
    fn mutated_frames_never_panic(which in 0usize..4, flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6)) {
        let mut m = member(Instant::ZERO);
        let mut t = Instant::ZERO;
        for s in samples() {
            let mut d = s.clone();
            if let Some(len) = core::num::NonZeroUsize::new(d.len()) {
                for (i, x) in &flips {
                    d[i % len.get()] ^= x;
                }
            }
            t += blaze_wire::Duration::from_millis(7);
            m.handle_datagram(t, from(), if d.len() > which { &d } else { &s });
            m.handle_timeout(t);
            drive(&mut m, t);
        }
        prop_assert!(m.occupancy() <= 32 + 4);
    }
}

#[test]
fn send_refuses_oversized_and_applies_back_pressure() {
    let mut m = member(Instant::ZERO);
    assert_eq!(
        m.send(Instant::ZERO, Qos::Agreed, &[0; 97]),
        Err(SendError::TooLarge)
    );
    assert_eq!(Member::MAX_PAYLOAD, 96);
    // The topic shares the slot with the payload.
    assert_eq!(
        m.send_topic(Instant::ZERO, Qos::Agreed, "t", &[0; 96]),
        Err(SendError::TooLarge)
    );
    for _ in 0..4 {
        m.send(Instant::ZERO, Qos::Safe, b"x").unwrap();
    }
    assert_eq!(
        m.send(Instant::ZERO, Qos::Agreed, b"y"),
        Err(SendError::WouldBlock)
    );
    assert_eq!(m.queued(), 4);
    assert_eq!(m.stats().would_block, 1);
}

#[test]
fn invalid_config_is_refused() {
    let bad = Config {
        token_retransmit: blaze_wire::Duration::from_millis(150),
        ..Config::lan()
    };
    assert!(
        Member::new(
            Instant::ZERO,
            MemberId::from_u128(1),
            GroupId::from_name("g"),
            bad,
            buffers(32, 96, 4)
        )
        .is_err()
    );
    let bad = Config {
        window: 0,
        ..Config::lan()
    };
    assert!(bad.validate().is_err());
    assert!(Config::wan().validate().is_ok());
}

#[test]
fn foreign_group_is_counted() {
    let mut m = member(Instant::ZERO);
    let f = Frame {
        version: 1,
        group: GroupId::from_name("other"),
        sender: MemberId::from_u128(1),
        auth_tag: &[],
        body: Body::Empty,
    };
    let mut buf = [0u8; 64];
    let n = f.emit(&mut buf).unwrap();
    m.handle_datagram(Instant::ZERO, from(), &buf[..n]);
    assert_eq!(m.stats().foreign, 1);
}
