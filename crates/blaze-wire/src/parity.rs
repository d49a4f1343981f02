//! Forward error correction parity symbols.

use crate::Repeated;

message! {
    /// One Reed–Solomon parity symbol of a block (`blaze.v1.Parity`).
    pub struct Parity<'a> {
        /// The stream the block belongs to.
        1 => stream: u32,
        /// Sequence number of the block's first data symbol.
        2 => block: u64,
        /// Data symbols in the block.
        3 => k: u32,
        /// Parity symbols the sender can produce for the block.
        4 => m: u32,
        /// Index of this symbol in the block (`k <= index < k + m`).
        5 => index: u32,
        /// The symbol bytes.
        6 => symbol: &'a [u8],
        /// Encoded lengths of the k data symbols before padding.
        7 => lengths: Repeated<'a, u32>,
        /// CRC-32C over the block's data symbols.
        8 => block_crc: u32,
    }
}
