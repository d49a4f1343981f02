//! Crashes: a member crash seen by the survivors, then the coordinator's,
//! with the map intact at the new coordinator and both channels working.

mod common;

use blaze_node::{Duration, Instant};
#[cfg(feature = "map")]
use blaze_node::{Qos, WriteOptions};
use blaze_sim::{LinkConfig, World, check_exactly_once, check_fifo, run_seeds};
#[cfg(feature = "map")]
use common::node_of;
use common::{Ev, RELIABLE_TOPIC, Sim, agreed, group};

#[cfg(feature = "map")]
const NODES: usize = 4;

#[cfg(feature = "map")]
fn scenario(seed: u64) -> Result<(), String> {
    let mut world = World::new(seed, NODES, Sim::new);
    world.set_default_link(
        LinkConfig::perfect(Duration::from_micros(200))
            .with_delay(Duration::from_micros(200), Duration::from_micros(100))
            .with_loss(0.05),
    );
    let g = group();
    for i in 0..NODES {
        world.command(i, |m, now| m.n_mut().join(now, common::GROUP).map(|_| ()));
    }
    let all: Vec<usize> = (0..NODES).collect();
    if !world.run_while_not(Instant::from_millis(10_000), |w| agreed(w, &all)) {
        return Err("no agreed view of all nodes".into());
    }
    let coordinator = node_of(world.machine(0).unwrap().n().coordinator(g).unwrap());
    // The first member crashed is neither the coordinator nor the writer.
    let writer = (0..NODES).find(|i| *i != coordinator).unwrap();
    let victim = (0..NODES)
        .find(|i| *i != coordinator && *i != writer)
        .unwrap();
    for k in 0..5u8 {
        world.command(writer, |m, now| {
            m.n_mut()
                .map_put(now, g, "state", &[k], &[k, k], WriteOptions::default())
                .unwrap()
        });
    }
    let replicated = |w: &World<Sim>, nodes: &[usize]| {
        nodes.iter().all(|i| {
            (0..5u8).all(|k| {
                w.machine(*i)
                    .unwrap()
                    .n()
                    .map_get(g, "state", &[k])
                    .is_some_and(|e| e.value == [k, k])
            })
        })
    };
    if !world.run_while_not(world.now() + Duration::from_secs(3), |w| {
        replicated(w, &all)
    }) {
        return Err("map writes not replicated".into());
    }

    world.crash(victim);
    let survivors: Vec<usize> = all.iter().copied().filter(|i| *i != victim).collect();
    if !world.run_while_not(world.now() + Duration::from_secs(5), |w| {
        agreed(w, &survivors)
    }) {
        return Err(format!("survivors never agreed without {victim}"));
    }
    for s in &survivors {
        if !world
            .events()
            .iter()
            .any(|r| r.node == *s && r.event == Ev::Failed(victim))
        {
            return Err(format!("node {s} did not see {victim} fail"));
        }
    }

    world.crash(coordinator);
    let rest: Vec<usize> = survivors
        .iter()
        .copied()
        .filter(|i| *i != coordinator)
        .collect();
    if !world.run_while_not(world.now() + Duration::from_secs(5), |w| agreed(w, &rest)) {
        return Err(format!(
            "{rest:?} never agreed without the coordinator {coordinator}"
        ));
    }
    let new_coordinator = world.machine(rest[0]).unwrap().n().coordinator(g).unwrap();
    if node_of(new_coordinator) == coordinator || !rest.contains(&node_of(new_coordinator)) {
        return Err(format!("coordinator still {new_coordinator:?}"));
    }
    for s in &rest {
        let saw = world.events().iter().any(|r| {
            r.node == *s && matches!(&r.event, Ev::Coordinator(c) if *c == node_of(new_coordinator))
        });
        if !saw {
            return Err(format!("node {s} saw no coordinator change"));
        }
    }
    // The map is intact at the new coordinator (and everywhere else).
    if !replicated(&world, &[node_of(new_coordinator)]) || !replicated(&world, &rest) {
        return Err("map lost entries in the fail-over".into());
    }

    // Both survivors keep working: a new write and reliable messages.
    let t1 = world.now();
    world.take_events();
    world.command(rest[1], |m, now| {
        m.n_mut()
            .map_put(now, g, "state", b"after", b"yes", WriteOptions::default())
            .unwrap()
    });
    for k in 0..10u8 {
        for s in rest.clone() {
            world.at(t1 + Duration::from_millis(u64::from(k)), move |w| {
                w.command(s, |m, now| {
                    m.n_mut()
                        .publish(now, g, RELIABLE_TOPIC, &[s as u8, k])
                        .unwrap();
                });
            });
        }
    }
    world.run_until(t1 + Duration::from_secs(2));
    for r in &rest {
        let got: Vec<(usize, u8)> = world
            .events()
            .iter()
            .filter(|e| e.node == *r)
            .filter_map(|e| match &e.event {
                Ev::Msg {
                    sender,
                    payload,
                    qos: Qos::Reliable,
                    ..
                } => Some((*sender, payload[1])),
                _ => None,
            })
            .collect();
        let expected: Vec<(usize, u8)> = rest
            .iter()
            .filter(|s| *s != r)
            .flat_map(|s| (0..10u8).map(move |k| (*s, k)))
            .collect();
        check_exactly_once(*r, &got, &expected).map_err(|v| v.to_string())?;
        check_fifo(*r, &got).map_err(|v| v.to_string())?;
        let v = world
            .machine(*r)
            .unwrap()
            .n()
            .map_get(g, "state", b"after")
            .map(|e| e.value.to_vec());
        if v.as_deref() != Some(&b"yes"[..]) {
            return Err(format!("node {r} reads {v:?} after the fail-over"));
        }
    }
    Ok(())
}

#[test]
#[cfg(feature = "map")]
fn member_and_coordinator_crash() {
    common::with_big_stack(|| run_seeds!("member_and_coordinator_crash", 100, scenario));
}

/// A member restarts under its id (a new incarnation) and joins again:
/// the others treat it as a new peer, and reliable traffic flows both ways.
fn restart_scenario(seed: u64) -> Result<(), String> {
    let mut world = World::new(seed, 3, Sim::new);
    world.set_default_link(LinkConfig::perfect(Duration::from_micros(200)).with_loss(0.05));
    let g = group();
    for i in 0..3 {
        world.command(i, |m, now| m.n_mut().join(now, common::GROUP).map(|_| ()));
    }
    let all = [0, 1, 2];
    if !world.run_while_not(Instant::from_millis(10_000), |w| agreed(w, &all)) {
        return Err("no agreed view".into());
    }
    // Traffic before the restart, so the old stream of node 2 is known.
    for k in 0..5u8 {
        world.command(2, |m, now| {
            m.n_mut().publish(now, g, RELIABLE_TOPIC, &[2, k]).unwrap()
        });
    }
    world.run_for(Duration::from_millis(50));
    world.crash(2);
    world.run_for(Duration::from_millis(100));
    world.restart(2);
    world.command(2, |m, now| m.n_mut().join(now, common::GROUP).map(|_| ()));
    if !world.run_while_not(world.now() + Duration::from_secs(10), |w| agreed(w, &all)) {
        return Err("the restarted member never rejoined".into());
    }
    let t1 = world.now();
    world.take_events();
    for k in 0..10u8 {
        for s in 0..3usize {
            world.at(t1 + Duration::from_millis(u64::from(k)), move |w| {
                w.command(s, |m, now| {
                    m.n_mut()
                        .publish(now, g, RELIABLE_TOPIC, &[s as u8, 100 + k])
                        .unwrap();
                });
            });
        }
    }
    world.run_until(t1 + Duration::from_secs(2));
    for r in 0..3usize {
        let got: Vec<(usize, u8)> = world
            .events()
            .iter()
            .filter(|e| e.node == r)
            .filter_map(|e| match &e.event {
                Ev::Msg {
                    sender, payload, ..
                } => Some((*sender, payload[1])),
                _ => None,
            })
            .collect();
        let expected: Vec<(usize, u8)> = (0..3usize)
            .filter(|s| *s != r)
            .flat_map(|s| (0..10u8).map(move |k| (s, 100 + k)))
            .collect();
        check_exactly_once(r, &got, &expected).map_err(|v| v.to_string())?;
        check_fifo(r, &got).map_err(|v| v.to_string())?;
    }
    Ok(())
}

#[test]
fn restarted_member_is_a_new_peer() {
    common::with_big_stack(|| run_seeds!("restarted_member_is_a_new_peer", 50, restart_scenario));
}
