//! Simulator scenarios around specific faults: NACK implosion with many
//! receivers, tail loss recovered through heartbeats, and partitions that
//! heal with the data still held (nothing lost) or evicted (an explicit
//! `Unrecoverable`, never a silent loss).

mod common;

use std::num::NonZeroU32;

use blaze_proto_nack::{Config, CutReason};
use blaze_sim::{LinkConfig, Spawn, World};
use blaze_wire::{Duration, Instant};
use common::{Node, Plan, Rec, Scenario, member, run, test_config};

/// Per-seed bound on NACK frames sent per lost copy of a sender datagram,
/// for 20 receivers at 5 % independent loss (see `nack_implosion_is_bounded`).
const NACKS_PER_LOST_COPY: f64 = 0.75;
/// Bound on the mean of that ratio over all seeds.
const MEAN_NACKS_PER_LOST_COPY: f64 = 0.55;

fn plain(count: u32, interval: Duration) -> Plan {
    Plan {
        count,
        interval,
        large_every: 0,
        large_len: 0,
        small_len: 32,
    }
}

/// NACK implosion: one sender, 20 receivers, 5 % loss on every link.
///
/// The measure is NACK frames sent by all receivers per lost copy of the
/// sender's datagrams (a copy lost on the way to one receiver is one hole
/// there). Without any care each hole costs at least one NACK (ratio >= 1,
/// plus about 10 % of retries when a NACK or its repair is lost too). Two
/// mechanisms bring it down:
///
/// - a NACK lists every hole its sender has (one frame for the holes of
///   one back-off period, here about six datagrams);
/// - a datagram lost by two or more of the 20 receivers (about 41 % of
///   the lost datagrams at 5 %) is NACKed once: the others hear the
///   multicast NACK during their random back-off of 0.5 to 1.5 SRTT and
///   suppress theirs.
///
/// Measured over the 200 default seeds: mean 0.49, worst seed 0.61, and
/// 0.11 NACKs suppressed per NACK sent; with suppression disabled (an
/// experiment, not in the code) mean 0.58, worst 0.78. So every seed must
/// stay under 0.75 (`NACKS_PER_LOST_COPY`) and the mean under 0.55
/// (`MEAN_NACKS_PER_LOST_COPY`): both fail without suppression.
#[test]
fn nack_implosion_is_bounded() {
    let mut ratios = Vec::new();
    blaze_sim::run_seeds!("nack_implosion_is_bounded", 200, |seed| {
        let sc = Scenario {
            nodes: 21,
            senders: vec![0],
            plan: plain(60, Duration::from_micros(50)),
            link: LinkConfig::default()
                .with_delay(Duration::from_micros(100), Duration::from_micros(20))
                .with_loss(0.05),
            config: test_config(),
            deadline: Duration::from_secs(5),
        };
        let out = run::<24, 64>(seed, &sc)?;
        let w = &out.world;
        let lost_copies = w.stats().nodes[0].dropped_outbound.total();
        let mut nacks = 0;
        let mut suppressed = 0;
        for r in 1..21 {
            let rs = w
                .machine(r)
                .ok_or("no receiver")?
                .ep()
                .recv_stats(member(0))
                .copied()
                .unwrap_or_default();
            nacks += rs.nacks_sent;
            suppressed += rs.nacks_suppressed;
        }
        let ratio = nacks as f64 / lost_copies.max(1) as f64;
        ratios.push((ratio, suppressed as f64 / nacks.max(1) as f64));
        if ratio > NACKS_PER_LOST_COPY {
            return Err(format!(
                "{nacks} NACKs for {lost_copies} lost copies: {ratio:.3} > {NACKS_PER_LOST_COPY}"
            ));
        }
        Ok(())
    });
    let n = ratios.len() as f64;
    let mean = ratios.iter().map(|r| r.0).sum::<f64>() / n;
    let sup = ratios.iter().map(|r| r.1).sum::<f64>() / n;
    let max = ratios.iter().map(|r| r.0).fold(0.0, f64::max);
    println!(
        "NACK frames per lost copy: mean {mean:.3}, max {max:.3} over {n} seeds; suppressed per sent {sup:.3}"
    );
    // The mean needs many seeds to mean anything (a replay runs one).
    if n >= 50.0 {
        assert!(
            mean <= MEAN_NACKS_PER_LOST_COPY,
            "mean {mean:.3} > {MEAN_NACKS_PER_LOST_COPY}"
        );
        assert!(sup > 0.0, "no NACK was ever suppressed");
    }
}

/// The last datagram of a burst is lost at every receiver; the heartbeat
/// that follows the idle stream exposes it, and it is NACKed and repaired.
#[test]
fn tail_loss_is_recovered_through_heartbeats() {
    blaze_sim::run_seeds!("tail_loss_is_recovered_through_heartbeats", 200, |seed| {
        let cfg = test_config();
        let plan = plain(10, Duration::from_millis(1));
        let mut world = World::new(seed, 3, move |s: Spawn| {
            Node::<4, 64>::new(
                s,
                3,
                cfg,
                (s.index == 0).then_some(plan),
                Instant::from_micros(100),
            )
        });
        world.set_default_link(LinkConfig::perfect(Duration::from_micros(100)));
        // Message 9 leaves at 9.1 ms: cut the sender off just around it.
        world.at(Instant::from_micros(9_050), |w| {
            w.block(0, 1, true);
            w.block(0, 2, true);
        });
        world.at(Instant::from_micros(9_150), |w| w.heal());
        world.run_until(Instant::from_millis(30));
        for r in 1..3 {
            let idx: Vec<u32> = world
                .events()
                .iter()
                .filter(|e| e.node == r)
                .filter_map(|e| match e.event {
                    Rec::Msg { idx, .. } => Some(idx),
                    _ => None,
                })
                .collect();
            if idx != (0..10).collect::<Vec<_>>() {
                return Err(format!("receiver {r} got {idx:?}"));
            }
            let last = world
                .events()
                .iter()
                .find(|e| e.node == r && matches!(e.event, Rec::Msg { idx: 9, .. }))
                .map(|e| e.time)
                .ok_or("no last message")?;
            // One heartbeat interval, a NACK back-off and a round trip.
            if last > Instant::from_micros(9_100) + Duration::from_millis(4) {
                return Err(format!("receiver {r}: tail recovered only at {last}"));
            }
            let rs = world
                .machine(r)
                .ok_or("gone")?
                .ep()
                .recv_stats(member(0))
                .copied()
                .unwrap_or_default();
            if rs.nacks_sent + rs.nacks_suppressed == 0 {
                return Err(format!("receiver {r} never NACKed the tail"));
            }
        }
        let hb = world.machine(0).ok_or("gone")?.ep().stats().send.heartbeats;
        if hb == 0 {
            return Err("no heartbeat".into());
        }
        Ok(())
    });
}

/// A receiver is partitioned away while the sender keeps sending, then the
/// partition heals. The window still holds everything it missed (the
/// sender is held to the slowest receiver): nothing is lost.
#[test]
fn partition_heals_with_the_window_holding_everything() {
    blaze_sim::run_seeds!(
        "partition_heals_with_the_window_holding_everything",
        200,
        |seed| {
            let sc = Scenario {
                nodes: 4,
                senders: vec![0],
                plan: plain(300, Duration::from_micros(50)),
                link: common::link(seed % 3).1,
                config: test_config(),
                deadline: Duration::from_secs(5),
            };
            let (n, cfg, plan) = (sc.nodes, sc.config, sc.plan);
            let mut world = World::new(seed, n, move |s: Spawn| {
                Node::<8, 64>::new(
                    s,
                    n,
                    cfg,
                    (s.index == 0).then_some(plan),
                    Instant::from_micros(100),
                )
            });
            world.set_default_link(sc.link);
            world.at(Instant::from_millis(2), |w| {
                w.partition(&[&[0, 1, 2], &[3]])
            });
            world.at(Instant::from_millis(40), |w| w.heal());
            world.run_until(Instant::from_millis(200));
            common::check(&world, &sc)?;
            let got = world
                .events()
                .iter()
                .filter(|e| matches!(e.event, Rec::Msg { .. }))
                .count();
            if got != 3 * 300 {
                return Err(format!("{got} deliveries of 900"));
            }
            Ok(())
        }
    );
}

/// The partition lasts longer than the sender waits (`peer_timeout`): the
/// silent receiver is cut loose, the window moves on, and after the heal
/// the receiver gets `Unrecoverable` for exactly what it can no longer
/// have, then everything after it, in order.
#[test]
fn partition_beyond_the_window_reports_unrecoverable() {
    blaze_sim::run_seeds!(
        "partition_beyond_the_window_reports_unrecoverable",
        200,
        |seed| {
            let mut cfg: Config = test_config();
            cfg.peer_timeout = Duration::from_millis(20);
            cfg.heartbeat_max = Duration::from_millis(10);
            cfg.flow_window = NonZeroU32::new(64).ok_or("zero")?;
            let plan = plain(1_500, Duration::from_micros(20));
            let mut world = World::new(seed, 3, move |s: Spawn| {
                Node::<4, 64>::new(
                    s,
                    3,
                    cfg,
                    (s.index == 0).then_some(plan),
                    Instant::from_micros(100),
                )
            });
            world.set_default_link(common::link(seed % 3).1);
            world.at(Instant::from_millis(2), |w| w.partition(&[&[0, 1], &[2]]));
            world.at(Instant::from_millis(100), |w| w.heal());
            world.run_until(Instant::from_millis(400));
            let sender = world.machine(0).ok_or("gone")?;
            if sender.sent != 1_500 {
                return Err(format!("sender stuck at {}", sender.sent));
            }
            let cut = world.events().iter().any(|e| {
                e.node == 0
                    && e.event
                        == Rec::Cut {
                            member: 2,
                            reason: CutReason::Silent,
                        }
            });
            if !cut {
                return Err("the silent receiver was not cut loose".into());
            }
            // Receiver 1 got everything; receiver 2 accounts for every
            // sequence number exactly once, in order: delivered or reported.
            let first = u64::MAX - 50;
            for r in 1..3 {
                let mut next = first;
                let mut lost = 0u64;
                let mut idx_seen = Vec::new();
                for e in world.events().iter().filter(|e| e.node == r) {
                    match e.event {
                        Rec::Msg {
                            sender: 0,
                            idx,
                            seq,
                            ..
                        } => {
                            if seq != next {
                                return Err(format!(
                                    "receiver {r}: seq {seq} delivered, expected {next}"
                                ));
                            }
                            idx_seen.push(idx);
                            next = next.wrapping_add(1);
                        }
                        Rec::Lost {
                            sender: 0,
                            from,
                            to,
                        } => {
                            if from != next {
                                return Err(format!(
                                    "receiver {r}: lost from {from}, expected {next}"
                                ));
                            }
                            lost += to.wrapping_sub(from) + 1;
                            next = to.wrapping_add(1);
                        }
                        ref other => return Err(format!("receiver {r}: unexpected {other:?}")),
                    }
                }
                if next != first.wrapping_add(1_500) {
                    return Err(format!("receiver {r}: accounted up to {next}, {lost} lost"));
                }
                if r == 1 && lost != 0 {
                    return Err("receiver 1 lost messages".into());
                }
                if r == 2 && lost == 0 {
                    return Err("receiver 2 should have missed evicted messages".into());
                }
                if !idx_seen.windows(2).all(|w| w[0] < w[1]) {
                    return Err(format!("receiver {r}: out of order"));
                }
            }
            Ok(())
        }
    );
}

/// The scenario runner itself works at zero loss with a tiny plan
/// (sanity of the harness used above).
#[test]
fn harness_sanity() {
    let sc = Scenario {
        nodes: 2,
        senders: vec![0],
        plan: plain(5, Duration::from_micros(10)),
        link: LinkConfig::default(),
        config: test_config(),
        deadline: Duration::from_millis(100),
    };
    let out = run::<4, 64>(1, &sc).expect("delivers");
    assert!(out.finished_at < Instant::from_millis(5));
}
