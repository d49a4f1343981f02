//! # blaze-embassy
//!
//! Blaze on [embassy](https://embassy.dev): runs a sans-IO Blaze machine —
//! normally a composed [`Node`](blaze_node::Node) — on embassy-net UDP
//! sockets with embassy-time timers, `no_std` and without `alloc`.
//!
//! The shape is embassy-net's own:
//!
//! - [`Resources`]: the node's static storage (the machine's slot, the
//!   runner's buffers, the sockets' packet buffers), for a `static`;
//! - [`new`]: binds a unicast socket and a socket on the group's port,
//!   and returns a [`Blaze`] handle and a [`Runner`];
//! - [`Runner::run`] `-> !`: the task that owns the sockets and the timer
//!   and drives the machine by its polling order (timers, transmits,
//!   events, deadline), joining the group's IPv4 multicast address first;
//! - [`Blaze`]: a `Copy` handle for the application's tasks, with
//!   `poll_*` + `async fn` pairs (`poll_event`/`event`,
//!   `poll_publish`/`publish`, `poll_until`/`until`) and the node's
//!   commands (`join`, `publish`, `map_put`, `lock`, …; the map's with
//!   feature `map`).
//!
//! Group datagrams go to the group's multicast address, unicast ones to the
//! peer; all leave from the unicast socket, as with `blaze-std`, so
//! members on embassy and on `std` form one group. Randomness comes from
//! the machine's seed (`Identity::seed`), which the caller draws from its
//! hardware RNG; time comes from embassy-time (deadlines are rounded up to
//! the next tick).
//!
//! [`Hub`] is an in-memory Ethernet hub with seeded loss: several
//! embassy-net stacks in one program, for tests and for firmware that
//! exercises its stack without a network device.
//!
//! ## Features
//!
//! - `defmt`: logging of the adapter and of the node's machines through
//!   `defmt` (the crate's `fmt.rs` shim), and `defmt::Format` on its types.
//! - `map` (default on): the handle's replicated-map and lock calls
//!   (`map_put`, `map_get`, `lock`, …), and `blaze-node/map`. A member
//!   without a map leaves it out (`default-features = false`) and links
//!   no map code.
//!
//! `no_std`, no `alloc`, no `unsafe`.
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

mod blaze;
pub use blaze::Blaze;
mod config;
pub use config::Config;
mod error;
pub use error::BindError;
mod hub;
pub use hub::{HUB_MTU, Hub, HubStats, Port, PortRx, PortTx};
mod node;
pub use node::AsNode;
mod resources;
pub use resources::{MAX_DATAGRAM, Resources};
mod runner;
pub use runner::{Runner, new};
mod shared;
mod stats;
pub use stats::Stats;
mod time;
pub use time::now;
