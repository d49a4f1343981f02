//! `poll_transmit`: pending work serialised into the caller's buffer.

use crate::config::Discovery;
use crate::frames::{
    self, Ack, AddrBytes, BodyOut, Heartbeat, Join, Leave, Reply, Request, WireError,
};
use crate::membership::{Control, Membership};
use crate::peer::{DUE_HEARTBEAT, DUE_JOIN, DUE_LEAVE, DUE_VIEW};
use crate::pool::SlotState;
use blaze_wire::{Destination, GroupId, Instant, Transmit};

impl<
    const M: usize,
    const G: usize,
    const S: usize,
    const B: usize,
    const EVENTS: usize,
    const CONTROL: usize,
    const CONSUMERS: usize,
> Membership<M, G, S, B, EVENTS, CONTROL, CONSUMERS>
{
    /// Writes the next datagram into `buf` and says where it goes. Call
    /// until `None` after every input or command.
    #[must_use]
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        self.release_delivered();
        loop {
            let (to, result) = self.next_frame(now, buf)?;
            match result {
                Ok(len) => return Some(Transmit { to, len }),
                Err(_) => self.stats.buffer_too_small += 1,
            }
        }
    }

    fn next_frame(
        &mut self,
        now: Instant,
        buf: &mut [u8],
    ) -> Option<(Destination, Result<usize, WireError>)> {
        let me = self.me.id;
        let zero = GroupId::from_raw(0);
        if let Some(c) = self.control.pop_front() {
            return Some(match c {
                Control::Probe { to, probe } => (
                    Destination::Peer(to),
                    frames::emit(buf, zero, me, &BodyOut::Probe(probe)),
                ),
                Control::Suspect { to, suspect } => (
                    Destination::Peer(to),
                    frames::emit(buf, zero, me, &BodyOut::Suspect(suspect)),
                ),
                Control::ReplyAck {
                    to,
                    target,
                    correlation,
                } => {
                    let ack = Ack {
                        target: Some(target),
                        p2p_seq: 0,
                        correlation,
                        queue: "",
                        ..Ack::default()
                    };
                    (
                        Destination::Peer(to),
                        frames::emit(buf, zero, me, &BodyOut::Ack(ack)),
                    )
                }
                Control::ForwardJoin {
                    to,
                    slot_group,
                    joiner,
                } => {
                    let (Some(g), Some(p)) = (self.group(slot_group), self.peer(joiner)) else {
                        return Some((Destination::Peer(to), Err(WireError::Nothing)));
                    };
                    let join = Join {
                        group_name: g.name.as_str(),
                        member_name: p.name.as_str(),
                        weight: p.weight,
                        services: p.services,
                        metadata: p.metadata.as_bytes(),
                        incarnation: p.incarnation,
                        address: p.addr,
                    };
                    (
                        Destination::Peer(to),
                        frames::emit(buf, g.id, joiner, &BodyOut::Join(join)),
                    )
                }
            });
        }
        // Group-wide frames by multicast.
        for slot in 0..G {
            let Some(g) = self.group_mut(slot) else {
                continue;
            };
            if g.mcast == 0 {
                continue;
            }
            let bit = g.mcast & g.mcast.wrapping_neg();
            g.mcast &= !bit;
            return Some((Destination::Group, self.group_frame(now, slot, bit, buf)));
        }
        // Unicast: per-peer frames, owed acks.
        for i in 0..self.peers.len() {
            let Some(p) = self.peers.get_mut(i) else {
                break;
            };
            let Some(addr) = p.addr else { continue };
            if let Some((slot, d)) = p.due.iter_mut().enumerate().find(|(_, d)| **d != 0) {
                let bit = *d & d.wrapping_neg();
                *d &= !bit;
                return Some((
                    Destination::Peer(addr),
                    self.group_frame(now, slot, bit, buf),
                ));
            }
            if p.ack_due
                && p.alive()
                && let Some((epoch, next)) = p.rx
            {
                p.ack_due = false;
                let ack = Ack {
                    target: Some(p.id),
                    p2p_seq: next.wrapping_sub(1),
                    p2p_epoch: epoch,
                    ..Ack::default()
                };
                return Some((
                    Destination::Peer(addr),
                    frames::emit(buf, zero, me, &BodyOut::Ack(ack)),
                ));
            }
        }
        if let Discovery::Unicast { seeds } = self.config.discovery
            && self.unicast_mode()
        {
            for (i, seed) in seeds.iter().enumerate() {
                let Some(addr) = *seed else { continue };
                let Some(row) = self.seed_due.get_mut(i) else {
                    continue;
                };
                if let Some((slot, d)) = row.iter_mut().enumerate().find(|(_, d)| **d != 0) {
                    let bit = *d & d.wrapping_neg();
                    *d &= !bit;
                    return Some((
                        Destination::Peer(addr),
                        self.group_frame(now, slot, bit, buf),
                    ));
                }
            }
        }
        // Without feature `messaging` no storage slot is ever used.
        if !cfg!(feature = "messaging") {
            return None;
        }
        // Point-to-point messages due, lowest sequence first.
        let rto = self.config.retransmit_interval;
        let due = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| match s.state {
                SlotState::Outgoing {
                    to, seq, next_tx, ..
                } if next_tx <= now && self.may_send(to, seq) => Some((seq, i)),
                _ => None,
            })
            .min();
        if let Some((_, i)) = due {
            let slot = self.slots.get_mut(i)?;
            let SlotState::Outgoing {
                to,
                seq,
                next_tx,
                header,
                sent,
            } = &mut slot.state
            else {
                return None;
            };
            *next_tx = now + rto;
            if *sent {
                self.stats.p2p_retransmits += 1;
            }
            *sent = true;
            let (to, seq, header) = (*to, *seq, *header);
            let (addr, epoch) = self.peer(to).and_then(|p| Some((p.addr?, p.tx_epoch)))?;
            let slot = self.slots.get(i)?;
            let req = Request {
                correlation: header.correlation,
                target: header.target,
                timeout_us: header.timeout_us,
                payload: slot.payload(),
                queue: header.queue.as_str(),
                redelivered: header.redelivered,
                p2p_seq: seq,
                one_way: header.one_way,
                queue_op: header.queue_op,
                p2p_epoch: epoch,
            };
            return Some((
                Destination::Peer(addr),
                frames::emit(buf, header.group, me, &BodyOut::Request(req)),
            ));
        }
        let reply = self
            .slots
            .iter()
            .position(|s| matches!(s.state, SlotState::Reply { next_tx, .. } if next_tx <= now));
        if let Some(i) = reply {
            let slot = self.slots.get_mut(i)?;
            let SlotState::Reply {
                to,
                correlation,
                error,
                next_tx,
                tries,
            } = &mut slot.state
            else {
                return None;
            };
            *next_tx = now + rto;
            *tries = tries.saturating_sub(1);
            let (to, correlation, error, last) = (*to, *correlation, *error, *tries == 0);
            let addr = self.peer(to).and_then(|p| p.addr);
            let slot = self.slots.get(i)?;
            let r = Reply {
                correlation,
                target: Some(to),
                payload: slot.payload(),
                error,
            };
            let out = addr.map(|a| {
                (
                    Destination::Peer(a),
                    frames::emit(buf, zero, me, &BodyOut::Reply(r)),
                )
            });
            if last && let Some(s) = self.slots.get_mut(i) {
                s.state = SlotState::Free;
            }
            return out.or(Some((Destination::Group, Err(WireError::Nothing))));
        }
        None
    }

    /// Until the peer acknowledged the first message of a channel's life,
    /// only that message goes out.
    fn may_send(&self, to: blaze_wire::MemberId, seq: u64) -> bool {
        self.peer(to).is_some_and(|p| p.tx_synced || seq == 1)
    }

    /// Encodes the group-wide frame `bit` of group `slot`.
    fn group_frame(
        &self,
        now: Instant,
        slot: usize,
        bit: u8,
        buf: &mut [u8],
    ) -> Result<usize, WireError> {
        let me = self.me.id;
        let Some(g) = self.group(slot) else {
            return Err(WireError::Nothing);
        };
        match bit {
            DUE_HEARTBEAT => {
                let hb = Heartbeat {
                    view_id: g.view.id,
                    timestamp_us: now.total_micros(),
                    incarnation: self.me.incarnation,
                    services: self.me.services,
                };
                frames::emit(buf, g.id, me, &BodyOut::Heartbeat(hb))
            }
            DUE_JOIN => {
                let join = Join {
                    group_name: g.name.as_str(),
                    member_name: self.me.name.as_str(),
                    weight: self.config.weight,
                    services: self.me.services,
                    metadata: self.me.metadata.as_bytes(),
                    incarnation: self.me.incarnation,
                    address: None,
                };
                frames::emit(buf, g.id, me, &BodyOut::Join(join))
            }
            DUE_LEAVE => frames::emit(
                buf,
                g.id,
                me,
                &BodyOut::Leave(Leave {
                    incarnation: self.me.incarnation,
                }),
            ),
            DUE_VIEW => {
                if g.view.id == 0 {
                    return Err(WireError::Nothing);
                }
                let mut addrs = [AddrBytes::default(); M];
                for (a, m) in addrs.iter_mut().zip(g.view.members.iter()) {
                    *a = AddrBytes::new(m.address);
                }
                let mut members: heapless::Vec<blaze_wire::ViewMember<'_>, M> =
                    heapless::Vec::new();
                for (m, a) in g.view.members.iter().zip(addrs.iter()) {
                    // The member's metadata as this member knows it.
                    let metadata = if m.id == me {
                        self.me.metadata.as_bytes()
                    } else {
                        self.peer(m.id).map_or(&[][..], |p| p.metadata.as_bytes())
                    };
                    let _ = members.push(blaze_wire::ViewMember {
                        id: Some(m.id),
                        name: m.name.as_str(),
                        weight: m.weight,
                        services: m.services,
                        incarnation: m.incarnation,
                        address: a.ip(),
                        port: a.port,
                        rank: m.rank,
                        metadata: if metadata.is_empty() {
                            None
                        } else {
                            <blaze_wire::BlazeMessage<'_> as blaze_wire::Message<'_>>::parse(
                                metadata,
                            )
                            .ok()
                        },
                    });
                }
                let body = BodyOut::View {
                    view_id: g.view.id,
                    merge: g.view.merge,
                    members: &members,
                    merged_from: &g.merged_from,
                    left: &g.view_left,
                };
                frames::emit(buf, g.id, me, &body)
            }
            _ => Err(WireError::Nothing),
        }
    }
}
