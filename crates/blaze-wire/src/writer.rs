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
            Some(dst) if !self.overflow && dst.len() == data.len() => dst.copy_from_slice(data),
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

    /// Starts a length-delimited value whose length is not known yet:
    /// reserves room for its length prefix, the two bytes of a length
    /// from 128 to 16 383 when the buffer has room for such a value, else
    /// one. Pass the mark returned to [`end_len`](Self::end_len) once the
    /// value is written.
    pub(crate) fn begin_len(&mut self) -> LenMark {
        let at = self.pos;
        // Two bytes only when a value of up to 127 bytes still fits after
        // them: reserving never refuses a value that fits.
        let reserved = if self.buf.len().saturating_sub(at) >= 129 {
            2
        } else {
            1
        };
        self.pos = self.pos.saturating_add(reserved);
        if self.pos > self.buf.len() {
            self.overflow = true;
        }
        LenMark { at, reserved }
    }

    /// Ends the value begun at `mark`: writes its length prefix where it
    /// was reserved, first moving the value down (a length under 128) or
    /// up (16 384 or more) when the prefix takes another number of bytes.
    /// The encoding is the one a length computed ahead gives.
    pub(crate) fn end_len(&mut self, mark: LenMark) {
        let start = mark.at.saturating_add(mark.reserved);
        let n = self.pos.saturating_sub(start);
        let prefix = varint_len(n as u64);
        let end = mark.at.saturating_add(prefix).saturating_add(n);
        // Without an overflow everything written is in the buffer.
        if !self.overflow && end <= self.buf.len() {
            if prefix != mark.reserved {
                self.buf.copy_within(start..self.pos, mark.at + prefix);
            }
            self.pos = mark.at;
            self.varint(n as u64);
        } else {
            self.overflow = true;
        }
        self.pos = end;
    }

    /// Writes a length prefix and the bytes.
    pub fn len_delimited(&mut self, data: &[u8]) {
        self.varint(data.len() as u64);
        self.bytes(data);
    }
}

/// Where a length-delimited value begun by [`Writer::begin_len`] starts,
/// and the bytes reserved for its length prefix.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LenMark {
    at: usize,
    reserved: usize,
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

    /// Writes `outer` bytes of 1, then `inner` bytes of 2 nested in a
    /// length-delimited value, nested in another one, the lengths
    /// prefixed ahead (`ahead`) or through `begin_len`/`end_len`.
    fn nested_twice(
        buf: &mut [u8],
        outer: usize,
        inner: usize,
        ahead: bool,
    ) -> Result<usize, crate::EncodeError> {
        let mut w = Writer::new(buf);
        let inner_bytes = std::vec![2u8; inner];
        if ahead {
            w.varint((outer + varint_len(inner as u64) + inner) as u64);
            w.bytes(&std::vec![1u8; outer]);
            w.len_delimited(&inner_bytes);
        } else {
            let a = w.begin_len();
            w.bytes(&std::vec![1u8; outer]);
            let b = w.begin_len();
            w.bytes(&inner_bytes);
            w.end_len(b);
            w.end_len(a);
        }
        w.finish()
    }

    proptest! {
        #[test]
        fn a_length_written_after_its_value_encodes_as_one_written_ahead(
            outer in prop_oneof![0usize..300, 16_000usize..16_600],
            inner in prop_oneof![0usize..300, 16_000usize..16_600],
            room in 0usize..40,
        ) {
            let need = nested_twice(&mut [0u8; 0], outer, inner, true).unwrap_err();
            let EncodeError::BufferTooSmall { required } = need;
            // Buffers around the exact size: too small, exact and larger.
            for len in [required.saturating_sub(room), required, required + room] {
                let mut ahead = std::vec![0u8; len];
                let mut after = std::vec![0u8; len];
                let a = nested_twice(&mut ahead, outer, inner, true);
                let b = nested_twice(&mut after, outer, inner, false);
                prop_assert_eq!(a, b);
                if let Ok(n) = a {
                    prop_assert_eq!(n, required);
                    prop_assert_eq!(&ahead[..n], &after[..n]);
                }
            }
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
