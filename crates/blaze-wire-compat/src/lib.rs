//! # blaze-wire-compat
//!
//! Compatibility oracles for the Blaze wire format. It generates, from the
//! same `proto/blaze.proto` that `blaze-wire` implements by hand:
//!
//! - prost types ([`pb`]), used by tests to prove that `blaze-wire` and a
//!   stock protobuf implementation read each other's bytes, and by
//!   benchmarks as the baseline;
//! - the schema's serialized `FileDescriptorSet`
//!   ([`FILE_DESCRIPTOR_SET`]), from which Python's `protobuf` package (or
//!   any other runtime) builds message classes without `protoc`.
//!
//! This crate is not part of the runtime stack; it needs `std` and `alloc`.

/// prost types generated from `proto/blaze.proto` (package `blaze.v1`).
#[allow(missing_docs, unreachable_pub, clippy::all, reason = "generated code")]
pub mod pb {
    include!(concat!(env!("OUT_DIR"), "/blaze.v1.rs"));
}

/// The serialized `google.protobuf.FileDescriptorSet` of `proto/blaze.proto`.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/blaze.fds"));
