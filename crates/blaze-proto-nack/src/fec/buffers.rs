//! The storage FEC borrows: coding scratch and the parity pool.

use crate::Config;
use crate::fec::pool::SLOT_HEADER;
use crate::fec::symbol::SYMBOL_OVERHEAD;

/// Storage for forward error correction, passed to
/// [`Endpoint::with_fec`](crate::Endpoint::with_fec).
///
/// - `scratch`: the symbols of the block being encoded or decoded, plus
///   the decoder's work space; see [`FecBuffers::scratch_needed`].
/// - `parity`: the receive pool, where parity symbols of other members'
///   streams wait until a block can be rebuilt; cut into slots of
///   [`FecBuffers::parity_slot_len`] bytes (the oldest slot is reused
///   when all are taken). Empty disables decoding: this member then asks
///   for plain retransmissions (`parity_wanted = 0` in its NACKs).
///
/// Nothing is allocated: firmware can point both at `static` arrays.
#[derive(Debug, Default)]
pub struct FecBuffers<'a> {
    /// Encoding and decoding scratch.
    pub scratch: &'a mut [u8],
    /// Received parity symbols.
    pub parity: &'a mut [u8],
}

impl FecBuffers<'_> {
    /// The longest symbol an endpoint with `config` handles.
    pub const fn symbol_max(config: &Config) -> usize {
        config.fragment_size() + SYMBOL_OVERHEAD
    }

    /// Scratch bytes to encode and decode blocks of up to `max_k` data
    /// symbols: `(max_k + 1)` symbols plus the decoder's work space.
    ///
    /// ```
    /// use blaze_proto_nack::{Config, FecBuffers};
    /// let need = FecBuffers::scratch_needed(&Config::lan(), 16);
    /// assert!(need > 16 * Config::lan().fragment_size());
    /// ```
    pub const fn scratch_needed(config: &Config, max_k: usize) -> usize {
        (max_k + 1) * Self::symbol_max(config) + blaze_fec::decode_scratch_len(max_k, max_k)
    }

    /// Bytes of one slot of the parity pool.
    pub const fn parity_slot_len(config: &Config) -> usize {
        SLOT_HEADER + Self::symbol_max(config)
    }
}
