//! The total-order channel through the node: nodes given Totem storage
//! deliver `Qos::Agreed` and `Qos::Safe` topics in one sequence under loss,
//! and report the ring's configurations.

#![cfg(feature = "total-order")]

mod common;

use blaze_node::{Channel, Duration, Instant, PublishError, Qos};
use blaze_sim::{LinkConfig, World, check_same_sequence, run_seeds};
use common::{Ev, Sim, group};

const NODES: usize = 4;
const PER_SENDER: u8 = 30;

/// A delivered total-order message: topic, sender, number.
type Delivered = (String, usize, u8);

/// Whether every node's ring is operational with all nodes on it.
fn ring_formed(world: &World<Sim>) -> bool {
    (0..NODES).all(|i| {
        world.machine(i).is_some_and(|m| {
            matches!(
                m.n().channel(group(), Qos::Agreed),
                Some(Channel::Totem(t)) if t.ring().is_some_and(|r| {
                    r.is_operational() && r.members().len() == NODES
                })
            )
        })
    })
}

/// The total-order messages node `node` delivered, as (topic, sender, k).
fn delivered(world: &World<Sim>, node: usize) -> Vec<Delivered> {
    world
        .events()
        .iter()
        .filter(|r| r.node == node)
        .filter_map(|r| match &r.event {
            Ev::Msg {
                topic,
                sender,
                payload,
                qos: Qos::Agreed | Qos::Safe,
            } => Some((topic.clone(), *sender, *payload.first()?)),
            _ => None,
        })
        .collect()
}

fn scenario(seed: u64) -> Result<(), String> {
    let mut world = World::new(seed, NODES, Sim::joining_with_totem);
    let loss = 0.05 + (seed % 6) as f64 * 0.01;
    world.set_default_link(
        LinkConfig::perfect(Duration::from_micros(200))
            .with_delay(Duration::from_micros(200), Duration::from_micros(100))
            .with_loss(loss),
    );
    if !world.run_while_not(Instant::from_millis(10_000), ring_formed) {
        return Err("no ring of all nodes within 10 s".into());
    }
    let t0 = world.now();
    // Every node publishes on an agreed and (every third message) a safe
    // topic; a full queue is retried a little later.
    for i in 0..NODES {
        for k in 0..PER_SENDER {
            let topic = if k % 3 == 2 { "safe" } else { "total" };
            let at = t0 + Duration::from_millis(u64::from(k));
            world.at(at, move |w| publish(w, i, topic, k, 0));
        }
    }
    let expected = NODES * usize::from(PER_SENDER);
    let done = world.run_while_not(t0 + Duration::from_secs(10), |w| {
        (0..NODES).all(|i| delivered(w, i).len() >= expected)
    });
    let seqs: Vec<Vec<Delivered>> = (0..NODES).map(|i| delivered(&world, i)).collect();
    let refs: Vec<(usize, &[Delivered])> = seqs
        .iter()
        .enumerate()
        .map(|(i, s)| (i, s.as_slice()))
        .collect();
    check_same_sequence(&refs).map_err(|v| format!("{v}"))?;
    if !done {
        return Err(format!(
            "delivered {} of {expected} within 10 s",
            seqs.first().map_or(0, Vec::len)
        ));
    }
    for (i, s) in seqs.iter().enumerate() {
        for q in ["total", "safe"] {
            if !s.iter().any(|(t, _, _)| t == q) {
                return Err(format!("node {i} delivered nothing on {q}"));
            }
        }
    }
    let configured = world
        .events()
        .iter()
        .filter(|r| matches!(&r.event, Ev::Other(e) if e.starts_with("RingChanged")))
        .count();
    if configured < NODES {
        return Err(format!("{configured} ring configurations reported"));
    }
    Ok(())
}

/// A member crashes while every member publishes: the survivors form a
/// ring of three, deliver one sequence (the crashed member's messages they
/// recovered included) and every message of their own.
fn crash_scenario(seed: u64) -> Result<(), String> {
    let mut world = World::new(seed, NODES, Sim::joining_with_totem);
    world.set_default_link(
        LinkConfig::perfect(Duration::from_micros(200))
            .with_delay(Duration::from_micros(200), Duration::from_micros(100))
            .with_loss(0.05),
    );
    if !world.run_while_not(Instant::from_millis(10_000), ring_formed) {
        return Err("no ring of all nodes within 10 s".into());
    }
    let t0 = world.now();
    for i in 0..NODES {
        for k in 0..PER_SENDER {
            let at = t0 + Duration::from_millis(u64::from(k));
            world.at(at, move |w| publish(w, i, "total", k, 0));
        }
    }
    let victim = NODES - 1;
    world.at(t0 + Duration::from_millis(10), move |w| w.crash(victim));
    let survivors: Vec<usize> = (0..victim).collect();
    let own = survivors.len() * usize::from(PER_SENDER);
    let done = world.run_while_not(t0 + Duration::from_secs(10), |w| {
        survivors.iter().all(|i| {
            delivered(w, *i)
                .iter()
                .filter(|(_, s, _)| *s != victim)
                .count()
                >= own
        })
    });
    let seqs: Vec<Vec<Delivered>> = survivors.iter().map(|i| delivered(&world, *i)).collect();
    let refs: Vec<(usize, &[Delivered])> = seqs
        .iter()
        .enumerate()
        .map(|(i, s)| (i, s.as_slice()))
        .collect();
    check_same_sequence(&refs).map_err(|v| format!("{v}"))?;
    if !done {
        return Err("the survivors did not deliver all their messages within 10 s".into());
    }
    for i in &survivors {
        let m = world.machine(*i).ok_or("survivor down")?;
        let Some(Channel::Totem(t)) = m.n().channel(group(), Qos::Agreed) else {
            return Err("no total-order channel".into());
        };
        let members = t.ring().map_or(0, |r| r.members().len());
        if members != survivors.len() {
            return Err(format!("node {i} ends on a ring of {members}"));
        }
    }
    Ok(())
}

/// Publishes message `k` of node `i`, retrying a full queue for a second.
fn publish(w: &mut World<Sim>, i: usize, topic: &'static str, k: u8, tries: u32) {
    let r = w.command(i, |m, now| {
        m.n_mut().publish(now, group(), topic, &[k, i as u8])
    });
    match r {
        Some(Err(PublishError::WouldBlock)) if tries < 200 => {
            let at = w.now() + Duration::from_millis(5);
            w.at(at, move |w| publish(w, i, topic, k, tries + 1));
        }
        Some(Err(e)) => panic!("publish {k} on node {i}: {e:?}"),
        _ => {}
    }
}

#[test]
fn agreed_and_safe_topics_deliver_one_sequence() {
    common::with_big_stack(|| {
        run_seeds!("agreed_and_safe_topics_deliver_one_sequence", 50, scenario)
    });
}

#[test]
fn survivors_of_a_crash_deliver_one_sequence() {
    common::with_big_stack(|| {
        run_seeds!(
            "survivors_of_a_crash_deliver_one_sequence",
            30,
            crash_scenario
        )
    });
}

#[test]
fn misuse_of_total_order_gets_typed_errors() {
    common::with_big_stack(|| {
        let mut world = World::new(7, 2, Sim::joining_with_totem);
        world.run_until(Instant::from_millis(500));
        let g = group();
        let (too_big, long_topic, no_storage, reserved) = world
            .command(0, |m, now| {
                let n = m.n_mut();
                (
                    n.publish(now, g, "total", &[0u8; 2000]),
                    n.publish(now, g, &"t".repeat(65), b"x"),
                    n.publish(now, blaze_node::GroupId::from_name("other"), "total", b"x"),
                    n.publish(now, g, "blaze.map", b"x"),
                )
            })
            .unwrap();
        assert_eq!(too_big, Err(PublishError::TooLarge));
        assert_eq!(long_topic, Err(PublishError::TopicTooLong));
        assert_eq!(no_storage, Err(PublishError::NotJoined));
        // The ring-ordered map's topic is the stack's.
        assert_eq!(reserved, Err(PublishError::ReservedTopic));
    });
}

/// The ring's window (`T`) is a capacity of its own: a node runs its
/// reliable channels with a window of 64 messages (and a flow window
/// above the ring's) while its Totem storage holds 8 message slots, and
/// a lone member still delivers more total-order messages than its ring
/// window, in order.
#[test]
fn the_ring_window_is_apart_from_the_reliable_window() {
    use blaze_node::{
        Buffers, Config, Event, GroupBuffers, Identity, Metadata, Name, NoCustom, Node, Protocol,
        RxSlot, SendSlot, TotemBuffers, TotemSlot, TotemStorage,
    };
    use blaze_wire::MemberId;

    const W: usize = 64;
    const T: usize = 8;
    type SplitNode<'a> = Node<
        'a,
        NoCustom,
        1,
        4,
        W,
        4,
        256,
        8,
        8,
        16,
        32,
        { blaze_membership::EVENT_CAPACITY },
        { blaze_membership::CONTROL_CAPACITY },
        { blaze_membership::MAX_CONSUMERS },
        // The map's capacities (requests, events, origins; not used
        // without feature `map`).
        16,
        16,
        32,
        4,
        { blaze_node::MAX_TOPICS },
        T,
    >;

    let mut config = Config::lan();
    config.nack.flow_window = core::num::NonZeroU32::new(48).unwrap();
    let need = GroupBuffers::recv_bytes_needed(&config, 4, W);
    let mut store = [0, 1].map(|_| {
        (
            vec![SendSlot::EMPTY; W],
            vec![0u8; 16 * 1024],
            vec![0u8; need],
            vec![RxSlot::EMPTY; 4 * W],
        )
    });
    let [r, b] = &mut store;
    let buffers = [GroupBuffers {
        reliable: Buffers {
            send_index: &mut r.0,
            send_bytes: &mut r.1,
            recv_bytes: &mut r.2,
            recv_slots: &mut r.3,
            reassembly: &mut [],
        },
        best_effort: Buffers {
            send_index: &mut b.0,
            send_bytes: &mut b.1,
            recv_bytes: &mut b.2,
            recv_slots: &mut b.3,
            reassembly: &mut [],
        },
    }];
    let me = Identity {
        id: MemberId::from_u128(1),
        name: Name::new("ann").unwrap(),
        metadata: Metadata::default(),
        incarnation: 0,
        seed: 7,
    };
    let mut slots = vec![TotemSlot::EMPTY; TotemStorage::<4, T>::slots_needed()];
    let mut bytes = vec![0; TotemStorage::<4, T>::bytes_needed()];
    let mut ring: TotemStorage<'_, 4, T> = TotemStorage::new(TotemBuffers {
        slots: &mut slots,
        bytes: &mut bytes,
    })
    .expect("buffers fit the storage");
    let mut node: Box<SplitNode<'_>> =
        Box::new(Node::new(Instant::ZERO, config, me, buffers).expect("flow window within W"));
    node.add_total_order(&mut ring).expect("storage taken");
    node.set_qos("ledger", Qos::Agreed).unwrap();
    let g = node.join(Instant::ZERO, "bank").unwrap();
    let sent = 3 * T as u8;
    for k in 0..sent {
        node.publish(Instant::ZERO, g, "ledger", &[k]).unwrap();
    }
    let (mut buf, mut now, mut got) = ([0u8; 1500], Instant::ZERO, Vec::new());
    while got.len() < usize::from(sent) && now < Instant::from_millis(10_000) {
        now = node.poll_timeout().unwrap();
        node.handle_timeout(now);
        while node.poll_transmit(now, &mut buf).is_some() {}
        while let Some(e) = node.poll_event() {
            if let Event::Message { topic, payload, .. } = e {
                assert_eq!(topic, "ledger");
                got.push(payload[0]);
            }
        }
    }
    assert_eq!(got, (0..sent).collect::<Vec<_>>());
}
