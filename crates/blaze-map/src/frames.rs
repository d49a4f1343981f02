//! Every frame this crate sends or accepts: the `MapOp`, `LockOp` and
//! `MapControl` bodies of `proto/blaze.proto`.
//!
//! Requests and sequenced operations are `MapOp` / `LockOp` with the
//! schema's kinds; sequenced ones carry their stream's epoch in `epoch` and
//! the member that caused them in `MapOp.origin` / `LockOp.holder`.
//! Snapshot records are `MapOp` of kind `SNAPSHOT` (entries) or
//! `SNAPSHOT_REQUEST_WINDOW` (duplicate-suppression windows) and `LockOp`
//! of kind `SNAPSHOT`, positioned by their `snapshot_*` fields. The
//! ordering, fail-over and state-transfer protocols speak `MapControl`.

use blaze_wire::{
    Body, Frame, GroupId, LockOp, LockOpKind, MapControl, MapControlKind, MapOp, MapOpKind,
    MemberId, Message, RequestWindow, VERSION,
};

/// One decoded frame of this crate.
#[derive(Debug, Clone, Copy, PartialEq)]
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
        side: Side,
    },
    SnapReq {
        session: u64,
        cursor: u64,
    },
    SnapEntry(MapOp<'a>),
    SnapWindow(SnapWindow),
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

/// The side a history belongs to, as it was before any merge: the epoch in
/// which the side formed (a view that merged nothing) and how many members
/// that view had. A merged view keeps the winning side's `Side`, so every
/// step of a merge that forms one view at a time compares whole sides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Side {
    pub(crate) size: u64,
    pub(crate) epoch: Epoch,
    /// The epoch the side's first view continued: a history still in it
    /// belongs to a member the side left behind (never told), which is
    /// older than the side whatever the size it remembers.
    pub(crate) parent: Epoch,
}

impl Side {
    /// The merge order: the larger side wins; between sides of equal size,
    /// the one formed in the later epoch (view id, then coordinator id).
    pub(crate) fn rank(&self) -> (u64, Epoch) {
        (self.size, self.epoch)
    }
}

/// A snapshot record holding one member's request window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SnapWindow {
    pub(crate) session: u64,
    /// The cursor right after the previous record.
    pub(crate) prev: u64,
    pub(crate) cursor: u64,
    pub(crate) member: MemberId,
    pub(crate) high: u64,
    pub(crate) bits: u64,
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
    pub(crate) side: Side,
}

/// Why a datagram was not one of ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParseError {
    #[cfg_attr(
        not(any(test, feature = "ring")),
        expect(
            dead_code,
            reason = "datagrams are decoded here for the ring-ordered mode only"
        )
    )]
    Decode(blaze_wire::DecodeError),
    Version,
    Group,
    Body,
}

/// Decodes a datagram of `group`, returning its sender and message.
#[cfg(any(test, feature = "ring"))]
pub(crate) fn parse(group: GroupId, datagram: &[u8]) -> Result<(MemberId, Msg<'_>), ParseError> {
    let frame = Frame::parse(datagram).map_err(ParseError::Decode)?;
    parse_frame(group, &frame)
}

/// The sender and message of a decoded frame of `group`.
pub(crate) fn parse_frame<'a>(
    group: GroupId,
    frame: &Frame<'a>,
) -> Result<(MemberId, Msg<'a>), ParseError> {
    if frame.version != VERSION {
        return Err(ParseError::Version);
    }
    if frame.group != group {
        return Err(ParseError::Group);
    }
    let msg = match frame.body {
        Body::MapOp(m) => parse_map(m).ok_or(ParseError::Body)?,
        Body::LockOp(l) => parse_lock(l).ok_or(ParseError::Body)?,
        Body::MapControl(c) => parse_control(c).ok_or(ParseError::Body)?,
        _ => return Err(ParseError::Body),
    };
    Ok((frame.sender, msg))
}

fn parse_map(m: MapOp<'_>) -> Option<Msg<'_>> {
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
        MapOpKind::SNAPSHOT_REQUEST_WINDOW => {
            let w = m.request_window?;
            Msg::SnapWindow(SnapWindow {
                session: m.snapshot_session,
                prev: m.snapshot_prev_cursor,
                cursor: m.snapshot_cursor,
                member: w.member.unwrap_or(MemberId::NIL),
                high: w.highest_request,
                bits: w.applied_bits,
            })
        }
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
        LockOpKind::SNAPSHOT => Msg::SnapLock(l),
        _ => return None,
    })
}

fn parse_control(c: MapControl) -> Option<Msg<'static>> {
    let epoch = Epoch {
        id: c.epoch,
        leader: c.epoch_leader.unwrap_or(MemberId::NIL),
    };
    let side = Side {
        size: c.side_size,
        epoch: Epoch {
            id: c.side_epoch,
            leader: c.side_leader.unwrap_or(MemberId::NIL),
        },
        parent: Epoch {
            id: c.side_parent,
            leader: c.side_parent_leader.unwrap_or(MemberId::NIL),
        },
    };
    Some(match c.kind {
        MapControlKind::ACK => Msg::Ack {
            epoch: c.epoch,
            applied: c.order,
            parked: c.parked,
        },
        MapControlKind::RE_REQUEST => Msg::Nack {
            epoch: c.epoch,
            lo: c.order,
            hi: c.last_order,
        },
        MapControlKind::BEAT => Msg::Beat {
            epoch: c.epoch,
            high: c.order,
            committed: c.committed,
            reset_losers: c.losers_reset,
        },
        MapControlKind::SYNC_REQUEST => Msg::SyncReq { view: c.view_id },
        MapControlKind::SYNC_REPLY => Msg::SyncReply(SyncReport {
            view: c.view_id,
            applied: c.order,
            epoch,
            synced: c.holds_state,
            epoch_base: c.epoch_base,
            side,
        }),
        MapControlKind::SYNC_DONE => Msg::SyncDone {
            view: c.view_id,
            base: c.order,
            winner: epoch,
            park: c.losers_park,
            side,
        },
        MapControlKind::SNAPSHOT_REQUEST => Msg::SnapReq {
            session: c.session,
            cursor: c.cursor,
        },
        MapControlKind::SNAPSHOT_END => Msg::SnapEnd(SnapEnd {
            session: c.session,
            prev: c.prev_cursor,
            as_of: c.order,
            epoch,
            epoch_base: c.epoch_base,
        }),
        MapControlKind::SNAPSHOT_RESTART => Msg::SnapRestart { session: c.session },
        MapControlKind::SNAPSHOT_NEEDED => Msg::SnapNeeded { epoch: c.epoch },
        _ => return None,
    })
}

/// Encodes `body` from `sender` into `buf`; `None` if it does not fit.
#[inline(never)]
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

/// A control message of kind `kind` with every other field default.
pub(crate) fn ctl(kind: MapControlKind) -> MapControl {
    MapControl {
        kind,
        ..MapControl::default()
    }
}

/// The optional wire form of a member id: the nil id is left out.
pub(crate) fn id(m: MemberId) -> Option<MemberId> {
    Some(m).filter(|m| !m.is_nil())
}

/// The wire form of a request window record.
pub(crate) fn window(w: &SnapWindow) -> MapOp<'static> {
    MapOp {
        kind: MapOpKind::SNAPSHOT_REQUEST_WINDOW,
        snapshot_session: w.session,
        snapshot_cursor: w.cursor,
        snapshot_prev_cursor: w.prev,
        request_window: Some(RequestWindow {
            member: id(w.member),
            highest_request: w.high,
            applied_bits: w.bits,
        }),
        ..MapOp::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<'b>(body: Body<'_>, buf: &'b mut [u8]) -> Msg<'b> {
        let g = GroupId::from_name("g");
        let me = MemberId::from_u128(7);
        let n = emit(g, me, body, buf).unwrap();
        let (from, msg) = parse(g, &buf[..n]).unwrap();
        assert_eq!(from, me);
        msg
    }

    #[test]
    fn control_round_trip() {
        let g = GroupId::from_name("g");
        let me = MemberId::from_u128(7);
        let mut buf = [0u8; 256];
        let body = MapControl {
            view_id: 3,
            order: 9,
            epoch: 4,
            epoch_leader: Some(me),
            holds_state: true,
            epoch_base: 2,
            side_size: 3,
            side_epoch: 1,
            side_leader: Some(me),
            ..ctl(MapControlKind::SYNC_REPLY)
        };
        let n = emit(g, me, Body::MapControl(body), &mut buf).unwrap();
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
                epoch_base: 2,
                side: Side {
                    size: 3,
                    epoch: Epoch { id: 1, leader: me },
                    parent: Epoch::default(),
                },
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
    fn every_control_kind_maps_to_its_message() {
        let leader = MemberId::from_u128(9);
        let c = MapControl {
            epoch: 4,
            epoch_leader: Some(leader),
            view_id: 5,
            order: 6,
            last_order: 8,
            committed: 3,
            epoch_base: 2,
            session: 11,
            cursor: 12,
            prev_cursor: 13,
            parked: true,
            losers_reset: true,
            holds_state: true,
            losers_park: true,
            side_size: 5,
            side_epoch: 1,
            side_leader: Some(leader),
            side_parent_leader: Some(leader),
            ..MapControl::default()
        };
        let e = Epoch { id: 4, leader };
        let side = Side {
            size: 5,
            epoch: Epoch { id: 1, leader },
            parent: Epoch { id: 0, leader },
        };
        let cases = [
            (
                MapControlKind::ACK,
                Msg::Ack {
                    epoch: 4,
                    applied: 6,
                    parked: true,
                },
            ),
            (
                MapControlKind::RE_REQUEST,
                Msg::Nack {
                    epoch: 4,
                    lo: 6,
                    hi: 8,
                },
            ),
            (
                MapControlKind::BEAT,
                Msg::Beat {
                    epoch: 4,
                    high: 6,
                    committed: 3,
                    reset_losers: true,
                },
            ),
            (MapControlKind::SYNC_REQUEST, Msg::SyncReq { view: 5 }),
            (
                MapControlKind::SYNC_REPLY,
                Msg::SyncReply(SyncReport {
                    view: 5,
                    applied: 6,
                    epoch: e,
                    synced: true,
                    epoch_base: 2,
                    side,
                }),
            ),
            (
                MapControlKind::SYNC_DONE,
                Msg::SyncDone {
                    view: 5,
                    base: 6,
                    winner: e,
                    park: true,
                    side,
                },
            ),
            (
                MapControlKind::SNAPSHOT_REQUEST,
                Msg::SnapReq {
                    session: 11,
                    cursor: 12,
                },
            ),
            (
                MapControlKind::SNAPSHOT_END,
                Msg::SnapEnd(SnapEnd {
                    session: 11,
                    prev: 13,
                    as_of: 6,
                    epoch: e,
                    epoch_base: 2,
                }),
            ),
            (
                MapControlKind::SNAPSHOT_RESTART,
                Msg::SnapRestart { session: 11 },
            ),
            (
                MapControlKind::SNAPSHOT_NEEDED,
                Msg::SnapNeeded { epoch: 4 },
            ),
        ];
        let mut buf = [0u8; 128];
        for (kind, want) in cases {
            let got = round_trip(Body::MapControl(MapControl { kind, ..c }), &mut buf);
            assert_eq!(got, want, "{kind:?}");
        }
        let g = GroupId::from_name("g");
        for kind in [MapControlKind::UNSPECIFIED, MapControlKind(11)] {
            let n = emit(g, leader, Body::MapControl(ctl(kind)), &mut buf).unwrap();
            assert_eq!(parse(g, &buf[..n]).err(), Some(ParseError::Body));
        }
    }

    #[test]
    fn request_windows_round_trip_and_need_their_window() {
        let w = SnapWindow {
            session: 3,
            prev: 40,
            cursor: 41,
            member: MemberId::from_u128(5),
            high: 77,
            bits: 0b1011,
        };
        let mut buf = [0u8; 128];
        assert_eq!(
            round_trip(Body::MapOp(window(&w)), &mut buf),
            Msg::SnapWindow(w)
        );
        let g = GroupId::from_name("g");
        let bare = MapOp {
            request_window: None,
            ..window(&w)
        };
        let n = emit(g, w.member, Body::MapOp(bare), &mut buf).unwrap();
        assert_eq!(parse(g, &buf[..n]).err(), Some(ParseError::Body));
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
