//! The driver's own rate: a flooding machine on one node, a counting machine
//! on another, over loopback multicast, each driver on its own thread and
//! current-thread runtime. Compare with `raw_udp` for the driver's overhead
//! (here the sender also reads back and drops its own looped-back
//! multicast, as every member of a group does).
//!
//! `cargo bench -p blaze-std --bench driver`; `BLAZE_BENCH_SECS` sets the
//! seconds per case (default 1). Bounded in time and count; loopback only.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration as StdDuration;

use blaze_node::Protocol;
use blaze_std::{Application, Clock, Driver, DriverConfig, IoMode, SocketConfig, Sockets};
use blaze_wire::{Destination, Instant, Transmit};

const MAX_DATAGRAMS: u64 = 50_000_000;

/// Sends `size`-byte datagrams to the group until `until`, in rounds of 64
/// (a deadline of "now" between rounds, so every round is a driver turn).
struct Flood {
    size: usize,
    until: Instant,
    round: u32,
    sent: u64,
    next: Option<Instant>,
}

impl Protocol for Flood {
    type Event<'a> = ();
    fn handle_datagram(&mut self, _: Instant, _: SocketAddr, _: &[u8]) {}
    fn handle_timeout(&mut self, now: Instant) {
        if self.next.is_some_and(|t| t <= now) {
            self.round = 64;
            self.next = None;
        }
    }
    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        if self.round == 0 || now >= self.until || self.sent >= MAX_DATAGRAMS {
            return None;
        }
        let datagram = buf.get_mut(..self.size)?;
        datagram[..8].copy_from_slice(&self.sent.to_le_bytes());
        self.round -= 1;
        self.sent += 1;
        if self.round == 0 {
            self.next = Some(now);
        }
        Some(Transmit {
            to: Destination::Group,
            len: self.size,
        })
    }
    fn poll_event(&mut self) -> Option<()> {
        None
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.next
    }
}

/// Counts datagrams; reports the first and last arrival times.
#[derive(Default)]
struct Count {
    received: u64,
    first: Option<Instant>,
    last: Instant,
}

impl Protocol for Count {
    type Event<'a> = ();
    fn handle_datagram(&mut self, now: Instant, _: SocketAddr, _: &[u8]) {
        self.received += 1;
        self.first.get_or_insert(now);
        self.last = now;
    }
    fn handle_timeout(&mut self, _: Instant) {}
    fn poll_transmit(&mut self, _: Instant, _: &mut [u8]) -> Option<Transmit> {
        None
    }
    fn poll_event(&mut self) -> Option<()> {
        None
    }
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
}

/// Stops the flooding node once it is past its end time.
struct SendUntil(Instant);
impl Application<Flood> for SendUntil {
    fn on_event(&mut self, _: Instant, _: ()) -> ControlFlow<()> {
        ControlFlow::Continue(())
    }
    fn on_turn(&mut self, now: Instant, _: &mut Flood) -> ControlFlow<()> {
        if now >= self.0 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }
}

/// Stops the counting node when told to.
struct CountUntil(Arc<AtomicBool>);
impl Application<Count> for CountUntil {
    fn on_event(&mut self, _: Instant, _: ()) -> ControlFlow<()> {
        ControlFlow::Continue(())
    }
    fn on_turn(&mut self, _: Instant, _: &mut Count) -> ControlFlow<()> {
        if self.0.load(Ordering::Acquire) {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn run(mode: IoMode, size: usize, group: SocketAddrV4, secs: f64) -> (u64, u64, f64) {
    let mut config = DriverConfig::default();
    config.io_mode = mode;
    let receiver = Sockets::bind(&SocketConfig::multicast(group)).expect("receiver");
    // The sender is a full member: its own multicast loops back to its
    // group socket and is read and dropped by its driver.
    let sender = Sockets::bind(&SocketConfig::multicast(group)).expect("sender");
    let stop = Arc::new(AtomicBool::new(false));

    let rx_stop = Arc::clone(&stop);
    let rx_config = config.clone();
    let rx = std::thread::spawn(move || {
        runtime().block_on(async move {
            let mut driver =
                Driver::new(Count::default(), receiver, Clock::new(), rx_config).expect("driver");
            let waker = driver.waker();
            let mut app = CountUntil(Arc::clone(&rx_stop));
            let stopper = async {
                while !rx_stop.load(Ordering::Acquire) {
                    tokio::time::sleep(StdDuration::from_millis(10)).await;
                }
                waker.wake();
            };
            let (run, ()) = tokio::join!(driver.run(&mut app), stopper);
            run.expect("receiver driver");
            let count = driver.protocol();
            let span = count.first.map_or(0, |f| (count.last - f).total_micros());
            (count.received, span)
        })
    });

    let sent = runtime().block_on(async move {
        let clock = Clock::new();
        let until = clock.now() + blaze_wire::Duration::from_micros((secs * 1e6) as u64);
        let flood = Flood {
            size,
            until,
            round: 64,
            sent: 0,
            next: None,
        };
        let mut driver = Driver::new(flood, sender, clock, config).expect("driver");
        driver
            .run(&mut SendUntil(until))
            .await
            .expect("sender driver");
        driver.flush().await.expect("flush");
        driver.protocol().sent
    });
    // Let the receiver drain, then stop it.
    std::thread::sleep(StdDuration::from_millis(300));
    stop.store(true, Ordering::Release);
    let (received, span_micros) = rx.join().expect("receiver thread");
    (sent, received, span_micros as f64 / 1e6)
}

fn main() {
    let quick = !std::env::args().any(|a| a == "--bench");
    let secs: f64 = std::env::var("BLAZE_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if quick { 0.05 } else { 1.0 });
    println!("Driver over loopback multicast, {secs} s per case");
    println!(
        "{:<12} {:>6} {:>14} {:>14} {:>10} {:>8}",
        "mode", "bytes", "sent/s", "received/s", "recv MB/s", "lost"
    );
    let cases = [
        (IoMode::Plain, 64),
        (IoMode::Batched, 64),
        (IoMode::BatchedGso, 64),
        (IoMode::Plain, 1200),
        (IoMode::Batched, 1200),
        (IoMode::BatchedGso, 1200),
    ];
    for (i, (mode, size)) in cases.into_iter().enumerate() {
        let group = SocketAddrV4::new(
            Ipv4Addr::new(239, 255, 204, 10 + i as u8),
            48_100 + i as u16,
        );
        let (sent, received, span) = run(mode, size, group, secs);
        let rate = if span > 0.0 {
            received as f64 / span
        } else {
            0.0
        };
        println!(
            "{:<12} {:>6} {:>14.0} {:>14.0} {:>10.1} {:>7.1}%",
            format!("{mode:?}"),
            size,
            sent as f64 / secs,
            rate,
            rate * size as f64 / 1e6,
            100.0 * sent.saturating_sub(received) as f64 / sent.max(1) as f64
        );
    }
}
