//! Wire encoding and decoding of the frames membership uses.
//!
//! This is the one module that knows the byte layout of `proto/blaze.proto`
//! (package `blaze.v1`). It implements just the protobuf subset membership
//! needs (varints, fixed64, length-delimited fields), reads unknown fields by
//! skipping them, and bounds every length before trusting it. When the
//! workspace codec (`blaze_wire::Frame`) lands, only this file changes.

use blaze_wire::{GroupId, MemberId};
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The wire version this crate speaks.
pub(crate) const VERSION: u32 = 1;

/// Why a datagram could not be decoded or a frame encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WireError {
    Truncated,
    VarintOverflow,
    WrongWireType,
    InvalidId,
    InvalidUtf8,
    UnsupportedVersion,
    BufferTooSmall,
}

// ---------------------------------------------------------------- decoding

#[derive(Clone, Copy)]
enum Wire<'a> {
    Varint(u64),
    Fixed64(u64),
    Bytes(&'a [u8]),
    Fixed32,
}

#[derive(Clone, Copy)]
struct Fields<'a> {
    buf: &'a [u8],
}

fn read_varint(buf: &[u8]) -> Result<(u64, usize), WireError> {
    let mut v: u64 = 0;
    for (i, b) in buf.iter().enumerate().take(10) {
        let part = u64::from(b & 0x7f);
        if i == 9 && *b > 1 {
            return Err(WireError::VarintOverflow);
        }
        v |= part << (7 * i);
        if b & 0x80 == 0 {
            return Ok((v, i + 1));
        }
    }
    if buf.len() >= 10 {
        Err(WireError::VarintOverflow)
    } else {
        Err(WireError::Truncated)
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(u32, Wire<'a>), WireError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.buf.is_empty() {
            return None;
        }
        let r = self.step();
        if r.is_err() {
            self.buf = &[];
        }
        Some(r)
    }
}

impl<'a> Fields<'a> {
    fn step(&mut self) -> Result<(u32, Wire<'a>), WireError> {
        let (key, n) = read_varint(self.buf)?;
        let rest = self.buf.get(n..).ok_or(WireError::Truncated)?;
        let field = u32::try_from(key >> 3).map_err(|_| WireError::VarintOverflow)?;
        let (wire, used) = match key & 7 {
            0 => {
                let (v, m) = read_varint(rest)?;
                (Wire::Varint(v), m)
            }
            1 => {
                let b: [u8; 8] = rest
                    .get(..8)
                    .and_then(|s| s.try_into().ok())
                    .ok_or(WireError::Truncated)?;
                (Wire::Fixed64(u64::from_le_bytes(b)), 8)
            }
            2 => {
                let (len, m) = read_varint(rest)?;
                let len = usize::try_from(len).map_err(|_| WireError::Truncated)?;
                let end = m.checked_add(len).ok_or(WireError::Truncated)?;
                let bytes = rest.get(m..end).ok_or(WireError::Truncated)?;
                (Wire::Bytes(bytes), end)
            }
            5 => {
                if rest.len() < 4 {
                    return Err(WireError::Truncated);
                }
                (Wire::Fixed32, 4)
            }
            _ => return Err(WireError::WrongWireType),
        };
        self.buf = rest.get(used..).ok_or(WireError::Truncated)?;
        Ok((field, wire))
    }
}

fn fields(buf: &[u8]) -> Fields<'_> {
    Fields { buf }
}

fn as_u64(w: Wire<'_>) -> Result<u64, WireError> {
    match w {
        Wire::Varint(v) | Wire::Fixed64(v) => Ok(v),
        _ => Err(WireError::WrongWireType),
    }
}

fn as_bytes(w: Wire<'_>) -> Result<&[u8], WireError> {
    match w {
        Wire::Bytes(b) => Ok(b),
        _ => Err(WireError::WrongWireType),
    }
}

fn as_str(w: Wire<'_>) -> Result<&str, WireError> {
    core::str::from_utf8(as_bytes(w)?).map_err(|_| WireError::InvalidUtf8)
}

fn as_id(w: Wire<'_>) -> Result<Option<MemberId>, WireError> {
    let b = as_bytes(w)?;
    if b.is_empty() {
        return Ok(None);
    }
    MemberId::from_slice(b).map(Some).ok_or(WireError::InvalidId)
}

fn as_u32(w: Wire<'_>) -> Result<u32, WireError> {
    // proto3 uint32 decoders truncate; we do the same.
    Ok(as_u64(w)? as u32)
}

fn decode_addr(ip: &[u8], port: u32) -> Option<SocketAddr> {
    let port = u16::try_from(port).ok()?;
    let ip = match ip.len() {
        4 => {
            let b: [u8; 4] = ip.try_into().ok()?;
            IpAddr::V4(Ipv4Addr::from(b))
        }
        16 => {
            let b: [u8; 16] = ip.try_into().ok()?;
            IpAddr::V6(Ipv6Addr::from(b))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

/// A decoded frame: envelope plus one body.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Frame<'a> {
    pub(crate) group: GroupId,
    pub(crate) sender: MemberId,
    pub(crate) body: Body<'a>,
}

/// The bodies membership reads; everything else is `Other`.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Body<'a> {
    Join(Join<'a>),
    Leave(Leave),
    View(View<'a>),
    Heartbeat(Heartbeat),
    Probe(Probe),
    Request(Request<'a>),
    Reply(Reply<'a>),
    Ack(Ack<'a>),
    Other,
}

/// `Join`: a member asks to join a group, or announces itself.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Join<'a> {
    pub(crate) group_name: &'a str,
    pub(crate) member_name: &'a str,
    pub(crate) weight: u32,
    /// Encoded `BlazeMessage` bytes, opaque here.
    pub(crate) metadata: &'a [u8],
    pub(crate) incarnation: u64,
    pub(crate) address: Option<SocketAddr>,
}

/// `Leave`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Leave {
    pub(crate) incarnation: u64,
}

/// `View`, with its repeated fields read lazily.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct View<'a> {
    pub(crate) view_id: u64,
    pub(crate) merge: bool,
    raw: &'a [u8],
}

/// `ViewMember`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ViewMember<'a> {
    pub(crate) id: MemberId,
    pub(crate) name: &'a str,
    pub(crate) weight: u32,
    pub(crate) incarnation: u64,
    pub(crate) address: Option<SocketAddr>,
    pub(crate) rank: u64,
}

/// `Heartbeat` (the fields membership uses).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Heartbeat {
    pub(crate) view_id: u64,
    pub(crate) timestamp_us: u64,
    pub(crate) incarnation: u64,
}

/// `Probe`: SWIM ping, ping-req and their acks.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Probe {
    pub(crate) seq: u64,
    pub(crate) target: Option<MemberId>,
    pub(crate) origin: Option<MemberId>,
    pub(crate) ack: bool,
}

/// `Request`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Request<'a> {
    pub(crate) correlation: u64,
    pub(crate) target: Option<MemberId>,
    pub(crate) timeout_us: u64,
    pub(crate) payload: &'a [u8],
    pub(crate) queue: &'a str,
    pub(crate) redelivered: bool,
    pub(crate) p2p_seq: u64,
    pub(crate) one_way: bool,
}

/// `Reply`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Reply<'a> {
    pub(crate) correlation: u64,
    pub(crate) target: Option<MemberId>,
    pub(crate) payload: &'a [u8],
    pub(crate) error: u32,
}

/// `Ack`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Ack<'a> {
    pub(crate) target: Option<MemberId>,
    pub(crate) p2p_seq: u64,
    pub(crate) correlation: u64,
    pub(crate) queue: &'a str,
}

impl<'a> Frame<'a> {
    /// Decodes one datagram.
    pub(crate) fn parse(buf: &'a [u8]) -> Result<Self, WireError> {
        let mut version = 0;
        let mut group = GroupId::from_raw(0);
        let mut sender = None;
        let mut body = Body::Other;
        for f in fields(buf) {
            let (n, w) = f?;
            match n {
                1 => version = as_u32(w)?,
                2 => group = GroupId::from_raw(as_u64(w)?),
                3 => sender = as_id(w)?,
                15 => body = Body::Join(Join::parse(as_bytes(w)?)?),
                16 => body = Body::Leave(Leave::parse(as_bytes(w)?)?),
                17 => body = Body::View(View::parse(as_bytes(w)?)?),
                12 => body = Body::Heartbeat(Heartbeat::parse(as_bytes(w)?)?),
                24 => body = Body::Probe(Probe::parse(as_bytes(w)?)?),
                21 => body = Body::Request(Request::parse(as_bytes(w)?)?),
                22 => body = Body::Reply(Reply::parse(as_bytes(w)?)?),
                23 => body = Body::Ack(Ack::parse(as_bytes(w)?)?),
                10..=40 => body = Body::Other,
                _ => {}
            }
        }
        if version != VERSION {
            return Err(WireError::UnsupportedVersion);
        }
        let sender = sender.filter(|s| !s.is_nil()).ok_or(WireError::InvalidId)?;
        Ok(Frame { group, sender, body })
    }
}

impl<'a> Join<'a> {
    fn parse(buf: &'a [u8]) -> Result<Self, WireError> {
        let mut j = Join::default();
        let mut ip: &[u8] = &[];
        let mut port = 0;
        for f in fields(buf) {
            let (n, w) = f?;
            match n {
                1 => j.group_name = as_str(w)?,
                2 => j.member_name = as_str(w)?,
                3 => j.weight = as_u32(w)?,
                4 => j.metadata = as_bytes(w)?,
                5 => j.incarnation = as_u64(w)?,
                6 => ip = as_bytes(w)?,
                7 => port = as_u32(w)?,
                _ => {}
            }
        }
        j.address = decode_addr(ip, port);
        Ok(j)
    }
}

impl Leave {
    fn parse(buf: &[u8]) -> Result<Self, WireError> {
        let mut l = Leave::default();
        for f in fields(buf) {
            let (n, w) = f?;
            if n == 1 {
                l.incarnation = as_u64(w)?;
            }
        }
        Ok(l)
    }
}

impl<'a> View<'a> {
    fn parse(buf: &'a [u8]) -> Result<Self, WireError> {
        let mut v = View { raw: buf, ..View::default() };
        for f in fields(buf) {
            let (n, w) = f?;
            match n {
                1 => v.view_id = as_u64(w)?,
                2 => {
                    // Validate eagerly so the lazy iterator cannot fail later.
                    ViewMember::parse(as_bytes(w)?)?;
                }
                3 => v.merge = as_u64(w)? != 0,
                4 => {
                    if let Wire::Bytes(b) = w {
                        packed_u64(b)?;
                    } else {
                        as_u64(w)?;
                    }
                }
                _ => {}
            }
        }
        Ok(v)
    }

    /// The listed members, in order (coordinator first).
    pub(crate) fn members(&self) -> impl Iterator<Item = ViewMember<'a>> + 'a {
        fields(self.raw).filter_map(|f| match f {
            Ok((2, Wire::Bytes(b))) => ViewMember::parse(b).ok(),
            _ => None,
        })
    }

    /// Number of members listed.
    pub(crate) fn member_count(&self) -> usize {
        self.members().count()
    }

    /// The ids of the views merged into this one.
    pub(crate) fn merged_from(&self) -> impl Iterator<Item = u64> + 'a {
        fields(self.raw)
            .filter_map(|f| match f {
                Ok((4, w)) => Some(w),
                _ => None,
            })
            .flat_map(|w| {
                let (single, packed) = match w {
                    Wire::Bytes(b) => (None, b),
                    other => (as_u64(other).ok(), &[][..]),
                };
                single.into_iter().chain(PackedU64 { buf: packed })
            })
    }
}

struct PackedU64<'a> {
    buf: &'a [u8],
}

impl Iterator for PackedU64<'_> {
    type Item = u64;
    fn next(&mut self) -> Option<u64> {
        let (v, n) = read_varint(self.buf).ok()?;
        self.buf = self.buf.get(n..)?;
        Some(v)
    }
}

fn packed_u64(mut b: &[u8]) -> Result<(), WireError> {
    while !b.is_empty() {
        let (_, n) = read_varint(b)?;
        b = b.get(n..).ok_or(WireError::Truncated)?;
    }
    Ok(())
}

impl<'a> ViewMember<'a> {
    fn parse(buf: &'a [u8]) -> Result<Self, WireError> {
        let mut id = None;
        let mut m = ViewMember {
            id: MemberId::NIL,
            name: "",
            weight: 0,
            incarnation: 0,
            address: None,
            rank: 0,
        };
        let mut ip: &[u8] = &[];
        let mut port = 0;
        for f in fields(buf) {
            let (n, w) = f?;
            match n {
                1 => id = as_id(w)?,
                2 => m.name = as_str(w)?,
                3 => m.weight = as_u32(w)?,
                4 => m.incarnation = as_u64(w)?,
                5 => ip = as_bytes(w)?,
                6 => port = as_u32(w)?,
                7 => m.rank = as_u64(w)?,
                _ => {}
            }
        }
        m.id = id.filter(|i| !i.is_nil()).ok_or(WireError::InvalidId)?;
        m.address = decode_addr(ip, port);
        Ok(m)
    }
}

impl Heartbeat {
    fn parse(buf: &[u8]) -> Result<Self, WireError> {
        let mut h = Heartbeat::default();
        for f in fields(buf) {
            let (n, w) = f?;
            match n {
                2 => h.view_id = as_u64(w)?,
                3 => h.timestamp_us = as_u64(w)?,
                7 => h.incarnation = as_u64(w)?,
                _ => {}
            }
        }
        Ok(h)
    }
}

impl Probe {
    fn parse(buf: &[u8]) -> Result<Self, WireError> {
        let mut p = Probe::default();
        for f in fields(buf) {
            let (n, w) = f?;
            match n {
                1 => p.seq = as_u64(w)?,
                2 => p.target = as_id(w)?,
                3 => p.origin = as_id(w)?,
                4 => p.ack = as_u64(w)? != 0,
                _ => {}
            }
        }
        Ok(p)
    }
}

impl<'a> Request<'a> {
    fn parse(buf: &'a [u8]) -> Result<Self, WireError> {
        let mut r = Request::default();
        for f in fields(buf) {
            let (n, w) = f?;
            match n {
                1 => r.correlation = as_u64(w)?,
                2 => r.target = as_id(w)?,
                3 => r.timeout_us = as_u64(w)?,
                4 => r.payload = as_bytes(w)?,
                5 => r.queue = as_str(w)?,
                6 => r.redelivered = as_u64(w)? != 0,
                7 => r.p2p_seq = as_u64(w)?,
                8 => r.one_way = as_u64(w)? != 0,
                _ => {}
            }
        }
        Ok(r)
    }
}

impl<'a> Reply<'a> {
    fn parse(buf: &'a [u8]) -> Result<Self, WireError> {
        let mut r = Reply::default();
        for f in fields(buf) {
            let (n, w) = f?;
            match n {
                1 => r.correlation = as_u64(w)?,
                2 => r.target = as_id(w)?,
                3 => r.payload = as_bytes(w)?,
                4 => r.error = as_u32(w)?,
                _ => {}
            }
        }
        Ok(r)
    }
}

impl<'a> Ack<'a> {
    fn parse(buf: &'a [u8]) -> Result<Self, WireError> {
        let mut a = Ack::default();
        for f in fields(buf) {
            let (n, w) = f?;
            match n {
                1 => a.target = as_id(w)?,
                2 => a.p2p_seq = as_u64(w)?,
                3 => a.correlation = as_u64(w)?,
                4 => a.queue = as_str(w)?,
                _ => {}
            }
        }
        Ok(a)
    }
}

// ---------------------------------------------------------------- encoding

/// Where encoded bytes go: a counter (first pass) or the caller's buffer.
trait Sink {
    fn put(&mut self, bytes: &[u8]) -> Result<(), WireError>;
}

struct Counter(usize);

impl Sink for Counter {
    fn put(&mut self, bytes: &[u8]) -> Result<(), WireError> {
        self.0 = self.0.saturating_add(bytes.len());
        Ok(())
    }
}

struct Cursor<'b> {
    buf: &'b mut [u8],
    pos: usize,
}

impl Sink for Cursor<'_> {
    fn put(&mut self, bytes: &[u8]) -> Result<(), WireError> {
        let end = self.pos.checked_add(bytes.len()).ok_or(WireError::BufferTooSmall)?;
        let dst = self.buf.get_mut(self.pos..end).ok_or(WireError::BufferTooSmall)?;
        dst.copy_from_slice(bytes);
        self.pos = end;
        Ok(())
    }
}

fn put_varint(s: &mut dyn Sink, mut v: u64) -> Result<(), WireError> {
    let mut tmp = [0u8; 10];
    let mut n = 0;
    for slot in tmp.iter_mut() {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        n += 1;
        if v == 0 {
            *slot = byte;
            break;
        }
        *slot = byte | 0x80;
    }
    s.put(tmp.get(..n).unwrap_or(&[]))
}

fn put_key(s: &mut dyn Sink, field: u32, wire: u8) -> Result<(), WireError> {
    put_varint(s, (u64::from(field) << 3) | u64::from(wire))
}

fn put_u64(s: &mut dyn Sink, field: u32, v: u64) -> Result<(), WireError> {
    if v == 0 {
        return Ok(());
    }
    put_key(s, field, 0)?;
    put_varint(s, v)
}

fn put_bool(s: &mut dyn Sink, field: u32, v: bool) -> Result<(), WireError> {
    put_u64(s, field, u64::from(v))
}

fn put_bytes(s: &mut dyn Sink, field: u32, b: &[u8]) -> Result<(), WireError> {
    if b.is_empty() {
        return Ok(());
    }
    put_key(s, field, 2)?;
    put_varint(s, b.len() as u64)?;
    s.put(b)
}

fn put_id(s: &mut dyn Sink, field: u32, id: Option<MemberId>) -> Result<(), WireError> {
    match id {
        Some(id) => put_bytes(s, field, &id.to_bytes()),
        None => Ok(()),
    }
}

fn put_addr(s: &mut dyn Sink, ip_field: u32, addr: Option<SocketAddr>) -> Result<(), WireError> {
    match addr {
        Some(SocketAddr::V4(a)) => put_bytes(s, ip_field, &a.ip().octets())?,
        Some(SocketAddr::V6(a)) => put_bytes(s, ip_field, &a.ip().octets())?,
        None => return Ok(()),
    }
    put_u64(s, ip_field + 1, u64::from(addr.map_or(0, |a| a.port())))
}

fn put_msg(
    s: &mut dyn Sink,
    field: u32,
    body: &dyn Fn(&mut dyn Sink) -> Result<(), WireError>,
) -> Result<(), WireError> {
    let mut c = Counter(0);
    body(&mut c)?;
    put_key(s, field, 2)?;
    put_varint(s, c.0 as u64)?;
    body(s)
}

/// One member of a view being encoded.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ViewMemberOut<'a> {
    pub(crate) id: MemberId,
    pub(crate) name: &'a str,
    pub(crate) weight: u32,
    pub(crate) incarnation: u64,
    pub(crate) address: Option<SocketAddr>,
    pub(crate) rank: u64,
}

/// A body to encode.
#[derive(Clone, Copy)]
pub(crate) enum BodyOut<'a> {
    Join(Join<'a>),
    Leave(Leave),
    /// A view: id, merge flag, members (coordinator first), merged-from ids.
    View {
        view_id: u64,
        merge: bool,
        members: &'a dyn Fn(&mut dyn FnMut(ViewMemberOut<'_>) -> Result<(), WireError>) -> Result<(), WireError>,
        merged_from: &'a [u64],
    },
    Heartbeat(Heartbeat),
    Probe(Probe),
    Request(Request<'a>),
    Reply(Reply<'a>),
    Ack(Ack<'a>),
}

fn body_fields(s: &mut dyn Sink, body: &BodyOut<'_>) -> Result<(), WireError> {
    match body {
        BodyOut::Join(j) => {
            put_bytes(s, 1, j.group_name.as_bytes())?;
            put_bytes(s, 2, j.member_name.as_bytes())?;
            put_u64(s, 3, u64::from(j.weight))?;
            put_bytes(s, 4, j.metadata)?;
            put_u64(s, 5, j.incarnation)?;
            put_addr(s, 6, j.address)
        }
        BodyOut::Leave(l) => put_u64(s, 1, l.incarnation),
        BodyOut::View { view_id, merge, members, merged_from } => {
            put_u64(s, 1, *view_id)?;
            members(&mut |m: ViewMemberOut<'_>| {
                put_msg(s, 2, &|s: &mut dyn Sink| {
                    put_id(s, 1, Some(m.id))?;
                    put_bytes(s, 2, m.name.as_bytes())?;
                    put_u64(s, 3, u64::from(m.weight))?;
                    put_u64(s, 4, m.incarnation)?;
                    put_addr(s, 5, m.address)?;
                    put_u64(s, 7, m.rank)
                })
            })?;
            put_bool(s, 3, *merge)?;
            if !merged_from.is_empty() {
                let mut c = Counter(0);
                for v in merged_from.iter() {
                    put_varint(&mut c, *v)?;
                }
                put_key(s, 4, 2)?;
                put_varint(s, c.0 as u64)?;
                for v in merged_from.iter() {
                    put_varint(s, *v)?;
                }
            }
            Ok(())
        }
        BodyOut::Heartbeat(h) => {
            put_u64(s, 2, h.view_id)?;
            put_u64(s, 3, h.timestamp_us)?;
            put_u64(s, 7, h.incarnation)
        }
        BodyOut::Probe(p) => {
            put_u64(s, 1, p.seq)?;
            put_id(s, 2, p.target)?;
            put_id(s, 3, p.origin)?;
            put_bool(s, 4, p.ack)
        }
        BodyOut::Request(r) => {
            put_u64(s, 1, r.correlation)?;
            put_id(s, 2, r.target)?;
            put_u64(s, 3, r.timeout_us)?;
            put_bytes(s, 4, r.payload)?;
            put_bytes(s, 5, r.queue.as_bytes())?;
            put_bool(s, 6, r.redelivered)?;
            put_u64(s, 7, r.p2p_seq)?;
            put_bool(s, 8, r.one_way)
        }
        BodyOut::Reply(r) => {
            put_u64(s, 1, r.correlation)?;
            put_id(s, 2, r.target)?;
            put_bytes(s, 3, r.payload)?;
            put_u64(s, 4, u64::from(r.error))
        }
        BodyOut::Ack(a) => {
            put_id(s, 1, a.target)?;
            put_u64(s, 2, a.p2p_seq)?;
            put_u64(s, 3, a.correlation)?;
            put_bytes(s, 4, a.queue.as_bytes())
        }
    }
}

fn body_field_number(body: &BodyOut<'_>) -> u32 {
    match body {
        BodyOut::Join(_) => 15,
        BodyOut::Leave(_) => 16,
        BodyOut::View { .. } => 17,
        BodyOut::Heartbeat(_) => 12,
        BodyOut::Probe(_) => 24,
        BodyOut::Request(_) => 21,
        BodyOut::Reply(_) => 22,
        BodyOut::Ack(_) => 23,
    }
}

fn frame_fields(
    s: &mut dyn Sink,
    group: GroupId,
    sender: MemberId,
    body: &BodyOut<'_>,
) -> Result<(), WireError> {
    put_u64(s, 1, u64::from(VERSION))?;
    put_key(s, 2, 1)?;
    s.put(&group.raw().to_le_bytes())?;
    put_id(s, 3, Some(sender))?;
    put_msg(s, body_field_number(body), &|s: &mut dyn Sink| body_fields(s, body))
}

/// Encodes one frame into `buf`; returns its length.
pub(crate) fn emit(
    buf: &mut [u8],
    group: GroupId,
    sender: MemberId,
    body: &BodyOut<'_>,
) -> Result<usize, WireError> {
    let mut c = Cursor { buf, pos: 0 };
    frame_fields(&mut c, group, sender, body)?;
    Ok(c.pos)
}

/// The encoded length of one frame.
#[cfg(test)]
pub(crate) fn encoded_len(group: GroupId, sender: MemberId, body: &BodyOut<'_>) -> usize {
    let mut c = Counter(0);
    match frame_fields(&mut c, group, sender, body) {
        Ok(()) => c.0,
        Err(_) => usize::MAX,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const G: GroupId = GroupId::from_name("g");
    const A: MemberId = MemberId::from_u128(0xa1);

    fn round(body: BodyOut<'_>, check: impl FnOnce(Frame<'_>)) {
        let mut buf = [0u8; 512];
        let n = emit(&mut buf, G, A, &body).unwrap();
        assert_eq!(n, encoded_len(G, A, &body));
        let f = Frame::parse(&buf[..n]).unwrap();
        assert_eq!(f.group, G);
        assert_eq!(f.sender, A);
        check(f);
        for cut in 0..n {
            // Every truncation is an error or a different frame, never a panic.
            let _ = Frame::parse(&buf[..cut]);
        }
    }

    #[test]
    fn heartbeat_bytes() {
        let mut buf = [0u8; 64];
        let n = emit(
            &mut buf,
            GroupId::from_raw(1),
            MemberId::from_u128(2),
            &BodyOut::Heartbeat(Heartbeat { view_id: 5, timestamp_us: 0, incarnation: 1 }),
        )
        .unwrap();
        let mut want = std::vec![0x08, 0x01, 0x11, 1, 0, 0, 0, 0, 0, 0, 0, 0x1a, 16];
        want.extend_from_slice(&[0; 15]);
        want.push(2);
        want.extend_from_slice(&[0x62, 4, 0x10, 5, 0x38, 1]);
        assert_eq!(&buf[..n], &want[..]);
    }

    #[test]
    fn join_round_trip() {
        let addr: SocketAddr = "10.0.0.7:4000".parse().unwrap();
        let j = Join {
            group_name: "chat",
            member_name: "ann",
            weight: 3,
            metadata: &[1, 2, 3],
            incarnation: 9,
            address: Some(addr),
        };
        round(BodyOut::Join(j), |f| match f.body {
            Body::Join(g) => {
                assert_eq!(g.group_name, "chat");
                assert_eq!(g.member_name, "ann");
                assert_eq!(g.weight, 3);
                assert_eq!(g.metadata, &[1, 2, 3]);
                assert_eq!(g.incarnation, 9);
                assert_eq!(g.address, Some(addr));
            }
            _ => panic!("wrong body"),
        });
    }

    #[test]
    fn view_round_trip() {
        let addr: SocketAddr = "[::1]:9".parse().unwrap();
        let ids = [MemberId::from_u128(7), MemberId::from_u128(u128::MAX)];
        let members = |f: &mut dyn FnMut(ViewMemberOut<'_>) -> Result<(), WireError>| {
            for (i, id) in ids.iter().enumerate() {
                f(ViewMemberOut {
                    id: *id,
                    name: "m",
                    weight: i as u32,
                    incarnation: 1,
                    address: Some(addr),
                    rank: i as u64,
                })?;
            }
            Ok(())
        };
        let body = BodyOut::View { view_id: 1 << 40, merge: true, members: &members, merged_from: &[3, 1 << 33] };
        round(body, |f| match f.body {
            Body::View(v) => {
                assert_eq!(v.view_id, 1 << 40);
                assert!(v.merge);
                let got: std::vec::Vec<_> = v.members().map(|m| (m.id, m.rank, m.address)).collect();
                assert_eq!(got, std::vec![(ids[0], 0, Some(addr)), (ids[1], 1, Some(addr))]);
                let mf: std::vec::Vec<_> = v.merged_from().collect();
                assert_eq!(mf, std::vec![3, 1 << 33]);
            }
            _ => panic!("wrong body"),
        });
    }

    #[test]
    fn request_reply_ack_probe_round_trip() {
        let r = Request {
            correlation: 77,
            target: Some(A),
            timeout_us: 5,
            payload: b"hi",
            queue: "q",
            redelivered: true,
            p2p_seq: 300,
            one_way: true,
        };
        round(BodyOut::Request(r), |f| match f.body {
            Body::Request(x) => {
                assert_eq!((x.correlation, x.target, x.payload, x.queue), (77, Some(A), &b"hi"[..], "q"));
                assert!(x.redelivered && x.one_way);
                assert_eq!(x.p2p_seq, 300);
            }
            _ => panic!("wrong body"),
        });
        round(BodyOut::Reply(Reply { correlation: 1, target: None, payload: b"x", error: 2 }), |f| {
            assert!(matches!(f.body, Body::Reply(r) if r.correlation == 1 && r.error == 2 && r.payload == b"x"));
        });
        round(BodyOut::Ack(Ack { target: Some(A), p2p_seq: 4, correlation: 5, queue: "q" }), |f| {
            assert!(matches!(f.body, Body::Ack(a) if a.p2p_seq == 4 && a.correlation == 5 && a.queue == "q"));
        });
        round(BodyOut::Probe(Probe { seq: 3, target: Some(A), origin: None, ack: true }), |f| {
            assert!(matches!(f.body, Body::Probe(p) if p.seq == 3 && p.ack && p.origin.is_none()));
        });
        round(BodyOut::Leave(Leave { incarnation: 2 }), |f| {
            assert!(matches!(f.body, Body::Leave(l) if l.incarnation == 2));
        });
    }

    #[test]
    fn rejects_bad_version_and_sender() {
        assert_eq!(Frame::parse(&[0x08, 0x02]).unwrap_err(), WireError::UnsupportedVersion);
        assert_eq!(Frame::parse(&[0x08, 0x01]).unwrap_err(), WireError::InvalidId);
        assert_eq!(Frame::parse(&[0x08]).unwrap_err(), WireError::Truncated);
        assert_eq!(Frame::parse(&[0x0f]).unwrap_err(), WireError::WrongWireType);
    }

    #[test]
    fn too_small_buffer_is_an_error() {
        let mut buf = [0u8; 10];
        let body = BodyOut::Leave(Leave { incarnation: 1 });
        assert_eq!(emit(&mut buf, G, A, &body), Err(WireError::BufferTooSmall));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 256, rng_seed: proptest::test_runner::RngSeed::Fixed(7), ..Default::default() })]
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            if let Ok(f) = Frame::parse(&bytes) {
                if let Body::View(v) = f.body {
                    let _ = v.members().count();
                    let _ = v.merged_from().count();
                }
            }
        }

        #[test]
        fn request_round_trips(corr in 0u64.., seq in 0u64.., payload in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..100), one_way: bool) {
            let r = Request { correlation: corr, p2p_seq: seq, payload: &payload, one_way, ..Request::default() };
            let body = BodyOut::Request(r);
            let mut buf = [0u8; 256];
            let n = emit(&mut buf, G, A, &body).unwrap();
            proptest::prop_assert_eq!(n, encoded_len(G, A, &body));
            match Frame::parse(&buf[..n]).unwrap().body {
                Body::Request(x) => {
                    proptest::prop_assert_eq!(x.correlation, corr);
                    proptest::prop_assert_eq!(x.p2p_seq, seq);
                    proptest::prop_assert_eq!(x.payload, &payload[..]);
                    proptest::prop_assert_eq!(x.one_way, one_way);
                }
                _ => proptest::prop_assert!(false),
            }
        }
    }
}
