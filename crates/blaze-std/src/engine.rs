//! The composed node as the std adapter owns it: boxed, with its channel
//! storage allocated once and recycled through a pool.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddr;
use std::sync::Mutex;

use blaze_node::{
    Buffers, Config, FecBuffers, GroupBuffers, Identity, Instant, MemberId, Metadata, Name,
    NoCustom, Node, Protocol, RxSlot, SendSlot, TotemBuffers, TotemSlot, TotemStorage, Transmit,
};

use crate::ChannelConfig;

/// Groups one node can be in at once.
pub const MAX_GROUPS: usize = 4;
/// Members per group the node tracks.
pub const MAX_MEMBERS: usize = 16;
/// The reliable channels' window, in messages. Receive buffers are rings
/// of bytes (`recv_window_bytes` per sender), so a window of many small
/// messages costs their bytes plus a 32-byte index entry each, not a full
/// fragment each: a large window keeps a sender of small messages from
/// stalling on acknowledgements.
const WINDOW: usize = 2048;
/// Messages in flight beyond the slowest receiver's acknowledgement (room
/// left below [`WINDOW`] for FEC blocks and acknowledgement delay).
const FLOW_WINDOW: u32 = 1536;
/// The total-order ring's window, in messages (and its flow-control
/// window per rotation). A message of up to [`blaze_node::TOTEM_INLINE`]
/// bytes is stored in its slot, a larger one in one of [`TOTEM_LARGE`]
/// full slots ([`blaze_node::TOTEM_SLOT`] bytes each, on the heap), so a
/// window of small messages costs little memory.
const TOTEM_WINDOW: usize = 1024;
/// Full-size slots of the ring's storage for messages larger than
/// [`blaze_node::TOTEM_INLINE`] bytes: at most half of them are in
/// flight beyond what every member holds.
const TOTEM_LARGE: usize = 512;

/// The node as blaze-std runs it: up to [`MAX_GROUPS`] groups of up to
/// [`MAX_MEMBERS`] members, reliable channels with a window of 2,048
/// messages, a total-order ring with a window of 512, 32 membership
/// message slots of 1 KiB, and maps of 64 entries (keys up to 64 bytes,
/// values up to 256 bytes).
pub type StdNode = Node<
    'static,
    NoCustom,
    MAX_GROUPS,
    MAX_MEMBERS,
    WINDOW,
    32,
    1024,
    64,
    64,
    64,
    256,
    { blaze_membership::EVENT_CAPACITY },
    { blaze_membership::CONTROL_CAPACITY },
    { blaze_membership::MAX_CONSUMERS },
    { blaze_map::MAX_PENDING },
    { blaze_map::EVENT_QUEUE },
    { blaze_map::MAX_ORIGINS },
    MAX_MEMBERS,
    { blaze_node::MAX_TOPICS },
    TOTEM_WINDOW,
>;

/// The largest point-to-point, request, reply or queue payload
/// (one membership message slot).
pub const MAX_DIRECT_PAYLOAD: usize = 1024;
/// Bytes of each channel's retransmit window, and so the largest message
/// published on a topic: twice what the receivers let a sender keep in
/// flight.
const SEND_BYTES: usize = 2 * 1024 * 1024;
/// Bytes each channel keeps per sender for messages not yet delivered (a
/// ring of variable-length records), which bounds the bytes a sender keeps
/// in flight: 1 MiB keeps a stream of 1 KiB messages going at several
/// hundred MB/s with a millisecond between a message and its
/// acknowledgement. The buffers are sized for every possible sender
/// (`MAX_MEMBERS` per channel) but zero-filled on demand, so only the
/// rings of actual senders take memory.
const RECV_WINDOW_BYTES: u32 = 1024 * 1024;
/// The largest message published on a topic.
pub const MAX_PAYLOAD: usize = 64 * 1024;

/// Channel storage given back by shut-down nodes, reused by new ones, so
/// that the memory a process gives to nodes is bounded by the most nodes
/// it ever had at once.
static POOL: Mutex<Vec<GroupBuffers<'static>>> = Mutex::new(Vec::new());

/// Reliable + FEC channel storage given back by shut-down nodes.
static FEC_POOL: Mutex<Vec<(Buffers<'static>, FecBuffers<'static>)>> = Mutex::new(Vec::new());

/// Total-order ring storage given back by shut-down nodes.
static TOTEM_POOL: Mutex<Vec<&'static mut StdTotemStorage>> = Mutex::new(Vec::new());

/// One group slot's total-order storage: its message buffers (zero-filled
/// on demand) and the storage around them, on the heap.
type StdTotemStorage = TotemStorage<'static, MAX_MEMBERS, TOTEM_WINDOW>;

fn totem_storage() -> Option<&'static mut StdTotemStorage> {
    let pooled = TOTEM_POOL.lock().ok().and_then(|mut pool| pool.pop());
    if pooled.is_some() {
        return pooled;
    }
    let buffers = TotemBuffers {
        slots: Vec::leak(vec![TotemSlot::EMPTY; StdTotemStorage::slots_needed()]),
        bytes: Vec::leak(vec![0; StdTotemStorage::bytes_with_pool(TOTEM_LARGE)]),
    };
    // Sized by the storage itself, so never refused.
    let storage = TotemStorage::new(buffers).ok()?;
    Some(Box::leak(Box::new(storage)))
}

/// Parity symbols a member keeps for rebuilding other members' blocks.
const PARITY_SLOTS: usize = 64;

fn fec_buffers(config: &Config) -> (Buffers<'static>, FecBuffers<'static>) {
    let pooled = FEC_POOL.lock().ok().and_then(|mut pool| pool.pop());
    pooled.unwrap_or_else(|| {
        let scratch = FecBuffers::scratch_needed(&config.nack, usize::from(config.fec.k));
        let parity = PARITY_SLOTS * FecBuffers::parity_slot_len(&config.nack);
        (
            channel_buffers(config),
            FecBuffers {
                scratch: Vec::leak(vec![0u8; scratch]),
                parity: Vec::leak(vec![0u8; parity]),
            },
        )
    })
}

fn channel_buffers(config: &Config) -> Buffers<'static> {
    let need = GroupBuffers::recv_bytes_needed(config, MAX_MEMBERS, WINDOW);
    Buffers {
        send_index: Vec::leak(vec![SendSlot::EMPTY; 2 * WINDOW]),
        send_bytes: Vec::leak(vec![0u8; SEND_BYTES]),
        recv_bytes: Vec::leak(vec![0u8; need]),
        recv_slots: Vec::leak(vec![
            RxSlot::EMPTY;
            Buffers::recv_slots_needed(MAX_MEMBERS, WINDOW)
        ]),
        reassembly: Vec::leak(vec![0u8; MAX_PAYLOAD + 4096]),
    }
}

fn group_buffers(config: &Config) -> GroupBuffers<'static> {
    let pooled = POOL.lock().ok().and_then(|mut pool| pool.pop());
    pooled.unwrap_or_else(|| GroupBuffers {
        reliable: channel_buffers(config),
        best_effort: channel_buffers(config),
    })
}

/// A random 64-bit number from the operating system's hash seed.
pub(crate) fn random_u64() -> u64 {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    hasher.write_u32(std::process::id());
    hasher.finish()
}

/// The node's settings from a channel configuration.
pub(crate) fn node_config(config: &ChannelConfig) -> Config {
    let mut node = Config::lan();
    node.membership.heartbeat_interval = config.heartbeat().into();
    node.membership.failure_timeout = config.failure_timeout().into();
    node.membership.weight = config.weight;
    node.map.ordering = config.map_ordering.into();
    node.run_map = config.run_map;
    // The ring drops a member no quicker than the view does: with its LAN
    // timers a process stalled for a few hundred milliseconds split the
    // ring while the view stayed whole.
    node.totem = blaze_node::TotemConfig::tolerating(node.membership.failure_timeout);
    // A rotation may carry the whole window the storage holds.
    node.totem.window = TOTEM_WINDOW as u32;
    // A member's share of a busy rotation comes in one visit.
    node.totem.max_messages = blaze_node::TOTEM_QUEUE as u32;
    node.membership.discovery = match config.group {
        Some(_) => blaze_membership::Discovery::Multicast,
        None => blaze_membership::Discovery::unicast(&config.seeds),
    };
    node.nack.max_message_len =
        core::num::NonZeroU32::new(MAX_PAYLOAD as u32).unwrap_or(node.nack.max_message_len);
    node.nack.flow_window =
        core::num::NonZeroU32::new(FLOW_WINDOW).unwrap_or(node.nack.flow_window);
    node.nack.recv_window_bytes =
        core::num::NonZeroU32::new(RECV_WINDOW_BYTES).unwrap_or(node.nack.recv_window_bytes);
    node
}

/// The boxed node, driven as a [`Protocol`].
pub(crate) struct Engine {
    pub(crate) node: Box<StdNode>,
}

impl Engine {
    /// A node with a fresh random id, named after the configuration.
    ///
    /// The node is large (over a megabyte, its capacities inline), so it
    /// is built directly in its heap allocation, one field at a time
    /// ([`Node::init_in`](blaze_node::Node::init_in)): no whole node is
    /// ever on the stack, and any thread (a tokio worker with its default
    /// stack) can make one.
    #[allow(
        unsafe_code,
        reason = "a node built in place is declared initialised by assume_init"
    )]
    pub(crate) fn new(
        now: Instant,
        config: &ChannelConfig,
    ) -> Result<Self, blaze_node::ConfigError> {
        let node_config = node_config(config);
        let id = MemberId::from_u128((u128::from(random_u64()) << 64) | u128::from(random_u64()));
        let identity = Identity {
            id,
            name: Name::new(&config.name).unwrap_or_else(|| Name::new("blaze").unwrap_or_default()),
            metadata: Metadata::default(),
            incarnation: 0,
            seed: random_u64(),
        };
        let buffers = std::array::from_fn(|_| group_buffers(&node_config));
        let mut place = Box::<StdNode>::new_uninit();
        StdNode::init_in(&mut place, now, node_config, identity, buffers)?;
        // SAFETY: `init_in` returned `Ok`, which it does only once it has
        // written every field of the node in `place`.
        let mut node = unsafe { place.assume_init() };
        for _ in 0..MAX_GROUPS {
            if let Some(storage) = totem_storage()
                && let Err(back) = node.add_total_order(storage)
                && let Ok(mut pool) = TOTEM_POOL.lock()
            {
                pool.push(back);
            }
            let (b, f) = fec_buffers(&node_config);
            if let Err(back) = node.add_fec_buffers(b, f)
                && let Ok(mut pool) = FEC_POOL.lock()
            {
                pool.push(back);
            }
        }
        Ok(Engine { node })
    }

    /// Gives the channel storage back to the pool (without moving the
    /// node out of its allocation).
    pub(crate) fn recycle(mut self) {
        let buffers = self.node.take_all_buffers();
        if let (Ok(mut pool), Ok(mut fec_pool), Ok(mut totem_pool)) =
            (POOL.lock(), FEC_POOL.lock(), TOTEM_POOL.lock())
        {
            for slot in buffers {
                pool.extend(slot.group);
                fec_pool.extend(slot.fec);
                totem_pool.extend(slot.totem);
            }
        }
    }
}

impl Protocol for Engine {
    type Event<'a> = blaze_node::Event<'a>;

    fn handle_datagram(&mut self, now: Instant, from: SocketAddr, datagram: &[u8]) {
        self.node.handle_datagram(now, from, datagram);
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.node.handle_timeout(now);
    }

    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        self.node.poll_transmit(now, buf)
    }

    fn poll_event(&mut self) -> Option<Self::Event<'_>> {
        self.node.poll_event()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.node.poll_timeout()
    }
}
