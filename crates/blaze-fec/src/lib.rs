//! # blaze-fec
//!
//! Forward error correction for Blaze's "reliable + FEC" multicast: a
//! systematic Reed–Solomon erasure code over GF(2^8), and the CRC-32C that
//! guards a rebuilt block.
//!
//! A block is `k` data symbols plus `m` parity symbols (`k + m <= 255`),
//! byte strings of one length. The data symbols go out unchanged
//! (systematic); any `k` of the `k + m` symbols rebuild the others. The
//! generator is a Cauchy matrix below the identity, so every choice of `k`
//! symbols works, and decoding solves only the `e x e` system of the `e`
//! lost data symbols, in closed form: decoding `e` symbols costs what
//! encoding `e` parity symbols costs.
//!
//! - [`Codec`]: [`encode`](Codec::encode), [`encode_one`](Codec::encode_one)
//!   (parity on demand), [`decode`](Codec::decode). Data, parity, outputs
//!   and scratch are the caller's slices, so a sender or receiver points the
//!   codec straight at the slots of its own window ring; nothing is copied
//!   into the codec and nothing is allocated.
//! - [`crc32c()`] / [`Crc32c`]: a per-block check. An erasure code fills gaps
//!   but cannot see corruption: a parity symbol damaged in transit yields
//!   wrong data, which the block's CRC then exposes.
//! - [`pad_symbol`] / [`unpad_symbol`]: carry each payload's true length
//!   inside its padded symbol.
//!
//! Every error is a typed value, checked before any output byte is written:
//! too few symbols to decode, a bad shape, a length or count that does not
//! fit, scratch too small. Nothing here panics on any input.
//!
//! This crate is arithmetic only: which symbols form a block, when parity is
//! sent and how the lengths and CRC travel are the protocol's
//! (`blaze-proto-nack`).
//!
//! ## Backends and features
//!
//! The portable backend is table-driven (a 64 KiB product table and small
//! log, power and inverse tables, all `static` and built by `const fn`, so
//! no build script) and runs on every target, `no_std`, without `alloc`.
//! Feature `small-tables` is for flash-constrained targets: the portable
//! kernel then multiplies through 16-entry nibble products computed from
//! the log and power tables, and CRC-32C goes four bits per lookup in a
//! 64-byte table, about 2 KiB of tables in all instead of 72 KiB, at a
//! lower speed. It changes no result and no SIMD kernel.
//!
//! With the `std` feature on x86_64, [`Codec::new`] detects the CPU at run
//! time (`is_x86_feature_detected!`) and picks, best first: GFNI
//! `gf2p8affineqb` on AVX-512 registers, GFNI on AVX2 registers, AVX2
//! `vpshufb`, SSSE3 `pshufb` (the last two split each byte into nibbles and
//! look both up in 16-entry product tables). [`Codec::portable`] and
//! [`Codec::with_backend`] force one. All backends give identical bytes,
//! which the tests check. The SIMD module is the only place with `unsafe`
//! code (the crate denies it elsewhere); each block states why it is sound.
//!
//! Feature `defmt` derives `defmt::Format` on the errors and [`Backend`].
#![no_std]
#![deny(unsafe_code)]
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

mod cauchy;
mod gf256;
#[cfg(all(feature = "std", target_arch = "x86_64"))]
#[allow(
    unsafe_code,
    reason = "SIMD intrinsics load and store through raw pointers and need a detected CPU feature"
)]
mod simd;

mod codec;
pub use codec::{Codec, MAX_SYMBOLS, decode_scratch_len};
mod crc32c;
pub use crc32c::{Crc32c, crc32c};
mod error;
pub use error::{ConfigError, DecodeError, EncodeError, PadError};
mod kernel;
pub use kernel::Backend;
mod padding;
pub use padding::{LEN_PREFIX, pad_symbol, padded_len, unpad_symbol};
