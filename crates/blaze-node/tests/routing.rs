//! The router counts what it drops, by reason.

mod common;

use blaze_node::{Instant, Protocol, STREAM_RELIABLE};
use blaze_sim::Spawn;
use blaze_wire::{Body, DataBatch, Frame, GroupId, MemberId, Message, VERSION};
use common::{Sim, group, id_of};

fn frame(version: u32, group: GroupId, sender: MemberId, body: Body<'_>) -> Vec<u8> {
    let f = Frame {
        version,
        group,
        sender,
        auth_tag: &[],
        body,
    };
    let mut buf = vec![0u8; f.encoded_len()];
    let n = f.emit(&mut buf).unwrap();
    buf.truncate(n);
    buf
}

#[test]
fn drops_are_counted_by_reason() {
    common::with_big_stack(|| {
        let mut sim = Sim::new(Spawn {
            index: 0,
            addr: blaze_sim::node_addr(0),
            seed: 1,
            incarnation: 0,
        });
        let n = sim.n_mut();
        let now = Instant::from_millis(1);
        n.join(now, common::GROUP).unwrap();
        let from = blaze_sim::node_addr(1);
        let other = id_of(1);
        let data = |stream| {
            Body::Data(DataBatch {
                stream,
                ..DataBatch::default()
            })
        };
        let cases: [(Vec<u8>, &str); 7] = [
            (vec![0xff, 0xff, 0xff], "malformed"),
            (
                frame(VERSION + 1, group(), other, data(STREAM_RELIABLE)),
                "version",
            ),
            (
                frame(VERSION, group(), n.id(), data(STREAM_RELIABLE)),
                "own",
            ),
            (
                frame(
                    VERSION,
                    GroupId::from_name("nope"),
                    other,
                    data(STREAM_RELIABLE),
                ),
                "group",
            ),
            (frame(VERSION, group(), other, Body::Empty), "body"),
            (frame(VERSION, group(), other, data(42)), "channel"),
            (
                frame(VERSION, group(), MemberId::NIL, data(STREAM_RELIABLE)),
                "nil sender",
            ),
        ];
        for (d, _) in &cases {
            n.handle_datagram(now, from, d);
        }
        let s = *n.stats();
        assert_eq!(s.datagrams, 7);
        assert_eq!(
            (
                s.malformed,
                s.bad_version,
                s.own,
                s.unknown_group,
                s.no_body,
                s.no_channel
            ),
            (2, 1, 1, 1, 1, 1),
            "{s:?}"
        );
        // A stream frame from a sender outside the group's view reaches
        // the channel, which refuses it (no peer slot, no delivery) and
        // counts it.
        n.handle_datagram(
            now,
            from,
            &frame(VERSION, group(), other, data(STREAM_RELIABLE)),
        );
        assert_eq!(n.stats().datagrams, 8);
        let drops = n
            .channel(group(), blaze_node::Qos::Reliable)
            .map(|c| match c {
                blaze_node::Channel::Reliable(e) => *e.stats(),
                _ => Default::default(),
            })
            .unwrap();
        assert_eq!(drops.datagrams_received, 1);
        assert_eq!(drops.drops.unknown_peer, 1, "{drops:?}");
        assert!(
            n.channel(group(), blaze_node::Qos::Reliable)
                .is_some_and(|c| match c {
                    blaze_node::Channel::Reliable(e) => e.recv_stats(other).is_none(),
                    _ => false,
                })
        );
    });
}
