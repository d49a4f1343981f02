//! Membership changes in the simulator: token loss, crash, restart,
//! partition and merge, with extended virtual synchrony checked per
//! configuration.

mod common;

use blaze_proto_totem::{Config, ConfigurationKind};
use blaze_sim::{LinkConfig, World, run_seeds};
use blaze_wire::{Duration, Instant};
use common::{MsgId, Node, Plan, Rec, check_evs, deliveries};

fn world(seed: u64, n: usize, loss: f64, plan: Plan) -> World<Node> {
    let mut w = World::new(seed, n, move |s| Node::new(s, Config::lan(), plan));
    w.set_default_link(
        LinkConfig::perfect(Duration::from_micros(300))
            .with_delay(Duration::from_micros(300), Duration::from_micros(200))
            .with_loss(loss),
    );
    w
}

fn plan(count: u32) -> Plan {
    Plan {
        start: Instant::from_millis(250),
        every: Duration::from_millis(15),
        count,
        safe_every: 2,
    }
}

/// The last regular configuration each live node reported.
fn last_ring(w: &World<Node>, node: usize) -> Option<Vec<usize>> {
    let inc = w.incarnation(node)?;
    w.events()
        .iter()
        .rev()
        .filter(|r| r.node == node && r.incarnation == inc)
        .find_map(|r| match &r.event {
            Rec::Conf {
                kind: ConfigurationKind::Regular,
                members,
                ..
            } => {
                let mut m = members.clone();
                m.sort_unstable();
                Some(m)
            }
            _ => None,
        })
}

/// Every live node ends on one ring of all live nodes, and every sender
/// that never crashed delivered all of its own messages.
fn check_end(w: &World<Node>, n: usize, count: u32, crashed: &[usize]) -> Result<(), String> {
    let live: Vec<usize> = (0..n).filter(|i| w.is_up(*i)).collect();
    for &i in &live {
        if last_ring(w, i).as_ref() != Some(&live) {
            return Err(format!(
                "node {i} ends on {:?}, live {live:?}",
                last_ring(w, i)
            ));
        }
    }
    let dels = deliveries(w.events());
    for &i in live.iter().filter(|i| !crashed.contains(i)) {
        let mine: Vec<&MsgId> = dels
            .iter()
            .filter(|((node, _), _)| *node == i)
            .flat_map(|(_, v)| v.iter())
            .filter(|id| id.0 == i)
            .collect();
        if mine.len() != count as usize {
            return Err(format!(
                "node {i} delivered {} of its {count} messages",
                mine.len()
            ));
        }
    }
    Ok(())
}

#[test]
fn partition_and_merge_keep_evs() {
    run_seeds!("partition_and_merge_keep_evs", 200, |seed| {
        let mut w = world(seed, 5, 0.02, plan(40));
        w.run_until(Instant::from_millis(400));
        w.partition(&[&[0, 1, 2], &[3, 4]]);
        w.run_until(Instant::from_millis(1_000));
        for i in 0..5 {
            let want = if i < 3 { vec![0, 1, 2] } else { vec![3, 4] };
            if last_ring(&w, i) != Some(want.clone()) {
                return Err(format!(
                    "node {i} on {:?} during the partition",
                    last_ring(&w, i)
                ));
            }
        }
        w.heal();
        w.run_until(Instant::from_millis(1_800));
        check_evs(w.events())?;
        check_end(&w, 5, 40, &[])
    });
}

#[test]
fn crash_under_load_keeps_evs() {
    run_seeds!("crash_under_load_keeps_evs", 200, |seed| {
        let mut w = world(seed, 4, 0.05, plan(40));
        w.run_until(Instant::from_millis(300 + seed % 200));
        w.crash(1 + (seed % 3) as usize);
        w.run_until(Instant::from_millis(1_400));
        check_evs(w.events())?;
        let crashed = [1 + (seed % 3) as usize];
        let n = 4;
        let live: Vec<usize> = (0..n).filter(|i| w.is_up(*i)).collect();
        for &i in &live {
            if last_ring(&w, i).as_ref() != Some(&live) {
                return Err(format!("node {i} ends on {:?}", last_ring(&w, i)));
            }
        }
        check_end(&w, n, 40, &crashed)
    });
}

#[test]
fn token_loss_on_one_link_reforms_and_merges() {
    run_seeds!("token_loss_on_one_link_reforms_and_merges", 200, |seed| {
        let mut w = world(seed, 3, 0.0, plan(40));
        w.run_until(Instant::from_millis(350));
        // The token cannot go from 0 to 1 for a while.
        w.block(0, 1, true);
        w.run_until(Instant::from_millis(700));
        w.block(0, 1, false);
        w.run_until(Instant::from_millis(1_600));
        let losses: u64 = (0..3)
            .filter_map(|i| w.machine(i))
            .map(|n| n.m.stats().token_losses)
            .sum();
        if losses == 0 {
            return Err("the blocked link caused no token loss".into());
        }
        check_evs(w.events())?;
        check_end(&w, 3, 40, &[])
    });
}

#[test]
fn restarted_member_rejoins() {
    run_seeds!("restarted_member_rejoins", 200, |seed| {
        let mut w = world(seed, 4, 0.02, plan(30));
        w.run_until(Instant::from_millis(400));
        w.crash(3);
        w.run_until(Instant::from_millis(900));
        w.restart(3);
        w.run_until(Instant::from_millis(1_700));
        check_evs(w.events())?;
        check_end(&w, 4, 30, &[3])
    });
}

#[test]
fn nemesis_keeps_evs() {
    run_seeds!("nemesis_keeps_evs", 100, |seed| {
        let n = 5;
        let mut w = world(seed, n, 0.02, plan(60));
        let mut nem =
            blaze_sim::Nemesis::new(Instant::from_millis(300), Instant::from_millis(1_500));
        nem.mean_interval = Duration::from_millis(150);
        nem.downtime = (Duration::from_millis(50), Duration::from_millis(400));
        nem.partition_len = (Duration::from_millis(50), Duration::from_millis(500));
        w.unleash(nem);
        w.run_until(Instant::from_millis(2_600));
        check_evs(w.events())?;
        let crashed: Vec<usize> = (0..n)
            .filter(|i| w.incarnation(*i).unwrap_or(0) > 0)
            .collect();
        check_end(&w, n, 60, &crashed)
    });
}

/// The EVS checker itself: it rejects two members that go from one
/// configuration to the same next one with different messages.
#[test]
fn evs_checker_rejects_divergent_configurations() {
    use blaze_sim::EventRecord;
    let conf = |kind, seq, members: Vec<usize>| Rec::Conf {
        kind,
        ring: (1, seq),
        members,
    };
    let msg = |id: (usize, u32, u32)| Rec::Msg {
        id,
        ring_seq_sent: 1,
        safe: false,
        key: (0, 1),
    };
    let rec = |node, event| EventRecord {
        time: Instant::ZERO,
        node,
        incarnation: 0,
        event,
    };
    let good = vec![
        rec(0, conf(ConfigurationKind::Regular, 4, vec![0, 1])),
        rec(1, conf(ConfigurationKind::Regular, 4, vec![0, 1])),
        rec(0, msg((0, 0, 0))),
        rec(1, msg((0, 0, 0))),
        rec(0, conf(ConfigurationKind::Transitional, 8, vec![0, 1])),
        rec(1, conf(ConfigurationKind::Transitional, 8, vec![0, 1])),
    ];
    assert_eq!(check_evs(&good), Ok(()));
    let mut bad = good.clone();
    bad.remove(3);
    assert!(check_evs(&bad).unwrap_err().contains("delivered"));
    let mut split = good.clone();
    split[1] = rec(1, conf(ConfigurationKind::Regular, 4, vec![1]));
    assert!(check_evs(&split).is_err());
    let mut twice = good;
    twice.insert(3, rec(0, msg((0, 0, 0))));
    assert!(check_evs(&twice).is_err());
}
