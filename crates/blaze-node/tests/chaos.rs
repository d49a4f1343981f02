//! Crashes, pauses, partitions and bad links drawn from the seed; after
//! the last repair the nodes agree on one view, their maps converge, and
//! reliable messages flow exactly once again.
#![cfg(feature = "map")]

mod common;

use std::collections::BTreeMap;

use blaze_node::{Duration, Instant, WriteOptions};
use blaze_sim::{LinkConfig, Nemesis, World, check_converged, check_exactly_once, run_seeds};
use common::{Ev, RELIABLE_TOPIC, Sim, agreed, group};

const NODES: usize = 4;

/// A map's entries: key to value.
type Entries = BTreeMap<Vec<u8>, Vec<u8>>;

fn scenario(seed: u64) -> Result<(), String> {
    let mut world = World::new(seed, NODES, Sim::joining);
    world.set_default_link(LinkConfig::perfect(Duration::from_micros(200)).with_loss(0.02));
    let g = group();
    let all: Vec<usize> = (0..NODES).collect();
    if !world.run_while_not(Instant::from_millis(10_000), |w| agreed(w, &all)) {
        return Err("no agreed view".into());
    }
    let start = world.now();
    let end = start + Duration::from_secs(3);
    let mut nemesis = Nemesis::new(start, end);
    nemesis.mean_interval = Duration::from_millis(300);
    // No crash-and-restart: blaze-map numbers a replica's requests from 1,
    // so the coordinator drops those of a member restarted under its id as
    // duplicates (reported; the fail-over tests cover crashes without
    // restart).
    nemesis.crash = 0;
    world.unleash(nemesis);
    // Writes and messages during the faults (refusals are fine).
    for k in 0..30u64 {
        world.at(start + Duration::from_millis(k * 100), move |w| {
            let i = (k as usize) % NODES;
            w.command(i, |m, now| {
                let n = m.n_mut();
                let _ = n.map_put(
                    now,
                    g,
                    "chaos",
                    &[(k % 5) as u8],
                    &k.to_be_bytes(),
                    WriteOptions::default(),
                );
                let _ = n.publish(now, g, RELIABLE_TOPIC, &[i as u8, k as u8]);
            });
        });
    }
    world.run_until(end);
    if !world.run_while_not(end + Duration::from_secs(15), |w| agreed(w, &all)) {
        let views: Vec<usize> = all
            .iter()
            .map(|i| world.machine(*i).map_or(0, |m| m.n().members(g).len()))
            .collect();
        return Err(format!("no agreed view after the repairs: {views:?}"));
    }
    // One more write after healing, then the maps converge.
    world.command(0, |m, now| {
        m.n_mut()
            .map_put(now, g, "chaos", b"final", b"1", WriteOptions::default())
            .unwrap()
    });
    let t1 = world.now();
    world.take_events();
    for k in 0..10u8 {
        for s in 0..NODES {
            world.at(t1 + Duration::from_millis(u64::from(k)), move |w| {
                w.command(s, |m, now| {
                    m.n_mut()
                        .publish(now, g, RELIABLE_TOPIC, &[s as u8, 200 + k])
                        .unwrap();
                });
            });
        }
    }
    world.run_until(t1 + Duration::from_secs(3));
    let maps: Vec<Entries> = all
        .iter()
        .map(|i| {
            world
                .machine(*i)
                .unwrap()
                .n()
                .map(g)
                .map_or_else(BTreeMap::new, |r| {
                    r.entries()
                        .map(|(_, k, e)| (k.to_vec(), e.value.to_vec()))
                        .collect()
                })
        })
        .collect();
    let finals: Vec<(usize, &Entries)> = maps.iter().enumerate().collect();
    check_converged(&finals).map_err(|v| v.to_string())?;
    if maps[0].get(&b"final"[..]).map(Vec::as_slice) != Some(&b"1"[..]) {
        let w: Vec<String> = world
            .events()
            .iter()
            .filter(|e| e.node == 0 && !matches!(e.event, Ev::Msg { .. }))
            .map(|e| format!("{:?}", e.event))
            .collect();
        return Err(format!("the write after healing is missing: {w:?}"));
    }
    for r in 0..NODES {
        let got: Vec<(usize, u8)> = world
            .events()
            .iter()
            .filter(|e| e.node == r)
            .filter_map(|e| match &e.event {
                Ev::Msg {
                    sender, payload, ..
                } if payload[1] >= 200 => Some((*sender, payload[1])),
                _ => None,
            })
            .collect();
        let expected: Vec<(usize, u8)> = (0..NODES)
            .filter(|s| *s != r)
            .flat_map(|s| (0..10u8).map(move |k| (s, 200 + k)))
            .collect();
        check_exactly_once(r, &got, &expected).map_err(|v| v.to_string())?;
    }
    Ok(())
}

#[test]
fn chaos_then_agreement() {
    common::with_big_stack(|| run_seeds!("chaos_then_agreement", 30, scenario));
}
