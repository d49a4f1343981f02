//! Several nodes over the simulated network: groups, both channels under
//! loss, point-to-point, request/reply, queues, the map and locks.

// The scenario publishes on the best-effort channel and expects the
// refusals of groups without FEC or Totem storage.
#![cfg(all(
    feature = "best-effort",
    feature = "fec",
    feature = "map",
    feature = "total-order"
))]

mod common;

use std::collections::BTreeMap;

use blaze_node::{Duration, Instant, MessageError, PublishError, Qos, WriteOptions};
use blaze_sim::{DropReason, LinkConfig, World, check_exactly_once, check_fifo, run_seeds};
use common::{BE_TOPIC, Ev, RELIABLE_TOPIC, Sim, agreed, group, id_of};

const NODES: usize = 4;
const PER_SENDER: u8 = 20;

fn lossy() -> LinkConfig {
    LinkConfig::perfect(Duration::from_micros(200))
        .with_delay(Duration::from_micros(200), Duration::from_micros(100))
        .with_loss(0.10)
}

fn big() -> Vec<u8> {
    (0..5000u32).map(|i| (i * 7) as u8).collect()
}

fn scenario(seed: u64) -> Result<(), String> {
    let mut world = World::new(seed, NODES, Sim::new);
    world.set_default_link(lossy());
    let g = group();
    for i in 0..NODES {
        world.command(i, |m, now| m.n_mut().join(now, common::GROUP).map(|_| ()));
    }
    let all: Vec<usize> = (0..NODES).collect();
    let formed = world.run_while_not(Instant::from_millis(10_000), |w| agreed(w, &all));
    if !formed {
        return Err("no agreed view of all nodes within 10 s".into());
    }
    let t0 = world.now();

    // Misuse gets typed errors.
    let misuse = world
        .command(0, |m, now| {
            let n = m.n_mut();
            (
                n.publish(now, g, "fec", b"x"),
                n.publish(now, g, "total", b"x"),
                n.publish(
                    now,
                    blaze_node::GroupId::from_name("other"),
                    RELIABLE_TOPIC,
                    b"x",
                ),
                n.send_to(now, id_of(60), b"x"),
            )
        })
        .unwrap();
    if misuse
        != (
            Err(PublishError::QosUnavailable(Qos::ReliableFec)),
            Err(PublishError::QosUnavailable(Qos::Agreed)),
            Err(PublishError::NotJoined),
            Err(MessageError::UnknownMember),
        )
    {
        return Err(format!("misuse answers: {misuse:?}"));
    }

    // Every node publishes on both topics, one message per millisecond.
    for k in 0..PER_SENDER {
        for i in 0..NODES {
            world.at(t0 + Duration::from_millis(u64::from(k)), move |w| {
                w.command(i, |m, now| {
                    let n = m.n_mut();
                    n.publish(now, g, RELIABLE_TOPIC, &[i as u8, k]).unwrap();
                    n.publish(now, g, BE_TOPIC, &[i as u8, k, 0xbe]).unwrap();
                });
            });
        }
    }
    // Point to point, request/reply, a queue with consumers on two nodes,
    // a map write and a lock.
    world.at(t0 + Duration::from_millis(5), move |w| {
        w.command(2, |m, now| {
            m.n_mut().queue_subscribe(now, g, "jobs").unwrap()
        });
        w.command(3, |m, now| {
            m.n_mut().queue_subscribe(now, g, "jobs").unwrap()
        });
        w.command(1, |m, now| {
            m.n_mut().send_to(now, id_of(2), b"psst").unwrap()
        });
        w.command(0, |m, now| {
            m.n_mut()
                .request(now, id_of(3), b"ping", Duration::from_secs(2))
                .unwrap()
        });
        w.command(1, |m, now| {
            m.n_mut()
                .map_put(now, g, "cfg", b"colour", b"blue", WriteOptions::default())
                .unwrap()
        });
        w.command(2, |m, now| {
            m.n_mut()
                .lock(now, g, "locks", b"printer", Duration::from_millis(300))
                .unwrap()
        });
    });
    // A large message: fragmented, repaired and reassembled with its topic.
    world.at(t0 + Duration::from_millis(7), move |w| {
        w.command(3, |m, now| {
            m.n_mut().publish(now, g, "bulk", &big()).unwrap()
        });
    });
    world.at(t0 + Duration::from_millis(200), move |w| {
        for k in 0..6u8 {
            w.command(0, |m, now| {
                m.n_mut().queue_send(now, g, "jobs", &[k]).unwrap()
            });
        }
    });
    world.run_until(t0 + Duration::from_secs(3));

    let events = world.events();
    // Reliable: exactly once, FIFO per sender, at every other node.
    let mut reliable: Vec<(usize, (usize, u8))> = Vec::new();
    let mut best_effort: BTreeMap<usize, usize> = BTreeMap::new();
    let mut bulk: BTreeMap<usize, usize> = BTreeMap::new();
    for r in events {
        if let Ev::Msg {
            topic,
            sender,
            payload,
            qos,
        } = &r.event
        {
            match qos {
                Qos::Reliable if topic == "bulk" => {
                    if *sender != 3 || *payload != big() {
                        return Err(format!("bad bulk message from {sender}"));
                    }
                    *bulk.entry(r.node).or_default() += 1;
                }
                Qos::Reliable => {
                    if topic != RELIABLE_TOPIC
                        || payload.len() != 2
                        || payload[0] as usize != *sender
                    {
                        return Err(format!("bad reliable message {:?}", r.event));
                    }
                    reliable.push((r.node, (*sender, payload[1])));
                }
                Qos::BestEffort => {
                    if topic != BE_TOPIC || payload.len() != 3 || payload[2] != 0xbe {
                        return Err(format!("bad best-effort message {:?}", r.event));
                    }
                    *best_effort.entry(r.node).or_default() += 1;
                }
                _ => return Err(format!("unexpected qos {:?}", r.event)),
            }
        }
    }
    for r in 0..NODES {
        let got: Vec<(usize, u8)> = reliable
            .iter()
            .filter(|(n, _)| *n == r)
            .map(|(_, m)| *m)
            .collect();
        let expected: Vec<(usize, u8)> = (0..NODES)
            .filter(|s| *s != r)
            .flat_map(|s| (0..PER_SENDER).map(move |k| (s, k)))
            .collect();
        check_exactly_once(r, &got, &expected).map_err(|v| v.to_string())?;
        check_fifo(r, &got).map_err(|v| v.to_string())?;
    }
    if (0..3).any(|r| bulk.get(&r) != Some(&1)) {
        return Err(format!("large message deliveries: {bulk:?}"));
    }
    // Best effort: at most once each, and most of it arrives.
    for r in 0..NODES {
        let got = best_effort.get(&r).copied().unwrap_or(0);
        let sent = (NODES - 1) * usize::from(PER_SENDER);
        if got > sent || got < sent / 2 {
            return Err(format!("node {r} got {got} of {sent} best-effort messages"));
        }
    }
    let has =
        |node: usize, f: &dyn Fn(&Ev) -> bool| events.iter().any(|r| r.node == node && f(&r.event));
    if !has(
        2,
        &|e| matches!(e, Ev::Direct { from: 1, payload } if payload == b"psst"),
    ) {
        return Err("point-to-point message not delivered".into());
    }
    if !has(
        0,
        &|e| matches!(e, Ev::Reply { from: 3, payload, .. } if payload == b"gnip"),
    ) {
        return Err("no reply".into());
    }
    // Queue: each of the 6 messages consumed (on node 2 or 3) and acked.
    let consumed: Vec<(usize, u8)> = events
        .iter()
        .filter_map(|r| match &r.event {
            Ev::Queue { payload, .. } => Some((r.node, payload[0])),
            _ => None,
        })
        .collect();
    for k in 0..6u8 {
        if !consumed
            .iter()
            .any(|(n, p)| *p == k && (*n == 2 || *n == 3))
        {
            return Err(format!("queue message {k} not consumed: {consumed:?}"));
        }
    }
    let acked = events
        .iter()
        .filter(|r| r.node == 0 && matches!(r.event, Ev::QueueAcked(_)))
        .count();
    if acked != 6 {
        return Err(format!("{acked} queue acks of 6"));
    }
    // Map: the change seen by every node, and the value readable there.
    for n in 0..NODES {
        if !has(
            n,
            &|e| matches!(e, Ev::MapChanged { key, new: Some(v) } if key == b"colour" && v == b"blue"),
        ) {
            return Err(format!("node {n} saw no map change"));
        }
        let v = world
            .machine(n)
            .unwrap()
            .n()
            .map_get(g, "cfg", b"colour")
            .map(|e| e.value.to_vec());
        if v.as_deref() != Some(&b"blue"[..]) {
            return Err(format!("node {n} reads {v:?}"));
        }
    }
    if !has(1, &|e| matches!(e, Ev::WriteDone)) {
        return Err("no WriteDone at the writer".into());
    }
    // Lock: granted to node 2, then lost when its lease ran out.
    if !has(
        2,
        &|e| matches!(e, Ev::LockGranted { key, .. } if key == b"printer"),
    ) {
        return Err("lock not granted".into());
    }
    if !has(2, &|e| matches!(e, Ev::LockLost(key) if key == b"printer")) {
        return Err("lock lease did not expire".into());
    }
    let total = world.stats().total();
    let lost =
        total.dropped_inbound.get(DropReason::Loss) + total.dropped_outbound.get(DropReason::Loss);
    if lost * 20 < total.sent {
        return Err(format!("only {lost} of {} datagrams lost", total.sent));
    }
    for n in 0..NODES {
        let s = world.machine(n).unwrap().n().stats();
        if s.malformed + s.bad_version + s.unknown_group + s.no_channel != 0 {
            return Err(format!("node {n} dropped real traffic: {s:?}"));
        }
    }
    Ok(())
}

#[test]
fn four_nodes_all_services_under_loss() {
    common::with_big_stack(|| run_seeds!("four_nodes_all_services_under_loss", 200, scenario));
}
