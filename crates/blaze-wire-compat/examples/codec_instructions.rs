//! Decodes one data frame many times with blaze-wire or prost, for
//! instruction counting under `valgrind --tool=callgrind`, which is
//! repeatable on a busy machine where wall-clock benchmarks drift:
//!
//! ```sh
//! cargo build --release -p blaze-wire-compat --example codec_instructions
//! valgrind --tool=callgrind target/release/examples/codec_instructions blaze 64 100000
//! valgrind --tool=callgrind target/release/examples/codec_instructions prost 64 100000
//! ```
//!
//! The difference of two runs' totals divided by the difference of their
//! iteration counts is the cost of one decode.

use std::hint::black_box;
use std::process::ExitCode;

use blaze_wire::{Body, DataBatch, DataMessage, Frame, GroupId, MemberId, Message, Qos, Repeated};
use blaze_wire_compat::pb;
use prost::Message as _;

fn frame(payload: &[u8]) -> Vec<u8> {
    let msgs = [DataMessage {
        payload,
        ..DataMessage::default()
    }];
    let frame = Frame {
        version: blaze_wire::VERSION,
        group: GroupId::from_name("bench"),
        sender: MemberId::from_u128(0x1234_5678_9abc_def0_1234_5678_9abc_def0),
        auth_tag: &[],
        body: Body::Data(DataBatch {
            stream: 1,
            topic: "ticks",
            first_seq: 1_000_000,
            messages: Repeated::from_slice(&msgs),
            qos: Qos::RELIABLE,
            ..DataBatch::default()
        }),
    };
    let mut buf = vec![0u8; frame.encoded_len()];
    let n = frame.emit(&mut buf).unwrap_or(0);
    buf.truncate(n);
    buf
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (Some(codec), Some(size), Some(iters)) = (
        args.get(1),
        args.get(2).and_then(|s| s.parse::<usize>().ok()),
        args.get(3).and_then(|s| s.parse::<u64>().ok()),
    ) else {
        eprintln!("usage: codec_instructions blaze|prost PAYLOAD_SIZE ITERATIONS");
        return ExitCode::from(2);
    };
    let bytes = frame(&vec![0xa5; size]);
    let mut total = 0usize;
    for _ in 0..iters {
        total += match codec.as_str() {
            "blaze" => match Frame::parse(black_box(&bytes)) {
                Ok(Frame {
                    body: Body::Data(b),
                    ..
                }) => b.messages.iter().map(|m| m.payload.len()).sum(),
                _ => 0,
            },
            _ => match pb::Frame::decode(black_box(&bytes[..])) {
                Ok(pb::Frame {
                    body: Some(pb::frame::Body::Data(b)),
                    ..
                }) => b.messages.iter().map(|m| m.payload.len()).sum(),
                _ => 0,
            },
        };
    }
    println!("{total}");
    ExitCode::SUCCESS
}
