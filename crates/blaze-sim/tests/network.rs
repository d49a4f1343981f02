//! The link fault models: loss, bursts, duplication, reordering, delay,
//! bandwidth, partitions.

mod common;

use blaze_sim::{
    Bandwidth, Config, DropReason, GilbertElliott, LinkConfig, World, check_fifo, node_addr,
    run_seeds,
};
use blaze_wire::{Destination, Duration, Instant};
use common::{Got, Plan, Toy, one_sender};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Node 0 multicasts `count` datagrams, 1 ms apart, over `link` to `n - 1`
/// receivers; returns the world after everything landed.
fn flood(seed: u64, n: usize, count: u64, link: LinkConfig) -> World<Toy> {
    let mut w = World::new(seed, n, one_sender(Plan::multicast(count, ms(1))));
    w.set_default_link(link);
    w.run_until(Instant::from_millis(count + 1_000));
    w
}

fn seqs_at(w: &World<Toy>, node: usize) -> Vec<u64> {
    w.events()
        .iter()
        .filter(|r| r.node == node)
        .map(|r| r.event.seq)
        .collect()
}

#[test]
fn uniform_loss_rate_is_as_configured() {
    run_seeds!("uniform_loss_rate_is_as_configured", 3, |seed| {
        let w = flood(seed, 3, 2_000, LinkConfig::default().with_loss(0.2));
        let copies = 2 * 2_000;
        let t = w.stats().total();
        let lost = t.dropped_inbound.get(DropReason::Loss);
        if t.delivered + lost != copies {
            return Err(format!(
                "delivered {} + lost {lost} != {copies}",
                t.delivered
            ));
        }
        let rate = lost as f64 / copies as f64;
        if !(0.17..=0.23).contains(&rate) {
            return Err(format!("loss rate {rate:.3}, configured 0.2"));
        }
        Ok(())
    });
}

/// Mean length of runs of consecutive missing sequence numbers.
fn mean_loss_run(received: &[u64], count: u64) -> (f64, f64) {
    let got: std::collections::BTreeSet<u64> = received.iter().copied().collect();
    let (mut runs, mut lost, mut in_run) = (0u64, 0u64, false);
    for s in 0..count {
        if got.contains(&s) {
            in_run = false;
        } else {
            lost += 1;
            if !in_run {
                runs += 1;
            }
            in_run = true;
        }
    }
    (lost as f64 / runs.max(1) as f64, lost as f64 / count as f64)
}

#[test]
fn gilbert_elliott_loses_in_bursts() {
    let count = 4_000;
    let ge = GilbertElliott::bursts(0.01, 10.0);
    let bursty = flood(
        1,
        2,
        count,
        LinkConfig::default().with_loss(0.0).with_burst(ge),
    );
    let (run, rate) = mean_loss_run(&seqs_at(&bursty, 1), count);
    assert!(run > 5.0, "mean burst {run:.2}, expected about 10");
    assert!(
        (0.04..=0.16).contains(&rate),
        "burst loss rate {rate:.3}, stationary {:.3}",
        ge.stationary_loss()
    );
    assert!(
        bursty
            .stats()
            .total()
            .dropped_inbound
            .get(DropReason::BurstLoss)
            > 0
    );

    // The same average loss, uniform, gives runs of about one.
    let uniform = flood(
        1,
        2,
        count,
        LinkConfig::default().with_loss(ge.stationary_loss()),
    );
    let (run, _) = mean_loss_run(&seqs_at(&uniform, 1), count);
    assert!(run < 1.5, "uniform mean run {run:.2}");
}

#[test]
fn duplication_adds_copies() {
    let w = flood(2, 2, 2_000, LinkConfig::default().with_duplicate(0.1));
    let t = w.stats().total();
    assert_eq!(t.delivered, 2_000 + t.duplicated);
    assert!(
        (150..=250).contains(&t.duplicated),
        "{} duplicates",
        t.duplicated
    );
    let seqs = seqs_at(&w, 1);
    let distinct: std::collections::BTreeSet<_> = seqs.iter().collect();
    assert_eq!(distinct.len(), 2_000);
}

#[test]
fn reordering_and_jitter_reorder_only_when_configured() {
    let count = 500;
    let plain = flood(3, 2, count, LinkConfig::default());
    let in_order: Vec<(usize, u64)> = seqs_at(&plain, 1).into_iter().map(|s| (0, s)).collect();
    assert!(check_fifo(1, &in_order).is_ok());

    let reordering = LinkConfig::default().with_reorder(0.2, ms(5));
    let w = flood(3, 2, count, reordering);
    let seqs = seqs_at(&w, 1);
    assert_eq!(seqs.len() as u64, count, "reordering loses nothing");
    let inversions = seqs.windows(2).filter(|p| p[1] < p[0]).count();
    assert!(inversions > 10, "only {inversions} inversions");
}

#[test]
fn delay_and_jitter_bound_the_latency() {
    let link = LinkConfig::default().with_delay(ms(10), ms(2));
    let w = flood(4, 2, 300, link);
    let mut spread = std::collections::BTreeSet::new();
    for r in w.events() {
        // Sequence number s left at s ms.
        let latency = r.time - Instant::from_millis(r.event.seq);
        assert!(latency >= ms(10) && latency <= ms(12), "latency {latency}");
        spread.insert(latency);
    }
    assert!(spread.len() > 100, "jitter should vary the latency");
}

#[test]
fn bandwidth_cap_serialises_and_tail_drops() {
    // 1 000 B/ms, 10 000 B of queue, 1 000 B datagrams sent 50 at once.
    let bw = Bandwidth::new(1_000_000, 10_000);
    let plan = Plan {
        size: 1_000,
        to: Destination::Peer(node_addr(1)),
        ..Plan::silent()
    };
    let mut w = World::new(5, 2, one_sender(plan));
    w.set_default_link(LinkConfig::perfect(Duration::from_micros(100)).with_bandwidth(bw));
    w.command(0, |m, _| m.send_now(50));
    w.run_for(ms(100));
    let arrivals: Vec<Instant> = w.events().iter().map(|r| r.time).collect();
    assert_eq!(arrivals.len(), 10, "queue holds 10 datagrams");
    let drops = w.stats().nodes[0]
        .dropped_outbound
        .get(DropReason::QueueFull);
    assert_eq!(drops, 40);
    for (k, t) in arrivals.iter().enumerate() {
        // Serialised one after the other: 1 ms each, then 100 µs of flight.
        assert_eq!(t.total_micros(), (k as u64 + 1) * 1_000 + 100);
    }
    // Once drained, the link takes traffic again.
    w.command(0, |m, _| m.send_now(5));
    w.run_for(ms(100));
    assert_eq!(w.events().len(), 15);
}

#[test]
fn group_bandwidth_serialises_a_multicast_once() {
    let bw = Bandwidth::new(1_000_000, 5_000);
    let plan = Plan {
        size: 1_000,
        ..Plan::silent()
    };
    let mut w = World::new(6, 4, one_sender(plan));
    w.set_group_link(Some(LinkConfig::default().with_bandwidth(bw)));
    w.command(0, |m, _| m.send_now(20));
    w.run_for(ms(100));
    for node in 1..4 {
        assert_eq!(seqs_at(&w, node), vec![0, 1, 2, 3, 4], "node {node}");
    }
    // A per-link model overrides the group model.
    w.set_link(0, 3, LinkConfig::default());
    w.command(0, |m, _| m.send_now(20));
    w.run_for(ms(100));
    assert_eq!(seqs_at(&w, 3).len(), 25);
    assert_eq!(seqs_at(&w, 1).len(), 10);
}

#[test]
fn partitions_block_and_heal() {
    let mut w = World::new(7, 4, one_sender(Plan::multicast(300, ms(1))));
    w.set_default_link(LinkConfig::perfect(ms(10)));
    w.at(Instant::from_millis(100), |w| {
        w.partition(&[&[0, 1], &[2, 3]])
    });
    w.at(Instant::from_millis(200), |w| w.heal());
    w.run_until(Instant::from_millis(400));
    assert_eq!(seqs_at(&w, 1), (0..300).collect::<Vec<_>>());
    for node in [2, 3] {
        let got = seqs_at(&w, node);
        // Sent before 90 ms arrived before the cut; sent at 90..100 ms was
        // in flight at the cut and dropped on arrival; after the heal all
        // gets through.
        let expected: Vec<u64> = (0..90).chain(200..300).collect();
        assert_eq!(got, expected, "node {node}");
        assert!(!w.reachable(0, node) || w.now() > Instant::from_millis(200));
    }
    let drops = w.stats().nodes[0]
        .dropped_outbound
        .get(DropReason::Partition);
    assert_eq!(drops, 2 * 110);
}

#[test]
fn one_way_block_is_one_way() {
    let mut w = World::new(8, 2, |s| Toy::new(s, Plan::multicast(10, ms(1))));
    w.block(0, 1, true);
    w.run_for(ms(50));
    let at = |n: usize| w.events().iter().filter(|r| r.node == n).count();
    assert_eq!((at(0), at(1)), (10, 0));
}

#[test]
fn changing_the_model_mid_run_takes_effect() {
    let mut w = World::new(9, 2, one_sender(Plan::multicast(200, ms(1))));
    w.at(Instant::from_millis(100), |w| {
        w.set_default_link(LinkConfig::default().with_loss(1.0))
    });
    w.run_for(ms(500));
    assert_eq!(seqs_at(&w, 1), (0..100).collect::<Vec<_>>());
}

#[test]
fn large_mtu_carries_large_datagrams() {
    let plan = Plan {
        size: 60_000,
        count: 3,
        ..Plan::multicast(3, ms(1))
    };
    let cfg = Config {
        mtu: blaze_sim::MAX_UDP_PAYLOAD,
        ..Config::default()
    };
    let mut w = World::with_config(10, 2, cfg, one_sender(plan));
    w.run_for(ms(10));
    assert_eq!(w.stats().nodes[1].delivered_bytes, 180_000);
    let got: Vec<Got> = w.events().iter().map(|r| r.event).collect();
    assert_eq!(got.len(), 3);
}

#[test]
fn default_mtu_is_1500() {
    // The toy refuses to write what does not fit the buffer it is given.
    let plan = Plan {
        size: 1_501,
        ..Plan::multicast(3, ms(1))
    };
    let mut w = World::new(11, 2, one_sender(plan));
    w.run_for(ms(10));
    assert_eq!(w.stats().total().sent, 0);
    assert_eq!(w.config().mtu, 1_500);
}
