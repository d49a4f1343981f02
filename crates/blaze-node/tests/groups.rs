//! One node in two groups over one multicast destination: each group's
//! messages, views and map stay in that group.
#![cfg(feature = "map")]

mod common;

use blaze_node::{Duration, GroupId, Instant, WriteOptions};
use blaze_sim::{LinkConfig, World, check_exactly_once, run_seeds};
use common::{Ev, RELIABLE_TOPIC, Sim, id_of};

fn members_are(w: &World<Sim>, g: GroupId, nodes: &[usize]) -> bool {
    nodes.iter().all(|i| {
        let n = w.machine(*i).unwrap().n();
        let m = n.members(g);
        m.len() == nodes.len()
            && nodes.iter().all(|j| m.iter().any(|v| v.id == id_of(*j)))
            && n.map(g).is_some_and(|r| r.is_synced())
    })
}

fn scenario(seed: u64) -> Result<(), String> {
    let mut world = World::new(seed, 3, Sim::new);
    world.set_default_link(LinkConfig::perfect(Duration::from_micros(200)).with_loss(0.05));
    let (a, b) = (GroupId::from_name("a"), GroupId::from_name("b"));
    for (i, name) in [(0, "a"), (1, "a"), (1, "b"), (2, "b")] {
        world.command(i, |m, now| m.n_mut().join(now, name).map(|_| ()));
    }
    let ok = world.run_while_not(Instant::from_millis(10_000), |w| {
        members_are(w, a, &[0, 1]) && members_are(w, b, &[1, 2])
    });
    if !ok {
        return Err("groups did not form".into());
    }
    let t0 = world.now();
    world.take_events();
    for k in 0..10u8 {
        world.at(t0 + Duration::from_millis(u64::from(k)), move |w| {
            w.command(0, |m, now| {
                m.n_mut()
                    .publish(now, a, RELIABLE_TOPIC, &[b'a', k])
                    .unwrap()
            });
            w.command(2, |m, now| {
                m.n_mut()
                    .publish(now, b, RELIABLE_TOPIC, &[b'b', k])
                    .unwrap()
            });
            w.command(1, |m, now| {
                let n = m.n_mut();
                n.publish(now, a, RELIABLE_TOPIC, &[b'A', k]).unwrap();
                n.publish(now, b, RELIABLE_TOPIC, &[b'B', k]).unwrap();
            });
        });
    }
    world.command(0, |m, now| {
        m.n_mut()
            .map_put(now, a, "m", b"k", b"from-a", WriteOptions::default())
            .unwrap()
    });
    world.command(2, |m, now| {
        m.n_mut()
            .map_put(now, b, "m", b"k", b"from-b", WriteOptions::default())
            .unwrap()
    });
    world.run_until(t0 + Duration::from_secs(2));
    let got = |node: usize| -> Vec<(u8, u8)> {
        world
            .events()
            .iter()
            .filter(|r| r.node == node)
            .filter_map(|r| match &r.event {
                Ev::Msg { payload, .. } => Some((payload[0], payload[1])),
                _ => None,
            })
            .collect()
    };
    let tagged = |t: u8| (0..10u8).map(move |k| (t, k));
    let node1: Vec<(u8, u8)> = tagged(b'a').chain(tagged(b'b')).collect();
    check_exactly_once(0, &got(0), &tagged(b'A').collect::<Vec<_>>()).map_err(|v| v.to_string())?;
    check_exactly_once(1, &got(1), &node1).map_err(|v| v.to_string())?;
    check_exactly_once(2, &got(2), &tagged(b'B').collect::<Vec<_>>()).map_err(|v| v.to_string())?;
    let read = |i: usize, g| {
        world
            .machine(i)
            .unwrap()
            .n()
            .map_get(g, "m", b"k")
            .map(|e| e.value.to_vec())
    };
    if read(0, a).as_deref() != Some(&b"from-a"[..])
        || read(1, a).as_deref() != Some(&b"from-a"[..])
        || read(1, b).as_deref() != Some(&b"from-b"[..])
        || read(2, b).as_deref() != Some(&b"from-b"[..])
        || read(0, b).is_some()
    {
        return Err("maps mixed up between groups".into());
    }
    // Nodes 0 and 2 hear the other group's multicast and drop it.
    for i in [0, 2] {
        if world.machine(i).unwrap().n().stats().unknown_group == 0 {
            return Err(format!("node {i} counted no foreign-group frame"));
        }
    }
    Ok(())
}

#[test]
fn one_node_in_two_groups() {
    common::with_big_stack(|| run_seeds!("one_node_in_two_groups", 100, scenario));
}

/// A node leaves a group and joins it again: its map catches up with what
/// was written meanwhile and its writes go through again.
fn rejoin_scenario(seed: u64) -> Result<(), String> {
    let mut world = World::new(seed, 3, Sim::new);
    world.set_default_link(LinkConfig::perfect(Duration::from_micros(200)).with_loss(0.05));
    let g = common::group();
    let all = [0, 1, 2];
    for i in all {
        world.command(i, |m, now| m.n_mut().join(now, common::GROUP).map(|_| ()));
    }
    if !world.run_while_not(Instant::from_millis(10_000), |w| common::agreed(w, &all)) {
        return Err("no agreed view".into());
    }
    let put = |w: &mut World<Sim>, i: usize, k: &'static [u8]| {
        w.command(i, |m, now| {
            m.n_mut()
                .map_put(now, g, "m", k, k, WriteOptions::default())
                .unwrap()
        });
    };
    put(&mut world, 1, b"before");
    world.run_for(Duration::from_millis(300));
    world.command(1, |m, now| m.n_mut().leave(now, g).unwrap());
    if !world.run_while_not(world.now() + Duration::from_secs(5), |w| {
        common::agreed(w, &[0, 2])
    }) {
        return Err("the others never agreed without node 1".into());
    }
    put(&mut world, 0, b"meanwhile");
    world.run_for(Duration::from_millis(300));
    world.command(1, |m, now| m.n_mut().join(now, common::GROUP).map(|_| ()));
    if !world.run_while_not(world.now() + Duration::from_secs(10), |w| {
        common::agreed(w, &all)
    }) {
        return Err("node 1 never rejoined".into());
    }
    world.take_events();
    put(&mut world, 1, b"after");
    world.run_for(Duration::from_secs(3));
    if !world
        .events()
        .iter()
        .any(|r| r.node == 1 && r.event == Ev::WriteDone)
    {
        let e: Vec<&Ev> = world
            .events()
            .iter()
            .filter(|r| r.node == 1)
            .map(|r| &r.event)
            .collect();
        return Err(format!("the write after rejoining did not complete: {e:?}"));
    }
    for i in all {
        for k in [&b"before"[..], b"meanwhile", b"after"] {
            let v = world
                .machine(i)
                .unwrap()
                .n()
                .map_get(g, "m", k)
                .map(|e| e.value.to_vec());
            if v.as_deref() != Some(k) {
                return Err(format!("node {i} reads {v:?} for {k:?}"));
            }
        }
    }
    Ok(())
}

#[test]
fn leave_and_rejoin_keeps_the_map_going() {
    common::with_big_stack(|| {
        run_seeds!("leave_and_rejoin_keeps_the_map_going", 50, rejoin_scenario)
    });
}
