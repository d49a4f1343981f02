//! `BlazeMessage`: a map from string keys to typed values.

use core::fmt;

use crate::{Field, Message, Repeated, Value, WireType, Writer, tag_len};

message! {
    /// One key and its value (`blaze.v1.Entry`).
    pub struct Entry<'a> {
        /// The key.
        1 => key: &'a str,
        /// The value.
        2 => value: Value<'a>,
    }
}

message! {
    /// A typed message, viewed in place (`blaze.v1.BlazeMessage`).
    ///
    /// On the wire it is `repeated Entry entries = 1`, byte-for-byte the
    /// encoding of `map<string, Value>`, but it keeps the writer's order.
    /// Lookups scan the entries; if a key appears twice (which
    /// [`BlazeMessageWriter`] refuses to write), the last one wins, as for a
    /// protobuf map.
    ///
    /// ```
    /// use blaze_wire::{BlazeMessage, BlazeMessageWriter, GetError, Message, Value};
    /// let mut buf = [0u8; 64];
    /// let mut w = BlazeMessageWriter::new(&mut buf);
    /// w.put("symbol", Value::Text("ACME")).unwrap();
    /// w.put("price", Value::Double(12.5)).unwrap();
    /// let n = w.finish();
    ///
    /// let msg = BlazeMessage::parse(&buf[..n]).unwrap();
    /// assert_eq!(msg.text("symbol"), Ok("ACME"));
    /// assert_eq!(msg.double("price"), Ok(12.5));
    /// assert_eq!(msg.int("price"), Err(GetError::WrongType { found: "double" }));
    /// assert_eq!(msg.text("missing"), Err(GetError::Missing));
    /// let keys: Vec<&str> = msg.iter().map(|(k, _)| k).collect();
    /// assert_eq!(keys, ["symbol", "price"]);
    /// ```
    pub struct BlazeMessage<'a> {
        /// The entries, in wire order.
        1 => entries: Repeated<'a, Entry<'a>>,
    }
}

/// Why a typed getter found no value.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GetError {
    /// No entry has the key.
    Missing,
    /// The entry holds another type.
    WrongType {
        /// The type found.
        found: &'static str,
    },
}

impl fmt::Display for GetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GetError::Missing => f.write_str("no such key"),
            GetError::WrongType { found } => write!(f, "the value is a {found}"),
        }
    }
}

impl core::error::Error for GetError {}

macro_rules! getter {
    ($(#[$m:meta])* $name:ident, $variant:ident, $ty:ty) => {
        $(#[$m])*
        pub fn $name(&self, key: &str) -> Result<$ty, GetError> {
            match self.get(key) {
                Some(Value::$variant(v)) => Ok(v),
                Some(other) => Err(GetError::WrongType { found: other.type_name() }),
                None => Err(GetError::Missing),
            }
        }
    };
}

impl<'a> BlazeMessage<'a> {
    /// Iterates over `(key, value)` pairs in wire order.
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, Value<'a>)> + use<'a> {
        self.entries.iter().map(|e| (e.key, e.value))
    }

    /// Number of entries on the wire.
    pub const fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there are no entries.
    pub const fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The value of `key`, if any (the last one if the key repeats).
    pub fn get(&self, key: &str) -> Option<Value<'a>> {
        self.entries
            .iter()
            .filter(|e| e.key == key)
            .last()
            .map(|e| e.value)
    }

    getter!(/// A `bool` value.
        bool, Bool, bool);
    getter!(/// A `byte` value.
        byte, Byte, i8);
    getter!(/// A `char` value (a UTF-16 code unit).
        char, Char, u16);
    getter!(/// A `short` value.
        short, Short, i16);
    getter!(/// An `int` value.
        int, Int, i32);
    getter!(/// A `long` value.
        long, Long, i64);
    getter!(/// A `float` value.
        float, Float, f32);
    getter!(/// A `double` value.
        double, Double, f64);
    getter!(/// A `bytes` value, borrowed from the frame.
        bytes, Bytes, &'a [u8]);
    getter!(/// A `text` value, borrowed from the frame.
        text, Text, &'a str);
    getter!(/// A nested map.
        map, Map, BlazeMessage<'a>);
}

/// Why [`BlazeMessageWriter::put`] refused an entry. The entry was not
/// written; the entries before it are intact.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PutError {
    /// The key is already in the message.
    DuplicateKey,
    /// The buffer has no room for the entry.
    BufferTooSmall {
        /// Total bytes the message would need with this entry.
        required: usize,
    },
}

impl fmt::Display for PutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PutError::DuplicateKey => f.write_str("the key is already in the message"),
            PutError::BufferTooSmall { required } => {
                write!(f, "buffer too small: {required} bytes required")
            }
        }
    }
}

impl core::error::Error for PutError {}

/// Writes a [`BlazeMessage`] entry by entry into a caller's buffer.
///
/// Nested maps are written first into a buffer of their own, then added
/// with [`Value::Map`] of the parsed view.
#[derive(Debug)]
pub struct BlazeMessageWriter<'b> {
    buf: &'b mut [u8],
    len: usize,
    /// One bit per key hash (mod 64): a clear bit proves a key is new, so
    /// the duplicate scan runs only on a hash hit.
    key_bits: u64,
}

impl<'b> BlazeMessageWriter<'b> {
    /// A writer for an empty message at the start of `buf`.
    pub fn new(buf: &'b mut [u8]) -> Self {
        BlazeMessageWriter {
            buf,
            len: 0,
            key_bits: 0,
        }
    }

    /// The message written so far, as a view.
    pub fn as_message(&self) -> BlazeMessage<'_> {
        let written = self.buf.get(..self.len).unwrap_or(&[]);
        // The writer only ever holds entries it encoded itself.
        BlazeMessage::parse(written).unwrap_or_default()
    }

    /// Appends an entry.
    pub fn put(&mut self, key: &str, value: Value<'_>) -> Result<(), PutError> {
        let bit = 1u64 << (crate::GroupId::from_name(key).raw() % 64);
        if self.key_bits & bit != 0 && self.as_message().get(key).is_some() {
            return Err(PutError::DuplicateKey);
        }
        let entry = Entry { key, value };
        let need = tag_len(1) + entry.value_len();
        let required = self.len + need;
        let dst = self
            .buf
            .get_mut(self.len..required)
            .ok_or(PutError::BufferTooSmall { required })?;
        let mut w = Writer::new(dst);
        w.tag(1, WireType::Len);
        entry.write_value(&mut w);
        w.finish()
            .map_err(|_| PutError::BufferTooSmall { required })?;
        self.len = required;
        self.key_bits |= bit;
        Ok(())
    }

    /// Bytes written so far.
    pub const fn len(&self) -> usize {
        self.len
    }

    /// True when no entry has been written.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The length of the encoded message.
    pub fn finish(self) -> usize {
        self.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DecodeError;

    #[test]
    fn nested_maps_and_every_type() {
        let mut inner = [0u8; 32];
        let mut w = BlazeMessageWriter::new(&mut inner);
        w.put("x", Value::Int(-5)).unwrap();
        let n = w.finish();
        let nested = BlazeMessage::parse(&inner[..n]).unwrap();

        let mut buf = [0u8; 256];
        let mut w = BlazeMessageWriter::new(&mut buf);
        let values = [
            ("b", Value::Bool(true)),
            ("y", Value::Byte(-128)),
            ("c", Value::Char(0xffff)),
            ("s", Value::Short(i16::MIN)),
            ("i", Value::Int(i32::MAX)),
            ("l", Value::Long(i64::MIN)),
            ("f", Value::Float(1.5)),
            ("d", Value::Double(-0.25)),
            ("bytes", Value::Bytes(&[0, 1, 2])),
            ("t", Value::Text("héllo")),
            ("m", Value::Map(nested)),
        ];
        for (k, v) in values {
            w.put(k, v).unwrap();
        }
        assert_eq!(w.put("b", Value::Bool(false)), Err(PutError::DuplicateKey));
        let n = w.finish();
        let msg = BlazeMessage::parse(&buf[..n]).unwrap();
        assert_eq!(msg.len(), values.len());
        for ((k, v), (k2, v2)) in msg.iter().zip(values) {
            assert_eq!((k, v), (k2, v2));
        }
        assert_eq!(msg.map("m").unwrap().int("x"), Ok(-5));
        assert_eq!(msg.char("c"), Ok(0xffff));
    }

    #[test]
    fn nesting_limit_is_enforced() {
        // Build a message nested 40 levels deep: entry{key="", value{map_value{...}}}.
        let mut a = [0u8; 512];
        let mut b = [0u8; 512];
        let mut len = 0usize;
        for _ in 0..40 {
            let inner = BlazeMessage::parse_nested(&a[..len], 0, 200).unwrap();
            let mut w = BlazeMessageWriter::new(&mut b);
            w.put("k", Value::Map(inner)).unwrap();
            len = w.finish();
            a[..len].copy_from_slice(&b[..len]);
        }
        assert_eq!(BlazeMessage::parse(&a[..len]), Err(DecodeError::TooDeep));
        assert!(BlazeMessage::parse_nested(&a[..len], 0, 200).is_ok());
    }

    #[test]
    fn full_buffer_refuses_and_keeps_earlier_entries() {
        let mut buf = [0u8; 12];
        let mut w = BlazeMessageWriter::new(&mut buf);
        w.put("a", Value::Int(1)).unwrap();
        let before = w.len();
        assert!(matches!(
            w.put("bbbbbbbb", Value::Text("long")),
            Err(PutError::BufferTooSmall { .. })
        ));
        assert_eq!(w.len(), before);
        assert_eq!(w.as_message().int("a"), Ok(1));
    }
}
