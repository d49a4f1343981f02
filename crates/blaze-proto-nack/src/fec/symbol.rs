//! What one FEC symbol is.
//!
//! A symbol is one sequence number of the stream: the message (or
//! fragment) it carries, encoded as the `blaze.v1.DataMessage` that would
//! carry it in a data batch (`payload`, `topic` on a message's first
//! fragment only, `fragment_index`, `fragment_count`, `total_len`; never a
//! batch topic), canonically, as `blaze-wire` emits it.
//! Sender and receivers produce the same bytes from the same fields: the
//! sender from its retransmit window, a receiver from its receive slots,
//! so neither keeps a second copy of the data.
//!
//! The symbols of a block are zero-padded to the longest one; the `Parity`
//! frame carries the `k` true lengths (`lengths`), so a rebuilt symbol is
//! cut to its length and decoded as a `DataMessage` again. `block_crc` is
//! the CRC-32C of the `k` unpadded symbols in order: a rebuilt block is
//! delivered only when it matches, so a corrupted parity symbol cannot
//! slip through.

use blaze_wire::{DataMessage, Message};

use crate::frames::MsgIn;

/// Bytes a symbol may add to its payload and topic (tags and varints of
/// the five fields), an upper bound.
pub(crate) const SYMBOL_OVERHEAD: usize = 32;

/// The symbol of a message: its `DataMessage` encoding.
pub(crate) fn of<'m>(msg: &MsgIn<'m>) -> DataMessage<'m> {
    DataMessage {
        payload: msg.payload,
        topic: if msg.fragment_index == 0 {
            msg.topic
        } else {
            ""
        },
        fragment_index: msg.fragment_index,
        fragment_count: msg.fragment_count,
        total_len: msg.total_len,
        recovered: None,
    }
}

/// Writes `msg`'s symbol into `out`, zero-padding the rest; returns its
/// true length, `None` when it does not fit.
pub(crate) fn write(msg: &DataMessage<'_>, out: &mut [u8]) -> Option<usize> {
    let n = msg.emit(out).ok()?;
    out.get_mut(n..)?.fill(0);
    Some(n)
}

/// Reads a rebuilt symbol (cut to its true length) back into a message.
pub(crate) fn read(symbol: &[u8]) -> Option<MsgIn<'_>> {
    let m = DataMessage::parse(symbol).ok()?;
    Some(MsgIn {
        topic: m.topic,
        payload: m.payload,
        fragment_index: m.fragment_index,
        fragment_count: m.fragment_count,
        total_len: m.total_len,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_through_padding() {
        let m = of(&MsgIn {
            topic: "t",
            payload: b"hello",
            fragment_index: 0,
            fragment_count: 3,
            total_len: 12,
        });
        let mut buf = [0xffu8; 32];
        let n = write(&m, &mut buf).unwrap();
        assert_eq!(n, m.encoded_len());
        assert!(buf[n..].iter().all(|&b| b == 0));
        let back = read(&buf[..n]).unwrap();
        assert_eq!(
            (
                back.topic,
                back.payload,
                back.fragment_count,
                back.total_len
            ),
            ("t", &b"hello"[..], 3, 12)
        );
        assert!(write(&m, &mut [0u8; 3]).is_none());
    }
}
