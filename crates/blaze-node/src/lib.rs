//! # blaze-node
//!
//! The sans-IO core of a Blaze node: the [`Protocol`] trait that every Blaze
//! protocol machine implements, and the small helpers needed to compose
//! several machines into one.
//!
//! A protocol machine never touches a socket, a clock, an allocator or a
//! random source. An adapter (`blaze-std` on tokio, `blaze-embassy` on
//! embassy-net) owns those and drives any [`Protocol`] with five verbs:
//! datagrams and deadlines go in through `handle_*`, datagrams, events and
//! the next deadline come out through `poll_*`. The trait's documentation
//! states the polling order every adapter follows.
//!
//! Helpers for composition:
//!
//! - [`RoundRobin`]: a fair cursor that merges the `poll_transmit` output of
//!   `N` machines, so a chatty machine cannot starve the others.
//! - [`earliest`]: the earliest of several machines' `poll_timeout`.
//!
//! ## What this crate does not do (yet)
//!
//! The `Node` that composes the protocol crates (NACK-based reliable
//! multicast, Totem, membership, the replicated map) into one machine that
//! routes frames and picks a protocol per channel lands here together with
//! those crates. Until then this crate holds only the pieces that do not
//! depend on them.
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

mod deadline;
pub use deadline::earliest;
mod protocol;
pub use protocol::Protocol;
mod round_robin;
pub use round_robin::RoundRobin;

/// Re-exported from `blaze-wire` for implementers of [`Protocol`].
pub use blaze_wire::{Destination, Duration, Instant, Transmit};
