//! The reliable + FEC channel through the node: nodes given FEC storage
//! carry a `Qos::ReliableFec` topic exactly once and in order under loss,
//! and the sender's parity heals losses.

#![cfg(feature = "fec")]

mod common;

use blaze_node::{Channel, Duration, Instant, Qos};
use blaze_sim::{LinkConfig, World, check_exactly_once, check_fifo, run_seeds};
use common::{Ev, Sim, agreed, group};

const NODES: usize = 3;
const MESSAGES: u16 = 160;

fn scenario(seed: u64) -> Result<(), String> {
    let mut world = World::new(seed, NODES, Sim::joining_with_fec);
    world.set_default_link(
        LinkConfig::perfect(Duration::from_micros(200))
            .with_delay(Duration::from_micros(200), Duration::from_micros(100))
            .with_loss(0.05),
    );
    let all: Vec<usize> = (0..NODES).collect();
    if !world.run_while_not(Instant::from_millis(10_000), |w| agreed(w, &all)) {
        return Err("no agreed view of all nodes within 10 s".into());
    }
    let g = group();
    for i in 0..NODES {
        world
            .command(i, |m, _| {
                m.n_mut()
                    .set_qos("fec", Qos::ReliableFec)
                    .map_err(|e| format!("{e:?}"))
            })
            .ok_or("node down")??;
    }
    let t0 = world.now();
    for k in 0..MESSAGES {
        world.at(t0 + Duration::from_micros(500 * u64::from(k)), move |w| {
            w.command(0, |m, now| {
                m.n_mut().publish(now, g, "fec", &k.to_be_bytes()).unwrap();
            });
        });
    }
    world.run_until(t0 + Duration::from_secs(3));

    for node in 1..NODES {
        let got: Vec<(usize, u16)> = world
            .events()
            .iter()
            .filter(|r| r.node == node)
            .filter_map(|r| match &r.event {
                Ev::Msg {
                    topic,
                    sender,
                    payload,
                    qos: Qos::ReliableFec,
                } if topic == "fec" => {
                    Some((*sender, u16::from_be_bytes([payload[0], payload[1]])))
                }
                _ => None,
            })
            .collect();
        let expected: Vec<(usize, u16)> = (0..MESSAGES).map(|k| (0, k)).collect();
        check_exactly_once(node, &got, &expected)?;
        check_fifo(node, &got)?;
    }
    let sender = world.machine(0).ok_or("sender down")?;
    let Some(Channel::ReliableFec(e)) = sender.n().channel(g, Qos::ReliableFec) else {
        return Err("the sender has no reliable + FEC channel".into());
    };
    let fec = e.fec_stats();
    if fec.blocks == 0 || fec.proactive_parity == 0 {
        return Err(format!("no parity sent: {fec:?}"));
    }
    let healed: u64 = (1..NODES)
        .filter_map(|i| world.machine(i))
        .filter_map(|m| match m.n().channel(g, Qos::ReliableFec) {
            Some(Channel::ReliableFec(e)) => Some(e.fec_stats().blocks_recovered),
            _ => None,
        })
        .sum();
    if healed == 0 {
        return Err("no block was rebuilt from parity at 5 % loss".into());
    }
    Ok(())
}

#[test]
fn reliable_fec_topic_through_the_node() {
    common::with_big_stack(|| run_seeds!("reliable_fec_topic_through_the_node", 100, scenario));
}
