//! Forward error correction of "reliable + FEC" streams
//! ([`Reliability::ReliableFec`](crate::Reliability::ReliableFec)), with
//! the Reed–Solomon code of `blaze-fec`.
//!
//! - **Symbol**: one sequence number, i.e. the `DataMessage` encoding of
//!   the message or fragment it carries (see `symbol.rs`); the symbols of
//!   a block are zero-padded to the longest, and the `Parity` frame
//!   carries their true lengths and the CRC-32C of the block's data.
//! - **Block**: `k` consecutive sequence numbers, `Parity.block` being the
//!   first. The sender closes a block when its `k`-th message has been
//!   sent, or earlier (with fewer symbols) when the stream goes idle (at
//!   the heartbeat) or a NACK names the block being filled.
//! - **Proactive**: after closing a block the sender sends `parity` parity
//!   symbols (rows `0..parity`), before any new data. A receiver holds
//!   back the NACK of a hole while the parity of its block may still come
//!   (until data past the block arrives, or its parity, or a time-out).
//! - **On demand**: a NACK carries `parity_wanted`, the most parity a
//!   block still lacks at that receiver, and the sender answers each
//!   NACKed block with that many *new* rows (never sent before), so that
//!   one repair datagram heals different losses at different receivers
//!   (PGM-style). Within one RTT, further NACKs only add the excess of
//!   their need over what the round already granted. When a block runs out
//!   of rows (`255 - k`) or cannot carry parity, NACKs are answered by
//!   plain retransmission, as is `parity_wanted = 0` (a receiver without
//!   FEC buffers, or one whose rebuilt block failed its check).
//! - **Adaptive**: NACKs carry the receiver's measured loss of first
//!   transmissions (`loss_ppm`, once 128 sequence numbers were seen); a
//!   receiver whose losses parity heals silently sends the report alone
//!   (a NACK without ranges, unicast to the sender) every 256 sequence
//!   numbers. The sender takes the largest report of the last one to two
//!   windows of 32 blocks and sends the expected loss of a block plus
//!   three standard deviations, within `[min_parity, max_parity]`.
//! - **Integrity**: a rebuilt block is delivered only when the CRC-32C of
//!   its data symbols matches `block_crc`; otherwise its parity is dropped
//!   (counted in [`FecStats::crc_failures`]) and its holes are repaired by
//!   retransmission.
//!
//! Everything lives in the caller's [`FecBuffers`]: the coding scratch
//! (shared by the encoder and the decoder) and the pool of received
//! parity symbols.

mod block;
mod buffers;
mod config;
mod encoder;
mod pool;
mod repair;
mod stats;
mod symbol;

pub use buffers::FecBuffers;
pub use config::FecConfig;
pub use stats::FecStats;

pub(crate) use block::MAX_BLOCKS;
pub(crate) use encoder::Encoder;
pub(crate) use pool::Pool;
pub(crate) use repair::{FecRx, Stream, after_data, on_parity};

/// The FEC state of an endpoint: the encoder of the local stream, the
/// pool of received parity, the scratch and the counters.
#[derive(Debug)]
pub(crate) struct Fec<'a> {
    pub(crate) encoder: Encoder,
    pub(crate) pool: Pool<'a>,
    pub(crate) scratch: &'a mut [u8],
    pub(crate) stats: FecStats,
}

impl<'a> Fec<'a> {
    pub(crate) fn new(buffers: FecBuffers<'a>, config: &crate::Config) -> Self {
        Fec {
            encoder: Encoder::default(),
            pool: Pool::new(buffers.parity, FecBuffers::parity_slot_len(config)),
            scratch: buffers.scratch,
            stats: FecStats::default(),
        }
    }

    pub(crate) fn into_buffers(self) -> FecBuffers<'a> {
        FecBuffers {
            scratch: self.scratch,
            parity: self.pool.into_bytes(),
        }
    }
}
