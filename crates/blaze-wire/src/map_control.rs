//! Control messages of the replicated map: acknowledgements, re-requests,
//! coordinator beats, fail-over sync and snapshot transfer.

use crate::MemberId;

proto_enum! {
    /// Kind of a map control message (`blaze.v1.MapControlKind`).
    pub struct MapControlKind {
        /// Not set.
        UNSPECIFIED = 0,
        /// Member to coordinator: the epoch's stream is held up to `order`.
        ACK = 1,
        /// Send orders `order..=last_order` of `epoch` again.
        RE_REQUEST = 2,
        /// Coordinator heartbeat: highest sequenced and committed orders.
        BEAT = 3,
        /// A new coordinator asks every member for its history.
        SYNC_REQUEST = 4,
        /// A member's history: its epoch and how far it applied it.
        SYNC_REPLY = 5,
        /// The sync result: the new epoch continues the winning one.
        SYNC_DONE = 6,
        /// Joiner to server: send the snapshot from `cursor`.
        SNAPSHOT_REQUEST = 7,
        /// Server to joiner: the snapshot ends here.
        SNAPSHOT_END = 8,
        /// Server to joiner: start the session over later.
        SNAPSHOT_RESTART = 9,
        /// A re-request fell below the log: take a snapshot instead.
        SNAPSHOT_NEEDED = 10,
    }
}

message! {
    /// A control message of the replicated map (`blaze.v1.MapControl`).
    /// Which fields a kind uses is documented in `proto/blaze.proto`.
    ///
    /// ```
    /// use blaze_wire::{MapControl, MapControlKind, Message};
    /// let beat = MapControl {
    ///     kind: MapControlKind::BEAT,
    ///     epoch: 4,
    ///     order: 120,
    ///     committed: 118,
    ///     ..MapControl::default()
    /// };
    /// let mut buf = [0u8; 32];
    /// let n = beat.emit(&mut buf).unwrap();
    /// assert_eq!(MapControl::parse(&buf[..n]), Ok(beat));
    /// ```
    pub struct MapControl {
        /// What the message is.
        1 => kind: MapControlKind,
        /// The epoch id the message is about.
        2 => epoch: u64,
        /// The coordinator that started `epoch`.
        3 => epoch_leader: Option<MemberId>,
        /// The view being synchronised (sync messages).
        4 => view_id: u64,
        /// The order number the kind refers to.
        5 => order: u64,
        /// Re-request: the last order missing (inclusive).
        6 => last_order: u64,
        /// Beat: the committed order.
        7 => committed: u64,
        /// The order at which `epoch` began.
        8 => epoch_base: u64,
        /// Snapshot pull session.
        9 => session: u64,
        /// Snapshot request: the position to send from.
        10 => cursor: u64,
        /// Snapshot end: the position right after the last record.
        11 => prev_cursor: u64,
        /// Ack: the member is a parked merge loser.
        12 => parked: bool,
        /// Beat: parked merge losers may now take the merged state.
        13 => losers_reset: bool,
        /// Sync reply: the member holds a state.
        14 => holds_state: bool,
        /// Sync done: losers park until the merge scan is done.
        15 => losers_park: bool,
        /// Sync reply and done: how many members the history's side had
        /// in its last view before any merge (the side's weight).
        16 => side_size: u64,
        /// Sync reply and done: the epoch id in which that side formed.
        17 => side_epoch: u64,
        /// Sync reply and done: the coordinator that formed that side.
        18 => side_leader: Option<MemberId>,
        /// Sync reply and done: the epoch that side's first view continued
        /// (a history still in that epoch is older than the side).
        19 => side_parent: u64,
        /// Sync reply and done: the coordinator of `side_parent`.
        20 => side_parent_leader: Option<MemberId>,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{LockOp, LockOpKind, MapOp, MapOpKind, Message, RequestWindow};

    #[test]
    fn byte_vector() {
        let m = MapControl {
            kind: MapControlKind::SYNC_REPLY,
            epoch: 3,
            epoch_leader: Some(MemberId::from_u128(5)),
            view_id: 300,
            order: 9,
            epoch_base: 2,
            holds_state: true,
            ..MapControl::default()
        };
        let mut buf = [0u8; 64];
        let n = m.emit(&mut buf).unwrap();
        let expected = [
            0x08, 0x05, // kind = SYNC_REPLY
            0x10, 0x03, // epoch = 3
            0x1a, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x05, // epoch_leader
            0x20, 0xac, 0x02, // view_id = 300
            0x28, 0x09, // order = 9
            0x40, 0x02, // epoch_base = 2
            0x70, 0x01, // holds_state = true
        ];
        assert_eq!(&buf[..n], &expected[..]);
        assert_eq!(MapControl::parse(&expected), Ok(m));
    }

    #[test]
    fn every_field_round_trips() {
        let m = MapControl {
            kind: MapControlKind::SNAPSHOT_NEEDED,
            epoch: u64::MAX,
            epoch_leader: Some(MemberId::from_u128(u128::MAX)),
            view_id: 1,
            order: 2,
            last_order: 3,
            committed: 4,
            epoch_base: 5,
            session: 6,
            cursor: 7,
            prev_cursor: 8,
            parked: true,
            losers_reset: true,
            holds_state: true,
            losers_park: true,
            side_size: 9,
            side_epoch: 10,
            side_leader: Some(MemberId::from_u128(11)),
            side_parent: 12,
            side_parent_leader: Some(MemberId::from_u128(13)),
        };
        let mut buf = [0u8; 128];
        let n = m.emit(&mut buf).unwrap();
        assert_eq!(n, m.encoded_len());
        assert_eq!(MapControl::parse(&buf[..n]), Ok(m));
        // A kind from a newer peer survives.
        let newer = MapControl {
            kind: MapControlKind(99),
            ..MapControl::default()
        };
        let n = newer.emit(&mut buf).unwrap();
        assert_eq!(MapControl::parse(&buf[..n]), Ok(newer));
    }

    #[test]
    fn new_map_and_lock_fields_byte_vector() {
        let op = MapOp {
            kind: MapOpKind::SNAPSHOT_REQUEST_WINDOW,
            epoch: 1,
            origin: Some(MemberId::from_u128(2)),
            snapshot_session: 3,
            snapshot_cursor: 4,
            snapshot_prev_cursor: 5,
            has_value: true,
            request_window: Some(RequestWindow {
                member: Some(MemberId::from_u128(6)),
                highest_request: 7,
                applied_bits: 8,
            }),
            ..MapOp::default()
        };
        let mut buf = [0u8; 96];
        let n = op.emit(&mut buf).unwrap();
        let mut expected = std::vec![
            0x10, 0x07, // kind = SNAPSHOT_REQUEST_WINDOW
            0x68, 0x01, // epoch = 1
            0x72, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, // origin
            0x78, 0x03, // snapshot_session = 3
            0x80, 0x01, 0x04, // snapshot_cursor = 4
            0x88, 0x01, 0x05, // snapshot_prev_cursor = 5
            0x90, 0x01, 0x01, // has_value = true
            0x9a, 0x01, 0x16, // request_window, 22 bytes
            0x0a, 0x10, // member
        ];
        expected.extend_from_slice(&6u128.to_be_bytes());
        expected.extend_from_slice(&[0x10, 0x07, 0x18, 0x08]);
        assert_eq!(&buf[..n], &expected[..]);
        assert_eq!(MapOp::parse(&expected), Ok(op));

        let lock = LockOp {
            kind: LockOpKind::SNAPSHOT,
            epoch: 1,
            error: 2,
            snapshot_session: 3,
            snapshot_cursor: 4,
            snapshot_prev_cursor: 5,
            quarantined: true,
            ..LockOp::default()
        };
        let n = lock.emit(&mut buf).unwrap();
        let expected = [
            0x18, 0x08, // kind = SNAPSHOT
            0x50, 0x01, // epoch = 1
            0x58, 0x02, // error = 2
            0x60, 0x03, // snapshot_session = 3
            0x68, 0x04, // snapshot_cursor = 4
            0x70, 0x05, // snapshot_prev_cursor = 5
            0x78, 0x01, // quarantined = true
        ];
        assert_eq!(&buf[..n], &expected[..]);
        assert_eq!(LockOp::parse(&expected), Ok(lock));
    }
}
