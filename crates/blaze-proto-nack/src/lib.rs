//! # blaze-proto-nack
//!
//! NACK-based reliable multicast for Blaze: per-sender FIFO delivery,
//! exactly once, as an allocation-free `no_std` sans-IO state machine.
//!
//! Each member of a group runs one [`Endpoint`]: a local sending stream
//! and a bounded table of remote senders. Every message gets a sequence
//! number; receivers track holes with a fixed-size [`Gaps`] tracker and,
//! after a random back-off scaled to the measured round-trip time, multicast
//! a NACK for the missing ranges, so that other receivers missing the same
//! data suppress theirs. The sender answers with rate-limited repairs from
//! its retransmit window (caller storage) and ignores repeated NACKs for
//! what it repaired less than one RTT ago. Heartbeats carry the sender's
//! highest sequence number (exposing tail loss) and timestamps echoed for
//! RTT estimation ([`RttEstimator`]). Receivers acknowledge what they
//! consumed, so the window is held to the slowest receiver (or cuts a
//! laggard loose with an event). When a receiver needs data the sender no
//! longer holds, it gets [`Event::Unrecoverable`] and delivery continues:
//! nothing is ever lost silently.
//!
//! Large messages are fragmented and reassembled in a borrowed buffer;
//! small ones are batched into one datagram up to the MTU (a lone message
//! on an idle stream goes out at once). Best-effort streams use the same
//! API without window or NACKs.
//!
//! "Reliable + FEC" streams ([`Reliability::ReliableFec`], [`FecConfig`])
//! add Reed–Solomon parity (`blaze-fec`) over blocks of `k` sequence
//! numbers: proactive (`m` parity symbols after each block, which
//! receivers wait for before NACKing), on demand (a NACK is answered with
//! as many new parity symbols as the largest loss reported, so that one
//! repair datagram heals different losses at different receivers) and
//! adaptive (the proactive parity follows the loss rate receivers report).
//! A rebuilt block is delivered only when its CRC-32C matches. The coding
//! scratch and the pool of received parity are the caller's
//! ([`FecBuffers`], [`Endpoint::with_fec`]); [`FecStats`] counts.
//!
//! ## The sans-IO contract
//!
//! The caller owns the socket, the clock and the storage. Feed input with
//! `handle_datagram(now, from, bytes)` and `handle_timeout(now)`; drain
//! `poll_transmit(now, buf)`, `poll_event(now)` and read `poll_timeout()`
//! after each input. Time is an injected [`Instant`](blaze_wire::Instant),
//! randomness is a seeded generator, capacities are const generics and
//! borrowed slices ([`Buffers`]). Malformed input is counted by reason in
//! [`Stats`] and dropped, never a panic.
//!
//! ## Not here
//!
//! Membership (who is in the group) comes from `blaze-membership` through
//! [`Endpoint::add_peer`] / [`Endpoint::remove_peer`]: an endpoint accepts
//! frames only from the peers it was given (others are counted in
//! [`Drops::unknown_peer`] and dropped) unless it is opened to any sender
//! with [`Endpoint::set_open`]; total order is
//! `blaze-proto-totem`; the Reed–Solomon arithmetic of "reliable + FEC"
//! streams ([`Reliability::ReliableFec`], see [`FecConfig`]) is
//! `blaze-fec`.
//!
//! ## Features
//!
//! - `log` / `defmt`: logging and `defmt::Format` derives (mutually
//!   exclusive).
//! - `fec` (default): "reliable + FEC" streams. Without it no FEC code
//!   is linked: a [`Reliability::ReliableFec`] configuration is refused
//!   with [`ConfigError::Fec`], parity frames are dropped (counted in
//!   [`FecStats::parity_dropped`]) and NACKs of other members' FEC streams
//!   ask for plain retransmission. The FEC types stay, so code naming them
//!   builds either way.
//! - `simd`: run-time detected SIMD kernels for the FEC arithmetic
//!   (`blaze-fec/std`, x86_64; needs `std`).
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
pub use config::{Config, ConfigError, FRAME_OVERHEAD, LateJoin, MAX_TOPIC_LEN, Reliability};
mod endpoint;
pub use endpoint::{Buffers, Endpoint, Identity};
mod error;
pub use error::{PeerTableFull, SendError};
mod event;
pub use event::{CutReason, Event};
mod fec;
pub use fec::{FecBuffers, FecConfig, FecStats};
mod frames;
mod gaps;
pub use gaps::{Gaps, GapsFull, Missing};
mod peer;
mod receiver;
pub use receiver::RxSlot;
mod rtt;
pub use rtt::RttEstimator;
mod send_window;
pub use send_window::SendSlot;
mod stats;
pub use stats::{Drops, RecvStats, SendStats, Stats};
mod token_bucket;
pub use token_bucket::TokenBucket;
