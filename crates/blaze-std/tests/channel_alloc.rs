//! What the channel API allocates per message: a [`GroupChannel`]
//! publishes reliable messages on a topic, another receives them through a
//! [`Subscription`](blaze_std::Subscription), over loopback multicast, and
//! a counting global allocator counts every allocation of the process
//! (both members, their tasks, the runtime) from the warm-up to the last
//! message received.
//!
//! The channel layer hands each subscriber owned copies by design (a
//! `Message` with its group name, topic and payload), and each publish is
//! a call into the channel's task; so this path allocates a few times per
//! message, and the test reports the figure rather than asserting it. The
//! zero-copy path, asserted allocation-free, is the driver with an
//! `Application` callback (`no_alloc_node.rs`).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use blaze_std::{ChannelConfig, GroupChannel, TopicQos};

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

fn config(name: &str) -> ChannelConfig {
    ChannelConfig::builder()
        .name(name)
        .group("239.255.77.44:47844".parse().unwrap())
        .join(GROUP)
        .topic("news", TopicQos::Reliable)
        .heartbeat(Duration::from_millis(50))
        .build()
        .unwrap()
}

#[test]
fn channel_path_allocations_per_message() {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_stack_size(16 << 20)
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            tokio::time::timeout(Duration::from_secs(50), measure())
                .await
                .unwrap();
        });
}

async fn measure() {
    let mut a = GroupChannel::new(config("a"));
    let mut b = GroupChannel::new(config("b"));
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
