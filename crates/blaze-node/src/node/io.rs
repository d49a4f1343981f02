//! The five verbs: routing of datagrams, fair merging of the machines'
//! output, and the propagation of views from membership to the channels
//! and maps.

#[cfg(feature = "map")]
use core::net::Ipv4Addr;
use core::net::SocketAddr;

#[cfg(feature = "map")]
use blaze_map::{Event as MapEvent, ViewInfo, ViewMember as MapMember};
use blaze_membership::Event as MemberEvent;
use blaze_proto_nack::Event as NackEvent;
#[cfg(feature = "total-order")]
use blaze_proto_totem::Event as TotemEvent;
#[cfg(feature = "map")]
use blaze_wire::SERVICE_MAP;
use blaze_wire::{Body, Frame, GroupId, Instant, MemberId, Qos as WireQos, Transmit, VERSION};

use super::Node;
use super::deadlines::{Deadlines, PER_SLOT, machine};
use crate::channel::ChannelEvent;
use crate::group::{CH_CUSTOM, CH_RELIABLE, CHANNELS, SOURCES, channel_of};
use crate::{
    CustomProtocol, Event, Protocol, Qos, STREAM_BEST_EFFORT, STREAM_RELIABLE, STREAM_RELIABLE_FEC,
};

/// Where the router sends a frame.
enum Route {
    Membership,
    Stream(u32),
    /// The map's frames (dropped without feature `map`).
    Map,
    /// Totem's frames: total-order data, tokens, and the gather and
    /// commit frames of its ring membership.
    Totem,
}

impl<
    'a,
    C: CustomProtocol,
    const G: usize,
    const P: usize,
    const W: usize,
    const S: usize,
    const B: usize,
    const E: usize,
    const L: usize,
    const K: usize,
    const V: usize,
    const EVENTS: usize,
    const CONTROL: usize,
    const CONSUMERS: usize,
    const MAP_PENDING: usize,
    const MAP_EVENTS: usize,
    const MAP_ORIGINS: usize,
    const SENDERS: usize,
    const TOPICS: usize,
    const T: usize,
>
    Node<
        'a,
        C,
        G,
        P,
        W,
        S,
        B,
        E,
        L,
        K,
        V,
        EVENTS,
        CONTROL,
        CONSUMERS,
        MAP_PENDING,
        MAP_EVENTS,
        MAP_ORIGINS,
        SENDERS,
        TOPICS,
        T,
    >
{
    /// Notes the time of an input (time never goes back). Any machine may
    /// change after it: the next datagram asks every machine its deadline
    /// (unless a full refresh comes first).
    pub(super) fn advance(&mut self, now: Instant) {
        self.now = self.now.max(now);
        self.deadlines.invalidate();
    }

    /// After any input: propagate new views, then recompute the deadline.
    pub(super) fn after_input(&mut self, now: Instant) {
        #[cfg(all(feature = "map", feature = "total-order"))]
        for slot in self.slots.iter_mut().filter(|s| s.group.is_some()) {
            // A map ordered by the ring submits through it.
            if slot.map.as_ref().is_some_and(|m| m.ordering().is_totem()) {
                self.deadlines.wake_all();
            }
            slot.map_ring_submit(now);
        }
        self.sync_views(now);
        self.refresh_deadline();
    }

    fn refresh_deadline(&mut self) {
        self.deadlines.restart(self.membership.poll_timeout());
        for (s, slot) in self.slots.iter_mut().enumerate() {
            if slot.group.is_none() {
                continue;
            }
            for k in 0..PER_SLOT {
                self.deadlines.set(s, k, slot.deadline_of(k));
            }
        }
        self.deadline = self.deadlines.earliest();
    }

    /// After an input for channel `k` of slot `s` only (a datagram, a
    /// message published): that channel's deadline is asked again, the
    /// others' are kept.
    pub(super) fn refresh_source(&mut self, s: usize, k: usize) {
        self.deadlines.touch(machine(s, k));
        self.refresh_stale();
    }

    /// Asks the stale machines their deadlines again (all of them when
    /// the table is not fresh).
    fn refresh_stale(&mut self) {
        if !self.deadlines.is_fresh() {
            self.refresh_deadline();
            return;
        }
        let stale = self.deadlines.stale();
        if stale == 0 {
            return;
        }
        let mut moved = false;
        // Only the stale machines, one bit at a time.
        let mut bits = stale;
        while bits != 0 {
            let i = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            let Some(j) = i.checked_sub(1) else {
                moved |= self
                    .deadlines
                    .set_membership(self.membership.poll_timeout());
                continue;
            };
            let (s, k) = (j / PER_SLOT, j % PER_SLOT);
            let d = self.slots.get_mut(s).and_then(|slot| slot.deadline_of(k));
            moved |= self.deadlines.set(s, k, d);
        }
        // The node's deadline is the earliest entry: it moves only if one
        // did.
        if moved {
            self.deadline = self.deadlines.earliest();
        }
    }

    /// Checks that every entry of the deadline table that is neither
    /// stale nor out of date is its machine's deadline (debug builds).
    #[cfg(debug_assertions)]
    fn check_deadlines(&mut self) {
        if !self.deadlines.is_fresh() {
            return;
        }
        let stale = self.deadlines.stale();
        if stale & 1 == 0 {
            debug_assert_eq!(
                self.deadlines.membership(),
                self.membership.poll_timeout(),
                "membership's deadline moved behind the node's table"
            );
        }
        // Slots without a group are not asked (as in a full refresh).
        for (s, slot) in self.slots.iter_mut().enumerate() {
            for k in 0..PER_SLOT {
                if stale & 1u64.checked_shl(machine(s, k) as u32).unwrap_or(0) != 0 {
                    continue;
                }
                let d = slot.deadline_of(k);
                debug_assert_eq!(
                    self.deadlines.get(s, k),
                    d,
                    "machine {k} of slot {s}: its deadline moved behind the node's table"
                );
            }
        }
    }

    /// Gives every group whose membership view changed the new view: the
    /// channels' peer tables, the map (feature `map`) and the custom
    /// channel.
    fn sync_views(&mut self, now: Instant) {
        let me = self.me;
        for slot in &mut self.slots {
            let Some(group) = slot.group else { continue };
            let Some(view) = self.membership.view(group) else {
                continue;
            };
            if view.id() == slot.view_id {
                continue;
            }
            // The channels, the map and the custom channel take the view.
            self.deadlines.wake_all();
            let mut members: heapless::Vec<MemberId, P> = heapless::Vec::new();
            #[cfg(feature = "map")]
            let mut map_members: heapless::Vec<MapMember, P> = heapless::Vec::new();
            // The other members as (id, incarnation): a member that
            // restarted under its id is a new peer for the channels.
            let mut others: heapless::Vec<(MemberId, u64), P> = heapless::Vec::new();
            for m in view.members() {
                let _fits = members.push(m.id);
                if m.id != me {
                    let _fits = others.push((m.id, m.incarnation));
                }
                // The view's address, else the one membership learnt from
                // the member's datagrams (this member's own is not needed).
                // Members that run the map (this one does, whatever a view
                // says of it).
                #[cfg(feature = "map")]
                if m.services & SERVICE_MAP != 0 || m.id == me {
                    let addr = m
                        .address
                        .or_else(|| self.membership.member(m.id).and_then(|p| p.address))
                        .unwrap_or(SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), 0));
                    let _fits = map_members.push(MapMember { id: m.id, addr });
                }
            }
            let mut added: heapless::Vec<MemberId, P> = heapless::Vec::new();
            let mut removed: heapless::Vec<MemberId, P> = heapless::Vec::new();
            for m in &others {
                if !slot.peers.contains(m) {
                    let _fits = added.push(m.0);
                }
            }
            for m in &slot.peers {
                if !others.contains(m) {
                    let _fits = removed.push(m.0);
                }
            }
            for k in 0..SOURCES {
                if let Some(ch) = slot.source(k) {
                    self.stats.peer_table_full +=
                        ch.handle_view(now, group, &added, &removed, &members);
                }
            }
            slot.peers = others;
            #[cfg(feature = "map")]
            if let Some(map) = slot.map.as_mut() {
                map.handle_view(
                    now,
                    &ViewInfo {
                        id: view.id(),
                        members: &map_members,
                        merge: view.is_merge(),
                    },
                );
            }
            slot.view_id = view.id();
        }
    }

    /// Records whether `member` runs the map, as its last ring join said:
    /// the ring-ordered maps leave the members without one out of the
    /// ring's configurations. Every member of a configuration sent a join
    /// in the round that formed it, so the record is there before the
    /// configuration. When the list is full its oldest entry makes room.
    #[cfg(all(feature = "map", feature = "total-order"))]
    fn note_ring_services(&mut self, member: MemberId, services: u32) {
        let listed = self.map_less.iter().position(|m| *m == member);
        match (services & SERVICE_MAP == 0, listed) {
            (true, None) => {
                if self.map_less.is_full() {
                    self.map_less.remove(0);
                }
                let _fits = self.map_less.push(member);
            }
            (false, Some(i)) => {
                self.map_less.remove(i);
            }
            _ => {}
        }
    }

    /// Hands a datagram to the machine it is for. Returns the slot and
    /// channel when it went to a NACK-based channel (and nothing else can
    /// have changed).
    fn route(&mut self, now: Instant, from: SocketAddr, datagram: &[u8]) -> Option<(usize, usize)> {
        self.stats.datagrams += 1;
        // Decoded once, here: a data batch's messages are left to the
        // channel, which decodes them once and checks them all.
        let Ok((frame, messages)) = Frame::parse_deferred(datagram) else {
            self.stats.malformed += 1;
            return None;
        };
        if frame.version != VERSION {
            self.stats.bad_version += 1;
            return None;
        }
        if frame.sender == self.me {
            self.stats.own += 1;
            return None;
        }
        if frame.sender.is_nil() {
            self.stats.malformed += 1;
            return None;
        }
        let group = frame.group;
        // Totem's frames are told apart by content (its `frames.rs`):
        // data with an AGREED or SAFE qos (its `stream` is a ring tag), its
        // token, its joins (a non-empty `proc_set`; membership never sets
        // one) and its commit token (a `View` with a ring; membership's
        // views have none).
        let route = match frame.body {
            Body::Data(d) if d.qos == WireQos::AGREED || d.qos == WireQos::SAFE => Route::Totem,
            Body::Join(j) if !j.proc_set.is_empty() => Route::Totem,
            Body::View(v) if v.ring.is_some() => Route::Totem,
            Body::Data(d) => Route::Stream(d.stream),
            Body::Nack(n) => Route::Stream(n.stream),
            #[cfg(feature = "fec")]
            Body::Parity(p) => Route::Stream(p.stream),
            Body::Heartbeat(h) => match h.streams.iter().next() {
                Some(mark) => Route::Stream(mark.stream),
                None => Route::Membership,
            },
            // Stream acknowledgements belong to a channel; the others
            // (point-to-point, replies) to membership.
            Body::Ack(a) if a.stream_ack => Route::Stream(a.stream),
            // The token goes to the ring when the group has one, else to
            // the custom channel.
            #[cfg(feature = "total-order")]
            Body::Token(_) => Route::Totem,
            // The map's kinds (decoded only with `blaze-wire/map`, which
            // the node's feature `map` turns on; else `Body::Empty`, below).
            b if b.is_map() => Route::Map,
            Body::Empty => {
                self.stats.no_body += 1;
                return None;
            }
            _ => Route::Membership,
        };
        // A ring join says whether its sender runs the map, before any
        // configuration that lists the sender is delivered.
        #[cfg(all(feature = "map", feature = "total-order"))]
        if let (Route::Totem, Body::Join(j)) = (&route, &frame.body) {
            self.note_ring_services(frame.sender, j.services);
        }
        if let Route::Membership = route {
            if group.raw() == 0 || self.membership.groups().any(|g| g == group) {
                self.membership.handle_frame(now, from, &frame);
            } else {
                self.stats.unknown_group += 1;
            }
            return None;
        }
        let Some((s, slot)) = self
            .slots
            .iter_mut()
            .enumerate()
            .find(|(_, slot)| slot.serves(group))
        else {
            self.stats.unknown_group += 1;
            return None;
        };
        // A stream's frames change their channel only, and so do the
        // ring's unless the group's map is ordered by the ring (which
        // then has the map's operations to take: a full refresh).
        let own = match route {
            Route::Stream(_) => true,
            #[cfg(feature = "map")]
            Route::Totem => !slot.map.as_ref().is_some_and(|m| m.ordering().is_totem()),
            #[cfg(not(feature = "map"))]
            Route::Totem => true,
            _ => false,
        };
        // `None`: a channel this build does not have.
        let ch = match route {
            #[cfg(feature = "map")]
            Route::Map => {
                match slot.map.as_mut() {
                    Some(m) => m.handle_frame(now, from, &frame),
                    None => self.stats.no_map += 1,
                }
                return None;
            }
            #[cfg(not(feature = "map"))]
            Route::Map => {
                self.stats.no_map += 1;
                return None;
            }
            Route::Stream(STREAM_RELIABLE) => Some(CH_RELIABLE),
            Route::Stream(STREAM_BEST_EFFORT) => channel_of(Qos::BestEffort),
            Route::Stream(STREAM_RELIABLE_FEC) => channel_of(Qos::ReliableFec),
            #[cfg(feature = "total-order")]
            Route::Totem if matches!(frame.body, Body::Token(_)) => {
                match channel_of(Qos::Agreed).and_then(|i| slot.channels.get(i)) {
                    Some(Some(_)) => channel_of(Qos::Agreed),
                    _ => Some(CH_CUSTOM),
                }
            }
            Route::Totem => channel_of(Qos::Agreed),
            _ => Some(CH_CUSTOM),
        };
        // The NACK-based channels accept frames only from the peers of the
        // current view (given them by `sync_views`) and count the others
        // (`Drops::unknown_peer`); Totem runs its own membership.
        match ch.and_then(|k| Some((k, slot.source(k)?))) {
            Some((k, c)) => {
                c.handle_datagram(now, from, datagram, frame, messages);
                (own && k < CHANNELS).then_some((s, k))
            }
            None => {
                self.stats.no_channel += 1;
                None
            }
        }
    }
}

/// A membership event as a node event (`None` for kinds this version
/// does not know).
fn from_membership<X>(e: MemberEvent<'_>) -> Option<Event<'_, X>> {
    Some(match e {
        MemberEvent::ViewInstalled {
            group,
            view_id,
            members,
            merge,
        } => Event::ViewChanged {
            group,
            view_id,
            members,
            merge,
        },
        MemberEvent::MemberJoined { group, member } => Event::MemberJoined { group, member },
        MemberEvent::MemberLeft { group, member } => Event::MemberLeft { group, member },
        MemberEvent::MemberFailed { group, member } => Event::MemberFailed { group, member },
        MemberEvent::CoordinatorChanged {
            group,
            coordinator,
            previous,
        } => Event::CoordinatorChanged {
            group,
            coordinator,
            previous,
        },
        MemberEvent::Merged { group, view_id } => Event::Merged { group, view_id },
        MemberEvent::Left { group } => Event::Left { group },
        MemberEvent::Message { from, payload } => Event::Direct { from, payload },
        MemberEvent::Request {
            from,
            correlation,
            group,
            payload,
        } => Event::Request {
            from,
            correlation,
            group,
            payload,
        },
        MemberEvent::Reply {
            from,
            correlation,
            error,
            payload,
        } => Event::Reply {
            from,
            correlation,
            error,
            payload,
        },
        MemberEvent::RequestTimedOut { correlation } => Event::RequestTimedOut { correlation },
        MemberEvent::QueueMessage {
            delivery,
            queue,
            redelivered,
            payload,
        } => Event::QueueMessage {
            delivery,
            queue,
            redelivered,
            payload,
        },
        MemberEvent::QueueAcked { group, correlation } => Event::QueueAcked { group, correlation },
        _ => return None,
    })
}

/// A map event of `group` as a node event.
#[cfg(feature = "map")]
fn from_map<X>(group: GroupId, e: MapEvent<'_>) -> Event<'_, X> {
    match e {
        MapEvent::Changed(change) => Event::MapChanged { group, change },
        MapEvent::WriteDone { request, version } => Event::WriteDone {
            group,
            request,
            version,
        },
        MapEvent::WriteFailed { request, error } => Event::WriteFailed {
            group,
            request,
            error,
        },
        MapEvent::LockAcquired {
            request,
            map,
            key,
            fence,
            deadline,
        } => Event::LockGranted {
            group,
            request,
            map,
            key,
            fence,
            deadline,
        },
        MapEvent::LockFailed { request, error } => Event::LockFailed {
            group,
            request,
            error,
        },
        MapEvent::LockLost {
            map,
            key,
            fence,
            reason,
        } => Event::LockLost {
            group,
            map,
            key,
            fence,
            reason,
        },
        event => Event::Map { group, event },
    }
}

/// A channel event of `group` as a node event (`None` for kinds this
/// version does not know).
fn from_channel<X>(
    group: GroupId,
    qos: crate::Qos,
    e: ChannelEvent<'_, X>,
) -> Option<Event<'_, X>> {
    Some(match e {
        ChannelEvent::Custom(event) => Event::Custom { group, event },
        ChannelEvent::Nack(NackEvent::Message {
            sender,
            topic,
            payload,
            ..
        }) => Event::Message {
            group,
            topic,
            sender,
            payload,
            qos,
        },
        ChannelEvent::Nack(NackEvent::Unrecoverable {
            sender, from, to, ..
        }) => Event::Unrecoverable {
            group,
            sender,
            from,
            to,
        },
        ChannelEvent::Nack(NackEvent::ReceiverCutLoose { member, reason }) => {
            Event::ReceiverCutLoose {
                group,
                member,
                reason,
            }
        }
        ChannelEvent::Nack(_) => return None,
        #[cfg(feature = "total-order")]
        ChannelEvent::Totem(TotemEvent::Deliver {
            sender,
            safe,
            topic,
            payload,
            ..
        }) => Event::Message {
            group,
            topic,
            sender,
            payload,
            qos: if safe {
                crate::Qos::Safe
            } else {
                crate::Qos::Agreed
            },
        },
        #[cfg(feature = "total-order")]
        ChannelEvent::Totem(TotemEvent::ConfigurationChange {
            kind,
            ring,
            members,
        }) => Event::RingChanged {
            group,
            kind,
            ring,
            members,
        },
    })
}

impl<
    'a,
    C: CustomProtocol,
    const G: usize,
    const P: usize,
    const W: usize,
    const S: usize,
    const B: usize,
    const E: usize,
    const L: usize,
    const K: usize,
    const V: usize,
    const EVENTS: usize,
    const CONTROL: usize,
    const CONSUMERS: usize,
    const MAP_PENDING: usize,
    const MAP_EVENTS: usize,
    const MAP_ORIGINS: usize,
    const SENDERS: usize,
    const TOPICS: usize,
    const T: usize,
> Protocol
    for Node<
        'a,
        C,
        G,
        P,
        W,
        S,
        B,
        E,
        L,
        K,
        V,
        EVENTS,
        CONTROL,
        CONSUMERS,
        MAP_PENDING,
        MAP_EVENTS,
        MAP_ORIGINS,
        SENDERS,
        TOPICS,
        T,
    >
{
    type Event<'e>
        = Event<'e, C::Event<'e>>
    where
        Self: 'e;

    fn handle_datagram(&mut self, now: Instant, from: SocketAddr, datagram: &[u8]) {
        // A datagram for a NACK-based channel or the ring changes that
        // channel only (no view, nor a map not ordered by the ring): when
        // every other machine's deadline is known, only its own is asked
        // again.
        let fresh = self.deadlines.is_fresh();
        self.now = self.now.max(now);
        match self.route(now, from, datagram) {
            Some((s, k)) if fresh => self.refresh_source(s, k),
            _ => {
                self.deadlines.wake_all();
                self.after_input(now);
            }
        }
        #[cfg(debug_assertions)]
        self.check_deadlines();
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.advance(now);
        self.membership.handle_timeout(now);
        for slot in self.slots.iter_mut().filter(|s| s.group.is_some()) {
            for k in 0..SOURCES {
                if let Some(ch) = slot.source(k) {
                    ch.handle_timeout(now);
                }
            }
            #[cfg(feature = "map")]
            if let Some(m) = slot.map.as_mut() {
                m.handle_timeout(now);
            }
        }
        self.after_input(now);
    }

    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        self.now = self.now.max(now);
        // A machine whose deadline passed may have output without an
        // input; so may any while the deadlines are not known.
        // (The table's earliest entry, not the node's deadline, which a
        // consumed event sets to "now" to have the adapter come back.)
        self.refresh_stale();
        if !self.deadlines.is_fresh() || self.deadlines.earliest().is_some_and(|d| d <= self.now) {
            self.deadlines.wake_all();
        }
        let n = 1 + G * PER_SLOT;
        for step in 0..n {
            let i = (self.tx_cursor + step) % n;
            if self.deadlines.is_quiet(i) {
                continue;
            }
            let t = if i == 0 {
                self.membership.poll_transmit(now, buf)
            } else {
                let (s, k) = ((i - 1) / PER_SLOT, (i - 1) % PER_SLOT);
                let Some(slot) = self.slots.get_mut(s).filter(|s| s.group.is_some()) else {
                    continue;
                };
                if k < SOURCES {
                    slot.source(k).and_then(|c| c.poll_transmit(now, buf))
                } else {
                    #[cfg(feature = "map")]
                    {
                        slot.map.as_mut().and_then(|m| m.poll_transmit(now, buf))
                    }
                    #[cfg(not(feature = "map"))]
                    None
                }
            };
            // Asked: its deadline may have moved (heartbeats, pacing).
            self.deadlines.touch(i);
            if let Some(t) = t {
                self.tx_cursor = (i + 1) % n;
                return Some(t);
            }
            self.deadlines.set_quiet(i);
        }
        // Drained: the machines asked have their deadlines asked again.
        // Only a NACK-based channel's sending changes nothing else; after
        // membership, a map, the ring or the custom channel sent, views
        // and the map's ring submissions are looked at too.
        if self.deadlines.stale() & !Deadlines::<G>::NACK_CHANNELS == 0 {
            self.refresh_stale();
        } else {
            self.after_input(now);
        }
        #[cfg(debug_assertions)]
        self.check_deadlines();
        None
    }

    fn poll_event(&mut self) -> Option<Self::Event<'_>> {
        #[cfg(debug_assertions)]
        self.check_deadlines();
        let now = self.now;
        // Consuming an event changes its machine (it acknowledges, frees
        // a slot): each machine that hands one out is touched. One that
        // has none is unchanged.
        let n = 1 + G * PER_SLOT;
        let start = self.ev_cursor % n;
        // The common case, a burst of messages on one channel (NACK-based
        // or the ring): the source that had the last event is asked alone,
        // without the table below (`has_app_event` keeps or peeks the
        // event it finds, so the channel is borrowed for it only once it
        // is known to have one).
        if let Some(i) = start.checked_sub(1)
            && let (s, k) = (i / PER_SLOT, i % PER_SLOT)
            && k < CHANNELS
            && let Some(slot) = self.slots.get_mut(s)
            && let Some(group) = slot.group
        {
            let has = slot.has_app_event(k, now);
            let m = machine(s, k);
            // Looking for the next message moves a NACK-based channel's
            // timers (it stages, releases, paces its acknowledgements).
            self.deadlines.ask_event(m);
            self.deadlines.mark_stale(m);
            if !has {
                if Deadlines::<G>::is_nack_channel(m) {
                    self.deadlines.set_ev_quiet(m);
                }
            } else {
                self.deadlines.lend(m);
                self.delivered = true;
                let ch = self.slots.get_mut(s)?.channels.get_mut(k)?.as_mut()?;
                let qos = ch.qos();
                return ch.poll_event(now).and_then(|e| from_channel(group, qos, e));
            }
        }
        let Node {
            membership,
            slots,
            ev_cursor,
            deadline,
            deadlines,
            delivered,
            #[cfg(feature = "total-order")]
            stats,
            #[cfg(all(feature = "map", feature = "total-order"))]
            map_less,
            ..
        } = self;
        // Every source, borrowed once: each is taken out of this table
        // when asked, so an event can borrow it while the others are
        // still asked after it. The table holds only places (no field is
        // read to build it), so a call touches just the sources it asks:
        // in a burst, the one channel the cursor is on.
        let mut membership = Some(membership);
        let mut table = slots.each_mut().map(|s| {
            (
                &s.group,
                s.channels.each_mut().map(Some),
                Some(&mut s.custom),
                #[cfg(feature = "map")]
                Some(&mut s.map),
            )
        });
        for step in 0..n {
            let i = (start + step) % n;
            // A machine that had no event and took no input since has
            // none.
            if deadlines.is_ev_quiet(i) {
                continue;
            }
            if i == 0 {
                let Some(m) = membership.take() else { continue };
                deadlines.ask_event(0);
                let Some(e) = m.poll_event(now) else {
                    deadlines.set_ev_quiet(0);
                    continue;
                };
                deadlines.lend(0);
                // An event of a kind this version does not know is
                // consumed and skipped.
                if let Some(e) = from_membership(e) {
                    *ev_cursor = (i + 1) % n;
                    *delivered = true;
                    return Some(e);
                }
                continue;
            }
            let (s, k) = ((i - 1) / PER_SLOT, (i - 1) % PER_SLOT);
            #[cfg(feature = "map")]
            let Some((group, channels, custom, map)) = table.get_mut(s) else {
                continue;
            };
            #[cfg(not(feature = "map"))]
            let Some((group, channels, custom)) = table.get_mut(s) else {
                continue;
            };
            let Some(group) = **group else { continue };
            if k < CHANNELS {
                let Some(ch) = channels
                    .get_mut(k)
                    .and_then(Option::take)
                    .and_then(Option::as_mut)
                else {
                    continue;
                };
                let qos = ch.qos();
                deadlines.ask_event(i);
                let event = ch.poll_event(now);
                // The map's own operations on the ring are the map's (one
                // per call: the next call asks this channel first).
                #[cfg(all(feature = "map", feature = "total-order"))]
                if let Some(e) = event.as_ref() {
                    // The ring's events can be the map's input too.
                    if matches!(e, ChannelEvent::Totem(_)) {
                        deadlines.touch(machine(s, SOURCES));
                    }
                }
                #[cfg(all(feature = "map", feature = "total-order"))]
                if let Some(e) = event.as_ref()
                    && crate::group::route_to_map(
                        map.as_mut().and_then(|m| m.as_mut()),
                        map_less,
                        &mut stats.no_map,
                        now,
                        e,
                    )
                {
                    deadlines.lend(i);
                    *ev_cursor = i;
                    *delivered = true;
                    continue;
                }
                // Without the map, its operations on the ring (a reserved
                // topic) are counted and dropped.
                #[cfg(all(not(feature = "map"), feature = "total-order"))]
                if let Some(ChannelEvent::Totem(TotemEvent::Deliver { topic, .. })) = event.as_ref()
                    && crate::is_reserved_topic(topic)
                {
                    stats.no_map += 1;
                    deadlines.lend(i);
                    *ev_cursor = i;
                    *delivered = true;
                    continue;
                }
                if event.is_some() {
                    deadlines.lend(i);
                } else {
                    if Deadlines::<G>::is_nack_channel(i) {
                        deadlines.mark_stale(i);
                    }
                    deadlines.set_ev_quiet(i);
                }
                let event = event.and_then(|e| from_channel(group, qos, e));
                if let Some(e) = event {
                    // The next call asks this channel first: a burst of
                    // messages is drained without asking every other
                    // source in between (each is still asked once this one
                    // has nothing, within the same drain).
                    *ev_cursor = i;
                    *delivered = true;
                    return Some(e);
                }
            } else if k == CH_CUSTOM {
                let Some(c) = custom.take().and_then(Option::as_mut) else {
                    continue;
                };
                deadlines.ask_event(i);
                let Some(event) = c.poll_event() else {
                    deadlines.set_ev_quiet(i);
                    continue;
                };
                deadlines.lend(i);
                if let Some(e) = from_channel(group, Qos::Custom, ChannelEvent::Custom(event)) {
                    *ev_cursor = i;
                    *delivered = true;
                    return Some(e);
                }
            }
            // The map's machine, after the channels.
            #[cfg(feature = "map")]
            if k == SOURCES
                && let Some(m) = map.take().and_then(Option::as_mut)
            {
                deadlines.ask_event(i);
                let Some(e) = m.poll_event() else {
                    deadlines.set_ev_quiet(i);
                    continue;
                };
                deadlines.lend(i);
                *ev_cursor = (i + 1) % n;
                *delivered = true;
                return Some(from_map(group, e));
            }
        }
        // Consuming events may have made work due (a channel acknowledges
        // what was delivered, a storage slot freed up). The machines
        // cannot be asked here: wake the adapter at once instead, so that
        // `handle_timeout` recomputes the deadline and the transmits go out.
        if core::mem::take(delivered) {
            *deadline = Some(now);
        }
        None
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }
}
