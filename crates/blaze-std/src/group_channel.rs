//! `GroupChannel`: a [`Channel`] that also joins and leaves groups, knows
//! their members, talks to one member, asks and answers requests, and
//! uses queues.

use std::ops::{Deref, DerefMut};
use std::time::Duration;

use blaze_node::{GroupId, MemberId};

use crate::channel::{Subscription, join_one};
use crate::engine::{Engine, MAX_DIRECT_PAYLOAD};
use crate::events::{Direct, GroupEvent, Member, QueueMessage, Request};
use crate::hub::Hub;
use crate::{Channel, ChannelConfig, ChannelError};

/// A [`Channel`] with groups and members: join and leave groups at run
/// time, list members and hear them come and go, send to one member,
/// request/reply with time-out, and queues (each message to exactly one
/// consumer, redelivered if that consumer fails before acknowledging).
///
/// Everything [`Channel`] does is reachable through `Deref`.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use blaze_std::{ChannelConfig, GroupChannel};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let config = |name: &str| {
///     ChannelConfig::builder()
///         .name(name)
///         .group("239.255.42.18:47018".parse().unwrap())
///         .join("doc-group")
///         .build()
/// };
/// let mut server = GroupChannel::new(config("server")?);
/// server.set_request_handler(|request| (0, request.payload.to_ascii_uppercase())).await?;
/// let mut client = GroupChannel::new(config("client")?);
/// server.start().await?;
/// client.start().await?;
/// let server_id = server.id();
/// client.wait_for_member("doc-group", server_id, Duration::from_secs(10)).await?;
/// let answer = client.request(server_id, b"ping", Duration::from_secs(2)).await?;
/// assert_eq!(answer, b"PING");
/// let names: Vec<String> = client.members("doc-group").await?.into_iter().map(|m| m.name).collect();
/// assert!(names.contains(&"server".to_owned()));
/// client.shutdown().await?;
/// server.shutdown().await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct GroupChannel {
    channel: Channel,
}

impl Deref for GroupChannel {
    type Target = Channel;
    fn deref(&self) -> &Channel {
        &self.channel
    }
}

impl DerefMut for GroupChannel {
    fn deref_mut(&mut self) -> &mut Channel {
        &mut self.channel
    }
}

impl GroupChannel {
    /// A constructed channel (see [`Channel::new`]).
    pub fn new(config: ChannelConfig) -> Self {
        GroupChannel {
            channel: Channel::new(config),
        }
    }

    /// Joins `group` (kept across stops and starts).
    ///
    /// # Errors
    ///
    /// [`ChannelError::NotStarted`], [`ChannelError::TooManyGroups`],
    /// [`ChannelError::BadName`]; nothing changed.
    pub async fn join(&mut self, group: &str) -> Result<(), ChannelError> {
        let name = group.to_owned();
        self.runner()?
            .call(move |engine: &mut Engine, hub: &mut Hub, now| join_one(engine, hub, now, &name))
            .await??;
        if !self.channel.groups.iter().any(|g| g == group) {
            self.channel.groups.push(group.to_owned());
        }
        Ok(())
    }

    /// Leaves `group` gracefully.
    ///
    /// # Errors
    ///
    /// [`ChannelError::NotStarted`], [`ChannelError::NotInGroup`].
    pub async fn leave(&mut self, group: &str) -> Result<(), ChannelError> {
        let id = GroupId::from_name(group);
        let left = self
            .runner()?
            .call(move |engine: &mut Engine, _: &mut Hub, now| engine.node.leave(now, id))
            .await?;
        left.map_err(|_| ChannelError::NotInGroup(group.to_owned()))?;
        self.channel.groups.retain(|g| g != group);
        Ok(())
    }

    /// The groups this member is in.
    pub fn groups(&self) -> &[String] {
        &self.channel.groups
    }

    /// The members of `group` in the current view (this one included).
    ///
    /// # Errors
    ///
    /// [`ChannelError::NotStarted`].
    pub async fn members(&self, group: &str) -> Result<Vec<Member>, ChannelError> {
        let id = GroupId::from_name(group);
        Ok(self
            .runner()?
            .call(move |engine: &mut Engine, _: &mut Hub, _| {
                engine
                    .node
                    .members(id)
                    .iter()
                    .map(|m| Member {
                        id: m.id,
                        name: m.name.as_str().to_owned(),
                        address: m.address,
                    })
                    .collect()
            })
            .await?)
    }

    /// Waits until `member` is in the view of `group`.
    ///
    /// # Errors
    ///
    /// [`ChannelError::Timeout`], [`ChannelError::NotStarted`].
    pub async fn wait_for_member(
        &self,
        group: &str,
        member: MemberId,
        timeout: Duration,
    ) -> Result<(), ChannelError> {
        self.wait_for_members(group, timeout, |members| {
            members.iter().any(|m| m.id == member)
        })
        .await
        .map(|_| ())
    }

    /// Waits until the view of `group` satisfies `done`; returns the
    /// members then.
    ///
    /// # Errors
    ///
    /// [`ChannelError::Timeout`], [`ChannelError::NotStarted`].
    pub async fn wait_for_members(
        &self,
        group: &str,
        timeout: Duration,
        mut done: impl FnMut(&[Member]) -> bool,
    ) -> Result<Vec<Member>, ChannelError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let members = self.members(group).await?;
            if done(&members) {
                return Ok(members);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(ChannelError::Timeout);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Calls `listener` (on a task of its own) for every member joining,
    /// leaving or failing in any group of this member.
    pub fn on_member_event<F>(&self, mut listener: F)
    where
        F: FnMut(&GroupEvent) + Send + 'static,
    {
        let mut events = self.events();
        tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                if matches!(
                    event,
                    GroupEvent::MemberJoined { .. }
                        | GroupEvent::MemberLeft { .. }
                        | GroupEvent::MemberFailed { .. }
                ) {
                    listener(&event);
                }
            }
        });
    }

    /// Sends `payload` to `member` alone, reliably and in order with the
    /// other direct messages to it.
    ///
    /// # Errors
    ///
    /// [`ChannelError::UnknownMember`], [`ChannelError::PayloadTooLarge`]
    /// (over [`MAX_DIRECT_PAYLOAD`]), [`ChannelError::NotStarted`],
    /// [`ChannelError::Backpressure`]; nothing was sent.
    pub async fn send_to(&self, member: MemberId, payload: &[u8]) -> Result<(), ChannelError> {
        check_direct(payload)?;
        let bytes = std::sync::Arc::new(payload.to_vec());
        self.while_full(move |engine, now| engine.node.send_to(now, member, &bytes))
            .await?
            .map_err(|e| ChannelError::from_send(e, Some(member), payload.len(), ""))
    }

    /// The point-to-point messages sent to this member.
    ///
    /// # Errors
    ///
    /// [`ChannelError::Closed`] after shutdown.
    pub async fn directs(&mut self) -> Result<Subscription<Direct>, ChannelError> {
        let (subscription, sink) = Subscription::new();
        self.with_hub(move |hub| hub.directs.push(sink)).await?;
        Ok(subscription)
    }

    /// Sends a request to `member` and waits for the reply.
    ///
    /// # Errors
    ///
    /// [`ChannelError::Timeout`], [`ChannelError::Remote`] (the member
    /// answered with an error code; 404 when it serves no requests),
    /// [`ChannelError::UnknownMember`], [`ChannelError::PayloadTooLarge`],
    /// [`ChannelError::NotStarted`].
    pub async fn request(
        &self,
        member: MemberId,
        payload: &[u8],
        timeout: Duration,
    ) -> Result<Vec<u8>, ChannelError> {
        self.request_to(Target::Member(member), payload, timeout)
            .await
    }

    /// Sends a request to any one other member of `group` and waits for the
    /// reply.
    ///
    /// # Errors
    ///
    /// As [`request`](GroupChannel::request), and
    /// [`ChannelError::NotInGroup`].
    pub async fn request_any(
        &self,
        group: &str,
        payload: &[u8],
        timeout: Duration,
    ) -> Result<Vec<u8>, ChannelError> {
        self.request_to(Target::Group(group.to_owned()), payload, timeout)
            .await
    }

    async fn request_to(
        &self,
        target: Target,
        payload: &[u8],
        timeout: Duration,
    ) -> Result<Vec<u8>, ChannelError> {
        check_direct(payload)?;
        let bytes = payload.to_vec();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let group_name = match &target {
            Target::Group(g) => g.clone(),
            Target::Member(_) => String::new(),
        };
        let sent = self
            .runner()?
            .call(move |engine: &mut Engine, hub: &mut Hub, now| {
                let t = timeout.into();
                let r = match &target {
                    Target::Member(m) => engine.node.request(now, *m, &bytes, t),
                    Target::Group(g) => {
                        engine
                            .node
                            .request_any(now, GroupId::from_name(g), &bytes, t)
                    }
                };
                if let Ok(correlation) = r {
                    hub.replies.insert(correlation, tx);
                }
                r.map(|_| ()).map_err(|e| {
                    (
                        e,
                        match target {
                            Target::Member(m) => Some(m),
                            Target::Group(_) => None,
                        },
                    )
                })
            })
            .await?;
        sent.map_err(|(e, to)| ChannelError::from_send(e, to, payload.len(), &group_name))?;
        // The node times the request out itself; this bound is a backstop.
        match tokio::time::timeout(timeout + Duration::from_secs(1), rx).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(_)) => Err(ChannelError::Closed),
            Err(_) => Err(ChannelError::Timeout),
        }
    }

    /// The requests sent to this member, to answer with
    /// [`reply`](GroupChannel::reply). (Without a subscriber or a handler,
    /// requests are answered with error 404.)
    ///
    /// # Errors
    ///
    /// [`ChannelError::Closed`] after shutdown.
    pub async fn requests(&mut self) -> Result<Subscription<Request>, ChannelError> {
        let (subscription, sink) = Subscription::new();
        self.with_hub(move |hub| hub.requests.push(sink)).await?;
        Ok(subscription)
    }

    /// Answers `request` with `payload` (error code 0).
    ///
    /// # Errors
    ///
    /// [`ChannelError::UnknownMember`] (the requester is gone),
    /// [`ChannelError::PayloadTooLarge`], [`ChannelError::NotStarted`].
    pub async fn reply(&self, request: &Request, payload: &[u8]) -> Result<(), ChannelError> {
        check_direct(payload)?;
        let (to, correlation, bytes) = (request.from, request.correlation, payload.to_vec());
        self.runner()?
            .call(move |engine: &mut Engine, _: &mut Hub, now| {
                engine.node.reply(now, to, correlation, 0, &bytes)
            })
            .await?
            .map_err(|e| ChannelError::from_send(e, Some(to), payload.len(), ""))
    }

    /// Answers every request with `handler`'s (error code, payload), run
    /// inline on the channel's task (keep it quick).
    ///
    /// # Errors
    ///
    /// [`ChannelError::Closed`] after shutdown.
    pub async fn set_request_handler<F>(&mut self, handler: F) -> Result<(), ChannelError>
    where
        F: FnMut(&Request) -> (u32, Vec<u8>) + Send + 'static,
    {
        self.with_hub(move |hub| hub.handler = Some(std::sync::Mutex::new(Box::new(handler))))
            .await
    }

    /// Consumes `queue` of `group`: its messages arrive on the returned
    /// stream, each to exactly one consumer of the group at a time;
    /// acknowledge each with [`ack`](GroupChannel::ack).
    ///
    /// # Errors
    ///
    /// [`ChannelError::NotStarted`], [`ChannelError::NotInGroup`],
    /// [`ChannelError::BadName`].
    pub async fn consume(
        &self,
        group: &str,
        queue: &str,
    ) -> Result<Subscription<QueueMessage>, ChannelError> {
        let (subscription, sink) = Subscription::new();
        let (g, q) = (GroupId::from_name(group), queue.to_owned());
        self.runner()?
            .call(move |engine: &mut Engine, hub: &mut Hub, now| {
                let r = engine.node.queue_subscribe(now, g, &q);
                if r.is_ok() {
                    hub.queues.insert((g, q), sink);
                }
                r
            })
            .await?
            .map_err(|e| ChannelError::from_send(e, None, 0, group))?;
        Ok(subscription)
    }

    /// Acknowledges a queue message: it will not be redelivered.
    ///
    /// # Errors
    ///
    /// [`ChannelError::UnknownDelivery`], [`ChannelError::NotStarted`].
    pub async fn ack(&self, message: &QueueMessage) -> Result<(), ChannelError> {
        let delivery = message.delivery;
        self.runner()?
            .call(move |engine: &mut Engine, _: &mut Hub, now| engine.node.queue_ack(now, delivery))
            .await?
            .map_err(|e| ChannelError::from_send(e, None, 0, &message.group))
    }

    /// Sends `payload` to `queue` of `group`; returns its id.
    ///
    /// Queue messages hold message storage until a consumer acknowledges
    /// them, and each consumer takes a bounded prefetch of unacknowledged
    /// messages; while storage is full this waits (up to five seconds,
    /// then [`ChannelError::Backpressure`]). Keep consuming while producing.
    ///
    /// # Errors
    ///
    /// [`ChannelError::NotInGroup`], [`ChannelError::PayloadTooLarge`],
    /// [`ChannelError::Backpressure`], [`ChannelError::NotStarted`].
    pub async fn queue_send(
        &self,
        group: &str,
        queue: &str,
        payload: &[u8],
    ) -> Result<u64, ChannelError> {
        check_direct(payload)?;
        let (g, q, bytes) = (
            GroupId::from_name(group),
            queue.to_owned(),
            payload.to_vec(),
        );
        self.while_full(move |engine, now| engine.node.queue_send(now, g, &q, &bytes))
            .await?
            .map_err(|e| ChannelError::from_send(e, None, payload.len(), group))
    }

    /// Runs a messaging command on the task, again every millisecond for
    /// up to five seconds while the membership's message storage is full
    /// (messages in flight not yet acknowledged); returns the last outcome.
    async fn while_full<T, F>(
        &self,
        command: F,
    ) -> Result<Result<T, blaze_membership::SendError>, ChannelError>
    where
        T: Send + 'static,
        F: Fn(&mut Engine, blaze_node::Instant) -> Result<T, blaze_membership::SendError>
            + Send
            + Sync
            + 'static,
    {
        use blaze_membership::SendError as E;
        let command = std::sync::Arc::new(command);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let c = std::sync::Arc::clone(&command);
            let r = self
                .runner()?
                .call(move |engine: &mut Engine, _: &mut Hub, now| c(engine, now))
                .await?;
            match r {
                Err(E::StorageFull | E::TooManyPending)
                    if tokio::time::Instant::now() < deadline =>
                {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                other => {
                    if let Err(e) = &other {
                        tracing::debug!("messaging command refused: {e}");
                    }
                    return Ok(other);
                }
            }
        }
    }
}

enum Target {
    Member(MemberId),
    Group(String),
}

fn check_direct(payload: &[u8]) -> Result<(), ChannelError> {
    if payload.len() > MAX_DIRECT_PAYLOAD {
        return Err(ChannelError::PayloadTooLarge {
            len: payload.len(),
            max: MAX_DIRECT_PAYLOAD,
        });
    }
    Ok(())
}
