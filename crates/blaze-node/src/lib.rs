//! # blaze-node
//!
//! The sans-IO core of a Blaze node: [`Node`] composes the protocol
//! machines of one member (membership of several groups, a reliable and a
//! best-effort multicast channel per group, a replicated map per group
//! (feature `map`), point-to-point messages, requests, queues and locks;
//! see the features
//! below for what a build may leave out) into one machine
//! behind the [`Protocol`] trait, the five verbs every Blaze protocol
//! machine implements.
//!
//! A protocol machine never touches a socket, a clock, an allocator or a
//! random source. An adapter (`blaze-std` on tokio, `blaze-embassy` on
//! embassy-net) owns those and drives any [`Protocol`] with five verbs:
//! datagrams and deadlines go in through `handle_*`, datagrams, events and
//! the next deadline come out through `poll_*`. The trait's documentation
//! states the polling order every adapter follows.
//!
//! ## Quality of service per topic, pluggable protocols
//!
//! Every topic has a [`Qos`] (set with [`Node::set_qos`]; unknown topics
//! are reliable) that picks the group's [`Channel`] carrying it: a variant
//! of the protocol enum. A user brings a protocol of their own by
//! implementing [`CustomProtocol`] (the five verbs plus `publish` and
//! `handle_view`) and installing it in a group with [`Node::set_custom`]:
//! it gets the same routing, views and adapters as the built-in channels.
//!
//! ## Composition helpers
//!
//! - [`RoundRobin`]: a fair cursor that merges the `poll_transmit` output of
//!   `N` machines, so a chatty machine cannot starve the others.
//! - [`earliest`]: the earliest of several machines' `poll_timeout`.
//!
//! ## What this crate does not do (yet)
//!
//! Forward error correction and total order (Totem) are opt-in per group
//! slot ([`Node::add_fec_buffers`], [`Node::add_total_order`]); in a group
//! without that storage, publishing on a topic with those QoS returns
//! [`PublishError::QosUnavailable`]. The total-order ring holds at most
//! `P` members (this one included) and does not fragment: a message with
//! its topic fits in one [`TOTEM_SLOT`]. A node restarting with the same
//! id and a higher incarnation starts its ring numbers above the earlier
//! incarnation's (`incarnation << 32`).
//!
//! ## Features
//!
//! Protocols a small member may leave out, all default on; firmware builds
//! with `default-features = false` and names the ones it uses. A build
//! without one keeps the wire format: that protocol's frames are counted
//! and dropped, its calls return a typed error.
//!
//! - `best-effort`: the best-effort channel. Without it a group slot
//!   reserves no room for it, [`GroupBuffers`] holds the reliable
//!   channel's storage only ([`GROUP_CHANNELS`],
//!   [`GroupBuffers::from_array`]), [`Node::set_qos`] refuses
//!   [`Qos::BestEffort`] ([`TopicError::QosUnavailable`]) and its frames
//!   count in [`Stats::no_channel`].
//! - `messaging`: point-to-point messages, request/reply and queues
//!   (`blaze-membership/messaging`). Without it [`Node::send_to`],
//!   [`Node::request`], [`Node::reply`], the queue calls return
//!   [`MessageError::NotBuiltIn`], their request and reply frames are a
//!   kind the codec leaves out (`blaze-wire/messaging`; counted in
//!   [`Stats::no_body`]) and their acknowledgements count in
//!   `Membership::stats().messaging_dropped`; the node may then take no
//!   membership storage slots (`S = 0`) and no queue consumers.
//! - `map`: the replicated map of each group (`blaze-map`), with its
//!   commands (`Node::map_put`, `map_get`, `lock`, …), `Node::map`,
//!   `Config::map`, its events (`Event::MapChanged`, `WriteDone`,
//!   `LockGranted`, `Map`, …), `MapError`, `ConfigError::Map` and the
//!   types re-exported from `blaze-map`; each of those items says
//!   "Feature `map`". Without it the node does not depend on `blaze-map`
//!   (about 31 KB of flash on a Cortex-M4), a group slot holds no map and
//!   the node's deadline table has no entry for one, and the map
//!   capacities among the node's parameters (`E`, `L`, `K`, `V`,
//!   `MAP_PENDING`, `MAP_EVENTS`, `MAP_ORIGINS`) are not used. Map
//!   operation, lock operation and map control frames are counted and
//!   dropped: in [`Stats::no_body`] when the codec leaves those kinds out
//!   (`blaze-wire/map`, off unless another crate of the build turns it
//!   on), else in [`Stats::no_map`]; so are the map's operations ordered
//!   by a Totem ring. Such a member shares a group with members that
//!   run the map: its `Join` leaves out [`SERVICE_MAP`], and they leave
//!   it out of their maps' views and ring configurations, so it neither
//!   coordinates their map nor holds up a write or a lock
//!   ([`Config::run_map`] does the same at run time in a build with the
//!   map). For members that need membership and topics but no shared
//!   state: sensors, actuators.
//! - `fec`, `total-order`: the reliable + FEC and the Totem channels.
//!   Without them a group slot reserves no room for those channels (each
//!   entry of the channel table is as large as a NACK endpoint), the node
//!   does not depend on `blaze-proto-totem`, [`Node::set_qos`] refuses
//!   their QoS, and the codec leaves out their parity and token frames
//!   (`blaze-wire/fec`, `blaze-wire/totem`; counted in [`Stats::no_body`]).
//!   With `map`, `total-order` also builds the map's ring-ordered mode
//!   (`blaze-map/ring`); without it `map.ordering = Ordering::Totem` is
//!   refused (`ConfigError::Map`).
//! - `merge-reapply`: the map's merge policies that re-apply a losing
//!   side's writes (`blaze-map/merge-reapply`: `MergePolicy::LatestVersion`
//!   and `Ask`). Without it such a `map.merge` is refused
//!   (`ConfigError::Map`); `MajoritySide` remains. Nothing without `map`.
//! - `unicast`: unicast discovery (`blaze-membership/unicast`, seeds).
//!   Without it a membership configuration with
//!   `Discovery::Unicast` is refused (`ConfigError::UnicastNotBuiltIn`).
//! - `log` / `defmt`: the composed machines log their protocol milestones
//!   (mutually exclusive).
//!
//! `no_std`, no `alloc`; the only `unsafe` is [`Node::init_in`], which
//! builds a node in place field by field, group slots included (with its
//! proof).
#![no_std]
#![deny(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    warn(
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic
    )
)]

#[cfg(test)]
extern crate std;

mod deadline;
pub use deadline::earliest;
mod protocol;
pub use protocol::Protocol;
mod round_robin;
pub use round_robin::RoundRobin;
mod qos;
pub use qos::{
    MAX_TOPIC_LEN, MAX_TOPICS, Qos, RESERVED_TOPIC_PREFIX, TopicError, is_reserved_topic,
};
mod custom;
pub use custom::{CustomProtocol, NoCustom};
mod channel;
pub use channel::{Channel, STREAM_BEST_EFFORT, STREAM_RELIABLE, STREAM_RELIABLE_FEC};
#[cfg(feature = "total-order")]
pub use channel::{TOTEM_QUEUE, TOTEM_SLOT, TotemRing, TotemStorage};
mod config;
pub use config::{Config, GROUP_CHANNELS, GroupBuffers, Identity, SlotStorage};
mod error;
#[cfg(feature = "map")]
pub use error::MapError;
pub use error::{ConfigError, CustomError, GroupError, PublishError};
mod event;
pub use event::Event;
mod group;
mod node;
pub use node::Node;
mod stats;
pub use stats::Stats;

/// Re-exported from the machines the node composes, for the node's API
/// (those of `blaze-map`: feature `map`).
#[cfg(feature = "map")]
pub use blaze_map::{
    Change, ChangeKind, EntryRef, LockInfo, LockLostReason, Ordering as MapOrdering, RequestId,
    WriteError, WriteOptions,
};
pub use blaze_membership::{Delivery, Metadata, Name, SendError as MessageError};
pub use blaze_proto_nack::{Buffers, CutReason, FecBuffers, FecConfig, RxSlot, SendSlot};
#[cfg(feature = "total-order")]
pub use blaze_proto_totem::{
    Buffers as TotemBuffers, Config as TotemConfig, ConfigError as TotemConfigError,
    ConfigurationKind, INLINE as TOTEM_INLINE, Slot as TotemSlot,
};
/// Re-exported from `blaze-wire`: the bit of a view member's
/// [`services`](blaze_membership::ViewMember::services) that says it runs
/// the map.
pub use blaze_wire::SERVICE_MAP;
/// Re-exported from `blaze-wire` for implementers of [`Protocol`].
pub use blaze_wire::{Destination, Duration, GroupId, Instant, MemberId, Seq, Transmit};
