//! blaze-wire and prost, generated from the same schema, read each other's
//! bytes: for random frames, prost's encoding parses with blaze-wire, and
//! blaze-wire re-encodes the view to exactly the same bytes, which prost
//! decodes back to the original frame.

mod strategies;

use blaze_wire::{BlazeMessage, Frame, Message};
use blaze_wire_compat::pb;
use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use prost::Message as _;

/// Runs a property on a thread with a large stack: the strategies for the
/// whole schema nest deeply, which a debug build's default 2 MiB stack
/// cannot hold.
fn check<S: Strategy>(
    strategy: impl FnOnce() -> S + Send + 'static,
    test: impl Fn(S::Value) -> Result<(), TestCaseError> + Send + 'static,
) {
    let outcome = std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(move || {
            let mut runner = TestRunner::new(ProptestConfig {
                cases: 512,
                ..ProptestConfig::default()
            });
            runner.run(&strategy(), test).map_err(|e| e.to_string())
        })
        .map(|h| h.join());
    match outcome {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => panic!("{e}"),
        Ok(Err(_)) => panic!("property panicked"),
        Err(e) => panic!("cannot spawn the test thread: {e}"),
    }
}

#[test]
fn frames_round_trip_through_both_codecs() {
    check(strategies::frame, frame_round_trip);
}

#[test]
fn blaze_messages_round_trip_through_both_codecs() {
    check(strategies::blaze_message, blaze_message_round_trip);
}

fn frame_round_trip(original: pb::Frame) -> Result<(), TestCaseError> {
    let prost_bytes = original.encode_to_vec();
    let view = Frame::parse(&prost_bytes).map_err(|e| TestCaseError::fail(format!("{e}")))?;
    prop_assert_eq!(view.encoded_len(), prost_bytes.len());
    let mut buf = vec![0u8; view.encoded_len()];
    let n = view
        .emit(&mut buf)
        .map_err(|e| TestCaseError::fail(format!("{e}")))?;
    prop_assert_eq!(&buf[..n], &prost_bytes[..]);
    let back = pb::Frame::decode(&buf[..n]).map_err(|e| TestCaseError::fail(format!("{e}")))?;
    prop_assert_eq!(back, original);
    Ok(())
}

fn blaze_message_round_trip(original: pb::BlazeMessage) -> Result<(), TestCaseError> {
    let prost_bytes = original.encode_to_vec();
    let view =
        BlazeMessage::parse(&prost_bytes).map_err(|e| TestCaseError::fail(format!("{e}")))?;
    prop_assert_eq!(view.encoded_len(), prost_bytes.len());
    prop_assert_eq!(view.len(), original.entries.len());
    for ((key, _), entry) in view.iter().zip(&original.entries) {
        prop_assert_eq!(key, entry.key.as_str());
    }
    let mut buf = vec![0u8; view.encoded_len()];
    let n = view
        .emit(&mut buf)
        .map_err(|e| TestCaseError::fail(format!("{e}")))?;
    prop_assert_eq!(pb::BlazeMessage::decode(&buf[..n]).ok(), Some(original));
    Ok(())
}

proptest! {

    #[test]
    fn any_bytes_decode_without_panic_and_reencode_stably(data in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(view) = Frame::parse(&data) {
            let mut buf = vec![0u8; view.encoded_len()];
            let n = view.emit(&mut buf).map_err(|e| TestCaseError::fail(format!("{e}")))?;
            let again = Frame::parse(&buf[..n]).map_err(|e| TestCaseError::fail(format!("{e}")))?;
            let mut buf2 = vec![0u8; again.encoded_len()];
            let n2 = again.emit(&mut buf2).map_err(|e| TestCaseError::fail(format!("{e}")))?;
            // Bytes, not structs: a float may be NaN.
            prop_assert_eq!(&buf[..n], &buf2[..n2]);
            // What blaze-wire accepts and re-encodes, prost accepts too.
            prop_assert!(pb::Frame::decode(&buf[..n]).is_ok());
        }
    }
}
