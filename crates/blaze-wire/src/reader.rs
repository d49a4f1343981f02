//! Bounds-checked reading of protobuf primitives.

use crate::DecodeError;

/// Protobuf wire types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum WireType {
    /// Variable-length integer.
    Varint,
    /// 8 bytes, little-endian.
    I64,
    /// Length-delimited: a varint length, then that many bytes.
    Len,
    /// 4 bytes, little-endian.
    I32,
}

impl WireType {
    /// The 3-bit code of the wire type.
    pub const fn code(self) -> u8 {
        match self {
            WireType::Varint => 0,
            WireType::I64 => 1,
            WireType::Len => 2,
            WireType::I32 => 5,
        }
    }
}

/// A cursor over an encoded message. Every read checks the remaining bytes
/// first; no read can panic.
///
/// ```
/// use blaze_wire::{Reader, WireType};
/// let mut r = Reader::new(&[0x08, 0x96, 0x01]);
/// assert_eq!(r.tag(), Ok((1, WireType::Varint)));
/// assert_eq!(r.varint(), Ok(150));
/// assert!(r.is_empty());
/// ```
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over `buf`.
    pub const fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    /// True when every byte has been read.
    pub const fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The bytes not read yet.
    pub const fn remaining(&self) -> &'a [u8] {
        self.buf
    }

    /// Reads a varint of up to 64 bits.
    #[inline]
    pub fn varint(&mut self) -> Result<u64, DecodeError> {
        if let [b, rest @ ..] = self.buf
            && *b < 0x80
        {
            self.buf = rest;
            return Ok(u64::from(*b));
        }
        self.varint_slow()
    }

    #[inline(never)]
    fn varint_slow(&mut self) -> Result<u64, DecodeError> {
        let mut value: u64 = 0;
        for (i, &byte) in self.buf.iter().enumerate().take(10) {
            if i == 9 && byte > 1 {
                return Err(DecodeError::VarintOverflow);
            }
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte < 0x80 {
                self.buf = self.buf.get(i + 1..).unwrap_or(&[]);
                return Ok(value);
            }
        }
        if self.buf.len() >= 10 {
            Err(DecodeError::VarintOverflow)
        } else {
            Err(DecodeError::Truncated)
        }
    }

    /// Reads a tag: the field number and its wire type.
    #[inline]
    pub fn tag(&mut self) -> Result<(u32, WireType), DecodeError> {
        let key = self.varint()?;
        let wire = match key & 7 {
            0 => WireType::Varint,
            1 => WireType::I64,
            2 => WireType::Len,
            5 => WireType::I32,
            _ => return Err(DecodeError::UnsupportedWireType),
        };
        let field = key >> 3;
        if field == 0 || field > (1 << 29) - 1 {
            return Err(DecodeError::InvalidFieldNumber);
        }
        Ok((field as u32, wire))
    }

    /// Reads `n` bytes.
    #[inline]
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if n > self.buf.len() {
            return Err(DecodeError::Truncated);
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    /// Reads 4 little-endian bytes.
    #[inline]
    pub fn fixed32(&mut self) -> Result<u32, DecodeError> {
        let b = self.bytes(4)?;
        let mut a = [0u8; 4];
        a.copy_from_slice(b);
        Ok(u32::from_le_bytes(a))
    }

    /// Reads 8 little-endian bytes.
    #[inline]
    pub fn fixed64(&mut self) -> Result<u64, DecodeError> {
        let b = self.bytes(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    /// Reads a length prefix and the bytes it covers. The length is checked
    /// against the bytes that remain before anything is sliced.
    #[inline]
    pub fn len_delimited(&mut self) -> Result<&'a [u8], DecodeError> {
        let len = self.varint()?;
        if len > self.buf.len() as u64 {
            return Err(DecodeError::LengthOutOfBounds);
        }
        self.bytes(len as usize)
    }

    /// Skips one value of the given wire type.
    #[inline]
    pub fn skip(&mut self, wire: WireType) -> Result<(), DecodeError> {
        match wire {
            WireType::Varint => self.varint().map(drop),
            WireType::I64 => self.bytes(8).map(drop),
            WireType::Len => self.len_delimited().map(drop),
            WireType::I32 => self.bytes(4).map(drop),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_edge_cases() {
        assert_eq!(Reader::new(&[0x00]).varint(), Ok(0));
        assert_eq!(Reader::new(&[0x80]).varint(), Err(DecodeError::Truncated));
        assert_eq!(Reader::new(&[]).varint(), Err(DecodeError::Truncated));
        let max = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        assert_eq!(Reader::new(&max).varint(), Ok(u64::MAX));
        let over = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02];
        assert_eq!(
            Reader::new(&over).varint(),
            Err(DecodeError::VarintOverflow)
        );
        let long = [0x80; 11];
        assert_eq!(
            Reader::new(&long).varint(),
            Err(DecodeError::VarintOverflow)
        );
        // Non-minimal encodings are accepted, as every protobuf runtime does.
        assert_eq!(Reader::new(&[0x81, 0x00]).varint(), Ok(1));
    }

    #[test]
    fn tag_rejects_bad_numbers_and_types() {
        assert_eq!(
            Reader::new(&[0x00]).tag(),
            Err(DecodeError::InvalidFieldNumber)
        );
        assert_eq!(
            Reader::new(&[0x0b]).tag(),
            Err(DecodeError::UnsupportedWireType)
        );
        assert_eq!(
            Reader::new(&[0x0e]).tag(),
            Err(DecodeError::UnsupportedWireType)
        );
    }

    #[test]
    fn length_past_end_is_an_error() {
        assert_eq!(
            Reader::new(&[0x05, 1, 2]).len_delimited(),
            Err(DecodeError::LengthOutOfBounds)
        );
        let huge = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        assert_eq!(
            Reader::new(&huge).len_delimited(),
            Err(DecodeError::LengthOutOfBounds)
        );
    }
}
