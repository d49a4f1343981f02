//! Properties of the router under arbitrary input.

mod common;

use blaze_node::{Instant, Protocol};
use blaze_sim::Spawn;
use blaze_wire::{
    Body, DataBatch, Frame, GroupId, Heartbeat, MemberId, Message, Nack, Repeated, StreamMark,
};
use common::{Sim, group};
use proptest::prelude::*;

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

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x05EE_D0DE),
        ..ProptestConfig::default()
    })]

    /// Any datagram is counted once, and every drop has one reason; the
    /// node keeps its group and answers the five verbs afterwards.
    #[test]
    fn arbitrary_datagrams_are_counted_and_never_break_the_node(
        junk in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 1..40),
        frames in proptest::collection::vec((0u32..3, any::<bool>(), 0u32..5, 0u8..4, any::<u64>()), 0..40),
    ) {
        let (tx, rx) = std::sync::mpsc::channel();
        common::with_big_stack(move || {
            let mut sim = Sim::new(Spawn { index: 0, addr: blaze_sim::node_addr(0), seed: 3, incarnation: 0 });
            let n = sim.n_mut();
            let mut now = Instant::from_millis(1);
            n.join(now, common::GROUP).unwrap();
            let from = blaze_sim::node_addr(1);
            let mut count = 0u64;
            for d in &junk {
                n.handle_datagram(now, from, d);
                count += 1;
            }
            let marks = [StreamMark { stream: 1, high_seq: 5, ..StreamMark::default() }];
            for (version, ours, stream, kind, x) in &frames {
                let g = if *ours { group() } else { GroupId::from_raw(*x) };
                let body = match kind {
                    0 => Body::Data(DataBatch { stream: *stream, first_seq: *x, ..DataBatch::default() }),
                    1 => Body::Nack(Nack { stream: *stream, target: Some(MemberId::from_u128(9)), ..Nack::default() }),
                    2 => Body::Heartbeat(Heartbeat { streams: Repeated::from_slice(&marks), ..Heartbeat::default() }),
                    _ => Body::Empty,
                };
                n.handle_datagram(now, from, &frame(*version, g, MemberId::from_u128(u128::from(*x) | 1), body));
                count += 1;
            }
            let s = *n.stats();
            let dropped = s.malformed + s.bad_version + s.own + s.unknown_group + s.no_channel + s.no_body;
            let mut buf = [0u8; 1500];
            for _ in 0..50 {
                while n.poll_transmit(now, &mut buf).is_some() {}
                while n.poll_event().is_some() {}
                now = n.poll_timeout().unwrap_or(now).max(now);
                n.handle_timeout(now);
            }
            tx.send((s.datagrams, count, dropped, n.groups().count())).unwrap();
        });
        let (seen, count, dropped, groups) = rx.recv().unwrap();
        prop_assert_eq!(seen, count);
        prop_assert!(dropped <= count);
        prop_assert_eq!(groups, 1);
    }
}
