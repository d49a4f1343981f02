//! A group whose members do not all run the map: the oldest member, and
//! so the view's coordinator, runs none. The others' map is coordinated
//! by the oldest of them, its writes and locks complete without the
//! member that has no map, and reliable messages reach everyone.
#![cfg(feature = "map")]

mod common;

use blaze_node::{Duration, Instant, MapError, SERVICE_MAP, WriteOptions};
use blaze_sim::{LinkConfig, World, run_seeds};
use common::{Ev, Sim, TestNode, agreed, group, id_of, node_of};

const NODES: usize = 4;
/// The member that runs no map.
const BARE: usize = 0;

/// Whether every node in `nodes` reads `value` under `key`.
fn reads(w: &World<Sim>, nodes: &[usize], key: &[u8], value: &[u8]) -> bool {
    nodes.iter().all(|i| {
        w.machine(*i)
            .unwrap()
            .n()
            .map_get(group(), "state", key)
            .is_some_and(|e| e.value == value)
    })
}

/// The node of machine `i`.
fn n(w: &World<Sim>, i: usize) -> &TestNode {
    w.machine(i).unwrap().n()
}

/// How many events of `node` since the last `take_events` match `f`.
fn count(w: &World<Sim>, node: usize, f: impl Fn(&Ev) -> bool) -> usize {
    w.events()
        .iter()
        .filter(|r| r.node == node && f(&r.event))
        .count()
}

fn scenario(seed: u64) -> Result<(), String> {
    let mut world = World::new(seed, NODES, |s| {
        if s.index == BARE {
            Sim::without_map(s)
        } else {
            Sim::new(s)
        }
    });
    world.set_default_link(
        LinkConfig::perfect(Duration::from_micros(200))
            .with_delay(Duration::from_micros(200), Duration::from_micros(100))
            .with_loss(0.05),
    );
    let g = group();
    // The member without the map is the oldest: it coordinates the view.
    world.command(BARE, |m, now| {
        m.n_mut().join(now, common::GROUP).map(|_| ())
    });
    world.run_until(Instant::from_millis(1_000));
    for i in 1..NODES {
        world.command(i, |m, now| m.n_mut().join(now, common::GROUP).map(|_| ()));
    }
    let all: Vec<usize> = (0..NODES).collect();
    let mapped: Vec<usize> = (1..NODES).collect();
    if !world.run_while_not(Instant::from_millis(10_000), |w| agreed(w, &all)) {
        return Err("no agreed view of all nodes".into());
    }
    if n(&world, 1).coordinator(g) != Some(id_of(BARE)) {
        return Err(format!(
            "view coordinator {:?}",
            n(&world, 1).coordinator(g)
        ));
    }
    for i in &all {
        let services: Vec<u32> = n(&world, *i)
            .members(g)
            .iter()
            .map(|m| m.services)
            .collect();
        let want: Vec<u32> = n(&world, *i)
            .members(g)
            .iter()
            .map(|m| u32::from(node_of(m.id) != BARE) * SERVICE_MAP)
            .collect();
        if services != want {
            return Err(format!("node {i} lists services {services:?}"));
        }
    }
    // The map's coordinator is the oldest member that runs the map, the
    // same at every map member.
    let map_coordinator = n(&world, 1).map(g).and_then(|r| r.coordinator());
    let Some(map_coordinator) = map_coordinator.map(node_of) else {
        return Err("the map has no coordinator".into());
    };
    if map_coordinator == BARE
        || mapped.iter().any(|i| {
            n(&world, *i).map(g).and_then(|r| r.coordinator()) != Some(id_of(map_coordinator))
        })
    {
        return Err(format!("map coordinator {map_coordinator} not agreed"));
    }
    if n(&world, BARE).map(g).is_some() {
        return Err("the member without the map opened one".into());
    }

    // Writes and a lock complete; the member without the map refuses the
    // commands with a clear error.
    world.take_events();
    let writer = *mapped.iter().find(|i| **i != map_coordinator).unwrap();
    for k in 0..5u8 {
        world.command(writer, |m, now| {
            m.n_mut()
                .map_put(now, g, "state", &[k], &[k, k], WriteOptions::default())
                .unwrap()
        });
    }
    world.command(map_coordinator, |m, now| {
        m.n_mut()
            .lock(now, g, "state", b"lock", Duration::from_secs(30))
            .unwrap()
    });
    let refused = world.command(BARE, |m, now| {
        m.n_mut()
            .map_put(now, g, "state", b"bare", b"no", WriteOptions::default())
    });
    if refused != Some(Err(MapError::NotRunning)) {
        return Err(format!("the member without the map answered {refused:?}"));
    }
    let done = |w: &World<Sim>| {
        (0..5u8).all(|k| reads(w, &mapped, &[k], &[k, k]))
            && count(w, writer, |e| *e == Ev::WriteDone) == 5
            && count(w, map_coordinator, |e| matches!(e, Ev::LockGranted { .. })) == 1
    };
    if !world.run_while_not(world.now() + Duration::from_secs(3), done) {
        return Err(format!(
            "writes or lock incomplete: {} writes done, lock {}",
            count(&world, writer, |e| *e == Ev::WriteDone),
            count(&world, map_coordinator, |e| matches!(
                e,
                Ev::LockGranted { .. }
            ))
        ));
    }
    if n(&world, BARE).stats().no_map == 0 {
        return Err("the member without the map counted no map frame".into());
    }

    // Reliable messages flow both ways between the member without the map
    // and the others.
    common::exchange_reliable(&mut world, &all)?;

    // The map's coordinator crashes: another map member takes over, never
    // the member without the map, and writes go on.
    world.crash(map_coordinator);
    let rest: Vec<usize> = all
        .iter()
        .copied()
        .filter(|i| *i != map_coordinator)
        .collect();
    let rest_mapped: Vec<usize> = mapped
        .iter()
        .copied()
        .filter(|i| *i != map_coordinator)
        .collect();
    if !world.run_while_not(world.now() + Duration::from_secs(5), |w| agreed(w, &rest)) {
        return Err(format!("{rest:?} never agreed without {map_coordinator}"));
    }
    let next = world
        .machine(rest_mapped[0])
        .unwrap()
        .n()
        .map(g)
        .and_then(|r| r.coordinator())
        .map(node_of);
    if next.is_none_or(|c| !rest_mapped.contains(&c)) {
        return Err(format!("map coordinator after the crash: {next:?}"));
    }
    world.command(rest_mapped[1], |m, now| {
        m.n_mut()
            .map_put(now, g, "state", b"after", b"yes", WriteOptions::default())
            .unwrap()
    });
    if !world.run_while_not(world.now() + Duration::from_secs(3), |w| {
        reads(w, &rest_mapped, b"after", b"yes")
            && (0..5u8).all(|k| reads(w, &rest_mapped, &[k], &[k, k]))
    }) {
        return Err("no write after the map coordinator's crash".into());
    }
    Ok(())
}

/// The map ordered by the group's ring: the member without the map joins
/// the group, and so the ring, after the two that run it have written;
/// writes and a lock go on, and its reliable messages arrive.
#[cfg(feature = "total-order")]
fn ring_scenario(seed: u64) -> Result<(), String> {
    use blaze_node::MapOrdering;
    const LATE: usize = 2;
    let mut world = World::new(seed, 3, |s| {
        let mut config = common::config();
        config.map.ordering = MapOrdering::Totem { safe: true };
        config.run_map = s.index != LATE;
        Sim::with_config(s, config).with_totem()
    });
    world.set_default_link(
        LinkConfig::perfect(Duration::from_micros(200))
            .with_delay(Duration::from_micros(200), Duration::from_micros(100))
            .with_loss(0.02),
    );
    let g = group();
    let mapped = [0usize, 1];
    for i in mapped {
        world.command(i, |m, now| m.n_mut().join(now, common::GROUP).map(|_| ()));
    }
    if !world.run_while_not(Instant::from_millis(10_000), |w| agreed(w, &mapped)) {
        return Err("the two map members never agreed".into());
    }
    // Writes `key` from node 0 (retried while the ring's map is not
    // open), then waits until the map members read it.
    let write = |world: &mut World<Sim>, key: &'static [u8]| {
        for _ in 0..50 {
            let r = world.command(0, |m, now| {
                m.n_mut()
                    .map_put(now, g, "state", key, b"v", WriteOptions::default())
            });
            if matches!(r, Some(Ok(_))) {
                break;
            }
            world.run_until(world.now() + Duration::from_millis(100));
        }
        world.run_while_not(world.now() + Duration::from_secs(5), |w| {
            reads(w, &mapped, key, b"v")
        })
    };
    if !write(&mut world, b"before") {
        return Err("no write before the member without the map joined".into());
    }
    world.command(LATE, |m, now| {
        m.n_mut().join(now, common::GROUP).map(|_| ())
    });
    let all = [0usize, 1, LATE];
    if !world.run_while_not(world.now() + Duration::from_secs(10), |w| agreed(w, &all)) {
        return Err("no agreed view of all three".into());
    }
    if !write(&mut world, b"after") {
        return Err("no write after the member without the map joined the ring".into());
    }

    world.take_events();
    world.command(1, |m, now| {
        m.n_mut()
            .lock(now, g, "state", b"lock", Duration::from_secs(30))
            .unwrap()
    });
    if !world.run_while_not(world.now() + Duration::from_secs(5), |w| {
        count(w, 1, |e| matches!(e, Ev::LockGranted { .. })) == 1
    }) {
        return Err("no lock after the member without the map joined the ring".into());
    }
    common::exchange_reliable(&mut world, &all)?;
    // The ring delivers the map's operations to it too: dropped, counted.
    if n(&world, LATE).stats().no_map == 0 {
        return Err("the member without the map counted no map operation".into());
    }
    Ok(())
}

#[test]
#[cfg(feature = "total-order")]
fn a_member_without_the_map_holds_up_no_ring_ordered_write() {
    common::with_big_stack(|| {
        run_seeds!(
            "a_member_without_the_map_holds_up_no_ring_ordered_write",
            20,
            ring_scenario
        )
    });
}

#[test]
fn a_member_without_the_map_holds_up_no_write() {
    common::with_big_stack(|| {
        run_seeds!("a_member_without_the_map_holds_up_no_write", 50, scenario)
    });
}
