//! Cross-language check with Python's stock `protobuf` package.
//!
//! 1. Rust writes a corpus: hand-built frames whose values Python knows
//!    too (`tests/py/interop.py` builds the same frames and compares), and
//!    random frames that Python must parse and re-serialize to identical
//!    bytes.
//! 2. Python writes frames of its own; Rust decodes them with blaze-wire
//!    and checks every value.
//!
//! The frames Rust writes are also the golden file
//! `proto/testdata/frames.hex`: a change of encoding fails here;
//! `UPDATE_GOLDEN=1` rewrites the file after a deliberate schema change.
//!
//! Python is found through `BLAZE_PYTHON`, then `.venv/bin/python` at the
//! workspace root, then `python3`.

mod strategies;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use blaze_wire::{
    Ack, BlazeMessage, BlazeMessageWriter, Body, DataBatch, DataMessage, Frame, GroupId, Heartbeat,
    Join, MapOp, MapOpKind, MemberId, MemberRingState, Message, Nack, Qos, QueueOp,
    RecoveredMessage, Repeated, Request, RingId, SeqRange, StreamMark, VERSION, Value, View,
    ViewMember,
};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use prost::Message as _;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("BLAZE_PYTHON") {
        return p.into();
    }
    let venv = workspace_root().join(".venv/bin/python");
    if venv.exists() {
        venv
    } else {
        "python3".into()
    }
}

const SENDER: MemberId = MemberId::from_u128(0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10);

fn emit(frame: &Frame<'_>) -> Vec<u8> {
    let mut buf = vec![0u8; frame.encoded_len()];
    let n = frame.emit(&mut buf).expect("buffer sized by encoded_len");
    buf.truncate(n);
    buf
}

/// The hand-built frames; `tests/py/interop.py` builds the same ones.
fn known_frames() -> Vec<(&'static str, Vec<u8>)> {
    let header = |body| Frame {
        version: VERSION,
        group: GroupId::from_name("chat"),
        sender: SENDER,
        auth_tag: &[],
        body,
    };
    let mut out = Vec::new();

    let msgs = [
        DataMessage {
            payload: b"hello",
            ..DataMessage::default()
        },
        DataMessage {
            payload: b"frag",
            fragment_index: 1,
            fragment_count: 3,
            topic: "big",
            ..DataMessage::default()
        },
    ];
    let data = DataBatch {
        stream: 2,
        topic: "prices",
        first_seq: 7,
        messages: Repeated::from_slice(&msgs),
        qos: Qos::RELIABLE,
        repair: true,
        window_start: 3,
        ..DataBatch::default()
    };
    out.push(("data", emit(&header(Body::Data(data)))));

    let ranges = [
        SeqRange { start: 10, end: 12 },
        SeqRange { start: 20, end: 20 },
    ];
    let nack = Nack {
        target: Some(SENDER),
        stream: 2,
        ranges: Repeated::from_slice(&ranges),
        parity_wanted: 0,
        loss_ppm: 50_000,
    };
    out.push(("nack", emit(&header(Body::Nack(nack)))));

    let marks = [StreamMark {
        stream: 2,
        high_seq: u64::MAX,
        window_start: 1,
        empty: false,
    }];
    let hb = Heartbeat {
        streams: Repeated::from_slice(&marks),
        view_id: 9,
        timestamp_us: 123_456,
        ..Heartbeat::default()
    };
    out.push(("heartbeat", emit(&header(Body::Heartbeat(hb)))));

    let mut inner = [0u8; 64];
    let mut w = BlazeMessageWriter::new(&mut inner);
    w.put("depth", Value::Int(2)).expect("fits");
    let n = w.finish();
    let nested = BlazeMessage::parse(&inner[..n]).expect("just written");
    let mut meta = [0u8; 256];
    let mut w = BlazeMessageWriter::new(&mut meta);
    for (k, v) in [
        ("bool", Value::Bool(true)),
        ("byte", Value::Byte(-7)),
        ("char", Value::Char(0x263a)),
        ("short", Value::Short(-300)),
        ("int", Value::Int(-70_000)),
        ("long", Value::Long(1 << 40)),
        ("float", Value::Float(1.5)),
        ("double", Value::Double(-2.25)),
        ("bytes", Value::Bytes(&[0, 255])),
        ("text", Value::Text("grüße")),
        ("map", Value::Map(nested)),
    ] {
        w.put(k, v).expect("fits");
    }
    let n = w.finish();
    let metadata = BlazeMessage::parse(&meta[..n]).expect("just written");
    let join = Join {
        group_name: "chat",
        member_name: "alice",
        weight: 5,
        metadata: Some(metadata),
        incarnation: 1,
        address: &[127, 0, 0, 1],
        port: 7400,
        started_us: 42,
        ..Join::default()
    };
    out.push(("join", emit(&header(Body::Join(join)))));

    let op = MapOp {
        map: "config",
        kind: MapOpKind::COMPARE_AND_SET,
        key: b"k",
        value: b"v",
        version: 4,
        request_id: 77,
        owner: Some(SENDER),
        fence: 3,
        ..MapOp::default()
    };
    out.push(("map_op", emit(&header(Body::MapOp(op)))));

    // Totem: a batch on a ring with its topics in the messages, and a
    // recovery batch re-sending an old ring's messages.
    let ring = RingId {
        rep: Some(SENDER),
        seq: 12,
    };
    let old_ring = RingId {
        rep: Some(MemberId::from_u128(3)),
        seq: 8,
    };
    let msgs = [
        DataMessage {
            payload: b"bid",
            topic: "orders",
            ..DataMessage::default()
        },
        DataMessage {
            payload: b"ask",
            topic: "quotes",
            ..DataMessage::default()
        },
    ];
    let totem = DataBatch {
        first_seq: 40,
        messages: Repeated::from_slice(&msgs),
        qos: Qos::SAFE,
        ring: Some(ring),
        ..DataBatch::default()
    };
    out.push(("totem_data", emit(&header(Body::Data(totem)))));
    let recovered = [DataMessage {
        payload: b"old",
        topic: "orders",
        recovered: Some(RecoveredMessage {
            sender: Some(MemberId::from_u128(3)),
            seq: 77,
            safe: true,
        }),
        ..DataMessage::default()
    }];
    let recovery = DataBatch {
        first_seq: 1,
        messages: Repeated::from_slice(&recovered),
        qos: Qos::AGREED,
        ring: Some(ring),
        recovered_from: Some(old_ring),
        ..DataBatch::default()
    };
    out.push(("totem_recovery", emit(&header(Body::Data(recovery)))));

    // A Totem commit token on its second hop.
    let members = [
        ViewMember {
            id: Some(SENDER),
            ..ViewMember::default()
        },
        ViewMember {
            id: Some(MemberId::from_u128(3)),
            ..ViewMember::default()
        },
    ];
    let states = [MemberRingState {
        id: Some(SENDER),
        old_ring: Some(old_ring),
        aru: 70,
        high_delivered: 69,
        received_flag: false,
    }];
    let commit = View {
        members: Repeated::from_slice(&members),
        ring: Some(ring),
        ring_states: Repeated::from_slice(&states),
        commit_hop: 2,
        ..View::default()
    };
    out.push(("commit", emit(&header(Body::View(commit)))));

    // A membership view naming a member that left, with member metadata.
    let mut md = [0u8; 32];
    let mut w = BlazeMessageWriter::new(&mut md);
    w.put("role", Value::Text("db")).expect("fits");
    let n = w.finish();
    let role = BlazeMessage::parse(&md[..n]).expect("just written");
    let members = [ViewMember {
        id: Some(SENDER),
        name: "alice",
        rank: 1,
        metadata: Some(role),
        ..ViewMember::default()
    }];
    let left = [MemberId::from_u128(3)];
    let view = View {
        view_id: 5,
        members: Repeated::from_slice(&members),
        left: Repeated::from_slice(&left),
        ..View::default()
    };
    out.push(("view_left", emit(&header(Body::View(view)))));

    // Queue messaging on an epoch of the point-to-point channel.
    let subscribe = Request {
        target: Some(MemberId::from_u128(3)),
        queue: "jobs",
        p2p_seq: 1,
        one_way: true,
        queue_op: QueueOp::SUBSCRIBE,
        p2p_epoch: 9,
        ..Request::default()
    };
    out.push(("queue_subscribe", emit(&header(Body::Request(subscribe)))));
    let ack = Ack {
        target: Some(MemberId::from_u128(3)),
        p2p_seq: 1,
        p2p_epoch: 9,
        ..Ack::default()
    };
    out.push(("p2p_ack", emit(&header(Body::Ack(ack)))));
    out
}

/// Random frames from the shared strategies, generated on a thread with a
/// large stack (the strategies nest deeply for a debug build).
fn random_frames(count: usize) -> Vec<Vec<u8>> {
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(move || random_frames_on_this_thread(count))
        .expect("spawn")
        .join()
        .expect("random frames")
}

fn random_frames_on_this_thread(count: usize) -> Vec<Vec<u8>> {
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]);
    let mut runner = TestRunner::new_with_rng(Config::default(), rng);
    let strategy = strategies::frame();
    (0..count)
        .map(|_| {
            let prost_frame = strategy.new_tree(&mut runner).expect("strategy").current();
            // Encode with blaze-wire from its view of prost's bytes.
            let bytes = prost_frame.encode_to_vec();
            emit(&Frame::parse(&bytes).expect("valid frame"))
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn check_golden(known: &[(&str, Vec<u8>)]) {
    let path = workspace_root().join("proto/testdata/frames.hex");
    let text: String = known
        .iter()
        .map(|(name, b)| format!("{name} {}\n", hex(b)))
        .collect();
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, &text).expect("write golden");
    }
    let golden = std::fs::read_to_string(&path).expect("proto/testdata/frames.hex exists");
    assert_eq!(
        golden, text,
        "encoding changed; if deliberate, rerun with UPDATE_GOLDEN=1"
    );
}

fn check_python_frames(path: &Path) -> usize {
    let text = std::fs::read_to_string(path).expect("python wrote its frames");
    let mut checked = 0;
    for line in text.lines() {
        let (name, h) = line.split_once(' ').expect("name hex");
        let raw = unhex(h);
        let frame = Frame::parse(&raw).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(frame.version, VERSION);
        assert_eq!(frame.group, GroupId::from_name("python"), "{name}");
        assert_eq!(frame.sender, MemberId::from_u128(0xaa), "{name}");
        match (name, frame.body) {
            ("view", Body::View(v)) => {
                assert_eq!(v.view_id, 12);
                assert!(v.merge);
                let names: Vec<&str> = v.members.iter().map(|m| m.name).collect();
                assert_eq!(names, ["a", "b", "c"]);
                let ids: Vec<_> = v.members.iter().map(|m| m.id).collect();
                assert_eq!(
                    ids,
                    [
                        Some(MemberId::from_u128(1)),
                        Some(MemberId::from_u128(2)),
                        Some(MemberId::from_u128(3))
                    ]
                );
                assert_eq!(v.merged_from.iter().collect::<Vec<_>>(), [4, 9]);
            }
            ("queue_deliver", Body::Request(r)) => {
                assert_eq!(r.correlation, 5);
                assert_eq!(r.queue_op, QueueOp::DELIVER);
                assert_eq!((r.p2p_seq, r.p2p_epoch), (3, 1 << 40));
                assert_eq!(r.payload, b"job");
            }
            ("totem_recovery", Body::Data(d)) => {
                assert_eq!(d.qos, Qos::AGREED);
                assert_eq!(
                    d.ring,
                    Some(RingId {
                        rep: Some(MemberId::from_u128(0xaa)),
                        seq: 4
                    })
                );
                assert_eq!(d.recovered_from.map(|r| r.seq), Some(3));
                let m = d.messages.iter().next().expect("one message");
                assert_eq!((m.payload, m.topic), (&b"x"[..], "t"));
                let r = m.recovered.expect("recovered");
                assert_eq!(
                    (r.sender, r.seq, r.safe),
                    (Some(MemberId::from_u128(2)), 6, true)
                );
            }
            ("commit_left", Body::View(v)) => {
                assert_eq!(v.commit_hop, 3);
                assert_eq!(v.left.iter().collect::<Vec<_>>(), [MemberId::from_u128(7)]);
                let m = v.members.iter().next().expect("one member");
                assert_eq!(m.metadata.map(|md| md.int("n")), Some(Ok(1)));
            }
            ("request", Body::Request(r)) => {
                assert_eq!(r.correlation, 99);
                assert_eq!(r.payload, b"ping");
                assert_eq!(r.queue, "jobs");
                assert!(r.redelivered);
                assert_eq!(r.target, None);
            }
            ("parity", Body::Parity(p)) => {
                assert_eq!((p.k, p.m, p.index), (16, 4, 17));
                assert_eq!(p.lengths.iter().collect::<Vec<_>>(), [100, 1024, 3]);
                assert_eq!(p.block_crc, 0xdead_beef);
                assert_eq!(p.symbol, &[1, 2, 3]);
            }
            ("message", Body::Join(j)) => {
                let m = j.metadata.expect("metadata");
                assert_eq!(m.text("name"), Ok("py"));
                assert_eq!(m.long("n"), Ok(-5_000_000_000));
                assert_eq!(m.double("pi"), Ok(3.5));
                assert_eq!(m.bool("ok"), Ok(true));
                assert_eq!(m.short("s"), Ok(-2));
                assert_eq!(
                    m.map("inner").and_then(|i| i.bytes("raw")),
                    Ok(&b"\x00\x01"[..])
                );
            }
            (other, body) => panic!("unexpected python frame {other}: {body:?}"),
        }
        checked += 1;
    }
    checked
}

#[test]
fn python_protobuf_reads_and_writes_blaze_frames() {
    let known = known_frames();
    check_golden(&known);

    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("python_oracle");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let fds = dir.join("blaze.fds");
    std::fs::write(&fds, blaze_wire_compat::FILE_DESCRIPTOR_SET).expect("write fds");
    let corpus = dir.join("corpus.hex");
    let mut text: String = known
        .iter()
        .map(|(name, b)| format!("{name} {}\n", hex(b)))
        .collect();
    for (i, f) in random_frames(300).iter().enumerate() {
        let _ = writeln!(text, "random{i} {}", hex(f));
    }
    std::fs::write(&corpus, text).expect("write corpus");
    let py_out = dir.join("python_frames.hex");
    let _ = std::fs::remove_file(&py_out);

    let script = workspace_root().join("tests/py/interop.py");
    let python = python();
    let out = Command::new(&python)
        .arg(&script)
        .arg(&fds)
        .arg(&corpus)
        .arg(&py_out)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {}: {e}; run the README's test command, which installs Python protobuf",
                python.display()
            )
        });
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "python interop failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("311 passed, 0 failed"),
        "unexpected python output:\n{stdout}"
    );
    assert_eq!(check_python_frames(&py_out), 7);
}
