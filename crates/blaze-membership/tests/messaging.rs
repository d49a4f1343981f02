//! Requests, replies and queues under loss and crashes, in blaze-sim.
//!
//! `BLAZE_SIM_SEEDS=N` (or `A..B`) runs more seeds.
#![cfg(feature = "messaging")]
#![allow(unreachable_pub, reason = "test harness")]
mod common;

use blaze_sim::{LinkConfig, World, run_seeds};
use blaze_wire::{Duration, Instant};
use common::*;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

fn at(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

#[test]
fn requests_and_replies_with_a_responder_crashing_in_between() {
    run_seeds!(
        "requests_and_replies_with_a_responder_crashing_in_between",
        200,
        |seed| {
            let mut w = World::new(seed, 4, Setup::new(config(100, 500, None)).factory());
            w.set_default_link(LinkConfig::default().with_loss(0.1));
            // Node 1 answers at once; node 2 never answers (it crashes while
            // holding the requests); node 3 answers "late" requests only when
            // told to, and the rest at once.
            w.set_reactor(|n, now, node, ev| {
                if let Ev::Request {
                    from,
                    correlation,
                    payload,
                } = ev
                {
                    if node == 2 || (node == 3 && payload.as_slice() == b"late") {
                        return;
                    }
                    let _ = n.m.reply(now, *from, *correlation, 0, payload);
                }
            });
            w.run_until(at(1_500));
            if !converged(&w, &[0, 1, 2, 3]) {
                return Err("no view".into());
            }
            let sent: Rc<RefCell<BTreeMap<u64, &'static str>>> = Rc::default();
            let s = sent.clone();
            w.at(at(1_500), move |w| {
                for _ in 0..20 {
                    let c = w
                        .command(0, |n, now| {
                            n.m.request(now, id_of(1), b"ping", Duration::from_secs(2))
                        })
                        .unwrap();
                    s.borrow_mut().insert(c.unwrap(), "answered");
                }
                for _ in 0..5 {
                    let c = w
                        .command(0, |n, now| {
                            n.m.request(now, id_of(2), b"hold", Duration::from_secs(1))
                        })
                        .unwrap();
                    s.borrow_mut().insert(c.unwrap(), "crashed");
                }
                let c = w
                    .command(0, |n, now| {
                        n.m.request(now, id_of(3), b"late", Duration::from_millis(300))
                    })
                    .unwrap();
                s.borrow_mut().insert(c.unwrap(), "late");
            });
            w.at(at(1_800), |w| w.crash(2));
            // Node 3 answers its late request after the requester gave up.
            w.at(at(2_300), |w| {
                let req = w.events().iter().find_map(|r| match &r.event {
                    Ev::Request {
                        from,
                        correlation,
                        payload,
                    } if r.node == 3 && payload.as_slice() == b"late" => {
                        Some((*from, *correlation))
                    }
                    _ => None,
                });
                if let Some((from, c)) = req {
                    w.command(3, |n, now| n.m.reply(now, from, c, 0, b"too late"));
                }
            });
            let s = sent.clone();
            w.at(at(4_000), move |w| {
                for _ in 0..10 {
                    let c = w
                        .command(0, |n, now| {
                            n.m.request_any(now, group(), b"any", Duration::from_secs(2))
                        })
                        .unwrap();
                    s.borrow_mut().insert(c.unwrap(), "any");
                }
            });
            w.run_until(at(7_000));
            let mut outcome: BTreeMap<u64, Vec<&str>> = BTreeMap::new();
            for r in w.events().iter().filter(|r| r.node == 0) {
                match &r.event {
                    Ev::Reply {
                        correlation,
                        payload,
                        ..
                    } => {
                        let expect: &[u8] = if payload.as_slice() == b"any" {
                            b"any"
                        } else {
                            b"ping"
                        };
                        if payload.as_slice() != expect {
                            return Err(format!("reply {correlation} carries {payload:?}"));
                        }
                        outcome.entry(*correlation).or_default().push("reply");
                    }
                    Ev::TimedOut(c) => outcome.entry(*c).or_default().push("timeout"),
                    _ => {}
                }
            }
            for (c, kind) in sent.borrow().iter() {
                let got = outcome.get(c).cloned().unwrap_or_default();
                let want = match *kind {
                    "answered" | "any" => vec!["reply"],
                    _ => vec!["timeout"],
                };
                if got != want {
                    return Err(format!("request {c} ({kind}): got {got:?}, want {want:?}"));
                }
            }
            let late = w.machine(0).unwrap().m.stats().late_replies;
            if late != 1 {
                return Err(format!("{late} late replies counted, want 1"));
            }
            Ok(())
        }
    );
}

/// Deliveries per message index: (node, redelivered), in order.
fn deliveries(w: &World<Node>) -> BTreeMap<u8, Vec<(usize, bool)>> {
    let mut out: BTreeMap<u8, Vec<(usize, bool)>> = BTreeMap::new();
    for r in w.events() {
        if let Ev::Queue {
            redelivered,
            payload,
            ..
        } = &r.event
        {
            out.entry(payload[0])
                .or_default()
                .push((r.node, *redelivered));
        }
    }
    out
}

fn queue_world(seed: u64) -> World<Node> {
    let mut setup = Setup::new(config(100, 500, None));
    setup.weights.insert(0, 10);
    setup.consumers = vec![1, 2, 3];
    setup.ack_delay = Some(Duration::from_millis(150));
    let mut w = World::new(seed, 5, setup.factory());
    w.set_default_link(LinkConfig::default().with_loss(0.1));
    w
}

const MESSAGES: u8 = 24;

fn produce(w: &mut World<Node>, from_ms: u64) -> Rc<RefCell<BTreeSet<u64>>> {
    produce_from(w, 4, from_ms)
}

fn produce_from(w: &mut World<Node>, producer: usize, from_ms: u64) -> Rc<RefCell<BTreeSet<u64>>> {
    let sent: Rc<RefCell<BTreeSet<u64>>> = Rc::default();
    for i in 0..MESSAGES {
        let s = sent.clone();
        w.at(at(from_ms + u64::from(i) * 20), move |w| {
            let c = w
                .command(producer, |n, now| n.m.send_queue(now, group(), "q", &[i]))
                .unwrap();
            s.borrow_mut().insert(c.expect("send_queue"));
        });
    }
    sent
}

/// Every correlation acked exactly once at the producer.
fn check_acked_once(w: &World<Node>, sent: &BTreeSet<u64>) -> Result<(), String> {
    check_acked_once_at(w, 4, sent)
}

fn check_acked_once_at(
    w: &World<Node>,
    producer: usize,
    sent: &BTreeSet<u64>,
) -> Result<(), String> {
    let mut acked: BTreeMap<u64, usize> = BTreeMap::new();
    for r in w.events().iter().filter(|r| r.node == producer) {
        if let Ev::QueueAcked(c) = r.event {
            *acked.entry(c).or_default() += 1;
        }
    }
    for c in sent {
        match acked.get(c) {
            Some(1) => {}
            n => return Err(format!("message {c} acked {n:?} times")),
        }
    }
    if acked.len() != sent.len() {
        return Err(format!("{} acks for {} messages", acked.len(), sent.len()));
    }
    Ok(())
}

#[test]
fn queue_with_three_consumers_survives_a_consumer_crash() {
    run_seeds!(
        "queue_with_three_consumers_survives_a_consumer_crash",
        200,
        |seed| {
            let mut w = queue_world(seed);
            let sent = produce(&mut w, 1_500);
            // Crash consumer 2 while it holds unacknowledged deliveries.
            w.run_until(at(1_600));
            while w.machine(2).unwrap().unacked.is_empty() && w.now() < at(2_500) {
                w.run_for(Duration::from_millis(5));
            }
            w.crash(2);
            w.run_until(at(6_000));
            check_acked_once(&w, &sent.borrow())?;
            let d = deliveries(&w);
            let mut redelivered = 0;
            let mut per_node = [0usize; 5];
            for i in 0..MESSAGES {
                let list = d.get(&i).ok_or(format!("message {i} never delivered"))?;
                for (k, (node, flag)) in list.iter().enumerate() {
                    per_node[*node] += 1;
                    if k > 0 {
                        // Only a delivery to the crashed consumer may be repeated,
                        // and every repetition is flagged.
                        if !flag || list[k - 1].0 != 2 {
                            return Err(format!("message {i}: deliveries {list:?}"));
                        }
                        redelivered += 1;
                    }
                }
            }
            if per_node[1] == 0 || per_node[3] == 0 || per_node[2] == 0 {
                return Err(format!("load not spread: {per_node:?}"));
            }
            if redelivered == 0 {
                return Err("the crashed consumer held nothing".into());
            }
            Ok(())
        }
    );
}

/// The coordinator produces to a queue it dispatches itself: a burst that
/// fits its storage once (but not twice) is taken at once, before any
/// consumer acknowledges, and every message then reaches one consumer once
/// and is acknowledged to the coordinator once. (The coordinator used to
/// keep two copies of each of its own messages, a producer copy and a queue
/// copy, so such a burst filled its storage: an application that consumes
/// only after producing stalled.)
#[test]
fn coordinator_produces_to_its_own_queue() {
    const BURST: u8 = 40;
    run_seeds!("coordinator_produces_to_its_own_queue", 200, |seed| {
        let mut setup = Setup::new(config(100, 500, None));
        setup.weights.insert(0, 10);
        setup.consumers = vec![1, 2, 3];
        // Consumers acknowledge long after the burst.
        setup.ack_delay = Some(Duration::from_millis(1_500));
        let mut w = World::new(seed, 5, setup.factory());
        w.set_default_link(LinkConfig::default().with_loss(0.1));
        let sent: Rc<RefCell<BTreeSet<u64>>> = Rc::default();
        let s = sent.clone();
        w.at(at(1_500), move |w| {
            for i in 0..BURST {
                let c = w
                    .command(0, |n, now| n.m.send_queue(now, group(), "q", &[i]))
                    .unwrap();
                s.borrow_mut().insert(c.expect("send_queue"));
            }
        });
        w.run_until(at(12_000));
        check_acked_once_at(&w, 0, &sent.borrow())?;
        let d = deliveries(&w);
        for i in 0..BURST {
            match d.get(&i).map(Vec::as_slice) {
                Some([(node, false)]) if [1, 2, 3].contains(node) => {}
                other => return Err(format!("message {i}: deliveries {other:?}")),
            }
        }
        Ok(())
    });
}

/// The coordinator (which dispatches the queue) crashes: producers send
/// their unacknowledged messages again to the new coordinator, so nothing
/// is lost; repeated deliveries are flagged (at least once).
#[test]
fn queue_survives_the_coordinator_crash() {
    run_seeds!("queue_survives_the_coordinator_crash", 200, |seed| {
        let mut w = queue_world(seed);
        let sent = produce(&mut w, 1_500);
        w.at(at(1_750), |w| w.crash(0));
        w.run_until(at(7_000));
        let mut acked: BTreeSet<u64> = BTreeSet::new();
        for r in w.events().iter().filter(|r| r.node == 4) {
            if let Ev::QueueAcked(c) = r.event {
                acked.insert(c);
            }
        }
        if acked != *sent.borrow() {
            return Err(format!("acked {} of {}", acked.len(), sent.borrow().len()));
        }
        for (i, list) in deliveries(&w) {
            if list.iter().skip(1).any(|(_, flag)| !flag) {
                return Err(format!("message {i}: unflagged repeat {list:?}"));
            }
        }
        Ok(())
    });
}

/// Point-to-point messages under 10 % loss arrive once each and in order;
/// after the receiver restarts (a new incarnation, before anyone declared
/// it failed) the channel starts afresh and stays in order.
#[test]
fn point_to_point_is_reliable_fifo_and_survives_a_quick_restart() {
    run_seeds!(
        "point_to_point_is_reliable_fifo_and_survives_a_quick_restart",
        100,
        |seed| {
            let mut w = World::new(seed, 4, Setup::new(config(100, 500, None)).factory());
            w.set_default_link(
                LinkConfig::default()
                    .with_loss(0.1)
                    .with_reorder(0.05, Duration::from_millis(3)),
            );
            let sent: Rc<RefCell<Vec<(Instant, u16)>>> = Rc::default();
            for i in 0..125u16 {
                let s = sent.clone();
                w.at(at(1_500 + u64::from(i) * 20), move |w| {
                    let ok = w
                        .command(0, |n, now| n.m.send(now, id_of(1), &i.to_be_bytes()))
                        .unwrap();
                    if ok.is_ok() {
                        s.borrow_mut().push((w.now(), i));
                    }
                });
            }
            w.at(at(2_500), |w| w.restart(1));
            w.run_until(at(6_000));
            let got = |inc: u32| -> Vec<u16> {
                w.events()
                    .iter()
                    .filter(|r| r.node == 1 && r.incarnation == inc)
                    .filter_map(|r| match &r.event {
                        Ev::Message { from, payload } if *from == id_of(0) => {
                            Some(u16::from_be_bytes([payload[0], payload[1]]))
                        }
                        _ => None,
                    })
                    .collect()
            };
            let before: Vec<u16> = sent
                .borrow()
                .iter()
                .filter(|(t, _)| *t < at(2_000))
                .map(|(_, i)| *i)
                .collect();
            let first = got(0);
            if !first.starts_with(&before) || first.windows(2).any(|p| p[1] != p[0] + 1) {
                return Err(format!("first life got {first:?}, sent {before:?}"));
            }
            let after: Vec<u16> = sent
                .borrow()
                .iter()
                .filter(|(t, _)| *t >= at(3_000))
                .map(|(_, i)| *i)
                .collect();
            let second = got(1);
            if second.windows(2).any(|p| p[1] <= p[0]) {
                return Err(format!("second life out of order: {second:?}"));
            }
            if after.is_empty() || !after.iter().all(|i| second.contains(i)) {
                return Err(format!(
                    "second life got {second:?}, sent after rejoin {after:?}"
                ));
            }
            Ok(())
        }
    );
}

/// A member whose outgoing traffic is cut is declared failed by all the
/// others, while it still hears them and declares nobody failed: its
/// channels are reset on one side only. Once it is heard again the
/// channels start a new life and carry messages both ways, in order.
#[test]
fn point_to_point_recovers_after_a_one_sided_failure() {
    run_seeds!(
        "point_to_point_recovers_after_a_one_sided_failure",
        50,
        |seed| { one_sided(seed, None) }
    );
}

#[cfg(feature = "unicast")]
#[test]
fn point_to_point_recovers_after_a_one_sided_failure_unicast() {
    run_seeds!(
        "point_to_point_recovers_after_a_one_sided_failure_unicast",
        50,
        |seed| { one_sided(seed, Some(&[0, 2])) }
    );
}

fn one_sided(seed: u64, seeds: Option<&[usize]>) -> Result<(), String> {
    let mut w = World::new(seed, 4, Setup::new(config(100, 500, seeds)).factory());
    w.set_default_link(LinkConfig::default().with_loss(0.05));
    // Traffic in both directions before the cut.
    for i in 0..5u8 {
        w.at(at(1_200 + u64::from(i) * 20), move |w| {
            w.command(0, |n, now| n.m.send(now, id_of(1), &[i]))
                .unwrap()
                .unwrap();
            w.command(1, |n, now| n.m.send(now, id_of(0), &[i]))
                .unwrap()
                .unwrap();
        });
    }
    w.at(at(1_500), |w| {
        for to in [0, 2, 3] {
            w.block(1, to, true);
        }
    });
    w.at(at(3_000), |w| {
        for to in [0, 2, 3] {
            w.block(1, to, false);
        }
    });
    for i in 100..110u8 {
        w.at(at(5_000 + u64::from(i) * 20), move |w| {
            w.command(0, |n, now| n.m.send(now, id_of(1), &[i]))
                .unwrap()
                .unwrap();
            w.command(1, |n, now| n.m.send(now, id_of(0), &[i]))
                .unwrap()
                .unwrap();
        });
    }
    w.run_until(at(8_000));
    if !w
        .events()
        .iter()
        .any(|r| r.node == 0 && r.event == Ev::Failed(id_of(1)))
    {
        return Err("node 1 was never declared failed".into());
    }
    for (node, from) in [(1usize, 0usize), (0, 1)] {
        let got: Vec<u8> = w
            .events()
            .iter()
            .filter(|r| r.node == node)
            .filter_map(|r| match &r.event {
                Ev::Message { from: f, payload } if *f == id_of(from) => Some(payload[0]),
                _ => None,
            })
            .collect();
        let late: Vec<u8> = got.iter().copied().filter(|b| *b >= 100).collect();
        if late != (100..110).collect::<Vec<u8>>() || got.windows(2).any(|p| p[1] <= p[0]) {
            return Err(format!("node {node} got {got:?} from node {from}"));
        }
    }
    Ok(())
}
