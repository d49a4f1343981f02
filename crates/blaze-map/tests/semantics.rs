//! The map's semantics on a loss-free network of three members: every
//! operation, option, error, lock rule and event, one scenario each.

mod common;

use blaze_map::{
    ChangeKind, CommandError, LockLostReason, MergePolicy, Replica, ViewInfo, ViewMember,
    WriteError, WriteOptions,
};
use blaze_sim::{LinkConfig, node_addr};
use blaze_wire::{Duration, Instant};
use common::{Cluster, Rec, config, member_id};

fn cluster() -> Cluster {
    let mut c = Cluster::new(1, 3, config(0, MergePolicy::MajoritySide));
    c.world.set_default_link(LinkConfig::default());
    c.run_for(Duration::from_millis(20));
    c
}

fn ms(c: &mut Cluster, n: u64) {
    c.run_for(Duration::from_millis(n));
}

/// Events of `node` from position `from` on.
fn events(c: &Cluster, node: usize, from: usize) -> Vec<(Instant, Rec)> {
    c.world.events()[from..]
        .iter()
        .filter(|e| e.node == node)
        .map(|e| (e.time, e.event.clone()))
        .collect()
}

fn outcome(c: &Cluster, node: usize, req: blaze_map::RequestId) -> Option<Rec> {
    c.world.events().iter().find_map(|e| match &e.event {
        Rec::WriteDone { request, .. }
        | Rec::WriteFailed { request, .. }
        | Rec::LockAcquired { request, .. }
        | Rec::LockFailed { request, .. }
            if e.node == node && *request == req =>
        {
            Some(e.event.clone())
        }
        _ => None,
    })
}

#[test]
fn put_cas_remove_and_change_events() {
    let mut c = cluster();
    let start = c.world.events().len();
    let p = c.put(1, b"k", b"v1", 0).unwrap();
    ms(&mut c, 10);
    let Some(Rec::WriteDone { version, .. }) = outcome(&c, 1, p) else {
        panic!("put failed: {:?}", outcome(&c, 1, p));
    };
    for node in 0..3 {
        let ev = events(&c, node, start);
        assert!(ev.iter().any(|(_, e)| matches!(e,
            Rec::Changed { kind: ChangeKind::Inserted, key, new: Some(v), old: None, version: ver, cause, .. }
                if key == b"k" && v == b"v1" && *ver == version && *cause == member_id(1, 0))));
    }
    // Compare-and-set with a stale version fails with the current one.
    let bad = c.cas(2, b"k", version + 100, b"v2").unwrap();
    let good = c.cas(2, b"k", version, b"v2").unwrap();
    ms(&mut c, 10);
    assert_eq!(
        outcome(&c, 2, bad),
        Some(Rec::WriteFailed {
            request: bad,
            error: WriteError::VersionMismatch { current: version }
        })
    );
    assert!(matches!(outcome(&c, 2, good), Some(Rec::WriteDone { .. })));
    assert_eq!(
        c.world.machine(0).unwrap().r.get("m", b"k").unwrap().value,
        b"v2"
    );
    // Put-if-absent on an existing key, remove, remove again.
    let from = c.world.events().len();
    let pia = c
        .world
        .command(0, |n, now| {
            n.r.put_if_absent(now, "m", b"k", b"x", WriteOptions::default())
        })
        .unwrap()
        .unwrap();
    let rm = c
        .world
        .command(0, |n, now| n.r.remove(now, "m", b"k", 0))
        .unwrap()
        .unwrap();
    ms(&mut c, 10);
    let rm2 = c
        .world
        .command(0, |n, now| n.r.remove(now, "m", b"k", 0))
        .unwrap()
        .unwrap();
    ms(&mut c, 10);
    assert_eq!(
        outcome(&c, 0, pia),
        Some(Rec::WriteFailed {
            request: pia,
            error: WriteError::Exists
        })
    );
    assert!(matches!(outcome(&c, 0, rm), Some(Rec::WriteDone { .. })));
    assert_eq!(
        outcome(&c, 0, rm2),
        Some(Rec::WriteFailed {
            request: rm2,
            error: WriteError::NotFound
        })
    );
    assert!(events(&c, 2, from).iter().any(|(_, e)| matches!(e,
        Rec::Changed { kind: ChangeKind::Removed, old: Some(o), new: None, .. } if o == b"v2")));
    assert!(c.world.machine(2).unwrap().r.get("m", b"k").is_none());
}

#[test]
fn named_maps_are_independent() {
    let mut c = cluster();
    c.world
        .command(0, |n, now| {
            n.r.put(now, "one", b"k", b"1", WriteOptions::default())
        })
        .unwrap()
        .unwrap();
    c.world
        .command(1, |n, now| {
            n.r.put(now, "two", b"k", b"2", WriteOptions::default())
        })
        .unwrap()
        .unwrap();
    ms(&mut c, 10);
    let r = &c.world.machine(2).unwrap().r;
    assert_eq!(r.get("one", b"k").unwrap().value, b"1");
    assert_eq!(r.get("two", b"k").unwrap().value, b"2");
    assert_eq!(r.entries().count(), 2);
}

#[test]
fn owner_only_entries_refuse_other_writers() {
    let mut c = cluster();
    let opts = WriteOptions {
        owner_only: true,
        ..WriteOptions::default()
    };
    c.world
        .command(1, |n, now| n.r.put(now, "m", b"o", b"mine", opts))
        .unwrap()
        .unwrap();
    ms(&mut c, 10);
    let other = c.put(2, b"o", b"theirs", 0).unwrap();
    let owner = c.put(1, b"o", b"still mine", 0).unwrap();
    ms(&mut c, 10);
    assert_eq!(
        outcome(&c, 2, other),
        Some(Rec::WriteFailed {
            request: other,
            error: WriteError::Owned(member_id(1, 0))
        })
    );
    assert!(matches!(outcome(&c, 1, owner), Some(Rec::WriteDone { .. })));
}

#[test]
fn locks_exclude_fence_and_hand_over() {
    let mut c = cluster();
    let lease = Duration::from_millis(200);
    let a = c
        .try_lock(1, b"x", lease, Duration::from_millis(50))
        .unwrap();
    ms(&mut c, 10);
    let Some(Rec::LockAcquired { fence: f1, .. }) = outcome(&c, 1, a) else {
        panic!("no grant: {:?}", outcome(&c, 1, a));
    };
    assert_eq!(
        c.world
            .machine(0)
            .unwrap()
            .r
            .lock_info("m", b"x")
            .map(|l| l.holder),
        Some(member_id(1, 0))
    );
    let again = c
        .world
        .command(1, |n, now| {
            n.r.try_lock(now, "m", b"x", lease, Duration::from_millis(5))
        })
        .unwrap();
    assert_eq!(again, Err(CommandError::AlreadyHeld));
    // Another member waits, then gives up naming the holder.
    let b = c
        .try_lock(2, b"x", lease, Duration::from_millis(30))
        .unwrap();
    // Writes: without the token refused, with it accepted.
    let w0 = c.put(2, b"x", b"no token", 0).unwrap();
    let w1 = c.put(1, b"x", b"fenced", f1).unwrap();
    ms(&mut c, 50);
    assert_eq!(
        outcome(&c, 2, b),
        Some(Rec::LockFailed {
            request: b,
            error: WriteError::Held(member_id(1, 0))
        })
    );
    assert_eq!(
        outcome(&c, 2, w0),
        Some(Rec::WriteFailed {
            request: w0,
            error: WriteError::Locked(member_id(1, 0))
        })
    );
    assert!(matches!(outcome(&c, 1, w1), Some(Rec::WriteDone { .. })));
    // Hand over: unlock, the waiter gets a newer token, the old one is stale.
    let b2 = c
        .try_lock(2, b"x", lease, Duration::from_millis(100))
        .unwrap();
    ms(&mut c, 5);
    assert!(c.unlock(1, b"x", f1));
    ms(&mut c, 60);
    let Some(Rec::LockAcquired { fence: f2, .. }) = outcome(&c, 2, b2) else {
        panic!("waiter not granted: {:?}", outcome(&c, 2, b2));
    };
    assert!(f2 > f1);
    let stale = c.put(1, b"x", b"late", f1).unwrap();
    ms(&mut c, 10);
    assert_eq!(
        outcome(&c, 1, stale),
        Some(Rec::WriteFailed {
            request: stale,
            error: WriteError::StaleFence
        })
    );
    // unlock of a lock not held is refused.
    assert!(!c.unlock(1, b"x", f1));
}

#[test]
fn leases_expire_and_renew() {
    let mut c = cluster();
    let from = c.world.events().len();
    let a = c
        .try_lock(
            1,
            b"l",
            Duration::from_millis(30),
            Duration::from_millis(10),
        )
        .unwrap();
    ms(&mut c, 10);
    let Some(Rec::LockAcquired { deadline, .. }) = outcome(&c, 1, a) else {
        panic!("no grant");
    };
    // Renew once: the deadline moves.
    let rn = c
        .world
        .command(1, |n, now| {
            n.r.renew(now, "m", b"l", Duration::from_millis(30))
        })
        .unwrap()
        .unwrap();
    ms(&mut c, 10);
    let renewed = events(&c, 1, from).into_iter().find_map(|(_, e)| match e {
        Rec::LockRenewed { deadline, .. } => Some(deadline),
        _ => None,
    });
    assert!(
        renewed.is_some_and(|d| d > deadline),
        "renew {rn:?}: {renewed:?}"
    );
    // Then let it run out: the holder hears it, the coordinator frees it.
    ms(&mut c, 60);
    assert!(events(&c, 1, from).iter().any(|(_, e)| matches!(
        e,
        Rec::LockLost {
            reason: LockLostReason::Expired,
            ..
        }
    )));
    assert!(c.world.machine(0).unwrap().r.lock_info("m", b"l").is_none());
    let b = c
        .try_lock(
            2,
            b"l",
            Duration::from_millis(30),
            Duration::from_millis(10),
        )
        .unwrap();
    ms(&mut c, 10);
    assert!(matches!(outcome(&c, 2, b), Some(Rec::LockAcquired { .. })));
}

#[test]
fn time_to_live_expires_entries() {
    let mut c = cluster();
    let from = c.world.events().len();
    let opts = WriteOptions {
        ttl: Duration::from_millis(40),
        ..WriteOptions::default()
    };
    c.world
        .command(2, |n, now| n.r.put(now, "m", b"t", b"tmp", opts))
        .unwrap()
        .unwrap();
    ms(&mut c, 20);
    assert!(c.world.machine(1).unwrap().r.get("m", b"t").is_some());
    ms(&mut c, 60);
    for node in 0..3 {
        assert!(c.world.machine(node).unwrap().r.get("m", b"t").is_none());
        assert!(events(&c, node, from).iter().any(|(_, e)| matches!(e,
            Rec::Changed { kind: ChangeKind::Expired, old: Some(o), .. } if o == b"tmp")));
    }
}

#[test]
fn owner_exit_removes_entries_and_revokes_locks_after_the_lease() {
    let mut c = cluster();
    let opts = WriteOptions {
        remove_on_exit: true,
        ..WriteOptions::default()
    };
    c.world
        .command(2, |n, now| n.r.put(now, "m", b"e", b"bye", opts))
        .unwrap()
        .unwrap();
    c.put(2, b"keep", b"stays", 0).unwrap();
    let lease = Duration::from_millis(80);
    c.try_lock(2, b"z", lease, Duration::from_millis(10))
        .unwrap();
    ms(&mut c, 10);
    let crash = c.now();
    c.crash(2);
    ms(&mut c, 20);
    c.install_views();
    let waiter = c
        .try_lock(1, b"z", lease, Duration::from_millis(300))
        .unwrap();
    ms(&mut c, 20);
    let r = &c.world.machine(0).unwrap().r;
    assert!(r.get("m", b"e").is_none(), "remove-on-exit entry survived");
    assert!(r.get("m", b"keep").is_some());
    ms(&mut c, 200);
    let granted = c.world.events().iter().find_map(|e| match &e.event {
        Rec::LockAcquired { request, .. } if e.node == 1 && *request == waiter => Some(e.time),
        _ => None,
    });
    // Not before the old lease could have run out at the crashed holder.
    assert!(granted.is_some_and(|t| t >= crash + lease), "{granted:?}");
}

#[test]
fn command_errors() {
    let mut c = cluster();
    let too_long = [0u8; 17];
    let r = c
        .world
        .command(0, |n, now| {
            n.r.put(now, "m", &too_long, b"", WriteOptions::default())
        })
        .unwrap();
    assert_eq!(r, Err(CommandError::TooLarge));
    let r = c
        .world
        .command(0, |n, now| n.r.unlock(now, "m", b"nope"))
        .unwrap();
    assert_eq!(r, Err(CommandError::NotHeld));
    // No view yet.
    let cfg = config(3, MergePolicy::MajoritySide);
    let mut lone: common::R = Replica::new(cfg, member_id(9, 0)).unwrap();
    let now = Instant::from_millis(1);
    assert_eq!(
        lone.put(now, "m", b"k", b"v", WriteOptions::default()),
        Err(CommandError::NoCoordinator)
    );
    // A view below the quorum.
    let members = [ViewMember {
        id: member_id(9, 0),
        addr: node_addr(9),
    }];
    lone.handle_view(
        now,
        &ViewInfo {
            id: 1,
            members: &members,
            merge: false,
        },
    );
    assert_eq!(
        lone.put(now, "m", b"k", b"v", WriteOptions::default()),
        Err(CommandError::QuorumLost)
    );
}

#[test]
fn a_full_map_refuses_new_keys() {
    let mut c = cluster();
    let mut reqs = Vec::new();
    for i in 0..33u32 {
        let key = format!("k{i}");
        if let Some(r) = c.put(0, key.as_bytes(), b"v", 0) {
            reqs.push(r);
        }
        if reqs.len() % 8 == 0 {
            ms(&mut c, 5);
        }
    }
    ms(&mut c, 20);
    let full = reqs
        .iter()
        .filter(|r| {
            matches!(
                outcome(&c, 0, **r),
                Some(Rec::WriteFailed {
                    error: WriteError::MapFull,
                    ..
                })
            )
        })
        .count();
    assert_eq!(full, 1);
    assert_eq!(c.world.machine(2).unwrap().r.len(), 32);
    // Replacing an existing key still works.
    let r = c.put(1, b"k3", b"new", 0).unwrap();
    ms(&mut c, 10);
    assert!(matches!(outcome(&c, 1, r), Some(Rec::WriteDone { .. })));
}
