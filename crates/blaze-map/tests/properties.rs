//! Hostile input: arbitrary datagrams, and valid frames with arbitrary
//! fields, never panic a replica and never change a state it was not
//! sent by its coordinator.

mod common;

#[cfg(feature = "ring")]
use blaze_map::RingConfiguration;
use blaze_map::{MergePolicy, ViewInfo, ViewMember};
use blaze_sim::node_addr;
use blaze_wire::{
    Body, Frame, GroupId, Instant, LockOp, LockOpKind, MapControl, MapControlKind, MapOp,
    MapOpKind, Message, RequestWindow,
};
#[cfg(feature = "ring")]
use common::ring_config;
use common::{R, config, member_id};
use proptest::prelude::*;

/// The policy with the most code behind it that the build has.
const POLICY: MergePolicy = if cfg!(feature = "merge-reapply") {
    MergePolicy::LatestVersion
} else {
    MergePolicy::MajoritySide
};

fn replica() -> R {
    let mut r = R::new(config(0, POLICY), member_id(0, 0)).unwrap();
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

/// A ring-ordered replica in a configuration with member 1, open.
#[cfg(feature = "ring")]
fn ring_replica() -> R {
    let cfg = ring_config(0, POLICY, true);
    let mut r = R::new(cfg, member_id(0, 0)).unwrap();
    let now = Instant::from_millis(1);
    let members = [member_id(0, 0), member_id(1, 0)];
    r.handle_configuration(now, RingConfiguration::Regular, 4, &members);
    // Both reports delivered (neither holds a state): a new, open group.
    let mut buf = [0u8; 512];
    let n = r.poll_ordered_submit(now, &mut buf).unwrap().len;
    let own = buf[..n].to_vec();
    r.handle_delivered(now, members[0], &own);
    let report = MapControl {
        kind: MapControlKind::SYNC_REPLY,
        view_id: 4,
        ..MapControl::default()
    };
    let frame = Frame {
        version: 1,
        group: GroupId::from_name("map-test"),
        sender: members[1],
        auth_tag: &[],
        body: Body::MapControl(report),
    };
    let n = frame.emit(&mut buf).unwrap();
    r.handle_delivered(now, members[1], &buf[..n]);
    assert!(r.is_synced(), "the ring-ordered replica opened");
    r
}

fn drain(r: &mut R, now: Instant) {
    let mut buf = [0u8; 1500];
    for _ in 0..10_000 {
        #[cfg(feature = "ring")]
        let submitted = r.poll_ordered_submit(now, &mut buf).is_some();
        #[cfg(not(feature = "ring"))]
        let submitted = false;
        if r.poll_transmit(now, &mut buf).is_none() && !submitted {
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
        kind in 0i32..12, lock_kind in 0i32..12, key in proptest::collection::vec(any::<u8>(), 0..40),
        value in proptest::collection::vec(any::<u8>(), 0..60), version in any::<u64>(), order in any::<u64>(),
        fence in any::<u64>(), request in any::<u64>(), flags in any::<u32>(), ttl in any::<u64>(),
        body_kind in 0u8..3, sender in 1usize..3, map in "[a-z]{0,40}", small in 0u64..8, yes in any::<bool>(),
    ) {
        let mut r = replica();
        let now = Instant::from_millis(2);
        let member = Some(member_id(sender, 0));
        let body = match body_kind {
            0 => Body::LockOp(LockOp {
                map: &map, key: &key, kind: LockOpKind(lock_kind), lease_us: ttl, fence,
                holder: member, request_id: request, order, wait_us: version, epoch: small,
                error: flags, snapshot_session: request, snapshot_cursor: order,
                snapshot_prev_cursor: small, quarantined: yes,
            }),
            1 => Body::MapOp(MapOp {
                map: &map, kind: MapOpKind(kind), key: &key, value: &value, version, request_id: request,
                order, ttl_us: ttl, flags, owner: member, error: flags, fence, epoch: small,
                origin: member, snapshot_session: request, snapshot_cursor: order,
                snapshot_prev_cursor: small, has_value: yes,
                request_window: yes.then_some(RequestWindow {
                    member, highest_request: version, applied_bits: fence,
                }),
            }),
            _ => Body::MapControl(MapControl {
                kind: MapControlKind(kind), epoch: small, epoch_leader: member, view_id: small,
                order, last_order: version, committed: fence, epoch_base: ttl, session: request,
                cursor: order, prev_cursor: small, parked: yes, losers_reset: !yes, holds_state: yes,
                losers_park: !yes, side_size: small, side_epoch: order, side_leader: member, side_parent: small, side_parent_leader: member,
            }),
        };
        let frame = Frame { version: 1, group: GroupId::from_name("map-test"), sender: member_id(sender, 0), auth_tag: &[], body };
        let mut buf = [0u8; 512];
        let n = frame.emit(&mut buf).unwrap();
        r.handle_datagram(now, node_addr(sender), &buf[..n]);
        drain(&mut r, now);
        r.handle_timeout(Instant::from_millis(500));
        drain(&mut r, Instant::from_millis(500));
        // The same frame delivered by a ring, before and after the
        // configuration's reports.
        #[cfg(feature = "ring")]
        {
        let mut ring = ring_replica();
        ring.handle_delivered(now, member_id(sender, 0), &buf[..n]);
        drain(&mut ring, now);
        ring.handle_delivered(now, member_id(sender, 0), &buf[..n]);
        ring.handle_configuration(now, RingConfiguration::Transitional, 8, &[member_id(0, 0)]);
        ring.handle_delivered(now, member_id(sender, 0), &buf[..n]);
        ring.handle_configuration(now, RingConfiguration::Regular, 8, &[member_id(0, 0)]);
        drain(&mut ring, now);
        ring.handle_timeout(Instant::from_millis(500));
        drain(&mut ring, Instant::from_millis(500));
        }
    }

    #[cfg(feature = "ring")]
    #[test]
    fn arbitrary_ring_deliveries_are_dropped(data in proptest::collection::vec(any::<u8>(), 0..300), sender in 0usize..3) {
        let mut r = ring_replica();
        let now = Instant::from_millis(2);
        r.handle_delivered(now, member_id(sender, 0), &data);
        drain(&mut r, now);
        prop_assert!(r.is_empty());
    }
}
