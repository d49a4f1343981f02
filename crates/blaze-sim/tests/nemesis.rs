//! The random adversary: seeded, varied, and fully repaired at its end.

mod common;

use blaze_sim::{Config, DropReason, LinkConfig, Nemesis, World};
use blaze_wire::{Duration, Instant};
use common::{Plan, Toy};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn run(seed: u64, trace_lines: usize) -> World<Toy> {
    let cfg = Config {
        trace_lines,
        ..Config::default()
    };
    let mut w = World::with_config(seed, 6, cfg, |s| Toy::new(s, Plan::multicast(1_500, ms(1))));
    w.set_link(0, 1, LinkConfig::perfect(ms(2)));
    let mut n = Nemesis::new(Instant::from_millis(100), Instant::from_millis(1_100)).spare(&[0]);
    n.max_down = 2;
    w.unleash(n);
    w.run_until(Instant::from_millis(1_300));
    w
}

#[test]
fn every_kind_of_fault_happens_and_is_repaired() {
    let w = run(1, 100_000);
    let lines: Vec<&str> = w.trace_tail().collect();
    for what in [
        "crash",
        "restart",
        "pause",
        "resume",
        "partition [",
        "link model set",
        "link model cleared",
    ] {
        assert!(
            lines.iter().any(|l| l.contains(what)),
            "no {what} in the trace"
        );
    }
    let t = w.stats().total();
    assert!(t.dropped_inbound.get(DropReason::Partition) > 0);
    assert!(t.dropped_inbound.get(DropReason::Crashed) > 0);
    assert_eq!(w.stats().nodes[0].crashes, 0, "node 0 is spared");
    // After the end everything is whole again: all up, no pause, every
    // pair reachable, the link models as the script left them.
    for a in 0..6 {
        assert!(w.is_up(a) && !w.is_paused(a), "node {a}");
        for b in 0..6 {
            assert!(w.reachable(a, b), "{a} -> {b}");
            let expected = (a, b) == (0, 1);
            assert_eq!(w.link(a, b).is_some(), expected, "{a} -> {b}");
        }
    }
    // And the last 150 ms of traffic reached everyone.
    for node in 1..6 {
        let late = w
            .events()
            .iter()
            .filter(|r| r.node == node && r.event.from == 0 && r.time > Instant::from_millis(1_150))
            .count();
        assert!(late >= 149, "node {node} got {late} late datagrams from 0");
    }
}

#[test]
fn the_nemesis_follows_the_seed() {
    assert_eq!(run(7, 0).trace_hash(), run(7, 0).trace_hash());
    assert_ne!(run(7, 0).trace_hash(), run(8, 0).trace_hash());
}

#[test]
fn network_only_crashes_nothing() {
    let mut w = World::new(3, 4, |s| Toy::new(s, Plan::multicast(300, ms(1))));
    w.unleash(Nemesis::new(Instant::ZERO, Instant::from_millis(300)).network_only());
    w.run_until(Instant::from_millis(400));
    let t = w.stats().total();
    assert_eq!((t.crashes, t.restarts), (0, 0));
    assert!(t.dropped_inbound.total() > 0);
}
