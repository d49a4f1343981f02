//! Encode and decode of data frames and of a `BlazeMessage`: blaze-wire's
//! zero-copy views side by side with prost's owned types, on the same bytes,
//! in the same run.
//!
//! `cargo bench -p blaze-wire-compat --bench codec`

use std::hint::black_box;

use blaze_wire::{
    BlazeMessage, BlazeMessageWriter, Body, DataBatch, DataMessage, Frame, GroupId, MemberId,
    Message, Qos, Repeated, VERSION, Value,
};
use blaze_wire_compat::pb;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use prost::Message as _;

/// The benchmarked frame: one data batch carrying `msgs`.
fn frame_of<'a>(msgs: &'a [DataMessage<'a>]) -> Frame<'a> {
    Frame {
        version: VERSION,
        group: GroupId::from_name("bench"),
        sender: MemberId::from_u128(0x1234_5678_9abc_def0_1234_5678_9abc_def0),
        auth_tag: &[],
        body: Body::Data(DataBatch {
            stream: 1,
            topic: "ticks",
            first_seq: 1_000_000,
            messages: Repeated::from_slice(msgs),
            qos: Qos::RELIABLE,
            ..DataBatch::default()
        }),
    }
}

fn data_frame(payload: &[u8]) -> Vec<u8> {
    let msgs = [DataMessage {
        payload,
        ..DataMessage::default()
    }];
    let frame = frame_of(&msgs);
    let mut buf = vec![0u8; frame.encoded_len()];
    let n = frame.emit(&mut buf).expect("sized");
    buf.truncate(n);
    buf
}

fn blaze_decode_data(bytes: &[u8]) -> usize {
    let Ok(frame) = Frame::parse(bytes) else {
        return 0;
    };
    let Body::Data(batch) = frame.body else {
        return 0;
    };
    batch
        .messages
        .iter()
        .map(|m| m.payload.len())
        .sum::<usize>()
        + batch.first_seq as usize
}

fn prost_decode_data(bytes: &[u8]) -> usize {
    let Ok(frame) = pb::Frame::decode(bytes) else {
        return 0;
    };
    let Some(pb::frame::Body::Data(batch)) = frame.body else {
        return 0;
    };
    batch
        .messages
        .iter()
        .map(|m| m.payload.len())
        .sum::<usize>()
        + batch.first_seq as usize
}

fn bench_data(c: &mut Criterion, name: &str, size: usize) {
    let payload = vec![0xa5u8; size];
    let bytes = data_frame(&payload);
    let owned = pb::Frame::decode(&bytes[..]).expect("valid");
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Elements(1));
    g.bench_function("decode/blaze-wire", |b| {
        b.iter(|| blaze_decode_data(black_box(&bytes)))
    });
    g.bench_function("decode/prost", |b| {
        b.iter(|| prost_decode_data(black_box(&bytes)))
    });
    let mut out = vec![0u8; 2048];
    g.bench_function("encode/blaze-wire", |b| {
        b.iter(|| {
            let msgs = [DataMessage {
                payload: black_box(&payload),
                ..DataMessage::default()
            }];
            let frame = frame_of(&msgs);
            frame.emit(black_box(&mut out)).unwrap_or(0)
        })
    });
    let mut vec_out = Vec::with_capacity(2048);
    g.bench_function("encode/prost", |b| {
        b.iter(|| {
            vec_out.clear();
            black_box(&owned)
                .encode(&mut vec_out)
                .map(|()| vec_out.len())
                .unwrap_or(0)
        })
    });
    g.finish();
}

fn ten_entry_message(buf: &mut [u8]) -> usize {
    let mut w = BlazeMessageWriter::new(buf);
    let entries = [
        ("symbol", Value::Text("ACME")),
        ("price", Value::Double(101.25)),
        ("size", Value::Int(300)),
        ("side", Value::Char(u16::from(b'B'))),
        ("venue", Value::Text("XNAS")),
        ("ts", Value::Long(1_732_000_000_000_000)),
        ("flags", Value::Short(3)),
        ("hidden", Value::Bool(false)),
        ("ratio", Value::Float(0.5)),
        ("tag", Value::Bytes(b"\x01\x02\x03\x04")),
    ];
    for (k, v) in entries {
        if w.put(k, v).is_err() {
            return 0;
        }
    }
    w.finish()
}

fn bench_blaze_message(c: &mut Criterion) {
    let mut buf = vec![0u8; 512];
    let n = ten_entry_message(&mut buf);
    let bytes = buf[..n].to_vec();
    let owned = pb::BlazeMessage::decode(&bytes[..]).expect("valid");
    let mut g = c.benchmark_group("blaze_message_10_entries");
    g.throughput(Throughput::Elements(1));
    g.bench_function("decode/blaze-wire", |b| {
        b.iter(|| {
            let Ok(m) = BlazeMessage::parse(black_box(&bytes)) else {
                return 0.0;
            };
            m.double("price").unwrap_or(0.0) + f64::from(m.int("size").unwrap_or(0))
        })
    });
    g.bench_function("decode/prost", |b| {
        b.iter(|| {
            let Ok(m) = pb::BlazeMessage::decode(black_box(&bytes[..])) else {
                return 0.0;
            };
            let get = |key: &str| {
                m.entries
                    .iter()
                    .rev()
                    .find(|e| e.key == key)
                    .and_then(|e| e.value.clone())
            };
            let price = match get("price").and_then(|v| v.kind) {
                Some(pb::value::Kind::DoubleValue(d)) => d,
                _ => 0.0,
            };
            let size = match get("size").and_then(|v| v.kind) {
                Some(pb::value::Kind::IntValue(i)) => f64::from(i),
                _ => 0.0,
            };
            price + size
        })
    });
    let mut out = vec![0u8; 512];
    g.bench_function("encode/blaze-wire", |b| {
        b.iter(|| ten_entry_message(black_box(&mut out)))
    });
    let mut vec_out = Vec::with_capacity(512);
    g.bench_function("encode/prost", |b| {
        b.iter(|| {
            vec_out.clear();
            black_box(&owned)
                .encode(&mut vec_out)
                .map(|()| vec_out.len())
                .unwrap_or(0)
        })
    });
    g.finish();
}

fn benches(c: &mut Criterion) {
    bench_data(c, "data_frame_64B", 64);
    bench_data(c, "data_frame_1KiB", 1024);
    bench_blaze_message(c);
}

criterion_group!(codec, benches);
criterion_main!(codec);
