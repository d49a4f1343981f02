//! Inconsistent arguments give typed errors, never a panic, and leave every
//! output byte as it was.

use blaze_fec::{Codec, ConfigError, DecodeError, EncodeError};

#[test]
fn bad_shapes_are_refused() {
    assert_eq!(Codec::new(0, 0), Err(ConfigError::NoData));
    assert_eq!(Codec::portable(0, 4), Err(ConfigError::NoData));
    assert_eq!(
        Codec::new(250, 6),
        Err(ConfigError::TooManySymbols { total: 256 })
    );
    assert_eq!(
        Codec::new(1, usize::MAX),
        Err(ConfigError::TooManySymbols { total: usize::MAX })
    );
}

#[test]
fn encode_checks_before_writing() {
    let codec = Codec::new(3, 2).unwrap();
    let data: [&[u8]; 3] = [&[1, 2, 3], &[4, 5, 6], &[7, 8, 9]];
    let (mut p0, mut p1) = ([0xeeu8; 3], [0xeeu8; 3]);

    assert_eq!(
        codec.encode(&data[..2], &mut [&mut p0, &mut p1]),
        Err(EncodeError::DataCount {
            expected: 3,
            actual: 2
        })
    );
    assert_eq!(
        codec.encode(&data, &mut [&mut p0]),
        Err(EncodeError::ParityCount {
            expected: 2,
            actual: 1
        })
    );
    let ragged: [&[u8]; 3] = [&[1, 2, 3], &[4, 5], &[7, 8, 9]];
    assert_eq!(
        codec.encode(&ragged, &mut [&mut p0, &mut p1]),
        Err(EncodeError::SymbolLength {
            expected: 3,
            actual: 2
        })
    );
    let mut short = [0xeeu8; 2];
    assert_eq!(
        codec.encode(&data, &mut [&mut p0, &mut short]),
        Err(EncodeError::SymbolLength {
            expected: 3,
            actual: 2
        })
    );
    assert_eq!(
        codec.encode_one(2, &data, &mut p0),
        Err(EncodeError::ParityIndex {
            index: 2,
            parity: 2
        })
    );
    assert_eq!(
        codec.encode_one(0, &data, &mut short),
        Err(EncodeError::SymbolLength {
            expected: 3,
            actual: 2
        })
    );
    assert_eq!((p0, p1, short), ([0xee; 3], [0xee; 3], [0xee; 2]));
}

#[test]
fn decode_checks_before_writing() {
    let codec = Codec::new(3, 2).unwrap();
    let data: [&[u8]; 3] = [&[1, 2, 3], &[4, 5, 6], &[7, 8, 9]];
    let mut parity = [[0u8; 3]; 2];
    let [a, b] = &mut parity;
    codec.encode(&data, &mut [a, b]).unwrap();
    let [p0, p1] = [&parity[0][..], &parity[1][..]];
    let mut scratch = [0u8; blaze_fec::decode_scratch_len(3, 2)];
    let mut out = [0xeeu8; 3];
    let mut out2 = [0xeeu8; 3];

    let rx = [None, Some(data[1]), Some(data[2]), Some(p0), None];
    assert_eq!(
        codec.decode(&rx[..4], &mut [&mut out], &mut scratch),
        Err(DecodeError::ReceivedCount {
            expected: 5,
            actual: 4
        })
    );
    assert_eq!(
        codec.decode(&rx, &mut [&mut out, &mut out2], &mut scratch),
        Err(DecodeError::LostCount {
            expected: 1,
            actual: 2
        })
    );
    assert_eq!(
        codec.decode(&rx, &mut [&mut out], &mut scratch[..3]),
        Err(DecodeError::ScratchTooSmall {
            required: 10 // one erasure: 1 * (3 + 4) + 3
        })
    );
    let mut short = [0xeeu8; 2];
    assert_eq!(
        codec.decode(&rx, &mut [&mut short], &mut scratch),
        Err(DecodeError::SymbolLength {
            expected: 3,
            actual: 2
        })
    );
    let ragged = [None, Some(data[1]), Some(&data[2][..1]), Some(p0), None];
    assert_eq!(
        codec.decode(&ragged, &mut [&mut out], &mut scratch),
        Err(DecodeError::SymbolLength {
            expected: 3,
            actual: 1
        })
    );
    // Three erasures, two parity symbols: refused, not guessed.
    let rx = [None, None, Some(data[2]), Some(p0), None];
    assert_eq!(
        codec.decode(&rx, &mut [&mut out, &mut out2], &mut scratch),
        Err(DecodeError::TooFewSymbols {
            received: 2,
            needed: 3
        })
    );
    let nothing = [None; 5];
    assert_eq!(
        codec.decode(&nothing, &mut [], &mut scratch),
        Err(DecodeError::TooFewSymbols {
            received: 0,
            needed: 3
        })
    );
    assert_eq!((out, out2, short), ([0xee; 3], [0xee; 3], [0xee; 2]));

    // And the same call with the right arguments works.
    let rx = [None, Some(data[1]), None, Some(p0), Some(p1)];
    codec
        .decode(&rx, &mut [&mut out, &mut out2], &mut scratch)
        .unwrap();
    assert_eq!((&out[..], &out2[..]), (data[0], data[2]));
}

#[test]
fn errors_display() {
    let e = DecodeError::TooFewSymbols {
        received: 2,
        needed: 3,
    };
    assert_eq!(e.to_string(), "2 symbols received, 3 needed to decode");
    let e: &dyn std::error::Error = &ConfigError::NoData;
    assert_eq!(e.to_string(), "a block needs at least one data symbol");
}
