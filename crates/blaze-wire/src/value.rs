//! Typed values of a `BlazeMessage`.

use crate::{
    BlazeMessage, DecodeError, Field, Message, Reader, WireType, Writer, tag_len, varint_len,
};

/// One typed value of a [`BlazeMessage`] (`blaze.v1.Value`).
///
/// The types are those of ActiveBlaze's messages: Java's primitive types,
/// bytes, text, and a nested map.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Value<'a> {
    /// No value, or a value type this version does not know.
    #[default]
    Unknown,
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
    /// Bytes, borrowed from the frame.
    Bytes(&'a [u8]),
    /// Text, borrowed from the frame.
    Text(&'a str),
    /// A nested map.
    Map(BlazeMessage<'a>),
}

impl Value<'_> {
    /// The name of the value's type, for error messages.
    pub const fn type_name(&self) -> &'static str {
        match self {
            Value::Unknown => "unknown",
            Value::Bool(_) => "bool",
            Value::Byte(_) => "byte",
            Value::Char(_) => "char",
            Value::Short(_) => "short",
            Value::Int(_) => "int",
            Value::Long(_) => "long",
            Value::Float(_) => "float",
            Value::Double(_) => "double",
            Value::Bytes(_) => "bytes",
            Value::Text(_) => "text",
            Value::Map(_) => "map",
        }
    }
}

const fn zigzag32(v: i32) -> u64 {
    ((v << 1) ^ (v >> 31)) as u32 as u64
}

const fn unzigzag32(v: u64) -> i32 {
    let v = v as u32;
    ((v >> 1) as i32) ^ -((v & 1) as i32)
}

const fn zigzag64(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

const fn unzigzag64(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

impl<'a> Message<'a> for Value<'a> {
    fn parse_nested(buf: &'a [u8], depth: u8, max_depth: u8) -> Result<Self, DecodeError> {
        let mut out = Value::Unknown;
        let mut r = Reader::new(buf);
        while !r.is_empty() {
            let (field, wire) = r.tag()?;
            let expect = match field {
                1..=6 => WireType::Varint,
                7 => WireType::I32,
                8 => WireType::I64,
                9..=11 => WireType::Len,
                _ => {
                    r.skip(wire)?;
                    continue;
                }
            };
            if wire != expect {
                return Err(DecodeError::WrongWireType { field });
            }
            let range = DecodeError::OutOfRange { field };
            out = match field {
                1 => Value::Bool(r.varint()? != 0),
                2 => Value::Byte(i8::try_from(unzigzag32(r.varint()?)).map_err(|_| range)?),
                3 => Value::Char(u16::try_from(r.varint()? as u32).map_err(|_| range)?),
                4 => Value::Short(i16::try_from(unzigzag32(r.varint()?)).map_err(|_| range)?),
                5 => Value::Int(unzigzag32(r.varint()?)),
                6 => Value::Long(unzigzag64(r.varint()?)),
                7 => Value::Float(f32::from_bits(r.fixed32()?)),
                8 => Value::Double(f64::from_bits(r.fixed64()?)),
                9 => Value::Bytes(r.len_delimited()?),
                10 => Value::Text(<&str>::decode(&mut r, depth, max_depth)?),
                _ => Value::Map(<BlazeMessage<'a> as Field<'a>>::decode(
                    &mut r, depth, max_depth,
                )?),
            };
        }
        Ok(out)
    }

    fn encoded_len(&self) -> usize {
        let body = match self {
            Value::Unknown => return 0,
            Value::Bool(_) => 1,
            Value::Byte(v) => varint_len(zigzag32(i32::from(*v))),
            Value::Char(v) => varint_len(u64::from(*v)),
            Value::Short(v) => varint_len(zigzag32(i32::from(*v))),
            Value::Int(v) => varint_len(zigzag32(*v)),
            Value::Long(v) => varint_len(zigzag64(*v)),
            Value::Float(_) => 4,
            Value::Double(_) => 8,
            Value::Bytes(b) => b.value_len(),
            Value::Text(t) => t.value_len(),
            Value::Map(m) => m.value_len(),
        };
        // Field numbers 1..=11 all have one-byte tags.
        tag_len(1) + body
    }

    fn write(&self, w: &mut Writer<'_>) {
        match self {
            Value::Unknown => {}
            Value::Bool(v) => {
                w.tag(1, WireType::Varint);
                w.byte(u8::from(*v));
            }
            Value::Byte(v) => {
                w.tag(2, WireType::Varint);
                w.varint(zigzag32(i32::from(*v)));
            }
            Value::Char(v) => {
                w.tag(3, WireType::Varint);
                w.varint(u64::from(*v));
            }
            Value::Short(v) => {
                w.tag(4, WireType::Varint);
                w.varint(zigzag32(i32::from(*v)));
            }
            Value::Int(v) => {
                w.tag(5, WireType::Varint);
                w.varint(zigzag32(*v));
            }
            Value::Long(v) => {
                w.tag(6, WireType::Varint);
                w.varint(zigzag64(*v));
            }
            Value::Float(v) => {
                w.tag(7, WireType::I32);
                w.fixed32(v.to_bits());
            }
            Value::Double(v) => {
                w.tag(8, WireType::I64);
                w.fixed64(v.to_bits());
            }
            Value::Bytes(b) => {
                w.tag(9, WireType::Len);
                b.write_value(w);
            }
            Value::Text(t) => {
                w.tag(10, WireType::Len);
                t.write_value(w);
            }
            Value::Map(m) => {
                w.tag(11, WireType::Len);
                m.write_value(w);
            }
        }
    }
}

/// A nested value; [`Value::Unknown`] is the omitted default.
impl<'a> Field<'a> for Value<'a> {
    const WIRE_TYPE: WireType = WireType::Len;
    fn decode(r: &mut Reader<'a>, depth: u8, max_depth: u8) -> Result<Self, DecodeError> {
        let buf = r.len_delimited()?;
        let next = depth.saturating_add(1);
        if next > max_depth {
            return Err(DecodeError::TooDeep);
        }
        Value::parse_nested(buf, next, max_depth)
    }
    fn value_len(&self) -> usize {
        let n = self.encoded_len();
        varint_len(n as u64) + n
    }
    fn write_value(&self, w: &mut Writer<'_>) {
        let at = w.begin_len();
        self.write(w);
        w.end_len(at);
    }
    fn is_default(&self) -> bool {
        matches!(self, Value::Unknown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zigzag_matches_protobuf() {
        assert_eq!(zigzag32(0), 0);
        assert_eq!(zigzag32(-1), 1);
        assert_eq!(zigzag32(1), 2);
        assert_eq!(zigzag32(i32::MIN), u64::from(u32::MAX));
        assert_eq!(zigzag64(i64::MIN), u64::MAX);
        for v in [0, 1, -1, i32::MAX, i32::MIN] {
            assert_eq!(unzigzag32(zigzag32(v)), v);
        }
        for v in [0, 1, -1, i64::MAX, i64::MIN] {
            assert_eq!(unzigzag64(zigzag64(v)), v);
        }
    }

    #[test]
    fn out_of_range_byte_is_rejected() {
        // field 2 (byte) = zigzag(200) = 400
        let buf = [0x10, 0x90, 0x03];
        assert_eq!(
            Value::parse(&buf),
            Err(DecodeError::OutOfRange { field: 2 })
        );
    }
}
