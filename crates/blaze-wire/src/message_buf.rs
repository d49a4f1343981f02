//! An owned `BlazeMessage` with ActiveBlaze's conveniences (feature `std`).

use std::string::String;
use std::vec::Vec;

use crate::{BlazeMessage, BlazeMessageWriter, DecodeError, EncodeError, Message, Value};

/// An owned value of a [`BlazeMessageBuf`].
#[derive(Debug, Clone, PartialEq)]
pub enum OwnedValue {
    /// A boolean.
    Bool(bool),
    /// A signed byte.
    Byte(i8),
    /// A UTF-16 code unit (Java's `char`).
    Char(u16),
    /// A 16-bit integer.
    Short(i16),
    /// A 32-bit integer.
    Int(i32),
    /// A 64-bit integer.
    Long(i64),
    /// A 32-bit float.
    Float(f32),
    /// A 64-bit float.
    Double(f64),
    /// Bytes.
    Bytes(Vec<u8>),
    /// Text.
    Text(String),
    /// A nested map.
    Map(BlazeMessageBuf),
}

/// An owned, editable `BlazeMessage`: a map from string keys to typed
/// values that keeps insertion order, as ActiveBlaze's `BlazeMessage`.
///
/// Setting a key that exists replaces its value in place. Encoding writes
/// the `blaze.v1.BlazeMessage` wire form; [`BlazeMessageBuf::from_view`]
/// copies a received view.
///
/// ```
/// use blaze_wire::BlazeMessageBuf;
/// let mut msg = BlazeMessageBuf::new();
/// msg.set_text("symbol", "ACME");
/// msg.set_double("price", 12.5);
/// msg.set_double("price", 13.0);
/// let bytes = msg.to_vec();
///
/// let back = BlazeMessageBuf::decode(&bytes).unwrap();
/// assert_eq!(back.text("symbol"), Some("ACME"));
/// assert_eq!(back.double("price"), Some(13.0));
/// assert_eq!(back.len(), 2);
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BlazeMessageBuf {
    entries: Vec<(String, OwnedValue)>,
}

macro_rules! accessors {
    ($($(#[$m:meta])* $set:ident, $get:ident, $variant:ident, $ty:ty;)*) => {
        $(
            $(#[$m])*
            pub fn $set(&mut self, key: &str, value: $ty) -> &mut Self {
                self.set(key, OwnedValue::$variant(value))
            }

            $(#[$m])*
            pub fn $get(&self, key: &str) -> Option<$ty> {
                match self.get(key)? {
                    OwnedValue::$variant(v) => Some(*v),
                    _ => None,
                }
            }
        )*
    };
}

impl BlazeMessageBuf {
    /// An empty message.
    pub const fn new() -> Self {
        BlazeMessageBuf {
            entries: Vec::new(),
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Sets `key` to `value`, replacing an existing value in place.
    pub fn set(&mut self, key: &str, value: OwnedValue) -> &mut Self {
        match self.entries.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value,
            None => self.entries.push((key.into(), value)),
        }
        self
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&OwnedValue> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: &str) -> Option<OwnedValue> {
        let i = self.entries.iter().position(|(k, _)| k == key)?;
        Some(self.entries.remove(i).1)
    }

    /// True when `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Iterates over entries in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &OwnedValue)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    accessors! {
        /// A `bool` entry.
        set_bool, bool, Bool, bool;
        /// A `byte` entry.
        set_byte, byte, Byte, i8;
        /// A `char` entry (a UTF-16 code unit).
        set_char, char, Char, u16;
        /// A `short` entry.
        set_short, short, Short, i16;
        /// An `int` entry.
        set_int, int, Int, i32;
        /// A `long` entry.
        set_long, long, Long, i64;
        /// A `float` entry.
        set_float, float, Float, f32;
        /// A `double` entry.
        set_double, double, Double, f64;
    }

    /// Sets a `bytes` entry.
    pub fn set_bytes(&mut self, key: &str, value: &[u8]) -> &mut Self {
        self.set(key, OwnedValue::Bytes(value.to_vec()))
    }

    /// A `bytes` entry.
    pub fn bytes(&self, key: &str) -> Option<&[u8]> {
        match self.get(key)? {
            OwnedValue::Bytes(v) => Some(v),
            _ => None,
        }
    }

    /// Sets a `text` entry.
    pub fn set_text(&mut self, key: &str, value: &str) -> &mut Self {
        self.set(key, OwnedValue::Text(value.into()))
    }

    /// A `text` entry.
    pub fn text(&self, key: &str) -> Option<&str> {
        match self.get(key)? {
            OwnedValue::Text(v) => Some(v),
            _ => None,
        }
    }

    /// Sets a nested map entry.
    pub fn set_map(&mut self, key: &str, value: BlazeMessageBuf) -> &mut Self {
        self.set(key, OwnedValue::Map(value))
    }

    /// A nested map entry.
    pub fn map(&self, key: &str) -> Option<&BlazeMessageBuf> {
        match self.get(key)? {
            OwnedValue::Map(v) => Some(v),
            _ => None,
        }
    }

    /// Copies a received view. A key that repeats on the wire keeps its
    /// last value, at its first position.
    pub fn from_view(view: &BlazeMessage<'_>) -> Self {
        let mut out = BlazeMessageBuf::new();
        for (key, value) in view.iter() {
            let owned = match value {
                Value::Unknown => continue,
                Value::Bool(v) => OwnedValue::Bool(v),
                Value::Byte(v) => OwnedValue::Byte(v),
                Value::Char(v) => OwnedValue::Char(v),
                Value::Short(v) => OwnedValue::Short(v),
                Value::Int(v) => OwnedValue::Int(v),
                Value::Long(v) => OwnedValue::Long(v),
                Value::Float(v) => OwnedValue::Float(v),
                Value::Double(v) => OwnedValue::Double(v),
                Value::Bytes(v) => OwnedValue::Bytes(v.to_vec()),
                Value::Text(v) => OwnedValue::Text(v.into()),
                Value::Map(m) => OwnedValue::Map(BlazeMessageBuf::from_view(&m)),
            };
            out.set(key, owned);
        }
        out
    }

    /// Decodes the wire form.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        BlazeMessage::parse(bytes).map(|v| BlazeMessageBuf::from_view(&v))
    }

    /// Encoded length of the wire form.
    pub fn encoded_len(&self) -> usize {
        let mut scratch = Vec::new();
        self.encode_into(&mut scratch);
        scratch.len()
    }

    /// Encodes into `buf`, returning the length written.
    pub fn encode(&self, buf: &mut [u8]) -> Result<usize, EncodeError> {
        let bytes = self.to_vec();
        let dst = buf
            .get_mut(..bytes.len())
            .ok_or(EncodeError::BufferTooSmall {
                required: bytes.len(),
            })?;
        dst.copy_from_slice(&bytes);
        Ok(bytes.len())
    }

    /// The wire form in a new vector.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    fn encode_into(&self, out: &mut Vec<u8>) {
        // Nested maps are encoded first, so their views can be borrowed.
        let nested: Vec<Vec<u8>> = self
            .entries
            .iter()
            .map(|(_, v)| match v {
                OwnedValue::Map(m) => m.to_vec(),
                _ => Vec::new(),
            })
            .collect();
        let mut size = 64;
        loop {
            out.clear();
            out.resize(size, 0);
            let mut w = BlazeMessageWriter::new(out);
            let mut ok = true;
            for ((key, value), nested) in self.entries.iter().zip(&nested) {
                let view = match value {
                    OwnedValue::Bool(v) => Value::Bool(*v),
                    OwnedValue::Byte(v) => Value::Byte(*v),
                    OwnedValue::Char(v) => Value::Char(*v),
                    OwnedValue::Short(v) => Value::Short(*v),
                    OwnedValue::Int(v) => Value::Int(*v),
                    OwnedValue::Long(v) => Value::Long(*v),
                    OwnedValue::Float(v) => Value::Float(*v),
                    OwnedValue::Double(v) => Value::Double(*v),
                    OwnedValue::Bytes(v) => Value::Bytes(v),
                    OwnedValue::Text(v) => Value::Text(v),
                    OwnedValue::Map(_) => match BlazeMessage::parse_nested(nested, 0, u8::MAX) {
                        Ok(m) => Value::Map(m),
                        Err(_) => Value::Unknown,
                    },
                };
                match w.put(key, view) {
                    Ok(()) => {}
                    Err(crate::PutError::BufferTooSmall { required }) => {
                        size = required.max(size * 2);
                        ok = false;
                        break;
                    }
                    // Keys are unique in a BlazeMessageBuf by construction.
                    Err(_) => {}
                }
            }
            if ok {
                let n = w.finish();
                out.truncate(n);
                return;
            }
        }
    }
}
