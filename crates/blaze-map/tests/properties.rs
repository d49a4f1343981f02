//! Hostile input: arbitrary datagrams, and valid frames with arbitrary
//! fields, never panic a replica and never change a state it was not
//! sent by its coordinator.

mod common;

use blaze_map::{MergePolicy, ViewInfo, ViewMember};
use blaze_sim::node_addr;
use blaze_wire::{Body, Frame, GroupId, Instant, LockOp, LockOpKind, MapOp, MapOpKind, Message};
use common::{R, config, member_id};
use proptest::prelude::*;

fn replica() -> R {
    let mut r = R::new(config(0, MergePolicy::LatestVersion), member_id(0, 0)).unwrap();
    let members = [
        ViewMember {
            id: member_id(0, 0),
            addr: node_addr(0),
        },
        ViewMember {
            id: member_id(1, 0),
            addr: node_addr(1),
        },
    ];
    r.handle_view(
        Instant::from_millis(1),
        &ViewInfo {
            id: 1,
            members: &members,
            merge: false,
        },
    );
    r
}

fn drain(r: &mut R, now: Instant) {
    let mut buf = [0u8; 1500];
    for _ in 0..10_000 {
        if r.poll_transmit(now, &mut buf).is_none() {
            break;
        }
    }
    while r.poll_event().is_some() {}
    let _ = r.poll_timeout();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, rng_seed: proptest::test_runner::RngSeed::Fixed(11), ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_are_dropped(data in proptest::collection::vec(any::<u8>(), 0..300)) {
        let mut r = replica();
        let now = Instant::from_millis(2);
        r.handle_datagram(now, node_addr(1), &data);
        drain(&mut r, now);
        prop_assert!(r.is_empty());
    }

    #[test]
    fn arbitrary_map_and_lock_frames_never_panic(
        kind in 0i32..80, lock_kind in 0i32..70, key in proptest::collection::vec(any::<u8>(), 0..40),
        value in proptest::collection::vec(any::<u8>(), 0..60), version in any::<u64>(), order in any::<u64>(),
        fence in any::<u64>(), request in any::<u64>(), flags in any::<u32>(), ttl in any::<u64>(),
        lock in any::<bool>(), sender in 1usize..3, map in "[a-z]{0,40}",
    ) {
        let mut r = replica();
        let now = Instant::from_millis(2);
        let body = if lock {
            Body::LockOp(LockOp {
                map: &map, key: &key, kind: LockOpKind(lock_kind), lease_us: ttl, fence,
                holder: Some(member_id(sender, 0)), request_id: request, order, wait_us: version,
            })
        } else {
            Body::MapOp(MapOp {
                map: &map, kind: MapOpKind(kind), key: &key, value: &value, version, request_id: request,
                order, ttl_us: ttl, flags, owner: Some(member_id(sender, 0)), error: flags, fence,
            })
        };
        let frame = Frame { version: 1, group: GroupId::from_name("map-test"), sender: member_id(sender, 0), auth_tag: &[], body };
        let mut buf = [0u8; 512];
        let n = frame.emit(&mut buf).unwrap();
        r.handle_datagram(now, node_addr(sender), &buf[..n]);
        drain(&mut r, now);
        r.handle_timeout(Instant::from_millis(500));
        drain(&mut r, Instant::from_millis(500));
    }
}
