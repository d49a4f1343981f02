//! # blaze-sim
//!
//! A deterministic network simulator for Blaze's sans-IO protocol machines,
//! after smoltcp's fault injector and TigerBeetle's VOPR.
//!
//! A [`World`] runs N [`Machine`]s in one process in virtual time. It drives
//! each machine exactly as a real adapter does: after every input it drains
//! `poll_transmit` into one reused buffer of [`Config::mtu`] bytes, drains
//! `poll_event`, and re-reads `poll_timeout`; a deadline fires
//! `handle_timeout` when virtual time reaches it. The event loop is a
//! priority queue of (time, sequence number, happening), so equal times
//! resolve in scheduling order and a run is a pure function of its seed.
//!
//! The network model ([`LinkConfig`]) is set per directed link, for the
//! multicast group, or as a default, and can change mid-run: uniform loss,
//! Gilbert–Elliott bursts, duplication, reordering, delay with jitter, and a
//! bandwidth cap with a bounded tail-drop queue. Faults on nodes: partitions
//! that heal, crash and restart (a fresh machine, state lost), and pauses
//! (a stop-the-world pause after which held datagrams arrive and timers fire
//! late). [`Stats`] counts datagrams and bytes sent, delivered and dropped
//! by [`DropReason`], per node; [`TraceHash`] proves determinism.
//!
//! Around the world: [`SeedRunner`] (and [`run_seeds!`]) runs a scenario
//! over many seeds and prints the one-line replay command of a failing
//! seed, and the invariant checkers ([`check_exactly_once`],
//! [`check_at_most_once`], [`check_fifo`], [`check_total_order`],
//! [`check_same_sequence`], [`check_agreed_order`], [`check_bounded`]) turn
//! recorded deliveries into a [`Violation`] with a readable description.
//!
//! Everything random comes from one [`blaze_wire::Rng`] seeded from the
//! world's seed; nothing touches a socket or a clock. This is a test tool:
//! `std`, unpublished.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod addr;
pub use addr::{MAX_NODES, NODE_PORT, node_addr, node_index};
mod config;
pub use config::{Config, MAX_UDP_PAYLOAD};
mod link;
pub use link::{Bandwidth, GilbertElliott, LinkConfig};
mod machine;
pub use machine::{Machine, Spawn};
mod network;
mod record;
pub use record::{EventRecord, per_node};
mod schedule;
mod stats;
pub use stats::{DropReason, Drops, NodeStats, Stats};
mod trace;
pub use trace::TraceHash;
mod world;
pub use world::World;
mod violation;
pub use violation::{Violation, ViolationKind};
mod exactly_once;
pub use exactly_once::{check_at_most_once, check_exactly_once};
mod fifo;
pub use fifo::check_fifo;
mod order;
pub use order::{check_agreed_order, check_same_sequence, check_total_order};
mod bounded;
pub use bounded::{check_bound, check_bounded};
mod seeds;
pub use seeds::{SEED_ENV, SEEDS_ENV, SeedRunner, TestTarget};
