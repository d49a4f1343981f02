//! The frames this machine reads and writes (schema `proto/blaze.proto`),
//! through the shared codec of `blaze-wire`:
//!
//! - `DataBatch`: `Frame.sender` is the member that originated the messages
//!   (also on retransmissions, which set `repair`); `ring` is the ring the
//!   batch is broadcast on; `first_seq` the ring sequence number of the
//!   first message; `qos` is `AGREED` or `SAFE`; each message names its
//!   topic in `DataMessage.topic`. A batch with `recovered_from` set carries
//!   messages of that old ring re-sent on the new one during recovery:
//!   `Frame.sender` is the member that re-sent them and each message's
//!   `recovered` names its original sender, sequence number and qos.
//! - `Token`: the regular token, unicast to `next`.
//! - `Join`: `proc_set`, `fail_set` and `ring_seq` of the gather state.
//! - `View`: the commit token; `commit_hop` counts its hops from the
//!   representative, `members` lists the new ring in ascending id order,
//!   `ring` is the new ring and `ring_states` is filled in by each member.
//!
//! Decoding borrows the datagram; the codec checks every length.

use blaze_wire::{
    Body, DataBatch, DataMessage, Frame, GroupId, Join, MemberId, MemberRingState, Message, Qos,
    RecoveredMessage, Repeated, RingId, SeqRange, Token, View, ViewMember, tag_len, varint_len,
};

pub(crate) use blaze_wire::DecodeError;

/// Wire protocol version written and accepted.
pub(crate) const VERSION: u32 = blaze_wire::VERSION;

const BODY_DATA: u32 = 10;

/// A decoded frame.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FrameIn<'a> {
    pub(crate) version: u32,
    pub(crate) group: u64,
    pub(crate) sender: MemberId,
    pub(crate) body: BodyIn<'a>,
}

/// The bodies this machine handles.
#[derive(Debug, Clone, Copy)]
pub(crate) enum BodyIn<'a> {
    Data(DataBatch<'a>),
    Token(Token<'a>),
    Join(Join<'a>),
    Commit(View<'a>),
    Other,
}

/// Decodes one datagram.
pub(crate) fn parse(buf: &[u8]) -> Result<FrameIn<'_>, DecodeError> {
    let f = Frame::parse(buf)?;
    let body = match f.body {
        Body::Data(d) => BodyIn::Data(d),
        Body::Token(t) => BodyIn::Token(t),
        Body::Join(j) => BodyIn::Join(j),
        Body::View(v) if v.ring.is_some() => BodyIn::Commit(v),
        _ => BodyIn::Other,
    };
    Ok(FrameIn {
        version: f.version,
        group: f.group.raw(),
        sender: f.sender,
        body,
    })
}

/// The wire qos of a message.
pub(crate) fn qos(safe: bool) -> Qos {
    if safe { Qos::SAFE } else { Qos::AGREED }
}

/// Length of a nested message of `n` bytes in field `field`.
const fn nested(field: u32, n: usize) -> usize {
    tag_len(field) + varint_len(n as u64) + n
}

/// Bytes one message adds to a batch: its topic and payload fields (each
/// absent when empty), and its origin when it is a recovered message.
pub(crate) fn batch_share(
    topic_len: usize,
    payload_len: usize,
    recovered: Option<&RecoveredMessage>,
) -> usize {
    let field = |n: u32, len: usize| if len == 0 { 0 } else { nested(n, len) };
    let origin = recovered.map_or(0, |r| nested(6, r.encoded_len()));
    let body = field(1, payload_len) + field(4, topic_len) + origin;
    nested(4, body)
}

/// The header of a data batch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct DataOut {
    /// The ring the batch is broadcast on.
    pub(crate) ring: RingId,
    pub(crate) first_seq: u64,
    pub(crate) safe: bool,
    pub(crate) repair: bool,
    /// The re-sender's old ring, for a batch of recovered messages.
    pub(crate) recovered_from: Option<RingId>,
}

impl DataOut {
    fn batch<'a>(&self, msgs: &'a [DataMessage<'a>]) -> DataBatch<'a> {
        DataBatch {
            first_seq: self.first_seq,
            messages: Repeated::from_slice(msgs),
            qos: qos(self.safe),
            repair: self.repair,
            ring: Some(self.ring),
            recovered_from: self.recovered_from,
            ..DataBatch::default()
        }
    }
}

/// The owned form of a token, for the holder and for retransmission.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TokenOut<const R: usize> {
    pub(crate) ring: RingId,
    pub(crate) token_seq: u64,
    pub(crate) seq: u64,
    pub(crate) aru: u64,
    pub(crate) aru_id: Option<MemberId>,
    pub(crate) rtr: heapless::Vec<SeqRange, R>,
    pub(crate) fcc: u32,
    pub(crate) backlog: u32,
    pub(crate) next: MemberId,
}

impl<const R: usize> TokenOut<R> {
    /// The owned copy of a received token (retransmission requests beyond
    /// `R` ranges are dropped; their members ask again next rotation).
    pub(crate) fn from_wire(t: &Token<'_>, ring: RingId, next: MemberId) -> Self {
        let mut rtr = heapless::Vec::new();
        for r in t.rtr.iter() {
            if r.start <= r.end && rtr.push(r).is_err() {
                break;
            }
        }
        TokenOut {
            ring,
            token_seq: t.token_seq,
            seq: t.seq,
            aru: t.aru,
            aru_id: t.aru_id,
            rtr,
            fcc: t.fcc,
            backlog: t.backlog,
            next,
        }
    }
}

/// The owned commit token.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CommitOut<const N: usize> {
    pub(crate) ring: RingId,
    pub(crate) hop: u64,
    pub(crate) members: heapless::Vec<MemberId, N>,
    pub(crate) states: heapless::Vec<MemberRingState, N>,
}

/// The envelope shared by every frame.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Envelope {
    pub(crate) group: u64,
    pub(crate) sender: MemberId,
}

/// The output buffer is too small; nothing useful was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BufferTooSmall;

impl From<blaze_wire::EncodeError> for BufferTooSmall {
    fn from(_: blaze_wire::EncodeError) -> Self {
        BufferTooSmall
    }
}

impl Envelope {
    fn frame<'a>(&self, sender: MemberId, body: Body<'a>) -> Frame<'a> {
        Frame {
            version: VERSION,
            group: GroupId::from_raw(self.group),
            sender,
            auth_tag: &[],
            body,
        }
    }

    /// Size of a data frame whose messages add `messages_len` bytes.
    pub(crate) fn data_len(&self, hdr: &DataOut, messages_len: usize) -> usize {
        self.frame(self.sender, Body::Empty).header_len()
            + nested(BODY_DATA, hdr.batch(&[]).encoded_len() + messages_len)
    }

    /// Writes a data frame on behalf of `origin`.
    pub(crate) fn emit_data(
        &self,
        buf: &mut [u8],
        origin: MemberId,
        hdr: &DataOut,
        msgs: &[DataMessage<'_>],
    ) -> Result<usize, BufferTooSmall> {
        Ok(self.frame(origin, Body::Data(hdr.batch(msgs))).emit(buf)?)
    }

    /// Writes a token frame.
    pub(crate) fn emit_token<const R: usize>(
        &self,
        buf: &mut [u8],
        t: &TokenOut<R>,
    ) -> Result<usize, BufferTooSmall> {
        let tok = Token {
            ring: Some(t.ring),
            token_seq: t.token_seq,
            seq: t.seq,
            aru: t.aru,
            aru_id: t.aru_id,
            rtr: Repeated::from_slice(&t.rtr),
            fcc: t.fcc,
            backlog: t.backlog,
            next: Some(t.next),
        };
        Ok(self.frame(self.sender, Body::Token(tok)).emit(buf)?)
    }

    /// Writes a join frame.
    pub(crate) fn emit_join(
        &self,
        buf: &mut [u8],
        proc_set: &[MemberId],
        fail_set: &[MemberId],
        ring_seq: u64,
        services: u32,
    ) -> Result<usize, BufferTooSmall> {
        let join = Join {
            proc_set: Repeated::from_slice(proc_set),
            fail_set: Repeated::from_slice(fail_set),
            ring_seq,
            services,
            ..Join::default()
        };
        Ok(self.frame(self.sender, Body::Join(join)).emit(buf)?)
    }

    /// Writes a commit-token frame.
    pub(crate) fn emit_commit<const N: usize>(
        &self,
        buf: &mut [u8],
        c: &CommitOut<N>,
    ) -> Result<usize, BufferTooSmall> {
        let mut members = [ViewMember::default(); N];
        for (slot, id) in members.iter_mut().zip(c.members.iter()) {
            slot.id = Some(*id);
        }
        let view = View {
            commit_hop: c.hop,
            members: Repeated::from_slice(members.get(..c.members.len()).unwrap_or(&[])),
            ring: Some(c.ring),
            ring_states: Repeated::from_slice(&c.states),
            ..View::default()
        };
        Ok(self.frame(self.sender, Body::View(view)).emit(buf)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENV: Envelope = Envelope {
        group: 9,
        sender: MemberId::from_u128(5),
    };

    #[test]
    fn data_len_matches_emit() {
        let ring = RingId {
            rep: Some(MemberId::from_u128(1)),
            seq: 77,
        };
        let hdr = DataOut {
            ring,
            first_seq: 300,
            safe: true,
            repair: false,
            recovered_from: None,
        };
        let parts: [(&str, &[u8]); 4] = [("", b""), ("t", b"abc"), ("", &[7; 200]), ("x", b"")];
        let msgs = parts.map(|(topic, payload)| DataMessage {
            payload,
            topic,
            ..DataMessage::default()
        });
        let share: usize = parts
            .iter()
            .map(|(t, p)| batch_share(t.len(), p.len(), None))
            .sum();
        let mut buf = [0u8; 512];
        let n = ENV
            .emit_data(&mut buf, MemberId::from_u128(5), &hdr, &msgs)
            .unwrap();
        assert_eq!(n, ENV.data_len(&hdr, share));
        let f = parse(&buf[..n]).unwrap();
        let BodyIn::Data(d) = f.body else {
            panic!("not data")
        };
        assert_eq!((d.ring, d.first_seq, d.qos), (Some(ring), 300, Qos::SAFE));
        assert_eq!(d.recovered_from, None);
        let second = d.messages.iter().nth(1).unwrap();
        assert_eq!((second.topic, second.payload), ("t", &b"abc"[..]));
    }

    #[test]
    fn recovered_batch_len_matches_emit() {
        let ring = RingId {
            rep: Some(MemberId::from_u128(1)),
            seq: 9,
        };
        let old = RingId {
            rep: Some(MemberId::from_u128(2)),
            seq: 7,
        };
        let hdr = DataOut {
            ring,
            first_seq: 1,
            safe: false,
            repair: false,
            recovered_from: Some(old),
        };
        let origin = RecoveredMessage {
            sender: Some(MemberId::from_u128(u128::MAX - 3)),
            seq: 1 << 40,
            safe: true,
        };
        let msgs = [DataMessage {
            payload: b"hi",
            topic: "orders",
            recovered: Some(origin),
            ..DataMessage::default()
        }];
        let mut buf = [0u8; 256];
        let n = ENV.emit_data(&mut buf, ENV.sender, &hdr, &msgs).unwrap();
        assert_eq!(n, ENV.data_len(&hdr, batch_share(6, 2, Some(&origin))));
        let BodyIn::Data(d) = parse(&buf[..n]).unwrap().body else {
            panic!("not data")
        };
        assert_eq!(d.recovered_from, Some(old));
        assert_eq!(d.messages.iter().next().unwrap().recovered, Some(origin));
    }

    #[test]
    fn token_and_commit_round_trip() {
        let ring = RingId {
            rep: Some(MemberId::from_u128(1)),
            seq: 8,
        };
        let mut rtr = heapless::Vec::<SeqRange, 4>::new();
        rtr.push(SeqRange { start: 3, end: 4 }).unwrap();
        let t = TokenOut {
            ring,
            token_seq: 11,
            seq: 20,
            aru: 2,
            aru_id: Some(MemberId::from_u128(2)),
            rtr,
            fcc: 3,
            backlog: 1,
            next: MemberId::from_u128(3),
        };
        let mut buf = [0u8; 256];
        let n = ENV.emit_token(&mut buf, &t).unwrap();
        let BodyIn::Token(w) = parse(&buf[..n]).unwrap().body else {
            panic!("not a token")
        };
        assert_eq!(TokenOut::<4>::from_wire(&w, ring, t.next), t);

        let mut c = CommitOut::<3> {
            ring,
            hop: 2,
            members: heapless::Vec::new(),
            states: heapless::Vec::new(),
        };
        c.members.push(MemberId::from_u128(1)).unwrap();
        c.members.push(MemberId::from_u128(4)).unwrap();
        c.states
            .push(MemberRingState {
                id: Some(MemberId::from_u128(1)),
                aru: 6,
                ..MemberRingState::default()
            })
            .unwrap();
        let n = ENV.emit_commit(&mut buf, &c).unwrap();
        let BodyIn::Commit(v) = parse(&buf[..n]).unwrap().body else {
            panic!("not a commit")
        };
        assert_eq!((v.commit_hop, v.view_id), (2, 0));
        assert_eq!(v.members.len(), 2);
        assert_eq!(v.ring_states.iter().next().unwrap().aru, 6);
    }
}
