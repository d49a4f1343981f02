//! Every frame this crate sends or accepts, mapped onto the `MapOp` and
//! `LockOp` bodies of `proto/blaze.proto`.
//!
//! Requests and sequenced operations use the schema's kinds as documented.
//! The control messages of the ordering, fail-over and state-transfer
//! protocols use `MapOpKind` values 64 and up (open proto3 enum values,
//! kept by every reader) with fields reused as listed on each constant.
//! Sequenced operations carry the sender's epoch (the view id in which its
//! coordinator synchronised) in `MapOp.fence` / `LockOp.wait_us`, and the
//! member that caused them in `MapOp.owner` / `LockOp.holder`.

use blaze_wire::{
    Body, DecodeError, Frame, GroupId, LockOp, LockOpKind, MapOp, MapOpKind, MemberId, Message,
    VERSION,
};

/// Acknowledgement, member → coordinator: `fence` epoch, `order` highest
/// contiguous order held, `flags` 1 = parked merge loser.
pub(crate) const ACK: MapOpKind = MapOpKind(64);
/// Re-request, member → coordinator (or → sync source): `fence` epoch,
/// `order`..=`version` the missing orders.
pub(crate) const NACK: MapOpKind = MapOpKind(65);
/// Coordinator heartbeat: `fence` epoch, `order` highest sequenced,
/// `version` committed, `flags` 1 = parked losers may now reset.
pub(crate) const BEAT: MapOpKind = MapOpKind(66);
/// New coordinator asks for each member's history: `fence` view id.
pub(crate) const SYNC_REQ: MapOpKind = MapOpKind(67);
/// A member's history: `fence` view id, `order` applied, `version` epoch,
/// `owner` epoch leader, `flags` 1 = holds a state, `ttl_us` epoch base.
pub(crate) const SYNC_REPLY: MapOpKind = MapOpKind(68);
/// Sync result: `fence` the new epoch (view id), `order` base order,
/// `version` and `owner` the winning epoch and its leader, `flags` 1 =
/// losers park until the merge scan is done.
pub(crate) const SYNC_DONE: MapOpKind = MapOpKind(69);
/// Snapshot pull: `request_id` session, `version` cursor.
pub(crate) const SNAP_REQ: MapOpKind = MapOpKind(70);
/// End of a snapshot: `request_id` session, `order` as-of order, `version`
/// epoch, `owner` epoch leader, `ttl_us` epoch base, `fence` the cursor
/// right after the last record.
pub(crate) const SNAP_END: MapOpKind = MapOpKind(71);
/// The server cannot serve this session now (busy or its state moved):
/// `request_id` session. The puller starts over later.
pub(crate) const SNAP_RESTART: MapOpKind = MapOpKind(72);
/// A re-request fell below the log: take a snapshot. `fence` epoch.
pub(crate) const SNAP_NEEDED: MapOpKind = MapOpKind(73);
/// Lock part of a snapshot record: `request_id` session, `order` cursor,
/// `wait_us` twice the cursor right after the previous record, plus 1 when
/// the lock is quarantined rather than held. (Value records carry that
/// cursor in `fence`.)
pub(crate) const SNAP_LOCK: LockOpKind = LockOpKind(64);

/// Snapshot entry flag: the record carries a value.
pub(crate) const SNAP_HAS_VALUE: u32 = 0x100;
/// Snapshot record flag: not an entry but a member's request window
/// (`owner` the member, `version` its highest request, `ttl_us` the bits).
pub(crate) const SNAP_DEDUP: u32 = 0x200;

/// One decoded frame of this crate.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Msg<'a> {
    MapRequest(MapOp<'a>),
    LockRequest(LockOp<'a>),
    MapSeq(MapOp<'a>),
    LockSeq(LockOp<'a>),
    Ack {
        epoch: u64,
        applied: u64,
        parked: bool,
    },
    Nack {
        epoch: u64,
        lo: u64,
        hi: u64,
    },
    Beat {
        epoch: u64,
        high: u64,
        committed: u64,
        reset_losers: bool,
    },
    SyncReq {
        view: u64,
    },
    SyncReply(SyncReport),
    SyncDone {
        view: u64,
        base: u64,
        winner: Epoch,
        park: bool,
    },
    SnapReq {
        session: u64,
        cursor: u64,
    },
    SnapEntry(MapOp<'a>),
    SnapLock(LockOp<'a>),
    SnapEnd(SnapEnd),
    SnapRestart {
        session: u64,
    },
    SnapNeeded {
        epoch: u64,
    },
    Denied(LockOp<'a>),
}

/// An epoch: the view in which a coordinator synchronised, and that
/// coordinator. Two partitions may reuse a view id; the leader tells them
/// apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub(crate) struct Epoch {
    pub(crate) id: u64,
    pub(crate) leader: MemberId,
}

/// The end of a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SnapEnd {
    pub(crate) session: u64,
    /// The cursor right after the last record.
    pub(crate) prev: u64,
    pub(crate) as_of: u64,
    pub(crate) epoch: Epoch,
    pub(crate) epoch_base: u64,
}

/// A member's answer to a sync request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SyncReport {
    pub(crate) view: u64,
    pub(crate) applied: u64,
    pub(crate) epoch: Epoch,
    pub(crate) synced: bool,
    pub(crate) epoch_base: u64,
}

/// Why a datagram was not one of ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParseError {
    Decode(DecodeError),
    Version,
    Group,
    Body,
}

/// Decodes a datagram of `group`, returning its sender and message.
pub(crate) fn parse(group: GroupId, datagram: &[u8]) -> Result<(MemberId, Msg<'_>), ParseError> {
    let frame = Frame::parse(datagram).map_err(ParseError::Decode)?;
    if frame.version != VERSION {
        return Err(ParseError::Version);
    }
    if frame.group != group {
        return Err(ParseError::Group);
    }
    let msg = match frame.body {
        Body::MapOp(m) => parse_map(m).ok_or(ParseError::Body)?,
        Body::LockOp(l) => parse_lock(l).ok_or(ParseError::Body)?,
        _ => return Err(ParseError::Body),
    };
    Ok((frame.sender, msg))
}

fn parse_map(m: MapOp<'_>) -> Option<Msg<'_>> {
    let flag = m.flags & 1 != 0;
    Some(match m.kind {
        MapOpKind::PUT
        | MapOpKind::PUT_IF_ABSENT
        | MapOpKind::COMPARE_AND_SET
        | MapOpKind::REMOVE
        | MapOpKind::EXPIRE => {
            if m.order == 0 {
                Msg::MapRequest(m)
            } else {
                Msg::MapSeq(m)
            }
        }
        MapOpKind::SNAPSHOT => Msg::SnapEntry(m),
        ACK => Msg::Ack {
            epoch: m.fence,
            applied: m.order,
            parked: flag,
        },
        NACK => Msg::Nack {
            epoch: m.fence,
            lo: m.order,
            hi: m.version,
        },
        BEAT => Msg::Beat {
            epoch: m.fence,
            high: m.order,
            committed: m.version,
            reset_losers: flag,
        },
        SYNC_REQ => Msg::SyncReq { view: m.fence },
        SYNC_REPLY => Msg::SyncReply(SyncReport {
            view: m.fence,
            applied: m.order,
            epoch: Epoch {
                id: m.version,
                leader: m.owner.unwrap_or(MemberId::NIL),
            },
            synced: flag,
            epoch_base: m.ttl_us,
        }),
        SYNC_DONE => Msg::SyncDone {
            view: m.fence,
            base: m.order,
            winner: Epoch {
                id: m.version,
                leader: m.owner.unwrap_or(MemberId::NIL),
            },
            park: flag,
        },
        SNAP_REQ => Msg::SnapReq {
            session: m.request_id,
            cursor: m.version,
        },
        SNAP_END => Msg::SnapEnd(SnapEnd {
            session: m.request_id,
            prev: m.fence,
            as_of: m.order,
            epoch: Epoch {
                id: m.version,
                leader: m.owner.unwrap_or(MemberId::NIL),
            },
            epoch_base: m.ttl_us,
        }),
        SNAP_RESTART => Msg::SnapRestart {
            session: m.request_id,
        },
        SNAP_NEEDED => Msg::SnapNeeded { epoch: m.fence },
        _ => return None,
    })
}

fn parse_lock(l: LockOp<'_>) -> Option<Msg<'_>> {
    Some(match l.kind {
        LockOpKind::ACQUIRE => Msg::LockRequest(l),
        LockOpKind::RELEASE | LockOpKind::RENEW if l.order == 0 => Msg::LockRequest(l),
        LockOpKind::GRANTED
        | LockOpKind::RELEASE
        | LockOpKind::EXPIRED
        | LockOpKind::REVOKED
        | LockOpKind::RENEW => Msg::LockSeq(l),
        LockOpKind::DENIED => Msg::Denied(l),
        SNAP_LOCK => Msg::SnapLock(l),
        _ => return None,
    })
}

/// Encodes `body` from `sender` into `buf`; `None` if it does not fit.
pub(crate) fn emit(
    group: GroupId,
    sender: MemberId,
    body: Body<'_>,
    buf: &mut [u8],
) -> Option<usize> {
    let frame = Frame {
        version: VERSION,
        group,
        sender,
        auth_tag: &[],
        body,
    };
    frame.emit(buf).ok()
}

/// A control `MapOp` of kind `kind` with every other field default.
pub(crate) fn ctl(kind: MapOpKind) -> MapOp<'static> {
    MapOp {
        kind,
        ..MapOp::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_round_trip() {
        let g = GroupId::from_name("g");
        let me = MemberId::from_u128(7);
        let mut buf = [0u8; 256];
        let body = MapOp {
            fence: 3,
            order: 9,
            version: 4,
            owner: Some(me),
            flags: 1,
            ttl_us: 2,
            ..ctl(SYNC_REPLY)
        };
        let n = emit(g, me, Body::MapOp(body), &mut buf).unwrap();
        let (from, msg) = parse(g, &buf[..n]).unwrap();
        assert_eq!(from, me);
        let Msg::SyncReply(r) = msg else {
            panic!("wrong message {msg:?}")
        };
        assert_eq!(
            r,
            SyncReport {
                view: 3,
                applied: 9,
                epoch: Epoch { id: 4, leader: me },
                synced: true,
                epoch_base: 2
            }
        );
        assert_eq!(
            parse(GroupId::from_name("other"), &buf[..n]).err(),
            Some(ParseError::Group)
        );
        assert!(matches!(
            parse(g, &buf[..n / 2]),
            Err(ParseError::Decode(_))
        ));
    }

    #[test]
    fn requests_and_sequenced_ops_are_told_apart_by_order() {
        let g = GroupId::from_name("g");
        let me = MemberId::from_u128(1);
        let mut buf = [0u8; 256];
        let req = MapOp {
            kind: MapOpKind::PUT,
            key: b"k",
            ..MapOp::default()
        };
        let n = emit(g, me, Body::MapOp(req), &mut buf).unwrap();
        assert!(matches!(parse(g, &buf[..n]), Ok((_, Msg::MapRequest(_)))));
        let seq = MapOp { order: 5, ..req };
        let n = emit(g, me, Body::MapOp(seq), &mut buf).unwrap();
        assert!(matches!(parse(g, &buf[..n]), Ok((_, Msg::MapSeq(_)))));
        let lock = LockOp {
            kind: LockOpKind::RELEASE,
            ..LockOp::default()
        };
        let n = emit(g, me, Body::LockOp(lock), &mut buf).unwrap();
        assert!(matches!(parse(g, &buf[..n]), Ok((_, Msg::LockRequest(_)))));
        let n = emit(g, me, Body::LockOp(LockOp { order: 2, ..lock }), &mut buf).unwrap();
        assert!(matches!(parse(g, &buf[..n]), Ok((_, Msg::LockSeq(_)))));
    }
}
