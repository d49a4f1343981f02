//! One group slot of a node: its channels, its map (feature `map`) and the
//! view they got.

use core::ptr::addr_of_mut;

#[cfg(feature = "map")]
use blaze_map::Replica;
use blaze_proto_nack::{Buffers, FecBuffers};
use blaze_wire::{GroupId, MemberId};

#[cfg(feature = "total-order")]
use crate::TotemStorage;
use crate::channel::Source;
#[cfg(all(feature = "map", feature = "total-order"))]
use crate::channel::{ChannelEvent, TOTEM_QUEUE, TOTEM_SLOT};
use crate::{Channel, Qos};
#[cfg(all(feature = "map", feature = "total-order"))]
use blaze_map::RingConfiguration;
#[cfg(feature = "total-order")]
use blaze_proto_totem::Event as TotemEvent;
use blaze_wire::Instant;

/// Index of the reliable channel in [`Slot::channels`].
pub(crate) const CH_RELIABLE: usize = 0;
/// Index of the best-effort channel.
#[cfg(feature = "best-effort")]
pub(crate) const CH_BEST_EFFORT: usize = 1;
/// Channels whose storage a [`GroupBuffers`](crate::GroupBuffers) lends:
/// the reliable one and, with feature `best-effort`, the best-effort one.
/// They come first in [`Slot::channels`], so that [`Slot::spare`]`[k]`
/// holds the buffers of channel `k` while it is closed.
pub(crate) const PLAIN: usize = 1 + cfg!(feature = "best-effort") as usize;
/// Index of the reliable + FEC channel.
#[cfg(feature = "fec")]
pub(crate) const CH_FEC: usize = PLAIN;
/// Index of the total-order (Totem) channel.
#[cfg(feature = "total-order")]
pub(crate) const CH_TOTEM: usize = PLAIN + cfg!(feature = "fec") as usize;
/// Entries of [`Slot::channels`]: the built-in channels, the optional ones
/// only when built in, so that a node without them reserves no room for
/// them (each entry is as large as a NACK `Endpoint`).
pub(crate) const CHANNELS: usize =
    PLAIN + cfg!(feature = "fec") as usize + cfg!(feature = "total-order") as usize;
/// Index of the custom channel among a slot's [`sources`](Slot::source):
/// after the built-in ones. It is kept apart ([`Slot::custom`]), at the
/// size of the user's protocol, not of an entry of the channel table.
pub(crate) const CH_CUSTOM: usize = CHANNELS;
/// Channels of a slot, the custom one included.
pub(crate) const SOURCES: usize = CHANNELS + 1;

/// The index of the built-in channel carrying `qos` in [`Slot::channels`];
/// `None` for [`Qos::Custom`] and when this build has no such channel.
pub(crate) const fn channel_of(qos: Qos) -> Option<usize> {
    match qos {
        Qos::Reliable => Some(CH_RELIABLE),
        #[cfg(feature = "best-effort")]
        Qos::BestEffort => Some(CH_BEST_EFFORT),
        #[cfg(feature = "fec")]
        Qos::ReliableFec => Some(CH_FEC),
        #[cfg(feature = "total-order")]
        Qos::Agreed | Qos::Safe => Some(CH_TOTEM),
        #[allow(
            unreachable_patterns,
            reason = "reached only in builds without an optional channel"
        )]
        _ => None,
    }
}

/// A group slot: idle (only its spare buffers) or serving one group.
pub(crate) struct Slot<
    'a,
    C,
    const P: usize,
    const SENDERS: usize,
    const W: usize,
    const E: usize,
    const L: usize,
    const K: usize,
    const V: usize,
    const MAP_PENDING: usize,
    const MAP_EVENTS: usize,
    const MAP_ORIGINS: usize,
    const T: usize,
> {
    /// The group served, if any.
    pub(crate) group: Option<GroupId>,
    /// Buffers of the channels a [`GroupBuffers`](crate::GroupBuffers)
    /// lends (reliable, best-effort) while they are closed: entry `k` is
    /// channel `k`'s.
    pub(crate) spare: [Option<Buffers<'a>>; PLAIN],
    /// Storage of the reliable + FEC channel while it is closed; `None`
    /// when the slot has no FEC storage.
    pub(crate) spare_fec: Option<(Buffers<'a>, FecBuffers<'a>)>,
    /// Storage of the total-order channel while it is closed; `None` when
    /// the slot has no Totem storage.
    #[cfg(feature = "total-order")]
    pub(crate) spare_totem: Option<&'a mut TotemStorage<'a, P, T>>,
    /// The built-in channels, at the `CH_*` indices.
    pub(crate) channels: [Option<Channel<'a, C, SENDERS, W, P, T>>; CHANNELS],
    /// The custom channel ([`CH_CUSTOM`]), if installed.
    pub(crate) custom: Option<C>,
    /// The group's map; kept (idle) after a leave, for a later join of
    /// the same group.
    #[cfg(feature = "map")]
    pub(crate) map: Option<Replica<E, L, K, V, P, MAP_PENDING, MAP_EVENTS, MAP_ORIGINS>>,
    /// The group `map` belongs to.
    #[cfg(feature = "map")]
    pub(crate) map_group: Option<GroupId>,
    /// The view the channels and the map were last given.
    pub(crate) view_id: u64,
    /// The other members the channels know, with their incarnation (the
    /// last view, minus self).
    pub(crate) peers: heapless::Vec<(MemberId, u64), P>,
}

impl<
    'a,
    C,
    const P: usize,
    const SENDERS: usize,
    const W: usize,
    const E: usize,
    const L: usize,
    const K: usize,
    const V: usize,
    const MAP_PENDING: usize,
    const MAP_EVENTS: usize,
    const MAP_ORIGINS: usize,
    const T: usize,
> Slot<'a, C, P, SENDERS, W, E, L, K, V, MAP_PENDING, MAP_EVENTS, MAP_ORIGINS, T>
{
    pub(crate) fn idle(spare: [Option<Buffers<'a>>; PLAIN]) -> Self {
        Slot {
            group: None,
            spare,
            spare_fec: None,
            #[cfg(feature = "total-order")]
            spare_totem: None,
            channels: core::array::from_fn(|_| None),
            custom: None,
            #[cfg(feature = "map")]
            map: None,
            #[cfg(feature = "map")]
            map_group: None,
            view_id: 0,
            peers: heapless::Vec::new(),
        }
    }

    /// Writes an idle slot into `place` field by field, so that no whole
    /// slot (hundreds of kilobytes with large windows) passes through the
    /// stack.
    ///
    /// # Safety
    ///
    /// `place` must be non-null, aligned and valid for writes of a `Self`,
    /// and nothing else may access that memory during the call. Whatever
    /// `place` held is overwritten without being dropped.
    #[allow(
        unsafe_code,
        reason = "writing a struct in place field by field needs raw pointers"
    )]
    pub(crate) unsafe fn init_idle_in(place: *mut Self, spare: [Option<Buffers<'a>>; PLAIN]) {
        // SAFETY: the caller guarantees `place` is valid for writes of a
        // `Self` and not aliased. `addr_of_mut!` takes each field's address
        // without making a reference to uninitialised memory, and `write`
        // stores without reading or dropping the old contents. The channels
        // are written through a pointer to the array's first element:
        // `[T; CHANNELS]` lays out its elements contiguously and `add(i)`
        // stays inside the array for `i < CHANNELS`. Every field is
        // written; the exhaustive pattern in `Self::idle_fields_are_written`
        // stops the build if a field is added without a write here.
        unsafe {
            addr_of_mut!((*place).group).write(None);
            addr_of_mut!((*place).spare).write(spare);
            addr_of_mut!((*place).spare_fec).write(None);
            #[cfg(feature = "total-order")]
            addr_of_mut!((*place).spare_totem).write(None);
            let channels =
                addr_of_mut!((*place).channels).cast::<Option<Channel<'a, C, SENDERS, W, P, T>>>();
            for i in 0..CHANNELS {
                channels.add(i).write(None);
            }
            addr_of_mut!((*place).custom).write(None);
            #[cfg(feature = "map")]
            addr_of_mut!((*place).map).write(None);
            #[cfg(feature = "map")]
            addr_of_mut!((*place).map_group).write(None);
            addr_of_mut!((*place).view_id).write(0);
            addr_of_mut!((*place).peers).write(heapless::Vec::new());
        }
    }

    /// Names every field, so that adding one breaks the build until
    /// [`init_idle_in`](Self::init_idle_in) writes it too.
    #[allow(dead_code, reason = "a compile-time check only")]
    fn idle_fields_are_written(&self) {
        let Slot {
            group: _,
            spare: _,
            spare_fec: _,
            #[cfg(feature = "total-order")]
                spare_totem: _,
            channels: _,
            custom: _,
            #[cfg(feature = "map")]
                map: _,
            #[cfg(feature = "map")]
                map_group: _,
            view_id: _,
            peers: _,
        } = self;
    }

    pub(crate) fn serves(&self, group: GroupId) -> bool {
        self.group == Some(group)
    }

    /// A map ordered by the group's ring ([`blaze_map::Ordering::Totem`]):
    /// hands the operations it has to submit to the ring, on
    /// [`MAP_TOPIC`], while the ring's queue has room.
    #[cfg(all(feature = "map", feature = "total-order"))]
    pub(crate) fn map_ring_submit(&mut self, now: Instant) {
        let (Some(map), Some(Some(Channel::Totem(storage)))) =
            (self.map.as_mut(), self.channels.get_mut(CH_TOTEM))
        else {
            return;
        };
        if !map.ordering().is_totem() {
            return;
        }
        let Some(ring) = storage.ring_mut() else {
            return;
        };
        let mut buf = [0u8; TOTEM_SLOT];
        let room = TOTEM_SLOT - MAP_TOPIC.len();
        while ring.queued() < TOTEM_QUEUE {
            let Some(s) = map.poll_ordered_submit(now, buf.get_mut(..room).unwrap_or(&mut []))
            else {
                break;
            };
            let qos = if s.safe {
                blaze_proto_totem::Qos::Safe
            } else {
                blaze_proto_totem::Qos::Agreed
            };
            // The queue had room and the frame fits a slot: this does not
            // fail; if it did, the map resends its requests.
            let _ = ring.send_topic(now, qos, MAP_TOPIC, buf.get(..s.len).unwrap_or(&[]));
        }
    }

    /// Whether built-in channel `k` has an event for the application
    /// next, which its `poll_event` then gives without the node's routing
    /// (the fast path of a burst of messages on one channel). `false` when
    /// not known to: nothing, or an event the node routes (the ring's
    /// configuration changes and the map's own operations go to the map).
    pub(crate) fn has_app_event(&mut self, k: usize, now: Instant) -> bool {
        match self.channels.get_mut(k) {
            Some(Some(Channel::Reliable(e) | Channel::BestEffort(e) | Channel::ReliableFec(e))) => {
                e.has_event(now)
            }
            #[cfg(all(feature = "map", feature = "total-order"))]
            Some(Some(Channel::Totem(t))) => matches!(
                t.ring().and_then(|r| r.peek_event()),
                Some(TotemEvent::Deliver { topic, .. }) if topic != MAP_TOPIC
            ),
            // Without the map, the map's operations on the ring are
            // dropped by the node (reserved topic).
            #[cfg(all(not(feature = "map"), feature = "total-order"))]
            Some(Some(Channel::Totem(t))) => matches!(
                t.ring().and_then(|r| r.peek_event()),
                Some(TotemEvent::Deliver { topic, .. }) if !crate::is_reserved_topic(topic)
            ),
            _ => false,
        }
    }

    /// Channel `k` of [`SOURCES`]: a built-in one or, at [`CH_CUSTOM`], the
    /// custom one; `None` when it is not open.
    pub(crate) fn source(&mut self, k: usize) -> Option<Source<'_, 'a, C, SENDERS, W, P, T>> {
        if k == CH_CUSTOM {
            self.custom.as_mut().map(Source::Custom)
        } else {
            self.channels
                .get_mut(k)
                .and_then(Option::as_mut)
                .map(Source::Channel)
        }
    }

    /// The deadline of machine `k` of the slot (a source, or the map at
    /// [`SOURCES`] with feature `map`); `None` for a slot without a group,
    /// whose machines the node does not serve.
    pub(crate) fn deadline_of(&mut self, k: usize) -> Option<blaze_wire::Instant>
    where
        C: crate::CustomProtocol,
    {
        if self.group.is_none() {
            None
        } else if k < SOURCES {
            self.source(k).and_then(|c| c.poll_timeout())
        } else {
            #[cfg(feature = "map")]
            return self.map.as_mut().and_then(|m| m.poll_timeout());
            #[cfg(not(feature = "map"))]
            None
        }
    }
}

/// The ring topic of the map's operations when the group's map is ordered
/// by the group's Totem ring; the node keeps its messages from the
/// application.
#[cfg(all(feature = "map", feature = "total-order"))]
pub(crate) const MAP_TOPIC: &str = "blaze.map";

/// Gives the group's map what its ring delivered: a message on
/// [`MAP_TOPIC`] (consumed: returns `true`), a configuration (also for the
/// application: returns `false`). Every map sees the ring's events in the
/// ring's order.
#[cfg(all(feature = "map", feature = "total-order"))]
pub(crate) fn route_to_map<
    X,
    const E: usize,
    const L: usize,
    const K: usize,
    const V: usize,
    const MEMBERS: usize,
    const MAP_PENDING: usize,
    const MAP_EVENTS: usize,
    const MAP_ORIGINS: usize,
>(
    map: Option<&mut Replica<E, L, K, V, MEMBERS, MAP_PENDING, MAP_EVENTS, MAP_ORIGINS>>,
    map_less: &[MemberId],
    no_map: &mut u64,
    now: Instant,
    event: &ChannelEvent<'_, X>,
) -> bool {
    let ChannelEvent::Totem(e) = event else {
        return false;
    };
    match *e {
        TotemEvent::Deliver {
            sender,
            topic,
            payload,
            ..
        } if topic == MAP_TOPIC => {
            match map {
                Some(m) => m.handle_delivered(now, sender, payload),
                // A member that runs no map drops the map's operations.
                None => *no_map += 1,
            }
            true
        }
        TotemEvent::ConfigurationChange {
            kind,
            ring,
            members,
        } => {
            if let Some(m) = map {
                let kind = match kind {
                    blaze_proto_totem::ConfigurationKind::Regular => RingConfiguration::Regular,
                    blaze_proto_totem::ConfigurationKind::Transitional => {
                        RingConfiguration::Transitional
                    }
                };
                // The members that run no map take no part in it.
                let mut mapped: heapless::Vec<MemberId, MEMBERS> = heapless::Vec::new();
                for id in members.iter().filter(|id| !map_less.contains(id)) {
                    let _fits = mapped.push(*id);
                }
                m.handle_configuration(now, kind, ring.seq, &mapped);
            }
            false
        }
        TotemEvent::Deliver { .. } => false,
    }
}

impl<
    C,
    const P: usize,
    const SENDERS: usize,
    const W: usize,
    const E: usize,
    const L: usize,
    const K: usize,
    const V: usize,
    const MAP_PENDING: usize,
    const MAP_EVENTS: usize,
    const MAP_ORIGINS: usize,
    const T: usize,
> core::fmt::Debug
    for Slot<'_, C, P, SENDERS, W, E, L, K, V, MAP_PENDING, MAP_EVENTS, MAP_ORIGINS, T>
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Slot")
            .field("group", &self.group)
            .field("view_id", &self.view_id)
            .field("peers", &self.peers.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every QoS with a channel in this build has its own entry of the
    /// table; the optional ones have one only when built in, and the
    /// custom channel none (it is kept apart).
    #[test]
    fn channel_table_matches_the_features() {
        let all = [
            Qos::Reliable,
            Qos::BestEffort,
            Qos::ReliableFec,
            Qos::Custom,
            Qos::Agreed,
        ];
        let mut seen = [false; CHANNELS];
        for qos in all {
            if let Some(i) = channel_of(qos) {
                assert!(i < CHANNELS, "{qos:?} -> {i}");
                assert!(!seen[i], "{qos:?} shares entry {i}");
                seen[i] = true;
            }
        }
        assert!(seen.iter().all(|&s| s), "an entry no QoS uses");
        assert_eq!(channel_of(Qos::Safe), channel_of(Qos::Agreed));
        assert_eq!(
            channel_of(Qos::BestEffort).is_some(),
            cfg!(feature = "best-effort")
        );
        assert_eq!(
            channel_of(Qos::ReliableFec).is_some(),
            cfg!(feature = "fec")
        );
        assert_eq!(
            channel_of(Qos::Agreed).is_some(),
            cfg!(feature = "total-order")
        );
        assert_eq!(channel_of(Qos::Custom), None);
        assert_eq!(CH_CUSTOM, CHANNELS);
        // The channels a `GroupBuffers` lends come first: spare `k` is
        // channel `k`'s.
        assert_eq!(channel_of(Qos::Reliable), Some(0));
        if let Some(i) = channel_of(Qos::BestEffort) {
            assert!(i < PLAIN);
        }
        const { assert!(PLAIN <= CHANNELS) };
    }
}
