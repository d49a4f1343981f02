//! Two nodes wired to each other in virtual time: what the router does
//! with the map's frames, with and without feature `map`.

use core::mem::MaybeUninit;
use core::net::{Ipv4Addr, SocketAddr};
use core::num::NonZeroU32;
use std::boxed::Box;
use std::string::{String, ToString};
use std::vec;
use std::vec::Vec;

use blaze_membership::{Metadata, Name};
use blaze_proto_nack::{Buffers, RxSlot, SendSlot};
use blaze_wire::{Body, Duration, Frame, GroupId, Instant, MemberId, Message, VERSION};

#[cfg(not(feature = "map"))]
use crate::Stats;
use crate::{Config, Event, GROUP_CHANNELS, GroupBuffers, Identity, NoCustom, Node, Protocol};

/// One group, 4 members, a window of 8, 4 membership slots of 256 bytes,
/// maps of 8 entries (with feature `map`).
type TinyNode = Node<'static, NoCustom, 1, 4, 8, 4, 256, 8, 8, 16, 32>;

const PEERS: usize = 4;
const WINDOW: usize = 8;
const GROUP: &str = "sensors";

fn config() -> Config {
    let mut c = Config::lan();
    c.nack.flow_window = NonZeroU32::new(WINDOW as u32).unwrap_or(NonZeroU32::MIN);
    c
}

fn addr(i: usize) -> SocketAddr {
    SocketAddr::new(Ipv4Addr::new(10, 0, 0, 1 + i as u8).into(), 5000)
}

fn id(i: usize) -> MemberId {
    MemberId::from_u128(0x100 + i as u128)
}

/// A node with leaked storage, built in place on the heap.
fn node(i: usize) -> Box<TinyNode> {
    let config = config();
    let need = GroupBuffers::recv_bytes_needed(&config, PEERS, WINDOW);
    let slots = Buffers::recv_slots_needed(PEERS, WINDOW);
    let buffers =
        GroupBuffers::from_array(core::array::from_fn::<_, GROUP_CHANNELS, _>(|_| Buffers {
            send_index: Vec::leak(vec![SendSlot::EMPTY; WINDOW]),
            send_bytes: Vec::leak(vec![0u8; 8192]),
            recv_bytes: Vec::leak(vec![0u8; need]),
            recv_slots: Vec::leak(vec![RxSlot::EMPTY; slots]),
            reassembly: &mut [],
        }));
    let me = Identity {
        id: id(i),
        name: Name::new("n").unwrap(),
        metadata: Metadata::default(),
        incarnation: 0,
        seed: 7 + i as u64,
    };
    let mut place: Box<MaybeUninit<TinyNode>> = Box::new_uninit();
    Node::init_in(&mut place, Instant::ZERO, config, me, [buffers]).unwrap();
    // SAFETY: `init_in` returned `Ok`: every field is written.
    #[allow(unsafe_code, reason = "the place was initialised by init_in")]
    unsafe {
        place.assume_init()
    }
}

/// Two nodes, each one's datagrams handed to the other, and the messages
/// each delivered (topic, payload).
struct Pair {
    nodes: [Box<TinyNode>; 2],
    now: Instant,
    got: [Vec<(String, Vec<u8>)>; 2],
}

impl Pair {
    fn new() -> Self {
        Pair {
            nodes: [node(0), node(1)],
            now: Instant::ZERO,
            got: [Vec::new(), Vec::new()],
        }
    }

    /// Moves every datagram and event, then time to the next deadline.
    fn step(&mut self) {
        let mut buf = [0u8; 1500];
        for i in 0..2 {
            while let Some(t) = self.nodes[i].poll_transmit(self.now, &mut buf) {
                let datagram = buf[..t.len].to_vec();
                self.nodes[1 - i].handle_datagram(self.now, addr(i), &datagram);
            }
        }
        for i in 0..2 {
            while let Some(e) = self.nodes[i].poll_event() {
                if let Event::Message { topic, payload, .. } = e {
                    self.got[i].push((topic.to_string(), payload.to_vec()));
                }
            }
        }
        let next = self.nodes.iter().filter_map(|n| n.poll_timeout()).min();
        self.now = next
            .unwrap_or(self.now + Duration::from_millis(1))
            .max(self.now);
        for n in &mut self.nodes {
            if n.poll_timeout().is_some_and(|d| d <= self.now) {
                n.handle_timeout(self.now);
            }
        }
    }

    /// Steps until `done` holds, for at most 30 s of virtual time.
    fn until(&mut self, mut done: impl FnMut(&Self) -> bool) -> bool {
        let end = self.now + Duration::from_secs(30);
        while self.now < end {
            if done(self) {
                return true;
            }
            self.step();
        }
        done(self)
    }
}

/// A frame of `sender` in `group` whose body is field `field` (empty):
/// the map's kinds are 19 (map operation), 20 (lock operation) and 25
/// (map control).
fn map_frame(sender: MemberId, group: GroupId, field: u8) -> Vec<u8> {
    let head = Frame {
        version: VERSION,
        group,
        sender,
        ..Frame::default()
    };
    let mut buf = vec![0u8; head.encoded_len()];
    let n = head.emit(&mut buf).unwrap();
    buf.truncate(n);
    // Tag (`field`, length-delimited) as a two-byte varint, then length 0.
    buf.extend_from_slice(&[(field << 3 | 2) | 0x80, (field >> 4) & 0x7f, 0]);
    buf
}

#[test]
fn map_frames_are_counted_and_dropped_without_the_map_and_topics_still_flow() {
    // Nodes are large: a thread with room for them in a debug build.
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(|| {
            let mut p = Pair::new();
            let g = p.nodes[0].join(Instant::ZERO, GROUP).unwrap();
            p.nodes[1].join(Instant::ZERO, GROUP).unwrap();
            assert!(
                p.until(|p| p.nodes.iter().all(|n| n.members(g).len() == 2)),
                "no view of two"
            );
            // The map's frames from the other member, in the group.
            #[cfg(not(feature = "map"))]
            let before: Stats = *p.nodes[0].stats();
            let now = p.now;
            for field in [19, 20, 25] {
                let frame = map_frame(id(1), g, field);
                // Field 19 is `Body::MapOp` when the codec has the map's
                // kinds (`blaze-wire/map`), else a kind left out.
                let decoded = Frame::parse(&frame).unwrap().body != Body::Empty;
                let stats = *p.nodes[0].stats();
                p.nodes[0].handle_datagram(now, addr(1), &frame);
                let after = p.nodes[0].stats();
                assert_eq!(after.datagrams, stats.datagrams + 1);
                assert_eq!(after.malformed, stats.malformed, "field {field}");
                assert_eq!(after.unknown_group, stats.unknown_group);
                // With the map, the map takes it.
                #[cfg(feature = "map")]
                {
                    let _ = decoded;
                    assert_eq!(after.no_body, stats.no_body, "field {field}");
                }
                // Without: counted where the codec put it.
                #[cfg(not(feature = "map"))]
                {
                    let no_map = u64::from(decoded);
                    assert_eq!(after.no_map, stats.no_map + no_map, "field {field}");
                    assert_eq!(after.no_body, stats.no_body + 1 - no_map, "field {field}");
                }
            }
            #[cfg(not(feature = "map"))]
            {
                let after = *p.nodes[0].stats();
                assert_eq!(
                    after.no_map + after.no_body,
                    before.no_map + before.no_body + 3
                );
            }
            // A reliable topic still flows both ways.
            p.nodes[1]
                .publish(p.now, g, "temperature", b"21.5")
                .unwrap();
            p.nodes[0].publish(p.now, g, "setpoint", b"20").unwrap();
            assert!(
                p.until(|p| !p.got[0].is_empty() && !p.got[1].is_empty()),
                "a reliable message was not delivered"
            );
            assert_eq!(p.got[0], [("temperature".to_string(), b"21.5".to_vec())]);
            assert_eq!(p.got[1], [("setpoint".to_string(), b"20".to_vec())]);
        })
        .unwrap()
        .join()
        .unwrap();
}

/// Without the map, a message on the map's ring topic (`blaze.map`, sent
/// by the group's members that order their map by the ring) is counted
/// and dropped, and the ring's other messages are delivered around it.
#[test]
#[cfg(all(not(feature = "map"), feature = "total-order"))]
fn the_maps_operations_on_a_ring_are_counted_and_dropped_without_the_map() {
    use crate::group::CH_TOTEM;
    use crate::{Channel, Qos, TotemBuffers, TotemSlot, TotemStorage};

    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(|| {
            let mut n = node(0);
            let ring = TotemStorage::<PEERS, WINDOW>::new(TotemBuffers {
                slots: Vec::leak(vec![
                    TotemSlot::EMPTY;
                    TotemStorage::<PEERS, WINDOW>::slots_needed()
                ]),
                bytes: Vec::leak(vec![0u8; TotemStorage::<PEERS, WINDOW>::bytes_needed()]),
            })
            .unwrap();
            n.add_total_order(Box::leak(Box::new(ring))).unwrap();
            n.set_qos("ledger", Qos::Agreed).unwrap();
            let g = n.join(Instant::ZERO, GROUP).unwrap();
            let mut now = Instant::ZERO;
            let mut got: Vec<Vec<u8>> = Vec::new();
            // Alone: the ring of one delivers this member's own messages.
            let run = |n: &mut TinyNode, now: &mut Instant, got: &mut Vec<Vec<u8>>, k| {
                let end = *now + Duration::from_secs(30);
                let mut buf = [0u8; 1500];
                while got.len() < k && *now < end {
                    while n.poll_transmit(*now, &mut buf).is_some() {}
                    while let Some(e) = n.poll_event() {
                        if let Event::Message { topic, payload, .. } = e {
                            assert_eq!(topic, "ledger");
                            got.push(payload.to_vec());
                        }
                    }
                    *now = n.poll_timeout().unwrap_or(*now).max(*now);
                    n.handle_timeout(*now);
                }
            };
            n.publish(now, g, "ledger", b"credit 5").unwrap();
            run(&mut n, &mut now, &mut got, 1);
            assert_eq!(got, [b"credit 5".to_vec()]);
            // A map operation on the ring, as a member with the map sends
            // it, then another message of the application.
            let Some(Some(Channel::Totem(t))) = n.slots[0].channels.get_mut(CH_TOTEM) else {
                panic!("no ring")
            };
            t.ring_mut()
                .unwrap()
                .send_topic(now, blaze_proto_totem::Qos::Agreed, "blaze.map", b"op")
                .unwrap();
            n.handle_timeout(now);
            assert_eq!(n.stats().no_map, 0);
            n.publish(now, g, "ledger", b"credit 6").unwrap();
            run(&mut n, &mut now, &mut got, 2);
            assert_eq!(got, [b"credit 5".to_vec(), b"credit 6".to_vec()]);
            assert_eq!(n.stats().no_map, 1);
        })
        .unwrap()
        .join()
        .unwrap();
}
