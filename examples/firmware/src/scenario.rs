//! The firmware's scenario, free of board code: three Blaze members, each
//! a full stack (embassy-net + blaze-embassy + a 4-member `Node`), joined
//! by an in-memory Ethernet hub with seeded loss.
//!
//! The firmware (`src/bin/selftest.rs`) runs it on a Cortex-M4 under
//! QEMU; `crates/blaze-embassy/tests/hub.rs` includes this file and runs
//! it on embassy's std platform, so both run the same code.
//!
//! The checks, each reported as `test <name> ... ok|FAILED`:
//!
//! 1. `view_of_three`: every member installs a view of three;
//! 2. `reliable_topic_under_loss`: with 10 % of frames dropped, every
//!    member publishes `MESSAGES` on a reliable topic and receives the
//!    others' exactly once, in each sender's order;
//! 3. `map_writes_seen_by_all`: two members write two keys of the
//!    replicated map; every member reads both values (feature `map`);
//! 4. `lock_taken`: one member takes a lock; every member sees it as the
//!    holder (feature `map`);
//! 5. `crash_detected`: a member is cut off the hub; the others declare it
//!    failed and install a view of two;
//! 6. `reliable_after_crash`: the survivors go on publishing reliably.

use core::cell::RefCell;
use core::fmt::Arguments;
use core::mem::MaybeUninit;
use core::net::Ipv4Addr;
use core::num::{NonZeroU16, NonZeroU32};

use blaze_embassy::{Blaze, Hub, Port, Resources};
use blaze_node::{
    Buffers, Channel, Config, Event, GROUP_CHANNELS, GroupBuffers, GroupId, Identity, MemberId,
    Metadata, Name, NoCustom, Node, RxSlot, SendSlot,
};
#[cfg(feature = "map")]
use blaze_node::{Duration, WriteOptions};
use embassy_executor::Spawner;
use embassy_net::{Ipv4Cidr, StackResources, StaticConfigV4};
use embassy_time::{Instant, Timer, with_timeout};
use heapless::Vec;
use static_cell::ConstStaticCell;

/// Members in the image.
pub const MEMBERS: usize = 3;
/// Members a node can track (the 4-member configuration).
pub const PEERS: usize = 4;
/// Remote senders each channel receives from: the other members.
pub const SENDERS: usize = PEERS - 1;
/// Messages in each reliable window.
pub const WINDOW: usize = 8;
/// Largest datagram the node produces.
pub const MTU: u16 = 320;
/// Payload bytes of one fragment (the MTU less the frame overhead).
pub const FRAGMENT: usize = MTU as usize - 128;
/// Bytes of the receive ring per remote sender: a window of full
/// fragments.
const RECV_WINDOW: usize = WINDOW * FRAGMENT;
const RECV_BYTES: usize = SENDERS * RECV_WINDOW;
const SEND_BYTES: usize = 2048;
/// Frames each hub port queues.
pub const HUB_QUEUE: usize = 8;

/// Membership events and control frames (probes, suspicions, acks) each
/// member queues: its event task drains events as they come, and three
/// peers need a few control frames at a time (the selftest drops none).
pub const MEMBERSHIP_QUEUE: usize = 8;
/// Queue consumers a membership coordinator tracks: none, the firmware is
/// built without queues (`blaze-node` without its `messaging` feature).
pub const CONSUMERS: usize = 0;
/// Membership storage slots, and their bytes, for point-to-point messages,
/// requests and queue messages: none, the firmware is built without them.
pub const MESSAGE_SLOTS: usize = 0;
/// Bytes of a membership storage slot (see [`MESSAGE_SLOTS`]).
pub const MESSAGE_BYTES: usize = 0;
/// Map requests of this member in flight (the checks have one at a time).
/// The map's capacities are not used without feature `map`.
pub const MAP_PENDING: usize = 4;
/// Map events waiting for the event task (at least 4).
pub const MAP_EVENTS: usize = 8;
/// Members whose map request numbers are remembered against duplicates:
/// the members and as many restarts.
pub const MAP_ORIGINS: usize = 2 * PEERS;
/// Topics with an explicit QoS (the checks publish on the default,
/// reliable one).
pub const TOPICS: usize = 4;

/// The node of the 4-member configuration: 1 group, 4 members, windows of
/// 8 messages, no membership storage slots (no point-to-point messages),
/// a map of 8 entries (keys up to 16 bytes, values up to 32; 4 requests in
/// flight, 8 events, 8 remembered origins; feature `map`), membership
/// queues of 8,
/// channels receiving from the 3 other members, 4 topics with an explicit
/// QoS.
pub type FwNode = Node<
    'static,
    NoCustom,
    1,
    PEERS,
    WINDOW,
    MESSAGE_SLOTS,
    MESSAGE_BYTES,
    8,
    8,
    16,
    32,
    MEMBERSHIP_QUEUE,
    MEMBERSHIP_QUEUE,
    CONSUMERS,
    MAP_PENDING,
    MAP_EVENTS,
    MAP_ORIGINS,
    SENDERS,
    TOPICS,
>;
/// The runner's storage: 8 datagrams and 2 KiB each way per socket, and
/// send and receive buffers of one `MTU`-byte datagram (every member uses
/// the same `MTU`).
pub type FwResources = Resources<&'static mut FwNode, 8, 2048, { MTU as usize }>;
/// The hub of the image.
pub type FwHub = Hub<MEMBERS, HUB_QUEUE>;
/// One port of the hub.
pub type FwPort = Port<'static, MEMBERS, HUB_QUEUE>;
/// The application's handle on one member.
pub type FwBlaze = Blaze<'static, &'static mut FwNode>;
/// The group the members join.
pub const GROUP_NAME: &str = "fw";
/// The reliable topic.
pub const TOPIC: &str = "telemetry";
/// Messages each member publishes in check 2.
pub const MESSAGES: u32 = 20;

/// The node settings of the firmware: LAN timing, small datagrams and
/// windows.
pub fn node_config() -> Config {
    let mut c = Config::lan();
    c.nack.mtu = const { NonZeroU16::new(MTU).unwrap() };
    c.nack.flow_window = const { NonZeroU32::new(WINDOW as u32).unwrap() };
    c.nack.max_message_len = const { NonZeroU32::new(FRAGMENT as u32).unwrap() };
    c.nack.recv_window_bytes = const { NonZeroU32::new(RECV_WINDOW as u32).unwrap() };
    c
}

/// The storage of one channel: its send window and receive windows.
pub struct ChannelStorage {
    send_index: [SendSlot; 2 * WINDOW],
    send_bytes: [u8; SEND_BYTES],
    recv_bytes: [u8; RECV_BYTES],
    recv_slots: [RxSlot; SENDERS * WINDOW],
}

impl Default for ChannelStorage {
    fn default() -> Self {
        Self::new()
    }
}

impl ChannelStorage {
    /// Empty storage, for a `static`.
    pub const fn new() -> Self {
        ChannelStorage {
            send_index: [SendSlot::EMPTY; 2 * WINDOW],
            send_bytes: [0; SEND_BYTES],
            recv_bytes: [0; RECV_BYTES],
            recv_slots: [RxSlot::EMPTY; SENDERS * WINDOW],
        }
    }

    /// The channel's buffers (no reassembly: messages fit one fragment).
    pub fn buffers(&mut self) -> Buffers<'_> {
        Buffers {
            send_index: &mut self.send_index,
            send_bytes: &mut self.send_bytes,
            recv_bytes: &mut self.recv_bytes,
            recv_slots: &mut self.recv_slots,
            reassembly: &mut [],
        }
    }
}

/// What one member's event task saw.
pub struct Record {
    inner: RefCell<Seen>,
}

/// The counters of a [`Record`].
#[derive(Clone, Default)]
pub struct Seen {
    /// Members of the last view.
    pub view: usize,
    /// Per sender on [`TOPIC`]: the next sequence number expected.
    pub next: Vec<(MemberId, u32), PEERS>,
    /// Messages out of order or repeated.
    pub order_errors: u32,
    /// Members declared failed.
    pub failed: Vec<MemberId, PEERS>,
    /// Fencing token of the last lock granted to this member.
    pub lock_fence: Option<u64>,
    /// Map writes of this member replicated.
    pub writes_done: u32,
    /// Map writes or lock requests of this member that failed.
    pub writes_failed: u32,
    /// Events seen.
    pub events: u32,
    /// Views installed.
    pub views: u32,
    /// `Unrecoverable` gaps reported.
    pub unrecoverable: u32,
    /// The first sequence number seen out of order, if any.
    pub first_disorder: Option<(u32, u32)>,
}

impl Default for Record {
    fn default() -> Self {
        Self::new()
    }
}

impl Record {
    /// An empty record.
    pub const fn new() -> Self {
        Record {
            inner: RefCell::new(Seen {
                view: 0,
                next: Vec::new(),
                order_errors: 0,
                failed: Vec::new(),
                lock_fence: None,
                writes_done: 0,
                writes_failed: 0,
                events: 0,
                views: 0,
                unrecoverable: 0,
                first_disorder: None,
            }),
        }
    }

    /// Records one event.
    pub fn on_event(&self, event: Event<'_>) {
        let mut seen = self.inner.borrow_mut();
        seen.events += 1;
        match event {
            Event::Message {
                topic,
                sender,
                payload,
                ..
            } if topic == TOPIC => {
                let seq = payload
                    .get(..4)
                    .and_then(|b| b.try_into().ok())
                    .map_or(u32::MAX, u32::from_le_bytes);
                let at = match seen.next.iter().position(|(m, _)| *m == sender) {
                    Some(i) => Some(i),
                    None => seen
                        .next
                        .push((sender, 0))
                        .ok()
                        .map(|()| seen.next.len() - 1),
                };
                match at.and_then(|i| seen.next.get_mut(i)) {
                    Some((_, next)) if *next == seq => *next += 1,
                    Some((_, next)) => {
                        let expected = *next;
                        seen.order_errors += 1;
                        seen.first_disorder.get_or_insert((expected, seq));
                    }
                    None => seen.order_errors += 1,
                }
            }
            Event::ViewChanged { members, .. } => {
                seen.view = members;
                seen.views += 1;
            }
            Event::MemberFailed { member, .. } => {
                let _ = seen.failed.push(member);
            }
            #[cfg(feature = "map")]
            Event::LockGranted { fence, .. } => seen.lock_fence = Some(fence),
            #[cfg(feature = "map")]
            Event::WriteDone { .. } => seen.writes_done += 1,
            #[cfg(feature = "map")]
            Event::WriteFailed { .. } | Event::LockFailed { .. } => seen.writes_failed += 1,
            Event::Unrecoverable { .. } => seen.unrecoverable += 1,
            _ => {}
        }
    }

    /// A copy of the counters.
    pub fn seen(&self) -> Seen {
        self.inner.borrow().clone()
    }

    /// Messages received on [`TOPIC`] from `sender`, in order.
    pub fn received_from(&self, sender: MemberId) -> u32 {
        let seen = self.inner.borrow();
        seen.next
            .iter()
            .find(|(m, _)| *m == sender)
            .map_or(0, |(_, n)| *n)
    }
}

/// Everything one member's node keeps in static memory.
pub struct NodeStorage {
    /// The node, built in place by [`Node::init_in`].
    node: MaybeUninit<FwNode>,
    /// The windows of the channels a `GroupBuffers` lends: the reliable
    /// one only in the firmware (`blaze-node` without its `best-effort`
    /// feature), and the best-effort one too in builds with it (the host
    /// test of `blaze-embassy`).
    channels: [ChannelStorage; GROUP_CHANNELS],
    resources: FwResources,
    record: Record,
}

impl Default for NodeStorage {
    fn default() -> Self {
        Self::new()
    }
}

impl NodeStorage {
    /// Empty storage, for a `static`.
    pub const fn new() -> Self {
        NodeStorage {
            node: MaybeUninit::uninit(),
            channels: [const { ChannelStorage::new() }; GROUP_CHANNELS],
            resources: Resources::new(),
            record: Record::new(),
        }
    }
}

/// Everything one member on the hub keeps in static memory.
pub struct MemberStorage {
    node: NodeStorage,
    net: StackResources<3>,
}

impl Default for MemberStorage {
    fn default() -> Self {
        Self::new()
    }
}

impl MemberStorage {
    /// Empty storage, for a `static`.
    pub const fn new() -> Self {
        MemberStorage {
            node: NodeStorage::new(),
            net: StackResources::new(),
        }
    }
}

/// One running member.
#[derive(Clone, Copy)]
pub struct Member {
    /// Its id.
    pub id: MemberId,
    /// The handle on its node.
    pub blaze: FwBlaze,
    /// What its event task saw.
    pub record: &'static Record,
    /// The group it joined.
    pub group: GroupId,
}

/// The member id of member `index`.
pub fn member_id(index: usize) -> MemberId {
    MemberId::from_u128(0xb1a2_e000 + index as u128 + 1)
}

#[embassy_executor::task(pool_size = 3)]
async fn net_task(mut runner: embassy_net::Runner<'static, FwPort>) -> ! {
    runner.run().await
}

#[embassy_executor::task(pool_size = 3)]
pub async fn blaze_task(mut runner: blaze_embassy::Runner<'static, &'static mut FwNode>) -> ! {
    runner.run().await
}

#[embassy_executor::task(pool_size = 3)]
pub async fn event_task(blaze: FwBlaze, record: &'static Record) -> ! {
    loop {
        blaze.event(|e| record.on_event(e)).await;
    }
}

/// Starts member `index` on its hub port: its embassy-net stack
/// (10.0.0.<index + 1>/24), then its node ([`start_node`]).
fn start(
    spawner: Spawner,
    hub: &'static FwHub,
    index: usize,
    storage: &'static mut MemberStorage,
) -> Option<Member> {
    let MemberStorage { node, net } = storage;
    let port = hub.port(index)?;
    let ip = Ipv4Addr::new(10, 0, 0, u8::try_from(index).ok()? + 1);
    let net_config = embassy_net::Config::ipv4_static(StaticConfigV4 {
        address: Ipv4Cidr::new(ip, 24),
        gateway: None,
        dns_servers: Default::default(),
    });
    let (stack, net_runner) = embassy_net::new(port, net_config, net, 0x5eed_0000 + index as u64);
    spawner.spawn(net_task(net_runner).ok()?);
    start_node(spawner, stack, index, node)
}

/// Starts member `index`'s node on `stack` (which needs three free
/// sockets): the node, its runner and event tasks, and joins the group.
/// Seeds are fixed per member (a board would draw them from its RNG).
pub fn start_node(
    spawner: Spawner,
    stack: embassy_net::Stack<'static>,
    index: usize,
    storage: &'static mut NodeStorage,
) -> Option<Member> {
    start_node_with(spawner, stack, index, storage, |_| {})
}

/// [`start_node`] with the settings of [`node_config`] changed by
/// `adjust`.
pub fn start_node_with(
    spawner: Spawner,
    stack: embassy_net::Stack<'static>,
    index: usize,
    storage: &'static mut NodeStorage,
    adjust: fn(&mut Config),
) -> Option<Member> {
    let mut config = node_config();
    adjust(&mut config);
    let NodeStorage {
        node,
        channels,
        resources,
        record,
    } = storage;
    let record: &'static Record = record;
    let id = member_id(index);
    let names = ["fw-a", "fw-b", "fw-c"];
    let identity = Identity {
        id,
        name: Name::new(names.get(index)?)?,
        metadata: Metadata::default(),
        incarnation: 0,
        seed: 0xb1a2_e000 + index as u64,
    };
    let buffers = [GroupBuffers::from_array(
        channels.each_mut().map(ChannelStorage::buffers),
    )];
    // Built where it stays, a field at a time: a node passed by value
    // would take its size of stack, more than once.
    let node = FwNode::init_in(node, blaze_embassy::now(), config, identity, buffers).ok()?;
    let (blaze, runner) =
        blaze_embassy::new(stack, node, blaze_embassy::Config::default(), resources).ok()?;
    spawner.spawn(blaze_task(runner).ok()?);
    spawner.spawn(event_task(blaze, record).ok()?);
    let group = blaze.join(GROUP_NAME).ok()?;
    Some(Member {
        id,
        blaze,
        record,
        group,
    })
}

/// Waits until `cond` holds (checked every 10 ms) or `secs` pass.
pub async fn eventually(secs: u64, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + embassy_time::Duration::from_secs(secs);
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        Timer::after_millis(10).await;
    }
    cond()
}

/// Writes `key` = `value` in map `cfg` from `writer` until every member
/// of `all` reads it, for up to `secs` seconds: a write refused (no map
/// coordinator yet, during a view change) or failed is made again.
/// Feature `map`.
#[cfg(feature = "map")]
pub async fn put_until_seen(
    writer: &Member,
    all: &[Member],
    key: &[u8],
    value: &[u8],
    secs: u64,
) -> bool {
    let deadline = Instant::now() + embassy_time::Duration::from_secs(secs);
    let mut failures = writer.record.seen().writes_failed;
    let mut pending = false;
    while Instant::now() < deadline {
        let failed_now = writer.record.seen().writes_failed;
        if failed_now != failures {
            failures = failed_now;
            pending = false;
        }
        if !pending {
            pending = writer
                .blaze
                .map_put(writer.group, "cfg", key, value, WriteOptions::default())
                .is_ok();
        }
        let seen = all.iter().all(|m| {
            m.blaze
                .map_get(m.group, "cfg", key, |e| e.is_some_and(|e| e.value == value))
        });
        if seen {
            return true;
        }
        Timer::after_millis(10).await;
    }
    false
}

/// Publishes messages `from..to` of `member` on [`TOPIC`] (the payload
/// is the sequence number, little-endian).
pub async fn publish_range(member: &Member, from: u32, to: u32) -> bool {
    for seq in from..to {
        let payload = seq.to_le_bytes();
        let sent = with_timeout(
            embassy_time::Duration::from_secs(10),
            member.blaze.publish(member.group, TOPIC, &payload),
        )
        .await;
        if !matches!(sent, Ok(Ok(()))) {
            return false;
        }
    }
    true
}

/// Storage of the members (all zero bytes: in `.bss`, see [`ALONE`]), and
/// the hub (statics of the image).
static STORAGE: ConstStaticCell<[MemberStorage; MEMBERS]> =
    ConstStaticCell::new([const { MemberStorage::new() }; MEMBERS]);
static HUB: ConstStaticCell<FwHub> = ConstStaticCell::new(Hub::new());

/// Runs the scenario; reports each check through `report` and returns
/// `(passed, failed)`. Call once per program.
pub async fn run(spawner: Spawner, report: fn(Arguments<'_>)) -> (u32, u32) {
    let mut passed = 0;
    let mut failed = 0;
    let mut check = |name: &str, ok: bool| {
        report(format_args!(
            "test {name} ... {}",
            if ok { "ok" } else { "FAILED" }
        ));
        if ok {
            passed += 1;
        } else {
            failed += 1;
        }
    };

    let hub: &'static FwHub = HUB.take();
    let storage = STORAGE.take();
    let mut members: Vec<Member, MEMBERS> = Vec::new();
    for (i, s) in storage.iter_mut().enumerate() {
        if let Some(m) = start(spawner, hub, i, s) {
            let _ = members.push(m);
        }
    }
    check("members_started", members.len() == MEMBERS);
    let [a, b, c] = match members.as_slice() {
        [a, b, c] => [*a, *b, *c],
        _ => return (passed, failed),
    };
    let all = [a, b, c];

    // 1. Views.
    let views = eventually(10, || {
        all.iter().all(|m| {
            m.blaze
                .read(|n| n.members(m.group).len() == MEMBERS && n.coordinator(m.group).is_some())
        })
    })
    .await;
    check("view_of_three", views);

    // 2. A reliable topic under 10 % loss, every member publishing.
    hub.set_loss_per_mille(100, 0x4b1d);
    let mut published = true;
    for m in &all {
        published &= publish_range(m, 0, MESSAGES).await;
    }
    let delivered = eventually(30, || {
        all.iter().all(|m| {
            all.iter()
                .filter(|o| o.id != m.id)
                .all(|o| m.record.received_from(o.id) == MESSAGES)
        })
    })
    .await;
    let in_order = all.iter().all(|m| m.record.seen().order_errors == 0);
    report(format_args!(
        "hub: {} frames forwarded, {} dropped by loss, {} by full queues",
        hub.stats().forwarded,
        hub.stats().dropped_loss,
        hub.stats().dropped_full
    ));
    let ok = published && delivered && in_order;
    if !ok {
        for m in &all {
            let seen = m.record.seen();
            let mut got = [0u32; MEMBERS];
            for (g, o) in got.iter_mut().zip(&all) {
                *g = m.record.received_from(o.id);
            }
            report(format_args!(
                "received {got:?} of {MESSAGES}, {} out of order (first expected/got: {:?}), \
                 {} unrecoverable, {} views, {} failed, published: {published}",
                seen.order_errors,
                seen.first_disorder,
                seen.unrecoverable,
                seen.views,
                seen.failed.len(),
            ));
        }
    }
    check("reliable_topic_under_loss", ok);

    // 3. and 4.: the map (feature `map`).
    #[cfg(feature = "map")]
    map_checks(&all, &mut check).await;
    hub.set_loss_per_mille(0, 0x4b1d);

    // 5. The third member is cut off; the others detect it.
    hub.set_connected(2, false);
    let detected = eventually(10, || {
        [a, b].iter().all(|m| {
            m.record.seen().failed.contains(&c.id)
                && m.blaze.read(|n| n.members(m.group).len() == 2)
        })
    })
    .await;
    check("crash_detected", detected);

    // 6. The survivors go on.
    let more = publish_range(&a, MESSAGES, MESSAGES + 5).await;
    let got = eventually(10, || b.record.received_from(a.id) == MESSAGES + 5).await;
    check("reliable_after_crash", more && got);

    for (m, name) in all.iter().zip(["a", "b", "c"]) {
        let s = m.blaze.stats();
        let (events_dropped, control_dropped) = m.blaze.read(|n| {
            let ms = n.membership().stats();
            (ms.events_dropped, ms.control_dropped)
        });
        report(format_args!(
            "member {name}: {} datagrams sent, {} received, {} unicast dropped (queue full), \
             {} oversized, {} events; \
             membership queues dropped {events_dropped} events, {control_dropped} control frames",
            s.datagrams_sent,
            s.datagrams_received,
            s.dropped_queue_full,
            s.dropped_oversized,
            m.record.seen().events
        ));
    }
    (passed, failed)
}

/// Checks 3 and 4 of [`run`]: map writes from two members seen by all,
/// and a lock taken by the third. Feature `map`.
#[cfg(feature = "map")]
async fn map_checks(all: &[Member; MEMBERS], check: &mut impl FnMut(&str, bool)) {
    let [a, b, c] = *all;
    // 3. The replicated map, written from two members.
    let put_a = put_until_seen(&a, all, b"mode", b"auto", 20).await;
    let put_b = put_until_seen(&b, all, b"rate", b"10", 20).await;
    check("map_writes_seen_by_all", put_a && put_b);

    // 4. A lock, taken by the third member (asked again if refused or
    // failed, as a map write).
    let deadline = Instant::now() + embassy_time::Duration::from_secs(20);
    let mut failures = c.record.seen().writes_failed;
    let mut asked = false;
    let mut held = false;
    while Instant::now() < deadline && !held {
        let failed_now = c.record.seen().writes_failed;
        if failed_now != failures {
            failures = failed_now;
            asked = false;
        }
        if !asked {
            asked = c
                .blaze
                .lock(c.group, "cfg", b"leader", Duration::from_secs(30))
                .is_ok();
        }
        held = c.record.seen().lock_fence.is_some()
            && all.iter().all(|m| {
                m.blaze.read(|n| {
                    n.lock_info(m.group, "cfg", b"leader")
                        .is_some_and(|l| l.holder == c.id)
                })
            });
        Timer::after_millis(10).await;
    }
    check("lock_taken", asked && held);
}

/// The size of what `part` borrows from a node (a part's type is named by
/// the getter that returns it).
const fn pointee_size<T>(_part: fn(&FwNode) -> Option<&T>) -> u32 {
    core::mem::size_of::<T>() as u32
}

/// The size of a channel slot of the node.
const CHANNEL_SLOT: u32 =
    core::mem::size_of::<Option<Channel<'static, NoCustom, SENDERS, WINDOW, PEERS>>>() as u32;

/// The map replica's size in the node (none without feature `map`).
#[cfg(feature = "map")]
const MAP_REPLICA: u32 = pointee_size(|n: &FwNode| n.map(GroupId::from_raw(0)));
/// The map replica's size in the node (none without feature `map`).
#[cfg(not(feature = "map"))]
const MAP_REPLICA: u32 = 0;

/// One member's RAM by part, in bytes, kept in the footprint image for
/// `scripts/embedded` to read from the ELF file (the symbol's bytes), so
/// that the image measured holds no code to print them: the node, one
/// channel's windows, the channels a group has, blaze-embassy's
/// resources (the node apart), embassy-net's stack resources, the hub
/// (link buffers), and in the node the membership machine, the map
/// replica and one channel slot.
pub static FOOTPRINT_RAM: [u32; 9] = [
    core::mem::size_of::<FwNode>() as u32,
    core::mem::size_of::<ChannelStorage>() as u32,
    GROUP_CHANNELS as u32,
    core::mem::size_of::<FwResources>() as u32,
    core::mem::size_of::<StackResources<3>>() as u32,
    core::mem::size_of::<FwHub>() as u32,
    pointee_size(|n: &FwNode| Some(n.membership())),
    MAP_REPLICA,
    CHANNEL_SLOT,
];

/// The checks of [`run_alone`]: the map's with feature `map`.
#[cfg(feature = "map")]
const ALONE_CHECKS: [&str; 4] = ["view_of_one", "publish", "map_write", "lock_taken"];
/// The checks of [`run_alone`]: the map's with feature `map`.
#[cfg(not(feature = "map"))]
const ALONE_CHECKS: [&str; 2] = ["view_of_one", "publish"];

/// Storage of a member alone (the footprint image). Empty storage is all
/// zero bytes, so this static is in `.bss`: no image of it in flash, and
/// nothing is built on the stack and copied in.
static ALONE: ConstStaticCell<MemberStorage> = ConstStaticCell::new(MemberStorage::new());
/// The hub of a member alone.
static ALONE_HUB: ConstStaticCell<FwHub> = ConstStaticCell::new(Hub::new());

/// One member alone in its group, through the same calls as [`run`]: it
/// forms a view of one, publishes on the reliable topic and, with feature
/// `map`, writes and reads the map and takes a lock. The footprint image
/// runs this, so its size is one member's stack. Returns
/// `(passed, failed)`.
pub async fn run_alone(spawner: Spawner, report: fn(Arguments<'_>)) -> (u32, u32) {
    // The RAM figures stay in the image for `scripts/embedded` to read;
    // no code prints them.
    core::hint::black_box(&FOOTPRINT_RAM);
    let hub: &'static FwHub = ALONE_HUB.take();
    let storage = ALONE.take();
    let Some(m) = start(spawner, hub, 0, storage) else {
        report(format_args!("test member_started ... FAILED"));
        return (0, 1);
    };
    let mut results = [false; ALONE_CHECKS.len()];
    results[0] = eventually(10, || {
        m.blaze.read(|n| n.coordinator(m.group) == Some(m.id))
    })
    .await;
    results[1] = publish_range(&m, 0, 5).await;
    #[cfg(feature = "map")]
    {
        let put = m
            .blaze
            .map_put(m.group, "cfg", b"mode", b"solo", WriteOptions::default())
            .is_ok();
        results[2] = put
            && eventually(10, || {
                m.blaze.map_get(m.group, "cfg", b"mode", |e| {
                    e.is_some_and(|e| e.value == b"solo")
                })
            })
            .await;
        let asked = m
            .blaze
            .lock(m.group, "cfg", b"leader", Duration::from_secs(30))
            .is_ok();
        results[3] = asked && eventually(10, || m.record.seen().lock_fence.is_some()).await;
    }
    let mut passed = 0;
    for (name, ok) in ALONE_CHECKS.iter().zip(results) {
        report(format_args!(
            "test {name} ... {}",
            if ok { "ok" } else { "FAILED" }
        ));
        passed += u32::from(ok);
    }
    (passed, ALONE_CHECKS.len() as u32 - passed)
}
