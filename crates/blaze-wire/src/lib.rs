//! # blaze-wire
//!
//! The wire format of Blaze, and the small types every Blaze crate shares.
//!
//! One UDP datagram is one protobuf `Frame` (schema: `proto/blaze.proto`,
//! package `blaze.v1`), so any stock protobuf decoder can read a capture.
//! This crate encodes and decodes frames without allocating:
//!
//! - **Decoding** yields views that borrow the datagram: payloads, keys and
//!   names are slices of the received bytes, and repeated fields are lazy
//!   iterators. Every length is checked against the bytes that remain before
//!   it is used; unknown fields are skipped; nesting is bounded.
//! - **Encoding** writes into a caller's `&mut [u8]`. Every message knows its
//!   `encoded_len()`, and `emit` returns
//!   [`BufferTooSmall`](EncodeError::BufferTooSmall) with the size it needs
//!   instead of writing a partial frame. Nothing here can panic on any input.
//!
//! It also holds the shared small types: [`Instant`] and [`Duration`] in
//! microseconds, [`MemberId`] (128 bits), [`GroupId`], and [`Seq`] with
//! wrap-around comparison.
//!
//! It does not touch sockets, clocks or allocators, and it knows nothing of
//! the protocols' state: those live in the protocol crates.
//!
//! ## Features
//!
//! - `std`: `std::error::Error` impls, an owned `BlazeMessage`, conversions
//!   from `std::time`.
//! - `defmt` / `log`: logging and `defmt::Format` derives (mutually
//!   exclusive).
//! - `fec`, `map`, `messaging`, `totem` (default on): the frame kinds of
//!   the optional protocols ([`Body::Parity`]; [`Body::MapOp`],
//!   [`Body::LockOp`] and [`Body::MapControl`]; [`Body::Request`] and
//!   [`Body::Reply`]; [`Body::Token`]). A build without one decodes a frame
//!   of that kind as an unknown kind ([`Body::Empty`]) and links neither
//!   its decoder nor its encoder; the wire format is unchanged. The
//!   protocol crates turn on the kinds they use, so a firmware that leaves
//!   a protocol out also leaves out its codec.
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

#[cfg(any(test, feature = "std"))]
extern crate std;

#[macro_use]
mod fmt;
#[macro_use]
mod field;
pub use field::{DEFAULT_MAX_DEPTH, Field, Message, Slot};

mod blaze_message;
pub use blaze_message::{BlazeMessage, BlazeMessageWriter, Entry, GetError, PutError};
mod data;
pub use data::{BatchMessages, DataBatch, DataMessage, Qos, RecoveredMessage};
mod error;
pub use error::{DecodeError, EncodeError};
mod frame;
pub use frame::{Body, Frame, VERSION};

mod group;
pub use group::GroupId;
mod heartbeat;
pub use heartbeat::{Heartbeat, StreamMark};
mod map_control;
pub use map_control::{MapControl, MapControlKind};
mod map_op;
pub use map_op::{LockOp, LockOpKind, MapOp, MapOpKind, RequestWindow};
mod member;
pub use member::MemberId;
mod membership;
pub use membership::{Join, Leave, MemberRingState, Probe, SERVICE_MAP, Suspect, View, ViewMember};
mod nack;
pub use nack::{Nack, SeqRange};
mod parity;
pub use parity::Parity;
mod reader;
pub use reader::{Reader, WireType};
mod repeated;
pub use repeated::{Iter, Repeated};
mod request;
pub use request::{Ack, QueueOp, Reply, Request};
mod seq;
pub use seq::Seq;
mod time;
pub use time::{Duration, Instant};
mod token;
pub use token::{RingId, Token};
mod rng;
pub use rng::Rng;
mod transmit;
pub use transmit::{Destination, Transmit};
mod value;
pub use value::Value;
mod writer;
pub use writer::{Writer, tag_len, varint_len};
#[cfg(feature = "std")]
mod message_buf;
#[cfg(feature = "std")]
pub use message_buf::{BlazeMessageBuf, OwnedValue};
