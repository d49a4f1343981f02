//! The router counts what it drops, by reason.

mod common;

use blaze_node::{
    Channel, Instant, MessageError, Protocol, Qos, STREAM_BEST_EFFORT, STREAM_RELIABLE, TopicError,
};
use blaze_sim::Spawn;
#[cfg(feature = "messaging")]
use blaze_wire::Request;
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

/// Node 0 alone, joined to the test group at 1 ms; the time of the join.
fn joined_alone() -> (Sim, Instant) {
    let mut sim = Sim::new(Spawn {
        index: 0,
        addr: blaze_sim::node_addr(0),
        seed: 1,
        incarnation: 0,
    });
    let now = Instant::from_millis(1);
    sim.n_mut().join(now, common::GROUP).unwrap();
    (sim, now)
}

#[test]
fn drops_are_counted_by_reason() {
    common::with_big_stack(|| {
        let (mut sim, now) = joined_alone();
        let n = sim.n_mut();
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

/// With feature `best-effort` a best-effort frame reaches the group's
/// best-effort channel; without it the topic QoS is refused and the frame
/// is counted as having no channel, and dropped.
#[test]
fn best_effort_frames_reach_the_channel_only_when_built_in() {
    common::with_big_stack(|| {
        let (mut sim, now) = joined_alone();
        let n = sim.n_mut();
        let body = Body::Data(DataBatch {
            stream: STREAM_BEST_EFFORT,
            ..DataBatch::default()
        });
        n.handle_datagram(
            now,
            blaze_sim::node_addr(1),
            &frame(VERSION, group(), id_of(1), body),
        );
        let received = n.channel(group(), Qos::BestEffort).map(|c| match c {
            Channel::BestEffort(e) => e.stats().datagrams_received,
            _ => 0,
        });
        if cfg!(feature = "best-effort") {
            assert_eq!(received, Some(1));
            assert_eq!(n.stats().no_channel, 0, "{:?}", n.stats());
            assert_eq!(n.set_qos("ticks", Qos::BestEffort), Ok(()));
        } else {
            assert_eq!(received, None);
            assert_eq!(n.stats().no_channel, 1, "{:?}", n.stats());
            assert_eq!(
                n.set_qos("ticks", Qos::BestEffort),
                Err(TopicError::QosUnavailable(Qos::BestEffort))
            );
            assert_eq!(n.qos("ticks"), Qos::Reliable);
        }
    });
}

/// With feature `messaging` point-to-point calls reach membership; without
/// it they are refused, and request frames, a kind the codec then leaves
/// out, are counted as frames without a body and dropped.
#[test]
fn messaging_reaches_membership_only_when_built_in() {
    common::with_big_stack(|| {
        let (mut sim, now) = joined_alone();
        let n = sim.n_mut();
        let sent = n.send_to(now, id_of(1), b"x");
        #[cfg(feature = "messaging")]
        let request = frame(
            VERSION,
            GroupId::from_raw(0),
            id_of(1),
            Body::Request(Request {
                correlation: 7,
                target: Some(n.id()),
                p2p_seq: 1,
                ..Request::default()
            }),
        );
        // An empty request (field 21) after the header.
        #[cfg(not(feature = "messaging"))]
        let request = [
            frame(VERSION, GroupId::from_raw(0), id_of(1), Body::Empty),
            vec![0xaa, 0x01, 0x00],
        ]
        .concat();
        n.handle_datagram(now, blaze_sim::node_addr(1), &request);
        let dropped = n.membership().stats().messaging_dropped;
        if cfg!(feature = "messaging") {
            assert_eq!(sent, Err(MessageError::UnknownMember));
            assert_eq!(dropped, 0);
        } else {
            assert_eq!(sent, Err(MessageError::NotBuiltIn));
            assert_eq!((dropped, n.stats().no_body), (0, 1));
            assert_eq!(
                n.request(now, id_of(1), b"x", blaze_node::Duration::from_secs(1)),
                Err(MessageError::NotBuiltIn)
            );
            assert_eq!(
                n.queue_subscribe(now, group(), "jobs"),
                Err(MessageError::NotBuiltIn)
            );
        }
    });
}
