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
//! ## What it does not do
//!
//! Broadcast to a group with a quality of service is composed in
//! `blaze-node` from this crate and the multicast protocols. Nothing here
//! authenticates peers.
//!
//! ## Features
//!
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
    EVENT_CAPACITY, Identity, MAX_CONSUMERS, MAX_SUBSCRIPTIONS, MemberInfo, Membership,
};

mod coordinator;
mod detector;
mod frames;
mod group;
mod messaging;
mod peer;
mod pool;
mod queue;
mod receive;
mod transmit;
