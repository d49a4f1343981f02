//! The application side of a channel's driver: turns the node's borrowed
//! events into owned ones and hands each to whoever waits for it
//! (subscribers, pending requests and writes, listeners).

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use blaze_node::{ConfigurationKind, Event, GroupId, Instant, MemberId, PublishError, RequestId};
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::engine::Engine;
use crate::events::{
    ChangeKind, Direct, GroupEvent, LockGrant, MapChange, Message, MessageRef, QueueMessage,
    Request,
};
use crate::inbox::{InboxEnd, Offer};
use crate::publisher::PublisherEnd;
use crate::record_ring::RECORD_CAPACITY;
use crate::room::Room;
use crate::topic_table::TopicTable;
use crate::{Application, ChannelError, DriverWaker};

/// Messages buffered per subscriber before new ones are dropped (and
/// counted).
pub(crate) const SUBSCRIBER_QUEUE: usize = 4096;
/// Group events kept for slow listeners of the broadcast feed.
pub(crate) const EVENT_FEED: usize = 1024;

/// Hashes topic names for the lookup of every received message: FNV-1a,
/// a few cycles for a short name where the default (SipHash) takes tens
/// of nanoseconds. The keys are this process's own subscriptions, so a
/// crafted topic can at worst collide with a handful of them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TopicHasher(u64);

impl Default for TopicHasher {
    fn default() -> Self {
        TopicHasher(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for TopicHasher {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Subscribers by topic, looked up once per received message.
pub(crate) type ByTopic<T> = HashMap<String, Vec<T>, BuildHasherDefault<TopicHasher>>;

/// One subscriber's queue and its count of dropped messages.
pub(crate) struct Sink<T> {
    pub(crate) tx: mpsc::Sender<T>,
    pub(crate) dropped: Arc<AtomicU64>,
    /// Wakes the task once the subscriber takes from a full queue.
    pub(crate) room: Arc<Room>,
}

impl<T> Sink<T> {
    /// Whether the queue is full and its subscriber still there: the next
    /// item would be refused.
    fn is_full(&self) -> bool {
        self.tx.capacity() == 0 && !self.tx.is_closed()
    }

    /// Whether the queue can take another item (or the subscriber is
    /// gone); when it cannot, the subscriber wakes `task` once it takes
    /// one.
    fn has_room(&self, task: &DriverWaker) -> bool {
        if self.tx.capacity() > 0 || self.tx.is_closed() {
            return true;
        }
        self.room.want(task);
        self.tx.capacity() > 0
    }
}

impl<T: Clone> Sink<T> {
    /// Offers `item`; returns false once the subscriber is gone.
    fn offer(&self, item: T) -> bool {
        match self.tx.try_send(item) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }
}

/// Offers `item` to every sink, forgetting the closed ones.
fn fan_out<T: Clone>(sinks: &mut Vec<Sink<T>>, item: &T) {
    sinks.retain(|s| s.offer(item.clone()));
}

/// A request handler run inline, on the channel's task: it must be quick.
pub(crate) type Handler = Box<dyn FnMut(&Request) -> (u32, Vec<u8>) + Send>;

/// A topic's handler run inline, on the channel's task, as each message is
/// delivered: it must be quick and must not block.
pub(crate) type InlineHandler = Box<dyn FnMut(MessageRef<'_>) + Send>;

/// Outstanding operations and subscribers.
pub(crate) struct Hub {
    pub(crate) names: HashMap<GroupId, String>,
    pub(crate) topics: ByTopic<Sink<Message>>,
    pub(crate) directs: Vec<Sink<Direct>>,
    pub(crate) requests: Vec<Sink<Request>>,
    /// In a mutex only so that the hub (and the channel holding it before
    /// `init`) is `Sync`; it is reached through `get_mut`, never locked.
    pub(crate) handler: Option<std::sync::Mutex<Handler>>,
    pub(crate) queues: HashMap<(GroupId, String), Sink<QueueMessage>>,
    pub(crate) events: broadcast::Sender<GroupEvent>,
    pub(crate) replies: HashMap<u64, oneshot::Sender<Result<Vec<u8>, ChannelError>>>,
    pub(crate) writes: HashMap<(GroupId, RequestId), oneshot::Sender<Result<u64, ChannelError>>>,
    pub(crate) locks:
        HashMap<(GroupId, RequestId), oneshot::Sender<Result<LockGrant, ChannelError>>>,
    /// Answers decided on the task (handler, no subscriber), sent at the
    /// next turn: (to, correlation, error code, payload).
    pub(crate) outgoing_replies: Vec<(MemberId, u64, u32, Vec<u8>)>,
    /// Unicast-only mode: the configured seeds, always kept as peers.
    pub(crate) seeds: Option<Vec<std::net::SocketAddr>>,
    /// A view changed since the peers were last computed.
    view_changed: bool,
    /// New peers for the driver's sockets (taken by the runner's adjust).
    pub(crate) peers: Option<Vec<std::net::SocketAddr>>,
    /// Batches waiting for room in the send window, oldest first: retried
    /// at every turn (so as soon as acknowledgements open the window).
    pub(crate) pending: VecDeque<PendingBatch>,
    /// The zero-allocation path: publishers' rings, drained every turn.
    pub(crate) publishers: Vec<PublisherEnd>,
    /// The zero-allocation path: inboxes by topic.
    pub(crate) inboxes: TopicTable<InboxEnd>,
    /// The lowest-latency path: handlers by topic, run inline. In a mutex
    /// only so that the hub is `Sync`; reached through `get_mut`.
    pub(crate) inline: TopicTable<std::sync::Mutex<InlineHandler>>,
    /// Where a publisher's record is copied on its way to the node.
    scratch: Box<[u8]>,
    /// A message left an inbox or a subscription of its topic full: the
    /// next [`accepts_events`](Application::accepts_events) looks at
    /// every queue. Queues only fill through this hub's pushes (readers
    /// only make room), so while this is clear every queue has room and
    /// an event costs no scan. Atomic only to keep the hub `Sync`.
    maybe_full: AtomicBool,
}

/// Messages a [`publish_batch`](crate::Channel::publish_batch) caller
/// waits on: what is left to publish, and where to report the outcome.
pub(crate) struct PendingBatch {
    pub(crate) group: GroupId,
    pub(crate) topic: String,
    /// The messages not yet taken, in order.
    pub(crate) messages: VecDeque<Vec<u8>>,
    /// Past this, the rest is dropped and the caller told
    /// [`ChannelError::Backpressure`].
    pub(crate) deadline: Instant,
    pub(crate) done: oneshot::Sender<Result<(), BatchError>>,
}

/// Why a batch stopped: the node's refusal and the refused message's
/// length, or a window that stayed full.
#[derive(Debug)]
pub(crate) enum BatchError {
    Refused(PublishError, usize),
    Backpressure,
}

impl PendingBatch {
    /// Publishes from the front while the window takes messages. Returns
    /// the batch back while some are left (and the deadline not passed).
    pub(crate) fn advance(mut self, now: Instant, engine: &mut Engine) -> Option<Self> {
        while let Some(message) = self.messages.front() {
            match engine.node.publish(now, self.group, &self.topic, message) {
                Ok(()) => {
                    self.messages.pop_front();
                }
                Err(PublishError::WouldBlock) if now < self.deadline => return Some(self),
                Err(PublishError::WouldBlock) => {
                    let _ = self.done.send(Err(BatchError::Backpressure));
                    return None;
                }
                Err(e) => {
                    let _ = self.done.send(Err(BatchError::Refused(e, message.len())));
                    return None;
                }
            }
        }
        let _ = self.done.send(Ok(()));
        None
    }
}

impl Hub {
    pub(crate) fn new(events: broadcast::Sender<GroupEvent>) -> Self {
        Hub {
            names: HashMap::new(),
            topics: ByTopic::default(),
            directs: Vec::new(),
            requests: Vec::new(),
            handler: None,
            queues: HashMap::new(),
            events,
            replies: HashMap::new(),
            writes: HashMap::new(),
            locks: HashMap::new(),
            outgoing_replies: Vec::new(),
            seeds: None,
            view_changed: false,
            peers: None,
            pending: VecDeque::new(),
            publishers: Vec::new(),
            inboxes: TopicTable::default(),
            inline: TopicTable::default(),
            scratch: vec![0; RECORD_CAPACITY].into_boxed_slice(),
            maybe_full: AtomicBool::new(false),
        }
    }

    fn name(&self, group: GroupId) -> String {
        self.names
            .get(&group)
            .cloned()
            .unwrap_or_else(|| group.to_string())
    }

    fn emit(&self, event: GroupEvent) {
        // No listener is not an error.
        let _ = self.events.send(event);
    }
}

impl Application<Engine> for Hub {
    fn on_event(&mut self, now: Instant, event: Event<'_>) -> ControlFlow<()> {
        match event {
            Event::Message {
                group,
                topic,
                sender,
                payload,
                qos,
            } => {
                if let Some(inboxes) = self.inboxes.get_mut(topic) {
                    let (mut full, mut gone) = (false, false);
                    for inbox in inboxes.iter() {
                        match inbox.offer(group, sender, qos, payload) {
                            Offer::Gone => gone = true,
                            Offer::Kept { full: f } => full |= f,
                        }
                    }
                    // A dropped inbox is forgotten once, not looked for
                    // per message.
                    if gone {
                        inboxes.retain(|inbox| !inbox.is_gone());
                    }
                    if full {
                        self.maybe_full.store(true, Ordering::Relaxed);
                    }
                }
                if let Some(handlers) = self.inline.get_mut(topic) {
                    let message = MessageRef {
                        group: self.names.get(&group).map_or("", String::as_str),
                        topic,
                        sender,
                        payload,
                        qos,
                    };
                    for handler in handlers.iter_mut() {
                        if let Ok(handler) = handler.get_mut() {
                            handler(message);
                        }
                    }
                }
                if let Some(sinks) = self.topics.get_mut(topic) {
                    let message = Message {
                        group: self.names.get(&group).cloned().unwrap_or_default(),
                        topic: topic.to_owned(),
                        sender,
                        payload: payload.to_vec(),
                        qos,
                    };
                    fan_out(sinks, &message);
                    if sinks.iter().any(Sink::is_full) {
                        self.maybe_full.store(true, Ordering::Relaxed);
                    }
                }
            }
            Event::Direct { from, payload } => {
                let direct = Direct {
                    from,
                    payload: payload.to_vec(),
                };
                fan_out(&mut self.directs, &direct);
            }
            Event::Request {
                from,
                correlation,
                payload,
                ..
            } => {
                let request = Request {
                    from,
                    correlation,
                    payload: payload.to_vec(),
                };
                if let Some(Ok(handler)) = self.handler.as_mut().map(std::sync::Mutex::get_mut) {
                    let (code, answer) = handler(&request);
                    self.outgoing_replies
                        .push((from, correlation, code, answer));
                } else if self.requests.is_empty() {
                    // Nobody serves requests here: say so at once rather
                    // than let the requester time out.
                    self.outgoing_replies
                        .push((from, correlation, 404, Vec::new()));
                } else {
                    fan_out(&mut self.requests, &request);
                }
            }
            Event::Reply {
                correlation,
                error,
                payload,
                ..
            } => {
                if let Some(tx) = self.replies.remove(&correlation) {
                    let _ = tx.send(if error == 0 {
                        Ok(payload.to_vec())
                    } else {
                        Err(ChannelError::Remote { code: error })
                    });
                }
            }
            Event::RequestTimedOut { correlation } => {
                if let Some(tx) = self.replies.remove(&correlation) {
                    let _ = tx.send(Err(ChannelError::Timeout));
                }
            }
            Event::QueueMessage {
                delivery,
                queue,
                redelivered,
                payload,
            } => {
                let key = (delivery.group, queue.to_owned());
                if let Some(sink) = self.queues.get(&key) {
                    let message = QueueMessage {
                        group: self.name(delivery.group),
                        queue: queue.to_owned(),
                        redelivered,
                        payload: payload.to_vec(),
                        delivery,
                    };
                    if !sink.offer(message) {
                        self.queues.remove(&key);
                    }
                }
            }
            Event::WriteDone {
                group,
                request,
                version,
            } => {
                if let Some(tx) = self.writes.remove(&(group, request)) {
                    let _ = tx.send(Ok(version));
                }
            }
            Event::WriteFailed {
                group,
                request,
                error,
            } => {
                if let Some(tx) = self.writes.remove(&(group, request)) {
                    let _ = tx.send(Err(ChannelError::Map(error.to_string())));
                }
            }
            Event::LockGranted {
                group,
                request,
                fence,
                deadline,
                ..
            } => {
                if let Some(tx) = self.locks.remove(&(group, request)) {
                    let lease = deadline.saturating_duration_since(now);
                    let _ = tx.send(Ok(LockGrant {
                        fence,
                        lease: lease.into(),
                    }));
                }
            }
            Event::LockFailed {
                group,
                request,
                error,
            } => {
                if let Some(tx) = self.locks.remove(&(group, request)) {
                    let _ = tx.send(Err(ChannelError::Map(error.to_string())));
                }
            }
            Event::MapChanged { group, change } => {
                self.emit(GroupEvent::MapChanged(MapChange {
                    group: self.name(group),
                    map: change.map.to_owned(),
                    key: change.key.to_vec(),
                    kind: match change.kind {
                        blaze_node::ChangeKind::Inserted => ChangeKind::Inserted,
                        blaze_node::ChangeKind::Updated => ChangeKind::Updated,
                        blaze_node::ChangeKind::Removed => ChangeKind::Removed,
                        _ => ChangeKind::Expired,
                    },
                    old: change.old.map(<[u8]>::to_vec),
                    new: change.new.map(<[u8]>::to_vec),
                    cause: change.cause,
                }));
            }
            Event::LockLost {
                group,
                map,
                key,
                fence,
                ..
            } => self.emit(GroupEvent::LockLost {
                group: self.name(group),
                map: map.to_owned(),
                key: key.to_vec(),
                fence,
            }),
            Event::ViewChanged {
                group,
                view_id,
                members,
                merge,
            } => {
                self.view_changed = true;
                self.emit(GroupEvent::ViewChanged {
                    group: self.name(group),
                    view_id,
                    members,
                    merge,
                });
            }
            Event::Merged { group, view_id } => self.emit(GroupEvent::Merged {
                group: self.name(group),
                view_id,
            }),
            Event::Map {
                group,
                event:
                    blaze_map::Event::Merged {
                        view,
                        won,
                        winner_size,
                        own_size,
                    },
            } => self.emit(GroupEvent::MapMerged {
                group: self.name(group),
                view_id: view,
                won,
                winner_size,
                own_size,
            }),
            Event::MemberJoined { group, member } => self.emit(GroupEvent::MemberJoined {
                group: self.name(group),
                member,
            }),
            Event::MemberLeft { group, member } => self.emit(GroupEvent::MemberLeft {
                group: self.name(group),
                member,
            }),
            Event::MemberFailed { group, member } => self.emit(GroupEvent::MemberFailed {
                group: self.name(group),
                member,
            }),
            Event::CoordinatorChanged {
                group,
                coordinator,
                previous,
            } => self.emit(GroupEvent::CoordinatorChanged {
                group: self.name(group),
                coordinator,
                previous,
            }),
            Event::Left { group } => self.emit(GroupEvent::Left {
                group: self.name(group),
            }),
            Event::Unrecoverable { group, sender, .. } => {
                tracing::warn!(%sender, "messages lost for good in group {}", self.name(group));
                self.emit(GroupEvent::Unrecoverable {
                    group: self.name(group),
                    sender,
                });
            }
            Event::RingChanged {
                group,
                kind,
                ring,
                members,
            } => self.emit(GroupEvent::RingChanged {
                group: self.name(group),
                transitional: kind == ConfigurationKind::Transitional,
                ring_seq: ring.seq,
                representative: ring.rep,
                members: members.to_vec(),
            }),
            other => tracing::trace!("event: {other:?}"),
        }
        ControlFlow::Continue(())
    }

    /// Room for the next message in every topic's inboxes and
    /// subscriptions: a full one holds every message back, in order, until
    /// its reader takes one (and wakes the task).
    ///
    /// O(1) while no push left a queue full since the last look; then
    /// every queue is looked at (and asked to wake the task if full) until
    /// all have room again.
    fn accepts_events(&self, task: &DriverWaker) -> bool {
        if !self.maybe_full.load(Ordering::Relaxed) {
            return true;
        }
        let room = self.inboxes.values().all(|inbox| inbox.has_room(task))
            && self
                .topics
                .values()
                .flatten()
                .all(|sink| sink.has_room(task));
        if room {
            self.maybe_full.store(false, Ordering::Relaxed);
        }
        room
    }

    /// Only what waits for room in the node (publisher records and
    /// batches held back by `WouldBlock`) can go on after sending: best
    /// effort frees its window as it sends.
    fn turn_after_transmit(&self) -> bool {
        !self.pending.is_empty() || self.publishers.iter().any(PublisherEnd::has_queued)
    }

    fn on_turn(&mut self, now: Instant, engine: &mut Engine) -> ControlFlow<()> {
        let scratch = &mut self.scratch;
        self.publishers
            .retain(|p| p.drain(now, &mut engine.node, scratch));
        while let Some(batch) = self.pending.pop_front() {
            if let Some(rest) = batch.advance(now, engine) {
                self.pending.push_front(rest);
                break;
            }
        }
        for (to, correlation, code, payload) in self.outgoing_replies.drain(..) {
            if let Err(e) = engine.node.reply(now, to, correlation, code, &payload) {
                tracing::debug!(%to, "reply not sent: {e}");
            }
        }
        // Unicast-only mode: datagrams for a group go to every known
        // member, so the driver's peers follow the views (plus the seeds).
        if let Some(seeds) = &self.seeds
            && std::mem::take(&mut self.view_changed)
        {
            let mut peers = seeds.clone();
            let groups: Vec<_> = engine.node.groups().collect();
            for group in groups {
                for member in engine.node.members(group) {
                    if let Some(address) = member.address
                        && !peers.contains(&address)
                    {
                        peers.push(address);
                    }
                }
            }
            self.peers = Some(peers);
            // Pause the driver so that the runner hands it the peers.
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    }
}
