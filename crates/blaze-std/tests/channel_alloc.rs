//! What the channel API allocates per message, over loopback multicast
//! between two members, counted by a global allocator for the whole
//! process (both members, their tasks, the runtime) from the warm-up to
//! the last message received.
//!
//! - The zero-allocation path, [`Publisher`](blaze_std::Publisher) to
//!   [`Inbox`](blaze_std::Inbox): asserted to allocate nothing at all over
//!   thousands of messages.
//! - The ergonomic path, `publish` to a
//!   [`Subscription`](blaze_std::Subscription), which hands each
//!   subscriber owned copies (a `Message` with its group name, topic and
//!   payload) and makes each publish a call into the channel's task: it
//!   allocates a few times per message by design, and the test reports the
//!   figure.
//!
//! The two measurements never overlap (a lock orders the tests).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use blaze_std::{ChannelConfig, GroupChannel, RECORD_CAPACITY, TopicQos};

mod runtime;

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

const TOTAL: u32 = 2_000;
const WARM_UP: u32 = 500;
const GROUP: &str = "channel-alloc";
const LIMIT: Duration = Duration::from_secs(15);
/// One measurement at a time: the counter is the whole process's.
static SERIAL: Mutex<()> = Mutex::new(());

fn config(name: &str, port: u16) -> ChannelConfig {
    config_with(name, port, None)
}

fn config_with(name: &str, port: u16, busy_poll: Option<Duration>) -> ChannelConfig {
    ChannelConfig::builder()
        .busy_poll(busy_poll.unwrap_or(Duration::ZERO))
        .name(name)
        .group(format!("239.255.77.44:{port}").parse().unwrap())
        .join(GROUP)
        .topic("news", TopicQos::Reliable)
        .heartbeat(Duration::from_millis(50))
        .build()
        .unwrap()
}

/// [`runtime::run`], one test at a time (the allocation counter is
/// global).
fn run<F: std::future::Future<Output = ()>>(f: F) {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    runtime::run(f);
}

#[test]
fn publisher_to_inbox_allocates_nothing_per_message() {
    run(zero_allocation_path(47_845, None));
}

/// The same with busy polling (the driver spins on its sockets, the inbox
/// on its ring, before parking).
#[test]
fn publisher_to_inbox_allocates_nothing_per_message_when_busy_polling() {
    run(zero_allocation_path(
        47_847,
        Some(Duration::from_micros(20)),
    ));
}

#[test]
fn channel_path_allocations_per_message() {
    run(measure());
}

async fn zero_allocation_path(port: u16, busy_poll: Option<Duration>) {
    let mut a = GroupChannel::new(config_with("a", port, busy_poll));
    let mut b = GroupChannel::new(config_with("b", port, busy_poll));
    let mut inbox = b.subscribe_inbox("news").await.unwrap();
    a.start().await.unwrap();
    b.start().await.unwrap();
    for m in [&a, &b] {
        m.wait_for_members(GROUP, LIMIT, |v| v.len() == 2)
            .await
            .unwrap();
    }
    let mut publisher = a.publisher("news").await.unwrap();
    let mut buf = [0u8; RECORD_CAPACITY];
    let mut at_warm_up = 0;
    for i in 0..TOTAL {
        if i == WARM_UP {
            at_warm_up = ALLOCATIONS.load(Ordering::SeqCst);
        }
        // A batch of four, then the four received.
        for k in 0..4u32 {
            let mut payload = [0u8; 100];
            payload[..4].copy_from_slice(&(4 * i + k).to_be_bytes());
            publisher.publish(&payload).await.unwrap();
        }
        for k in 0..4u32 {
            let meta = tokio::time::timeout(LIMIT, inbox.recv_into(&mut buf))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(meta.sender, a.id());
            assert_eq!(meta.len, 100);
            assert_eq!(meta.qos, blaze_std::Qos::Reliable);
            assert_eq!(buf[..4], (4 * i + k).to_be_bytes());
        }
    }
    let steady = ALLOCATIONS.load(Ordering::SeqCst) - at_warm_up;
    let messages = 4 * (TOTAL - WARM_UP);
    eprintln!(
        "publisher to inbox (busy poll {busy_poll:?}): {steady} allocations for {messages} messages"
    );
    assert_eq!(inbox.dropped(), 0);
    assert_eq!(publisher.refused(), 0);
    assert_eq!(publisher.published(), u64::from(4 * TOTAL));
    assert_eq!(
        steady, 0,
        "the zero-allocation path allocated over {messages} messages"
    );
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
    // Shut down: the inbox ends, the publisher refuses.
    assert!(inbox.recv_into(&mut buf).await.is_none());
    assert!(publisher.publish(b"late").await.is_err());
}

async fn measure() {
    let mut a = GroupChannel::new(config("a", 47_844));
    let mut b = GroupChannel::new(config("b", 47_844));
    let mut news = b.subscribe("news").await.unwrap();
    a.start().await.unwrap();
    b.start().await.unwrap();
    for m in [&a, &b] {
        m.wait_for_members(GROUP, LIMIT, |v| v.len() == 2)
            .await
            .unwrap();
    }
    let mut at_warm_up = 0;
    for i in 0..TOTAL {
        if i == WARM_UP {
            at_warm_up = ALLOCATIONS.load(Ordering::SeqCst);
        }
        a.publish("news", &i.to_be_bytes()).await.unwrap();
        let m = tokio::time::timeout(LIMIT, news.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (m.sender, m.payload.as_slice()),
            (a.id(), &i.to_be_bytes()[..])
        );
    }
    let steady = ALLOCATIONS.load(Ordering::SeqCst) - at_warm_up;
    let messages = TOTAL - WARM_UP;
    eprintln!(
        "channel path: {steady} allocations for {messages} messages \
         ({:.2} per message, both members and the runtime together)",
        steady as f64 / f64::from(messages)
    );
    assert_eq!(news.dropped(), 0);
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
}
