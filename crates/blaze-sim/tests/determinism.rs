//! A seed fixes the whole run.

mod common;

use blaze_sim::{LinkConfig, World};
use blaze_wire::{Duration, Instant};
use common::{Got, Plan, Toy};

/// Every node multicasts over a WAN with every fault kind scripted in.
fn chaos(seed: u64) -> (u64, Vec<(Instant, usize, Got)>) {
    let mut w = World::new(seed, 5, |s| {
        Toy::new(s, Plan::multicast(200, Duration::from_millis(2)))
    });
    w.set_default_link(LinkConfig::wan());
    w.set_link_pair(0, 1, LinkConfig::lossy_lan());
    w.at(Instant::from_millis(100), |w| {
        w.partition(&[&[0, 1], &[2, 3, 4]])
    });
    w.at(Instant::from_millis(150), |w| w.heal());
    w.at(Instant::from_millis(120), |w| w.crash(3));
    w.at(Instant::from_millis(180), |w| w.restart(3));
    w.at(Instant::from_millis(200), |w| {
        w.pause(2, Duration::from_millis(40))
    });
    w.run_until(Instant::from_millis(2_000));
    let events = w
        .events()
        .iter()
        .map(|r| (r.time, r.node, r.event))
        .collect();
    (w.trace_hash(), events)
}

#[test]
fn same_seed_same_trace() {
    let (h1, e1) = chaos(42);
    let (h2, e2) = chaos(42);
    assert_eq!(h1, h2);
    assert_eq!(e1, e2);
    assert!(e1.len() > 1_000, "the run did something");
}

#[test]
fn different_seeds_different_traces() {
    let hashes: Vec<u64> = (0..4).map(|s| chaos(s).0).collect();
    for (i, a) in hashes.iter().enumerate() {
        for b in hashes.iter().skip(i + 1) {
            assert_ne!(a, b);
        }
    }
}

#[test]
fn machine_seeds_follow_the_world_seed() {
    let seeds = |world_seed| {
        let w = World::new(world_seed, 3, |s| {
            let mut t = Toy::new(s, Plan::silent());
            t.received.push(Got {
                from: 0,
                incarnation: 0,
                seq: s.seed,
            });
            t
        });
        (0..3)
            .map(|i| w.machine(i).map(|m| m.received[0].seq))
            .collect::<Vec<_>>()
    };
    assert_eq!(seeds(1), seeds(1));
    assert_ne!(seeds(1), seeds(2));
}
