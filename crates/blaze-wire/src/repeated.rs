//! Repeated fields: lazy iteration over the received bytes, or a borrowed
//! slice when encoding.

use core::fmt;

use crate::{DecodeError, Field, Reader, Slot, WireType, Writer, tag_len, varint_len};

/// A repeated field.
///
/// A decoded message holds a `Repeated` that points into the received
/// bytes; iterating decodes elements on the fly and copies nothing. The
/// elements were validated when the message was parsed, so iteration cannot
/// fail. To encode, build one from a slice with [`Repeated::from_slice`].
///
/// Scalars are written packed, as proto3 requires, and read packed or not.
///
/// ```
/// use blaze_wire::{Message, Nack, Repeated, SeqRange};
/// let ranges = [SeqRange { start: 3, end: 5 }, SeqRange { start: 9, end: 9 }];
/// let nack = Nack { stream: 1, ranges: Repeated::from_slice(&ranges), ..Nack::default() };
/// let mut buf = [0u8; 64];
/// let n = nack.emit(&mut buf).unwrap();
/// let back = Nack::parse(&buf[..n]).unwrap();
/// assert_eq!(back.ranges.len(), 2);
/// assert_eq!(back.ranges.iter().nth(1), Some(SeqRange { start: 9, end: 9 }));
/// ```
pub struct Repeated<'a, T> {
    inner: Inner<'a, T>,
}

enum Inner<'a, T> {
    Wire {
        msg: &'a [u8],
        field: u32,
        count: usize,
        depth: u8,
        max_depth: u8,
    },
    Slice(&'a [T]),
}

impl<T> Clone for Inner<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Inner<'_, T> {}

impl<T> Clone for Repeated<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Repeated<'_, T> {}

impl<T> Default for Repeated<'_, T> {
    fn default() -> Self {
        Repeated::empty()
    }
}

impl<'a, T> Repeated<'a, T> {
    /// No elements.
    pub const fn empty() -> Self {
        Repeated {
            inner: Inner::Slice(&[]),
        }
    }

    /// The elements of a slice, for encoding.
    pub const fn from_slice(items: &'a [T]) -> Self {
        Repeated {
            inner: Inner::Slice(items),
        }
    }

    /// Number of elements.
    pub const fn len(&self) -> usize {
        match self.inner {
            Inner::Wire { count, .. } => count,
            Inner::Slice(s) => s.len(),
        }
    }

    /// True when there are no elements.
    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<'a, T: Field<'a>> Repeated<'a, T> {
    /// Iterates over the elements in wire order.
    pub fn iter(&self) -> Iter<'a, T> {
        match self.inner {
            Inner::Wire {
                msg,
                field,
                count,
                depth,
                max_depth,
            } => Iter {
                inner: IterInner::Wire(Cursor::new(msg, field, count, depth, max_depth)),
            },
            Inner::Slice(s) => Iter {
                inner: IterInner::Slice(s.iter()),
            },
        }
    }

    const fn is_packed() -> bool {
        !matches!(T::WIRE_TYPE, WireType::Len)
    }

    fn packed_body_len(&self) -> usize {
        self.iter().map(|v| v.value_len()).sum()
    }
}

/// Iterator over a [`Repeated`].
pub struct Iter<'a, T> {
    inner: IterInner<'a, T>,
}

enum IterInner<'a, T> {
    Wire(Cursor<'a>),
    Slice(core::slice::Iter<'a, T>),
}

/// Where iteration over received elements stands. Apart from the element
/// types, so that one copy of the walk serves every repeated field.
struct Cursor<'a> {
    reader: Reader<'a>,
    packed: Reader<'a>,
    field: u32,
    left: usize,
    depth: u8,
    max_depth: u8,
}

impl<'a> Cursor<'a> {
    const fn new(msg: &'a [u8], field: u32, left: usize, depth: u8, max_depth: u8) -> Self {
        Cursor {
            reader: Reader::new(msg),
            packed: Reader::new(&[]),
            field,
            left,
            depth,
            max_depth,
        }
    }

    /// The reader positioned at the next element (of wire type `wire`, or
    /// packed); `None` at the end or on malformed input.
    fn advance(&mut self, wire: WireType) -> Option<&mut Reader<'a>> {
        if self.left == 0 {
            return None;
        }
        let in_packed = seek(&mut self.reader, &mut self.packed, self.field, wire)?;
        Some(if in_packed {
            &mut self.packed
        } else {
            &mut self.reader
        })
    }
}

/// Moves to the next element of `field` (of wire type `wire`, or packed):
/// `Some(true)` when it is next in `packed`, `Some(false)` when next in
/// `reader`, `None` at the end or on malformed input. Apart from the
/// element types, so that one copy serves every repeated field.
fn seek<'a>(
    reader: &mut Reader<'a>,
    packed: &mut Reader<'a>,
    field: u32,
    wire: WireType,
) -> Option<bool> {
    loop {
        if !packed.is_empty() {
            return Some(true);
        }
        if reader.is_empty() {
            return None;
        }
        let (f, w) = reader.tag().ok()?;
        if f != field {
            reader.skip(w).ok()?;
        } else if w == wire {
            return Some(false);
        } else {
            *packed = Reader::new(reader.len_delimited().ok()?);
        }
    }
}

impl<'a, T: Field<'a>> Iterator for Iter<'a, T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        match &mut self.inner {
            IterInner::Slice(it) => it.next().copied(),
            IterInner::Wire(cursor) => {
                let (depth, max_depth) = (cursor.depth, cursor.max_depth);
                let v = T::decode(cursor.advance(T::WIRE_TYPE)?, depth, max_depth).ok()?;
                cursor.left -= 1;
                Some(v)
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match &self.inner {
            IterInner::Slice(it) => it.size_hint(),
            IterInner::Wire(cursor) => (0, Some(cursor.left)),
        }
    }
}

impl<'a, T: Field<'a>> IntoIterator for Repeated<'a, T> {
    type Item = T;
    type IntoIter = Iter<'a, T>;
    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

impl<'a, T: Field<'a>> Slot<'a> for Repeated<'a, T> {
    fn merge(
        &mut self,
        at_tag: &'a [u8],
        field: u32,
        wire: WireType,
        r: &mut Reader<'a>,
        depth: u8,
        max_depth: u8,
    ) -> Result<(), DecodeError> {
        let added = if wire == T::WIRE_TYPE {
            T::decode(r, depth, max_depth)?;
            1
        } else if wire == WireType::Len && Self::is_packed() {
            let mut packed = Reader::new(r.len_delimited()?);
            let mut n = 0usize;
            while !packed.is_empty() {
                T::decode(&mut packed, depth, max_depth)?;
                n += 1;
            }
            n
        } else {
            return Err(DecodeError::WrongWireType { field });
        };
        self.inner = match self.inner {
            Inner::Wire { msg, count, .. } => Inner::Wire {
                msg,
                field,
                count: count + added,
                depth,
                max_depth,
            },
            Inner::Slice(_) => Inner::Wire {
                msg: at_tag,
                field,
                count: added,
                depth,
                max_depth,
            },
        };
        Ok(())
    }

    fn slot_len(&self, field: u32) -> usize {
        if self.is_empty() {
            0
        } else if Self::is_packed() {
            let body = self.packed_body_len();
            tag_len(field) + varint_len(body as u64) + body
        } else {
            self.iter().map(|v| tag_len(field) + v.value_len()).sum()
        }
    }

    fn write_slot(&self, field: u32, w: &mut Writer<'_>) {
        if self.is_empty() {
            return;
        }
        if Self::is_packed() {
            w.tag(field, WireType::Len);
            let at = w.begin_len();
            for v in self.iter() {
                v.write_value(w);
            }
            w.end_len(at);
        } else {
            for v in self.iter() {
                w.tag(field, T::WIRE_TYPE);
                v.write_value(w);
            }
        }
    }
}

impl<'a, T: Field<'a> + fmt::Debug> fmt::Debug for Repeated<'a, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<'a, T: Field<'a> + PartialEq> PartialEq for Repeated<'a, T> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}
