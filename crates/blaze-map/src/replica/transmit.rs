//! `poll_transmit`: pending work serialised into the caller's buffer, one
//! datagram per call, most urgent first.

use super::transfer::Record;
use super::{Replica, Role};
use crate::frames::{self, Side, SnapWindow, ctl, id};
use crate::op::{Op, OpKind};
use crate::request::ReqKind;
use blaze_wire::{
    Body, Destination, Instant, LockOp, LockOpKind, MapControl, MapControlKind, MapOp, MapOpKind,
    Transmit,
};
use core::net::SocketAddr;

/// Sets the side fields of a sync reply or sync done.
fn set_side(c: &mut MapControl, side: &Side) {
    c.side_size = side.size;
    c.side_epoch = side.epoch.id;
    c.side_leader = id(side.epoch.leader);
    c.side_parent = side.parent.id;
    c.side_parent_leader = id(side.parent.leader);
}

impl<
    const ENTRIES: usize,
    const LOG: usize,
    const KEY: usize,
    const VALUE: usize,
    const MEMBERS: usize,
    const PENDING: usize,
    const EVENTS: usize,
    const ORIGINS: usize,
> Replica<ENTRIES, LOG, KEY, VALUE, MEMBERS, PENDING, EVENTS, ORIGINS>
{
    pub(super) fn send(&self, to: Destination, body: Body<'_>, buf: &mut [u8]) -> Option<Transmit> {
        let len = frames::emit(self.cfg.group, self.me, body, buf)?;
        Some(Transmit { to, len })
    }

    fn to_coordinator(&self) -> Option<Destination> {
        let c = self.view.coordinator()?;
        Some(Destination::Peer(self.addr_of(c)?))
    }

    /// The wire form of a sequenced operation, sent in `epoch`.
    fn op_body<'a>(&'a self, op: &'a Op<KEY, VALUE>, epoch: u64) -> Body<'a> {
        let map = self.store.names.name(op.map);
        if op.kind.is_lock() {
            let kind = match op.kind {
                OpKind::Grant => LockOpKind::GRANTED,
                OpKind::Release => LockOpKind::RELEASE,
                OpKind::LockExpire => LockOpKind::EXPIRED,
                OpKind::Revoke => LockOpKind::REVOKED,
                _ => LockOpKind::RENEW,
            };
            return Body::LockOp(LockOp {
                map,
                key: &op.key,
                kind,
                lease_us: op.lease_us,
                fence: op.fence,
                holder: Some(op.origin),
                request_id: op.request_id,
                order: op.order,
                epoch,
                ..LockOp::default()
            });
        }
        let kind = match op.kind {
            OpKind::Put => MapOpKind::PUT,
            OpKind::PutIfAbsent => MapOpKind::PUT_IF_ABSENT,
            OpKind::Cas => MapOpKind::COMPARE_AND_SET,
            OpKind::Remove => MapOpKind::REMOVE,
            _ => MapOpKind::EXPIRE,
        };
        Body::MapOp(MapOp {
            map,
            kind,
            key: &op.key,
            value: &op.value,
            version: op.version,
            request_id: op.request_id,
            order: op.order,
            ttl_us: op.ttl_us,
            flags: op.flags,
            error: op.error,
            epoch,
            origin: id(op.origin),
            ..MapOp::default()
        })
    }

    pub(super) fn transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        // Every control message is built in this one value: each branch
        // sets its kind and fields and leaves the block with the
        // destination; the other frames are sent from their branch.
        let mut c = MapControl::default();
        let to = 'control: {
            // Sync protocol.
            if self.out.sync_req {
                self.out.sync_req = false;
                c.kind = MapControlKind::SYNC_REQUEST;
                c.view_id = self.view.id;
                break 'control Destination::Group;
            }
            if self.out.sync_reply {
                self.out.sync_reply = false;
                let r = self.sync_reply();
                let to = self.to_coordinator()?;
                c.kind = MapControlKind::SYNC_REPLY;
                c.view_id = r.view;
                c.order = r.applied;
                c.epoch_leader = id(r.epoch.leader);
                c.epoch = r.epoch.id;
                c.holds_state = r.synced;
                c.epoch_base = r.epoch_base;
                set_side(&mut c, &r.side);
                break 'control to;
            }
            if self.out.sync_done && self.role == Role::Active {
                self.out.sync_done = false;
                if let Some(plan) = self.plan.as_ref() {
                    c.kind = MapControlKind::SYNC_DONE;
                    c.view_id = self.view.id;
                    c.order = plan.base;
                    c.epoch = plan.winner.id;
                    c.epoch_leader = id(plan.winner.leader);
                    c.losers_park = !self.losers_reset;
                    set_side(&mut c, &self.side);
                    break 'control Destination::Group;
                }
            }
            // Answers.
            if let Some((to, request, holder, code)) = self.out.denied.pop() {
                let body = LockOp {
                    kind: LockOpKind::DENIED,
                    request_id: request,
                    holder,
                    error: code,
                    ..LockOp::default()
                };
                return self.send(Destination::Peer(to), Body::LockOp(body), buf);
            }
            if let Some((to, session)) = self.out.restart.pop() {
                c.kind = MapControlKind::SNAPSHOT_RESTART;
                c.session = session;
                break 'control Destination::Peer(to);
            }
            if let Some((to, epoch)) = self.out.snap_needed.pop() {
                c.kind = MapControlKind::SNAPSHOT_NEEDED;
                c.epoch = epoch;
                break 'control Destination::Peer(to);
            }
            if let Some(t) = self.transmit_serve(now, buf) {
                return Some(t);
            }
            // The stream.
            if self.role == Role::Active && self.out.sent_high < self.applied {
                let order = self.out.sent_high + 1;
                self.out.sent_high = order;
                if let Some(op) = self.log.get(order) {
                    let body = self.op_body(op, self.epoch.id);
                    return self.send(Destination::Group, body, buf);
                }
            }
            while let Some(r) = self.out.retransmit.first_mut() {
                let (to, lo, hi, epoch) = *r;
                if lo > hi {
                    self.out.retransmit.remove(0);
                    continue;
                }
                match lo.checked_add(1) {
                    Some(next) => r.1 = next,
                    None => r.2 = 0,
                }
                let Some(op) = self.log.get(lo) else {
                    self.out.retransmit.remove(0);
                    continue;
                };
                self.stats.retransmitted += 1;
                let body = self.op_body(op, epoch);
                return self.send(Destination::Peer(to), body, buf);
            }
            if self.out.beat && self.role == Role::Active {
                self.out.beat = false;
                c.kind = MapControlKind::BEAT;
                c.epoch = self.epoch.id;
                c.order = self.applied;
                c.committed = self.committed;
                c.losers_reset = self.losers_reset;
                break 'control Destination::Group;
            }
            // Member → coordinator.
            if self.out.parked_ack {
                self.out.parked_ack = false;
                // Parked, the member names the epoch its view's coordinator
                // starts: the view id.
                let to = self.to_coordinator()?;
                c.kind = MapControlKind::ACK;
                c.epoch = self.view.id;
                c.parked = true;
                break 'control to;
            }
            if self.out.ack {
                self.out.ack = false;
                if let Some(e) = self.accept.filter(|_| self.role == Role::Member) {
                    let to = Destination::Peer(self.addr_of(e.leader)?);
                    c.kind = MapControlKind::ACK;
                    c.epoch = e.id;
                    c.order = self.applied;
                    break 'control to;
                }
            }
            if let Some((target, lo, hi, epoch)) = self.out.nack.take()
                && let Some(addr) = self.addr_of(target)
            {
                c.kind = MapControlKind::RE_REQUEST;
                c.epoch = epoch;
                c.order = lo;
                c.last_order = hi;
                break 'control Destination::Peer(addr);
            }
            if self.out.snap_req {
                self.out.snap_req = false;
                if let Some(p) = self.pull
                    && let Some(addr) = self.addr_of(p.server)
                {
                    c.kind = MapControlKind::SNAPSHOT_REQUEST;
                    c.session = p.session;
                    c.cursor = p.cursor;
                    break 'control Destination::Peer(addr);
                }
            }
            return self.transmit_request(now, buf);
        };
        self.send(to, Body::MapControl(c), buf)
    }

    fn transmit_serve(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        let s = self.serve?;
        let cursor = s.reply?;
        let record = self.record_at(cursor);
        // The next record of the burst follows this one.
        let next = match &record {
            Some(Record::Dedup { cursor, .. })
            | Some(Record::Entry { cursor, .. })
            | Some(Record::Lock { cursor, .. }) => Some(cursor.saturating_add(1)),
            None => None,
        };
        let prev = s.prev;
        let to = Destination::Peer(s.addr);
        let t = self.emit_record(record, &s, prev, to, now, buf);
        if let Some(sv) = self.serve.as_mut() {
            sv.burst = sv.burst.saturating_sub(1);
            sv.reply = next.filter(|_| sv.burst > 0);
            match next {
                Some(n) => sv.prev = n,
                None if !sv.finished => {
                    sv.finished = true;
                    self.stats.snapshots_served += 1;
                }
                None => {}
            }
        }
        t
    }

    pub(super) fn emit_record(
        &self,
        record: Option<Record<'_>>,
        s: &super::Serve,
        prev: u64,
        to: Destination,
        now: Instant,
        buf: &mut [u8],
    ) -> Option<Transmit> {
        match record {
            Some(Record::Dedup {
                cursor,
                origin,
                high,
                bits,
            }) => {
                let body = frames::window(&SnapWindow {
                    session: s.session,
                    prev,
                    cursor,
                    member: origin,
                    high,
                    bits,
                });
                self.send(to, Body::MapOp(body), buf)
            }
            Some(Record::Entry {
                cursor,
                map,
                key,
                value,
                version,
                owner,
                flags,
                ttl_us,
                expires,
            }) => {
                // The time left, at least 1 µs (0 would mean "forever").
                let ttl_us = match expires {
                    Some(t) if ttl_us > 0 => t.saturating_duration_since(now).total_micros().max(1),
                    _ => ttl_us,
                };
                let body = MapOp {
                    map,
                    kind: MapOpKind::SNAPSHOT,
                    key,
                    value,
                    version,
                    ttl_us,
                    flags,
                    owner: id(owner),
                    has_value: true,
                    snapshot_session: s.session,
                    snapshot_cursor: cursor,
                    snapshot_prev_cursor: prev,
                    ..MapOp::default()
                };
                self.send(to, Body::MapOp(body), buf)
            }
            Some(Record::Lock {
                cursor,
                map,
                key,
                holder,
                fence,
                lease_us,
                quarantined,
            }) => {
                let body = LockOp {
                    map,
                    key,
                    kind: LockOpKind::SNAPSHOT,
                    lease_us,
                    fence,
                    holder,
                    snapshot_session: s.session,
                    snapshot_cursor: cursor,
                    snapshot_prev_cursor: prev,
                    quarantined,
                    ..LockOp::default()
                };
                self.send(to, Body::LockOp(body), buf)
            }
            None => {
                let body = MapControl {
                    session: s.session,
                    order: s.as_of,
                    epoch: self.epoch.id,
                    epoch_leader: id(self.epoch.leader),
                    epoch_base: self.epoch_base,
                    prev_cursor: prev,
                    ..ctl(MapControlKind::SNAPSHOT_END)
                };
                self.send(to, Body::MapControl(body), buf)
            }
        }
    }

    /// This member's requests that are due (to a coordinator elsewhere).
    fn transmit_request(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        let coordinator = self.view.coordinator()?;
        if coordinator == self.me || !self.quorum_present {
            return None;
        }
        let addr: SocketAddr = self.addr_of(coordinator)?;
        let i = self.take_due_request(now, self.cfg.retry_interval)?;
        let body = self.request_body(i)?;
        self.send(Destination::Peer(addr), body, buf)
    }

    /// The first request of this member that is due to be sent, marked as
    /// sent now (next send after `resend`; a lock request retried after a
    /// denial takes a fresh wire id).
    pub(super) fn take_due_request(
        &mut self,
        now: Instant,
        resend: blaze_wire::Duration,
    ) -> Option<usize> {
        let i = self
            .pending
            .iter()
            .position(|p| p.seen.is_none() && p.next_send <= now)?;
        let p = self.pending.get_mut(i)?;
        p.next_send = now + resend;
        if p.first_sent.is_none() || p.renew_id {
            if p.renew_id {
                p.id = self.next_request;
                self.next_request += 1;
                p.renew_id = false;
            }
            p.first_sent = Some(now);
        }
        Some(i)
    }

    /// The wire form of this member's request `i`.
    pub(super) fn request_body(&self, i: usize) -> Option<Body<'_>> {
        let p = self.pending.get(i)?;
        let map = self.store.names.name(p.map);
        Some(if p.kind.is_lock() {
            let kind = match p.kind {
                ReqKind::Acquire => LockOpKind::ACQUIRE,
                ReqKind::Release => LockOpKind::RELEASE,
                _ => LockOpKind::RENEW,
            };
            Body::LockOp(LockOp {
                map,
                key: &p.key,
                kind,
                lease_us: p.lease_us,
                fence: p.fence,
                holder: Some(self.me),
                request_id: p.id,
                ..LockOp::default()
            })
        } else {
            let kind = match p.kind {
                ReqKind::Put => MapOpKind::PUT,
                ReqKind::PutIfAbsent => MapOpKind::PUT_IF_ABSENT,
                ReqKind::Cas => MapOpKind::COMPARE_AND_SET,
                _ => MapOpKind::REMOVE,
            };
            Body::MapOp(MapOp {
                map,
                kind,
                key: &p.key,
                value: &p.value,
                version: p.expected,
                request_id: p.id,
                ttl_us: p.ttl_us,
                flags: p.flags,
                owner: Some(self.me),
                fence: p.fence,
                ..MapOp::default()
            })
        })
    }
}
