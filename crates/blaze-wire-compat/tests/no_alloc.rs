//! blaze-wire decodes and encodes without touching the allocator: a
//! counting global allocator sees zero allocations across a whole
//! encode/parse/iterate cycle.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use blaze_wire::{
    BlazeMessage, BlazeMessageWriter, Body, DataBatch, DataMessage, Frame, GroupId, MemberId,
    Message, Repeated, Value,
};

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

#[test]
fn encode_parse_and_iterate_without_allocating() {
    let mut datagram = [0u8; 1500];
    let mut meta = [0u8; 128];
    let before = ALLOCATIONS.load(Ordering::SeqCst);

    let mut w = BlazeMessageWriter::new(&mut meta);
    w.put("symbol", Value::Text("ACME")).expect("fits");
    w.put("price", Value::Double(1.5)).expect("fits");
    let meta_len = w.finish();
    let msg = BlazeMessage::parse(&meta[..meta_len]).expect("valid");
    assert_eq!(msg.text("symbol"), Ok("ACME"));

    let payload = [7u8; 64];
    let msgs = [DataMessage {
        payload: &payload,
        ..DataMessage::default()
    }; 20];
    let frame = Frame {
        version: 1,
        group: GroupId::from_name("g"),
        sender: MemberId::from_u128(5),
        auth_tag: &[],
        body: Body::Data(DataBatch {
            first_seq: 1,
            messages: Repeated::from_slice(&msgs),
            ..DataBatch::default()
        }),
    };
    let n = frame.emit(&mut datagram).expect("fits");
    let parsed = Frame::parse(&datagram[..n]).expect("valid");
    let Body::Data(batch) = parsed.body else {
        panic!("data body expected")
    };
    let total: usize = batch.messages.iter().map(|m| m.payload.len()).sum();
    assert_eq!(total, 64 * 20);

    assert_eq!(
        ALLOCATIONS.load(Ordering::SeqCst),
        before,
        "the codec allocated"
    );
}
