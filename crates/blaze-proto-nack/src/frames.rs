//! The frames this machine reads and writes (schema `proto/blaze.proto`):
//! a `Frame` carrying a `DataBatch`, `Nack`, `Heartbeat` or `Ack` body,
//! through the shared codec of `blaze-wire`.
//!
//! All wire handling of the crate is here, behind small views and
//! emitters. Decoding borrows the datagram (payloads are never copied
//! here); the codec checks every length before use and skips unknown
//! fields.

use blaze_wire::{
    Ack, BatchMessages, Body, DataBatch, DataMessage, Frame, GroupId, Heartbeat, MemberId, Message,
    Nack, Parity, Qos, Repeated, SeqRange, StreamMark, tag_len, varint_len,
};

pub(crate) use blaze_wire::DecodeError;

/// Wire protocol version written and accepted.
pub(crate) const VERSION: u32 = blaze_wire::VERSION;

/// The output buffer is too small; nothing useful was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BufferTooSmall;

impl From<blaze_wire::EncodeError> for BufferTooSmall {
    fn from(_: blaze_wire::EncodeError) -> Self {
        BufferTooSmall
    }
}

const BODY_DATA: u32 = 10;
const BODY_NACK: u32 = 11;
const BODY_PARITY: u32 = 13;

/// A decoded frame.
#[derive(Debug, Clone)]
pub(crate) struct FrameIn<'a> {
    pub(crate) version: u32,
    pub(crate) group: u64,
    pub(crate) sender: MemberId,
    pub(crate) body: BodyIn<'a>,
}

/// The body of a decoded frame.
#[derive(Debug, Clone)]
pub(crate) enum BodyIn<'a> {
    Data(DataIn<'a>),
    Nack(NackIn<'a>),
    Heartbeat(HeartbeatIn<'a>),
    Ack(AckIn),
    #[cfg_attr(
        not(feature = "fec"),
        allow(dead_code, reason = "without `fec` the codec has no parity frames")
    )]
    Parity(ParityIn<'a>),
    /// No body, or one this machine does not handle.
    Other,
}

/// A `DataBatch` view: its header decoded, its messages not yet.
#[derive(Debug, Clone)]
pub(crate) struct DataIn<'a> {
    pub(crate) stream: u32,
    /// The batch's topic: that of every message without its own.
    pub(crate) topic: &'a str,
    pub(crate) first_seq: u64,
    pub(crate) qos: u32,
    pub(crate) repair: bool,
    pub(crate) window_start: u64,
    /// Not decoded yet: see [`DataIn::decode`].
    messages: BatchMessages<'a>,
}

/// One `DataMessage` view.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct MsgIn<'a> {
    /// The message's topic (its own, else the batch's).
    pub(crate) topic: &'a str,
    pub(crate) payload: &'a [u8],
    pub(crate) fragment_index: u32,
    pub(crate) fragment_count: u32,
    pub(crate) total_len: u64,
}

/// A `Nack` view.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NackIn<'a> {
    pub(crate) target: Option<MemberId>,
    pub(crate) stream: u32,
    pub(crate) parity_wanted: u32,
    pub(crate) loss_ppm: u32,
    ranges: Repeated<'a, SeqRange>,
}

/// A `Parity` view (also the parity frame to encode).
pub(crate) type ParityIn<'a> = Parity<'a>;

/// A `StreamMark` view.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct MarkIn {
    pub(crate) stream: u32,
    pub(crate) high_seq: u64,
    pub(crate) window_start: u64,
    pub(crate) empty: bool,
}

/// A `Heartbeat` view.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HeartbeatIn<'a> {
    pub(crate) timestamp_us: u64,
    pub(crate) echo_timestamp_us: u64,
    pub(crate) echo_to: Option<MemberId>,
    pub(crate) echo_delay_us: u64,
    marks: Repeated<'a, StreamMark>,
}

/// A stream `Ack` view: `target` is the acknowledged sender, `next_seq`
/// the next sequence number the receiver needs (all before it consumed),
/// and `stream` the stream id. Acks without `stream_ack` belong to
/// point-to-point messaging and are not for this crate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct AckIn {
    pub(crate) target: Option<MemberId>,
    pub(crate) next_seq: u64,
    pub(crate) stream: u32,
}

impl<'a> DataIn<'a> {
    fn msg_in(&self, m: &DataMessage<'a>) -> MsgIn<'a> {
        MsgIn {
            topic: if m.topic.is_empty() {
                self.topic
            } else {
                m.topic
            },
            payload: m.payload,
            fragment_index: m.fragment_index,
            fragment_count: m.fragment_count,
            total_len: m.total_len,
        }
    }

    /// Decodes and checks every message, in one pass: the first
    /// `buf.len()` go into `buf`, and the rest (checked as well) are read
    /// again from the [`Rest`] returned, beside how many `buf` holds. An
    /// error means a malformed message somewhere in the batch.
    pub(crate) fn decode(&self, buf: &mut [MsgIn<'a>]) -> Result<(usize, Rest<'a>), DecodeError> {
        let mut it = self.messages.clone();
        let mut n = 0;
        for slot in buf.iter_mut() {
            match it.next() {
                Some(m) => *slot = self.msg_in(&m?),
                None => break,
            }
            n += 1;
        }
        let rest = Rest {
            batch: self.clone(),
            messages: it.clone(),
        };
        for m in it {
            m?;
        }
        Ok((n, rest))
    }

    /// The messages, in sequence order, decoded one by one; a malformed
    /// one ends them (check with [`decode`](DataIn::decode) first).
    #[cfg(test)]
    pub(crate) fn messages(&self) -> impl Iterator<Item = MsgIn<'a>> + '_ {
        self.messages
            .clone()
            .map_while(Result::ok)
            .map(|m| self.msg_in(&m))
    }
}

/// The messages of a batch after those [`DataIn::decode`] stored, all
/// checked: read again one by one.
#[derive(Debug, Clone)]
pub(crate) struct Rest<'a> {
    batch: DataIn<'a>,
    messages: BatchMessages<'a>,
}

impl<'a> Iterator for Rest<'a> {
    type Item = MsgIn<'a>;

    fn next(&mut self) -> Option<MsgIn<'a>> {
        let m = self.messages.next()?.ok()?;
        Some(self.batch.msg_in(&m))
    }
}

impl NackIn<'_> {
    /// The inclusive ranges `(start, end)`.
    pub(crate) fn ranges(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.ranges.iter().map(|r| (r.start, r.end))
    }
}

impl HeartbeatIn<'_> {
    /// The stream marks.
    pub(crate) fn marks(&self) -> impl Iterator<Item = MarkIn> + '_ {
        self.marks.iter().map(|m| MarkIn {
            stream: m.stream,
            high_seq: m.high_seq,
            window_start: m.window_start,
            empty: m.empty,
        })
    }
}

fn qos_code(q: Qos) -> u32 {
    u32::try_from(q.0).unwrap_or(u32::MAX)
}

/// Decodes one datagram.
///
/// A data batch's messages are left undecoded, to be decoded and checked
/// once by [`DataIn::decode`].
pub(crate) fn parse(buf: &[u8]) -> Result<FrameIn<'_>, DecodeError> {
    let (f, messages) = Frame::parse_deferred(buf)?;
    Ok(view(f, messages))
}

/// The view of a frame decoded by [`Frame::parse_deferred`], with its
/// batch's `messages`.
pub(crate) fn view<'a>(f: Frame<'a>, messages: BatchMessages<'a>) -> FrameIn<'a> {
    let body = match f.body {
        Body::Data(d) => BodyIn::Data(DataIn {
            stream: d.stream,
            topic: d.topic,
            first_seq: d.first_seq,
            qos: qos_code(d.qos),
            repair: d.repair,
            window_start: d.window_start,
            messages,
        }),
        Body::Nack(n) => BodyIn::Nack(NackIn {
            target: n.target,
            stream: n.stream,
            parity_wanted: n.parity_wanted,
            loss_ppm: n.loss_ppm,
            ranges: n.ranges,
        }),
        #[cfg(feature = "fec")]
        Body::Parity(p) => BodyIn::Parity(p),
        Body::Heartbeat(h) => BodyIn::Heartbeat(HeartbeatIn {
            timestamp_us: h.timestamp_us,
            echo_timestamp_us: h.echo_timestamp_us,
            echo_to: h.echo_to,
            echo_delay_us: h.echo_delay_us,
            marks: h.streams,
        }),
        Body::Ack(a) if a.stream_ack => BodyIn::Ack(AckIn {
            target: a.target,
            next_seq: a.next_seq,
            stream: a.stream,
        }),
        _ => BodyIn::Other,
    };
    FrameIn {
        version: f.version,
        group: f.group.raw(),
        sender: f.sender,
        body,
    }
}

// ---------------------------------------------------------------- encoding

/// Length of a nested message of `n` bytes in field `field`.
const fn nested(field: u32, n: usize) -> usize {
    tag_len(field) + varint_len(n as u64) + n
}

/// One message or fragment to encode.
pub(crate) type MsgOut<'a> = DataMessage<'a>;

/// Bytes a message adds to a batch.
pub(crate) fn batch_share(m: &MsgOut<'_>) -> usize {
    nested(4, m.encoded_len())
}

/// The header of a data batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct DataOut<'t> {
    pub(crate) stream: u32,
    /// The batch's topic: that of every message written without one.
    pub(crate) topic: &'t str,
    pub(crate) first_seq: u64,
    pub(crate) qos: u32,
    pub(crate) repair: bool,
    pub(crate) window_start: u64,
}

impl DataOut<'_> {
    fn batch<'a>(&'a self, msgs: &'a [MsgOut<'a>]) -> DataBatch<'a> {
        DataBatch {
            stream: self.stream,
            topic: self.topic,
            first_seq: self.first_seq,
            messages: Repeated::from_slice(msgs),
            qos: Qos(i32::try_from(self.qos).unwrap_or(0)),
            repair: self.repair,
            window_start: self.window_start,
            ..DataBatch::default()
        }
    }
}

/// Bytes one NACK range adds.
pub(crate) fn nack_range_share(r: (u64, u64)) -> usize {
    nested(
        3,
        SeqRange {
            start: r.0,
            end: r.1,
        }
        .encoded_len(),
    )
}

/// A stream mark to encode.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct MarkOut {
    pub(crate) stream: u32,
    pub(crate) high_seq: u64,
    pub(crate) window_start: u64,
    pub(crate) empty: bool,
}

/// A heartbeat to encode.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct HeartbeatOut {
    pub(crate) mark: Option<MarkOut>,
    pub(crate) timestamp_us: u64,
    pub(crate) echo_timestamp_us: u64,
    pub(crate) echo_to: Option<MemberId>,
    pub(crate) echo_delay_us: u64,
}

/// An acknowledgement to encode (see [`AckIn`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct AckOut {
    pub(crate) target: MemberId,
    pub(crate) next_seq: u64,
    pub(crate) stream: u32,
}

/// The size of a data frame as its messages grow: the frame's and the
/// batch's own fields, computed once ([`Envelope::data_sizer`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct DataSizer {
    frame_header: usize,
    batch_header: usize,
}

impl DataSizer {
    /// Size of the data frame whose messages add `messages_len` bytes.
    pub(crate) fn len(&self, messages_len: usize) -> usize {
        self.frame_header + nested(BODY_DATA, self.batch_header + messages_len)
    }
}

/// The envelope shared by every frame.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Envelope {
    pub(crate) group: u64,
    pub(crate) sender: MemberId,
}

impl Envelope {
    fn frame<'a>(&self, body: Body<'a>) -> Frame<'a> {
        Frame {
            version: VERSION,
            group: GroupId::from_raw(self.group),
            sender: self.sender,
            auth_tag: &[],
            body,
        }
    }

    /// Size of a frame whose body of field `field` is `body_len` bytes.
    fn len_with_body(&self, field: u32, body_len: usize) -> usize {
        self.frame(Body::Empty).header_len() + nested(field, body_len)
    }

    /// Sizes of data frames with header `hdr`, the fixed parts computed
    /// once (for sizing a batch message by message).
    pub(crate) fn data_sizer(&self, hdr: &DataOut<'_>) -> DataSizer {
        DataSizer {
            frame_header: self.frame(Body::Empty).header_len(),
            batch_header: hdr.batch(&[]).encoded_len(),
        }
    }

    /// Writes a data frame.
    pub(crate) fn emit_data(
        &self,
        buf: &mut [u8],
        hdr: &DataOut<'_>,
        msgs: &[MsgOut<'_>],
    ) -> Result<usize, BufferTooSmall> {
        Ok(self.frame(Body::Data(hdr.batch(msgs))).emit(buf)?)
    }

    /// Size of a NACK frame with these ranges (inclusive), with room for
    /// the FEC fields.
    pub(crate) fn nack_len(&self, target: MemberId, stream: u32, ranges: &[SeqRange]) -> usize {
        let nack = Nack {
            target: Some(target),
            stream,
            ranges: Repeated::from_slice(ranges),
            parity_wanted: u32::from(u8::MAX),
            loss_ppm: u32::MAX,
        };
        self.len_with_body(BODY_NACK, nack.encoded_len())
    }

    /// Writes a NACK frame; `fec` is `(parity_wanted, loss_ppm)` for FEC
    /// streams.
    pub(crate) fn emit_nack(
        &self,
        buf: &mut [u8],
        target: MemberId,
        stream: u32,
        ranges: &[SeqRange],
        fec: (u32, u32),
    ) -> Result<usize, BufferTooSmall> {
        let nack = Nack {
            target: Some(target),
            stream,
            ranges: Repeated::from_slice(ranges),
            parity_wanted: fec.0,
            loss_ppm: fec.1,
        };
        Ok(self.frame(Body::Nack(nack)).emit(buf)?)
    }

    /// Size of a parity frame.
    pub(crate) fn parity_len(&self, p: &Parity<'_>) -> usize {
        self.len_with_body(BODY_PARITY, p.encoded_len())
    }

    /// Writes a parity frame.
    pub(crate) fn emit_parity(
        &self,
        buf: &mut [u8],
        p: &Parity<'_>,
    ) -> Result<usize, BufferTooSmall> {
        #[cfg(feature = "fec")]
        return Ok(self.frame(Body::Parity(*p)).emit(buf)?);
        // Not reached: nothing makes parity without `fec`, and the
        // codec has no parity frames.
        #[cfg(not(feature = "fec"))]
        {
            let _ = (buf, p);
            Err(BufferTooSmall)
        }
    }

    /// Writes a heartbeat frame.
    pub(crate) fn emit_heartbeat(
        &self,
        buf: &mut [u8],
        hb: &HeartbeatOut,
    ) -> Result<usize, BufferTooSmall> {
        let marks = hb.mark.map(|m| StreamMark {
            stream: m.stream,
            high_seq: m.high_seq,
            window_start: m.window_start,
            empty: m.empty,
        });
        let streams = match &marks {
            Some(m) => Repeated::from_slice(core::slice::from_ref(m)),
            None => Repeated::empty(),
        };
        let h = Heartbeat {
            streams,
            timestamp_us: hb.timestamp_us,
            echo_timestamp_us: hb.echo_timestamp_us,
            echo_to: hb.echo_to,
            echo_delay_us: hb.echo_delay_us,
            ..Heartbeat::default()
        };
        Ok(self.frame(Body::Heartbeat(h)).emit(buf)?)
    }

    /// Writes an acknowledgement frame.
    pub(crate) fn emit_ack(&self, buf: &mut [u8], ack: &AckOut) -> Result<usize, BufferTooSmall> {
        let a = Ack {
            target: Some(ack.target),
            stream_ack: true,
            stream: ack.stream,
            next_seq: ack.next_seq,
            ..Ack::default()
        };
        Ok(self.frame(Body::Ack(a)).emit(buf)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    const ENV: Envelope = Envelope {
        group: 0x1122_3344_5566_7788,
        sender: MemberId::from_u128(42),
    };

    #[test]
    fn heartbeat_byte_vector() {
        let hb = HeartbeatOut {
            mark: Some(MarkOut {
                stream: 1,
                high_seq: 300,
                window_start: 0,
                empty: false,
            }),
            timestamp_us: 5,
            ..HeartbeatOut::default()
        };
        let mut buf = [0u8; 64];
        let n = ENV.emit_heartbeat(&mut buf, &hb).unwrap();
        let mut expected = std::vec![0x08, 0x01, 0x11];
        expected.extend_from_slice(&0x1122_3344_5566_7788u64.to_le_bytes());
        expected.extend_from_slice(&[0x1a, 0x10]);
        expected.extend_from_slice(&42u128.to_be_bytes());
        // Heartbeat (field 12): streams { stream 1, high_seq 300 }, timestamp 5.
        expected.extend_from_slice(&[
            0x62, 0x09, 0x0a, 0x05, 0x08, 0x01, 0x10, 0xac, 0x02, 0x18, 0x05,
        ]);
        assert_eq!(&buf[..n], &expected[..]);
        let f = parse(&buf[..n]).unwrap();
        assert_eq!(f.version, VERSION);
        assert_eq!(f.group, ENV.group);
        assert_eq!(f.sender, ENV.sender);
        let BodyIn::Heartbeat(h) = f.body else {
            panic!("not a heartbeat")
        };
        assert_eq!(h.timestamp_us, 5);
        let marks: Vec<MarkIn> = h.marks().collect();
        assert_eq!(
            marks,
            [MarkIn {
                stream: 1,
                high_seq: 300,
                window_start: 0,
                empty: false
            }]
        );
    }

    #[cfg(feature = "fec")]
    #[test]
    fn parity_round_trip() {
        let lengths = [5u32, 300, 7];
        let p = Parity {
            stream: 3,
            block: u64::MAX - 1,
            k: 3,
            m: 252,
            index: 4,
            symbol: &[1, 2, 3, 4],
            lengths: Repeated::from_slice(&lengths),
            block_crc: 0xdead_beef,
        };
        let mut buf = [0u8; 128];
        let n = ENV.emit_parity(&mut buf, &p).unwrap();
        assert_eq!(n, ENV.parity_len(&p));
        assert_eq!(ENV.emit_parity(&mut buf[..n - 1], &p), Err(BufferTooSmall));
        let BodyIn::Parity(back) = parse(&buf[..n]).unwrap().body else {
            panic!("not parity")
        };
        assert_eq!(
            (
                back.stream,
                back.block,
                back.k,
                back.m,
                back.index,
                back.block_crc
            ),
            (3, u64::MAX - 1, 3, 252, 4, 0xdead_beef)
        );
        assert_eq!(back.symbol, &[1, 2, 3, 4]);
        assert_eq!(back.lengths.iter().collect::<Vec<_>>(), lengths);
    }

    #[test]
    fn small_message_framing_is_four_bytes() {
        let m = MsgOut {
            payload: &[7; 64],
            ..MsgOut::default()
        };
        assert_eq!(batch_share(&m), 64 + 4);
    }

    #[test]
    fn a_batch_is_decoded_in_one_pass_and_checked_whole() {
        let payloads: Vec<[u8; 2]> = (0..40u8).map(|i| [b'p', i]).collect();
        let outs: Vec<MsgOut<'_>> = payloads
            .iter()
            .map(|p| MsgOut {
                payload: p,
                ..MsgOut::default()
            })
            .collect();
        let hdr = DataOut {
            topic: "t",
            qos: 1,
            ..DataOut::default()
        };
        let mut buf = [0u8; 512];
        let n = ENV.emit_data(&mut buf, &hdr, &outs).unwrap();
        let BodyIn::Data(d) = parse(&buf[..n]).unwrap().body else {
            panic!("not data")
        };
        let mut stored = [MsgIn::default(); 32];
        let (k, rest) = d.decode(&mut stored).unwrap();
        assert_eq!(k, 32);
        let all: Vec<MsgIn<'_>> = stored.iter().copied().chain(rest).collect();
        assert_eq!(all.len(), 40);
        for (m, p) in all.iter().zip(&payloads) {
            assert_eq!((m.payload, m.topic), (&p[..], "t"));
        }
        // The last message's payload length past its end: past the stored
        // ones, still refused.
        let mut bad = buf;
        let at = bad[..n].windows(2).rposition(|w| w == [b'p', 39]).unwrap() - 1;
        assert_eq!(bad[at], 2);
        bad[at] = 3;
        let BodyIn::Data(d) = parse(&bad[..n]).unwrap().body else {
            panic!("not data")
        };
        let mut stored = [MsgIn::default(); 32];
        assert!(d.decode(&mut stored).is_err());
        assert!(d.decode(&mut [MsgIn::default(); 64]).is_err());
    }

    #[test]
    fn unknown_fields_and_bodies_are_skipped() {
        // version 1, unknown field 9 (varint), Leave body (field 16) empty.
        let f = parse(&[0x08, 0x01, 0x48, 0x05, 0x82, 0x01, 0x00]).unwrap();
        assert!(matches!(f.body, BodyIn::Other));
        assert!(parse(&[0x08]).is_err());
        assert!(parse(&[0x1a, 0x03, 1, 2, 3]).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, rng_seed: proptest::test_runner::RngSeed::Fixed(3), ..ProptestConfig::default() })]

        #[test]
        fn data_round_trip_and_exact_sizes(
            first_seq: u64, window_start: u64, stream: u32, repair: bool,
            msgs in proptest::collection::vec((proptest::collection::vec(any::<u8>(), 0..200), any::<u32>(), any::<u32>(), any::<u64>()), 0..6),
        ) {
            let outs: Vec<MsgOut<'_>> = msgs.iter().map(|(p, i, c, t)| MsgOut { payload: p, fragment_index: *i, fragment_count: *c, total_len: *t, ..MsgOut::default() }).collect();
            let hdr = DataOut { stream, first_seq, qos: 1, repair, window_start, ..DataOut::default() };
            let share: usize = outs.iter().map(batch_share).sum();
            let len = ENV.data_sizer(&hdr).len(share);
            let mut buf = std::vec![0u8; len];
            prop_assert_eq!(ENV.emit_data(&mut buf, &hdr, &outs), Ok(len));
            let mut short = std::vec![0u8; len - 1];
            prop_assert_eq!(ENV.emit_data(&mut short, &hdr, &outs), Err(BufferTooSmall));
            let f = parse(&buf).unwrap();
            let BodyIn::Data(d) = f.body else { panic!("not data") };
            prop_assert_eq!((d.stream, d.first_seq, d.qos, d.repair, d.window_start), (stream, first_seq, 1, repair, window_start));
            let back: Vec<MsgIn<'_>> = d.messages().collect();
            prop_assert_eq!(back.len(), outs.len());
            for (b, o) in back.iter().zip(&outs) {
                prop_assert_eq!(b.payload, o.payload);
                prop_assert_eq!((b.fragment_index, b.fragment_count, b.total_len), (o.fragment_index, o.fragment_count, o.total_len));
            }
        }

        #[test]
        fn nack_and_ack_round_trip(target in 1u128.., stream: u32, ranges in proptest::collection::vec((any::<u64>(), any::<u64>()), 0..8), seq: u64) {
            let wire: Vec<SeqRange> = ranges.iter().map(|r| SeqRange { start: r.0, end: r.1 }).collect();
            let target = MemberId::from_u128(target);
            let mut buf = std::vec![0u8; ENV.nack_len(target, stream, &wire)];
            let n = ENV.emit_nack(&mut buf, target, stream, &wire, (u32::from(u8::MAX), u32::MAX)).unwrap();
            prop_assert_eq!(n, buf.len());
            prop_assert!(n >= ENV.nack_len(target, stream, &[]) + ranges.iter().map(|&r| nack_range_share(r)).sum::<usize>());
            let BodyIn::Nack(back) = parse(&buf).unwrap().body else { panic!("not a nack") };
            prop_assert_eq!(back.target, Some(target));
            prop_assert_eq!(back.stream, stream);
            prop_assert_eq!(back.ranges().collect::<Vec<_>>(), ranges);
            prop_assert_eq!((back.parity_wanted, back.loss_ppm), (255, u32::MAX));
            let ack = AckOut { target: MemberId::from_u128(1), next_seq: seq, stream };
            let mut buf = [0u8; 128];
            let n = ENV.emit_ack(&mut buf, &ack).unwrap();
            let BodyIn::Ack(a) = parse(&buf[..n]).unwrap().body else { panic!("not an ack") };
            prop_assert_eq!((a.next_seq, a.stream), (seq, stream));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
            if let Ok(f) = parse(&bytes) {
                match f.body {
                    BodyIn::Data(d) => { let _ = d.messages().count(); }
                    BodyIn::Nack(n) => { let _ = n.ranges().count(); }
                    BodyIn::Heartbeat(h) => { let _ = h.marks().count(); }
                    BodyIn::Parity(p) => { let _ = p.lengths.iter().count(); }
                    BodyIn::Ack(_) | BodyIn::Other => {}
                }
            }
        }
    }
}
