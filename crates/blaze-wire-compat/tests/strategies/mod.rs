//! proptest strategies that build random prost frames within the schema's
//! documented constraints (ids are empty or 16 bytes, typed values in range).

#![allow(dead_code, reason = "shared by several test files")]

use blaze_wire_compat::pb;
use pb::frame::Body;
use pb::value::Kind;
use proptest::collection::vec;
use proptest::prelude::*;

pub(crate) fn id() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(Vec::new()),
        proptest::array::uniform16(any::<u8>()).prop_map(|a| a.to_vec())
    ]
}

fn some_id() -> impl Strategy<Value = Vec<u8>> {
    proptest::array::uniform16(any::<u8>()).prop_map(|a| a.to_vec())
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..max)
}

fn text() -> impl Strategy<Value = String> {
    "\\PC{0,12}"
}

fn u64s() -> impl Strategy<Value = u64> {
    prop_oneof![Just(0u64), 0u64..300, any::<u64>()]
}

fn u32s() -> impl Strategy<Value = u32> {
    prop_oneof![Just(0u32), 0u32..300, any::<u32>()]
}

fn ranges() -> impl Strategy<Value = Vec<pb::SeqRange>> {
    vec(
        (u64s(), u64s()).prop_map(|(start, end)| pb::SeqRange { start, end }),
        0..4,
    )
}

fn ring() -> impl Strategy<Value = Option<pb::RingId>> {
    proptest::option::of((id(), u64s()).prop_map(|(rep, seq)| pb::RingId { rep, seq }))
}

fn finite_f32() -> impl Strategy<Value = f32> {
    prop_oneof![
        Just(0.0f32),
        Just(-0.0f32),
        -1e30f32..1e30f32,
        Just(f32::INFINITY)
    ]
}

fn finite_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(0.0f64),
        Just(-0.0f64),
        -1e300f64..1e300f64,
        Just(f64::NEG_INFINITY)
    ]
}

pub(crate) fn blaze_message() -> impl Strategy<Value = pb::BlazeMessage> {
    let leaf = prop_oneof![
        any::<bool>().prop_map(Kind::BoolValue),
        (-128i32..=127).prop_map(Kind::ByteValue),
        (0u32..=0xffff).prop_map(Kind::CharValue),
        (-32768i32..=32767).prop_map(Kind::ShortValue),
        any::<i32>().prop_map(Kind::IntValue),
        any::<i64>().prop_map(Kind::LongValue),
        finite_f32().prop_map(Kind::FloatValue),
        finite_f64().prop_map(Kind::DoubleValue),
        bytes(16).prop_map(Kind::BytesValue),
        text().prop_map(Kind::TextValue),
    ];
    let kind = leaf.prop_recursive(3, 16, 4, |inner| {
        vec((text(), inner), 0..4).prop_map(|entries| {
            Kind::MapValue(pb::BlazeMessage {
                entries: entries
                    .into_iter()
                    .map(|(key, k)| pb::Entry {
                        key,
                        value: Some(pb::Value { kind: Some(k) }),
                    })
                    .collect(),
            })
        })
    });
    vec((text(), kind), 0..6).prop_map(|entries| pb::BlazeMessage {
        entries: entries
            .into_iter()
            .map(|(key, k)| pb::Entry {
                key,
                value: Some(pb::Value { kind: Some(k) }),
            })
            .collect(),
    })
}

fn data_message() -> impl Strategy<Value = pb::DataMessage> {
    let recovered = proptest::option::of(
        (id(), u64s(), any::<bool>()).prop_map(|(sender, seq, safe)| pb::RecoveredMessage {
            sender,
            seq,
            safe,
        }),
    );
    (bytes(80), u32s(), u32s(), text(), u64s(), recovered).prop_map(
        |(payload, fragment_index, fragment_count, topic, total_len, recovered)| pb::DataMessage {
            payload,
            fragment_index,
            fragment_count,
            topic,
            total_len,
            recovered,
        },
    )
}

fn data() -> impl Strategy<Value = Body> {
    (
        u32s(),
        text(),
        u64s(),
        vec(data_message(), 0..6),
        0i32..5,
        any::<bool>(),
        u64s(),
        ring(),
        ring(),
    )
        .prop_map(
            |(
                stream,
                topic,
                first_seq,
                messages,
                qos,
                repair,
                window_start,
                ring,
                recovered_from,
            )| {
                Body::Data(pb::DataBatch {
                    stream,
                    topic,
                    first_seq,
                    messages,
                    qos,
                    repair,
                    window_start,
                    ring,
                    recovered_from,
                })
            },
        )
}

fn nack() -> impl Strategy<Value = Body> {
    (id(), u32s(), ranges(), u32s(), u32s()).prop_map(
        |(target, stream, ranges, parity_wanted, loss_ppm)| {
            Body::Nack(pb::Nack {
                target,
                stream,
                ranges,
                parity_wanted,
                loss_ppm,
            })
        },
    )
}

fn heartbeat() -> impl Strategy<Value = Body> {
    let mark = (u32s(), u64s(), u64s(), any::<bool>()).prop_map(
        |(stream, high_seq, window_start, empty)| pb::StreamMark {
            stream,
            high_seq,
            window_start,
            empty,
        },
    );
    (
        vec(mark, 0..4),
        u64s(),
        u64s(),
        u64s(),
        id(),
        u64s(),
        u64s(),
        u32s(),
    )
        .prop_map(
            |(
                streams,
                view_id,
                timestamp_us,
                echo_timestamp_us,
                echo_to,
                echo_delay_us,
                incarnation,
                services,
            )| {
                Body::Heartbeat(pb::Heartbeat {
                    streams,
                    view_id,
                    timestamp_us,
                    echo_timestamp_us,
                    echo_to,
                    echo_delay_us,
                    incarnation,
                    services,
                })
            },
        )
}

fn parity() -> impl Strategy<Value = Body> {
    (
        u32s(),
        u64s(),
        u32s(),
        u32s(),
        u32s(),
        bytes(64),
        vec(u32s(), 0..8),
        any::<u32>(),
    )
        .prop_map(|(stream, block, k, m, index, symbol, lengths, block_crc)| {
            Body::Parity(pb::Parity {
                stream,
                block,
                k,
                m,
                index,
                symbol,
                lengths,
                block_crc,
            })
        })
}

fn token() -> impl Strategy<Value = Body> {
    (
        ring(),
        u64s(),
        u64s(),
        u64s(),
        id(),
        ranges(),
        u32s(),
        u32s(),
        id(),
    )
        .prop_map(
            |(ring, token_seq, seq, aru, aru_id, rtr, fcc, backlog, next)| {
                Body::Token(pb::Token {
                    ring,
                    token_seq,
                    seq,
                    aru,
                    aru_id,
                    rtr,
                    fcc,
                    backlog,
                    next,
                })
            },
        )
}

fn join() -> impl Strategy<Value = Body> {
    (
        (
            text(),
            text(),
            u32s(),
            proptest::option::of(blaze_message()),
            u64s(),
        ),
        (
            bytes(17),
            u32s(),
            vec(some_id(), 0..3),
            vec(some_id(), 0..3),
            u64s(),
            u64s(),
            u32s(),
        ),
    )
        .prop_map(
            |(
                (group_name, member_name, weight, metadata, incarnation),
                (address, port, proc_set, fail_set, ring_seq, started_us, services),
            )| {
                Body::Join(pb::Join {
                    group_name,
                    member_name,
                    weight,
                    metadata,
                    incarnation,
                    address,
                    port,
                    proc_set,
                    fail_set,
                    ring_seq,
                    started_us,
                    services,
                })
            },
        )
}

fn view() -> impl Strategy<Value = Body> {
    let member = (
        id(),
        text(),
        u32s(),
        u64s(),
        bytes(17),
        u32s(),
        u64s(),
        proptest::option::of(blaze_message()),
        u32s(),
    )
        .prop_map(
            |(id, name, weight, incarnation, address, port, rank, metadata, services)| {
                pb::ViewMember {
                    id,
                    name,
                    weight,
                    incarnation,
                    address,
                    port,
                    rank,
                    metadata,
                    services,
                }
            },
        );
    let state = (id(), ring(), u64s(), u64s(), any::<bool>()).prop_map(
        |(id, old_ring, aru, high_delivered, received_flag)| pb::MemberRingState {
            id,
            old_ring,
            aru,
            high_delivered,
            received_flag,
        },
    );
    (
        u64s(),
        vec(member, 0..4),
        any::<bool>(),
        vec(u64s(), 0..4),
        ring(),
        vec(state, 0..3),
        u64s(),
        vec(some_id(), 0..3),
    )
        .prop_map(
            |(view_id, members, merge, merged_from, ring, ring_states, commit_hop, left)| {
                Body::View(pb::View {
                    view_id,
                    members,
                    merge,
                    merged_from,
                    ring,
                    ring_states,
                    commit_hop,
                    left,
                })
            },
        )
}

fn small_bodies() -> impl Strategy<Value = Body> {
    prop_oneof![
        u64s().prop_map(|incarnation| Body::Leave(pb::Leave { incarnation })),
        (id(), u64s(), any::<bool>()).prop_map(|(member, incarnation, probe_request)| {
            Body::Suspect(pb::Suspect {
                member,
                incarnation,
                probe_request,
            })
        }),
        (u64s(), id(), id(), any::<bool>()).prop_map(|(seq, target, origin, ack)| Body::Probe(
            pb::Probe {
                seq,
                target,
                origin,
                ack
            }
        )),
    ]
}

fn request_window() -> impl Strategy<Value = Option<pb::RequestWindow>> {
    proptest::option::of((id(), u64s(), u64s()).prop_map(
        |(member, highest_request, applied_bits)| pb::RequestWindow {
            member,
            highest_request,
            applied_bits,
        },
    ))
}

fn map_ops() -> impl Strategy<Value = Body> {
    let map_op = (
        (text(), 0i32..9, bytes(20), bytes(40), u64s(), u64s()),
        (u64s(), u64s(), u32s(), id(), u32s(), u64s()),
        (u64s(), id(), u64s(), u64s(), u64s(), any::<bool>()),
        request_window(),
    )
        .prop_map(
            |(
                (map, kind, key, value, version, request_id),
                (order, ttl_us, flags, owner, error, fence),
                (epoch, origin, snapshot_session, snapshot_cursor, snapshot_prev_cursor, has_value),
                request_window,
            )| {
                Body::MapOp(pb::MapOp {
                    map,
                    kind,
                    key,
                    value,
                    version,
                    request_id,
                    order,
                    ttl_us,
                    flags,
                    owner,
                    error,
                    fence,
                    epoch,
                    origin,
                    snapshot_session,
                    snapshot_cursor,
                    snapshot_prev_cursor,
                    has_value,
                    request_window,
                })
            },
        );
    let lock_op = (
        (text(), bytes(20), 0i32..10, u64s(), u64s(), id()),
        (u64s(), u64s(), u64s(), u64s(), u32s()),
        (u64s(), u64s(), u64s(), any::<bool>()),
    )
        .prop_map(
            |(
                (map, key, kind, lease_us, fence, holder),
                (request_id, order, wait_us, epoch, error),
                (snapshot_session, snapshot_cursor, snapshot_prev_cursor, quarantined),
            )| {
                Body::LockOp(pb::LockOp {
                    map,
                    key,
                    kind,
                    lease_us,
                    fence,
                    holder,
                    request_id,
                    order,
                    wait_us,
                    epoch,
                    error,
                    snapshot_session,
                    snapshot_cursor,
                    snapshot_prev_cursor,
                    quarantined,
                })
            },
        );
    prop_oneof![map_op, lock_op]
}

fn map_control() -> impl Strategy<Value = Body> {
    (
        (0i32..12, u64s(), id(), u64s(), u64s(), u64s()),
        (u64s(), u64s(), u64s(), u64s(), u64s()),
        (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()),
        (u64s(), u64s(), id(), u64s(), id()),
    )
        .prop_map(
            |(
                (kind, epoch, epoch_leader, view_id, order, last_order),
                (committed, epoch_base, session, cursor, prev_cursor),
                (parked, losers_reset, holds_state, losers_park),
                (side_size, side_epoch, side_leader, side_parent, side_parent_leader),
            )| {
                Body::MapControl(pb::MapControl {
                    kind,
                    epoch,
                    epoch_leader,
                    view_id,
                    order,
                    last_order,
                    committed,
                    epoch_base,
                    session,
                    cursor,
                    prev_cursor,
                    parked,
                    losers_reset,
                    holds_state,
                    losers_park,
                    side_size,
                    side_epoch,
                    side_leader,
                    side_parent,
                    side_parent_leader,
                })
            },
        )
}

fn requests() -> impl Strategy<Value = Body> {
    let request = (
        u64s(),
        id(),
        u64s(),
        bytes(40),
        text(),
        any::<bool>(),
        u64s(),
        any::<bool>(),
        0i32..7,
        u64s(),
    )
        .prop_map(
            |(
                correlation,
                target,
                timeout_us,
                payload,
                queue,
                redelivered,
                p2p_seq,
                one_way,
                queue_op,
                p2p_epoch,
            )| {
                Body::Request(pb::Request {
                    correlation,
                    target,
                    timeout_us,
                    payload,
                    queue,
                    redelivered,
                    p2p_seq,
                    one_way,
                    queue_op,
                    p2p_epoch,
                })
            },
        );
    let reply =
        (u64s(), id(), bytes(40), u32s()).prop_map(|(correlation, target, payload, error)| {
            Body::Reply(pb::Reply {
                correlation,
                target,
                payload,
                error,
            })
        });
    let ack = (
        id(),
        u64s(),
        u64s(),
        text(),
        any::<bool>(),
        u32s(),
        u64s(),
        u64s(),
    )
        .prop_map(
            |(target, p2p_seq, correlation, queue, stream_ack, stream, next_seq, p2p_epoch)| {
                Body::Ack(pb::Ack {
                    target,
                    p2p_seq,
                    correlation,
                    queue,
                    stream_ack,
                    stream,
                    next_seq,
                    p2p_epoch,
                })
            },
        );
    prop_oneof![request, reply, ack]
}

/// A random frame with any body.
pub(crate) fn frame() -> impl Strategy<Value = pb::Frame> {
    let body = prop_oneof![
        data(),
        nack(),
        heartbeat(),
        parity(),
        token(),
        join(),
        view(),
        small_bodies(),
        map_ops(),
        map_control(),
        requests(),
    ];
    (
        u32s(),
        any::<u64>(),
        id(),
        bytes(8),
        proptest::option::of(body),
    )
        .prop_map(|(version, group, sender, auth_tag, body)| pb::Frame {
            version,
            group,
            sender,
            auth_tag,
            body,
        })
}
