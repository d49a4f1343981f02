//! Properties of the simulator itself over random network models and
//! fault scripts (proptest with a fixed seed: the cases are the same on
//! every run).

mod common;

use blaze_sim::{
    Bandwidth, GilbertElliott, LinkConfig, World, check_at_most_once, check_bounded, check_fifo,
    per_node,
};
use blaze_wire::{Duration, Instant};
use common::{Plan, Toy, one_sender};
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, RngSeed};

const COUNT: u64 = 150;

fn link() -> impl Strategy<Value = LinkConfig> {
    (
        0.0..0.3f64,
        prop::option::of((0.0..0.05f64, 1.0..10.0f64)),
        0.0..0.2f64,
        0.0..0.3f64,
        0u64..3_000,
        0u64..2_000,
        0u64..1_000,
        prop::option::of((100_000u64..2_000_000, 1_000usize..20_000)),
    )
        .prop_map(|(loss, burst, dup, reorder, extra, delay, jitter, bw)| {
            let mut l = LinkConfig::default()
                .with_loss(loss)
                .with_duplicate(dup)
                .with_reorder(reorder, Duration::from_micros(extra))
                .with_delay(Duration::from_micros(delay), Duration::from_micros(jitter));
            if let Some((start, len)) = burst {
                l = l.with_burst(GilbertElliott::bursts(start, len));
            }
            if let Some((rate, queue)) = bw {
                l = l.with_bandwidth(Bandwidth::new(rate, queue));
            }
            l
        })
}

/// A fault script: (time in ms, node 1..4, kind).
fn script() -> impl Strategy<Value = Vec<(u64, usize, u8)>> {
    prop::collection::vec((0u64..200, 1usize..4, 0u8..5), 0..6)
}

fn build(seed: u64, link: LinkConfig, script: &[(u64, usize, u8)]) -> World<Toy> {
    let mut w = World::new(
        seed,
        4,
        one_sender(Plan::multicast(COUNT, Duration::from_millis(1))),
    );
    w.set_default_link(link);
    for &(t, node, kind) in script {
        w.at(Instant::from_millis(t), move |w| match kind {
            0 => w.crash(node),
            1 => w.restart(node),
            2 => w.pause(node, Duration::from_millis(15)),
            3 => w.partition(&[&[0], &[node]]),
            _ => w.heal(),
        });
    }
    w
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 48,
        rng_seed: RngSeed::Fixed(0x5eed),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Every copy is delivered, dropped for a reason, in flight, or held.
    #[test]
    fn copies_are_conserved(seed in any::<u64>(), link in link(), script in script()) {
        let mut w = build(seed, link, &script);
        // Stop mid-run too, while copies are in flight.
        for stop in [40u64, 120, 400] {
            w.run_until(Instant::from_millis(stop));
            let t = w.stats().total();
            let copies = w.stats().nodes[0].sent * 3 + t.duplicated;
            let held: usize = (0..4).map(|i| w.held(i)).sum();
            let accounted = t.delivered
                + t.dropped_inbound.total()
                + w.in_flight() as u64
                + held as u64;
            prop_assert_eq!(copies, accounted, "at {} ms", stop);
        }
        prop_assert!(check_bounded(&w, COUNT as usize * 2).is_ok());
    }

    /// Two runs from one seed are identical.
    #[test]
    fn runs_replay(seed in any::<u64>(), link in link(), script in script()) {
        let run = || {
            let mut w = build(seed, link, &script);
            w.run_until(Instant::from_millis(500));
            (w.trace_hash(), w.stats().clone())
        };
        prop_assert_eq!(run(), run());
    }

    /// Without jitter, reordering or a bandwidth cap, one sender's
    /// datagrams stay in order whatever is lost; nothing arrives twice
    /// without duplication.
    #[test]
    fn constant_delay_keeps_fifo(seed in any::<u64>(), loss in 0.0..0.5f64, delay in 0u64..5_000) {
        let link = LinkConfig::default()
            .with_loss(loss)
            .with_delay(Duration::from_micros(delay), Duration::ZERO);
        let mut w = build(seed, link, &[]);
        w.run_until(Instant::from_millis(500));
        let sent: Vec<(usize, u64)> = (0..COUNT).map(|s| (0, s)).collect();
        for (node, got) in per_node(w.events(), 4, |r| Some((r.event.from, r.event.seq))).iter().enumerate().skip(1) {
            prop_assert!(check_fifo(node, got).is_ok());
            prop_assert!(check_at_most_once(node, got, &sent).is_ok());
        }
    }
}

#[test]
fn spurious_wake_ups_are_harmless_to_the_toy() {
    let mut w = World::new(
        1,
        2,
        one_sender(Plan::multicast(20, Duration::from_millis(1))),
    );
    for t in 0..40 {
        w.at(Instant::from_micros(t * 500 + 250), |w| w.wake(0));
    }
    w.run_until(Instant::from_millis(100));
    let seqs: Vec<u64> = w.events().iter().map(|r| r.event.seq).collect();
    assert_eq!(seqs, (0..20).collect::<Vec<_>>());
    // 20 due timeouts, 40 spurious ones.
    assert_eq!(w.stats().nodes[0].timeouts, 60);
}

#[test]
fn trace_tail_keeps_the_last_lines() {
    let cfg = blaze_sim::Config {
        trace_lines: 4,
        ..blaze_sim::Config::default()
    };
    let mut w = World::with_config(
        2,
        2,
        cfg,
        one_sender(Plan::multicast(5, Duration::from_millis(1))),
    );
    w.at(Instant::from_millis(10), |w| w.crash(1));
    w.run_until(Instant::from_millis(20));
    let tail: Vec<&str> = w.trace_tail().collect();
    assert_eq!(tail.len(), 4);
    assert_eq!(tail[3], "0.010000s node 1: crash");
    assert!(
        tail[2].starts_with("0.004100s node 1: event Got"),
        "{tail:?}"
    );
}
