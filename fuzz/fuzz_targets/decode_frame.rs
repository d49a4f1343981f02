//! Any bytes: decoding never panics, and whatever decodes re-encodes to
//! exactly `encoded_len()` bytes that decode to an equal frame, which
//! re-encodes to the same bytes (decode → encode → decode is stable).
#![no_main]

use blaze_wire::{Body, Frame, Message};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(frame) = Frame::parse(data) else { return };
    // Touch every lazily decoded repeated field.
    if let Body::Data(batch) = frame.body {
        assert!(batch.messages.iter().count() == batch.messages.len());
    }
    let mut first = vec![0u8; frame.encoded_len()];
    let n = frame.emit(&mut first).expect("encoded_len is exact");
    assert_eq!(n, first.len());
    // Compared as bytes: a float value may be NaN, which is unequal to itself.
    let again = Frame::parse(&first).expect("own encoding decodes");
    let mut second = vec![0u8; again.encoded_len()];
    again.emit(&mut second).expect("encoded_len is exact");
    assert_eq!(first, second);
    // A buffer one byte short is refused, never overrun.
    if n > 0 {
        let mut short = vec![0u8; n - 1];
        assert!(frame.emit(&mut short).is_err());
    }
});
