//! A test application around `Node` for blaze-sim.
#![allow(
    dead_code,
    unreachable_pub,
    reason = "each test binary uses a part of the harness"
)]

use blaze_node::{
    Buffers, Config, Delivery, Duration, Event, GroupBuffers, GroupId, Identity, Instant, MemberId,
    Metadata, Name, NoCustom, Node, Protocol, Qos, RxSlot, SendSlot, Transmit,
};
#[cfg(feature = "total-order")]
use blaze_node::{TotemBuffers, TotemSlot, TotemStorage};
use blaze_proto_nack::{FecBuffers, FecConfig};
use blaze_sim::{Machine, Spawn};
use core::net::SocketAddr;
use std::cell::RefCell;

/// Capacities used by the tests: 2 groups, 8 members, window 32, 32
/// membership slots of 512 bytes, maps of 32 entries.
pub type TestNode = Node<'static, NoCustom, 2, 8, 32, 32, 512, 32, 32, 32, 64>;

pub const GROUPS: usize = 2;
pub const PEERS: usize = 8;
pub const WINDOW: usize = 32;

pub const GROUP: &str = "g";
/// The topic carried best effort.
pub const BE_TOPIC: &str = "ticks";
/// A topic left at the default QoS (reliable).
pub const RELIABLE_TOPIC: &str = "orders";

pub fn group() -> GroupId {
    GroupId::from_name(GROUP)
}

/// The stable member id of node `i`.
pub fn id_of(i: usize) -> MemberId {
    MemberId::from_u128(((i as u128 + 1) << 64) | 0xb1a2e)
}

pub fn node_of(id: MemberId) -> usize {
    (0..64).find(|i| id_of(*i) == id).unwrap_or(usize::MAX)
}

pub fn config() -> Config {
    let mut c = Config::lan();
    c.nack.flow_window = core::num::NonZeroU32::new(WINDOW as u32).unwrap();
    // Blocks small enough for the tests' window (only nodes given FEC
    // storage have the channel).
    c.fec = FecConfig::proactive(8, 2);
    c
}

/// Storage of one reliable + FEC channel.
pub fn fec_buffers(config: &Config) -> (Buffers<'static>, FecBuffers<'static>) {
    let scratch = FecBuffers::scratch_needed(&config.nack, usize::from(config.fec.k));
    let pool = 64 * FecBuffers::parity_slot_len(&config.nack);
    (
        channel_buffers(config),
        FecBuffers {
            scratch: Vec::leak(vec![0u8; scratch]),
            parity: Vec::leak(vec![0u8; pool]),
        },
    )
}

thread_local! {
    /// Channel storage given back by dropped nodes, reused by new ones.
    static POOL: RefCell<Vec<GroupBuffers<'static>>> = const { RefCell::new(Vec::new()) };
}

fn channel_buffers(config: &Config) -> Buffers<'static> {
    let need = GroupBuffers::recv_bytes_needed(config, PEERS, WINDOW);
    Buffers {
        send_index: Vec::leak(vec![SendSlot::EMPTY; 64]),
        send_bytes: Vec::leak(vec![0u8; 64 * 1024]),
        recv_bytes: Vec::leak(vec![0u8; need]),
        recv_slots: Vec::leak(vec![
            RxSlot::EMPTY;
            Buffers::recv_slots_needed(PEERS, WINDOW)
        ]),
        reassembly: Vec::leak(vec![0u8; 16 * 1024]),
    }
}

fn group_buffers(config: &Config) -> GroupBuffers<'static> {
    POOL.with(|p| p.borrow_mut().pop())
        .unwrap_or_else(|| GroupBuffers {
            reliable: channel_buffers(config),
            #[cfg(feature = "best-effort")]
            best_effort: channel_buffers(config),
        })
}

/// What the harness records, owned.
#[derive(Debug, Clone, PartialEq)]
pub enum Ev {
    Msg {
        topic: String,
        sender: usize,
        payload: Vec<u8>,
        qos: Qos,
    },
    Unrecoverable(usize),
    View {
        members: usize,
        merge: bool,
    },
    Joined(usize),
    Left(usize),
    Failed(usize),
    Coordinator(usize),
    Direct {
        from: usize,
        payload: Vec<u8>,
    },
    Request {
        from: usize,
        correlation: u64,
        payload: Vec<u8>,
    },
    Reply {
        from: usize,
        correlation: u64,
        payload: Vec<u8>,
    },
    TimedOut(u64),
    Queue {
        delivery: Delivery,
        redelivered: bool,
        payload: Vec<u8>,
    },
    QueueAcked(u64),
    MapChanged {
        key: Vec<u8>,
        new: Option<Vec<u8>>,
    },
    WriteDone,
    WriteFailed(String),
    LockGranted {
        key: Vec<u8>,
        fence: u64,
    },
    LockFailed(String),
    LockLost(Vec<u8>),
    Other(String),
}

fn own(e: Event<'_>) -> Ev {
    match e {
        Event::Message {
            topic,
            sender,
            payload,
            qos,
            ..
        } => Ev::Msg {
            topic: topic.to_string(),
            sender: node_of(sender),
            payload: payload.to_vec(),
            qos,
        },
        Event::Unrecoverable { sender, .. } => Ev::Unrecoverable(node_of(sender)),
        Event::ViewChanged { members, merge, .. } => Ev::View { members, merge },
        Event::MemberJoined { member, .. } => Ev::Joined(node_of(member)),
        Event::MemberLeft { member, .. } => Ev::Left(node_of(member)),
        Event::MemberFailed { member, .. } => Ev::Failed(node_of(member)),
        Event::CoordinatorChanged { coordinator, .. } => Ev::Coordinator(node_of(coordinator)),
        Event::Direct { from, payload } => Ev::Direct {
            from: node_of(from),
            payload: payload.to_vec(),
        },
        Event::Request {
            from,
            correlation,
            payload,
            ..
        } => Ev::Request {
            from: node_of(from),
            correlation,
            payload: payload.to_vec(),
        },
        Event::Reply {
            from,
            correlation,
            payload,
            ..
        } => Ev::Reply {
            from: node_of(from),
            correlation,
            payload: payload.to_vec(),
        },
        Event::RequestTimedOut { correlation } => Ev::TimedOut(correlation),
        Event::QueueMessage {
            delivery,
            redelivered,
            payload,
            ..
        } => Ev::Queue {
            delivery,
            redelivered,
            payload: payload.to_vec(),
        },
        Event::QueueAcked { correlation, .. } => Ev::QueueAcked(correlation),
        #[cfg(feature = "map")]
        Event::MapChanged { change, .. } => Ev::MapChanged {
            key: change.key.to_vec(),
            new: change.new.map(<[u8]>::to_vec),
        },
        #[cfg(feature = "map")]
        Event::WriteDone { .. } => Ev::WriteDone,
        #[cfg(feature = "map")]
        Event::WriteFailed { error, .. } => Ev::WriteFailed(error.to_string()),
        #[cfg(feature = "map")]
        Event::LockGranted { key, fence, .. } => Ev::LockGranted {
            key: key.to_vec(),
            fence,
        },
        #[cfg(feature = "map")]
        Event::LockFailed { error, .. } => Ev::LockFailed(error.to_string()),
        #[cfg(feature = "map")]
        Event::LockLost { key, .. } => Ev::LockLost(key.to_vec()),
        other => Ev::Other(format!("{other:?}")),
    }
}

/// A node plus a small application: it answers requests (echo, reversed)
/// and acknowledges queue messages at once.
pub struct Sim {
    /// `Option` so that `Drop` can hand the storage back to the pool.
    pub node: Option<Box<TestNode>>,
    /// Recent datagrams sent, for the hostile-input test (only kept when
    /// `sample` is set).
    pub sample: bool,
    pub sent: Vec<Vec<u8>>,
    /// A group joined at the first input (for machines made by a restart).
    pub autojoin: Option<&'static str>,
}

impl Sim {
    pub fn new(s: Spawn) -> Self {
        Sim::with_config(s, config())
    }

    /// A node that runs no map (`Config::run_map` false).
    #[cfg(feature = "map")]
    pub fn without_map(s: Spawn) -> Self {
        let mut config = config();
        config.run_map = false;
        Sim::with_config(s, config)
    }

    pub fn with_config(s: Spawn, config: Config) -> Self {
        let buffers: [GroupBuffers<'static>; GROUPS] =
            core::array::from_fn(|_| group_buffers(&config));
        let me = Identity {
            id: id_of(s.index),
            name: Name::new(&format!("n{}", s.index)).unwrap(),
            metadata: Metadata::default(),
            incarnation: u64::from(s.incarnation),
            seed: s.seed,
        };
        let mut node = Box::new(TestNode::new(Instant::ZERO, config, me, buffers).unwrap());
        // A QoS this build leaves out is refused (and its topic stays
        // reliable).
        let topics = [
            (BE_TOPIC, Qos::BestEffort, cfg!(feature = "best-effort")),
            ("fec", Qos::ReliableFec, cfg!(feature = "fec")),
            ("total", Qos::Agreed, cfg!(feature = "total-order")),
        ];
        for (topic, qos, built) in topics {
            let r = node.set_qos(topic, qos);
            assert_eq!(r.is_ok(), built, "{topic}: {r:?}");
        }
        Sim {
            node: Some(node),
            sample: false,
            sent: Vec::new(),
            autojoin: None,
        }
    }

    /// A node with a reliable + FEC channel in every group slot, that
    /// joins [`GROUP`] as soon as it runs.
    #[cfg(feature = "fec")]
    pub fn joining_with_fec(s: Spawn) -> Self {
        let mut sim = Sim::joining(s);
        let config = config();
        for _ in 0..GROUPS {
            let (b, f) = fec_buffers(&config);
            assert!(
                sim.n_mut().add_fec_buffers(b, f).is_ok(),
                "FEC storage refused"
            );
        }
        sim
    }

    /// A node that joins [`GROUP`] as soon as it runs (also after every
    /// restart).
    /// A joining node whose group slots have total-order (Totem) storage;
    /// the `total` topic is [`Qos::Agreed`], `safe` is [`Qos::Safe`].
    #[cfg(feature = "total-order")]
    pub fn joining_with_totem(s: Spawn) -> Self {
        Sim::joining(s).with_totem()
    }

    /// This node with total-order (Totem) storage in every group slot;
    /// the `safe` topic is [`Qos::Safe`].
    #[cfg(feature = "total-order")]
    pub fn with_totem(self) -> Self {
        let mut sim = self;
        for _ in 0..GROUPS {
            // The node borrows the storage for 'static.
            let buffers = TotemBuffers {
                slots: vec![TotemSlot::EMPTY; TotemStorage::<PEERS, WINDOW>::slots_needed()].leak(),
                bytes: vec![0; TotemStorage::<PEERS, WINDOW>::bytes_needed()].leak(),
            };
            let storage: &'static mut TotemStorage<'static, PEERS, WINDOW> = Box::leak(Box::new(
                TotemStorage::new(buffers).expect("buffers fit the storage"),
            ));
            assert!(
                sim.n_mut().add_total_order(storage).is_ok(),
                "Totem storage refused"
            );
        }
        sim.n_mut().set_qos("safe", Qos::Safe).unwrap();
        sim
    }

    pub fn joining(s: Spawn) -> Self {
        let mut sim = Sim::new(s);
        sim.autojoin = Some(GROUP);
        sim
    }

    fn maybe_join(&mut self, now: Instant) {
        if let Some(g) = self.autojoin.take() {
            let _ = self.n_mut().join(now, g);
        }
    }

    pub fn n(&self) -> &TestNode {
        self.node.as_deref().unwrap()
    }

    pub fn n_mut(&mut self) -> &mut TestNode {
        self.node.as_deref_mut().unwrap()
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        if let Some(node) = self.node.take() {
            let back = node.into_buffers();
            POOL.with(|p| p.borrow_mut().extend(back.into_iter().flatten()));
        }
    }
}

impl Machine for Sim {
    type Event = Ev;

    fn handle_datagram(&mut self, now: Instant, from: SocketAddr, datagram: &[u8]) {
        self.maybe_join(now);
        self.n_mut().handle_datagram(now, from, datagram);
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.maybe_join(now);
        self.n_mut().handle_timeout(now);
    }

    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        let t = self.n_mut().poll_transmit(now, buf)?;
        if self.sample && self.sent.len() < 4096 {
            self.sent.push(buf[..t.len].to_vec());
        }
        Some(t)
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        if self.autojoin.is_some() {
            // Run at once, to join.
            return Some(Instant::ZERO);
        }
        self.n().poll_timeout()
    }

    fn poll_event(&mut self, now: Instant) -> Option<Ev> {
        let node = self.n_mut();
        let e = node.poll_event()?;
        let ev = own(e);
        match &ev {
            Ev::Request {
                from,
                correlation,
                payload,
            } => {
                let mut answer = payload.clone();
                answer.reverse();
                let _ = node.reply(now, id_of(*from), *correlation, 0, &answer);
            }
            Ev::Queue { delivery, .. } => {
                let _ = node.queue_ack(now, *delivery);
            }
            _ => {}
        }
        Some(ev)
    }
}

/// Whether every node in `nodes` has a view of `group()` with exactly
/// `nodes` as members, and (feature `map`) a map that follows its
/// coordinator.
pub fn agreed(world: &blaze_sim::World<Sim>, nodes: &[usize]) -> bool {
    nodes.iter().all(|i| {
        world.machine(*i).is_some_and(|m| {
            let members = m.n().members(group());
            members.len() == nodes.len()
                && nodes
                    .iter()
                    .all(|j| members.iter().any(|v| v.id == id_of(*j)))
                && map_synced(m)
        })
    })
}

/// Whether the map of `group()` follows its coordinator (a node that runs
/// no map: true).
fn map_synced(m: &Sim) -> bool {
    #[cfg(feature = "map")]
    return m
        .n()
        .map(group())
        .map_or(!m.n().config().run_map, |r| r.is_synced());
    #[cfg(not(feature = "map"))]
    {
        let _ = m;
        true
    }
}

/// Runs `f` on a thread with a large stack: nodes are big values, and
/// debug builds move them through several frames while building them.
pub fn with_big_stack(f: impl FnOnce() + Send + 'static) {
    let t = std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(f)
        .unwrap();
    if let Err(e) = t.join() {
        std::panic::resume_unwind(e);
    }
}

/// Each of `nodes` publishes ten reliable messages on [`RELIABLE_TOPIC`],
/// a millisecond apart; after two seconds every one of them has received
/// each other's exactly once and in order. Takes the world's events
/// first.
pub fn exchange_reliable(world: &mut blaze_sim::World<Sim>, nodes: &[usize]) -> Result<(), String> {
    let g = group();
    let t1 = world.now();
    world.take_events();
    for k in 0..10u8 {
        for s in nodes.iter().copied() {
            world.at(t1 + Duration::from_millis(u64::from(k)), move |w| {
                w.command(s, |m, now| {
                    m.n_mut()
                        .publish(now, g, RELIABLE_TOPIC, &[s as u8, k])
                        .unwrap();
                });
            });
        }
    }
    world.run_until(t1 + Duration::from_secs(2));
    for r in nodes {
        let got: Vec<(usize, u8)> = world
            .events()
            .iter()
            .filter(|e| e.node == *r)
            .filter_map(|e| match &e.event {
                Ev::Msg {
                    sender,
                    payload,
                    qos: Qos::Reliable,
                    ..
                } => Some((*sender, payload[1])),
                _ => None,
            })
            .collect();
        let expected: Vec<(usize, u8)> = nodes
            .iter()
            .filter(|s| *s != r)
            .flat_map(|s| (0..10u8).map(move |k| (*s, k)))
            .collect();
        blaze_sim::check_exactly_once(*r, &got, &expected).map_err(|v| v.to_string())?;
        blaze_sim::check_fifo(*r, &got).map_err(|v| v.to_string())?;
    }
    Ok(())
}
