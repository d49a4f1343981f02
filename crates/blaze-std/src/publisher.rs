//! `Publisher`: publishing on one topic without allocating, through a
//! ring of fixed-capacity records that the channel's task drains.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::time::Duration;

use blaze_node::{GroupId, PublishError, Qos};
use tokio::sync::Notify;

use crate::record_ring::{HEADER_WORDS, RECORD_CAPACITY, RecordRing};
use crate::{ChannelError, DriverWaker};

/// Records a publisher's ring holds before [`Publisher::publish`] waits.
pub(crate) const PUBLISH_RING: usize = 1024;

/// What a publisher and the channel's task share.
#[derive(Debug)]
pub(crate) struct PublishShared {
    pub(crate) ring: RecordRing,
    /// The task took records (published or refused them).
    pub(crate) space: Notify,
    /// Records the task published.
    pub(crate) published: AtomicU64,
    /// Records the node refused (counted, then skipped).
    pub(crate) refused: AtomicU64,
    /// Why the last refused record was refused ([`Refusal`] as a code).
    pub(crate) last_refusal: AtomicU8,
    /// The channel's task is gone for good.
    pub(crate) closed: AtomicBool,
}

/// The task's end of a publisher: where its records go.
#[derive(Debug)]
pub(crate) struct PublisherEnd {
    pub(crate) group: GroupId,
    pub(crate) topic: String,
    pub(crate) shared: Arc<PublishShared>,
}

impl Drop for PublisherEnd {
    fn drop(&mut self) {
        self.shared.closed.store(true, Ordering::Release);
        self.shared.space.notify_one();
    }
}

impl PublisherEnd {
    /// Publishes the waiting records while the node takes them; a full
    /// window leaves the rest for a later turn. Returns whether the
    /// publisher is still in use (or has records left).
    pub(crate) fn drain(
        &self,
        now: blaze_node::Instant,
        node: &mut crate::StdNode,
        scratch: &mut [u8],
    ) -> bool {
        let ring = &self.shared.ring;
        let mut took = false;
        while let Some(header) = ring.peek(scratch, record_len) {
            let len = record_len(&header);
            let payload = scratch.get(..len).unwrap_or(&[]);
            match node.publish(now, self.group, &self.topic, payload) {
                Ok(()) => {
                    self.shared.published.fetch_add(1, Ordering::Release);
                }
                Err(PublishError::WouldBlock) => break,
                Err(e) => {
                    self.shared
                        .last_refusal
                        .store(Refusal::from(e) as u8, Ordering::Relaxed);
                    self.shared.refused.fetch_add(1, Ordering::Release);
                }
            }
            ring.advance();
            took = true;
        }
        if took {
            self.shared.space.notify_one();
        }
        Arc::strong_count(&self.shared) > 1 || ring.len() > 0
    }

    /// Records wait in the ring (the node refused the first with
    /// `WouldBlock`, or the publisher queued it after the last drain).
    pub(crate) fn has_queued(&self) -> bool {
        self.shared.ring.len() > 0
    }
}

fn record_len(header: &[u64; HEADER_WORDS]) -> usize {
    usize::try_from(header[0]).unwrap_or(0)
}

/// Why the node refused a record (kept as a code in an atomic).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Refusal {
    None = 0,
    NotJoined = 1,
    BestEffortUnavailable = 2,
    ReliableUnavailable = 3,
    FecUnavailable = 4,
    AgreedUnavailable = 5,
    SafeUnavailable = 6,
    CustomUnavailable = 7,
    TopicTooLong = 8,
    TooLarge = 9,
    ReservedTopic = 10,
}

impl From<PublishError> for Refusal {
    fn from(e: PublishError) -> Self {
        match e {
            PublishError::NotJoined => Refusal::NotJoined,
            PublishError::QosUnavailable(q) => match q {
                Qos::BestEffort => Refusal::BestEffortUnavailable,
                Qos::Reliable => Refusal::ReliableUnavailable,
                Qos::ReliableFec => Refusal::FecUnavailable,
                Qos::Agreed => Refusal::AgreedUnavailable,
                Qos::Safe => Refusal::SafeUnavailable,
                _ => Refusal::CustomUnavailable,
            },
            PublishError::TopicTooLong => Refusal::TopicTooLong,
            PublishError::ReservedTopic => Refusal::ReservedTopic,
            _ => Refusal::TooLarge,
        }
    }
}

/// A handle that publishes on one topic of one group without allocating:
/// the zero-allocation counterpart of [`Channel::publish`](crate::Channel::publish).
///
/// [`publish`](Publisher::publish) copies the payload (up to
/// [`RECORD_CAPACITY`] bytes) into a bounded lock-free ring of
/// fixed-capacity records (1024 of them) and wakes the channel's task,
/// which hands the records to the node in order at its next turn. It
/// returns once the record is queued, without waiting for the task: the
/// outcome is reported in bulk, by [`published`](Publisher::published)
/// and [`refused`](Publisher::refused) (with the reason of the last
/// refusal in [`last_refusal`](Publisher::last_refusal)), and
/// [`flush`](Publisher::flush) waits until the task took every queued
/// record. A full send window holds records back in the ring (nothing is
/// dropped); a full ring makes `publish` wait.
///
/// Made by [`Channel::publisher`](crate::Channel::publisher). Records
/// queued while the channel is stopped go out once it is started again.
/// In steady state neither side allocates, and neither takes a lock.
///
/// ```
/// use std::time::Duration;
/// use blaze_std::{Channel, ChannelConfig, RECORD_CAPACITY};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let config = |name: &str| {
///     ChannelConfig::builder()
///         .name(name)
///         .group("239.255.42.16:47016".parse().unwrap())
///         .join("doc-publisher")
///         .build()
/// };
/// let mut alice = Channel::new(config("alice")?);
/// let mut bob = Channel::new(config("bob")?);
/// let mut inbox = bob.subscribe_inbox("ticks").await?;
/// alice.start().await?;
/// bob.start().await?;
/// let mut ticks = alice.publisher("ticks").await?;
/// let mut buf = [0u8; RECORD_CAPACITY];
/// // Publish until bob has seen alice join.
/// let meta = loop {
///     ticks.publish(b"tick").await?;
///     if let Ok(Some(meta)) =
///         tokio::time::timeout(Duration::from_millis(100), inbox.recv_into(&mut buf)).await
///     {
///         break meta;
///     }
/// };
/// assert_eq!(&buf[..meta.len], b"tick");
/// assert_eq!(meta.sender, alice.id());
/// ticks.flush().await?;
/// assert_eq!(ticks.refused(), 0);
/// alice.shutdown().await?;
/// bob.shutdown().await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Publisher {
    shared: Arc<PublishShared>,
    waker: DriverWaker,
    group: String,
    queued: u64,
}

/// How long `publish` and `flush` wait for the task to take records.
const WAIT_LIMIT: Duration = Duration::from_secs(5);

impl Publisher {
    pub(crate) fn new(group: &str, waker: DriverWaker) -> (Self, Arc<PublishShared>) {
        let shared = Arc::new(PublishShared {
            ring: RecordRing::new(PUBLISH_RING),
            space: Notify::new(),
            published: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            last_refusal: AtomicU8::new(Refusal::None as u8),
            closed: AtomicBool::new(false),
        });
        let publisher = Publisher {
            shared: Arc::clone(&shared),
            waker,
            group: group.to_owned(),
            queued: 0,
        };
        (publisher, shared)
    }

    /// Queues `payload` for the topic without allocating; waits (up to
    /// 5 s) while the ring is full.
    ///
    /// # Errors
    ///
    /// [`ChannelError::PayloadTooLarge`] over [`RECORD_CAPACITY`] bytes,
    /// [`ChannelError::Backpressure`] when the ring stayed full,
    /// [`ChannelError::Closed`] once the channel is shut down; nothing was
    /// queued.
    pub async fn publish(&mut self, payload: &[u8]) -> Result<(), ChannelError> {
        let mut deadline = None;
        loop {
            match self.try_publish(payload) {
                Err(ChannelError::Backpressure) => {}
                other => return other,
            }
            let deadline =
                *deadline.get_or_insert_with(|| tokio::time::Instant::now() + WAIT_LIMIT);
            if tokio::time::timeout_at(deadline, self.shared.space.notified())
                .await
                .is_err()
            {
                return Err(ChannelError::Backpressure);
            }
        }
    }

    /// Queues `payload` if the ring has room, without waiting or
    /// allocating.
    ///
    /// # Errors
    ///
    /// As [`publish`](Publisher::publish); [`ChannelError::Backpressure`]
    /// at once when the ring is full.
    pub fn try_publish(&mut self, payload: &[u8]) -> Result<(), ChannelError> {
        if payload.len() > RECORD_CAPACITY {
            return Err(ChannelError::PayloadTooLarge {
                len: payload.len(),
                max: RECORD_CAPACITY,
            });
        }
        if self.shared.closed.load(Ordering::Acquire) {
            return Err(ChannelError::Closed);
        }
        if !self
            .shared
            .ring
            .push([payload.len() as u64, 0, 0, 0], payload)
        {
            return Err(ChannelError::Backpressure);
        }
        self.queued += 1;
        self.waker.wake();
        Ok(())
    }

    /// Waits (up to 5 s) until the channel's task has taken every record
    /// queued so far (each published or refused).
    ///
    /// # Errors
    ///
    /// [`ChannelError::Backpressure`] when records are still waiting
    /// after 5 s (a full send window, or a stopped channel),
    /// [`ChannelError::Closed`] once the channel is shut down.
    pub async fn flush(&mut self) -> Result<(), ChannelError> {
        let deadline = tokio::time::Instant::now() + WAIT_LIMIT;
        loop {
            if self.published() + self.refused() >= self.queued {
                return Ok(());
            }
            if self.shared.closed.load(Ordering::Acquire) {
                return Err(ChannelError::Closed);
            }
            if tokio::time::timeout_at(deadline, self.shared.space.notified())
                .await
                .is_err()
            {
                return Err(ChannelError::Backpressure);
            }
        }
    }

    /// Records queued by this publisher.
    pub fn queued(&self) -> u64 {
        self.queued
    }

    /// Records the node accepted (sent, or held by the send window).
    pub fn published(&self) -> u64 {
        self.shared.published.load(Ordering::Acquire)
    }

    /// Records the node refused (skipped); see
    /// [`last_refusal`](Publisher::last_refusal).
    pub fn refused(&self) -> u64 {
        self.shared.refused.load(Ordering::Acquire)
    }

    /// Why the last refused record was refused, if any was: not in the
    /// group, the topic's quality of service unavailable, ... (allocates
    /// the error's text; for the cold path).
    pub fn last_refusal(&self) -> Option<ChannelError> {
        let code = self.shared.last_refusal.load(Ordering::Relaxed);
        let unavailable = |q| Some(ChannelError::QosUnavailable(q));
        match code {
            c if c == Refusal::NotJoined as u8 => {
                Some(ChannelError::NotInGroup(self.group.clone()))
            }
            c if c == Refusal::BestEffortUnavailable as u8 => unavailable(Qos::BestEffort),
            c if c == Refusal::ReliableUnavailable as u8 => unavailable(Qos::Reliable),
            c if c == Refusal::FecUnavailable as u8 => unavailable(Qos::ReliableFec),
            c if c == Refusal::AgreedUnavailable as u8 => unavailable(Qos::Agreed),
            c if c == Refusal::SafeUnavailable as u8 => unavailable(Qos::Safe),
            c if c == Refusal::CustomUnavailable as u8 => unavailable(Qos::Custom),
            c if c == Refusal::TopicTooLong as u8 => Some(ChannelError::BadName {
                what: "topic",
                max: blaze_node::MAX_TOPIC_LEN,
            }),
            c if c == Refusal::TooLarge as u8 => Some(ChannelError::PayloadTooLarge {
                len: RECORD_CAPACITY,
                max: RECORD_CAPACITY,
            }),
            _ => None,
        }
    }
}
