//! `Channel`: broadcast on topics, subscribe by stream or listener, and
//! the life cycle shared by every channel layer.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use blaze_node::{GroupId, Instant, MemberId, PublishError, Qos, Stats as NodeStats};
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::engine::{Engine, MAX_PAYLOAD};
use crate::events::{GroupEvent, Message, MessageRef};
use crate::hub::{
    BatchError, EVENT_FEED, Hub, InlineHandler, PendingBatch, SUBSCRIBER_QUEUE, Sink,
};
use crate::inbox::Inbox;
use crate::publisher::{Publisher, PublisherEnd};
use crate::room::Room;
use crate::runner::{Parked, Runner};
use crate::{
    ChannelConfig, ChannelError, Clock, Driver, DriverConfig, Lifecycle, Sockets, StreamDrops,
};

/// How long a send waits for room in a full window before giving up.
const BACKPRESSURE_LIMIT: Duration = Duration::from_secs(5);
/// How long `stop` waits for the group's acknowledgement of the leave.
const LEAVE_LIMIT: Duration = Duration::from_millis(1_500);

/// A member of a Blaze cluster that broadcasts and receives messages on
/// topics: the first of three API layers ([`Channel`],
/// [`GroupChannel`](crate::GroupChannel), [`ClusterChannel`](crate::ClusterChannel)),
/// each a superset of the one before.
///
/// A channel is made from a [`ChannelConfig`], [`init`](Channel::init)ialized
/// (sockets bound, a member id drawn), [`start`](Channel::start)ed (its
/// groups joined; it runs on a task of the current tokio runtime), and may be
/// [`stop`](Channel::stop)ped (groups left gracefully) and started again any
/// number of times before it is [`shutdown`](Channel::shutdown). Subscriptions
/// live across stops and starts. See [`Lifecycle`].
///
/// Topics have a quality of service ([`Channel::set_qos`], or the
/// configuration's `topics`): reliable (the default: exactly once, in each
/// sender's order), reliable with forward error correction, best effort,
/// or total order (agreed or safe, through the group's Totem ring). A
/// member does not receive its own messages, except on total-order topics,
/// where every member (the sender included) delivers the same sequence.
///
/// # Example
///
/// Two members on loopback multicast; one publishes, the other receives.
///
/// ```
/// use std::time::Duration;
/// use blaze_std::{Channel, ChannelConfig};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let config = |name: &str| {
///     ChannelConfig::builder()
///         .name(name)
///         .group("239.255.42.17:47017".parse().unwrap())
///         .join("doc-channel")
///         .build()
/// };
/// let mut alice = Channel::new(config("alice")?);
/// let mut bob = Channel::new(config("bob")?);
/// let mut news = bob.subscribe("news").await?;
/// alice.start().await?;
/// bob.start().await?;
/// // Publish until bob has seen alice (a new member receives from the
/// // messages published after it joined).
/// let message = loop {
///     alice.publish("news", b"hello").await?;
///     if let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(100), news.recv()).await {
///         break m;
///     }
/// };
/// assert_eq!(message.payload, b"hello");
/// assert_eq!(message.sender, alice.id());
/// alice.shutdown().await?;
/// bob.shutdown().await?;
/// # Ok(()) }
/// ```
pub struct Channel {
    config: ChannelConfig,
    state: Lifecycle,
    /// The hub before `init` moves it under the driver.
    hub: Option<Hub>,
    parked: Option<Parked<Engine, Hub>>,
    pub(crate) runner: Option<Runner<Engine, Hub>>,
    events: broadcast::Sender<GroupEvent>,
    id: MemberId,
    local_addr: Option<SocketAddr>,
    /// The groups this member is in (joined again after a restart).
    pub(crate) groups: Vec<String>,
}

impl std::fmt::Debug for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Channel")
            .field("name", &self.config.name)
            .field("id", &self.id)
            .field("state", &self.state)
            .field("groups", &self.groups)
            .finish_non_exhaustive()
    }
}

/// A stream of the messages of one topic.
#[derive(Debug)]
pub struct Subscription<T = Message> {
    rx: mpsc::Receiver<T>,
    dropped: Arc<AtomicU64>,
    /// Wakes the channel's task after an item is taken from a full queue.
    room: Arc<Room>,
}

impl<T> Subscription<T> {
    pub(crate) fn new() -> (Self, Sink<T>) {
        let (tx, rx) = mpsc::channel(SUBSCRIBER_QUEUE);
        let dropped = Arc::new(AtomicU64::new(0));
        let room = Arc::new(Room::default());
        let sink = Sink {
            tx,
            dropped: Arc::clone(&dropped),
            room: Arc::clone(&room),
        };
        (Subscription { rx, dropped, room }, sink)
    }

    /// The next item; `None` once the channel is shut down.
    pub async fn recv(&mut self) -> Option<T> {
        let item = self.rx.recv().await;
        self.room.freed();
        item
    }

    /// The next item if one is waiting.
    pub fn try_recv(&mut self) -> Option<T> {
        let item = self.rx.try_recv().ok();
        self.room.freed();
        item
    }

    /// Items dropped because this subscription's queue (4096) was full.
    /// A topic's messages are held back in the node while its
    /// subscriptions' queues are full (a reliable topic's senders then
    /// wait for the slowest reader), so for them this stays zero; direct
    /// messages, requests and queue messages are dropped and counted here
    /// when their queue is full: read faster, or use a listener.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// The feed of group events (views, members, coordinator, map changes).
#[derive(Debug)]
pub struct Events {
    rx: broadcast::Receiver<GroupEvent>,
    missed: u64,
}

impl Events {
    /// The next event; `None` once the channel is shut down. Events a slow
    /// reader missed (the feed keeps 1024) are counted in
    /// [`missed`](Events::missed).
    pub async fn recv(&mut self) -> Option<GroupEvent> {
        loop {
            match self.rx.recv().await {
                Ok(event) => return Some(event),
                Err(broadcast::error::RecvError::Lagged(n)) => self.missed += n,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }

    /// Events skipped because this reader fell behind.
    pub fn missed(&self) -> u64 {
        self.missed
    }
}

impl Channel {
    /// A channel in the [`Constructed`](Lifecycle::Constructed) state:
    /// nothing is bound yet.
    pub fn new(config: ChannelConfig) -> Self {
        let (events, _) = broadcast::channel(EVENT_FEED);
        Channel {
            groups: config.groups.clone(),
            hub: Some(Hub::new(events.clone())),
            config,
            state: Lifecycle::Constructed,
            parked: None,
            runner: None,
            events,
            id: MemberId::NIL,
            local_addr: None,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ChannelConfig {
        &self.config
    }

    /// Where the channel is in its life cycle.
    pub fn state(&self) -> Lifecycle {
        self.state
    }

    /// This member's id ([`MemberId::NIL`] before `init`).
    pub fn id(&self) -> MemberId {
        self.id
    }

    /// This member's name.
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// The unicast address of this member, once initialized.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local_addr
    }

    /// The largest message [`publish`](Channel::publish) takes.
    pub fn max_payload(&self) -> usize {
        MAX_PAYLOAD
    }

    /// Binds the sockets and draws the member id. Must run inside a tokio
    /// runtime (with I/O and time). A no-op when already initialized.
    ///
    /// # Errors
    ///
    /// [`ChannelError::Socket`] (the message says which option or address
    /// failed and what to try), [`ChannelError::Config`],
    /// [`ChannelError::Lifecycle`]; the channel stays constructed.
    pub async fn init(&mut self) -> Result<(), ChannelError> {
        if self.state != Lifecycle::Constructed {
            self.state.to(Lifecycle::Initialized)?;
            return Ok(());
        }
        let clock = Clock::new();
        let sockets = Sockets::bind(&self.config.socket_config())?;
        let local_addr = sockets.local_addr();
        let engine = Engine::new(clock.now(), &self.config)
            .map_err(|e| ChannelError::Config(e.to_string()))?;
        let id = engine.node.id();
        let driver_config = DriverConfig {
            busy_poll: self.config.busy_poll(),
            ..DriverConfig::default()
        };
        let driver = Driver::new(engine, sockets, clock, driver_config)
            .map_err(|e| ChannelError::Config(format!("cannot register the sockets: {e}")))?;
        let mut hub = self
            .hub
            .take()
            .unwrap_or_else(|| Hub::new(self.events.clone()));
        if self.config.group.is_none() {
            hub.seeds = Some(self.config.seeds.clone());
        }
        self.parked = Some(Parked { driver, app: hub });
        self.id = id;
        self.local_addr = Some(local_addr);
        self.state = Lifecycle::Initialized;
        tracing::info!(name = %self.config.name, %id, %local_addr, "channel initialized");
        Ok(())
    }

    /// Starts the channel (initializing it first if needed): joins its
    /// groups and runs on a task of the current tokio runtime.
    ///
    /// # Errors
    ///
    /// As [`init`](Channel::init); [`ChannelError::Lifecycle`] once shut
    /// down.
    pub async fn start(&mut self) -> Result<(), ChannelError> {
        let next = self.state.to(Lifecycle::Started)?;
        if self.state == Lifecycle::Started {
            return Ok(());
        }
        if self.state == Lifecycle::Constructed {
            self.init().await?;
        }
        let parked = self.parked.take().ok_or(ChannelError::Closed)?;
        let runner = Runner::spawn(parked, adjust_peers);
        let groups = self.groups.clone();
        let topics: Vec<(String, Qos)> = self
            .config
            .topics
            .iter()
            .map(|(t, q)| (t.clone(), Qos::from(*q)))
            .collect();
        let joined = runner
            .call(move |engine: &mut Engine, hub: &mut Hub, now| {
                for (topic, qos) in &topics {
                    if let Err(e) = engine.node.set_qos(topic, *qos) {
                        tracing::warn!("topic {topic}: {e}");
                    }
                }
                join_all(engine, hub, now, &groups)
            })
            .await?;
        self.runner = Some(runner);
        self.state = next;
        joined?;
        tracing::info!(name = %self.config.name, groups = ?self.groups, "channel started");
        Ok(())
    }

    /// Stops the channel: leaves its groups gracefully (the others see
    /// this member leave, not fail) and stops its task. The sockets stay
    /// bound; [`start`](Channel::start) resumes.
    ///
    /// # Errors
    ///
    /// [`ChannelError::Lifecycle`] unless started.
    pub async fn stop(&mut self) -> Result<(), ChannelError> {
        let next = self.state.to(Lifecycle::Stopped)?;
        if self.state == Lifecycle::Stopped {
            return Ok(());
        }
        let runner = self.runner.take().ok_or(ChannelError::Closed)?;
        let mut events = self.events.subscribe();
        let groups: Vec<GroupId> = runner
            .call(|engine: &mut Engine, _: &mut Hub, now| {
                let groups: Vec<GroupId> = engine.node.groups().collect();
                for group in &groups {
                    let _ = engine.node.leave(now, *group);
                }
                groups
            })
            .await?;
        // Wait (bounded) until membership reports every leave complete, so
        // the others saw this member leave rather than fail.
        let mut left = 0;
        let wait = async {
            while left < groups.len() {
                match events.recv().await {
                    Ok(GroupEvent::Left { .. }) => left += 1,
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => break,
                }
            }
        };
        let _ = tokio::time::timeout(LEAVE_LIMIT, wait).await;
        self.parked = Some(runner.stop().await?);
        self.state = next;
        tracing::info!(name = %self.config.name, "channel stopped");
        Ok(())
    }

    /// Stops the channel if it runs, closes its sockets and ends every
    /// subscription. The channel cannot be used again.
    ///
    /// # Errors
    ///
    /// [`ChannelError::Lifecycle`] when already shut down.
    pub async fn shutdown(&mut self) -> Result<(), ChannelError> {
        let next = self.state.to(Lifecycle::ShutDown)?;
        if self.state == Lifecycle::Started {
            self.stop().await?;
        }
        if let Some(parked) = self.parked.take() {
            parked.driver.into_protocol().recycle();
        }
        self.hub = None;
        self.state = next;
        tracing::info!(name = %self.config.name, "channel shut down");
        Ok(())
    }

    /// Ends the channel's task at once, without leaving its groups: the
    /// others see this member fail (after their failure time-out). For
    /// tests and demonstrations of failure handling. The node's channel
    /// storage is not returned to the pool that shutdown refills.
    pub fn kill(&mut self) {
        self.runner = None;
        self.parked = None;
        self.hub = None;
        self.state = Lifecycle::ShutDown;
        tracing::info!(name = %self.config.name, "channel killed");
    }

    /// The running task, or why there is none.
    pub(crate) fn runner(&self) -> Result<&Runner<Engine, Hub>, ChannelError> {
        self.runner
            .as_ref()
            .ok_or(ChannelError::NotStarted { state: self.state })
    }

    /// Runs `f` on the hub, wherever it is: queued to the task when
    /// started, directly otherwise.
    pub(crate) async fn with_hub<T: Send + 'static>(
        &mut self,
        f: impl FnOnce(&mut Hub) -> T + Send + 'static,
    ) -> Result<T, ChannelError> {
        if let Some(runner) = &self.runner {
            return Ok(runner
                .call(move |_: &mut Engine, hub: &mut Hub, _| f(hub))
                .await?);
        }
        if let Some(parked) = &mut self.parked {
            return Ok(f(&mut parked.app));
        }
        match &mut self.hub {
            Some(hub) => Ok(f(hub)),
            None => Err(ChannelError::Closed),
        }
    }

    /// The group [`publish`](Channel::publish) uses: the first configured.
    pub fn default_group(&self) -> &str {
        self.config.groups.first().map_or("blaze", String::as_str)
    }

    /// Sets the quality of service of `topic` for every group.
    ///
    /// # Errors
    ///
    /// [`ChannelError::BadName`] for a topic over 64 bytes or when 32
    /// topics already have one; [`ChannelError::NotStarted`].
    pub async fn set_qos(&self, topic: &str, qos: Qos) -> Result<(), ChannelError> {
        let topic = topic.to_owned();
        self.runner()?
            .call(move |engine: &mut Engine, _: &mut Hub, _| engine.node.set_qos(&topic, qos))
            .await?
            .map_err(|_| ChannelError::BadName {
                what: "topic",
                max: blaze_node::MAX_TOPIC_LEN,
            })
    }

    /// The node's router counters: datagrams received, and those dropped
    /// by reason (malformed, another wire version, another group, own
    /// loopback, no channel, no body). A read-only snapshot taken on the
    /// channel's task.
    ///
    /// # Errors
    ///
    /// [`ChannelError::NotStarted`] unless started.
    pub async fn node_stats(&self) -> Result<NodeStats, ChannelError> {
        Ok(self
            .runner()?
            .call(|engine: &mut Engine, _: &mut Hub, _| *engine.node.stats())
            .await?)
    }

    /// What the multicast channels of every group dropped, by reason:
    /// frames of senders outside the group's view among them. A snapshot
    /// taken on the channel's task.
    ///
    /// # Errors
    ///
    /// [`ChannelError::NotStarted`] unless started.
    pub async fn stream_drops(&self) -> Result<StreamDrops, ChannelError> {
        Ok(self
            .runner()?
            .call(|engine: &mut Engine, _: &mut Hub, _| StreamDrops::of(&engine.node))
            .await?)
    }

    /// Publishes `payload` on `topic` in the default group, with the
    /// topic's quality of service. Waits (up to 5 s) while the reliable
    /// window is full.
    ///
    /// The ergonomic path: each call is a round trip to the channel's task
    /// and allocates; a [`Publisher`] publishes without allocating.
    ///
    /// # Errors
    ///
    /// [`ChannelError::NotStarted`] (send before start),
    /// [`ChannelError::PayloadTooLarge`], [`ChannelError::BadName`],
    /// [`ChannelError::Backpressure`]; nothing was sent.
    pub async fn publish(&self, topic: &str, payload: &[u8]) -> Result<(), ChannelError> {
        self.publish_in(self.default_group(), topic, payload).await
    }

    /// Publishes in `group` (see [`publish`](Channel::publish)).
    ///
    /// # Errors
    ///
    /// As [`publish`](Channel::publish), and [`ChannelError::NotInGroup`].
    pub async fn publish_in(
        &self,
        group: &str,
        topic: &str,
        payload: &[u8],
    ) -> Result<(), ChannelError> {
        let runner = self.runner()?;
        if payload.len() > MAX_PAYLOAD {
            return Err(ChannelError::PayloadTooLarge {
                len: payload.len(),
                max: MAX_PAYLOAD,
            });
        }
        if topic.is_empty() || topic.len() > blaze_node::MAX_TOPIC_LEN {
            return Err(ChannelError::BadName {
                what: "topic",
                max: blaze_node::MAX_TOPIC_LEN,
            });
        }
        let id = GroupId::from_name(group);
        let deadline = tokio::time::Instant::now() + BACKPRESSURE_LIMIT;
        let shared: Arc<(String, Vec<u8>)> = Arc::new((topic.to_owned(), payload.to_vec()));
        loop {
            let job = Arc::clone(&shared);
            let r = runner
                .call(move |engine: &mut Engine, _: &mut Hub, now: Instant| {
                    engine.node.publish(now, id, &job.0, &job.1)
                })
                .await?;
            match r {
                Ok(()) => return Ok(()),
                Err(PublishError::WouldBlock) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                Err(PublishError::WouldBlock) => return Err(ChannelError::Backpressure),
                Err(e) => return Err(refused(e, group, topic, payload.len())),
            }
        }
    }

    /// Publishes as many of `messages` (in order) on `topic` of `group` as
    /// the send window takes now, in one step of the channel's task, and
    /// returns how many it took: the rest are left to the caller (for
    /// instance to retry after a moment). For high rates, where
    /// [`publish`](Channel::publish)'s one step per message costs too
    /// much.
    ///
    /// # Errors
    ///
    /// As [`publish_in`](Channel::publish_in), for the first message not
    /// taken for a reason other than a full window.
    pub async fn try_publish_batch(
        &self,
        group: &str,
        topic: &str,
        messages: Vec<Vec<u8>>,
    ) -> Result<usize, ChannelError> {
        let runner = self.runner()?;
        let id = GroupId::from_name(group);
        let owned = topic.to_owned();
        let r = runner
            .call(move |engine: &mut Engine, _: &mut Hub, now: Instant| {
                let mut taken = 0;
                for message in &messages {
                    match engine.node.publish(now, id, &owned, message) {
                        Ok(()) => taken += 1,
                        Err(PublishError::WouldBlock) => break,
                        Err(e) => return Err((e, message.len())),
                    }
                }
                Ok(taken)
            })
            .await?;
        r.map_err(|(e, len)| refused(e, group, topic, len))
    }

    /// Publishes every message of `messages` (in order) on `topic` of
    /// `group`, in as few steps of the channel's task as the send window
    /// allows: what the window does not take at once waits on the task and
    /// goes out as acknowledgements open the window, without polling.
    /// Batches from several callers keep their order. Gives up after 5 s
    /// in all.
    ///
    /// # Errors
    ///
    /// As [`publish_in`](Channel::publish_in); the messages before the one
    /// refused (or, for [`ChannelError::Backpressure`], before the window
    /// stayed full) were published, the rest not.
    pub async fn publish_batch(
        &self,
        group: &str,
        topic: &str,
        messages: Vec<Vec<u8>>,
    ) -> Result<(), ChannelError> {
        let runner = self.runner()?;
        let (done, outcome) = oneshot::channel();
        let batch = PendingBatch {
            group: GroupId::from_name(group),
            topic: topic.to_owned(),
            messages: messages.into(),
            deadline: Instant::ZERO,
            done,
        };
        runner
            .call(move |engine: &mut Engine, hub: &mut Hub, now: Instant| {
                let mut batch = batch;
                batch.deadline = now + BACKPRESSURE_LIMIT.into();
                if !hub.pending.is_empty() {
                    hub.pending.push_back(batch);
                } else if let Some(rest) = batch.advance(now, engine) {
                    hub.pending.push_back(rest);
                }
            })
            .await?;
        match outcome.await.map_err(|_| ChannelError::Closed)? {
            Ok(()) => Ok(()),
            Err(BatchError::Backpressure) => Err(ChannelError::Backpressure),
            Err(BatchError::Refused(e, len)) => Err(refused(e, group, topic, len)),
        }
    }

    /// Subscribes to `topic` (in every group of this member): messages
    /// arrive on the returned stream, each an owned [`Message`] (the
    /// ergonomic path, which allocates per message; an [`Inbox`] does
    /// not). Works in any state before shutdown;
    /// the subscription lasts across stops and starts.
    ///
    /// # Errors
    ///
    /// [`ChannelError::Closed`] after shutdown.
    pub async fn subscribe(&mut self, topic: &str) -> Result<Subscription, ChannelError> {
        let (subscription, sink) = Subscription::new();
        let topic = topic.to_owned();
        self.with_hub(move |hub| hub.topics.entry(topic).or_default().push(sink))
            .await?;
        Ok(subscription)
    }

    /// A [`Publisher`] on `topic` of the default group: publishing without
    /// allocation per message (payloads up to [`RECORD_CAPACITY`](crate::RECORD_CAPACITY) bytes).
    ///
    /// # Errors
    ///
    /// As [`publisher_in`](Channel::publisher_in).
    pub async fn publisher(&self, topic: &str) -> Result<Publisher, ChannelError> {
        self.publisher_in(self.default_group(), topic).await
    }

    /// A [`Publisher`] on `topic` of `group`. The handle lasts across stops
    /// and starts.
    ///
    /// # Errors
    ///
    /// [`ChannelError::NotStarted`], [`ChannelError::BadName`] for an
    /// empty topic or one over 64 bytes, [`ChannelError::NotInGroup`].
    pub async fn publisher_in(&self, group: &str, topic: &str) -> Result<Publisher, ChannelError> {
        let runner = self.runner()?;
        if topic.is_empty() || topic.len() > blaze_node::MAX_TOPIC_LEN {
            return Err(ChannelError::BadName {
                what: "topic",
                max: blaze_node::MAX_TOPIC_LEN,
            });
        }
        if blaze_node::is_reserved_topic(topic) {
            return Err(ChannelError::ReservedTopic(topic.to_owned()));
        }
        if !self.groups.iter().any(|g| g == group) {
            return Err(ChannelError::NotInGroup(group.to_owned()));
        }
        let (publisher, shared) = Publisher::new(group, runner.waker());
        let end = PublisherEnd {
            group: GroupId::from_name(group),
            topic: topic.to_owned(),
            shared,
        };
        runner
            .call(move |_: &mut Engine, hub: &mut Hub, _| hub.publishers.push(end))
            .await?;
        Ok(publisher)
    }

    /// Subscribes to `topic` (in every group of this member) through an
    /// [`Inbox`]: receiving without allocation per message (messages up
    /// to [`RECORD_CAPACITY`](crate::RECORD_CAPACITY) bytes). Works in any state before shutdown;
    /// the inbox lasts across stops and starts.
    ///
    /// # Errors
    ///
    /// [`ChannelError::Closed`] after shutdown.
    pub async fn subscribe_inbox(&mut self, topic: &str) -> Result<Inbox, ChannelError> {
        let (inbox, end) = Inbox::new(self.config.busy_poll());
        let topic = topic.to_owned();
        self.with_hub(move |hub| hub.inboxes.push(topic, end))
            .await?;
        Ok(inbox)
    }

    /// Subscribes to `topic` with a listener, called on a task of its own
    /// for every message, in order.
    ///
    /// # Errors
    ///
    /// [`ChannelError::Closed`] after shutdown.
    pub async fn subscribe_with<F>(
        &mut self,
        topic: &str,
        mut listener: F,
    ) -> Result<(), ChannelError>
    where
        F: FnMut(Message) + Send + 'static,
    {
        let mut subscription = self.subscribe(topic).await?;
        tokio::spawn(async move {
            while let Some(message) = subscription.recv().await {
                listener(message);
            }
        });
        Ok(())
    }

    /// Subscribes to `topic` (in every group of this member) with a
    /// handler run inline, on the channel's task, as each message is
    /// delivered: the lowest-latency way to react to a message, with no
    /// hop to another task and no copy. The handler must be quick and must
    /// not block; the message is lent for the call only. A reply published
    /// from the handler with [`Publisher::try_publish`] leaves in the
    /// channel's very next turn, before other tasks run. Works in any state
    /// before shutdown and lasts across stops and starts.
    ///
    /// ```no_run
    /// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
    /// use blaze_std::{Channel, ChannelConfig, TopicQos};
    ///
    /// let config = ChannelConfig::builder()
    ///     .name("echo")
    ///     .topic("ping", TopicQos::Reliable)
    ///     .topic("pong", TopicQos::Reliable)
    ///     .build()?;
    /// let mut channel = Channel::new(config);
    /// channel.start().await?;
    /// let mut pongs = channel.publisher("pong").await?;
    /// channel
    ///     .subscribe_inline("ping", move |message| {
    ///         // Full ring: this reply is given up (counted by the caller).
    ///         let _ = pongs.try_publish(message.payload);
    ///     })
    ///     .await?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`ChannelError::Closed`] after shutdown.
    pub async fn subscribe_inline<F>(&mut self, topic: &str, handler: F) -> Result<(), ChannelError>
    where
        F: FnMut(MessageRef<'_>) + Send + 'static,
    {
        let topic = topic.to_owned();
        let handler: InlineHandler = Box::new(handler);
        self.with_hub(move |hub| hub.inline.push(topic, std::sync::Mutex::new(handler)))
            .await
    }

    /// The feed of group events: views, members joining, leaving and
    /// failing, coordinator changes, map changes, lost locks.
    pub fn events(&self) -> Events {
        Events {
            rx: self.events.subscribe(),
            missed: 0,
        }
    }
}

/// Hands the driver the peers the hub computed from the views.
fn adjust_peers(hub: &mut Hub, driver: &mut Driver<Engine>) {
    if let Some(peers) = hub.peers.take() {
        tracing::debug!(?peers, "unicast peers");
        driver.sockets_mut().set_peers(&peers);
    }
}

/// Joins every group in `groups`, naming them in the hub.
pub(crate) fn join_all(
    engine: &mut Engine,
    hub: &mut Hub,
    now: Instant,
    groups: &[String],
) -> Result<(), ChannelError> {
    for name in groups {
        join_one(engine, hub, now, name)?;
    }
    Ok(())
}

/// Joins `name`.
pub(crate) fn join_one(
    engine: &mut Engine,
    hub: &mut Hub,
    now: Instant,
    name: &str,
) -> Result<(), ChannelError> {
    match engine.node.join(now, name) {
        Ok(id) => {
            hub.names.insert(id, name.to_owned());
            Ok(())
        }
        Err(blaze_node::GroupError::AlreadyJoined) => Ok(()),
        Err(blaze_node::GroupError::TooManyGroups) => Err(ChannelError::TooManyGroups),
        Err(_) => Err(ChannelError::BadName {
            what: "group",
            max: crate::MAX_NAME_LEN,
        }),
    }
}

/// The error for a message of `len` bytes that the node refused on `topic`
/// of `group` (back-pressure aside).
fn refused(e: PublishError, group: &str, topic: &str, len: usize) -> ChannelError {
    match e {
        PublishError::NotJoined => ChannelError::NotInGroup(group.to_owned()),
        PublishError::QosUnavailable(q) => ChannelError::QosUnavailable(q),
        PublishError::TopicTooLong => ChannelError::BadName {
            what: "topic",
            max: blaze_node::MAX_TOPIC_LEN,
        },
        PublishError::ReservedTopic => ChannelError::ReservedTopic(topic.to_owned()),
        PublishError::WouldBlock => ChannelError::Backpressure,
        _ => ChannelError::PayloadTooLarge {
            len,
            max: MAX_PAYLOAD,
        },
    }
}

#[cfg(test)]
mod send_sync {
    fn is_send_sync<T: Send + Sync>() {}

    #[test]
    fn channels_are_send_and_sync() {
        is_send_sync::<super::Channel>();
        is_send_sync::<crate::GroupChannel>();
        is_send_sync::<crate::ClusterChannel>();
    }
}
