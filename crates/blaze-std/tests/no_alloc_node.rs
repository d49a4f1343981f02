//! The documented zero-copy path does not allocate per message: two
//! composed nodes ([`StdNode`]), each run by a [`Driver`] with an
//! [`Application`] callback, exchange reliable messages on a topic over
//! loopback multicast, and a counting global allocator sees no allocation
//! between the warm-up and the last message delivered (publish, batching,
//! send, receive, ordering, acknowledgement and delivery included).
//!
//! The channel API above it hands each subscriber owned copies by design;
//! `channel_alloc.rs` measures that path.

use std::alloc::{GlobalAlloc, Layout, System};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration as StdDuration;

use blaze_node::{
    Buffers, Config, Event, GroupBuffers, GroupId, Identity, MemberId, Metadata, Name,
    PublishError, RxSlot, SendSlot,
};
use blaze_std::{
    Application, Clock, Driver, DriverConfig, MAX_PAYLOAD, SocketConfig, Sockets, StdNode,
};
use blaze_wire::Instant;

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

const TOTAL: u32 = 3_000;
const WARM_UP: u32 = 500;
const GROUP: &str = "no-alloc-node";
const TOPIC: &str = "news";
/// [`StdNode`]'s reliable window, in messages.
const WINDOW: usize = 2048;
/// Bytes of each channel's retransmit window (as blaze-std gives it).
const SEND_BYTES: usize = 256 * 1024;

fn node_config() -> Config {
    let mut config = Config::lan();
    config.membership.heartbeat_interval = blaze_wire::Duration::from_millis(50);
    config.membership.discovery = blaze_membership::Discovery::Multicast;
    config.nack.max_message_len = core::num::NonZeroU32::new(MAX_PAYLOAD as u32).unwrap();
    config
}

fn buffers(config: &Config) -> Buffers<'static> {
    let need = GroupBuffers::recv_bytes_needed(config, blaze_std::MAX_MEMBERS, WINDOW);
    Buffers {
        send_index: Vec::leak(vec![SendSlot::EMPTY; 2 * WINDOW]),
        send_bytes: Vec::leak(vec![0u8; SEND_BYTES]),
        recv_bytes: Vec::leak(vec![0u8; need]),
        recv_slots: Vec::leak(vec![
            RxSlot::EMPTY;
            Buffers::recv_slots_needed(
                blaze_std::MAX_MEMBERS,
                WINDOW
            )
        ]),
        reassembly: Vec::leak(vec![0u8; MAX_PAYLOAD + 4096]),
    }
}

/// A node, built on a thread with room for it on the stack in a debug
/// build, leaked so that a driver can own a `&'static mut` to it.
fn node(now: Instant, id: u128, name: &'static str) -> &'static mut StdNode {
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(move || {
            let config = node_config();
            let identity = Identity {
                id: MemberId::from_u128(id),
                name: Name::new(name).unwrap(),
                metadata: Metadata::default(),
                incarnation: 0,
                seed: u64::try_from(id).unwrap(),
            };
            let groups = std::array::from_fn(|_| GroupBuffers {
                reliable: buffers(&config),
                best_effort: buffers(&config),
            });
            Box::leak(Box::new(
                StdNode::new(now, config, identity, groups).unwrap(),
            ))
        })
        .unwrap()
        .join()
        .unwrap()
}

static DONE: AtomicBool = AtomicBool::new(false);

/// Publishes TOTAL numbered messages once the view holds both members,
/// as fast as the window takes them; stops when the receiver is done.
struct Publisher {
    group: GroupId,
    next: u32,
    would_block: u64,
}

impl Application<&'static mut StdNode> for Publisher {
    fn on_event(&mut self, _now: Instant, _event: Event<'_>) -> ControlFlow<()> {
        ControlFlow::Continue(())
    }

    fn on_turn(&mut self, now: Instant, node: &mut &'static mut StdNode) -> ControlFlow<()> {
        if DONE.load(Ordering::SeqCst) {
            return ControlFlow::Break(());
        }
        if node.members(self.group).len() < 2 {
            return ControlFlow::Continue(());
        }
        while self.next < TOTAL {
            match node.publish(now, self.group, TOPIC, &self.next.to_be_bytes()) {
                Ok(()) => self.next += 1,
                Err(PublishError::WouldBlock) => {
                    self.would_block += 1;
                    break;
                }
                Err(e) => panic!("publish: {e}"),
            }
        }
        ControlFlow::Continue(())
    }
}

/// Checks the messages arrive once, in order; snapshots the allocation
/// counter at the warm-up and at the last message.
struct Receiver {
    from: MemberId,
    next: u32,
    at_warm_up: Option<usize>,
    at_end: Option<usize>,
}

impl Application<&'static mut StdNode> for Receiver {
    fn on_event(&mut self, _now: Instant, event: Event<'_>) -> ControlFlow<()> {
        if let Event::Message {
            topic,
            sender,
            payload,
            ..
        } = event
        {
            assert_eq!((topic, sender), (TOPIC, self.from));
            assert_eq!(payload, self.next.to_be_bytes());
            self.next += 1;
            if self.next == WARM_UP {
                self.at_warm_up = Some(ALLOCATIONS.load(Ordering::SeqCst));
            }
            if self.next == TOTAL {
                self.at_end = Some(ALLOCATIONS.load(Ordering::SeqCst));
                DONE.store(true, Ordering::SeqCst);
                return ControlFlow::Break(());
            }
        }
        ControlFlow::Continue(())
    }
}

#[test]
fn node_driver_path_does_not_allocate_per_message() {
    // The nodes' commands move large values in a debug build: run the
    // whole test on a thread with room for them.
    let outcome = std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(driver_path_without_allocation)
        .unwrap()
        .join();
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

fn driver_path_without_allocation() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let group_addr = SocketAddrV4::new(Ipv4Addr::new(239, 255, 77, 43), 47_843);
    let clock = Clock::new();
    let a = node(clock.now(), 0xa11ce, "a");
    let b = node(clock.now(), 0xb0b, "b");
    let group = a.join(clock.now(), GROUP).unwrap();
    b.join(clock.now(), GROUP).unwrap();
    let mut publisher = Publisher {
        group,
        next: 0,
        would_block: 0,
    };
    let mut receiver = Receiver {
        from: a.id(),
        next: 0,
        at_warm_up: None,
        at_end: None,
    };
    runtime.block_on(async {
        let mut config = SocketConfig::multicast(group_addr);
        config.interface = Ipv4Addr::LOCALHOST;
        let sa = Sockets::bind(&config).unwrap();
        let sb = Sockets::bind(&config).unwrap();
        let mut da = Driver::new(a, sa, clock, DriverConfig::default()).unwrap();
        let mut db = Driver::new(b, sb, clock, DriverConfig::default()).unwrap();
        let both = async { tokio::try_join!(da.run(&mut publisher), db.run(&mut receiver)) };
        tokio::time::timeout(StdDuration::from_secs(40), both)
            .await
            .expect("timed out")
            .unwrap();
    });
    let steady = receiver.at_end.unwrap() - receiver.at_warm_up.unwrap();
    let messages = TOTAL - WARM_UP;
    eprintln!(
        "{steady} allocations for {messages} messages ({:.4} per message); \
         the window was full {} times",
        steady as f64 / f64::from(messages),
        publisher.would_block
    );
    assert_eq!(receiver.next, TOTAL);
    assert_eq!(steady, 0, "allocations in steady state");
}
