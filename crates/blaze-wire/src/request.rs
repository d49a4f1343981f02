//! Point-to-point messages, request/reply and acknowledgements.

use crate::MemberId;

proto_enum! {
    /// The role of a request in queue messaging (`blaze.v1.QueueOp`).
    pub struct QueueOp {
        /// Not a queue message.
        NONE = 0,
        /// Producer to coordinator: a message for the queue.
        PRODUCE = 1,
        /// Coordinator to consumer: a delivery with a coordinator-assigned id.
        DELIVER = 2,
        /// Consumer to coordinator: a delivery was consumed.
        CONSUMED = 3,
        /// Coordinator to producer: the producer's message was consumed.
        PRODUCED = 4,
        /// Consumer to coordinator: subscribe to the queue.
        SUBSCRIBE = 5,
        /// Consumer to coordinator: unsubscribe from the queue.
        UNSUBSCRIBE = 6,
    }
}

message! {
    /// A request to one member or any member (`blaze.v1.Request`).
    pub struct Request<'a> {
        /// Correlation id chosen by the requester.
        1 => correlation: u64,
        /// Target member; `None` means any member of the group.
        2 => target: Option<MemberId>,
        /// Time-out the requester applies, microseconds.
        3 => timeout_us: u64,
        /// Payload.
        4 => payload: &'a [u8],
        /// Queue name, for queue messages.
        5 => queue: &'a str,
        /// True for a redelivery.
        6 => redelivered: bool,
        /// Point-to-point sequence number.
        7 => p2p_seq: u64,
        /// True for a one-way message that expects no reply.
        8 => one_way: bool,
        /// The role of the message in queue messaging.
        9 => queue_op: QueueOp,
        /// The life of the sender's point-to-point channel to the receiver.
        10 => p2p_epoch: u64,
    }
}

message! {
    /// A reply to a request (`blaze.v1.Reply`).
    pub struct Reply<'a> {
        /// Correlation id of the request.
        1 => correlation: u64,
        /// The requester.
        2 => target: Option<MemberId>,
        /// Payload.
        3 => payload: &'a [u8],
        /// Error code (0 = ok).
        4 => error: u32,
    }
}

message! {
    /// Acknowledgement of point-to-point or queue messages, or of a
    /// multicast stream (`blaze.v1.Ack`).
    pub struct Ack<'a> {
        /// The member whose messages are acknowledged.
        1 => target: Option<MemberId>,
        /// Cumulative point-to-point sequence acknowledged.
        2 => p2p_seq: u64,
        /// Queue message acknowledged.
        3 => correlation: u64,
        /// Queue name.
        4 => queue: &'a str,
        /// True when this acknowledges a multicast stream.
        5 => stream_ack: bool,
        /// The acknowledged stream of `target`, when `stream_ack`.
        6 => stream: u32,
        /// Next sequence number needed on that stream, when `stream_ack`.
        7 => next_seq: u64,
        /// The point-to-point channel epoch `p2p_seq` belongs to.
        8 => p2p_epoch: u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Message;

    #[test]
    fn queue_op_and_epoch_byte_vectors() {
        let r = Request {
            queue: "q",
            queue_op: QueueOp::SUBSCRIBE,
            p2p_epoch: 300,
            ..Request::default()
        };
        let expected = [
            0x2a, 0x01, b'q', // queue = "q"
            0x48, 0x05, // queue_op = SUBSCRIBE
            0x50, 0xac, 0x02, // p2p_epoch = 300
        ];
        let mut buf = [0u8; 16];
        let n = r.emit(&mut buf).unwrap();
        assert_eq!(&buf[..n], &expected[..]);
        assert_eq!(Request::parse(&expected).unwrap(), r);

        let a = Ack {
            p2p_seq: 3,
            p2p_epoch: 7,
            ..Ack::default()
        };
        let expected = [0x10, 0x03, 0x40, 0x07];
        let n = a.emit(&mut buf).unwrap();
        assert_eq!(&buf[..n], &expected[..]);
        assert_eq!(Ack::parse(&expected).unwrap(), a);
    }
}
