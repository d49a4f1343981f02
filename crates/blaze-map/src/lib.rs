//! # blaze-map
//!
//! A replicated state map for Blaze groups, after ActiveMQ 5's
//! `org.apache.activemq.group.Group` map: several named maps of byte keys
//! and values, write locks with leases and fencing tokens, change events,
//! fail-over with no single point of failure, state transfer to joiners,
//! and split-brain handling.
//!
//! ## How it works
//!
//! Every member holds the whole state. The coordinator of the current view
//! sequences every write in one total order and multicasts it; members
//! apply operations strictly in order, re-request gaps from the
//! coordinator's bounded log, and acknowledge. A write completes once every
//! state-holding member of the view (and at least the configured quorum)
//! acknowledged it. A new coordinator first collects every member's
//! history and continues the longest one of the newest epoch, re-basing
//! every lock lease to its own clock; joiners pull a snapshot, then follow
//! the stream. A merged view picks a side by policy and reports it.
//! See [`Replica`] for the details and `README.md` for what is proven by
//! the simulation tests.
//!
//! With [`Ordering::Totem`] a total-order broadcast with extended virtual
//! synchrony (the Totem ring of `blaze-proto-totem`) orders the operations
//! instead: every member decides each outcome at the operation's position
//! (`Replica::poll_ordered_submit`, `Replica::handle_delivered`,
//! `Replica::handle_configuration`; feature `ring`).
//!
//! ## Sans-IO
//!
//! [`Replica`] never touches a socket, a clock or an allocator: feed it
//! views, datagrams and time; drain `poll_transmit`, `poll_event` and
//! `poll_timeout`. Capacities are const generics.
//!
//! ## Features
//!
//! - `ring` (default): the ring-ordered mode ([`Ordering::Totem`]).
//!   Without it [`Config::validate`] refuses that ordering
//!   ([`ConfigError::RingNotBuiltIn`]) and the mode's code is not built.
//! - `log` / `defmt`: protocol milestones (views, syncs, snapshots) are
//!   logged at debug level (mutually exclusive).
//!
//! ## What it does not do
//!
//! It does not detect failures or build views: the membership layer does,
//! and the composing node passes each view to
//! [`Replica::handle_view`]. It brings its own reliability for the
//! sequenced stream (order numbers, gap detection, re-requests,
//! retransmission from a bounded log) rather than relying on a reliable
//! multicast layer.
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
pub use config::{Config, ConfigError, MergePolicy, Ordering};
mod dedup;
pub use dedup::MAX_ORIGINS;
mod error;
pub use error::{CommandError, WriteError};
mod event;
pub use event::{Change, ChangeKind, EVENT_QUEUE, Event, LockLostReason, RequestId};
mod frames;
mod log;
mod op;
#[cfg(feature = "ring")]
mod ordered;
#[cfg(feature = "ring")]
pub use ordered::{RingConfiguration, Submit};
mod replica;
pub use replica::{EntryRef, LockInfo, Replica};
mod request;
pub use request::{MAX_HELD, MAX_PENDING, WriteOptions};
mod stats;
pub use stats::Stats;
mod store;
pub use store::{
    FLAG_OWNER_ONLY, FLAG_RELEASE_LOCK_ON_EXIT, FLAG_REMOVE_ON_EXIT, MAX_MAP_NAME, MAX_MAPS,
};
mod view;
pub use view::{ViewInfo, ViewMember};

/// Most members in a view a replica tracks by default (its `MEMBERS`).
pub const MAX_MEMBERS: usize = 16;
