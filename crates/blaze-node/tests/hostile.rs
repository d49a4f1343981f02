//! Hostile input: random datagrams and mutated copies of real ones are
//! counted by reason and dropped, and real traffic is not disturbed.

mod common;

use blaze_node::{Duration, Instant, Protocol, Qos};
use blaze_sim::{LinkConfig, World, check_exactly_once, check_fifo, run_seeds};
use blaze_wire::Rng;
use common::{Ev, RELIABLE_TOPIC, Sim, TestNode, agreed, group};

const NODES: usize = 3;
const PER_SENDER: u8 = 30;

/// A hostile datagram: random bytes, or a real datagram truncated, with a
/// flipped byte in its version or group, or with random bytes appended.
fn junk(rng: &mut Rng, real: &[Vec<u8>]) -> Vec<u8> {
    let pick = real.get(rng.below(real.len().max(1) as u64) as usize);
    match (rng.below(5), pick) {
        (0, _) | (_, None) => {
            let mut v = vec![0u8; rng.below(300) as usize];
            rng.fill(&mut v);
            v
        }
        (1, Some(d)) => d[..rng.below(d.len() as u64) as usize].to_vec(),
        (2, Some(d)) => {
            // Bytes 0..11 hold the version and the group.
            let mut v = d.clone();
            let i = rng.below(11.min(v.len() as u64)) as usize;
            v[i] ^= 1 << rng.below(8);
            v
        }
        (3, Some(d)) => {
            let mut v = d.clone();
            let mut tail = vec![0u8; 1 + rng.below(40) as usize];
            rng.fill(&mut tail);
            v.extend(tail);
            v
        }
        (_, Some(d)) => {
            // Another version, same bytes otherwise.
            let mut v = d.clone();
            if v.len() > 1 {
                v[1] = 2 + rng.below(100) as u8;
            }
            v
        }
    }
}

fn scenario(seed: u64) -> Result<(), String> {
    let mut world = World::new(seed, NODES, Sim::new);
    world.set_default_link(LinkConfig::perfect(Duration::from_micros(200)).with_loss(0.05));
    let g = group();
    for i in 0..NODES {
        world.command(i, |m, now| {
            m.sample = true;
            m.n_mut().join(now, common::GROUP).map(|_| ())
        });
    }
    let all: Vec<usize> = (0..NODES).collect();
    if !world.run_while_not(Instant::from_millis(10_000), |w| agreed(w, &all)) {
        return Err("no agreed view".into());
    }
    let t0 = world.now();
    for k in 0..PER_SENDER {
        for i in 0..NODES {
            world.at(t0 + Duration::from_millis(u64::from(k)), move |w| {
                w.command(i, |m, now| {
                    m.n_mut()
                        .publish(now, g, RELIABLE_TOPIC, &[i as u8, k])
                        .unwrap();
                });
            });
        }
    }
    let mut rng = Rng::new(seed ^ 0x5eed);
    let from = blaze_sim::node_addr(7);
    for step in 0..600u64 {
        let target = (step % NODES as u64) as usize;
        let real: Vec<Vec<u8>> = (0..NODES)
            .flat_map(|i| {
                world
                    .machine(i)
                    .unwrap()
                    .sent
                    .iter()
                    .rev()
                    .take(64)
                    .cloned()
            })
            .collect();
        let d = junk(&mut rng, &real);
        world.run_until(t0 + Duration::from_micros(step * 100));
        world.command(target, |m, now| m.n_mut().handle_datagram(now, from, &d));
    }
    world.run_until(t0 + Duration::from_secs(3));

    for r in 0..NODES {
        let got: Vec<(usize, u8)> = world
            .events()
            .iter()
            .filter(|e| e.node == r && e.time >= t0)
            .filter_map(|e| match &e.event {
                Ev::Msg {
                    sender,
                    payload,
                    qos: Qos::Reliable,
                    ..
                } if payload.len() == 2 && usize::from(payload[0]) == *sender => {
                    Some((*sender, payload[1]))
                }
                _ => None,
            })
            .collect();
        let expected: Vec<(usize, u8)> = (0..NODES)
            .filter(|s| *s != r)
            .flat_map(|s| (0..PER_SENDER).map(move |k| (s, k)))
            .collect();
        check_exactly_once(r, &got, &expected).map_err(|v| v.to_string())?;
        check_fifo(r, &got).map_err(|v| v.to_string())?;
    }
    let node = |i: usize| -> &TestNode { world.machine(i).unwrap().n() };
    let (mut malformed, mut other) = (0, 0);
    for i in 0..NODES {
        let s = node(i).stats();
        malformed += s.malformed;
        other += s.bad_version + s.unknown_group + s.no_body;
        if node(i).members(g).len() != NODES {
            return Err(format!("node {i} lost members under hostile input"));
        }
    }
    if malformed == 0 || other == 0 {
        return Err(format!(
            "drops not counted: malformed {malformed}, other {other}"
        ));
    }
    Ok(())
}

#[test]
fn hostile_datagrams_are_counted_and_dropped() {
    common::with_big_stack(|| {
        run_seeds!("hostile_datagrams_are_counted_and_dropped", 60, scenario)
    });
}
