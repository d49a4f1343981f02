//! A user's protocol as a group's custom channel: it gets the topics of
//! QoS `Custom`, the frames of its stream, the views of its group, and its
//! events come out of the node.

use core::net::SocketAddr;
use std::collections::VecDeque;

use blaze_node::{
    Buffers, Config, CustomError, CustomProtocol, Destination, Duration, Event, GroupBuffers,
    GroupId, Identity, Instant, MemberId, Metadata, Name, Node, Protocol, PublishError, Qos,
    RxSlot, SendSlot, Transmit,
};
use blaze_wire::{Body, DataBatch, DataMessage, Frame, Message, Qos as WireQos, Repeated, VERSION};

/// The custom protocol's stream id on the wire.
const STREAM: u32 = 9;

/// A one-shot multicast: each published message goes out once on stream
/// `STREAM`; received ones and views become events.
#[derive(Debug)]
struct Shout {
    me: MemberId,
    group: GroupId,
    outbox: VecDeque<(String, Vec<u8>)>,
    inbox: VecDeque<CustomEv>,
    last: Option<CustomEv>,
}

#[derive(Debug, Clone, PartialEq)]
enum CustomEv {
    Heard {
        from: MemberId,
        topic: String,
        payload: Vec<u8>,
    },
    View(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Full;

impl Protocol for Shout {
    type Event<'a> = &'a CustomEv;

    fn handle_datagram(&mut self, _now: Instant, _from: SocketAddr, datagram: &[u8]) {
        let Ok(f) = Frame::parse(datagram) else {
            return;
        };
        if let Body::Data(d) = f.body
            && d.stream == STREAM
        {
            for m in d.messages.iter() {
                self.inbox.push_back(CustomEv::Heard {
                    from: f.sender,
                    topic: m.topic.to_string(),
                    payload: m.payload.to_vec(),
                });
            }
        }
    }

    fn handle_timeout(&mut self, _now: Instant) {}

    fn poll_transmit(&mut self, _now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        let (topic, payload) = self.outbox.pop_front()?;
        let msg = [DataMessage {
            payload: &payload,
            topic: &topic,
            ..DataMessage::default()
        }];
        let frame = Frame {
            version: VERSION,
            group: self.group,
            sender: self.me,
            auth_tag: &[],
            body: Body::Data(DataBatch {
                stream: STREAM,
                qos: WireQos(16),
                messages: Repeated::from_slice(&msg),
                ..DataBatch::default()
            }),
        };
        let len = frame.emit(buf).ok()?;
        Some(Transmit {
            to: Destination::Group,
            len,
        })
    }

    fn poll_event(&mut self) -> Option<&CustomEv> {
        self.last = Some(self.inbox.pop_front()?);
        self.last.as_ref()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
}

impl CustomProtocol for Shout {
    type PublishError = Full;

    fn publish(&mut self, _now: Instant, topic: &str, payload: &[u8]) -> Result<(), Full> {
        if self.outbox.len() >= 8 {
            return Err(Full);
        }
        self.outbox.push_back((topic.to_string(), payload.to_vec()));
        Ok(())
    }

    fn handle_view(&mut self, _now: Instant, _group: GroupId, members: &[MemberId]) {
        self.inbox.push_back(CustomEv::View(members.len()));
    }
}

type CustomNode = Node<'static, Shout, 1, 4, 8, 8, 256, 8, 8, 16, 32>;

fn node(i: u8) -> Box<CustomNode> {
    let mut config = Config::lan();
    config.nack.flow_window = core::num::NonZeroU32::new(8).unwrap();
    let need = GroupBuffers::recv_bytes_needed(&config, 4, 8);
    let chan = || Buffers {
        send_index: Vec::leak(vec![SendSlot::EMPTY; 16]),
        send_bytes: Vec::leak(vec![0u8; 16 * 1024]),
        recv_bytes: Vec::leak(vec![0u8; need]),
        recv_slots: Vec::leak(vec![RxSlot::EMPTY; 4 * 8]),
        reassembly: &mut [],
    };
    let me = Identity {
        id: MemberId::from_u128(u128::from(i) + 1),
        name: Name::new("n").unwrap(),
        metadata: Metadata::default(),
        incarnation: 0,
        seed: u64::from(i),
    };
    let buffers = [GroupBuffers {
        reliable: chan(),
        #[cfg(feature = "best-effort")]
        best_effort: chan(),
    }];
    Box::new(CustomNode::new(Instant::ZERO, config, me, buffers).unwrap())
}

fn addr(i: usize) -> SocketAddr {
    SocketAddr::from(([10, 0, 0, i as u8 + 1], 7400))
}

/// Drives the nodes over a perfect network until `until`; returns the
/// custom events each node reported.
fn run(
    nodes: &mut [Box<CustomNode>],
    now: &mut Instant,
    until: Instant,
    got: &mut [Vec<CustomEv>],
) {
    let mut buf = [0u8; 1500];
    loop {
        let mut moved = true;
        while moved {
            moved = false;
            for i in 0..nodes.len() {
                while let Some(t) = nodes[i].poll_transmit(*now, &mut buf) {
                    moved = true;
                    let d = buf[..t.len].to_vec();
                    for (j, n) in nodes.iter_mut().enumerate() {
                        let to_j = match t.to {
                            Destination::Group => j != i,
                            Destination::Peer(a) => a == addr(j),
                        };
                        if to_j {
                            n.handle_datagram(*now, addr(i), &d);
                        }
                    }
                }
                while let Some(e) = nodes[i].poll_event() {
                    if let Event::Custom { event, .. } = e {
                        got[i].push(event.clone());
                    }
                }
            }
        }
        let next = nodes.iter().filter_map(|n| n.poll_timeout()).min();
        match next {
            Some(t) if t <= until => {
                *now = (*now).max(t);
                for n in nodes.iter_mut() {
                    n.handle_timeout(*now);
                }
            }
            _ => break,
        }
    }
    *now = until;
}

#[test]
fn custom_protocol_gets_routing_views_and_topics() {
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(custom_protocol)
        .unwrap()
        .join()
        .unwrap();
}

fn custom_protocol() {
    let mut nodes = vec![node(0), node(1), node(2)];
    let mut now = Instant::ZERO;
    let mut got = vec![Vec::new(); 3];
    let g = GroupId::from_name("lab");
    for n in nodes.iter_mut() {
        n.join(now, "lab").unwrap();
        n.set_qos("shout", Qos::Custom).unwrap();
    }
    // Without a custom channel, custom topics are unavailable.
    assert_eq!(
        nodes[0].publish(now, g, "shout", b"x"),
        Err(PublishError::QosUnavailable(Qos::Custom))
    );
    assert!(matches!(
        nodes[0].set_custom(
            now,
            GroupId::from_name("elsewhere"),
            Shout {
                me: MemberId::NIL,
                group: g,
                outbox: VecDeque::new(),
                inbox: VecDeque::new(),
                last: None
            }
        ),
        Err(CustomError::NotJoined(_))
    ));
    for (i, n) in nodes.iter_mut().enumerate() {
        let me = n.id();
        let shout = Shout {
            me,
            group: g,
            outbox: VecDeque::new(),
            inbox: VecDeque::new(),
            last: None,
        };
        assert!(n.set_custom(now, g, shout).unwrap().is_none(), "node {i}");
    }
    run(&mut nodes, &mut now, Instant::from_millis(3_000), &mut got);
    for n in &nodes {
        assert_eq!(n.members(g).len(), 3);
    }
    // Every custom channel was told the views; the last one has 3 members.
    for (i, evs) in got.iter().enumerate() {
        let last_view = evs.iter().rev().find_map(|e| match e {
            CustomEv::View(n) => Some(*n),
            _ => None,
        });
        assert_eq!(last_view, Some(3), "node {i}: {evs:?}");
    }
    nodes[1].publish(now, g, "shout", b"hello").unwrap();
    // A reliable topic still goes to the built-in channel alongside.
    nodes[1].publish(now, g, "plain", b"reliable").unwrap();
    let until = now + Duration::from_millis(100);
    run(&mut nodes, &mut now, until, &mut got);
    for i in [0, 2] {
        assert!(
            got[i].contains(&CustomEv::Heard {
                from: nodes[1].id(),
                topic: "shout".into(),
                payload: b"hello".to_vec()
            }),
            "node {i}: {:?}",
            got[i]
        );
        assert_eq!(nodes[i].stats().no_channel, 0);
    }
    // The custom protocol's refusal comes back typed.
    for _ in 0..8 {
        nodes[0]
            .custom_mut(g)
            .unwrap()
            .outbox
            .push_back((String::new(), Vec::new()));
    }
    assert_eq!(
        nodes[0].publish(now, g, "shout", b"x"),
        Err(PublishError::Custom(Full))
    );
}
