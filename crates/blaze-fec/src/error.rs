//! The errors of each operation: small `Copy` enums, no allocation.

use core::fmt;

use crate::Backend;

/// Why a [`Codec`](crate::Codec) could not be built. Nothing was created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum ConfigError {
    /// A block needs at least one data symbol.
    NoData,
    /// `data + parity` exceeds 255, the most symbols GF(2^8) can tell apart.
    TooManySymbols {
        /// The `data + parity` asked for.
        total: usize,
    },
    /// This build or this CPU does not have the backend asked for.
    Unsupported(Backend),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::NoData => f.write_str("a block needs at least one data symbol"),
            ConfigError::TooManySymbols { total } => {
                write!(f, "{total} symbols per block, at most 255 are possible")
            }
            ConfigError::Unsupported(b) => write!(f, "backend {b} is not available here"),
        }
    }
}

impl core::error::Error for ConfigError {}

/// Why encoding refused. It checks everything before it writes: no output
/// byte was changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum EncodeError {
    /// The number of data symbols differs from the codec's.
    DataCount {
        /// The codec's data symbol count.
        expected: usize,
        /// The number passed.
        actual: usize,
    },
    /// The number of parity buffers differs from the codec's.
    ParityCount {
        /// The codec's parity symbol count.
        expected: usize,
        /// The number passed.
        actual: usize,
    },
    /// A parity index past the codec's parity count.
    ParityIndex {
        /// The index asked for.
        index: usize,
        /// The codec's parity symbol count.
        parity: usize,
    },
    /// A symbol or buffer whose length differs from the first data symbol's.
    SymbolLength {
        /// The length of the first data symbol.
        expected: usize,
        /// The length found.
        actual: usize,
    },
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeError::DataCount { expected, actual } => {
                write!(f, "{actual} data symbols given, the codec has {expected}")
            }
            EncodeError::ParityCount { expected, actual } => {
                write!(f, "{actual} parity buffers given, the codec has {expected}")
            }
            EncodeError::ParityIndex { index, parity } => {
                write!(
                    f,
                    "parity index {index} out of range, the codec has {parity}"
                )
            }
            EncodeError::SymbolLength { expected, actual } => {
                write!(
                    f,
                    "symbol of {actual} bytes in a block of {expected}-byte symbols"
                )
            }
        }
    }
}

impl core::error::Error for EncodeError {}

/// Why decoding refused. It checks everything before it writes: no output
/// byte was changed (the scratch buffer may have been).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum DecodeError {
    /// The received list does not have one entry per symbol of the block.
    ReceivedCount {
        /// `data + parity`.
        expected: usize,
        /// The number of entries passed.
        actual: usize,
    },
    /// The number of output buffers differs from the number of missing data
    /// symbols.
    LostCount {
        /// Missing data symbols in the received list.
        expected: usize,
        /// Output buffers passed.
        actual: usize,
    },
    /// A symbol or output buffer whose length differs from the first
    /// received symbol's.
    SymbolLength {
        /// The length of the first received symbol.
        expected: usize,
        /// The length found.
        actual: usize,
    },
    /// The scratch buffer is shorter than this erasure pattern needs.
    ScratchTooSmall {
        /// The bytes needed; [`Codec::decode_scratch_len`](crate::Codec::decode_scratch_len)
        /// covers every pattern.
        required: usize,
    },
    /// Fewer symbols than data symbols arrived: more erasures than parity,
    /// so the block cannot be rebuilt.
    TooFewSymbols {
        /// Symbols received.
        received: usize,
        /// Symbols needed: the data symbol count.
        needed: usize,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::ReceivedCount { expected, actual } => {
                write!(
                    f,
                    "{actual} received entries given, the block has {expected} symbols"
                )
            }
            DecodeError::LostCount { expected, actual } => {
                write!(
                    f,
                    "{actual} output buffers given for {expected} missing data symbols"
                )
            }
            DecodeError::SymbolLength { expected, actual } => {
                write!(
                    f,
                    "symbol of {actual} bytes in a block of {expected}-byte symbols"
                )
            }
            DecodeError::ScratchTooSmall { required } => {
                write!(f, "scratch buffer too small, {required} bytes needed")
            }
            DecodeError::TooFewSymbols { received, needed } => {
                write!(f, "{received} symbols received, {needed} needed to decode")
            }
        }
    }
}

impl core::error::Error for DecodeError {}

/// Why a payload could not be put into or read out of a padded symbol.
/// Nothing was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum PadError {
    /// The payload does not fit: the symbol needs `required` bytes.
    SymbolTooSmall {
        /// Bytes needed: the payload plus the length prefix.
        required: usize,
    },
    /// The payload is longer than the length prefix can say (65535 bytes).
    PayloadTooLong,
    /// The symbol's length prefix is longer than the symbol: it is not a
    /// padded symbol, or it was corrupted.
    BadLength {
        /// The length the prefix claims.
        claimed: usize,
    },
}

impl fmt::Display for PadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PadError::SymbolTooSmall { required } => {
                write!(f, "symbol too small, {required} bytes needed")
            }
            PadError::PayloadTooLong => f.write_str("payload longer than 65535 bytes"),
            PadError::BadLength { claimed } => {
                write!(f, "length prefix {claimed} runs past the symbol")
            }
        }
    }
}

impl core::error::Error for PadError {}
