//! FEC counters.

/// Counters of forward error correction, sending and receiving
/// ([`Endpoint::fec_stats`](crate::Endpoint::fec_stats)).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct FecStats {
    /// Blocks closed by the local stream (full or at idle).
    pub blocks: u64,
    /// Blocks of the local stream for which some NACK arrived.
    pub blocks_nacked: u64,
    /// Proactive parity datagrams sent.
    pub proactive_parity: u64,
    /// Parity datagrams sent on demand (answering NACKs).
    pub on_demand_parity: u64,
    /// NACKed sequence numbers answered with parity instead of a
    /// retransmission.
    pub nacked_seqs_to_parity: u64,
    /// The current proactive parity per block.
    pub current_parity: u64,
    /// Loss reports sent alone (a NACK without ranges, to the sender),
    /// for streams whose losses parity healed without NACKs.
    pub loss_reports: u64,
    /// Parity datagrams received.
    pub parity_received: u64,
    /// Parity that arrived for a block with nothing missing here.
    pub parity_unneeded: u64,
    /// Parity dropped: malformed, inconsistent or too large for the
    /// buffers.
    pub parity_dropped: u64,
    /// Blocks rebuilt and verified here.
    pub blocks_recovered: u64,
    /// Messages (sequence numbers) rebuilt here.
    pub symbols_recovered: u64,
    /// Rebuilt blocks refused because the block CRC did not match (a
    /// corrupted symbol); their holes go back to plain retransmission.
    pub crc_failures: u64,
    /// Blocks that could not be rebuilt here because a data symbol's
    /// receive slot was already reused (or does not match the parity's
    /// lengths); their holes go back to plain retransmission.
    pub blocks_unusable: u64,
}
