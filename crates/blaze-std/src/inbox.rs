//! `Inbox`: receiving the messages of one topic without allocating,
//! through a ring of fixed-capacity records that the channel's task fills.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use blaze_node::{GroupId, MemberId, Qos};
use tokio::sync::Notify;

use crate::record_ring::{HEADER_WORDS, RECORD_CAPACITY, RecordRing};
use crate::room::Room;
use crate::{DriverWaker, MessageMeta};

/// Records an inbox's ring holds; while it is full, the channel's task
/// holds the node's events back.
pub(crate) const INBOX_RING: usize = 1024;

/// What an inbox and the channel's task share.
#[derive(Debug)]
pub(crate) struct InboxShared {
    ring: RecordRing,
    /// The task pushed a record (or closed).
    ready: Notify,
    /// Wakes the channel's task when a record is taken from a full ring.
    room: Room,
    /// Messages dropped: the ring was full.
    dropped: AtomicU64,
    /// Messages dropped: over [`RECORD_CAPACITY`] bytes.
    oversized: AtomicU64,
    /// The channel's task is gone for good.
    closed: AtomicBool,
}

/// The task's end of an inbox.
#[derive(Debug)]
pub(crate) struct InboxEnd {
    shared: Arc<InboxShared>,
}

impl Drop for InboxEnd {
    fn drop(&mut self) {
        self.shared.closed.store(true, Ordering::Release);
        self.shared.ready.notify_one();
    }
}

impl InboxEnd {
    /// Whether the ring can take another record (or the inbox is gone);
    /// when it cannot, the reader wakes `task` once it takes one.
    pub(crate) fn has_room(&self, task: &DriverWaker) -> bool {
        let shared = &*self.shared;
        if shared.ring.has_room() || Arc::strong_count(&self.shared) == 1 {
            return true;
        }
        shared.room.want(task);
        shared.ring.has_room()
    }

    /// Whether the inbox is dropped (for good).
    pub(crate) fn is_gone(&self) -> bool {
        Arc::strong_count(&self.shared) == 1
    }

    /// Offers a message: [`Offer::Gone`] once the inbox is dropped, else
    /// whether the ring is full after it.
    pub(crate) fn offer(
        &self,
        group: GroupId,
        sender: MemberId,
        qos: Qos,
        payload: &[u8],
    ) -> Offer {
        if self.is_gone() {
            return Offer::Gone;
        }
        if payload.len() > RECORD_CAPACITY {
            self.shared.oversized.fetch_add(1, Ordering::Relaxed);
            return Offer::Kept { full: false };
        }
        let sender = sender.as_u128();
        let header = [
            payload.len() as u64 | u64::from(qos_code(qos)) << 32,
            group.raw(),
            (sender >> 64) as u64,
            sender as u64,
        ];
        if self.shared.ring.push(header, payload) {
            self.shared.ready.notify_one();
        } else {
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
        }
        Offer::Kept {
            full: !self.shared.ring.has_room(),
        }
    }
}

/// What became of a message offered to an inbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Offer {
    /// The inbox is dropped: forget it.
    Gone,
    /// Queued (or counted as dropped); `full`: the ring has no room left.
    Kept { full: bool },
}

fn qos_code(qos: Qos) -> u8 {
    match qos {
        Qos::BestEffort => 0,
        Qos::Reliable => 1,
        Qos::ReliableFec => 2,
        Qos::Agreed => 3,
        Qos::Safe => 4,
        _ => 5,
    }
}

fn qos_of(code: u64) -> Qos {
    match code {
        0 => Qos::BestEffort,
        1 => Qos::Reliable,
        2 => Qos::ReliableFec,
        3 => Qos::Agreed,
        4 => Qos::Safe,
        _ => Qos::Custom,
    }
}

fn record_len(header: &[u64; HEADER_WORDS]) -> usize {
    usize::try_from(header[0] & 0xffff_ffff).unwrap_or(0)
}

/// The messages of one topic, received without allocating: the
/// zero-allocation counterpart of [`Subscription`](crate::Subscription).
///
/// The channel's task copies each message (up to [`RECORD_CAPACITY`]
/// bytes) into a bounded lock-free ring of fixed-capacity records (1024 of
/// them); [`recv_into`](Inbox::recv_into) copies the oldest into the
/// caller's buffer and returns its [`MessageMeta`]. While the ring is
/// full, the task leaves the node's messages in the node (its reliable
/// windows then hold the senders back, as for any slow receiver) until
/// this reader takes a record, which wakes the task: a slow reader slows
/// its senders instead of losing messages. A message over the record
/// capacity is dropped and counted ([`oversized`](Inbox::oversized); use
/// a [`Subscription`](crate::Subscription) for large messages). In steady
/// state neither side allocates, and neither takes a lock.
///
/// The ring itself is lock-free. Waking a parked reader goes through
/// tokio's `Notify`, which takes its internal waiter lock (uncontended)
/// when a task is actually parked; with busy polling configured
/// ([`ChannelConfig::busy_poll`](crate::ChannelConfig::busy_poll)),
/// [`recv_into`](Inbox::recv_into) first polls the ring for that long,
/// yielding to the runtime between tries, so a busy stream is read
/// without parking (and without that lock).
///
/// Made by [`Channel::subscribe_inbox`](crate::Channel::subscribe_inbox);
/// see [`Publisher`](crate::Publisher) for an example.
#[derive(Debug)]
pub struct Inbox {
    shared: Arc<InboxShared>,
    /// Busy polling before parking.
    spin: Option<Duration>,
}

impl Inbox {
    pub(crate) fn new(spin: Option<Duration>) -> (Self, InboxEnd) {
        let shared = Arc::new(InboxShared {
            ring: RecordRing::new(INBOX_RING),
            room: Room::default(),
            ready: Notify::new(),
            dropped: AtomicU64::new(0),
            oversized: AtomicU64::new(0),
            closed: AtomicBool::new(false),
        });
        let end = InboxEnd {
            shared: Arc::clone(&shared),
        };
        (Inbox { shared, spin }, end)
    }

    /// Waits for the next message and copies it into `buf` (its first
    /// `buf.len()` bytes if it is longer: give a buffer of
    /// [`RECORD_CAPACITY`] bytes to get every message whole). `None` once
    /// the channel is shut down and every message was read.
    pub async fn recv_into(&mut self, buf: &mut [u8]) -> Option<MessageMeta> {
        if let Some(budget) = self.spin {
            let start = std::time::Instant::now();
            loop {
                if let Some(meta) = self.try_recv_into(buf) {
                    return Some(meta);
                }
                if self.shared.closed.load(Ordering::Acquire) || start.elapsed() >= budget {
                    break;
                }
                tokio::task::yield_now().await;
            }
        }
        loop {
            if let Some(meta) = self.try_recv_into(buf) {
                return Some(meta);
            }
            if self.shared.closed.load(Ordering::Acquire) {
                return self.try_recv_into(buf);
            }
            self.shared.ready.notified().await;
        }
    }

    /// The next message if one is waiting, copied into `buf` as by
    /// [`recv_into`](Inbox::recv_into).
    pub fn try_recv_into(&mut self, buf: &mut [u8]) -> Option<MessageMeta> {
        let header = self.shared.ring.pop(buf, record_len)?;
        self.shared.room.freed();
        Some(MessageMeta {
            group: GroupId::from_raw(header[1]),
            sender: MemberId::from_u128(u128::from(header[2]) << 64 | u128::from(header[3])),
            qos: qos_of(header[0] >> 32),
            len: record_len(&header),
        })
    }

    /// Messages waiting.
    pub fn len(&self) -> usize {
        self.shared.ring.len()
    }

    /// Whether no message waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Messages dropped because the ring was full. The channel's task
    /// holds messages back while the ring is full (a reliable topic's
    /// senders then wait for this reader), so this counts only what a
    /// full ring met despite that: zero in normal operation.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// Messages dropped because they were over [`RECORD_CAPACITY`] bytes.
    pub fn oversized(&self) -> u64 {
        self.shared.oversized.load(Ordering::Relaxed)
    }
}
