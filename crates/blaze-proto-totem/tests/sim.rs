//! Totem in the simulator: total order, safe delivery, failure detection.

mod common;

use blaze_proto_totem::{Config, ConfigurationKind};
use blaze_sim::{LinkConfig, World, check_same_sequence, check_total_order, run_seeds};
use blaze_wire::{Duration, Instant};
use common::{Node, Plan, Rec, check_evs, check_safe, deliveries, regular_confs};

fn lossy(loss: f64) -> LinkConfig {
    LinkConfig::perfect(Duration::from_micros(300))
        .with_delay(Duration::from_micros(300), Duration::from_micros(200))
        .with_loss(loss)
}

fn world(seed: u64, n: usize, loss: f64, plan: Plan) -> World<Node> {
    let mut w = World::new(seed, n, move |s| Node::new(s, Config::lan(), plan));
    w.set_default_link(lossy(loss));
    w
}

#[test]
fn five_members_total_order_under_loss() {
    run_seeds!("five_members_total_order_under_loss", 200, |seed| {
        let plan = Plan {
            start: Instant::from_millis(50),
            every: Duration::from_millis(4),
            count: 30,
            safe_every: 3,
        };
        let mut w = world(seed, 5, 0.10, plan);
        w.run_until(Instant::from_millis(1_200));
        let dels = deliveries(w.events());
        let seqs: Vec<(usize, &[_])> = dels.iter().map(|((n, _), v)| (*n, &v[..])).collect();
        check_same_sequence(&seqs).map_err(|v| v.to_string())?;
        if dels.len() != 5 || dels.iter().any(|(_, v)| v.len() != 150) {
            return Err(format!(
                "delivered {:?}",
                dels.iter().map(|(_, v)| v.len()).collect::<Vec<_>>()
            ));
        }
        let received: Vec<_> = (0..5)
            .map(|i| w.machine(i).map(|n| n.received.clone()).unwrap_or_default())
            .collect();
        let checked = check_safe(w.events(), &received)?;
        if checked < 5 * 50 {
            return Err(format!("only {checked} safe deliveries checked"));
        }
        check_evs(w.events())
    });
}

#[test]
fn ring_stays_stable_at_ten_percent_loss() {
    run_seeds!("ring_stays_stable_at_ten_percent_loss", 200, |seed| {
        let plan = Plan {
            start: Instant::from_millis(100),
            every: Duration::from_millis(20),
            count: 50,
            safe_every: 0,
        };
        let mut w = world(seed, 3, 0.10, plan);
        w.run_until(Instant::from_millis(400));
        let formed = regular_confs(w.events(), 3);
        w.run_until(Instant::from_millis(1_400));
        let later = regular_confs(w.events(), 3);
        if formed != later {
            return Err(format!("ring re-formed: {formed:?} then {later:?}"));
        }
        if later.iter().any(|c| c.last() != Some(&vec![0, 1, 2])) {
            return Err(format!("no full ring: {later:?}"));
        }
        let losses: u64 = (0..3)
            .filter_map(|i| w.machine(i))
            .map(|n| n.m.stats().token_losses)
            .sum();
        if losses != 0 {
            return Err(format!("{losses} token losses"));
        }
        check_evs(w.events())
    });
}

#[test]
fn crash_is_handled_within_half_a_second() {
    run_seeds!("crash_is_handled_within_half_a_second", 200, |seed| {
        let plan = Plan {
            start: Instant::from_millis(100),
            every: Duration::from_millis(10),
            count: 40,
            safe_every: 2,
        };
        let mut w = world(seed, 3, 0.0, plan);
        w.run_until(Instant::from_millis(300));
        let crash_at = w.now();
        w.crash(2);
        w.run_until(Instant::from_millis(1_200));
        for node in 0..2 {
            let installed = w.events().iter().find(|r| {
                r.node == node
                    && r.time > crash_at
                    && matches!(&r.event, Rec::Conf { kind: ConfigurationKind::Regular, members, .. } if *members == vec![0, 1])
            });
            let Some(rec) = installed else {
                return Err(format!("node {node} never installed the ring of two"));
            };
            let took = rec.time.saturating_duration_since(crash_at);
            if took >= Duration::from_millis(500) {
                return Err(format!("node {node} took {took}"));
            }
        }
        let dels = deliveries(w.events());
        let survivors: Vec<(usize, &[_])> = dels
            .iter()
            .filter(|((n, _), _)| *n < 2)
            .map(|((n, _), v)| (*n, &v[..]))
            .collect();
        check_same_sequence(&survivors).map_err(|v| v.to_string())?;
        let all: Vec<(usize, &[_])> = dels.iter().map(|((n, _), v)| (*n, &v[..])).collect();
        check_total_order(&all).map_err(|v| v.to_string())?;
        check_evs(w.events())
    });
}

#[test]
fn crash_at_ten_percent_loss_is_handled_within_half_a_second() {
    run_seeds!(
        "crash_at_ten_percent_loss_is_handled_within_half_a_second",
        200,
        |seed| {
            let plan = Plan {
                start: Instant::from_millis(100),
                every: Duration::from_millis(10),
                count: 40,
                safe_every: 2,
            };
            let mut w = world(seed, 3, 0.10, plan);
            w.run_until(Instant::from_millis(400));
            let crash_at = w.now();
            w.crash(2);
            w.run_until(Instant::from_millis(1_400));
            let mut worst = Duration::ZERO;
            for node in 0..2 {
                let installed = w.events().iter().find(|r| {
                r.node == node
                    && r.time > crash_at
                    && matches!(&r.event, Rec::Conf { kind: ConfigurationKind::Regular, members, .. } if *members == vec![0, 1])
            });
                let Some(rec) = installed else {
                    return Err(format!("node {node} never installed the ring of two"));
                };
                worst = worst.max(rec.time.saturating_duration_since(crash_at));
            }
            if worst >= Duration::from_millis(500) {
                return Err(format!("took {worst}"));
            }
            check_evs(w.events())
        }
    );
}
