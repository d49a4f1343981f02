//! A corrupted parity symbol cannot pass silently: the block rebuilt from it
//! fails the CRC-32C the sender attached.

use blaze_fec::{Codec, Crc32c, crc32c, pad_symbol, padded_len, unpad_symbol};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

/// The CRC-32C of a block: its data symbols in order.
fn block_crc(symbols: &[Vec<u8>]) -> u32 {
    let mut c = Crc32c::new();
    symbols.iter().for_each(|s| c.update(s));
    c.finish()
}

/// Encodes, loses data symbols `lost`, corrupts byte `at` of the first parity
/// symbol with `flip`, decodes, and returns the block as rebuilt.
fn rebuild_with_bad_parity(
    k: usize,
    m: usize,
    lost: &[usize],
    at: usize,
    flip: u8,
) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let len = 64;
    let data: Vec<Vec<u8>> = (0..k)
        .map(|i| (0..len).map(|b| (i * 31 + b * 7) as u8).collect())
        .collect();
    let codec = Codec::new(k, m).unwrap();
    let refs: Vec<&[u8]> = data.iter().map(Vec::as_slice).collect();
    let mut parity = vec![vec![0u8; len]; m];
    let mut outs: Vec<&mut [u8]> = parity.iter_mut().map(Vec::as_mut_slice).collect();
    codec.encode(&refs, &mut outs).unwrap();

    parity[0][at] ^= flip;
    let received: Vec<Option<&[u8]>> = (0..k)
        .map(|j| (!lost.contains(&j)).then_some(refs[j]))
        .chain(parity.iter().map(|p| Some(p.as_slice())))
        .collect();
    let mut rebuilt = vec![vec![0u8; len]; lost.len()];
    let mut outs: Vec<&mut [u8]> = rebuilt.iter_mut().map(Vec::as_mut_slice).collect();
    let mut scratch = vec![0u8; codec.decode_scratch_len()];
    codec.decode(&received, &mut outs, &mut scratch).unwrap();

    let mut block = data.clone();
    for (r, &j) in rebuilt.into_iter().zip(lost) {
        block[j] = r;
    }
    (data, block)
}

#[test]
fn corrupted_parity_fails_the_block_crc() {
    let (sent, rebuilt) = rebuild_with_bad_parity(8, 2, &[3], 17, 0x40);
    assert_ne!(rebuilt, sent, "the decoder cannot see the corruption");
    assert_ne!(block_crc(&rebuilt), block_crc(&sent), "the CRC does");

    // Without the corruption the same path yields the sent block.
    let (sent, rebuilt) = rebuild_with_bad_parity(8, 2, &[3], 17, 0);
    assert_eq!(block_crc(&rebuilt), block_crc(&sent));
}

proptest! {
    #![proptest_config(Config { cases: 64, rng_seed: RngSeed::Fixed(0xc5c), failure_persistence: None, ..Config::default() })]

    /// Any non-zero corruption of one byte of the parity used, with one or
    /// two data symbols lost, changes the rebuilt block's CRC.
    #[test]
    fn any_parity_byte_corruption_is_caught(at in 0usize..64, flip in 1u8..=255, two in any::<bool>()) {
        let lost: &[usize] = if two { &[1, 6] } else { &[5] };
        let (sent, rebuilt) = rebuild_with_bad_parity(8, 2, lost, at, flip);
        prop_assert_ne!(block_crc(&rebuilt), block_crc(&sent));
    }
}

/// The whole path a sender and receiver take with variable-length messages:
/// pad, CRC, encode, lose, decode, check, unpad.
#[test]
fn padded_messages_round_trip() {
    let msgs: [&[u8]; 4] = [b"join", b"view 7: a b c", b"", b"data"];
    let len = msgs.iter().map(|m| padded_len(m.len())).max().unwrap();
    let data: Vec<Vec<u8>> = msgs
        .iter()
        .map(|m| {
            let mut s = vec![0u8; len];
            pad_symbol(m, &mut s).unwrap();
            s
        })
        .collect();
    let crc = block_crc(&data);
    let codec = Codec::new(4, 2).unwrap();
    let refs: Vec<&[u8]> = data.iter().map(Vec::as_slice).collect();
    let mut parity = vec![vec![0u8; len]; 2];
    let mut outs: Vec<&mut [u8]> = parity.iter_mut().map(Vec::as_mut_slice).collect();
    codec.encode(&refs, &mut outs).unwrap();

    let received = [
        Some(refs[0]),
        None,
        Some(refs[2]),
        None,
        Some(&parity[0][..]),
        Some(&parity[1][..]),
    ];
    let (mut one, mut three) = (vec![0u8; len], vec![0u8; len]);
    let mut scratch = vec![0u8; codec.decode_scratch_len()];
    codec
        .decode(&received, &mut [&mut one, &mut three], &mut scratch)
        .unwrap();
    let block = [data[0].clone(), one, data[2].clone(), three];
    assert_eq!(block_crc(&block), crc);
    assert_eq!(unpad_symbol(&block[1]).unwrap(), msgs[1]);
    assert_eq!(unpad_symbol(&block[3]).unwrap(), msgs[3]);
    assert_eq!(crc32c(&block.concat()), crc);
}
