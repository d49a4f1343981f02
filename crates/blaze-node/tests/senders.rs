//! A full group of `P` members whose channels are sized for `P - 1`
//! remote senders (`SENDERS`): every member hears every other one, and no
//! peer table runs out of room.

use blaze_node::{
    Buffers, Config, Destination, Duration, Event, GroupBuffers, Identity, Instant, MemberId,
    Metadata, Name, NoCustom, Node, Protocol, RxSlot, SendSlot,
};
use core::net::{Ipv4Addr, SocketAddr};
use std::cell::RefCell;

/// Members of the group, and members a node tracks.
const P: usize = 4;
/// Remote senders a channel has room for: the other members.
const SENDERS: usize = P - 1;
const WINDOW: usize = 8;
/// Messages each member publishes.
const MESSAGES: u8 = 5;

/// A small member sized for its group: 1 group, `P` members, windows of
/// 8, a map of 8 entries with 4 requests, 8 events and 8 origins,
/// membership queues of 16 and 16 and 4 consumers, `SENDERS` remote
/// senders per channel, 4 topics.
type Small =
    Node<'static, NoCustom, 1, P, WINDOW, 4, 256, 8, 8, 16, 32, 16, 16, 4, 4, 8, 8, SENDERS, 4>;

fn addr(i: usize) -> SocketAddr {
    SocketAddr::new(Ipv4Addr::new(10, 0, 0, i as u8 + 1).into(), 7400)
}

fn config() -> Config {
    let mut c = Config::lan();
    c.nack.flow_window = core::num::NonZeroU32::new(WINDOW as u32).unwrap();
    c
}

/// Channel storage for `SENDERS` remote senders, not `P`.
fn buffers(config: &Config) -> Buffers<'static> {
    let need = GroupBuffers::recv_bytes_needed(config, SENDERS, WINDOW);
    Buffers {
        send_index: Vec::leak(vec![SendSlot::EMPTY; 2 * WINDOW]),
        send_bytes: Vec::leak(vec![0u8; 16 * 1024]),
        recv_bytes: Vec::leak(vec![0u8; need]),
        recv_slots: Vec::leak(vec![RxSlot::EMPTY; SENDERS * WINDOW]),
        reassembly: &mut [],
    }
}

fn node(i: usize) -> Box<Small> {
    let config = config();
    let me = Identity {
        id: MemberId::from_u128(i as u128 + 1),
        name: Name::new(&format!("n{i}")).unwrap(),
        metadata: Metadata::default(),
        incarnation: 0,
        seed: 0x5e4d + i as u64,
    };
    let group = [GroupBuffers {
        reliable: buffers(&config),
        #[cfg(feature = "best-effort")]
        best_effort: buffers(&config),
    }];
    Box::new(Small::new(Instant::ZERO, config, me, group).unwrap())
}

/// Runs every node for 1 ms steps until `done` holds or `limit` passes;
/// a group datagram reaches every other node, a unicast one its node.
/// Calls `seen` with (receiver, sender, payload) for every message.
fn run(
    nodes: &mut [Box<Small>],
    now: &mut Instant,
    limit: Instant,
    seen: &mut impl FnMut(usize, MemberId, &[u8]),
    done: impl Fn(&[Box<Small>]) -> bool,
) -> bool {
    let mut buf = vec![0u8; 1500];
    while *now < limit {
        if done(nodes) {
            return true;
        }
        *now += Duration::from_millis(1);
        for n in nodes.iter_mut() {
            if n.poll_timeout().is_some_and(|t| t <= *now) {
                n.handle_timeout(*now);
            }
        }
        let mut wire = Vec::new();
        for (i, n) in nodes.iter_mut().enumerate() {
            while let Some(t) = n.poll_transmit(*now, &mut buf) {
                wire.push((i, t.to, buf[..t.len].to_vec()));
            }
        }
        for (from, to, datagram) in wire {
            for (j, n) in nodes.iter_mut().enumerate() {
                let reaches = match to {
                    Destination::Group => j != from,
                    Destination::Peer(a) => a == addr(j),
                };
                if reaches {
                    n.handle_datagram(*now, addr(from), &datagram);
                }
            }
        }
        for (j, n) in nodes.iter_mut().enumerate() {
            while let Some(e) = n.poll_event() {
                if let Event::Message {
                    sender, payload, ..
                } = e
                {
                    seen(j, sender, payload);
                }
            }
        }
    }
    done(nodes)
}

#[test]
fn a_full_group_fits_channels_sized_for_the_other_members() {
    let mut nodes: Vec<Box<Small>> = (0..P).map(node).collect();
    let mut now = Instant::ZERO;
    let group = nodes
        .iter_mut()
        .map(|n| n.join(now, "g").unwrap())
        .last()
        .unwrap();
    let got = RefCell::new(vec![Vec::new(); P]);
    let mut seen =
        |j: usize, sender: MemberId, payload: &[u8]| got.borrow_mut()[j].push((sender, payload[0]));
    let full = |nodes: &[Box<Small>]| {
        nodes
            .iter()
            .all(|n| n.view(group).is_some_and(|v| v.members().len() == P))
    };
    let limit = Instant::from_millis(10_000);
    assert!(
        run(&mut nodes, &mut now, limit, &mut seen, full),
        "no view of {P} members"
    );
    for k in 0..MESSAGES {
        for n in nodes.iter_mut() {
            n.publish(now, group, "t", &[k]).unwrap();
        }
    }
    let all = P * (P - 1) * usize::from(MESSAGES);
    let delivered = |_: &[Box<Small>]| got.borrow().iter().map(Vec::len).sum::<usize>() == all;
    let limit = now + Duration::from_secs(10);
    assert!(
        run(&mut nodes, &mut now, limit, &mut seen, delivered),
        "not every message delivered"
    );
    let got = got.borrow();
    for (j, n) in nodes.iter().enumerate() {
        assert_eq!(n.stats().peer_table_full, 0, "node {j}");
        for i in (0..P).filter(|&i| i != j) {
            let from = MemberId::from_u128(i as u128 + 1);
            let payloads: Vec<u8> = got[j]
                .iter()
                .filter(|(s, _)| *s == from)
                .map(|(_, p)| *p)
                .collect();
            assert_eq!(
                payloads,
                (0..MESSAGES).collect::<Vec<_>>(),
                "node {j} from node {i}"
            );
        }
    }
}
