//! Errors of the codec.

use core::fmt;

/// Why a buffer could not be decoded. Decoding never changes any state: a
/// frame that fails is simply dropped (and counted by the caller).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum DecodeError {
    /// The buffer ended inside a tag, varint or fixed-width value.
    Truncated,
    /// A varint ran past 10 bytes or past 64 bits.
    VarintOverflow,
    /// A known field arrived with a wire type its schema does not allow.
    WrongWireType {
        /// The field number.
        field: u32,
    },
    /// A wire type that protobuf does not define (6, 7) or the deprecated
    /// group wire types (3, 4).
    UnsupportedWireType,
    /// A tag with field number 0, or one above 2^29 - 1.
    InvalidFieldNumber,
    /// A length prefix points past the end of its enclosing message.
    LengthOutOfBounds,
    /// Messages nest deeper than the configured limit.
    TooDeep,
    /// A `string` field is not valid UTF-8.
    InvalidUtf8,
    /// A member id is neither empty nor exactly 16 bytes.
    InvalidId,
    /// A value is out of the range its type allows (for example a `byte`
    /// outside -128..=127).
    OutOfRange {
        /// The field number.
        field: u32,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Truncated => f.write_str("buffer ends inside a value"),
            DecodeError::VarintOverflow => f.write_str("varint longer than 64 bits"),
            DecodeError::WrongWireType { field } => {
                write!(f, "field {field} has a wire type its schema does not allow")
            }
            DecodeError::UnsupportedWireType => f.write_str("unsupported wire type"),
            DecodeError::InvalidFieldNumber => f.write_str("invalid field number"),
            DecodeError::LengthOutOfBounds => {
                f.write_str("length prefix past the end of the message")
            }
            DecodeError::TooDeep => f.write_str("messages nested deeper than the limit"),
            DecodeError::InvalidUtf8 => f.write_str("string field is not valid UTF-8"),
            DecodeError::InvalidId => f.write_str("member id is not 16 bytes"),
            DecodeError::OutOfRange { field } => write!(f, "field {field} is out of range"),
        }
    }
}

impl core::error::Error for DecodeError {}

/// Why a message could not be encoded. Nothing useful was written: the
/// buffer's contents are unspecified.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum EncodeError {
    /// The buffer is shorter than the encoding.
    BufferTooSmall {
        /// Bytes the encoding needs.
        required: usize,
    },
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeError::BufferTooSmall { required } => {
                write!(f, "buffer too small: {required} bytes required")
            }
        }
    }
}

impl core::error::Error for EncodeError {}
