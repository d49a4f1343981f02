//! `handle_datagram`: decoding and dispatch of one received frame.

use crate::Name;
use crate::frames::{Body, Frame, Heartbeat, JoinIn, Leave, WireError};
use crate::group::Phase;
use crate::membership::{Control, Membership};
use blaze_wire::{GroupId, Instant, MemberId};
use core::net::SocketAddr;

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
    /// A datagram arrived from `from`. Malformed, stale or foreign input is
    /// counted in [`stats`](Self::stats) and dropped.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, datagram: &[u8]) {
        let frame = Frame::parse(datagram);
        self.handle_parsed(now, from, frame);
    }

    /// A datagram arrived from `from`, already decoded (by a router that
    /// decodes each datagram once): the same as
    /// [`handle_datagram`](Self::handle_datagram) with its frame.
    pub fn handle_frame(&mut self, now: Instant, from: SocketAddr, frame: &blaze_wire::Frame<'_>) {
        let frame = Frame::from_wire(frame);
        self.handle_parsed(now, from, frame);
    }

    fn handle_parsed(
        &mut self,
        now: Instant,
        from: SocketAddr,
        frame: Result<Frame<'_>, WireError>,
    ) {
        self.release_delivered();
        self.stats.datagrams += 1;
        let Ok(frame) = frame else {
            self.stats.malformed += 1;
            return;
        };
        if frame.sender == self.me.id {
            self.stats.own_frames += 1;
            return;
        }
        // A forwarded join names the joiner's own address.
        // Joins and leaves may be passed on by another member: a
        // forwarded join names the joiner's own address, a leave none.
        let (addr, incarnation) = match frame.body {
            Body::Join(j) => (Some(j.address.unwrap_or(from)), Some(j.incarnation)),
            Body::Heartbeat(h) => (Some(from), Some(h.incarnation)),
            Body::Leave(l) => (None, Some(l.incarnation)),
            _ => (Some(from), None),
        };
        if !self.heard(now, frame.sender, addr, incarnation) {
            return;
        }
        match frame.body {
            Body::Join(j) => self.on_join(frame.sender, frame.group, &j, from),
            Body::Leave(l) => self.on_leave(frame.sender, frame.group, l),
            Body::Heartbeat(h) => self.on_heartbeat(frame.sender, frame.group, h),
            Body::View(v) => self.on_view(now, frame.sender, frame.group, &v),
            Body::Probe(p) => self.on_probe(now, frame.sender, from, p),
            Body::Suspect(s) => self.on_suspect(s),
            // Without feature `messaging` these are counted and dropped
            // (their sender still counts as heard).
            Body::Request(_) | Body::Reply(_) | Body::Ack(_) if !cfg!(feature = "messaging") => {
                self.stats.messaging_dropped += 1;
            }
            Body::Request(r) => self.on_request(now, frame.sender, frame.group, &r),
            Body::Reply(r) => self.on_reply(frame.sender, from, &r),
            Body::Ack(a) => self.on_ack(now, frame.sender, &a),
            Body::Other => {}
        }
        self.maintain(now);
        self.update_timers(now);
    }

    fn on_join(&mut self, sender: MemberId, group: GroupId, j: &JoinIn<'_>, from: SocketAddr) {
        if let Some(p) = self.peer_mut(sender) {
            if let Some(n) = Name::new(j.member_name) {
                p.name = n;
            }
            p.metadata = j.metadata;
            p.weight = j.weight;
            p.services = j.services;
            p.described = true;
        }
        let Some(slot) = self.group_slot(group) else {
            self.stats.other_group += 1;
            return;
        };
        if let Some(g) = self.group_mut(slot) {
            g.clear_left(sender);
        }
        if let Some(c) = self.peer_mut(sender).and_then(|p| p.claims.get_mut(slot)) {
            *c = Some(0);
        }
        // Without multicast the coordinator may not know the joiner yet:
        // pass a direct join on to it.
        let Some(g) = self.group(slot) else { return };
        let coordinator = g.view.coordinator();
        if self.unicast_mode()
            && j.address.is_none()
            && g.phase == Phase::Member
            && coordinator != Some(self.me.id)
            && !g.view.contains(sender)
            && let Some(to) = coordinator.and_then(|c| self.peer(c)).and_then(|p| p.addr)
        {
            self.push_control(Control::ForwardJoin {
                to,
                slot_group: slot,
                joiner: sender,
            });
        }
        let _ = from;
    }

    fn on_leave(&mut self, sender: MemberId, group: GroupId, _l: Leave) {
        let Some(slot) = self.group_slot(group) else {
            self.stats.other_group += 1;
            return;
        };
        if let Some(g) = self.group_mut(slot) {
            g.mark_left(sender);
        }
        if let Some(c) = self.peer_mut(sender).and_then(|p| p.claims.get_mut(slot)) {
            *c = None;
        }
    }

    fn on_heartbeat(&mut self, sender: MemberId, group: GroupId, h: Heartbeat) {
        let Some(slot) = self.group_slot(group) else {
            return;
        };
        let Some(g) = self.group_mut(slot) else {
            return;
        };
        if g.left.contains(&sender) {
            return;
        }
        g.counter = g.counter.max(crate::view::view_counter(h.view_id));
        if let Some(p) = self.peer_mut(sender) {
            // A member met through its heartbeats alone (its `Join` lost,
            // or in another view) is listed with the services they carry.
            p.services = h.services;
            if let Some(c) = p.claims.get_mut(slot) {
                *c = Some(h.view_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::frames::{self, BodyOut, Heartbeat, Join, Leave};
    use crate::{Config, Identity, Membership, Metadata, Name};
    use blaze_wire::{Body, Frame as WireFrame, GroupId, Instant, MemberId, Message, Rng};
    use core::net::SocketAddr;

    type M = Membership<8, 2, 0, 64>;

    fn member() -> (M, GroupId) {
        let me = Identity {
            id: MemberId::from_u128(1),
            name: Name::new("one").unwrap(),
            metadata: Metadata::default(),
            incarnation: 0,
            services: 0,
        };
        let mut m = M::new(Config::lan(), me, Rng::new(3)).unwrap();
        let g = m.join(Instant::ZERO, "g").unwrap();
        (m, g)
    }

    /// A frame handed over decoded has the effect of the same datagram.
    #[test]
    fn handle_frame_is_handle_datagram() {
        let (mut a, g) = member();
        let (mut b, _) = member();
        let two = MemberId::from_u128(2);
        let from: SocketAddr = "10.0.0.2:7400".parse().unwrap();
        let mut datagrams: std::vec::Vec<std::vec::Vec<u8>> = std::vec::Vec::new();
        let bodies = [
            BodyOut::Join(Join {
                group_name: "g",
                member_name: "two",
                weight: 0,
                services: 0,
                metadata: &[],
                incarnation: 4,
                address: None,
            }),
            BodyOut::Heartbeat(Heartbeat {
                view_id: 0,
                timestamp_us: 9,
                incarnation: 4,
                services: 0,
            }),
            BodyOut::Leave(Leave { incarnation: 4 }),
        ];
        for body in &bodies {
            let mut buf = [0u8; 256];
            let n = frames::emit(&mut buf, g, two, body).unwrap();
            datagrams.push(buf[..n].to_vec());
        }
        // Another version, and a nil sender: both malformed.
        for (version, sender) in [(2, two), (blaze_wire::VERSION, MemberId::NIL)] {
            let frame = WireFrame {
                version,
                group: g,
                sender,
                auth_tag: &[],
                body: Body::Leave(blaze_wire::Leave::default()),
            };
            let mut buf = [0u8; 64];
            let n = frame.emit(&mut buf).unwrap();
            datagrams.push(buf[..n].to_vec());
        }
        for (i, d) in datagrams.iter().enumerate() {
            let now = Instant::from_micros(1_000 * (i as u64 + 1));
            a.handle_datagram(now, from, d);
            b.handle_frame(now, from, &WireFrame::parse(d).unwrap());
            assert_eq!(a.stats(), b.stats(), "datagram {i}");
            assert_eq!(
                a.member(two).map(|p| p.incarnation),
                b.member(two).map(|p| p.incarnation)
            );
        }
        assert_eq!(a.stats().malformed, 2);
        assert!(a.stats().datagrams >= 5);
    }

    /// A member heard only through its heartbeats (its `Join` lost) is
    /// known with the services they carry, so a view that admits it (a
    /// merge) lists them; it is not admitted as a joiner until described.
    #[test]
    fn heartbeats_carry_services() {
        let (mut a, g) = member();
        let two = MemberId::from_u128(2);
        let from: SocketAddr = "10.0.0.2:7400".parse().unwrap();
        let hb = BodyOut::Heartbeat(Heartbeat {
            view_id: 0,
            timestamp_us: 9,
            incarnation: 4,
            services: blaze_wire::SERVICE_MAP,
        });
        let mut buf = [0u8; 256];
        let n = frames::emit(&mut buf, g, two, &hb).unwrap();
        let mut now = Instant::from_millis(1);
        a.handle_datagram(now, from, &buf[..n]);
        assert_eq!(
            a.member(two).map(|p| p.services),
            Some(blaze_wire::SERVICE_MAP)
        );
        // It claims to be joining; without its `Join` no view lists it.
        for _ in 0..20 {
            now += blaze_wire::Duration::from_millis(100);
            a.handle_datagram(now, from, &buf[..n]);
            a.handle_timeout(now);
        }
        assert!(a.view(g).is_some_and(|v| !v.contains(two)));
        let join = BodyOut::Join(Join {
            group_name: "g",
            member_name: "two",
            weight: 0,
            services: blaze_wire::SERVICE_MAP,
            metadata: &[],
            incarnation: 4,
            address: None,
        });
        let mut join_buf = [0u8; 256];
        let j = frames::emit(&mut join_buf, g, two, &join).unwrap();
        a.handle_datagram(now, from, &join_buf[..j]);
        let mut listed = None;
        for _ in 0..20 {
            now += blaze_wire::Duration::from_millis(50);
            a.handle_datagram(now, from, &buf[..n]);
            a.handle_timeout(now);
            listed = a
                .view(g)
                .and_then(|v| v.members().iter().find(|m| m.id == two).copied());
            if listed.is_some() {
                break;
            }
        }
        assert_eq!(
            listed.map(|m| (m.name, m.services)),
            Some((Name::new("two").unwrap(), blaze_wire::SERVICE_MAP))
        );
    }
}
