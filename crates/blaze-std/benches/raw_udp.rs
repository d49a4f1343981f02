//! The raw UDP baseline: how many datagrams per second this machine moves
//! through loopback multicast (IP_MULTICAST_IF = 127.0.0.1, a group in
//! 239.255.0.0/16), one `send_to`/`recv_from` per datagram ("plain") versus
//! `sendmmsg`/`recvmmsg` batches ("mmsg"), and batches sent with UDP
//! segmentation offload ("mmsg+gso"); loopback unicast for comparison.
//! One sender thread sends as fast as it can, one receiver thread counts.
//!
//! `cargo bench -p blaze-std --bench raw_udp`; `BLAZE_BENCH_SECS` sets the
//! seconds per case (default 1). Each case is bounded in time and count and
//! sends only to the loopback group.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use blaze_std::{IoMode, RecvBatch, SendBatch, SocketConfig, Sockets};
use blaze_wire::{Destination, Transmit};

/// At most this many datagrams per case, whatever the duration.
const MAX_DATAGRAMS: u64 = 100_000_000;
const BATCH: usize = 32;

struct Case {
    name: &'static str,
    mode: IoMode,
    size: usize,
    /// To the receiver's unicast socket instead of the group.
    unicast: bool,
}

struct Outcome {
    sent: u64,
    received: u64,
    send_secs: f64,
    recv_secs: f64,
}

fn run(case: &Case, group: SocketAddrV4, secs: f64) -> Outcome {
    let receiver = Sockets::bind(&SocketConfig::multicast(group)).expect("receiver sockets");
    // The sender sends from its unicast socket (IP_MULTICAST_IF set); its
    // own group socket is joined to another group, so that the traffic is
    // delivered to the receiver only.
    let other = SocketAddrV4::new(Ipv4Addr::new(239, 255, 202, 1), group.port() + 100);
    let sender = Sockets::bind(&SocketConfig::multicast(other)).expect("sender sockets");
    let (unicast_socket, group_socket, _) = receiver.into_parts();
    let (rx_socket, target) = if case.unicast {
        let addr = unicast_socket.local_addr().expect("receiver address");
        (unicast_socket, addr)
    } else {
        (group_socket.expect("group socket"), group.into())
    };
    let done = Arc::new(AtomicBool::new(false));
    let mode = case.mode;

    let rx_done = Arc::clone(&done);
    let size = case.size;
    let rx = std::thread::spawn(move || {
        let mut batch = RecvBatch::new(BATCH, 2048);
        let mut received = 0u64;
        let mut first: Option<Instant> = None;
        let mut last = Instant::now();
        let hard_stop = Instant::now() + Duration::from_secs_f64(secs + 5.0);
        loop {
            match batch.recv(&rx_socket, mode) {
                Ok(n) => {
                    let now = Instant::now();
                    first.get_or_insert(now);
                    last = now;
                    received += n as u64;
                    debug_assert!(batch.iter().all(|d| d.data.len() == size));
                }
                Err(_) => {
                    let idle = last.elapsed() > Duration::from_millis(200);
                    if (rx_done.load(Ordering::Acquire) && idle) || Instant::now() > hard_stop {
                        break;
                    }
                    std::hint::spin_loop();
                }
            }
        }
        let secs = first.map_or(0.0, |f| last.duration_since(f).as_secs_f64());
        (received, secs)
    });

    let targets: [SocketAddr; 1] = [target];
    let mut batch = SendBatch::new(if mode == IoMode::Plain { 1 } else { BATCH }, case.size);
    let start = Instant::now();
    let limit = Duration::from_secs_f64(secs);
    let mut sent = 0u64;
    while start.elapsed() < limit && sent < MAX_DATAGRAMS {
        while let Some(buf) = batch.next_buf() {
            buf[..8].copy_from_slice(&sent.to_le_bytes());
            batch
                .push(Transmit {
                    to: Destination::Group,
                    len: case.size,
                })
                .expect("room in the batch");
            if mode == IoMode::Plain {
                break;
            }
        }
        let flushed = batch.send(sender.unicast(), &targets, mode);
        sent += flushed.sent as u64;
        assert_eq!(flushed.dropped, 0, "send error {:?}", flushed.last_error);
        assert!(!flushed.gso_refused, "UDP_SEGMENT refused");
        if flushed.blocked {
            std::thread::yield_now();
        }
    }
    let send_secs = start.elapsed().as_secs_f64();
    done.store(true, Ordering::Release);
    let (received, recv_secs) = rx.join().expect("receiver thread");
    Outcome {
        sent,
        received,
        send_secs,
        recv_secs,
    }
}

fn main() {
    // `cargo test --benches` runs this with `--bench` absent: one short pass.
    let quick = !std::env::args().any(|a| a == "--bench");
    let secs: f64 = std::env::var("BLAZE_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if quick { 0.05 } else { 1.0 });
    let case = |name, mode, size, unicast| Case {
        name,
        mode,
        size,
        unicast,
    };
    let cases = [
        case("multicast plain", IoMode::Plain, 64, false),
        case("multicast mmsg", IoMode::Batched, 64, false),
        case("multicast mmsg+gso", IoMode::BatchedGso, 64, false),
        case("multicast plain", IoMode::Plain, 1200, false),
        case("multicast mmsg", IoMode::Batched, 1200, false),
        case("multicast mmsg+gso", IoMode::BatchedGso, 1200, false),
        case("unicast plain", IoMode::Plain, 1200, true),
        case("unicast mmsg", IoMode::Batched, 1200, true),
        case("unicast mmsg+gso", IoMode::BatchedGso, 1200, true),
    ];
    println!("raw UDP loopback multicast, {secs} s per case, batches of {BATCH}");
    println!(
        "{:<22} {:>6} {:>14} {:>14} {:>10} {:>8}",
        "case", "bytes", "sent/s", "received/s", "recv MB/s", "lost"
    );
    for (i, case) in cases.iter().enumerate() {
        let group = SocketAddrV4::new(
            Ipv4Addr::new(239, 255, 201, 10 + i as u8),
            47_900 + i as u16,
        );
        let o = run(case, group, secs);
        let recv_rate = if o.recv_secs > 0.0 {
            o.received as f64 / o.recv_secs
        } else {
            0.0
        };
        println!(
            "{:<22} {:>6} {:>14.0} {:>14.0} {:>10.1} {:>7.1}%",
            case.name,
            case.size,
            o.sent as f64 / o.send_secs,
            recv_rate,
            recv_rate * case.size as f64 / 1e6,
            100.0 * (o.sent.saturating_sub(o.received)) as f64 / o.sent.max(1) as f64,
        );
    }
}
