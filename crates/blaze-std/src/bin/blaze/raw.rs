//! The `raw` benchmark mode: plain UDP datagrams on the group, with the
//! same sockets (blaze-std's `Sockets`, same options) and the same batched
//! I/O (`SendBatch`/`RecvBatch`: `sendmmsg`, `recvmmsg`, segmentation
//! offload) as a node, and no protocol at all. It is the ceiling the
//! protocol modes are compared with.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use blaze_std::{IoMode, RecvBatch, SendBatch, SocketConfig, Sockets};
use blaze_wire::{Destination, Transmit};
use serde::{Deserialize, Serialize};
use tokio::io::Interest;

use crate::latency::Latency;
use crate::os::{Whom, cpu_time, monotonic_ns};
use crate::stamp::{HEADER_LEN, Stamp};

/// The largest datagram a benchmark receiver accepts.
const MAX_DATAGRAM: usize = 65_536;
/// The largest UDP payload: raw messages larger than this are sent as
/// datagrams of this size (the IP layer fragments them on links with a
/// smaller MTU).
pub(crate) const MAX_UDP: usize = 65_507;

/// Sequence numbers carry their sender's index in the bits from here up,
/// so that members that all send can tell whose message is whose.
const SENDER_SHIFT: u32 = 40;
/// End markers have all these bits set; the low 16 bits are the sender.
const END_MASK: u64 = 0xFFFF_FFFF_FFFF_0000;

/// The sequence number of message `n` of sender `index`.
pub(crate) fn seq_of(index: u16, n: u64) -> u64 {
    (u64::from(index) << SENDER_SHIFT) | n
}

/// The end marker of sender `index`.
pub(crate) fn end_of(index: u16) -> u64 {
    END_MASK | u64::from(index)
}

/// What one member counted: deliveries from the other senders (count,
/// bytes, one-way latency, first and last time) and, when the member also
/// sends, its own messages delivered back to it (self-delivery latency).
/// Ends when the end markers of `senders` senders were seen.
pub(crate) struct Tally {
    run: u32,
    me: Option<u16>,
    senders: usize,
    ends: Vec<u64>,
    latency: Latency,
    self_latency: Latency,
    pub(crate) report: ReceiverReport,
}

impl Tally {
    pub(crate) fn new(run: u32, me: Option<u16>, senders: usize) -> Self {
        Tally {
            run,
            me,
            senders,
            ends: Vec::new(),
            latency: Latency::new(),
            self_latency: Latency::new(),
            report: ReceiverReport::default(),
        }
    }

    /// Counts one delivered message received at `now` (monotonic ns).
    pub(crate) fn record(&mut self, data: &[u8], now: u64) {
        let Some(stamp) = Stamp::read(data) else {
            return;
        };
        if stamp.run != self.run {
            return;
        }
        if stamp.seq & END_MASK == END_MASK {
            if !self.ends.contains(&stamp.seq) {
                self.ends.push(stamp.seq);
            }
            self.report.end_seen = self.ends.len() >= self.senders;
            return;
        }
        let sender = u16::try_from(stamp.seq >> SENDER_SHIFT).ok();
        let took = now.saturating_sub(stamp.sent_ns);
        if self.me.is_some() && sender == self.me {
            self.report.self_received += 1;
            self.self_latency.record(took);
            return;
        }
        let r = &mut self.report;
        if r.received == 0 {
            r.first_ns = now;
        }
        r.last_ns = now;
        r.received += 1;
        r.bytes += data.len() as u64;
        self.latency.record(took);
    }

    /// True once every sender's end marker was seen.
    pub(crate) fn done(&self) -> bool {
        self.report.end_seen
    }

    /// Nothing counted yet (the first wait is the longest).
    pub(crate) fn idle_so_far(&self) -> bool {
        self.report.received == 0 && self.report.self_received == 0
    }

    /// The report, with the histograms and `cpu_us`.
    pub(crate) fn finish(mut self, cpu_us: u64) -> ReceiverReport {
        self.report.cpu_us = cpu_us;
        self.report.latency = self.latency.to_pairs();
        self.report.self_latency = self.self_latency.to_pairs();
        self.report
    }
}

/// Where and how datagrams move.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Endpoint {
    pub(crate) group: SocketAddrV4,
    pub(crate) interface: Ipv4Addr,
    pub(crate) io_mode: IoMode,
    pub(crate) batch: usize,
}

impl Endpoint {
    fn config(&self) -> SocketConfig {
        let mut config = SocketConfig::multicast(self.group);
        config.interface = self.interface;
        config
    }

    /// The sending socket: a node's unicast socket with its multicast
    /// options (interface, loop, TTL, buffers). The group socket is
    /// closed, so the sender does not receive its own datagrams.
    fn sender_socket(&self) -> io::Result<UdpSocket> {
        let sockets = Sockets::bind(&self.config()).map_err(io::Error::other)?;
        let (unicast, _group, _targets) = sockets.into_parts();
        Ok(unicast)
    }
}

/// What a sender is to send.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SendPlan {
    pub(crate) run: u32,
    pub(crate) size: usize,
    /// At most this many messages.
    pub(crate) count: u64,
    /// For at most this long.
    pub(crate) duration: Duration,
    /// Offered rate in messages per second; `None` sends as fast as
    /// possible.
    pub(crate) rate: Option<f64>,
}

/// What the sending side measured.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct SenderReport {
    pub(crate) sent: u64,
    pub(crate) send_errors: u64,
    pub(crate) elapsed_s: f64,
    /// CPU time (user + system) of the sending thread, µs.
    pub(crate) cpu_us: u64,
    /// Round trips measured (ping-pong only), in (ns, count) pairs.
    pub(crate) rtt: Vec<(u64, u64)>,
    /// Pings never answered (ping-pong only).
    pub(crate) lost: u64,
}

/// What one receiver measured.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct ReceiverReport {
    pub(crate) received: u64,
    pub(crate) bytes: u64,
    /// Monotonic ns of the first and last message received.
    pub(crate) first_ns: u64,
    pub(crate) last_ns: u64,
    /// CPU time (user + system) of the receiving process, µs.
    pub(crate) cpu_us: u64,
    /// The sender's end marker arrived (else the receiver stopped idle).
    pub(crate) end_seen: bool,
    /// One-way latencies in (ns, count) pairs.
    pub(crate) latency: Vec<(u64, u64)>,
    /// Own messages delivered back (members that also send).
    pub(crate) self_received: u64,
    /// Their latencies, send to self-delivery, in (ns, count) pairs.
    pub(crate) self_latency: Vec<(u64, u64)>,
    /// Datagrams the member's node took in (protocol modes; membership
    /// and heartbeats included), for messages per datagram.
    pub(crate) datagrams: u64,
    /// Messages the node delivered that the member's subscription queue
    /// had no room for (dropped by the channel, not lost by the protocol).
    pub(crate) queue_dropped: u64,
    /// Messages this member sent (members that also send).
    pub(crate) sent: u64,
    /// Seconds this member sent for.
    pub(crate) send_s: f64,
}

/// Sends the plan's messages to the group, as fast as possible or at the
/// offered rate, then the end marker. `progress` counts messages sent.
pub(crate) fn send(
    endpoint: &Endpoint,
    plan: &SendPlan,
    progress: &AtomicU64,
) -> io::Result<SenderReport> {
    send_as(endpoint, plan, 0, progress)
}

/// [`send`] as sender `index` (see [`seq_of`]).
pub(crate) fn send_as(
    endpoint: &Endpoint,
    plan: &SendPlan,
    index: u16,
    progress: &AtomicU64,
) -> io::Result<SenderReport> {
    let socket = endpoint.sender_socket()?;
    let targets = [SocketAddr::V4(endpoint.group)];
    let size = plan.size.clamp(HEADER_LEN, MAX_UDP);
    let mut batch = SendBatch::new(endpoint.batch, size);
    let cpu_before = cpu_time(Whom::Thread);
    let start = Instant::now();
    let mut report = SenderReport::default();
    let mut written = 0u64;
    loop {
        let elapsed = start.elapsed();
        if elapsed >= plan.duration || report.sent >= plan.count {
            break;
        }
        // How many messages are due by now.
        let due = match plan.rate {
            Some(rate) => ((elapsed.as_secs_f64() * rate) as u64 + 1).min(plan.count),
            None => plan.count,
        };
        if written >= due && batch.is_empty() {
            pace(start, written, plan.rate);
            continue;
        }
        while written < due && !batch.is_full() {
            let Some(buf) = batch.next_buf() else { break };
            Stamp::now(plan.run, seq_of(index, written)).write(buf);
            let pushed = batch.push(Transmit {
                to: Destination::Group,
                len: size,
            });
            if pushed.is_err() {
                break;
            }
            written += 1;
        }
        let flushed = batch.send(&socket, &targets, endpoint.io_mode);
        report.sent += flushed.sent as u64;
        report.send_errors += flushed.dropped as u64;
        progress.store(report.sent, Ordering::Relaxed);
        if flushed.blocked {
            std::thread::yield_now();
        }
    }
    report.elapsed_s = start.elapsed().as_secs_f64();
    // What the kernel has not taken yet, for a bounded time.
    let flush_until = Instant::now() + Duration::from_millis(200);
    while !batch.is_empty() && Instant::now() < flush_until {
        let flushed = batch.send(&socket, &targets, endpoint.io_mode);
        report.sent += flushed.sent as u64;
        report.send_errors += flushed.dropped as u64;
        std::thread::yield_now();
    }
    report.cpu_us = cpu_time(Whom::Thread).since(cpu_before).total_micros();
    progress.store(report.sent, Ordering::Relaxed);
    send_end(&socket, endpoint, plan.run, index);
    Ok(report)
}

/// Sleeps until the next message is due.
fn pace(start: Instant, written: u64, rate: Option<f64>) {
    let Some(rate) = rate else { return };
    let next = Duration::from_secs_f64(written as f64 / rate);
    let now = start.elapsed();
    // Sleeping, not spinning, so that the CPU time per message counts the
    // work of sending only; the system wakes the thread a little late, and
    // the messages due by then go out together.
    let wait = next.saturating_sub(now);
    if !wait.is_zero() {
        std::thread::sleep(wait);
    }
}

/// The end marker, a few times over (datagrams may be lost), a
/// millisecond apart.
fn send_end(socket: &UdpSocket, endpoint: &Endpoint, run: u32, index: u16) {
    let mut buf = [0u8; HEADER_LEN];
    for _ in 0..3 {
        Stamp::now(run, end_of(index)).write(&mut buf);
        let _ = socket.send_to(&buf, endpoint.group);
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// A current-thread tokio runtime for one role.
fn runtime() -> io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

/// Joins the group and calls `ready` once the socket is in place (the
/// coordinator starts the sender only then); receives until the end marker,
/// `idle` without a message, or `limit` in all.
pub(crate) fn receive(
    endpoint: &Endpoint,
    run: u32,
    idle: Duration,
    limit: Duration,
    ready: impl FnOnce(),
) -> io::Result<ReceiverReport> {
    let sockets = Sockets::bind(&endpoint.config()).map_err(io::Error::other)?;
    let (_unicast, group, _) = sockets.into_parts();
    let group = group.ok_or_else(|| io::Error::other("no group socket"))?;
    let cpu_before = cpu_time(Whom::Process);
    ready();
    let tally = receive_into(endpoint, &group, Tally::new(run, None, 1), idle, limit)?;
    Ok(tally.finish(cpu_time(Whom::Process).since(cpu_before).total_micros()))
}

/// Receives on `group` into `tally` until it is done, `idle` without a
/// message, or `limit` in all.
fn receive_into(
    endpoint: &Endpoint,
    group: &UdpSocket,
    mut tally: Tally,
    idle: Duration,
    limit: Duration,
) -> io::Result<Tally> {
    runtime()?.block_on(async {
        let registered = tokio::net::UdpSocket::from_std(group.try_clone()?)?;
        let mut batch = RecvBatch::new(endpoint.batch, MAX_DATAGRAM);
        let hard_stop = tokio::time::Instant::now() + limit;
        while !tally.done() {
            let wait = if tally.idle_so_far() { limit } else { idle };
            let until = (tokio::time::Instant::now() + wait).min(hard_stop);
            match tokio::time::timeout_at(until, registered.readable()).await {
                Err(_elapsed) => break,
                Ok(ready) => ready?,
            }
            loop {
                let got =
                    registered.try_io(Interest::READABLE, || batch.recv(group, endpoint.io_mode));
                match got {
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => return Err(e),
                }
                let now = monotonic_ns();
                for datagram in batch.iter() {
                    tally.record(datagram.data, now);
                }
            }
        }
        io::Result::Ok(())
    })?;
    Ok(tally)
}

/// Who a member of the all-to-all case is: its sender index, out of
/// `senders`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PeerId {
    pub(crate) index: u16,
    pub(crate) senders: usize,
}

/// A member that sends and receives (all-to-all): joins, calls `ready`,
/// waits for `go`, then sends the plan as sender `index` on a thread of its
/// own while it receives every sender's messages (its own included, which
/// multicast loops back) until the `senders` end markers.
pub(crate) fn peer(
    endpoint: &Endpoint,
    plan: &SendPlan,
    PeerId { index, senders }: PeerId,
    idle: Duration,
    ready: impl FnOnce(),
    go: impl FnOnce(),
) -> io::Result<ReceiverReport> {
    let sockets = Sockets::bind(&endpoint.config()).map_err(io::Error::other)?;
    let (_unicast, group, _) = sockets.into_parts();
    let group = group.ok_or_else(|| io::Error::other("no group socket"))?;
    ready();
    go();
    let cpu_before = cpu_time(Whom::Process);
    let limit = plan.duration + Duration::from_secs(10);
    let progress = AtomicU64::new(0);
    let (sent, tally) = std::thread::scope(|scope| {
        let sender = scope.spawn(|| send_as(endpoint, plan, index, &progress));
        let tally = receive_into(
            endpoint,
            &group,
            Tally::new(plan.run, Some(index), senders),
            idle,
            limit,
        );
        let sent = sender
            .join()
            .map_err(|_| io::Error::other("the sending thread panicked"))?;
        io::Result::Ok((sent?, tally?))
    })?;
    let mut report = tally.finish(cpu_time(Whom::Process).since(cpu_before).total_micros());
    report.sent = sent.sent;
    report.send_s = sent.elapsed_s;
    Ok(report)
}

/// Joins the group and sends every message of the run back to its sender
/// (by unicast, from this process's unicast socket), until the end marker,
/// `idle` without a message, or `limit` in all. Returns how many it echoed.
pub(crate) fn echo(
    endpoint: &Endpoint,
    run: u32,
    idle: Duration,
    limit: Duration,
    ready: impl FnOnce(),
) -> io::Result<ReceiverReport> {
    let sockets = Sockets::bind(&endpoint.config()).map_err(io::Error::other)?;
    let (unicast, group, _) = sockets.into_parts();
    let group = group.ok_or_else(|| io::Error::other("no group socket"))?;
    let cpu_before = cpu_time(Whom::Process);
    ready();
    let mut report = ReceiverReport::default();
    runtime()?.block_on(async {
        let registered = tokio::net::UdpSocket::from_std(group.try_clone()?)?;
        let mut batch = RecvBatch::new(endpoint.batch, MAX_DATAGRAM);
        let mut replies = SendBatch::new(endpoint.batch, MAX_DATAGRAM);
        let hard_stop = tokio::time::Instant::now() + limit;
        while !report.end_seen {
            let wait = if report.received == 0 { limit } else { idle };
            let until = (tokio::time::Instant::now() + wait).min(hard_stop);
            match tokio::time::timeout_at(until, registered.readable()).await {
                Err(_elapsed) => break,
                Ok(ready) => ready?,
            }
            loop {
                let got =
                    registered.try_io(Interest::READABLE, || batch.recv(&group, endpoint.io_mode));
                match got {
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => return Err(e),
                }
                for datagram in batch.iter() {
                    let Some(stamp) = Stamp::read(datagram.data) else {
                        continue;
                    };
                    if stamp.run != run {
                        continue;
                    }
                    if stamp.seq == end_of(0) {
                        report.end_seen = true;
                        continue;
                    }
                    let Some(buf) = replies.next_buf() else { break };
                    let Some(slot) = buf.get_mut(..datagram.data.len()) else {
                        continue;
                    };
                    slot.copy_from_slice(datagram.data);
                    let _ = replies.push(Transmit {
                        to: Destination::Peer(datagram.from),
                        len: datagram.data.len(),
                    });
                    report.received += 1;
                    report.bytes += datagram.data.len() as u64;
                }
                // Replies are few (one ping in flight); a full send buffer
                // is retried briefly, then the reply is given up.
                for _ in 0..100 {
                    if replies.send(&unicast, &[], endpoint.io_mode).blocked {
                        std::thread::yield_now();
                    } else {
                        break;
                    }
                }
            }
        }
        io::Result::Ok(())
    })?;
    report.cpu_us = cpu_time(Whom::Process).since(cpu_before).total_micros();
    Ok(report)
}

/// Ping-pong: sends one message to the group, waits for its echo on the
/// unicast socket (up to `timeout`), and records the round trip; repeats
/// for the plan's count or duration, pausing to respect the offered rate.
pub(crate) fn ping(
    endpoint: &Endpoint,
    plan: &SendPlan,
    timeout: Duration,
    progress: &AtomicU64,
) -> io::Result<SenderReport> {
    let socket = endpoint.sender_socket()?;
    let targets = [SocketAddr::V4(endpoint.group)];
    let cpu_before = cpu_time(Whom::Thread);
    let mut report = SenderReport::default();
    let mut rtt = Latency::new();
    let start = Instant::now();
    runtime()?.block_on(async {
        let registered = tokio::net::UdpSocket::from_std(socket.try_clone()?)?;
        let size = plan.size.clamp(HEADER_LEN, MAX_UDP);
        let mut out = SendBatch::new(1, size);
        let mut replies = RecvBatch::new(endpoint.batch, MAX_DATAGRAM);
        let mut seq = 0u64;
        while seq < plan.count && start.elapsed() < plan.duration {
            if let Some(rate) = plan.rate {
                let next = Duration::from_secs_f64(seq as f64 / rate);
                tokio::time::sleep(next.saturating_sub(start.elapsed())).await;
            }
            let buf = out
                .next_buf()
                .ok_or_else(|| io::Error::other("send batch full"))?;
            let sent_at = monotonic_ns();
            Stamp {
                run: plan.run,
                seq,
                sent_ns: sent_at,
            }
            .write(buf);
            let _ = out.push(Transmit {
                to: Destination::Group,
                len: size,
            });
            let flushed = out.send(&socket, &targets, endpoint.io_mode);
            if flushed.sent == 0 {
                report.send_errors += 1;
                seq += 1;
                continue;
            }
            report.sent += 1;
            progress.store(report.sent, Ordering::Relaxed);
            let deadline = tokio::time::Instant::now() + timeout;
            let mut answered = false;
            while !answered {
                match tokio::time::timeout_at(deadline, registered.readable()).await {
                    Err(_elapsed) => break,
                    Ok(ready) => ready?,
                }
                let got = registered.try_io(Interest::READABLE, || {
                    replies.recv(&socket, endpoint.io_mode)
                });
                match got {
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                    Err(e) => return Err(e),
                }
                let now = monotonic_ns();
                for datagram in replies.iter() {
                    if let Some(stamp) = Stamp::read(datagram.data)
                        && stamp.run == plan.run
                        && stamp.seq == seq
                    {
                        rtt.record(now.saturating_sub(sent_at));
                        answered = true;
                    }
                }
            }
            if !answered {
                report.lost += 1;
            }
            seq += 1;
        }
        io::Result::Ok(())
    })?;
    report.elapsed_s = start.elapsed().as_secs_f64();
    report.cpu_us = cpu_time(Whom::Thread).since(cpu_before).total_micros();
    report.rtt = rtt.to_pairs();
    send_end(&socket, endpoint, plan.run, 0);
    Ok(report)
}
