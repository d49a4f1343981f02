//! # blaze-std
//!
//! Blaze on `std`: real UDP sockets and a tokio driver for any sans-IO
//! [`Protocol`](blaze_node::Protocol) machine.
//!
//! - [`Sockets`] ([`SocketConfig`]): a node's unicast socket, and either a
//!   socket joined to the group's IPv4 multicast address on a chosen
//!   interface (`SO_REUSEADDR`/`SO_REUSEPORT`, `IP_MULTICAST_IF`,
//!   `IP_MULTICAST_LOOP`, `IP_MULTICAST_TTL`, large buffers) or, without
//!   multicast, a list of peers to which group datagrams are fanned out.
//! - [`Driver`]: the loop that runs the machine on those sockets under
//!   tokio, following the machine's polling order; events reach the
//!   [`Application`] by callback, without allocation per message.
//! - [`RecvBatch`] / [`SendBatch`]: datagram I/O with `recvmmsg` and
//!   `sendmmsg` on Linux, plus UDP segmentation offload (`UDP_SEGMENT`) for
//!   runs of equal-sized datagrams ([`IoMode`]); one call per datagram
//!   elsewhere.
//! - [`Clock`]: host time to and from the machines' microsecond
//!   [`Instant`](blaze_wire::Instant).
//! - The channel API, in ActiveBlaze's spirit, three layers each a
//!   superset of the one before, running the composed
//!   [`Node`](blaze_node::Node) on a tokio task:
//!   - [`Channel`]: broadcast on topics with a quality of service
//!     ([`Qos`]), subscribe by stream or listener; the life cycle
//!     constructed → initialized → started ⇄ stopped → shut down
//!     ([`Lifecycle`]);
//!   - [`GroupChannel`]: join and leave groups, members and member
//!     listeners, point-to-point messages, request/reply, queues;
//!   - [`ClusterChannel`]: the replicated map with change listeners, locks
//!     with leases, the coordinator (master) with master-changed listeners
//!     and `wait_for_election`.
//!
//!   Every layer has two data paths: the ergonomic one
//!   ([`Channel::publish`], [`Subscription`] of owned [`Message`]s), which
//!   allocates a few times per message, and the zero-allocation one
//!   ([`Publisher`] and [`Inbox`]: bounded lock-free rings of
//!   fixed-capacity records, payloads up to [`RECORD_CAPACITY`] bytes),
//!   which allocates nothing per message in steady state.
//!
//!   Configured by [`ChannelConfig`] (a builder, or a TOML file); errors
//!   are typed ([`ChannelError`]); logs go through `tracing`.
//! - The `blaze` program (feature `cli`, on by default): `demo`, `bench`,
//!   `node`, `pub`, `sub`, `members`, `map`; see the README.
//!
//! This crate does not implement protocols (they are the `no_std` crates).
//!
//! The only `unsafe` code of the library is the `recvmmsg`/`sendmmsg`
//! calls and the `UDP_SEGMENT` control message, each with its proof (the
//! program adds `clock_gettime` and `getrusage` for its benchmark).
#![deny(missing_docs)]

mod channel;
pub use channel::{Channel, Events, Subscription};
mod channel_error;
pub use channel_error::ChannelError;
mod cluster_channel;
pub use cluster_channel::ClusterChannel;
mod config;
pub use config::{
    ChannelConfig, ChannelConfigBuilder, ConfigError, DEFAULT_GROUP, MAX_NAME_LEN, MapOrdering,
    TopicQos,
};
mod driver;
mod engine;
pub use engine::{MAX_DIRECT_PAYLOAD, MAX_GROUPS, MAX_MEMBERS, MAX_PAYLOAD, StdNode};
mod events;
pub use events::{
    ChangeKind, Direct, GroupEvent, LockGrant, MapChange, Member, Message, MessageMeta, MessageRef,
    QueueMessage, Request,
};
mod group_channel;
pub use group_channel::GroupChannel;
mod hub;
mod inbox;
pub use driver::{Application, Driver, DriverConfig, DriverStats, DriverWaker, MAX_UDP_PAYLOAD};
pub use inbox::Inbox;
mod io_mode;
pub use io_mode::{IoMode, MAX_BATCH};
mod lifecycle;
#[cfg(any(target_os = "linux", target_os = "android"))]
mod mmsg;
pub use lifecycle::{Lifecycle, Transition};
mod publisher;
pub use publisher::Publisher;
mod recv_batch;
pub use recv_batch::{Received, RecvBatch};
mod record_ring;
mod room;
#[allow(
    dead_code,
    reason = "the engine of the channel API, which comes with the composed Node"
)]
mod runner;
pub use record_ring::RECORD_CAPACITY;
mod send_batch;
pub use send_batch::{Flushed, SendBatch};
mod socket;
pub use socket::{DEFAULT_BUFFER_SIZE, SocketConfig, SocketError, Sockets};
mod stream_drops;
pub use stream_drops::StreamDrops;
mod time;
pub use time::Clock;
mod topic_table;

/// The node's router counters, as [`Channel::node_stats`] reports them.
pub use blaze_node::Stats as NodeStats;
/// Re-exported from `blaze-node` for the channel API.
pub use blaze_node::{GroupId, MemberId, Qos, WriteOptions};
