//! Group, topic, publish and messaging commands.

use blaze_membership::{Delivery, SendError as MessageError};
use blaze_proto_nack::{Buffers, Endpoint, FecBuffers, Reliability, SendError as NackSendError};
use blaze_wire::{Duration, GroupId, Instant, MemberId};

use super::Node;
#[cfg(feature = "total-order")]
use blaze_proto_totem::{Qos as TotemQos, SendError as TotemSendError};

#[cfg(feature = "best-effort")]
use crate::STREAM_BEST_EFFORT;
#[cfg(feature = "fec")]
use crate::STREAM_RELIABLE_FEC;
#[cfg(feature = "best-effort")]
use crate::group::CH_BEST_EFFORT;
#[cfg(feature = "fec")]
use crate::group::CH_FEC;
#[cfg(feature = "total-order")]
use crate::group::CH_TOTEM;
use crate::group::{CH_RELIABLE, PLAIN, Slot, channel_of};
use crate::{
    Channel, CustomError, CustomProtocol, GroupBuffers, GroupError, MAX_TOPIC_LEN, PublishError,
    Qos, STREAM_RELIABLE, SlotStorage, TopicError,
};
#[cfg(feature = "total-order")]
use crate::{TotemRing, TotemStorage};

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
    /// Joins the group `name`: membership starts joining, and the group's
    /// channels and map (feature `map`) open in a free slot. Views arrive
    /// as events.
    ///
    /// # Errors
    ///
    /// [`GroupError`]; nothing changed.
    pub fn join(&mut self, now: Instant, name: &str) -> Result<GroupId, GroupError> {
        self.advance(now);
        let id = GroupId::from_name(name);
        if self.slots.iter().any(|s| s.serves(id)) {
            return Err(GroupError::AlreadyJoined);
        }
        // A free slot, preferably the one that kept this group's map (with
        // feature `map`).
        let free = |s: &&Slot<
            'a,
            C,
            P,
            SENDERS,
            W,
            E,
            L,
            K,
            V,
            MAP_PENDING,
            MAP_EVENTS,
            MAP_ORIGINS,
            T,
        >| { s.group.is_none() && s.spare.iter().all(Option::is_some) };
        #[cfg(feature = "map")]
        let kept = self
            .slots
            .iter()
            .position(|s| free(&s) && s.map_group == Some(id));
        #[cfg(not(feature = "map"))]
        let kept = None;
        let Some(i) = kept.or_else(|| self.slots.iter().position(|s| free(&s))) else {
            return Err(GroupError::TooManyGroups);
        };
        let group = self.membership.join(now, name).map_err(|e| match e {
            blaze_membership::GroupError::NameTooLong => GroupError::NameTooLong,
            blaze_membership::GroupError::AlreadyJoined => GroupError::AlreadyJoined,
            blaze_membership::GroupError::NotJoined => GroupError::NotJoined,
            _ => GroupError::TooManyGroups,
        })?;
        let me = self.me;
        let mut reliable = self.config.nack;
        reliable.stream = STREAM_RELIABLE;
        reliable.reliability = Reliability::Reliable;
        #[cfg(feature = "best-effort")]
        let mut best_effort = self.config.nack;
        #[cfg(feature = "best-effort")]
        {
            best_effort.stream = STREAM_BEST_EFFORT;
            best_effort.reliability = Reliability::BestEffort;
        }
        #[cfg(feature = "map")]
        let mut map = self.config.map;
        #[cfg(feature = "map")]
        {
            map.group = group;
        }
        let seeds = [
            self.rng.next_u64(),
            self.rng.next_u64(),
            self.rng.next_u64(),
        ];
        let Some(slot) = self.slots.get_mut(i) else {
            return Err(GroupError::TooManyGroups);
        };
        // `free` saw every spare buffer there.
        let Some(rb) = slot.spare.get_mut(CH_RELIABLE).and_then(Option::take) else {
            return Err(GroupError::TooManyGroups);
        };
        #[cfg(feature = "best-effort")]
        let Some(bb) = slot.spare.get_mut(CH_BEST_EFFORT).and_then(Option::take) else {
            return Err(GroupError::TooManyGroups);
        };
        // The configurations and buffers were checked by `Node::new`. A
        // map kept from an earlier membership of this group goes on: its
        // request numbers must not start over, or the coordinator would
        // take its requests for ones it already sequenced. Each machine is
        // built in a function of its own, straight into the slot: they are
        // large, and one frame holding every temporary would take more
        // stack than a thread has in an unoptimised build.
        #[cfg(any(feature = "map", feature = "total-order"))]
        let base = self.incarnation << 32;
        let id_r = blaze_proto_nack::Identity {
            member: me,
            group,
            seed: seeds[0],
        };
        #[cfg(feature = "best-effort")]
        let id_b = blaze_proto_nack::Identity {
            seed: seeds[1],
            ..id_r
        };
        #[cfg(feature = "map")]
        let map_ok = !self.config.run_map
            || slot.map_group == Some(group) && slot.map.is_some()
            || open_map(&mut slot.map, map, me, base);
        #[cfg(not(feature = "map"))]
        let map_ok = true;
        let reliable_ok = open_nack(
            slot.channels.get_mut(CH_RELIABLE),
            Channel::Reliable,
            (now, reliable, id_r),
            rb,
            None,
        );
        #[cfg(feature = "best-effort")]
        let best_effort_ok = open_nack(
            slot.channels.get_mut(CH_BEST_EFFORT),
            Channel::BestEffort,
            (now, best_effort, id_b),
            bb,
            None,
        );
        #[cfg(not(feature = "best-effort"))]
        let best_effort_ok = true;
        if !(map_ok && reliable_ok && best_effort_ok) {
            // Unreachable after `Node::new`'s checks; the slot stays unusable.
            for ch in 0..PLAIN {
                if let Some(c) = slot.channels.get_mut(ch) {
                    *c = None;
                }
            }
            let _ = self.membership.leave(now, group);
            return Err(GroupError::TooManyGroups);
        }
        slot.group = Some(group);
        slot.view_id = 0;
        slot.peers.clear();
        #[cfg(feature = "fec")]
        if let Some((fb, ff)) = slot.spare_fec.take() {
            let mut fec = self.config.nack;
            fec.stream = STREAM_RELIABLE_FEC;
            fec.reliability = Reliability::ReliableFec(self.config.fec);
            let id_f = blaze_proto_nack::Identity {
                seed: seeds[2],
                ..id_r
            };
            // Checked by `add_fec_buffers`; a refusal leaves the group
            // without the FEC channel (publishing on it says so).
            if !open_nack(
                slot.channels.get_mut(CH_FEC),
                Channel::ReliableFec,
                (now, fec, id_f),
                fb,
                Some(ff),
            ) {
                self.stats.no_channel += 1;
            }
        }
        #[cfg(feature = "total-order")]
        if let Some(storage) = slot.spare_totem.take() {
            // Ring sequence numbers must never repeat for this id: a new
            // incarnation starts above every earlier one's rings.
            // The ring's joins say whether this member runs the map.
            let mut totem = self.config.totem;
            totem.services = self.config.services();
            if open_totem(storage, now, me, group, totem, base) {
                if let Some(c) = slot.channels.get_mut(CH_TOTEM) {
                    *c = Some(Channel::Totem(storage));
                }
            } else {
                // Checked by `add_total_order`; the group goes without
                // total order (publishing on it says so).
                self.stats.no_channel += 1;
                slot.spare_totem = Some(storage);
            }
        }
        #[cfg(feature = "map")]
        {
            slot.map_group = Some(group);
        }
        self.after_input(now);
        Ok(group)
    }

    /// Gives the first group slot without FEC storage a reliable + FEC
    /// channel's storage: groups joined in that slot from now on get a
    /// [`Qos::ReliableFec`] channel configured by [`Config::fec`](crate::Config::fec).
    /// `buffers` is sized as for the other channels
    /// ([`GroupBuffers::recv_bytes_needed`](crate::GroupBuffers::recv_bytes_needed)), and
    /// `fec.scratch` holds [`FecBuffers::scratch_needed`] bytes for `k`.
    ///
    /// # Errors
    ///
    /// The storage comes back when every slot already has FEC storage, or
    /// when it is too small for the configuration; nothing changed.
    #[cfg(feature = "fec")]
    #[allow(
        clippy::result_large_err,
        reason = "the caller's storage is handed back, not dropped"
    )]
    pub fn add_fec_buffers(
        &mut self,
        buffers: Buffers<'a>,
        fec: FecBuffers<'a>,
    ) -> Result<(), (Buffers<'a>, FecBuffers<'a>)> {
        let k = usize::from(self.config.fec.k);
        let fits = GroupBuffers::fits(&buffers, &self.config, SENDERS, W)
            && k <= W
            && self.config.fec.validate().is_ok()
            && fec.scratch.len() >= FecBuffers::scratch_needed(&self.config.nack, k);
        let slot = self
            .slots
            .iter_mut()
            .find(|s| s.spare_fec.is_none() && s.group.is_none());
        match slot {
            Some(slot) if fits => {
                slot.spare_fec = Some((buffers, fec));
                Ok(())
            }
            _ => Err((buffers, fec)),
        }
    }

    /// Gives the first group slot without Totem storage a total-order
    /// channel's storage: groups joined in that slot from now on get a
    /// Totem ring carrying [`Qos::Agreed`] and [`Qos::Safe`] topics,
    /// configured by [`Config::totem`](crate::Config::totem). The ring holds
    /// at most `P` members (this one included) and `T` messages of
    /// [`TOTEM_SLOT`](crate::TOTEM_SLOT) bytes; it runs Totem's own membership beside the
    /// group's, and its configurations arrive as
    /// [`Event::RingChanged`](crate::Event::RingChanged).
    ///
    /// Total order is opt-in because the ring's window takes memory: the
    /// storage borrows about `(T + TOTEM_QUEUE) * TOTEM_SLOT` bytes per
    /// slot (`T` the node's Totem window), wherever the caller keeps them.
    ///
    /// ```
    /// use blaze_node::{Buffers, Config, Event, GroupBuffers, Identity, Metadata, Name, Node};
    /// use blaze_node::{Protocol, Qos, RxSlot, SendSlot, TotemStorage};
    /// use blaze_wire::{Instant, MemberId};
    ///
    /// let mut config = Config::lan();
    /// config.nack.flow_window = core::num::NonZeroU32::new(8).unwrap();
    /// let need = GroupBuffers::recv_bytes_needed(&config, 4, 8);
    /// let mut store = [(vec![SendSlot::EMPTY; 8], vec![0u8; 8192], vec![0u8; need], [RxSlot::EMPTY; 4 * 8]),
    ///                  (vec![SendSlot::EMPTY; 8], vec![0u8; 8192], vec![0u8; need], [RxSlot::EMPTY; 4 * 8])];
    /// let [r, b] = &mut store;
    /// let buffers = [GroupBuffers {
    ///     reliable: Buffers { send_index: &mut r.0, send_bytes: &mut r.1, recv_bytes: &mut r.2, recv_slots: &mut r.3, reassembly: &mut [] },
    ///     best_effort: Buffers { send_index: &mut b.0, send_bytes: &mut b.1, recv_bytes: &mut b.2, recv_slots: &mut b.3, reassembly: &mut [] },
    /// }];
    /// let me = Identity { id: MemberId::from_u128(1), name: Name::new("ann").unwrap(),
    ///                     metadata: Metadata::default(), incarnation: 0, seed: 7 };
    /// # use blaze_node::{TotemBuffers, TotemSlot};
    /// let mut slots = vec![TotemSlot::EMPTY; TotemStorage::<4, 8>::slots_needed()];
    /// let mut bytes = vec![0u8; TotemStorage::<4, 8>::bytes_needed()];
    /// let mut ring = TotemStorage::new(TotemBuffers { slots: &mut slots, bytes: &mut bytes }).unwrap();
    /// let mut node: Box<Node<'_, blaze_node::NoCustom, 1, 4, 8, 4, 256, 8, 8, 16, 32>> =
    ///     Box::new(Node::new(Instant::ZERO, config, me, buffers).unwrap());
    /// node.add_total_order(&mut ring).unwrap();
    /// node.set_qos("ledger", Qos::Agreed).unwrap();
    /// let g = node.join(Instant::ZERO, "bank").unwrap();
    /// node.publish(Instant::ZERO, g, "ledger", b"credit 5").unwrap();
    /// // Alone, the member forms a ring of one and delivers its own message.
    /// let (mut buf, mut now, mut got) = ([0u8; 1500], Instant::ZERO, None);
    /// while got.is_none() {
    ///     now = node.poll_timeout().unwrap();
    ///     node.handle_timeout(now);
    ///     while node.poll_transmit(now, &mut buf).is_some() {}
    ///     while let Some(e) = node.poll_event() {
    ///         if let Event::Message { topic, payload, qos, .. } = e {
    ///             got = Some((topic.to_owned(), payload.to_vec(), qos));
    ///         }
    ///     }
    /// }
    /// assert_eq!(got, Some(("ledger".into(), b"credit 5".to_vec(), Qos::Agreed)));
    /// ```
    ///
    /// # Errors
    ///
    /// The storage comes back when every free slot already has Totem
    /// storage or the configuration is invalid; nothing changed.
    #[cfg(feature = "total-order")]
    pub fn add_total_order(
        &mut self,
        storage: &'a mut TotemStorage<'a, P, T>,
    ) -> Result<(), &'a mut TotemStorage<'a, P, T>> {
        let fits = self.config.totem.validate().is_ok() && P > 0 && T >= 2;
        let slot = self
            .slots
            .iter_mut()
            .find(|s| s.spare_totem.is_none() && s.group.is_none());
        match slot {
            Some(slot) if fits => {
                storage.close();
                slot.spare_totem = Some(storage);
                Ok(())
            }
            _ => Err(storage),
        }
    }

    /// Leaves `group`: membership announces the leave (the `Left` event
    /// follows), and the group's channels and custom protocol close at once
    /// (undelivered and unsent messages are dropped). The group's map
    /// (feature `map`) stops (no input, output or events) but is kept in
    /// its slot: joining the group again resumes it, and it catches up
    /// with the group.
    ///
    /// # Errors
    ///
    /// [`GroupError::NotJoined`]; nothing changed.
    pub fn leave(&mut self, now: Instant, group: GroupId) -> Result<(), GroupError> {
        self.advance(now);
        let Some(slot) = self.slots.iter_mut().find(|s| s.serves(group)) else {
            return Err(GroupError::NotJoined);
        };
        let _ = self.membership.leave(now, group);
        // Spare `k` holds the buffers of channel `k` (reliable, best-effort).
        for (ch, spare) in slot.spare.iter_mut().enumerate() {
            if let Some(Some(Channel::Reliable(e) | Channel::BestEffort(e))) =
                slot.channels.get_mut(ch).map(Option::take)
            {
                *spare = Some(e.into_buffers());
            }
        }
        #[cfg(feature = "fec")]
        if let Some(Some(Channel::ReliableFec(e))) = slot.channels.get_mut(CH_FEC).map(Option::take)
        {
            slot.spare_fec = Some(e.into_all_buffers());
        }
        #[cfg(feature = "total-order")]
        if let Some(Some(Channel::Totem(t))) = slot.channels.get_mut(CH_TOTEM).map(Option::take) {
            t.close();
            slot.spare_totem = Some(t);
        }
        for c in &mut slot.channels {
            *c = None;
        }
        slot.custom = None;
        // The map is kept, idle, for a later join of the same group.
        slot.group = None;
        slot.view_id = 0;
        slot.peers.clear();
        self.after_input(now);
        Ok(())
    }

    /// Ends the node and gives back each group slot's buffers, for a new
    /// node (after a restart, say). The contents are unspecified. A slot's
    /// entry is `None` only if its buffers were lost to a channel that
    /// failed to open (which [`Node::new`]'s checks rule out).
    pub fn into_buffers(self) -> [Option<GroupBuffers<'a>>; G] {
        self.into_all_buffers().map(|s| s.group)
    }

    /// As [`Node::into_buffers`], with each slot's reliable + FEC storage
    /// ([`Node::add_fec_buffers`]) and total-order storage
    /// ([`Node::add_total_order`]) as well.
    pub fn into_all_buffers(mut self) -> [SlotStorage<'a, P, W, T>; G] {
        self.take_all_buffers()
    }

    /// Takes all the storage of every group slot back, like
    /// [`into_all_buffers`](Node::into_all_buffers), without moving the
    /// node (which is large): the node is left with no storage at all, in
    /// no group's channels, and is only fit to be dropped.
    pub fn take_all_buffers(&mut self) -> [SlotStorage<'a, P, W, T>; G] {
        self.slots.each_mut().map(|slot| {
            #[cfg(feature = "total-order")]
            let totem = match slot.channels.get_mut(CH_TOTEM).and_then(Option::take) {
                Some(Channel::Totem(t)) => Some(t),
                _ => slot.spare_totem.take(),
            };
            #[cfg(feature = "fec")]
            let fec = match slot.channels.get_mut(CH_FEC).and_then(Option::take) {
                Some(Channel::ReliableFec(e)) => Some(e.into_all_buffers()),
                _ => slot.spare_fec.take(),
            };
            #[cfg(not(feature = "fec"))]
            let fec = slot.spare_fec.take();
            // Channel `k`'s buffers, from the channel or its spare `k`.
            let plain: [_; PLAIN] =
                core::array::from_fn(
                    |ch| match slot.channels.get_mut(ch).and_then(Option::take) {
                        Some(Channel::Reliable(e) | Channel::BestEffort(e)) => {
                            Some(e.into_buffers())
                        }
                        _ => slot.spare.get_mut(ch).and_then(Option::take),
                    },
                );
            let group = GroupBuffers::from_spare(plain);
            SlotStorage {
                group,
                fec,
                #[cfg(feature = "total-order")]
                totem,
            }
        })
    }

    /// Sets the QoS of `topic` for every group (topics not set are
    /// [`Qos::Reliable`]).
    ///
    /// # Errors
    ///
    /// [`TopicError`]; the table did not change. A QoS whose channel this
    /// build leaves out (features `best-effort`, `fec`, `total-order`) is
    /// refused with [`TopicError::QosUnavailable`].
    pub fn set_qos(&mut self, topic: &str, qos: Qos) -> Result<(), TopicError> {
        if qos != Qos::Custom && channel_of(qos).is_none() {
            return Err(TopicError::QosUnavailable(qos));
        }
        self.topics.set(topic, qos)
    }

    /// Publishes `payload` on `topic` of `group`, on the channel of the
    /// topic's QoS. It arrives at every member of the group (this one
    /// excluded) as [`Event::Message`](crate::Event::Message).
    ///
    /// # Errors
    ///
    /// [`PublishError`]; nothing was queued.
    pub fn publish(
        &mut self,
        now: Instant,
        group: GroupId,
        topic: &str,
        payload: &[u8],
    ) -> Result<(), PublishError<C::PublishError>> {
        // A message for a NACK-based channel or the ring changes that
        // channel only: when every other machine's deadline is known, only
        // its own is asked again (as for a datagram).
        let fresh = self.deadlines.is_fresh();
        self.now = self.now.max(now);
        if topic.len() > MAX_TOPIC_LEN {
            return Err(PublishError::TopicTooLong);
        }
        if crate::is_reserved_topic(topic) {
            return Err(PublishError::ReservedTopic);
        }
        let qos = self.topics.qos(topic);
        let (s, slot) = self
            .slots
            .iter_mut()
            .enumerate()
            .find(|(_, slot)| slot.serves(group))
            .ok_or(PublishError::NotJoined)?;
        let k = channel_of(qos);
        let channel = k
            .and_then(|ch| slot.channels.get_mut(ch))
            .and_then(Option::as_mut);
        // The ring's queue only fills: a map ordered by it has nothing more
        // to submit, so the ring is asked alone too.
        let own = qos != Qos::Custom
            && match channel {
                Some(Channel::Reliable(_) | Channel::BestEffort(_) | Channel::ReliableFec(_)) => {
                    true
                }
                #[cfg(feature = "total-order")]
                Some(Channel::Totem(_)) => true,
                _ => false,
            };
        let r = match (channel, slot.custom.as_mut()) {
            (_, Some(c)) if qos == Qos::Custom => {
                c.publish(now, topic, payload).map_err(PublishError::Custom)
            }
            (Some(Channel::Reliable(e) | Channel::BestEffort(e) | Channel::ReliableFec(e)), _) => e
                .send_topic(now, topic, payload)
                .map(|_| ())
                .map_err(|e| match e {
                    NackSendError::WouldBlock => PublishError::WouldBlock,
                    NackSendError::TopicTooLong => PublishError::TopicTooLong,
                    _ => PublishError::TooLarge,
                }),
            #[cfg(feature = "total-order")]
            (Some(Channel::Totem(t)), _) => match t.ring_mut() {
                Some(t) => totem_send(t, now, qos, topic, payload),
                None => Err(PublishError::QosUnavailable(qos)),
            },
            // The custom protocol lives apart from the channel table.
            (Some(Channel::Custom(_)) | None, _) => Err(PublishError::QosUnavailable(qos)),
        };
        match k {
            Some(k) if fresh && own => self.refresh_source(s, k),
            _ => self.after_input(now),
        }
        r
    }

    /// Installs `protocol` as the custom channel of `group` (for
    /// [`Qos::Custom`] topics), giving it the current view at once.
    /// Returns the protocol it replaces.
    ///
    /// # Errors
    ///
    /// [`CustomError::NotJoined`], handing `protocol` back.
    pub fn set_custom(
        &mut self,
        now: Instant,
        group: GroupId,
        protocol: C,
    ) -> Result<Option<C>, CustomError<C>> {
        self.advance(now);
        let Some(slot) = self.slots.iter_mut().find(|s| s.serves(group)) else {
            return Err(CustomError::NotJoined(protocol));
        };
        let old = slot.custom.replace(protocol);
        // The next view sync gives it the current view.
        slot.view_id = 0;
        self.after_input(now);
        Ok(old)
    }

    /// The custom protocol of `group`, for its own commands.
    pub fn custom_mut(&mut self, group: GroupId) -> Option<&mut C> {
        // The caller may change its deadline.
        self.deadlines.invalidate();
        self.slot_mut(group)?.custom.as_mut()
    }

    /// The custom protocol of `group`, for its state and counters.
    pub fn custom(&self, group: GroupId) -> Option<&C> {
        self.slot(group)?.custom.as_ref()
    }

    /// Sends `payload` to member `to`, reliably and in order with the
    /// other direct messages to it ([`Event::Direct`](crate::Event::Direct)
    /// there).
    ///
    /// # Errors
    ///
    /// [`MessageError`]; nothing was sent.
    pub fn send_to(
        &mut self,
        now: Instant,
        to: MemberId,
        payload: &[u8],
    ) -> Result<(), MessageError> {
        self.advance(now);
        let r = self.membership.send(now, to, payload);
        self.after_input(now);
        r
    }

    /// Sends a request to `to`; the answer arrives as
    /// [`Event::Reply`](crate::Event::Reply) with the returned correlation
    /// id, or [`Event::RequestTimedOut`](crate::Event::RequestTimedOut).
    ///
    /// # Errors
    ///
    /// [`MessageError`]; nothing was sent.
    pub fn request(
        &mut self,
        now: Instant,
        to: MemberId,
        payload: &[u8],
        timeout: Duration,
    ) -> Result<u64, MessageError> {
        self.advance(now);
        let r = self.membership.request(now, to, payload, timeout);
        self.after_input(now);
        r
    }

    /// Sends a request to any one other member of `group`.
    ///
    /// # Errors
    ///
    /// [`MessageError`]; nothing was sent.
    pub fn request_any(
        &mut self,
        now: Instant,
        group: GroupId,
        payload: &[u8],
        timeout: Duration,
    ) -> Result<u64, MessageError> {
        self.advance(now);
        let r = self.membership.request_any(now, group, payload, timeout);
        self.after_input(now);
        r
    }

    /// Answers request `correlation` of `to` (`error` 0 means success).
    ///
    /// # Errors
    ///
    /// [`MessageError`]; nothing was sent.
    pub fn reply(
        &mut self,
        now: Instant,
        to: MemberId,
        correlation: u64,
        error: u32,
        payload: &[u8],
    ) -> Result<(), MessageError> {
        self.advance(now);
        let r = self.membership.reply(now, to, correlation, error, payload);
        self.after_input(now);
        r
    }

    /// Consumes `queue` of `group` on this member.
    ///
    /// # Errors
    ///
    /// [`MessageError`]; nothing changed.
    pub fn queue_subscribe(
        &mut self,
        now: Instant,
        group: GroupId,
        queue: &str,
    ) -> Result<(), MessageError> {
        self.advance(now);
        let r = self.membership.subscribe(now, group, queue);
        self.after_input(now);
        r
    }

    /// Stops consuming `queue`; unacknowledged deliveries go to others.
    ///
    /// # Errors
    ///
    /// [`MessageError`].
    pub fn queue_unsubscribe(
        &mut self,
        now: Instant,
        group: GroupId,
        queue: &str,
    ) -> Result<(), MessageError> {
        self.advance(now);
        let r = self.membership.unsubscribe(now, group, queue);
        self.after_input(now);
        r
    }

    /// Sends `payload` to `queue` of `group`: exactly one consumer at a
    /// time gets it (redelivered if that consumer fails before
    /// acknowledging). Returns the id that
    /// [`Event::QueueAcked`](crate::Event::QueueAcked) reports.
    ///
    /// # Errors
    ///
    /// [`MessageError`]; nothing was sent.
    pub fn queue_send(
        &mut self,
        now: Instant,
        group: GroupId,
        queue: &str,
        payload: &[u8],
    ) -> Result<u64, MessageError> {
        self.advance(now);
        let r = self.membership.send_queue(now, group, queue, payload);
        self.after_input(now);
        r
    }

    /// Acknowledges a queue delivery.
    ///
    /// # Errors
    ///
    /// [`MessageError`].
    pub fn queue_ack(&mut self, now: Instant, delivery: Delivery) -> Result<(), MessageError> {
        self.advance(now);
        let r = self.membership.ack(now, delivery);
        self.after_input(now);
        r
    }
}

#[cfg(feature = "total-order")]
/// Sends `payload` on `topic` through the ring (the topic travels in the
/// Totem message's own topic field).
fn totem_send<E, const P: usize, const W: usize>(
    ring: &mut TotemRing<'_, P, W>,
    now: Instant,
    qos: Qos,
    topic: &str,
    payload: &[u8],
) -> Result<(), PublishError<E>> {
    if topic.len() > TotemRing::<P, W>::MAX_TOPIC {
        return Err(PublishError::TopicTooLong);
    }
    if topic.len() + payload.len() > TotemRing::<P, W>::MAX_PAYLOAD {
        return Err(PublishError::TooLarge);
    }
    let q = if qos == Qos::Safe {
        TotemQos::Safe
    } else {
        TotemQos::Agreed
    };
    ring.send_topic(now, q, topic, payload)
        .map_err(|e| match e {
            TotemSendError::WouldBlock => PublishError::WouldBlock,
            _ => PublishError::TooLarge,
        })
}

/// Opens a NACK-based channel (an [`Endpoint`], wrapped by `wrap`) in
/// `place`; returns whether it opened (the buffers are lost otherwise).
/// Kept out of line so that its temporaries live only in its own frame.
#[inline(never)]
fn open_nack<'a, C, const P: usize, const W: usize, const RING: usize, const T: usize>(
    place: Option<&mut Option<Channel<'a, C, P, W, RING, T>>>,
    wrap: fn(Endpoint<'a, P, W>) -> Channel<'a, C, P, W, RING, T>,
    (now, config, identity): (
        Instant,
        blaze_proto_nack::Config,
        blaze_proto_nack::Identity,
    ),
    buffers: Buffers<'a>,
    fec: Option<FecBuffers<'a>>,
) -> bool {
    let endpoint = match fec {
        Some(fec) => Endpoint::with_fec(now, config, identity, buffers, fec),
        None => Endpoint::new(now, config, identity, buffers),
    };
    match (place, endpoint) {
        (Some(place), Ok(e)) => {
            *place = Some(wrap(e));
            true
        }
        _ => false,
    }
}

/// Opens a new map replica in `place`, numbering its requests from
/// `base`; returns whether it opened. Out of line, as [`open_nack`].
#[cfg(feature = "map")]
#[inline(never)]
fn open_map<
    const E: usize,
    const L: usize,
    const K: usize,
    const V: usize,
    const MEMBERS: usize,
    const PENDING: usize,
    const EVENTS: usize,
    const ORIGINS: usize,
>(
    place: &mut Option<blaze_map::Replica<E, L, K, V, MEMBERS, PENDING, EVENTS, ORIGINS>>,
    config: blaze_map::Config,
    me: MemberId,
    base: u64,
) -> bool {
    match blaze_map::Replica::new(config, me) {
        Ok(mut r) => {
            r.set_request_base(base);
            *place = Some(r);
            true
        }
        Err(_) => false,
    }
}

#[cfg(feature = "total-order")]
/// Opens a Totem ring in `storage`, its ring sequence numbers above
/// `base`; returns whether it opened. Out of line, as [`open_nack`].
#[inline(never)]
fn open_totem<const P: usize, const W: usize>(
    storage: &mut TotemStorage<'_, P, W>,
    now: Instant,
    me: MemberId,
    group: GroupId,
    config: blaze_proto_totem::Config,
    base: u64,
) -> bool {
    // Built in place: the machine holds no message bytes (they stay in the
    // storage's buffers), but a debug build still copies it at every move.
    if !storage.open(now, me, group, config) {
        return false;
    }
    if let Some(t) = storage.ring_mut() {
        t.raise_ring_seq_floor(base);
    }
    true
}
