//! Writing protobuf primitives into a caller's buffer.

use crate::WireType;

/// Encoded length of a varint.
///
/// ```
/// assert_eq!(blaze_wire::varint_len(0), 1);
/// assert_eq!(blaze_wire::varint_len(300), 2);
/// assert_eq!(blaze_wire::varint_len(u64::MAX), 10);
/// ```
pub const fn varint_len(v: u64) -> usize {
    // 1 + floor(bits / 7), with bits = 64 - leading zeros (at least 1).
    let bits = 64 - (v | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

/// Encoded length of a tag for field `field`.
pub const fn tag_len(field: u32) -> usize {
    varint_len((field as u64) << 3)
}

/// A cursor writing into a caller's buffer.
///
/// A write that does not fit is not performed; the writer remembers that it
/// overflowed and how many bytes the whole encoding needed, so the caller
/// reports [`EncodeError::BufferTooSmall`](crate::EncodeError::BufferTooSmall)
/// instead of sending a partial frame. Writing can never panic.
///
/// ```
/// use blaze_wire::{WireType, Writer};
/// let mut buf = [0u8; 4];
/// let mut w = Writer::new(&mut buf);
/// w.tag(1, WireType::Varint);
/// w.varint(150);
/// assert_eq!(w.finish(), Ok(3));
/// assert_eq!(&buf[..3], &[0x08, 0x96, 0x01]);
/// ```
#[derive(Debug)]
pub struct Writer<'b> {
    buf: &'b mut [u8],
    pos: usize,
    overflow: bool,
}

impl<'b> Writer<'b> {
    /// A writer at the start of `buf`.
    pub fn new(buf: &'b mut [u8]) -> Self {
        Writer {
            buf,
            pos: 0,
            overflow: false,
        }
    }

    /// Bytes written (or that would have been written, after an overflow).
    pub const fn position(&self) -> usize {
        self.pos
    }

    /// The length written, or the length required if the buffer was too
    /// small.
    pub fn finish(self) -> Result<usize, crate::EncodeError> {
        if self.overflow {
            Err(crate::EncodeError::BufferTooSmall { required: self.pos })
        } else {
            Ok(self.pos)
        }
    }

    /// Writes raw bytes.
    pub fn bytes(&mut self, data: &[u8]) {
        let end = self.pos.saturating_add(data.len());
        match self.buf.get_mut(self.pos..end) {
            Some(dst) if !self.overflow => dst.copy_from_slice(data),
            _ => self.overflow = true,
        }
        self.pos = end;
    }

    /// Writes one byte.
    pub fn byte(&mut self, b: u8) {
        match self.buf.get_mut(self.pos) {
            Some(dst) if !self.overflow => *dst = b,
            _ => self.overflow = true,
        }
        self.pos = self.pos.saturating_add(1);
    }

    /// Writes a varint.
    pub fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.byte((v as u8) | 0x80);
            v >>= 7;
        }
        self.byte(v as u8);
    }

    /// Writes a tag.
    pub fn tag(&mut self, field: u32, wire: WireType) {
        self.varint((u64::from(field) << 3) | u64::from(wire.code()));
    }

    /// Writes 4 little-endian bytes.
    pub fn fixed32(&mut self, v: u32) {
        self.bytes(&v.to_le_bytes());
    }

    /// Writes 8 little-endian bytes.
    pub fn fixed64(&mut self, v: u64) {
        self.bytes(&v.to_le_bytes());
    }

    /// Writes a length prefix and the bytes.
    pub fn len_delimited(&mut self, data: &[u8]) {
        self.varint(data.len() as u64);
        self.bytes(data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EncodeError, Reader};
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn varint_round_trip_and_len(v: u64) {
            let mut buf = [0u8; 10];
            let mut w = Writer::new(&mut buf);
            w.varint(v);
            let n = w.finish().unwrap();
            prop_assert_eq!(n, varint_len(v));
            let mut r = Reader::new(&buf[..n]);
            prop_assert_eq!(r.varint(), Ok(v));
            prop_assert!(r.is_empty());
        }
    }

    #[test]
    fn overflow_reports_required_length() {
        let mut buf = [0u8; 2];
        let mut w = Writer::new(&mut buf);
        w.bytes(&[1, 2, 3, 4]);
        w.varint(300);
        assert_eq!(w.finish(), Err(EncodeError::BufferTooSmall { required: 6 }));
    }
}
