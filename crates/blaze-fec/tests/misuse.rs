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

mod arbitrary {
    use blaze_fec::{Codec, DecodeError};
    use proptest::prelude::*;
    use proptest::test_runner::{Config, RngSeed};

    /// One way to get the arguments wrong, or none.
    #[derive(Clone, Copy, Debug)]
    enum Fault {
        None,
        ShortSymbol(usize),
        ShortOutput(usize),
        ExtraOutput,
        MissingOutput,
        SmallScratch(usize),
        ShortReceived,
    }

    fn fault() -> impl Strategy<Value = Fault> {
        prop_oneof![
            Just(Fault::None),
            any::<usize>().prop_map(Fault::ShortSymbol),
            any::<usize>().prop_map(Fault::ShortOutput),
            Just(Fault::ExtraOutput),
            Just(Fault::MissingOutput),
            any::<usize>().prop_map(Fault::SmallScratch),
            Just(Fault::ShortReceived),
        ]
    }

    proptest! {
        #![proptest_config(Config { cases: 256, rng_seed: RngSeed::Fixed(0xfa_017), failure_persistence: None, ..Config::default() })]

        /// Whatever the erasures and whatever is wrong with the arguments,
        /// decode returns: `Ok` with the right data exactly when nothing is
        /// wrong and at most `m` symbols are missing, else a typed error with
        /// the outputs untouched.
        #[test]
        fn decode_never_panics_nor_lies(
            k in 1usize..=12,
            m in 0usize..=6,
            len in 1usize..=70,
            erase_mask in any::<u32>(),
            fault in fault(),
        ) {
            let codec = Codec::new(k, m).unwrap();
            let data: Vec<Vec<u8>> = (0..k).map(|i| (0..len).map(|b| (i * 37 + b * 11 + 5) as u8).collect()).collect();
            let refs: Vec<&[u8]> = data.iter().map(Vec::as_slice).collect();
            let mut parity = vec![vec![0u8; len]; m];
            let mut outs: Vec<&mut [u8]> = parity.iter_mut().map(Vec::as_mut_slice).collect();
            codec.encode(&refs, &mut outs).unwrap();

            let erased: Vec<usize> = (0..k + m).filter(|i| erase_mask & (1 << i) != 0).collect();
            let short = data[0][..len - 1].to_vec();
            let mut received: Vec<Option<&[u8]>> = data
                .iter()
                .chain(&parity)
                .enumerate()
                .map(|(i, s)| (!erased.contains(&i)).then_some(s.as_slice()))
                .collect();
            let lost_data: Vec<usize> = erased.iter().copied().filter(|&i| i < k).collect();
            let mut outputs = vec![vec![0x5au8; len]; lost_data.len()];
            let mut scratch = vec![0u8; codec.decode_scratch_len()];
            let mut broken = false;
            match fault {
                Fault::None => {}
                Fault::ShortSymbol(i) => {
                    let present: Vec<usize> = (0..k + m).filter(|i| received[*i].is_some()).collect();
                    if present.len() > 1 {
                        received[present[1 + i % (present.len() - 1)]] = Some(&short);
                        broken = true;
                    }
                }
                Fault::ShortOutput(i) => {
                    if !outputs.is_empty() {
                        let n = outputs.len();
                        outputs[i % n].pop();
                        broken = true;
                    }
                }
                Fault::ExtraOutput => {
                    outputs.push(vec![0x5a; len]);
                    broken = true;
                }
                Fault::MissingOutput => {
                    broken = outputs.pop().is_some();
                }
                Fault::SmallScratch(n) => {
                    let need = lost_data.len() * (k + 4) + k;
                    if !lost_data.is_empty() {
                        scratch.truncate(n % need);
                        broken = true;
                    }
                }
                Fault::ShortReceived => {
                    received.pop();
                    broken = true;
                }
            }
            let before = outputs.clone();
            let mut outs: Vec<&mut [u8]> = outputs.iter_mut().map(Vec::as_mut_slice).collect();
            let result = codec.decode(&received, &mut outs, &mut scratch);
            let recoverable = erased.len() <= m;
            match result {
                Ok(()) => {
                    prop_assert!(!broken && recoverable, "{fault:?} accepted");
                    for (o, &j) in outputs.iter().zip(&lost_data) {
                        prop_assert_eq!(o, &data[j]);
                    }
                }
                Err(e) => {
                    prop_assert!(broken || !recoverable, "{e} on good arguments");
                    if !broken {
                        let is_too_few = matches!(e, DecodeError::TooFewSymbols { .. });
                        prop_assert!(is_too_few);
                    }
                    prop_assert_eq!(outputs, before);
                }
            }
        }
    }
}
