//! In steady state the driver moves datagrams and events without touching
//! the allocator: a counting global allocator sees no allocation while two
//! drivers exchange a stream of datagrams over loopback multicast. (Buffers
//! are allocated once, at start-up.)

use std::alloc::{GlobalAlloc, Layout, System};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration as StdDuration;

use blaze_node::Protocol;
use blaze_std::{Application, Clock, Driver, DriverConfig, SocketConfig, Sockets};
use blaze_wire::{Destination, Duration, Instant, Transmit};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged, so `System`'s guarantees carry over; the counter is only an
// atomic increment with no effect on the memory handed out.
#[allow(unsafe_code, reason = "a global allocator must be an unsafe impl")]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, which
        // is `System::alloc`'s.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const TOTAL: u64 = 2_000;
const WARM_UP: u64 = 200;

/// Sends TOTAL numbered datagrams, 20 per millisecond; reports each
/// datagram it receives by its number. No allocation anywhere.
struct Stream {
    next_tick: Option<Instant>,
    due: u64,
    sent: u64,
    received: [u64; 1],
    /// Received datagrams not yet reported, and the last one's number.
    unreported: u64,
    last: u64,
}

impl Protocol for Stream {
    type Event<'a> = u64;

    fn handle_datagram(&mut self, _now: Instant, _from: SocketAddr, datagram: &[u8]) {
        if let Some(seq) = datagram.get(..8).and_then(|b| b.try_into().ok()) {
            self.received[0] += 1;
            self.unreported += 1;
            self.last = u64::from_le_bytes(seq);
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        if let Some(t) = self.next_tick.filter(|t| *t <= now) {
            self.due = (self.due + 20).min(TOTAL - self.sent);
            self.next_tick = (self.sent + self.due < TOTAL).then_some(t + Duration::from_millis(1));
        }
    }

    fn poll_transmit(&mut self, _now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        if self.due == 0 {
            return None;
        }
        buf.get_mut(..100)?.fill(0);
        buf.get_mut(..8)?.copy_from_slice(&self.sent.to_le_bytes());
        self.due -= 1;
        self.sent += 1;
        Some(Transmit {
            to: Destination::Group,
            len: 100,
        })
    }

    fn poll_event(&mut self) -> Option<u64> {
        self.unreported = self.unreported.checked_sub(1)?;
        Some(self.last)
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.next_tick
    }
}

/// Counts events; snapshots the allocation counter after the warm-up.
struct Watch {
    events: u64,
    expect_events: u64,
    at_warm_up: Option<usize>,
}

impl Application<Stream> for Watch {
    fn on_event(&mut self, _now: Instant, _seq: u64) -> ControlFlow<()> {
        self.events += 1;
        if self.events == WARM_UP {
            self.at_warm_up = Some(ALLOCATIONS.load(Ordering::SeqCst));
        }
        ControlFlow::Continue(())
    }

    fn on_turn(&mut self, _now: Instant, stream: &mut Stream) -> ControlFlow<()> {
        if stream.sent == TOTAL && self.events >= self.expect_events {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }
}

#[test]
fn steady_state_does_not_allocate_per_datagram() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let group = SocketAddrV4::new(Ipv4Addr::new(239, 255, 77, 41), 47_841);
        let clock = Clock::new();
        let stream = |sends: bool| Stream {
            next_tick: sends.then(|| clock.now()),
            due: 0,
            sent: if sends { 0 } else { TOTAL },
            received: [0],
            unreported: 0,
            last: 0,
        };
        let a = Sockets::bind(&SocketConfig::multicast(group)).unwrap();
        let b = Sockets::bind(&SocketConfig::multicast(group)).unwrap();
        let mut sender = Driver::new(stream(true), a, clock, DriverConfig::default()).unwrap();
        let mut receiver = Driver::new(stream(false), b, clock, DriverConfig::default()).unwrap();
        let mut quiet = Watch {
            events: 0,
            expect_events: 0,
            at_warm_up: None,
        };
        let mut watch = Watch {
            events: 0,
            expect_events: TOTAL,
            at_warm_up: None,
        };
        let both = async { tokio::try_join!(sender.run(&mut quiet), receiver.run(&mut watch)) };
        tokio::time::timeout(StdDuration::from_secs(30), both)
            .await
            .expect("timed out")
            .unwrap();
        let after = ALLOCATIONS.load(Ordering::SeqCst);
        let steady = after - watch.at_warm_up.expect("warmed up");
        assert_eq!(receiver.protocol().received[0], TOTAL);
        // 1 800 datagrams sent, received and delivered as events, with
        // timers re-armed and batches flushed along the way: nothing.
        assert_eq!(steady, 0, "allocations in steady state");
    });
}
