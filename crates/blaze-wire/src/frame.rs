//! The envelope of every datagram.

#[cfg(feature = "fec")]
use crate::Parity;
#[cfg(feature = "totem")]
use crate::Token;
use crate::{
    Ack, BatchMessages, DataBatch, DecodeError, Field, GroupId, Heartbeat, Join, Leave, MemberId,
    Message, Nack, Probe, Reader, Slot, Suspect, View, WireType, Writer, tag_len,
};
#[cfg(feature = "map")]
use crate::{LockOp, MapControl, MapOp};
#[cfg(feature = "messaging")]
use crate::{Reply, Request};

/// The wire protocol version this crate reads and writes.
pub const VERSION: u32 = 1;

/// The body of a frame: exactly one protocol message (`Frame.body`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Body<'a> {
    /// No body, or a body kind this version does not know (a newer
    /// peer's) or this build leaves out (features `fec`, `map`,
    /// `messaging`, `totem`).
    #[default]
    Empty,
    /// Application messages.
    Data(DataBatch<'a>),
    /// A negative acknowledgement.
    Nack(Nack<'a>),
    /// A heartbeat.
    Heartbeat(Heartbeat<'a>),
    /// A parity symbol.
    #[cfg(feature = "fec")]
    Parity(Parity<'a>),
    /// The Totem token.
    #[cfg(feature = "totem")]
    Token(Token<'a>),
    /// A join request or announcement.
    Join(Join<'a>),
    /// A graceful leave.
    Leave(Leave),
    /// A membership view.
    View(View<'a>),
    /// A suspicion.
    Suspect(Suspect),
    /// A map operation.
    #[cfg(feature = "map")]
    MapOp(MapOp<'a>),
    /// A lock operation.
    #[cfg(feature = "map")]
    LockOp(LockOp<'a>),
    /// A request.
    #[cfg(feature = "messaging")]
    Request(Request<'a>),
    /// A reply.
    #[cfg(feature = "messaging")]
    Reply(Reply<'a>),
    /// An acknowledgement.
    Ack(Ack<'a>),
    /// A probe.
    Probe(Probe),
    /// A replicated-map control message.
    #[cfg(feature = "map")]
    MapControl(MapControl),
}

impl Body<'_> {
    /// The frame field number of the body, or 0 for [`Body::Empty`].
    pub const fn field_number(&self) -> u32 {
        match self {
            Body::Empty => 0,
            Body::Data(_) => 10,
            Body::Nack(_) => 11,
            Body::Heartbeat(_) => 12,
            #[cfg(feature = "fec")]
            Body::Parity(_) => 13,
            #[cfg(feature = "totem")]
            Body::Token(_) => 14,
            Body::Join(_) => 15,
            Body::Leave(_) => 16,
            Body::View(_) => 17,
            Body::Suspect(_) => 18,
            #[cfg(feature = "map")]
            Body::MapOp(_) => 19,
            #[cfg(feature = "map")]
            Body::LockOp(_) => 20,
            #[cfg(feature = "messaging")]
            Body::Request(_) => 21,
            #[cfg(feature = "messaging")]
            Body::Reply(_) => 22,
            Body::Ack(_) => 23,
            Body::Probe(_) => 24,
            #[cfg(feature = "map")]
            Body::MapControl(_) => 25,
        }
    }

    /// Whether the body is one of the replicated map's kinds (map
    /// operation, lock operation, map control). Always `false` without
    /// feature `map`, which decodes those kinds as [`Body::Empty`].
    pub const fn is_map(&self) -> bool {
        match self {
            #[cfg(feature = "map")]
            Body::MapOp(_) | Body::LockOp(_) | Body::MapControl(_) => true,
            _ => false,
        }
    }

    fn inner_len(&self) -> usize {
        match self {
            Body::Empty => 0,
            Body::Data(m) => m.value_len(),
            Body::Nack(m) => m.value_len(),
            Body::Heartbeat(m) => m.value_len(),
            #[cfg(feature = "fec")]
            Body::Parity(m) => m.value_len(),
            #[cfg(feature = "totem")]
            Body::Token(m) => m.value_len(),
            Body::Join(m) => m.value_len(),
            Body::Leave(m) => m.value_len(),
            Body::View(m) => m.value_len(),
            Body::Suspect(m) => m.value_len(),
            #[cfg(feature = "map")]
            Body::MapOp(m) => m.value_len(),
            #[cfg(feature = "map")]
            Body::LockOp(m) => m.value_len(),
            #[cfg(feature = "messaging")]
            Body::Request(m) => m.value_len(),
            #[cfg(feature = "messaging")]
            Body::Reply(m) => m.value_len(),
            Body::Ack(m) => m.value_len(),
            Body::Probe(m) => m.value_len(),
            #[cfg(feature = "map")]
            Body::MapControl(m) => m.value_len(),
        }
    }

    fn write_inner(&self, w: &mut Writer<'_>) {
        match self {
            Body::Empty => {}
            Body::Data(m) => m.write_value(w),
            Body::Nack(m) => m.write_value(w),
            Body::Heartbeat(m) => m.write_value(w),
            #[cfg(feature = "fec")]
            Body::Parity(m) => m.write_value(w),
            #[cfg(feature = "totem")]
            Body::Token(m) => m.write_value(w),
            Body::Join(m) => m.write_value(w),
            Body::Leave(m) => m.write_value(w),
            Body::View(m) => m.write_value(w),
            Body::Suspect(m) => m.write_value(w),
            #[cfg(feature = "map")]
            Body::MapOp(m) => m.write_value(w),
            #[cfg(feature = "map")]
            Body::LockOp(m) => m.write_value(w),
            #[cfg(feature = "messaging")]
            Body::Request(m) => m.write_value(w),
            #[cfg(feature = "messaging")]
            Body::Reply(m) => m.write_value(w),
            Body::Ack(m) => m.write_value(w),
            Body::Probe(m) => m.write_value(w),
            #[cfg(feature = "map")]
            Body::MapControl(m) => m.write_value(w),
        }
    }

    /// Whether this build decodes and encodes body field `field`: the
    /// frame's body numbers, less the kinds of features left out.
    const fn built(field: u32) -> bool {
        let left_out = (field == 13 && !cfg!(feature = "fec"))
            || (field == 14 && !cfg!(feature = "totem"))
            || ((field == 21 || field == 22) && !cfg!(feature = "messaging"))
            || ((field == 19 || field == 20 || field == 25) && !cfg!(feature = "map"));
        matches!(field, 10..=25) && !left_out
    }

    /// Decodes body field `field` (one that [`built`](Body::built)
    /// accepts) whose tag has been read.
    fn decode<'a>(
        out: &mut Body<'a>,
        field: u32,
        r: &mut Reader<'a>,
        d: u8,
        max: u8,
    ) -> Result<(), DecodeError> {
        // The message is decoded where the frame holds it, not returned
        // and moved there (0.5 KB less code on a Cortex-M4). On an error
        // the body is partly decoded, and the frame is refused.
        macro_rules! in_place {
            ($kind:ident) => {{
                *out = Body::$kind(Default::default());
                if let Body::$kind(m) = out {
                    let (buf, next) = crate::field::nested(r, d, max)?;
                    m.merge_fields(buf, next, max, None)?;
                }
            }};
        }
        match field {
            10 => in_place!(Data),
            11 => in_place!(Nack),
            12 => in_place!(Heartbeat),
            #[cfg(feature = "fec")]
            13 => in_place!(Parity),
            #[cfg(feature = "totem")]
            14 => in_place!(Token),
            15 => in_place!(Join),
            16 => in_place!(Leave),
            17 => in_place!(View),
            18 => in_place!(Suspect),
            #[cfg(feature = "map")]
            19 => in_place!(MapOp),
            #[cfg(feature = "map")]
            20 => in_place!(LockOp),
            #[cfg(feature = "messaging")]
            21 => in_place!(Request),
            #[cfg(feature = "messaging")]
            22 => in_place!(Reply),
            23 => in_place!(Ack),
            24 => in_place!(Probe),
            #[cfg(feature = "map")]
            25 => in_place!(MapControl),
            _ => {
                r.skip(WireType::Len)?;
                *out = Body::Empty;
            }
        }
        Ok(())
    }
}

/// One datagram (`blaze.v1.Frame`), viewed in place.
///
/// ```
/// use blaze_wire::{Body, DataBatch, DataMessage, Frame, GroupId, MemberId, Message, Repeated, VERSION};
/// let msgs = [DataMessage { payload: b"hello", ..DataMessage::default() }];
/// let frame = Frame {
///     version: VERSION,
///     group: GroupId::from_name("chat"),
///     sender: MemberId::from_u128(42),
///     body: Body::Data(DataBatch { first_seq: 7, messages: Repeated::from_slice(&msgs), ..DataBatch::default() }),
///     ..Frame::default()
/// };
/// let mut datagram = [0u8; 1500];
/// let n = frame.emit(&mut datagram).unwrap();
/// assert_eq!(n, frame.encoded_len());
///
/// let rx = Frame::parse(&datagram[..n]).unwrap();
/// let Body::Data(batch) = rx.body else { unreachable!() };
/// let payload = batch.messages.iter().next().unwrap().payload;
/// assert_eq!(payload, b"hello"); // borrowed from `datagram`, not copied
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Frame<'a> {
    /// Wire protocol version; [`VERSION`] for this crate.
    pub version: u32,
    /// The group.
    pub group: GroupId,
    /// The sending member.
    pub sender: MemberId,
    /// Reserved for an authentication tag; empty in version 1.
    pub auth_tag: &'a [u8],
    /// The body.
    pub body: Body<'a>,
}

impl<'a> Message<'a> for Frame<'a> {
    fn parse_nested(buf: &'a [u8], depth: u8, max_depth: u8) -> Result<Self, DecodeError> {
        Self::parse_frame(buf, depth, max_depth, false).map(|(f, _)| f)
    }

    fn encoded_len(&self) -> usize {
        if cfg!(target_pointer_width = "32") {
            return crate::field::written_len(self);
        }
        let body = match self.body {
            Body::Empty => 0,
            b => tag_len(b.field_number()) + b.inner_len(),
        };
        self.version.slot_len(1)
            + self.group.slot_len(2)
            + self.sender.slot_len(3)
            + self.auth_tag.slot_len(4)
            + body
    }

    fn write(&self, w: &mut Writer<'_>) {
        self.version.write_slot(1, w);
        self.group.write_slot(2, w);
        self.sender.write_slot(3, w);
        self.auth_tag.write_slot(4, w);
        if !matches!(self.body, Body::Empty) {
            w.tag(self.body.field_number(), WireType::Len);
            self.body.write_inner(w);
        }
    }
}

impl<'a> Frame<'a> {
    /// Decodes a datagram as [`parse`](Message::parse) does, except that
    /// a data batch's messages are skipped: neither decoded nor checked,
    /// and the [`Body::Data`] returned has no messages. For a router that
    /// reads the header (and a batch's stream and QoS) and hands the
    /// datagram on to a machine that decodes it in full, and refuses its
    /// malformed messages: a batch is then decoded once, not twice. Other
    /// bodies are decoded in full.
    ///
    /// ```
    /// use blaze_wire::{Body, DataBatch, DataMessage, Frame, Message, Repeated};
    ///
    /// let msgs = [DataMessage { payload: b"hi", ..DataMessage::default() }];
    /// let frame = Frame {
    ///     body: Body::Data(DataBatch { stream: 3, messages: Repeated::from_slice(&msgs), ..DataBatch::default() }),
    ///     ..Frame::default()
    /// };
    /// let mut buf = [0u8; 64];
    /// let n = frame.emit(&mut buf).unwrap();
    /// let Body::Data(batch) = Frame::parse_shallow(&buf[..n]).unwrap().body else { unreachable!() };
    /// assert_eq!(batch.stream, 3);
    /// assert_eq!(batch.messages.iter().count(), 0);
    /// ```
    ///
    /// # Errors
    ///
    /// As [`parse`](Message::parse), for everything but a batch's messages.
    pub fn parse_shallow(buf: &'a [u8]) -> Result<Self, DecodeError> {
        Self::parse_frame(buf, 0, crate::DEFAULT_MAX_DEPTH, true).map(|(f, _)| f)
    }

    /// Decodes a datagram as [`parse_shallow`](Frame::parse_shallow)
    /// does, and hands back a data batch's messages undecoded: a
    /// [`BatchMessages`] that decodes and checks each as it is read. For
    /// a machine that reads a batch's messages once (into its own
    /// storage) rather than once to check them and again to use them.
    /// Empty when the body is not a batch.
    ///
    /// ```
    /// use blaze_wire::{Body, DataBatch, DataMessage, Frame, Message, Repeated};
    ///
    /// let msgs = [DataMessage { payload: b"hi", ..DataMessage::default() }];
    /// let frame = Frame {
    ///     body: Body::Data(DataBatch { stream: 3, messages: Repeated::from_slice(&msgs), ..DataBatch::default() }),
    ///     ..Frame::default()
    /// };
    /// let mut buf = [0u8; 64];
    /// let n = frame.emit(&mut buf).unwrap();
    /// let (rx, mut messages) = Frame::parse_deferred(&buf[..n]).unwrap();
    /// assert!(matches!(rx.body, Body::Data(b) if b.stream == 3));
    /// assert_eq!(messages.next().unwrap().unwrap().payload, b"hi");
    /// assert!(messages.next().is_none());
    /// ```
    ///
    /// # Errors
    ///
    /// As [`parse_shallow`](Frame::parse_shallow); a malformed message
    /// is an `Err` item of the [`BatchMessages`].
    pub fn parse_deferred(buf: &'a [u8]) -> Result<(Self, BatchMessages<'a>), DecodeError> {
        let max = crate::DEFAULT_MAX_DEPTH;
        let (frame, batch) = Self::parse_frame(buf, 0, max, true)?;
        Ok((frame, BatchMessages::new(batch, 1, max)))
    }

    /// Decodes a frame nested `depth` levels down; `shallow` skips a data
    /// batch's messages ([`parse_shallow`](Frame::parse_shallow)) and
    /// returns the batch's bytes beside the frame (else no bytes).
    fn parse_frame(
        buf: &'a [u8],
        depth: u8,
        max_depth: u8,
        shallow: bool,
    ) -> Result<(Self, &'a [u8]), DecodeError> {
        let mut out = Frame::default();
        let mut batch: &'a [u8] = &[];
        let mut r = Reader::new(buf);
        while !r.is_empty() {
            let (field, wire) = r.tag()?;
            match field {
                1 => out
                    .version
                    .merge(buf, field, wire, &mut r, depth, max_depth)?,
                2 => out
                    .group
                    .merge(buf, field, wire, &mut r, depth, max_depth)?,
                3 => out
                    .sender
                    .merge(buf, field, wire, &mut r, depth, max_depth)?,
                4 => out
                    .auth_tag
                    .merge(buf, field, wire, &mut r, depth, max_depth)?,
                // A body kind this build leaves out is an unknown field:
                // skipped, leaving the body as it was.
                f if Body::built(f) => {
                    if wire != WireType::Len {
                        return Err(DecodeError::WrongWireType { field });
                    }
                    batch = &[];
                    if shallow && field == 10 {
                        let next = depth.saturating_add(1);
                        if next > max_depth {
                            return Err(DecodeError::TooDeep);
                        }
                        batch = r.len_delimited()?;
                        // Field 4 of a batch, its messages, is skipped
                        // here and returned beside the frame.
                        out.body = Body::Data(DataBatch::default());
                        if let Body::Data(d) = &mut out.body {
                            d.merge_fields(batch, next, max_depth, Some(4))?;
                        }
                    } else {
                        Body::decode(&mut out.body, field, &mut r, depth, max_depth)?;
                    }
                }
                _ => r.skip(wire)?,
            }
        }
        Ok((out, batch))
    }

    /// Decodes a datagram with nesting bounded by `max_depth`.
    pub fn parse_with_max_depth(buf: &'a [u8], max_depth: u8) -> Result<Self, DecodeError> {
        Self::parse_nested(buf, 0, max_depth)
    }

    /// Encoded length of the frame without its body: what a batcher
    /// subtracts from the datagram size to learn its room for a body.
    pub fn header_len(&self) -> usize {
        Frame {
            body: Body::Empty,
            ..*self
        }
        .encoded_len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DataMessage, Repeated, SeqRange};

    fn sample<'a>(msgs: &'a [DataMessage<'a>]) -> Frame<'a> {
        Frame {
            version: VERSION,
            group: GroupId::from_raw(0x0102_0304_0506_0708),
            sender: MemberId::from_u128(1),
            auth_tag: &[],
            body: Body::Data(DataBatch {
                stream: 0,
                first_seq: 1,
                messages: Repeated::from_slice(msgs),
                ..DataBatch::default()
            }),
        }
    }

    #[test]
    fn shallow_parse_skips_only_the_messages() {
        let msgs = [
            DataMessage {
                payload: b"A",
                ..DataMessage::default()
            },
            DataMessage {
                payload: b"BC",
                topic: "t",
                ..DataMessage::default()
            },
        ];
        let mut f = sample(&msgs);
        if let Body::Data(d) = &mut f.body {
            d.qos = crate::Qos::AGREED;
            d.topic = "batch";
            d.window_start = 9;
        }
        let mut buf = [0u8; 128];
        let n = f.emit(&mut buf).unwrap();
        let full = Frame::parse(&buf[..n]).unwrap();
        let shallow = Frame::parse_shallow(&buf[..n]).unwrap();
        let (Body::Data(a), Body::Data(b)) = (full.body, shallow.body) else {
            panic!("not data");
        };
        assert_eq!(b.messages.iter().count(), 0);
        assert_eq!(
            DataBatch {
                messages: Repeated::default(),
                ..a
            },
            b
        );
        assert_eq!(
            Frame {
                body: Body::Empty,
                ..full
            },
            Frame {
                body: Body::Empty,
                ..shallow
            }
        );
        // A broken message (a payload length past its end): the full
        // parse refuses the frame, the shallow one reads its header.
        let mut broken = buf;
        let at = buf[..n].windows(2).position(|w| w == b"BC").unwrap() - 1;
        assert_eq!(broken[at], 2, "payload length");
        broken[at] = 50;
        assert!(Frame::parse(&broken[..n]).is_err());
        assert!(Frame::parse_shallow(&broken[..n]).is_ok());
        // The deferred messages are the full parse's, and the broken
        // one is an error that ends them.
        let (deferred, messages) = Frame::parse_deferred(&buf[..n]).unwrap();
        assert_eq!(deferred, shallow);
        let read: std::vec::Vec<_> = messages.collect();
        let want: std::vec::Vec<_> = a.messages.iter().map(Ok).collect();
        assert_eq!(read, want);
        let (_, messages) = Frame::parse_deferred(&broken[..n]).unwrap();
        let read: std::vec::Vec<_> = messages.collect();
        assert_eq!(read.len(), 2);
        assert!(read[0].is_ok() && read[1].is_err());
        // A broken header fails both.
        assert!(Frame::parse_shallow(&buf[..n - 1]).is_err());
        // Other bodies decode in full.
        let nack = Frame {
            body: Body::Nack(crate::Nack {
                stream: 4,
                ..crate::Nack::default()
            }),
            ..full
        };
        let mut out = [0u8; 128];
        let n = nack.emit(&mut out).unwrap();
        assert_eq!(Frame::parse_shallow(&out[..n]), Ok(nack));
    }

    #[test]
    fn byte_vector() {
        let msgs = [DataMessage {
            payload: b"A",
            ..DataMessage::default()
        }];
        let f = sample(&msgs);
        let mut buf = [0u8; 64];
        let n = f.emit(&mut buf).unwrap();
        let expected = [
            0x08, 0x01, // version = 1
            0x11, 0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, // group (fixed64)
            0x1a, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, // sender
            0x52, 0x07, // data (field 10), 7 bytes
            0x18, 0x01, // first_seq = 1
            0x22, 0x03, 0x0a, 0x01, b'A', // messages { payload = "A" }
        ];
        assert_eq!(&buf[..n], &expected[..]);
        assert_eq!(Frame::parse(&expected), Ok(f));
    }

    /// Each golden frame (`proto/testdata/frames.hex`, every body kind)
    /// and its body: the length written into an empty buffer (what
    /// `encoded_len` is on 32-bit targets) is the length computed field
    /// by field (what it is here).
    #[test]
    fn written_length_is_the_computed_length() {
        use crate::field::written_len;
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../proto/testdata/frames.hex"
        );
        let golden = std::fs::read_to_string(path).expect("proto/testdata/frames.hex");
        let mut bodies = 0;
        for line in golden.lines().filter(|l| !l.trim().is_empty()) {
            let (name, hex) = line.split_once(' ').expect("name and hex");
            let bytes: std::vec::Vec<u8> = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
                .collect();
            let frame = Frame::parse(&bytes).expect(name);
            assert_eq!(written_len(&frame), frame.encoded_len(), "{name}");
            macro_rules! body {
                ($($kind:ident),*) => {
                    match frame.body {
                        $(Body::$kind(m) => {
                            assert_eq!(written_len(&m), m.encoded_len(), "{name}");
                            bodies += 1;
                        })*
                        _ => {}
                    }
                };
            }
            body!(
                Data, Nack, Heartbeat, Join, Leave, View, Suspect, Ack, Probe
            );
            #[cfg(feature = "map")]
            body!(MapOp, LockOp, MapControl);
            #[cfg(feature = "fec")]
            body!(Parity);
            #[cfg(feature = "totem")]
            body!(Token);
            #[cfg(feature = "messaging")]
            body!(Request, Reply);
        }
        assert!(bodies >= 8, "only {bodies} golden bodies checked");
    }

    proptest::proptest! {
        /// Batches whose messages' and own lengths cross the one-, two-
        /// and three-byte length prefixes.
        #[test]
        fn written_length_of_a_batch_is_its_computed_length(
            sizes in proptest::collection::vec(
                proptest::prop_oneof![0usize..200, 16_300usize..16_500], 0..4),
            topic in "[a-z]{0,20}",
        ) {
            let payload = std::vec![7u8; 16_500];
            let msgs: std::vec::Vec<DataMessage<'_>> = sizes
                .iter()
                .map(|&n| DataMessage { payload: &payload[..n], total_len: n as u64, ..DataMessage::default() })
                .collect();
            let batch = DataBatch { topic: &topic, first_seq: 9, messages: Repeated::from_slice(&msgs), ..DataBatch::default() };
            proptest::prop_assert_eq!(crate::field::written_len(&batch), batch.encoded_len());
            let frame = sample(&msgs);
            proptest::prop_assert_eq!(crate::field::written_len(&frame), frame.encoded_len());
        }
    }

    #[test]
    fn buffer_too_small_reports_required_length() {
        let msgs = [DataMessage {
            payload: &[0; 100],
            ..DataMessage::default()
        }];
        let f = sample(&msgs);
        let mut buf = [0u8; 50];
        assert_eq!(
            f.emit(&mut buf),
            Err(crate::EncodeError::BufferTooSmall {
                required: f.encoded_len()
            })
        );
    }

    #[test]
    fn unknown_fields_and_bodies_are_skipped() {
        let ranges = [SeqRange { start: 1, end: 2 }];
        let f = Frame {
            version: VERSION,
            body: Body::Nack(Nack {
                stream: 3,
                ranges: Repeated::from_slice(&ranges),
                ..Nack::default()
            }),
            ..Frame::default()
        };
        let mut buf = [0u8; 64];
        let n = f.emit(&mut buf).unwrap();
        // Append unknown field 99 (varint) and unknown body 60 (bytes).
        let extra = [0x98, 0x06, 0x05, 0xe2, 0x03, 0x02, 0xaa, 0xbb];
        buf[n..n + extra.len()].copy_from_slice(&extra);
        assert_eq!(Frame::parse(&buf[..n + extra.len()]), Ok(f));
    }

    #[test]
    fn a_kind_left_out_is_an_unknown_field() {
        // An empty body of each optional kind (parity 13, token 14,
        // map operation 19, lock operation 20, request 21, reply 22, map
        // control 25), after a version and a data body.
        let kinds: [(&[u8], bool); 7] = [
            (&[0x6a], cfg!(feature = "fec")),
            (&[0x72], cfg!(feature = "totem")),
            (&[0x9a, 0x01], cfg!(feature = "map")),
            (&[0xa2, 0x01], cfg!(feature = "map")),
            (&[0xca, 0x01], cfg!(feature = "map")),
            (&[0xaa, 0x01], cfg!(feature = "messaging")),
            (&[0xb2, 0x01], cfg!(feature = "messaging")),
        ];
        let data = [0x52, 0x02, 0x18, 0x01]; // data { first_seq = 1 }
        for (tag, built) in kinds {
            let mut alone = std::vec![0x08, 0x01];
            alone.extend_from_slice(tag);
            alone.push(0);
            let f = Frame::parse(&alone).unwrap();
            assert_eq!(f.version, VERSION);
            assert_eq!(f.body == Body::Empty, !built, "{tag:?}");
            assert_eq!(f.body.field_number() != 0, built);
            // After a data body: a kind built replaces it (the last body
            // wins), a kind left out is skipped and leaves it.
            let mut after = std::vec![0x08, 0x01];
            after.extend_from_slice(&data);
            after.extend_from_slice(tag);
            after.push(0);
            let f = Frame::parse(&after).unwrap();
            assert_eq!(matches!(f.body, Body::Data(d) if d.first_seq == 1), !built);
            assert_eq!(Frame::parse_shallow(&after), Ok(f));
            // Truncated: an error either way, never a panic.
            assert!(Frame::parse(&after[..after.len() - 1]).is_err());
        }
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        assert_eq!(
            Frame::parse(&[0x52, 0x05, 0x00]),
            Err(DecodeError::LengthOutOfBounds)
        );
        assert_eq!(
            Frame::parse(&[0x50, 0x01]),
            Err(DecodeError::WrongWireType { field: 10 })
        );
        assert_eq!(
            Frame::parse(&[0x1a, 0x03, 1, 2, 3]),
            Err(DecodeError::InvalidId)
        );
        assert_eq!(Frame::parse(&[0x08]), Err(DecodeError::Truncated));
        assert_eq!(Frame::parse(&[]), Ok(Frame::default()));
    }

    #[test]
    #[cfg(feature = "map")]
    fn map_control_body_is_field_25() {
        use crate::{MapControl, MapControlKind};
        let f = Frame {
            version: VERSION,
            body: Body::MapControl(MapControl {
                kind: MapControlKind::ACK,
                epoch: 2,
                order: 7,
                ..MapControl::default()
            }),
            ..Frame::default()
        };
        let mut buf = [0u8; 32];
        let n = f.emit(&mut buf).unwrap();
        let expected = [
            0x08, 0x01, // version = 1
            0xca, 0x01, 0x06, // map_control (field 25), 6 bytes
            0x08, 0x01, // kind = ACK
            0x10, 0x02, // epoch = 2
            0x28, 0x07, // order = 7
        ];
        assert_eq!(&buf[..n], &expected[..]);
        assert_eq!(Frame::parse(&expected), Ok(f));
        assert_eq!(f.body.field_number(), 25);
    }
}
