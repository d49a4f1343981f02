//! Any bytes as a `BlazeMessage`: no panic; typed lookups and iteration
//! agree; decode → encode → decode is stable.
#![no_main]

use blaze_wire::{BlazeMessage, Message};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(msg) = BlazeMessage::parse(data) else { return };
    for (key, value) in msg.iter() {
        let last = msg.get(key).expect("an iterated key is found");
        let _ = (value, last);
    }
    let mut buf = vec![0u8; msg.encoded_len()];
    let n = msg.emit(&mut buf).expect("encoded_len is exact");
    let again = BlazeMessage::parse(&buf[..n]).expect("own encoding decodes");
    let mut buf2 = vec![0u8; again.encoded_len()];
    again.emit(&mut buf2).expect("encoded_len is exact");
    // Compared as bytes: a float value may be NaN, which is unequal to itself.
    assert_eq!(&buf[..n], &buf2[..]);
});
