//! How each Rust field type maps onto a protobuf field.

use crate::{DecodeError, GroupId, MemberId, Reader, WireType, Writer, varint_len};

/// Default limit on how deeply messages may nest inside a frame.
pub const DEFAULT_MAX_DEPTH: u8 = 16;

/// A protobuf message: decoded as a view borrowing its bytes, encoded into a
/// caller's buffer.
///
/// Every frame body of [`proto/blaze.proto`] implements it. A user-defined
/// protocol can implement it too, with [`Reader`] and [`Writer`].
pub trait Message<'a>: Sized {
    /// Decodes a message nested `depth` levels below the top (the top is 0),
    /// refusing to go deeper than `max_depth`.
    fn parse_nested(buf: &'a [u8], depth: u8, max_depth: u8) -> Result<Self, DecodeError>;

    /// The exact encoded length in bytes.
    fn encoded_len(&self) -> usize;

    /// Writes the encoding. Overflow is recorded in the writer, never a panic.
    fn write(&self, w: &mut Writer<'_>);

    /// Decodes a message, with nesting bounded by [`DEFAULT_MAX_DEPTH`].
    fn parse(buf: &'a [u8]) -> Result<Self, DecodeError> {
        Self::parse_nested(buf, 0, DEFAULT_MAX_DEPTH)
    }

    /// Encodes into `buf`, returning the length written. A buffer too
    /// small gets [`EncodeError::BufferTooSmall`](crate::EncodeError::BufferTooSmall)
    /// with the length required (its contents are then unspecified). One
    /// pass: the writer counts what did not fit, so the length is not
    /// computed ahead.
    fn emit(&self, buf: &mut [u8]) -> Result<usize, crate::EncodeError> {
        let mut w = Writer::new(buf);
        self.write(&mut w);
        w.finish()
    }
}

/// A value that can be one protobuf field. Implemented by this crate for the
/// scalar types, byte and string slices, ids, enums and nested messages.
pub trait Field<'a>: Sized + Copy {
    /// The wire type the value is encoded with.
    const WIRE_TYPE: WireType;

    /// Decodes one value whose tag has been read.
    fn decode(r: &mut Reader<'a>, depth: u8, max_depth: u8) -> Result<Self, DecodeError>;

    /// Length of the encoded value, without its tag.
    fn value_len(&self) -> usize;

    /// Writes the value, without its tag.
    fn write_value(&self, w: &mut Writer<'_>);

    /// True when proto3 omits the field (the default value; `None` for
    /// nested messages).
    fn is_default(&self) -> bool;
}

impl Field<'_> for u64 {
    const WIRE_TYPE: WireType = WireType::Varint;
    fn decode(r: &mut Reader<'_>, _: u8, _: u8) -> Result<Self, DecodeError> {
        r.varint()
    }
    fn value_len(&self) -> usize {
        varint_len(*self)
    }
    fn write_value(&self, w: &mut Writer<'_>) {
        w.varint(*self);
    }
    fn is_default(&self) -> bool {
        *self == 0
    }
}

impl Field<'_> for u32 {
    const WIRE_TYPE: WireType = WireType::Varint;
    fn decode(r: &mut Reader<'_>, _: u8, _: u8) -> Result<Self, DecodeError> {
        // protobuf truncates a uint32 varint to its low 32 bits.
        r.varint().map(|v| v as u32)
    }
    fn value_len(&self) -> usize {
        varint_len(u64::from(*self))
    }
    fn write_value(&self, w: &mut Writer<'_>) {
        w.varint(u64::from(*self));
    }
    fn is_default(&self) -> bool {
        *self == 0
    }
}

impl Field<'_> for bool {
    const WIRE_TYPE: WireType = WireType::Varint;
    fn decode(r: &mut Reader<'_>, _: u8, _: u8) -> Result<Self, DecodeError> {
        r.varint().map(|v| v != 0)
    }
    fn value_len(&self) -> usize {
        1
    }
    fn write_value(&self, w: &mut Writer<'_>) {
        w.byte(u8::from(*self));
    }
    fn is_default(&self) -> bool {
        !*self
    }
}

impl Field<'_> for GroupId {
    const WIRE_TYPE: WireType = WireType::I64;
    fn decode(r: &mut Reader<'_>, _: u8, _: u8) -> Result<Self, DecodeError> {
        r.fixed64().map(GroupId::from_raw)
    }
    fn value_len(&self) -> usize {
        8
    }
    fn write_value(&self, w: &mut Writer<'_>) {
        w.fixed64(self.raw());
    }
    fn is_default(&self) -> bool {
        self.raw() == 0
    }
}

impl<'a> Field<'a> for &'a [u8] {
    const WIRE_TYPE: WireType = WireType::Len;
    fn decode(r: &mut Reader<'a>, _: u8, _: u8) -> Result<Self, DecodeError> {
        r.len_delimited()
    }
    fn value_len(&self) -> usize {
        varint_len(self.len() as u64) + self.len()
    }
    fn write_value(&self, w: &mut Writer<'_>) {
        w.len_delimited(self);
    }
    fn is_default(&self) -> bool {
        self.is_empty()
    }
}

impl<'a> Field<'a> for &'a str {
    const WIRE_TYPE: WireType = WireType::Len;
    fn decode(r: &mut Reader<'a>, _: u8, _: u8) -> Result<Self, DecodeError> {
        core::str::from_utf8(r.len_delimited()?).map_err(|_| DecodeError::InvalidUtf8)
    }
    fn value_len(&self) -> usize {
        varint_len(self.len() as u64) + self.len()
    }
    fn write_value(&self, w: &mut Writer<'_>) {
        w.len_delimited(self.as_bytes());
    }
    fn is_default(&self) -> bool {
        self.is_empty()
    }
}

/// A 16-byte id that must be present (`Frame.sender`); an empty field
/// decodes as [`MemberId::NIL`].
impl Field<'_> for MemberId {
    const WIRE_TYPE: WireType = WireType::Len;
    fn decode(r: &mut Reader<'_>, _: u8, _: u8) -> Result<Self, DecodeError> {
        let b = r.len_delimited()?;
        if b.is_empty() {
            return Ok(MemberId::NIL);
        }
        MemberId::from_slice(b).ok_or(DecodeError::InvalidId)
    }
    fn value_len(&self) -> usize {
        if self.is_nil() { 1 } else { 17 }
    }
    fn write_value(&self, w: &mut Writer<'_>) {
        if self.is_nil() {
            w.byte(0);
        } else {
            w.byte(16);
            w.bytes(&self.to_bytes());
        }
    }
    fn is_default(&self) -> bool {
        self.is_nil()
    }
}

/// An optional 16-byte id: `None` is an empty (omitted) field.
impl Field<'_> for Option<MemberId> {
    const WIRE_TYPE: WireType = WireType::Len;
    fn decode(r: &mut Reader<'_>, d: u8, m: u8) -> Result<Self, DecodeError> {
        let id = MemberId::decode(r, d, m)?;
        Ok(if id.is_nil() { None } else { Some(id) })
    }
    fn value_len(&self) -> usize {
        self.unwrap_or(MemberId::NIL).value_len()
    }
    fn write_value(&self, w: &mut Writer<'_>) {
        self.unwrap_or(MemberId::NIL).write_value(w);
    }
    fn is_default(&self) -> bool {
        self.is_none()
    }
}

/// A nested message; `None` when absent.
impl<'a, M: Message<'a> + Copy> Field<'a> for Option<M> {
    const WIRE_TYPE: WireType = WireType::Len;
    fn decode(r: &mut Reader<'a>, depth: u8, max_depth: u8) -> Result<Self, DecodeError> {
        let (buf, next) = nested(r, depth, max_depth)?;
        M::parse_nested(buf, next, max_depth).map(Some)
    }
    fn value_len(&self) -> usize {
        match self {
            Some(m) => {
                let n = m.encoded_len();
                varint_len(n as u64) + n
            }
            None => 0,
        }
    }
    fn write_value(&self, w: &mut Writer<'_>) {
        if let Some(m) = self {
            let at = w.begin_len();
            m.write(w);
            w.end_len(at);
        }
    }
    fn is_default(&self) -> bool {
        self.is_none()
    }
}

/// Reads a nested message's bytes, whose tag has been read, and its
/// depth (`depth + 1`), refusing to go deeper than `max_depth`. Apart from
/// the message types, so that one copy serves every nested field.
#[cfg_attr(target_pointer_width = "32", inline(never))]
pub(crate) fn nested<'a>(
    r: &mut Reader<'a>,
    depth: u8,
    max_depth: u8,
) -> Result<(&'a [u8], u8), DecodeError> {
    let buf = r.len_delimited()?;
    let next = depth.saturating_add(1);
    if next > max_depth {
        return Err(DecodeError::TooDeep);
    }
    Ok((buf, next))
}

/// The encoded length of `m`, found by writing it into an empty buffer:
/// the writer counts what does not fit. On 32-bit targets a message's and
/// a frame's [`Message::encoded_len`] is this, so that it reuses the
/// encoder's code rather than walking the fields a second way (0.9 KB less
/// code on a Cortex-M4, at two to three times the time of the walk on
/// x86-64).
pub(crate) fn written_len<'a, M: Message<'a>>(m: &M) -> usize {
    let mut w = Writer::new(&mut []);
    m.write(&mut w);
    w.position()
}

/// Storage for one field of a message struct: a singular [`Field`] or a
/// [`Repeated`](crate::Repeated). Used by the generated message code.
pub trait Slot<'a> {
    /// Merges one occurrence of the field, whose tag has been read.
    /// `at_tag` is the message from this occurrence's tag to its end: a
    /// repeated field keeps the first one and iterates from there.
    fn merge(
        &mut self,
        msg: &'a [u8],
        field: u32,
        wire: WireType,
        r: &mut Reader<'a>,
        depth: u8,
        max_depth: u8,
    ) -> Result<(), DecodeError>;

    /// Encoded length including tags; 0 when omitted.
    fn slot_len(&self, field: u32) -> usize;

    /// Writes the field with its tags, unless omitted.
    fn write_slot(&self, field: u32, w: &mut Writer<'_>);
}

impl<'a, T: Field<'a>> Slot<'a> for T {
    fn merge(
        &mut self,
        _at_tag: &'a [u8],
        field: u32,
        wire: WireType,
        r: &mut Reader<'a>,
        depth: u8,
        max_depth: u8,
    ) -> Result<(), DecodeError> {
        if wire != T::WIRE_TYPE {
            return Err(DecodeError::WrongWireType { field });
        }
        *self = T::decode(r, depth, max_depth)?;
        Ok(())
    }
    fn slot_len(&self, field: u32) -> usize {
        if self.is_default() {
            0
        } else {
            crate::tag_len(field) + self.value_len()
        }
    }
    fn write_slot(&self, field: u32, w: &mut Writer<'_>) {
        if !self.is_default() {
            w.tag(field, T::WIRE_TYPE);
            self.write_value(w);
        }
    }
}

/// Declares a message struct whose fields map onto protobuf field numbers,
/// and implements [`Message`] for it.
macro_rules! message {
    (
        $(#[$meta:meta])*
        pub struct $name:ident $(<$lt:lifetime>)? {
            $(
                $(#[$fmeta:meta])*
                $num:literal => $field:ident : $ty:ty
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Default)]
        pub struct $name $(<$lt>)? {
            $( $(#[$fmeta])* pub $field: $ty, )*
        }

        impl<'a> $name $(<$lt>)? {
            /// Decodes as [`parse_nested`](crate::Message::parse_nested)
            /// does, except that field number `skip` (if any) is skipped:
            /// neither decoded nor checked, left at its default.
            #[inline]
            pub(crate) fn parse_skipping(
                buf: &'a [u8],
                depth: u8,
                max_depth: u8,
                skip: Option<u32>,
            ) -> Result<Self, $crate::DecodeError> {
                let mut out = Self::default();
                out.merge_fields(buf, depth, max_depth, skip)?;
                Ok(out)
            }

            /// Decodes the fields of `buf` into `self`, as
            /// [`parse_skipping`](Self::parse_skipping) does into a default
            /// value; on an error `self` is partly decoded.
            #[inline]
            pub(crate) fn merge_fields(
                &mut self,
                buf: &'a [u8],
                depth: u8,
                max_depth: u8,
                skip: Option<u32>,
            ) -> Result<(), $crate::DecodeError> {
                #[allow(unused_imports, reason = "not every message has fields of every kind")]
                use $crate::Slot as _;
                let mut r = $crate::Reader::new(buf);
                while !r.is_empty() {
                    let at_tag = r.remaining();
                    let (field, wire) = r.tag()?;
                    match field {
                        _ if skip == Some(field) => r.skip(wire)?,
                        $( $num => self.$field.merge(at_tag, field, wire, &mut r, depth, max_depth)?, )*
                        _ => r.skip(wire)?,
                    }
                }
                Ok(())
            }
        }

        impl<'a> $crate::Message<'a> for $name $(<$lt>)? {
            fn parse_nested(
                buf: &'a [u8],
                depth: u8,
                max_depth: u8,
            ) -> Result<Self, $crate::DecodeError> {
                Self::parse_skipping(buf, depth, max_depth, None)
            }

            fn encoded_len(&self) -> usize {
                #[allow(unused_imports, reason = "not every message has fields of every kind")]
                use $crate::Slot as _;
                if cfg!(target_pointer_width = "32") {
                    return $crate::field::written_len(self);
                }
                0 $( + self.$field.slot_len($num) )*
            }

            fn write(&self, w: &mut $crate::Writer<'_>) {
                #[allow(unused_imports, reason = "not every message has fields of every kind")]
                use $crate::Slot as _;
                let _ = &w;
                $( self.$field.write_slot($num, w); )*
            }
        }

        /// As an element of a repeated field.
        impl<'a> $crate::Field<'a> for $name $(<$lt>)? {
            const WIRE_TYPE: $crate::WireType = $crate::WireType::Len;
            fn decode(
                r: &mut $crate::Reader<'a>,
                depth: u8,
                max_depth: u8,
            ) -> Result<Self, $crate::DecodeError> {
                let (buf, next) = $crate::field::nested(r, depth, max_depth)?;
                <Self as $crate::Message<'a>>::parse_nested(buf, next, max_depth)
            }
            fn value_len(&self) -> usize {
                let n = <Self as $crate::Message<'a>>::encoded_len(self);
                $crate::varint_len(n as u64) + n
            }
            fn write_value(&self, w: &mut $crate::Writer<'_>) {
                let at = w.begin_len();
                <Self as $crate::Message<'a>>::write(self, w);
                w.end_len(at);
            }
            fn is_default(&self) -> bool {
                false
            }
        }
    };
}

/// Declares an open protobuf enum: a newtype over `i32` with named values,
/// so values from newer peers survive a round trip.
macro_rules! proto_enum {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$vmeta:meta])* $const:ident = $val:literal ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        #[cfg_attr(feature = "defmt", derive(defmt::Format))]
        pub struct $name(pub i32);

        impl $name {
            $( $(#[$vmeta])* pub const $const: $name = $name($val); )*
        }

        impl $crate::Field<'_> for $name {
            const WIRE_TYPE: $crate::WireType = $crate::WireType::Varint;
            fn decode(r: &mut $crate::Reader<'_>, _: u8, _: u8) -> Result<Self, $crate::DecodeError> {
                r.varint().map(|v| $name(v as i32))
            }
            fn value_len(&self) -> usize {
                $crate::varint_len(self.0 as i64 as u64)
            }
            fn write_value(&self, w: &mut $crate::Writer<'_>) {
                w.varint(self.0 as i64 as u64);
            }
            fn is_default(&self) -> bool {
                self.0 == 0
            }
        }
    };
}
