//! The protocol modes of the benchmark: the same cases as `raw`, through
//! Blaze channels (a member per process, the topic carried best effort or
//! reliably).
//!
//! Messages up to [`RECORD_CAPACITY`] bytes take the zero-allocation path
//! (a [`Publisher`] and an [`Inbox`]); larger ones the owned-message path
//! (`publish_batch` and a [`Subscription`]).

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use blaze_std::{
    Channel, ChannelConfig, GroupChannel, Inbox, Publisher, RECORD_CAPACITY, Subscription, TopicQos,
};

use crate::latency::Latency;
use crate::os::{Whom, cpu_time, monotonic_ns};
use crate::raw::{Endpoint, PeerId, ReceiverReport, SendPlan, SenderReport, Tally, end_of, seq_of};
use crate::stamp::{HEADER_LEN, Stamp};

/// The group every benchmark member joins.
const GROUP: &str = "bench";
/// The topic the sender publishes on.
const TOPIC: &str = "bench";
/// The topic ping-pong answers come back on.
const PONG: &str = "pong";
/// Messages handed to the channel per step.
const BATCH: usize = 256;
/// Bytes handed to the channel per step, at most (for large messages).
const BATCH_BYTES: usize = 256 * 1024;

fn config(
    endpoint: &Endpoint,
    name: &str,
    qos: TopicQos,
    busy_poll: Duration,
) -> io::Result<ChannelConfig> {
    ChannelConfig::builder()
        .name(name)
        .busy_poll(busy_poll)
        // On loopback every process shares the host; across network
        // namespaces each has its own, as the raw sender (which closes its
        // group socket) does not hear its own datagrams either.
        .multicast_loop(endpoint.interface.is_loopback())
        .group(endpoint.group)
        .interface(endpoint.interface)
        .join(GROUP)
        .topic(TOPIC, qos)
        .topic(PONG, qos)
        .build()
        .map_err(io::Error::other)
}

fn runtime() -> io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

fn channel_error(e: blaze_std::ChannelError) -> io::Error {
    io::Error::other(e.to_string())
}

/// Where a member reads a topic: an [`Inbox`] for messages that fit a
/// record, else a [`Subscription`].
enum Feed {
    Inbox(Inbox, Box<[u8; RECORD_CAPACITY]>),
    Subscription(Subscription, Vec<u8>),
}

impl Feed {
    /// Subscribes to `topic` for messages of `size` bytes.
    async fn open(channel: &mut Channel, topic: &str, size: usize) -> io::Result<Feed> {
        Ok(if size <= RECORD_CAPACITY {
            Feed::Inbox(
                channel
                    .subscribe_inbox(topic)
                    .await
                    .map_err(channel_error)?,
                Box::new([0; RECORD_CAPACITY]),
            )
        } else {
            Feed::Subscription(
                channel.subscribe(topic).await.map_err(channel_error)?,
                Vec::new(),
            )
        })
    }

    /// The next message's payload; `None` once the channel is shut down.
    async fn next(&mut self) -> Option<&[u8]> {
        match self {
            Feed::Inbox(inbox, buf) => {
                let meta = inbox.recv_into(&mut buf[..]).await?;
                buf.get(..meta.len)
            }
            Feed::Subscription(messages, payload) => {
                *payload = messages.recv().await?.payload;
                Some(payload)
            }
        }
    }

    /// The next message's payload if one is waiting (an inbox's; a
    /// subscription is always awaited).
    fn try_next(&mut self) -> Option<&[u8]> {
        match self {
            Feed::Inbox(inbox, buf) => {
                let meta = inbox.try_recv_into(&mut buf[..])?;
                buf.get(..meta.len)
            }
            Feed::Subscription(..) => None,
        }
    }

    /// Messages dropped because the reader fell behind.
    fn dropped(&self) -> u64 {
        match self {
            Feed::Inbox(inbox, _) => inbox.dropped() + inbox.oversized(),
            Feed::Subscription(messages, _) => messages.dropped(),
        }
    }
}

/// How a member publishes on a topic: a [`Publisher`] for messages that
/// fit a record, else batches of owned messages.
enum Sink {
    Publisher(Publisher),
    Batches,
}

impl Sink {
    async fn open(channel: &Channel, topic: &str, size: usize) -> io::Result<Sink> {
        Ok(if size <= RECORD_CAPACITY {
            Sink::Publisher(
                channel
                    .publisher_in(GROUP, topic)
                    .await
                    .map_err(channel_error)?,
            )
        } else {
            Sink::Batches
        })
    }

    /// Publishes `n` messages of `size` bytes, the `i`-th stamped by
    /// `stamp(i, buf)`; waits while the send window is full.
    async fn publish(
        &mut self,
        channel: &Channel,
        topic: &str,
        size: usize,
        n: u64,
        mut stamp: impl FnMut(u64, &mut [u8]),
    ) -> io::Result<()> {
        match self {
            Sink::Publisher(publisher) => {
                let mut buf = [0u8; RECORD_CAPACITY];
                let buf = buf.get_mut(..size).unwrap_or_default();
                for i in 0..n {
                    stamp(i, buf);
                    // A window that stays full for long is not an error
                    // here: keep waiting until the run's time is up.
                    loop {
                        match publisher.publish(buf).await {
                            Err(blaze_std::ChannelError::Backpressure) => continue,
                            other => break other.map_err(channel_error)?,
                        }
                    }
                }
                Ok(())
            }
            Sink::Batches => {
                let batch: Vec<Vec<u8>> = (0..n)
                    .map(|i| {
                        let mut buf = vec![0u8; size];
                        stamp(i, &mut buf);
                        buf
                    })
                    .collect();
                channel
                    .publish_batch(GROUP, topic, batch)
                    .await
                    .map_err(channel_error)
            }
        }
    }

    /// Waits until everything published has been taken by the channel, so
    /// that what is sent next through the channel comes after it.
    async fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::Publisher(publisher) => publisher.flush().await.map_err(channel_error),
            Sink::Batches => Ok(()),
        }
    }
}

/// Starts a member and waits until the group has `members` members.
async fn member(
    endpoint: &Endpoint,
    name: &str,
    qos: TopicQos,
    members: usize,
    limit: Duration,
) -> io::Result<GroupChannel> {
    let mut channel = GroupChannel::new(config(endpoint, name, qos, Duration::ZERO)?);
    channel.start().await.map_err(channel_error)?;
    channel
        .wait_for_members(GROUP, limit, |m| m.len() >= members)
        .await
        .map_err(|e| io::Error::other(format!("the group did not form: {e}")))?;
    Ok(channel)
}

/// Publishes the plan's messages, then the end marker. `members` is the
/// group's size to wait for (sender and receivers).
pub(crate) fn send(
    endpoint: &Endpoint,
    plan: &SendPlan,
    qos: TopicQos,
    members: usize,
    progress: &AtomicU64,
) -> io::Result<SenderReport> {
    runtime()?.block_on(async {
        let channel = member(endpoint, "bench-tx", qos, members, Duration::from_secs(10)).await?;
        // Let the receivers install the full view too.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let cpu_before = cpu_time(Whom::Process);
        let mut report = publish(&channel, plan, 0, progress).await?;
        report.cpu_us = cpu_time(Whom::Process).since(cpu_before).total_micros();
        let mut channel = channel;
        // Linger so that repairs of the last messages can be served.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let _ = channel.shutdown().await;
        Ok(report)
    })
}

/// Publishes the plan's messages as sender `index` (see [`seq_of`]), then
/// its end marker.
async fn publish(
    channel: &Channel,
    plan: &SendPlan,
    index: u16,
    progress: &AtomicU64,
) -> io::Result<SenderReport> {
    let size = plan.size.max(HEADER_LEN);
    let mut sink = Sink::open(channel, TOPIC, size).await?;
    let start = Instant::now();
    let mut report = SenderReport::default();
    let mut next = 0u64;
    let per_batch = (BATCH_BYTES / size).clamp(1, BATCH) as u64;
    while start.elapsed() < plan.duration && next < plan.count {
        let due = match plan.rate {
            Some(rate) => ((start.elapsed().as_secs_f64() * rate) as u64 + 1).min(plan.count),
            None => plan.count,
        };
        if next >= due {
            if let Some(rate) = plan.rate {
                let at = Duration::from_secs_f64(next as f64 / rate);
                tokio::time::sleep(at.saturating_sub(start.elapsed())).await;
            }
            continue;
        }
        let n = (due - next).min(per_batch);
        sink.publish(channel, TOPIC, size, n, |i, buf| {
            Stamp::now(plan.run, seq_of(index, next + i)).write(buf);
        })
        .await?;
        next += n;
        report.sent = next;
        progress.store(next, Ordering::Relaxed);
    }
    sink.flush().await?;
    report.elapsed_s = start.elapsed().as_secs_f64();
    end(channel, plan.run, index).await;
    Ok(report)
}

/// The end marker, a few times over.
async fn end(channel: &Channel, run: u32, index: u16) {
    let mut buf = [0u8; HEADER_LEN];
    for _ in 0..3 {
        Stamp::now(run, end_of(index)).write(&mut buf);
        let _ = channel.publish_in(GROUP, TOPIC, &buf).await;
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Messages of a burst timed with one clock read (see `deliver_into`).
const STAMP_EVERY: u32 = 16;

/// Delivers `messages` into `tally` until it is done, `idle` without a
/// message, or `limit` in all.
async fn deliver_into(feed: &mut Feed, tally: &mut Tally, idle: Duration, limit: Duration) {
    let hard_stop = tokio::time::Instant::now() + limit;
    // Messages taken without waiting share a clock read, renewed every
    // `STAMP_EVERY` messages of a burst: a message is timed at most that
    // many takes early (a fraction of a microsecond each), and the
    // receiver saves a clock read per message.
    let mut burst = 0;
    let mut now = 0;
    while !tally.done() {
        // What is already waiting is counted without a timer or a clock
        // read of the runtime's per message.
        if let Some(payload) = feed.try_next() {
            if burst % STAMP_EVERY == 0 {
                now = monotonic_ns();
            }
            burst += 1;
            tally.record(payload, now);
            continue;
        }
        burst = 0;
        let wait = if tally.idle_so_far() { limit } else { idle };
        let until = (tokio::time::Instant::now() + wait).min(hard_stop);
        let Ok(Some(payload)) = tokio::time::timeout_at(until, feed.next()).await else {
            break;
        };
        tally.record(payload, monotonic_ns());
    }
}

/// A member that sends and receives (all-to-all): joins, waits for the
/// group's `senders` members, calls `ready`, waits for `go`, then
/// publishes the plan as sender `index` while it counts every sender's
/// messages (its own too, when the QoS delivers them back: total order).
pub(crate) fn peer(
    endpoint: &Endpoint,
    plan: &SendPlan,
    qos: TopicQos,
    PeerId { index, senders }: PeerId,
    idle: Duration,
    ready: impl FnOnce(),
    go: impl FnOnce() + Send + 'static,
) -> io::Result<ReceiverReport> {
    runtime()?.block_on(async {
        let name = format!("bench-peer-{index}");
        let mut channel = GroupChannel::new(config(endpoint, &name, qos, Duration::ZERO)?);
        let mut messages = Feed::open(&mut channel, TOPIC, plan.size.max(HEADER_LEN)).await?;
        channel.start().await.map_err(channel_error)?;
        channel
            .wait_for_members(GROUP, Duration::from_secs(10), |m| m.len() >= senders)
            .await
            .map_err(|e| io::Error::other(format!("the group did not form: {e}")))?;
        tokio::time::sleep(Duration::from_millis(300)).await;
        ready();
        tokio::task::spawn_blocking(go)
            .await
            .map_err(|e| io::Error::other(e.to_string()))?;
        let cpu_before = cpu_time(Whom::Process);
        let limit = plan.duration + Duration::from_secs(10);
        let mut tally = Tally::new(plan.run, Some(index), senders);
        let progress = AtomicU64::new(0);
        let (sent, ()) = tokio::join!(
            publish(&channel, plan, index, &progress),
            deliver_into(&mut messages, &mut tally, idle, limit)
        );
        let sent = sent?;
        let mut report = tally.finish(cpu_time(Whom::Process).since(cpu_before).total_micros());
        report.sent = sent.sent;
        report.send_s = sent.elapsed_s;
        report.queue_dropped = messages.dropped();
        // Linger so that repairs of the last messages can be served.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let _ = channel.shutdown().await;
        Ok(report)
    })
}

/// A receiving member: counts and times the run's messages until the end
/// marker, `idle` without a message, or `limit` in all.
pub(crate) fn receive(
    endpoint: &Endpoint,
    qos: TopicQos,
    plan: &SendPlan,
    idle: Duration,
    limit: Duration,
    ready: impl FnOnce(),
) -> io::Result<ReceiverReport> {
    runtime()?.block_on(async {
        let mut channel = GroupChannel::new(config(
            endpoint,
            &format!("bench-rx-{}", std::process::id()),
            qos,
            Duration::ZERO,
        )?);
        let mut messages = Feed::open(&mut channel, TOPIC, plan.size.max(HEADER_LEN)).await?;
        channel.start().await.map_err(channel_error)?;
        let cpu_before = cpu_time(Whom::Process);
        ready();
        let mut tally = Tally::new(plan.run, None, 1);
        deliver_into(&mut messages, &mut tally, idle, limit).await;
        let cpu_us = cpu_time(Whom::Process).since(cpu_before).total_micros();
        if let Ok(stats) = channel.node_stats().await {
            tally.report.datagrams = stats.datagrams.saturating_sub(stats.own);
        }
        tally.report.queue_dropped = messages.dropped();
        let _ = channel.shutdown().await;
        Ok(tally.finish(cpu_us))
    })
}

/// A member that publishes every ping of the run back on the pong topic:
/// from a handler run inline on the channel's task for messages that fit
/// a record (unless `task`), else from the application's task.
pub(crate) fn echo(
    endpoint: &Endpoint,
    qos: TopicQos,
    plan: &SendPlan,
    task: bool,
    idle: Duration,
    limit: Duration,
    ready: impl FnOnce(),
) -> io::Result<ReceiverReport> {
    let size = plan.size.max(HEADER_LEN);
    if !task && size <= RECORD_CAPACITY {
        return echo_inline(endpoint, qos, plan, idle, limit, ready);
    }
    runtime()?.block_on(async {
        let mut channel = GroupChannel::new(config(endpoint, "bench-echo", qos, Duration::ZERO)?);
        let mut pings = Feed::open(&mut channel, TOPIC, size).await?;
        channel.start().await.map_err(channel_error)?;
        let mut pongs = Sink::open(&channel, PONG, size).await?;
        let cpu_before = cpu_time(Whom::Process);
        ready();
        let mut report = ReceiverReport::default();
        let hard_stop = tokio::time::Instant::now() + limit;
        while !report.end_seen {
            let wait = if report.received == 0 { limit } else { idle };
            let until = (tokio::time::Instant::now() + wait).min(hard_stop);
            let Ok(Some(ping)) = tokio::time::timeout_at(until, pings.next()).await else {
                break;
            };
            match Stamp::read(ping) {
                Some(stamp) if stamp.run == plan.run && stamp.seq == end_of(0) => {
                    report.end_seen = true;
                }
                Some(stamp) if stamp.run == plan.run => {
                    report.received += 1;
                    report.bytes += ping.len() as u64;
                    let _ = pongs
                        .publish(&channel, PONG, ping.len(), 1, |_, buf| {
                            buf.copy_from_slice(ping);
                        })
                        .await;
                }
                _ => {}
            }
        }
        report.cpu_us = cpu_time(Whom::Process).since(cpu_before).total_micros();
        let _ = channel.shutdown().await;
        Ok(report)
    })
}

/// Ping-pong through the group: publish a ping, wait for its pong. For
/// messages that fit a record (unless `task`, or at an offered rate) the
/// pong is taken and the next ping published by a handler run inline on
/// the channel's task, else by the application's task.
pub(crate) fn ping(
    endpoint: &Endpoint,
    plan: &SendPlan,
    qos: TopicQos,
    task: bool,
    timeout: Duration,
    progress: &AtomicU64,
) -> io::Result<SenderReport> {
    let size = plan.size.max(HEADER_LEN);
    if !task && size <= RECORD_CAPACITY && plan.rate.is_none() {
        return ping_inline(endpoint, plan, qos, timeout, progress);
    }
    runtime()?.block_on(async {
        let mut channel = GroupChannel::new(config(endpoint, "bench-ping", qos, Duration::ZERO)?);
        let mut pongs = Feed::open(&mut channel, PONG, size).await?;
        channel.start().await.map_err(channel_error)?;
        channel
            .wait_for_members(GROUP, Duration::from_secs(10), |m| m.len() >= 2)
            .await
            .map_err(|e| io::Error::other(format!("the echo did not join: {e}")))?;
        let mut pings = Sink::open(&channel, TOPIC, size).await?;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let cpu_before = cpu_time(Whom::Process);
        let start = Instant::now();
        let mut report = SenderReport::default();
        let mut rtt = Latency::new();
        let mut seq = 0u64;
        while seq < plan.count && start.elapsed() < plan.duration {
            let sent_at = monotonic_ns();
            let stamp = Stamp {
                run: plan.run,
                seq,
                sent_ns: sent_at,
            };
            if pings
                .publish(&channel, TOPIC, size, 1, |_, buf| {
                    stamp.write(buf);
                })
                .await
                .is_err()
            {
                report.send_errors += 1;
                seq += 1;
                continue;
            }
            report.sent += 1;
            progress.store(report.sent, Ordering::Relaxed);
            let answered = tokio::time::timeout(timeout, async {
                while let Some(pong) = pongs.next().await {
                    if let Some(stamp) = Stamp::read(pong)
                        && stamp.run == plan.run
                        && stamp.seq == seq
                    {
                        return true;
                    }
                }
                false
            })
            .await
            .unwrap_or(false);
            if answered {
                rtt.record(monotonic_ns().saturating_sub(sent_at));
            } else {
                report.lost += 1;
            }
            seq += 1;
        }
        let _ = pings.flush().await;
        report.elapsed_s = start.elapsed().as_secs_f64();
        report.cpu_us = cpu_time(Whom::Process).since(cpu_before).total_micros();
        report.rtt = rtt.to_pairs();
        end(&channel, plan.run, 0).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        let _ = channel.shutdown().await;
        Ok(report)
    })
}

/// What the echo's inline handler counted.
#[derive(Debug, Default)]
struct EchoCount {
    received: AtomicU64,
    bytes: AtomicU64,
    /// Pongs refused by a full publisher ring.
    given_up: AtomicU64,
    end_seen: std::sync::atomic::AtomicBool,
}

/// The echo with a handler run inline on the channel's task: each ping is
/// published back from the handler and leaves in the channel's next turn.
fn echo_inline(
    endpoint: &Endpoint,
    qos: TopicQos,
    plan: &SendPlan,
    idle: Duration,
    limit: Duration,
    ready: impl FnOnce(),
) -> io::Result<ReceiverReport> {
    runtime()?.block_on(async {
        let mut channel = GroupChannel::new(config(endpoint, "bench-echo", qos, Duration::ZERO)?);
        channel.start().await.map_err(channel_error)?;
        let mut pongs = channel
            .publisher_in(GROUP, PONG)
            .await
            .map_err(channel_error)?;
        let count = Arc::new(EchoCount::default());
        let end = Arc::new(tokio::sync::Notify::new());
        let run = plan.run;
        let (seen, ended) = (count.clone(), end.clone());
        channel
            .subscribe_inline(TOPIC, move |ping| match Stamp::read(ping.payload) {
                Some(stamp) if stamp.run == run && stamp.seq == end_of(0) => {
                    seen.end_seen.store(true, Ordering::Release);
                    ended.notify_one();
                }
                Some(stamp) if stamp.run == run => {
                    seen.received.fetch_add(1, Ordering::Relaxed);
                    seen.bytes
                        .fetch_add(ping.payload.len() as u64, Ordering::Relaxed);
                    if pongs.try_publish(ping.payload).is_err() {
                        seen.given_up.fetch_add(1, Ordering::Relaxed);
                    }
                }
                _ => {}
            })
            .await
            .map_err(channel_error)?;
        let cpu_before = cpu_time(Whom::Process);
        ready();
        // The handler does the work: this task only watches for the end
        // marker, a pause of `idle` after the first ping, or `limit`.
        let hard_stop = tokio::time::Instant::now() + limit;
        let mut last = 0;
        while !count.end_seen.load(Ordering::Acquire) {
            let received = count.received.load(Ordering::Relaxed);
            if received > 0 && received == last {
                break;
            }
            last = received;
            let wait = if received == 0 { limit } else { idle };
            let until = (tokio::time::Instant::now() + wait).min(hard_stop);
            if tokio::time::timeout_at(until, end.notified())
                .await
                .is_err()
                && tokio::time::Instant::now() >= hard_stop
            {
                break;
            }
        }
        let report = ReceiverReport {
            received: count.received.load(Ordering::Relaxed),
            bytes: count.bytes.load(Ordering::Relaxed),
            end_seen: count.end_seen.load(Ordering::Acquire),
            queue_dropped: count.given_up.load(Ordering::Relaxed),
            cpu_us: cpu_time(Whom::Process).since(cpu_before).total_micros(),
            ..ReceiverReport::default()
        };
        let _ = channel.shutdown().await;
        Ok(report)
    })
}

/// The pinger's state, shared by its inline handler and its task.
struct Pinger {
    publisher: Publisher,
    buf: Vec<u8>,
    run: u32,
    /// The ping in flight and when it left.
    seq: u64,
    sent_at: u64,
    /// Whether the ping in flight was answered (none is in flight then).
    answered: bool,
    count: u64,
    start: Instant,
    duration: Duration,
    rtt: Latency,
    report: SenderReport,
    done: bool,
}

impl Pinger {
    /// Publishes the next ping, or ends the run once the plan is done.
    fn next(&mut self) {
        loop {
            if self.seq >= self.count || self.start.elapsed() >= self.duration {
                self.done = true;
                return;
            }
            self.sent_at = monotonic_ns();
            let stamp = Stamp {
                run: self.run,
                seq: self.seq,
                sent_ns: self.sent_at,
            };
            stamp.write(&mut self.buf);
            if self.publisher.try_publish(&self.buf).is_ok() {
                self.report.sent += 1;
                self.answered = false;
                return;
            }
            self.report.send_errors += 1;
            self.seq += 1;
        }
    }

    /// Locks the state shared with the handler.
    fn lock(p: &std::sync::Mutex<Pinger>) -> io::Result<std::sync::MutexGuard<'_, Pinger>> {
        p.lock()
            .map_err(|_| io::Error::other("the ping handler panicked"))
    }

    /// A pong: records the round trip of the ping in flight and sends the
    /// next.
    fn on_pong(&mut self, payload: &[u8]) {
        let now = monotonic_ns();
        let Some(stamp) = Stamp::read(payload) else {
            return;
        };
        if self.answered || stamp.run != self.run || stamp.seq != self.seq {
            return;
        }
        self.rtt.record(now.saturating_sub(self.sent_at));
        self.answered = true;
        self.seq += 1;
        self.next();
    }
}

/// Ping-pong with a handler run inline on the channel's task: the pong is
/// timed and the next ping published from the handler, so a round trip
/// takes no hop between tasks at either end. The task sends the first
/// ping and gives up a ping unanswered after `timeout`.
fn ping_inline(
    endpoint: &Endpoint,
    plan: &SendPlan,
    qos: TopicQos,
    timeout: Duration,
    progress: &AtomicU64,
) -> io::Result<SenderReport> {
    runtime()?.block_on(async {
        let mut channel = GroupChannel::new(config(endpoint, "bench-ping", qos, Duration::ZERO)?);
        channel.start().await.map_err(channel_error)?;
        channel
            .wait_for_members(GROUP, Duration::from_secs(10), |m| m.len() >= 2)
            .await
            .map_err(|e| io::Error::other(format!("the echo did not join: {e}")))?;
        let publisher = channel
            .publisher_in(GROUP, TOPIC)
            .await
            .map_err(channel_error)?;
        let pinger = Arc::new(std::sync::Mutex::new(Pinger {
            publisher,
            buf: vec![0; plan.size.max(HEADER_LEN)],
            run: plan.run,
            seq: 0,
            sent_at: 0,
            answered: true,
            count: plan.count,
            start: Instant::now(),
            duration: plan.duration,
            rtt: Latency::new(),
            report: SenderReport::default(),
            done: false,
        }));
        let done = Arc::new(tokio::sync::Notify::new());
        let (handler_pinger, handler_done) = (pinger.clone(), done.clone());
        channel
            .subscribe_inline(PONG, move |pong| {
                let Ok(mut p) = handler_pinger.lock() else {
                    return;
                };
                p.on_pong(pong.payload);
                if p.done {
                    handler_done.notify_one();
                }
            })
            .await
            .map_err(channel_error)?;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let cpu_before = cpu_time(Whom::Process);
        {
            let mut p = Pinger::lock(&pinger)?;
            p.start = Instant::now();
            p.next();
        }
        // The handler sends every ping after the first; this task steps
        // in only when a ping goes unanswered for `timeout`.
        let mut watched = u64::MAX;
        loop {
            let (seq, finished) = {
                let p = Pinger::lock(&pinger)?;
                progress.store(p.report.sent, Ordering::Relaxed);
                (p.seq, p.done)
            };
            if finished {
                break;
            }
            if seq == watched {
                let mut p = Pinger::lock(&pinger)?;
                if !p.answered && p.seq == seq {
                    p.report.lost += 1;
                    p.seq += 1;
                    p.next();
                }
            }
            watched = seq;
            let _ = tokio::time::timeout(timeout, done.notified()).await;
        }
        let mut report = {
            let mut p = Pinger::lock(&pinger)?;
            let mut report = std::mem::take(&mut p.report);
            report.elapsed_s = p.start.elapsed().as_secs_f64();
            report.rtt = p.rtt.to_pairs();
            report
        };
        report.cpu_us = cpu_time(Whom::Process).since(cpu_before).total_micros();
        end(&channel, plan.run, 0).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        let _ = channel.shutdown().await;
        Ok(report)
    })
}
