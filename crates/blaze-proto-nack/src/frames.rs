//! The frames this machine reads and writes (schema `proto/blaze.proto`):
//! a `Frame` carrying a `DataBatch`, `Nack`, `Heartbeat` or `Ack` body.
//!
//! All wire encoding of the crate lives here, behind small views and
//! emitters, so that moving to the shared codec of `blaze-wire` is a local
//! change. Decoding borrows the datagram; every length is checked before
//! use, unknown fields are skipped, and nothing can panic.

use blaze_wire::MemberId;

/// Wire protocol version written and accepted.
pub(crate) const VERSION: u32 = 1;

/// The datagram does not decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DecodeError;

/// The output buffer is too small; nothing useful was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BufferTooSmall;

const WT_VARINT: u8 = 0;
const WT_FIXED64: u8 = 1;
const WT_LEN: u8 = 2;
const WT_FIXED32: u8 = 5;

const BODY_DATA: u32 = 10;
const BODY_NACK: u32 = 11;
const BODY_HEARTBEAT: u32 = 12;
const BODY_ACK: u32 = 23;

#[derive(Debug, Clone)]
struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    fn varint(&mut self) -> Result<u64, DecodeError> {
        let mut v: u64 = 0;
        for i in 0..10 {
            let (&b, rest) = self.buf.split_first().ok_or(DecodeError)?;
            self.buf = rest;
            if i == 9 && b > 1 {
                return Err(DecodeError);
            }
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(DecodeError)
    }

    fn key(&mut self) -> Result<(u32, u8), DecodeError> {
        let k = self.varint()?;
        let field = u32::try_from(k >> 3).map_err(|_| DecodeError)?;
        if field == 0 {
            return Err(DecodeError);
        }
        Ok((field, (k & 7) as u8))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if n > self.buf.len() {
            return Err(DecodeError);
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let n = usize::try_from(self.varint()?).map_err(|_| DecodeError)?;
        self.take(n)
    }

    fn fixed64(&mut self) -> Result<u64, DecodeError> {
        let b = self.take(8)?;
        let arr: [u8; 8] = b.try_into().map_err(|_| DecodeError)?;
        Ok(u64::from_le_bytes(arr))
    }

    fn skip(&mut self, wt: u8) -> Result<(), DecodeError> {
        match wt {
            WT_VARINT => self.varint().map(drop),
            WT_FIXED64 => self.take(8).map(drop),
            WT_LEN => self.bytes().map(drop),
            WT_FIXED32 => self.take(4).map(drop),
            _ => Err(DecodeError),
        }
    }

    /// Reads a value of the expected wire type, or skips a mismatched one.
    fn varint_field(&mut self, wt: u8) -> Result<u64, DecodeError> {
        if wt == WT_VARINT {
            self.varint()
        } else {
            Err(DecodeError)
        }
    }

    fn len_field(&mut self, wt: u8) -> Result<&'a [u8], DecodeError> {
        if wt == WT_LEN {
            self.bytes()
        } else {
            Err(DecodeError)
        }
    }
}

fn member(bytes: &[u8]) -> Result<Option<MemberId>, DecodeError> {
    if bytes.is_empty() {
        Ok(None)
    } else {
        MemberId::from_slice(bytes).map(Some).ok_or(DecodeError)
    }
}

fn u32_of(v: u64) -> u32 {
    // proto3 truncates an oversized uint32 varint to its low 32 bits.
    v as u32
}

/// A decoded frame.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FrameIn<'a> {
    pub(crate) version: u32,
    pub(crate) group: u64,
    pub(crate) sender: MemberId,
    pub(crate) body: BodyIn<'a>,
}

/// The body of a decoded frame.
#[derive(Debug, Clone, Copy)]
pub(crate) enum BodyIn<'a> {
    Data(DataIn<'a>),
    Nack(NackIn<'a>),
    Heartbeat(HeartbeatIn<'a>),
    Ack(AckIn),
    /// No body, or one this machine does not handle.
    Other,
}

/// A `DataBatch` view.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct DataIn<'a> {
    pub(crate) stream: u32,
    pub(crate) first_seq: u64,
    pub(crate) qos: u32,
    pub(crate) repair: bool,
    pub(crate) window_start: u64,
    raw: &'a [u8],
}

/// One `DataMessage` view.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct MsgIn<'a> {
    pub(crate) payload: &'a [u8],
    pub(crate) fragment_index: u32,
    pub(crate) fragment_count: u32,
    pub(crate) total_len: u64,
}

/// A `Nack` view.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct NackIn<'a> {
    pub(crate) target: Option<MemberId>,
    pub(crate) stream: u32,
    raw: &'a [u8],
}

/// A `StreamMark` view.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct MarkIn {
    pub(crate) stream: u32,
    pub(crate) high_seq: u64,
    pub(crate) window_start: u64,
    pub(crate) empty: bool,
}

/// A `Heartbeat` view.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct HeartbeatIn<'a> {
    pub(crate) timestamp_us: u64,
    pub(crate) echo_timestamp_us: u64,
    pub(crate) echo_to: Option<MemberId>,
    pub(crate) echo_delay_us: u64,
    raw: &'a [u8],
}

/// An `Ack` view: `target` is the acknowledged sender, `p2p_seq` the next
/// sequence number the receiver needs (all before it consumed), and
/// `correlation` the stream id.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct AckIn {
    pub(crate) target: Option<MemberId>,
    pub(crate) p2p_seq: u64,
    pub(crate) correlation: u64,
}

/// Iterates the length-delimited values of `field` in a message.
fn repeated(raw: &[u8], field: u32) -> Repeated<'_> {
    Repeated {
        r: Reader { buf: raw },
        field,
    }
}

/// Iterator over the length-delimited values of one field.
#[derive(Debug, Clone)]
pub(crate) struct Repeated<'a> {
    r: Reader<'a>,
    field: u32,
}

impl<'a> Iterator for Repeated<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        while !self.r.is_empty() {
            let (f, wt) = self.r.key().ok()?;
            if f == self.field && wt == WT_LEN {
                return self.r.bytes().ok();
            }
            self.r.skip(wt).ok()?;
        }
        None
    }
}

fn parse_msg(buf: &[u8]) -> Result<MsgIn<'_>, DecodeError> {
    let mut m = MsgIn::default();
    let mut r = Reader { buf };
    while !r.is_empty() {
        match r.key()? {
            (1, wt) => m.payload = r.len_field(wt)?,
            (2, wt) => m.fragment_index = u32_of(r.varint_field(wt)?),
            (3, wt) => m.fragment_count = u32_of(r.varint_field(wt)?),
            (5, wt) => m.total_len = r.varint_field(wt)?,
            (_, wt) => r.skip(wt)?,
        }
    }
    Ok(m)
}

fn parse_range(buf: &[u8]) -> Result<(u64, u64), DecodeError> {
    let (mut s, mut e) = (0, 0);
    let mut r = Reader { buf };
    while !r.is_empty() {
        match r.key()? {
            (1, wt) => s = r.varint_field(wt)?,
            (2, wt) => e = r.varint_field(wt)?,
            (_, wt) => r.skip(wt)?,
        }
    }
    Ok((s, e))
}

fn parse_mark(buf: &[u8]) -> Result<MarkIn, DecodeError> {
    let mut m = MarkIn::default();
    let mut r = Reader { buf };
    while !r.is_empty() {
        match r.key()? {
            (1, wt) => m.stream = u32_of(r.varint_field(wt)?),
            (2, wt) => m.high_seq = r.varint_field(wt)?,
            (3, wt) => m.window_start = r.varint_field(wt)?,
            (4, wt) => m.empty = r.varint_field(wt)? != 0,
            (_, wt) => r.skip(wt)?,
        }
    }
    Ok(m)
}

impl<'a> DataIn<'a> {
    fn parse(buf: &'a [u8]) -> Result<Self, DecodeError> {
        let mut d = DataIn {
            raw: buf,
            ..DataIn::default()
        };
        let mut r = Reader { buf };
        while !r.is_empty() {
            match r.key()? {
                (1, wt) => d.stream = u32_of(r.varint_field(wt)?),
                (3, wt) => d.first_seq = r.varint_field(wt)?,
                (4, wt) => {
                    parse_msg(r.len_field(wt)?)?;
                }
                (5, wt) => d.qos = u32_of(r.varint_field(wt)?),
                (6, wt) => d.repair = r.varint_field(wt)? != 0,
                (7, wt) => d.window_start = r.varint_field(wt)?,
                (_, wt) => r.skip(wt)?,
            }
        }
        Ok(d)
    }

    /// The messages, in sequence order (validated by `parse`).
    pub(crate) fn messages(&self) -> impl Iterator<Item = MsgIn<'a>> + 'a {
        repeated(self.raw, 4).filter_map(|b| parse_msg(b).ok())
    }
}

impl<'a> NackIn<'a> {
    fn parse(buf: &'a [u8]) -> Result<Self, DecodeError> {
        let mut n = NackIn {
            raw: buf,
            ..NackIn::default()
        };
        let mut r = Reader { buf };
        while !r.is_empty() {
            match r.key()? {
                (1, wt) => n.target = member(r.len_field(wt)?)?,
                (2, wt) => n.stream = u32_of(r.varint_field(wt)?),
                (3, wt) => {
                    parse_range(r.len_field(wt)?)?;
                }
                (_, wt) => r.skip(wt)?,
            }
        }
        Ok(n)
    }

    /// The inclusive ranges `(start, end)` (validated by `parse`).
    pub(crate) fn ranges(&self) -> impl Iterator<Item = (u64, u64)> + Clone + 'a {
        repeated(self.raw, 3).filter_map(|b| parse_range(b).ok())
    }
}

impl<'a> HeartbeatIn<'a> {
    fn parse(buf: &'a [u8]) -> Result<Self, DecodeError> {
        let mut h = HeartbeatIn {
            raw: buf,
            ..HeartbeatIn::default()
        };
        let mut r = Reader { buf };
        while !r.is_empty() {
            match r.key()? {
                (1, wt) => {
                    parse_mark(r.len_field(wt)?)?;
                }
                (3, wt) => h.timestamp_us = r.varint_field(wt)?,
                (4, wt) => h.echo_timestamp_us = r.varint_field(wt)?,
                (5, wt) => h.echo_to = member(r.len_field(wt)?)?,
                (6, wt) => h.echo_delay_us = r.varint_field(wt)?,
                (_, wt) => r.skip(wt)?,
            }
        }
        Ok(h)
    }

    /// The stream marks (validated by `parse`).
    pub(crate) fn marks(&self) -> impl Iterator<Item = MarkIn> + 'a {
        repeated(self.raw, 1).filter_map(|b| parse_mark(b).ok())
    }
}

impl AckIn {
    fn parse(buf: &[u8]) -> Result<Self, DecodeError> {
        let mut a = AckIn::default();
        let mut r = Reader { buf };
        while !r.is_empty() {
            match r.key()? {
                (1, wt) => a.target = member(r.len_field(wt)?)?,
                (2, wt) => a.p2p_seq = r.varint_field(wt)?,
                (3, wt) => a.correlation = r.varint_field(wt)?,
                (_, wt) => r.skip(wt)?,
            }
        }
        Ok(a)
    }
}

/// Decodes one datagram.
pub(crate) fn parse(buf: &[u8]) -> Result<FrameIn<'_>, DecodeError> {
    let mut f = FrameIn {
        version: 0,
        group: 0,
        sender: MemberId::NIL,
        body: BodyIn::Other,
    };
    let mut r = Reader { buf };
    while !r.is_empty() {
        let (field, wt) = r.key()?;
        match field {
            1 => f.version = u32_of(r.varint_field(wt)?),
            2 if wt == WT_FIXED64 => f.group = r.fixed64()?,
            3 => f.sender = member(r.len_field(wt)?)?.unwrap_or(MemberId::NIL),
            BODY_DATA => f.body = BodyIn::Data(DataIn::parse(r.len_field(wt)?)?),
            BODY_NACK => f.body = BodyIn::Nack(NackIn::parse(r.len_field(wt)?)?),
            BODY_HEARTBEAT => f.body = BodyIn::Heartbeat(HeartbeatIn::parse(r.len_field(wt)?)?),
            BODY_ACK => f.body = BodyIn::Ack(AckIn::parse(r.len_field(wt)?)?),
            13..=24 => {
                r.skip(wt)?;
                f.body = BodyIn::Other;
            }
            _ => r.skip(wt)?,
        }
    }
    Ok(f)
}

// ---------------------------------------------------------------- encoding

const fn varint_len(v: u64) -> usize {
    let bits = 64 - (v | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

const fn key_len(field: u32) -> usize {
    varint_len((field as u64) << 3)
}

/// Length of a varint field, 0 when it holds the default.
const fn vfield(field: u32, v: u64) -> usize {
    if v == 0 {
        0
    } else {
        key_len(field) + varint_len(v)
    }
}

/// Length of a length-delimited field of `n` bytes, 0 when empty.
const fn lfield(field: u32, n: usize) -> usize {
    if n == 0 {
        0
    } else {
        key_len(field) + varint_len(n as u64) + n
    }
}

/// Length of a nested-message field that is always written (even empty).
const fn mfield(field: u32, n: usize) -> usize {
    key_len(field) + varint_len(n as u64) + n
}

struct Writer<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl Writer<'_> {
    fn byte(&mut self, b: u8) -> Result<(), BufferTooSmall> {
        let slot = self.buf.get_mut(self.pos).ok_or(BufferTooSmall)?;
        *slot = b;
        self.pos += 1;
        Ok(())
    }

    fn varint(&mut self, mut v: u64) -> Result<(), BufferTooSmall> {
        while v >= 0x80 {
            self.byte((v as u8) | 0x80)?;
            v >>= 7;
        }
        self.byte(v as u8)
    }

    fn key(&mut self, field: u32, wt: u8) -> Result<(), BufferTooSmall> {
        self.varint((u64::from(field) << 3) | u64::from(wt))
    }

    fn raw(&mut self, bytes: &[u8]) -> Result<(), BufferTooSmall> {
        let end = self.pos.checked_add(bytes.len()).ok_or(BufferTooSmall)?;
        let dst = self.buf.get_mut(self.pos..end).ok_or(BufferTooSmall)?;
        dst.copy_from_slice(bytes);
        self.pos = end;
        Ok(())
    }

    fn vfield(&mut self, field: u32, v: u64) -> Result<(), BufferTooSmall> {
        if v == 0 {
            return Ok(());
        }
        self.key(field, WT_VARINT)?;
        self.varint(v)
    }

    fn lfield(&mut self, field: u32, bytes: &[u8]) -> Result<(), BufferTooSmall> {
        if bytes.is_empty() {
            return Ok(());
        }
        self.key(field, WT_LEN)?;
        self.varint(bytes.len() as u64)?;
        self.raw(bytes)
    }

    fn mhead(&mut self, field: u32, n: usize) -> Result<(), BufferTooSmall> {
        self.key(field, WT_LEN)?;
        self.varint(n as u64)
    }
}

/// One message or fragment to encode.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct MsgOut<'a> {
    pub(crate) payload: &'a [u8],
    pub(crate) fragment_index: u32,
    pub(crate) fragment_count: u32,
    pub(crate) total_len: u64,
}

impl MsgOut<'_> {
    const fn body_len(&self) -> usize {
        lfield(1, self.payload.len())
            + vfield(2, self.fragment_index as u64)
            + vfield(3, self.fragment_count as u64)
            + vfield(5, self.total_len)
    }

    /// Bytes this message adds to a batch.
    pub(crate) const fn batch_share(&self) -> usize {
        mfield(4, self.body_len())
    }
}

/// The header of a data batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct DataOut {
    pub(crate) stream: u32,
    pub(crate) first_seq: u64,
    pub(crate) qos: u32,
    pub(crate) repair: bool,
    pub(crate) window_start: u64,
}

impl DataOut {
    const fn header_len(&self) -> usize {
        vfield(1, self.stream as u64)
            + vfield(3, self.first_seq)
            + vfield(5, self.qos as u64)
            + vfield(6, self.repair as u64)
            + vfield(7, self.window_start)
    }
}

/// A NACK to encode; `ranges` are inclusive.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NackOut<'a> {
    pub(crate) target: MemberId,
    pub(crate) stream: u32,
    pub(crate) ranges: &'a [(u64, u64)],
}

const fn range_len(r: (u64, u64)) -> usize {
    vfield(1, r.0) + vfield(2, r.1)
}

/// Bytes one NACK range adds.
pub(crate) const fn nack_range_share(r: (u64, u64)) -> usize {
    mfield(3, range_len(r))
}

impl NackOut<'_> {
    fn body_len(&self) -> usize {
        let mut n = lfield(1, MemberId::LEN) + vfield(2, self.stream as u64);
        for &r in self.ranges {
            n += nack_range_share(r);
        }
        n
    }
}

/// A stream mark to encode.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct MarkOut {
    pub(crate) stream: u32,
    pub(crate) high_seq: u64,
    pub(crate) window_start: u64,
    pub(crate) empty: bool,
}

impl MarkOut {
    const fn body_len(&self) -> usize {
        vfield(1, self.stream as u64)
            + vfield(2, self.high_seq)
            + vfield(3, self.window_start)
            + vfield(4, self.empty as u64)
    }
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

impl HeartbeatOut {
    fn body_len(&self) -> usize {
        self.mark.map_or(0, |m| mfield(1, m.body_len()))
            + vfield(3, self.timestamp_us)
            + vfield(4, self.echo_timestamp_us)
            + self.echo_to.map_or(0, |_| lfield(5, MemberId::LEN))
            + vfield(6, self.echo_delay_us)
    }
}

/// An acknowledgement to encode (see [`AckIn`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct AckOut {
    pub(crate) target: MemberId,
    pub(crate) p2p_seq: u64,
    pub(crate) correlation: u64,
}

impl AckOut {
    const fn body_len(&self) -> usize {
        lfield(1, MemberId::LEN) + vfield(2, self.p2p_seq) + vfield(3, self.correlation)
    }
}

/// The envelope shared by every frame.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Envelope {
    pub(crate) group: u64,
    pub(crate) sender: MemberId,
}

impl Envelope {
    const fn len(&self, body_field: u32, body_len: usize) -> usize {
        vfield(1, VERSION as u64)
            + key_len(2)
            + 8
            + lfield(3, MemberId::LEN)
            + mfield(body_field, body_len)
    }

    fn write<'b>(
        &self,
        buf: &'b mut [u8],
        body_field: u32,
        body_len: usize,
    ) -> Result<Writer<'b>, BufferTooSmall> {
        let mut w = Writer { buf, pos: 0 };
        w.vfield(1, u64::from(VERSION))?;
        w.key(2, WT_FIXED64)?;
        w.raw(&self.group.to_le_bytes())?;
        w.lfield(3, &self.sender.to_bytes())?;
        w.mhead(body_field, body_len)?;
        Ok(w)
    }

    /// Size of a data frame whose messages add `messages_len` bytes.
    pub(crate) const fn data_len(&self, hdr: &DataOut, messages_len: usize) -> usize {
        self.len(BODY_DATA, hdr.header_len() + messages_len)
    }

    /// Writes a data frame; `msgs` is an iterator that yields exactly the
    /// messages whose shares sum to `messages_len`.
    pub(crate) fn emit_data<'m>(
        &self,
        buf: &mut [u8],
        hdr: &DataOut,
        messages_len: usize,
        msgs: impl Iterator<Item = MsgOut<'m>>,
    ) -> Result<usize, BufferTooSmall> {
        let mut w = self.write(buf, BODY_DATA, hdr.header_len() + messages_len)?;
        w.vfield(1, u64::from(hdr.stream))?;
        w.vfield(3, hdr.first_seq)?;
        for m in msgs {
            w.mhead(4, m.body_len())?;
            w.lfield(1, m.payload)?;
            w.vfield(2, u64::from(m.fragment_index))?;
            w.vfield(3, u64::from(m.fragment_count))?;
            w.vfield(5, m.total_len)?;
        }
        w.vfield(5, u64::from(hdr.qos))?;
        w.vfield(6, u64::from(hdr.repair))?;
        w.vfield(7, hdr.window_start)?;
        Ok(w.pos)
    }

    /// Size of a NACK frame.
    pub(crate) fn nack_len(&self, nack: &NackOut<'_>) -> usize {
        self.len(BODY_NACK, nack.body_len())
    }

    /// Writes a NACK frame.
    pub(crate) fn emit_nack(
        &self,
        buf: &mut [u8],
        nack: &NackOut<'_>,
    ) -> Result<usize, BufferTooSmall> {
        let mut w = self.write(buf, BODY_NACK, nack.body_len())?;
        w.lfield(1, &nack.target.to_bytes())?;
        w.vfield(2, u64::from(nack.stream))?;
        for &r in nack.ranges {
            w.mhead(3, range_len(r))?;
            w.vfield(1, r.0)?;
            w.vfield(2, r.1)?;
        }
        Ok(w.pos)
    }

    /// Writes a heartbeat frame.
    pub(crate) fn emit_heartbeat(
        &self,
        buf: &mut [u8],
        hb: &HeartbeatOut,
    ) -> Result<usize, BufferTooSmall> {
        let mut w = self.write(buf, BODY_HEARTBEAT, hb.body_len())?;
        if let Some(m) = hb.mark {
            w.mhead(1, m.body_len())?;
            w.vfield(1, u64::from(m.stream))?;
            w.vfield(2, m.high_seq)?;
            w.vfield(3, m.window_start)?;
            w.vfield(4, u64::from(m.empty))?;
        }
        w.vfield(3, hb.timestamp_us)?;
        w.vfield(4, hb.echo_timestamp_us)?;
        if let Some(to) = hb.echo_to {
            w.lfield(5, &to.to_bytes())?;
        }
        w.vfield(6, hb.echo_delay_us)?;
        Ok(w.pos)
    }

    /// Writes an acknowledgement frame.
    pub(crate) fn emit_ack(&self, buf: &mut [u8], ack: &AckOut) -> Result<usize, BufferTooSmall> {
        let mut w = self.write(buf, BODY_ACK, ack.body_len())?;
        w.lfield(1, &ack.target.to_bytes())?;
        w.vfield(2, ack.p2p_seq)?;
        w.vfield(3, ack.correlation)?;
        Ok(w.pos)
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

    #[test]
    fn small_message_framing_is_four_bytes() {
        let m = MsgOut {
            payload: &[7; 64],
            ..MsgOut::default()
        };
        assert_eq!(m.batch_share(), 64 + 4);
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
        fn data_round_trip(
            first_seq: u64, window_start: u64, stream: u32, repair: bool,
            msgs in proptest::collection::vec((proptest::collection::vec(any::<u8>(), 0..200), any::<u32>(), any::<u32>(), any::<u64>()), 0..6),
        ) {
            let outs: Vec<MsgOut<'_>> = msgs.iter().map(|(p, i, c, t)| MsgOut { payload: p, fragment_index: *i, fragment_count: *c, total_len: *t }).collect();
            let hdr = DataOut { stream, first_seq, qos: 1, repair, window_start };
            let share: usize = outs.iter().map(MsgOut::batch_share).sum();
            let len = ENV.data_len(&hdr, share);
            let mut buf = std::vec![0u8; len];
            prop_assert_eq!(ENV.emit_data(&mut buf, &hdr, share, outs.iter().copied()), Ok(len));
            let mut short = std::vec![0u8; len - 1];
            prop_assert_eq!(ENV.emit_data(&mut short, &hdr, share, outs.iter().copied()), Err(BufferTooSmall));
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
        fn nack_and_ack_round_trip(target: u128, stream: u32, ranges in proptest::collection::vec((any::<u64>(), any::<u64>()), 0..8), seq: u64) {
            let nack = NackOut { target: MemberId::from_u128(target), stream, ranges: &ranges };
            let mut buf = std::vec![0u8; ENV.nack_len(&nack)];
            let n = ENV.emit_nack(&mut buf, &nack).unwrap();
            prop_assert_eq!(n, buf.len());
            let BodyIn::Nack(back) = parse(&buf).unwrap().body else { panic!("not a nack") };
            let target = MemberId::from_u128(target);
            prop_assert_eq!(back.target, Some(target));
            prop_assert_eq!(back.stream, stream);
            prop_assert_eq!(back.ranges().collect::<Vec<_>>(), ranges);
            let ack = AckOut { target: MemberId::from_u128(1), p2p_seq: seq, correlation: u64::from(stream) };
            let mut buf = [0u8; 128];
            let n = ENV.emit_ack(&mut buf, &ack).unwrap();
            let BodyIn::Ack(a) = parse(&buf[..n]).unwrap().body else { panic!("not an ack") };
            prop_assert_eq!((a.p2p_seq, a.correlation), (seq, u64::from(stream)));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
            if let Ok(f) = parse(&bytes) {
                match f.body {
                    BodyIn::Data(d) => { let _ = d.messages().count(); }
                    BodyIn::Nack(n) => { let _ = n.ranges().count(); }
                    BodyIn::Heartbeat(h) => { let _ = h.marks().count(); }
                    BodyIn::Ack(_) | BodyIn::Other => {}
                }
            }
        }
    }
}
