//! Data frames: batches of application messages.

use crate::{DecodeError, Field, Reader, WireType};

proto_enum! {
    /// Quality of service of a stream (`blaze.v1.Qos`).
    pub struct Qos {
        /// Plain datagrams: no recovery.
        BEST_EFFORT = 0,
        /// Reliable, per-sender FIFO, NACK-based recovery.
        RELIABLE = 1,
        /// Reliable with Reed–Solomon forward error correction.
        RELIABLE_FEC = 2,
        /// Total order through the Totem ring, agreed delivery.
        AGREED = 3,
        /// Total order through the Totem ring, safe delivery.
        SAFE = 4,
    }
}

message! {
    /// One message, or one fragment of a large message (`blaze.v1.DataMessage`).
    ///
    /// For a payload of up to 127 bytes, unfragmented and without its own
    /// topic, the framing inside a batch is 4 bytes.
    pub struct DataMessage<'a> {
        /// The message bytes, or this fragment's share of them.
        1 => payload: &'a [u8],
        /// Index of this fragment, from 0.
        2 => fragment_index: u32,
        /// Number of fragments of the whole message; 0 or 1 means unfragmented.
        3 => fragment_count: u32,
        /// Topic of this message when it differs from the batch's topic.
        4 => topic: &'a str,
        /// Total length of the whole message, on fragment 0 only.
        5 => total_len: u64,
        /// Totem recovery: where the message was first broadcast.
        6 => recovered: Option<RecoveredMessage>,
    }
}

message! {
    /// The origin of an old Totem ring's message re-sent on a new ring
    /// (`blaze.v1.RecoveredMessage`).
    pub struct RecoveredMessage {
        /// The member that first broadcast the message.
        1 => sender: Option<crate::MemberId>,
        /// Its sequence number on the old ring.
        2 => seq: u64,
        /// True when it was sent for safe delivery.
        3 => safe: bool,
    }
}

message! {
    /// A run of consecutive messages of one stream (`blaze.v1.DataBatch`).
    ///
    /// Message `i` of the batch has sequence number `first_seq + i`.
    pub struct DataBatch<'a> {
        /// The sender's stream id.
        1 => stream: u32,
        /// Topic of every message that does not name its own.
        2 => topic: &'a str,
        /// Sequence number of the first message.
        3 => first_seq: u64,
        /// The messages, in sequence order.
        4 => messages: crate::Repeated<'a, DataMessage<'a>>,
        /// Quality of service of the stream.
        5 => qos: Qos,
        /// True when the batch answers a NACK.
        6 => repair: bool,
        /// Oldest sequence number the sender still holds.
        7 => window_start: u64,
        /// Totem: the ring the batch is broadcast on.
        8 => ring: Option<crate::RingId>,
        /// Totem recovery: the re-sender's old ring, when the messages are
        /// an old ring's re-sent on `ring`.
        9 => recovered_from: Option<crate::RingId>,
    }
}

impl DataMessage<'_> {
    /// The topic of this message inside `batch`.
    pub fn topic_in<'b>(&'b self, batch: &'b DataBatch<'_>) -> &'b str {
        if self.topic.is_empty() {
            batch.topic
        } else {
            self.topic
        }
    }

    /// True when the message is one fragment of a larger one.
    pub const fn is_fragment(&self) -> bool {
        self.fragment_count > 1
    }
}

/// The messages of an encoded batch, decoded and checked one at a time
/// as they are read ([`Frame::parse_deferred`](crate::Frame::parse_deferred)).
///
/// Each item is a message or the error that ends the batch: after an
/// `Err` the iterator is done. Whoever reads them must read them all
/// before acting on any, to refuse a batch that is malformed further on.
#[derive(Debug, Clone)]
pub struct BatchMessages<'a> {
    reader: Reader<'a>,
    depth: u8,
    max_depth: u8,
}

impl<'a> BatchMessages<'a> {
    /// The messages of the batch encoded in `batch`, a batch nested
    /// `depth` levels down.
    pub(crate) fn new(batch: &'a [u8], depth: u8, max_depth: u8) -> Self {
        BatchMessages {
            reader: Reader::new(batch),
            depth,
            max_depth,
        }
    }
}

impl Default for BatchMessages<'_> {
    fn default() -> Self {
        BatchMessages::new(&[], 0, 0)
    }
}

impl<'a> Iterator for BatchMessages<'a> {
    type Item = Result<DataMessage<'a>, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.reader.is_empty() {
                return None;
            }
            let step = self.reader.tag().and_then(|(field, wire)| match field {
                4 if wire == WireType::Len => {
                    DataMessage::decode(&mut self.reader, self.depth, self.max_depth).map(Some)
                }
                4 => Err(DecodeError::WrongWireType { field }),
                _ => self.reader.skip(wire).map(|()| None),
            });
            match step {
                Ok(Some(m)) => return Some(Ok(m)),
                Ok(None) => {}
                Err(e) => {
                    self.reader = Reader::new(&[]);
                    return Some(Err(e));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Message, Repeated};

    #[test]
    fn small_message_framing_is_four_bytes() {
        let m = DataMessage {
            payload: &[7u8; 64],
            ..DataMessage::default()
        };
        let msgs = [m];
        let one = DataBatch {
            messages: Repeated::from_slice(&msgs),
            ..DataBatch::default()
        };
        let none = DataBatch::default();
        assert_eq!(one.encoded_len() - none.encoded_len(), 64 + 4);
    }

    #[test]
    fn byte_vector() {
        let msgs = [DataMessage {
            payload: b"hi",
            ..DataMessage::default()
        }];
        let batch = DataBatch {
            stream: 1,
            topic: "t",
            first_seq: 300,
            messages: Repeated::from_slice(&msgs),
            qos: Qos::RELIABLE,
            ..DataBatch::default()
        };
        let mut buf = [0u8; 32];
        let n = batch.emit(&mut buf).unwrap();
        let expected = [
            0x08, 0x01, // stream = 1
            0x12, 0x01, b't', // topic = "t"
            0x18, 0xac, 0x02, // first_seq = 300
            0x22, 0x04, 0x0a, 0x02, b'h', b'i', // messages { payload = "hi" }
            0x28, 0x01, // qos = RELIABLE
        ];
        assert_eq!(&buf[..n], &expected[..]);
        let back = DataBatch::parse(&expected).unwrap();
        assert_eq!(back, batch);
        assert_eq!(back.messages.iter().next().unwrap().payload, b"hi");
    }

    #[test]
    fn totem_recovery_byte_vector() {
        let msgs = [DataMessage {
            payload: b"a",
            recovered: Some(RecoveredMessage {
                sender: None,
                seq: 9,
                safe: true,
            }),
            ..DataMessage::default()
        }];
        let batch = DataBatch {
            messages: Repeated::from_slice(&msgs),
            ring: Some(crate::RingId { rep: None, seq: 5 }),
            recovered_from: Some(crate::RingId { rep: None, seq: 4 }),
            ..DataBatch::default()
        };
        let expected = [
            0x22, 0x09, // messages {
            0x0a, 0x01, b'a', //   payload = "a"
            0x32, 0x04, 0x10, 0x09, 0x18, 0x01, //   recovered { seq = 9, safe = true } }
            0x42, 0x02, 0x10, 0x05, // ring { seq = 5 }
            0x4a, 0x02, 0x10, 0x04, // recovered_from { seq = 4 }
        ];
        let mut buf = [0u8; 32];
        let n = batch.emit(&mut buf).unwrap();
        assert_eq!(&buf[..n], &expected[..]);
        assert_eq!(batch.encoded_len(), expected.len());
        assert_eq!(DataBatch::parse(&expected).unwrap(), batch);
    }
}
