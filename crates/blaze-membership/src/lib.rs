//! # blaze-membership
//!
//! Group membership for Blaze, as an allocation-free `no_std` sans-IO state
//! machine: [`Membership`].
//!
//! - **Members** have a 128-bit id drawn by the caller, a name, optional
//!   metadata, and join and leave any number of named groups at run time.
//! - **Discovery** by multicast, or by unicast seeds
//!   ([`Discovery::Unicast`]) after which group-wide frames go to every
//!   known member one by one.
//! - **Views**: each group has numbered views agreed by all their members,
//!   a coordinator (highest weight, then oldest), and events for joins,
//!   graceful leaves, failures, coordinator changes and partition merges.
//! - **Failure detection**: heartbeats plus SWIM-style direct and indirect
//!   probes; a crashed member is removed within the failure time-out plus
//!   about one heartbeat interval, and message loss does not evict live
//!   members.
//! - **Messaging**: reliable FIFO point-to-point messages, request/reply
//!   inboxes with correlation and time-out, and queues whose messages go to
//!   exactly one live consumer at a time and are redelivered (flagged) when
//!   a consumer fails before acknowledging: at least once, not exactly once.
//!
//! ## The sans-IO contract
//!
//! The machine never touches a socket, a clock or an allocator: the caller
//! feeds datagrams and deadlines (`handle_*`), drains datagrams, events and
//! the next deadline (`poll_*`), and provides time ([`Instant`](blaze_wire::Instant))
//! and randomness ([`Rng`](blaze_wire::Rng)). Capacities are const
//! generics.
//!
//! ## Design in brief
//!
//! - **Failure detection** (see `detector.rs`): every frame is evidence of
//!   life; members heartbeat each group every `heartbeat_interval`. A member
//!   silent for half the `failure_timeout` is probed every interval, directly
//!   and through `indirect_probes` random members (SWIM ping-req), and is
//!   told it is suspected (a `Suspect` frame) so that it refutes at once with
//!   heartbeats to everybody (Lifeguard). Only a whole `failure_timeout`
//!   without any evidence declares it failed.
//! - **Views** (see `coordinator.rs`): only coordinators issue views; a view
//!   id is a counter plus the issuer, so two coordinators never issue
//!   different views under one id, and members install only newer views
//!   that list both them and the sender. Views are repeated by unicast to
//!   members whose heartbeat does not confirm them yet.
//! - **Point-to-point** (see `messaging.rs`): per-pair sequence numbers,
//!   cumulative acks, go-back-N retransmission.
//! - **Queues** (see `queue.rs`): the coordinator dispatches, producers keep
//!   a copy until a consumer acknowledged, so a coordinator failure loses
//!   nothing (messages come again, flagged `redelivered`).
//!
//! ## What it does not do
//!
//! Broadcast to a group with a quality of service is composed in
//! `blaze-node` from this crate and the multicast protocols. Nothing here
//! authenticates peers. Exactly-once processing of queue messages is not
//! promised. Point-to-point channels restart (a new `p2p_epoch`, numbering
//! from 1, the first message alone until acknowledged) when a member is
//! declared failed;
//! the member that was declared failed learns it from the view that
//! excluded it, or from the merge that brings it back, and restarts its
//! side too, renumbering what it had not got acknowledged.
//!
//! ## Features
//!
//! - `messaging` (default on): point-to-point messages, request/reply and
//!   queues. Without it their commands return [`SendError::NotBuiltIn`],
//!   their frames (`Request`, `Reply`, `Ack`) are counted in
//!   [`Stats::messaging_dropped`] and dropped, their code is not linked,
//!   and the storage slots (`S`) and queue consumers (`CONSUMERS`) may be 0.
//! - `unicast` (default on): unicast discovery ([`Discovery::Unicast`]:
//!   seeds, group-wide frames sent to each member). Without it such a
//!   configuration is refused ([`ConfigError::UnicastNotBuiltIn`]) and its
//!   code is not linked (about 1 KB of a Cortex-M4 image).
//! - `defmt` / `log`: logging (mutually exclusive).
#![no_std]
#![forbid(unsafe_code)]
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

#[macro_use]
mod fmt;

mod config;
pub use config::{Config, ConfigError, Discovery, MAX_SEEDS};
mod error;
pub use error::{GroupError, SendError};
mod event;
pub use event::{Delivery, Event};
mod name;
pub use name::{MAX_METADATA, MAX_NAME, Metadata, Name};
mod stats;
pub use stats::Stats;
mod view;
pub use view::{View, ViewMember};
mod membership;
pub use membership::{
    CONTROL_CAPACITY, EVENT_CAPACITY, Identity, MAX_CONSUMERS, MAX_SUBSCRIPTIONS, MemberInfo,
    Membership,
};

mod coordinator;
mod detector;
mod frames;
mod group;
mod insertion_sort;
mod messaging;
mod peer;
mod pool;
mod queue;
mod receive;
mod transmit;
