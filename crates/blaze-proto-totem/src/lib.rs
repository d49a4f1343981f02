//! # blaze-proto-totem
//!
//! The Totem single-ring protocol (Amir, Moser, Melliar-Smith, Agarwal,
//! Ciarfella, ACM TOCS 1995) for Blaze: total order with agreed and safe
//! delivery, its own membership algorithm, and extended virtual synchrony,
//! as an allocation-free `no_std` sans-IO state machine ([`Totem`]).
//!
//! Members form a logical ring. A token circulates (unicast to the next
//! member) carrying the ring id, the highest sequence number, the
//! all-received-up-to (`aru`) mark, retransmission requests and
//! flow-control counts. Its holder serves retransmission requests, then
//! broadcasts queued messages within the flow-control allowance (when
//! others have messages queued too, at most its share of a rotation, split
//! by the queues the token's `backlog` reports), batched several to a
//! datagram, and passes it on. Messages are delivered in
//! sequence-number order: agreed ones once all before them are delivered,
//! safe ones once the token showed on two successive visits that every
//! member holds them. A forwarded token is retransmitted until the holder
//! sees evidence that it arrived; a member that has not seen the token for
//! the token timeout starts the membership protocol (gather: joins until
//! consensus, failed members excluded after a timeout; commit: a commit
//! token circulates twice; recovery: the old ring's messages are exchanged
//! on the new ring), and reports the change with a transitional and a
//! regular [`Event::ConfigurationChange`].
//!
//! A busy ring turns without pause. Once nothing has happened at a member
//! for `token_linger`, it holds an idle token for `token_hold` before
//! passing it on, so an idle ring costs little; a member that queues a
//! message meanwhile multicasts a token request, and every member then
//! passes the token on at once (a holder with a message of its own queued
//! takes the held token for a new visit). So a message waits for no timer:
//! at most a rotation on a busy ring, a request and two token hops on an
//! idle one.
//!
//! The representative of each ring multicasts a small announcement every
//! `merge_interval`; a member that hears another ring (a partition healed)
//! starts the membership protocol, so rings merge. Events follow extended
//! virtual synchrony: the old ring's messages that members of the new ring
//! hold are re-sent on it (encapsulated) before it is installed; then each
//! member delivers the old ring's remaining messages up to the highest any
//! of them delivered, a transitional configuration (the members coming
//! from the same old ring), the rest of the recovered messages, and the
//! regular configuration of the new ring.
//!
//! ## Wire use
//!
//! `Token`, `Join` (`proc_set`, `fail_set`, `ring_seq`), `View` as the
//! commit token (`commit_hop` counts its hops, `ring_states` carries each
//! member's old ring, aru and highest delivered) and `DataBatch` with
//! `Qos::AGREED` / `Qos::SAFE`, whose `ring` names the ring, whose
//! messages carry their own `topic`, and whose `Frame.sender` is the
//! message's originator (also on retransmissions). During recovery a batch
//! names the re-sender's old ring in `recovered_from`, and each message its
//! original sender, sequence number and qos in `DataMessage.recovered`.
//! An empty `DataBatch` on the ring is the representative's announcement
//! (`first_seq` 0) or a token request (`first_seq` the requester's aru
//! plus one, never 0); an older member ignores both on its own ring. Only
//! an announcement of another ring starts a merge, never a request.
//!
//! ## The sans-IO contract
//!
//! The caller owns the socket, the clock and the storage. Feed input with
//! `handle_datagram(now, from, bytes)` and `handle_timeout(now)`; drain
//! `poll_transmit(now, buf)`, `poll_event()` and read `poll_timeout()`
//! after each input (or after each batch of input: a received token is
//! processed at the next `poll_transmit` or `handle_timeout`, after the
//! data that came in with it, and `poll_timeout` is due at once while one
//! waits). A process that finds its token timeout long overdue has
//! stalled: it leaves its ring and, for a join interval, drops the joins
//! it reads, which may have waited out the stall. Capacities are const
//! generics; the message storage is lent
//! ([`Buffers`]). Malformed input is
//! counted by reason in [`Stats`] and dropped, never a panic.
//!
//! ## Not here
//!
//! Fragmentation of messages larger than a slot ([`Totem::MAX_PAYLOAD`]),
//! multiple rings (the redundant-ring protocol), and persistence: a process
//! that restarts with the same member id must restore its ring sequence
//! number ([`Totem::with_ring_seq_floor`]); one with a fresh id needs
//! nothing.
//!
//! ## Features
//!
//! - `log` / `defmt`: logging and `defmt::Format` derives (mutually
//!   exclusive).
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
pub use config::{Config, ConfigError};
mod error;
pub use error::SendError;
mod event;
pub use event::{ConfigurationKind, Event};
mod frames;
mod qos;
pub use qos::Qos;
mod stats;
pub use stats::Stats;
mod totem;
pub use totem::Totem;
mod window;
pub use window::{Buffers, INLINE, Slot};
