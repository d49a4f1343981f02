//! Round trips through every backend: random shapes and erasure patterns
//! (proptest, fixed seed), every pattern exhaustively for small shapes, the
//! SIMD backends against the portable one byte for byte, and an independent
//! oracle (bitwise field arithmetic, Gaussian elimination on the `k x k`
//! submatrix of received rows) for the code itself.

use blaze_fec::{Backend, Codec, DecodeError, decode_scratch_len};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

/// Every backend this build and CPU run.
fn backends() -> Vec<Backend> {
    [
        Backend::Portable,
        Backend::Ssse3,
        Backend::Avx2,
        Backend::Gfni,
    ]
    .into_iter()
    .filter(|&b| Codec::with_backend(1, 1, b).is_ok())
    .collect()
}

fn config(cases: u32) -> Config {
    Config {
        cases,
        rng_seed: RngSeed::Fixed(0xb1a2_efec),
        failure_persistence: None,
        ..Config::default()
    }
}

/// Encodes `data` into `m` parity symbols.
fn encode(codec: &Codec, data: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let len = data.first().map_or(0, Vec::len);
    let refs: Vec<&[u8]> = data.iter().map(Vec::as_slice).collect();
    let mut parity = vec![vec![0u8; len]; codec.parity_count()];
    let mut outs: Vec<&mut [u8]> = parity.iter_mut().map(Vec::as_mut_slice).collect();
    codec.encode(&refs, &mut outs).unwrap();
    parity
}

/// Decodes with the symbols in `erased` missing; returns the rebuilt data
/// symbols in index order, or the error.
fn decode(
    codec: &Codec,
    data: &[Vec<u8>],
    parity: &[Vec<u8>],
    erased: &[usize],
) -> Result<Vec<Vec<u8>>, DecodeError> {
    let k = codec.data_count();
    let len = data.first().map_or(0, Vec::len);
    let received: Vec<Option<&[u8]>> = data
        .iter()
        .chain(parity)
        .enumerate()
        .map(|(i, s)| (!erased.contains(&i)).then_some(s.as_slice()))
        .collect();
    let lost_data = erased.iter().filter(|&&i| i < k).count();
    // Poisoned outputs: decode must overwrite every byte.
    let mut lost = vec![vec![0xa5u8; len]; lost_data];
    let mut outs: Vec<&mut [u8]> = lost.iter_mut().map(Vec::as_mut_slice).collect();
    let mut scratch = vec![0u8; codec.decode_scratch_len()];
    codec.decode(&received, &mut outs, &mut scratch)?;
    Ok(lost)
}

/// Checks that decoding after erasing `erased` rebuilds exactly the lost data.
fn check_recovers(codec: &Codec, data: &[Vec<u8>], parity: &[Vec<u8>], erased: &[usize]) {
    let k = codec.data_count();
    let rebuilt = decode(codec, data, parity, erased)
        .unwrap_or_else(|e| panic!("{:?} erased {erased:?}: {e}", codec.backend()));
    let mut lost: Vec<usize> = erased.iter().copied().filter(|&i| i < k).collect();
    lost.sort_unstable();
    assert_eq!(rebuilt.len(), lost.len());
    for (r, &j) in rebuilt.iter().zip(&lost) {
        assert_eq!(
            r,
            &data[j],
            "{:?} erased {erased:?}, symbol {j}",
            codec.backend()
        );
    }
}

/// Deterministic bytes from a seed.
fn bytes(seed: u64, n: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// All subsets of `0..n` with at most `max` elements.
fn subsets(n: usize, max: usize) -> Vec<Vec<usize>> {
    (0u32..1 << n)
        .filter(|s| s.count_ones() as usize <= max)
        .map(|s| (0..n).filter(|i| s & (1 << i) != 0).collect())
        .collect()
}

#[test]
fn every_pattern_of_small_codes_recovers() {
    for (k, m) in [(1, 1), (2, 2), (4, 2), (5, 3), (3, 6), (8, 4), (1, 7)] {
        let data: Vec<Vec<u8>> = (0..k).map(|i| bytes(i as u64 + 7, 67)).collect();
        for backend in backends() {
            let codec = Codec::with_backend(k, m, backend).unwrap();
            let parity = encode(&codec, &data);
            for erased in subsets(k + m, m) {
                check_recovers(&codec, &data, &parity, &erased);
            }
            // One erasure too many: a typed error, whatever the pattern.
            for erased in subsets(k + m, m + 1)
                .into_iter()
                .filter(|s| s.len() == m + 1)
            {
                assert_eq!(
                    decode(&codec, &data, &parity, &erased),
                    Err(DecodeError::TooFewSymbols {
                        received: k - 1,
                        needed: k
                    })
                );
            }
        }
    }
}

#[test]
fn widest_codes_recover() {
    // The extremes of the shape: every field element is a row or a column.
    for (k, m) in [(255, 0), (254, 1), (128, 127), (1, 254)] {
        let data: Vec<Vec<u8>> = (0..k).map(|i| bytes(i as u64 + 3, 5)).collect();
        let codec = Codec::new(k, m).unwrap();
        let parity = encode(&codec, &data);
        let e = m.min(k);
        let first: Vec<usize> = (0..e).collect();
        let last: Vec<usize> = (k - e..k).collect();
        check_recovers(&codec, &data, &parity, &first);
        check_recovers(&codec, &data, &parity, &last);
    }
}

fn shape() -> impl Strategy<Value = (usize, usize, usize, u64)> {
    (1usize..=32, 1usize..=8, 1usize..=300, any::<u64>())
}

proptest! {
    #![proptest_config(config(64))]

    /// Random shapes, lengths and data; several random erasure patterns of
    /// up to `m` symbols each, on every backend.
    #[test]
    fn random_erasures_recover((k, m, len, seed) in shape(), picks in proptest::collection::vec(any::<u64>(), 6)) {
        let data: Vec<Vec<u8>> = (0..k).map(|i| bytes(seed ^ (i as u64) << 20, len)).collect();
        for backend in backends() {
            let codec = Codec::with_backend(k, m, backend).unwrap();
            let parity = encode(&codec, &data);
            for &pick in &picks {
                // A pattern of `pick % (m + 1)` distinct symbols.
                let mut all: Vec<usize> = (0..k + m).collect();
                let mut x = pick | 1;
                let count = (pick % (m as u64 + 1)) as usize;
                let mut erased = Vec::new();
                for _ in 0..count {
                    x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    erased.push(all.swap_remove((x >> 33) as usize % all.len()));
                }
                check_recovers(&codec, &data, &parity, &erased);
            }
        }
    }

    /// Every SIMD backend gives the portable backend's bytes, for encoding,
    /// single parity symbols and decoding, at lengths around the vector
    /// widths.
    #[test]
    fn simd_matches_portable((k, m, len, seed) in shape(), lose in 0usize..8) {
        let data: Vec<Vec<u8>> = (0..k).map(|i| bytes(seed.rotate_left(i as u32 + 1), len)).collect();
        let portable = Codec::portable(k, m).unwrap();
        let reference = encode(&portable, &data);
        let erased: Vec<usize> = (0..k).step_by(k.div_ceil(m)).take(lose.min(m)).collect();
        let rebuilt = decode(&portable, &data, &reference, &erased).unwrap();
        for backend in backends() {
            let codec = Codec::with_backend(k, m, backend).unwrap();
            prop_assert_eq!(&encode(&codec, &data), &reference, "{:?}", backend);
            let refs: Vec<&[u8]> = data.iter().map(Vec::as_slice).collect();
            let mut one = vec![0u8; len];
            codec.encode_one(m - 1, &refs, &mut one).unwrap();
            prop_assert_eq!(&one, &reference[m - 1]);
            prop_assert_eq!(&decode(&codec, &data, &reference, &erased).unwrap(), &rebuilt);
        }
    }

    /// The code is the one documented: parity row `i` is the Cauchy row
    /// `1 / ((k + i) ^ j)`, checked with bitwise field arithmetic; and
    /// solving the `k x k` system of any `k` received rows by Gaussian
    /// elimination gives the data back.
    #[test]
    fn matches_an_independent_oracle((k, m, len, seed) in (1usize..=12, 1usize..=6, 1usize..=40, any::<u64>())) {
        let data: Vec<Vec<u8>> = (0..k).map(|i| bytes(seed ^ (i as u64 * 0x9e37), len)).collect();
        let codec = Codec::portable(k, m).unwrap();
        let parity = encode(&codec, &data);
        let generator = |row: usize, col: usize| -> u8 {
            if row < k { u8::from(row == col) } else { oracle::inv(((row) ^ col) as u8) }
        };
        for (i, p) in parity.iter().enumerate() {
            for (b, &byte) in p.iter().enumerate() {
                let expect = (0..k).fold(0, |acc, j| acc ^ oracle::mul(generator(k + i, j), data[j][b]));
                prop_assert_eq!(byte, expect);
            }
        }
        // Keep the last k symbols: rows m..k+m of the generator.
        let rows: Vec<usize> = (m..k + m).collect();
        let symbol = |r: usize| if r < k { &data[r] } else { &parity[r - k] };
        let inverse = oracle::invert(&rows.iter().map(|&r| (0..k).map(|c| generator(r, c)).collect()).collect::<Vec<Vec<u8>>>());
        for (j, d) in data.iter().enumerate() {
            for (b, &byte) in d.iter().enumerate() {
                let got = rows.iter().enumerate().fold(0, |acc, (t, &r)| acc ^ oracle::mul(inverse[j][t], symbol(r)[b]));
                prop_assert_eq!(got, byte);
            }
        }
    }
}

/// Field arithmetic from the definition, independent of the crate's tables.
mod oracle {
    pub(crate) fn mul(mut a: u8, mut b: u8) -> u8 {
        let mut p = 0;
        while b != 0 {
            if b & 1 != 0 {
                p ^= a;
            }
            let carry = a & 0x80 != 0;
            a <<= 1;
            if carry {
                a ^= 0x1d;
            }
            b >>= 1;
        }
        p
    }

    pub(crate) fn inv(a: u8) -> u8 {
        (1..=255).find(|&x| mul(a, x) == 1).unwrap()
    }

    /// Gauss–Jordan inversion of a square matrix; panics if singular.
    pub(crate) fn invert(m: &[Vec<u8>]) -> Vec<Vec<u8>> {
        let n = m.len();
        let mut a: Vec<Vec<u8>> = m
            .iter()
            .enumerate()
            .map(|(i, row)| {
                row.iter()
                    .copied()
                    .chain((0..n).map(|j| u8::from(i == j)))
                    .collect()
            })
            .collect();
        for col in 0..n {
            let pivot = (col..n).find(|&r| a[r][col] != 0).expect("singular");
            a.swap(col, pivot);
            let f = inv(a[col][col]);
            a[col].iter_mut().for_each(|x| *x = mul(*x, f));
            for r in 0..n {
                if r != col && a[r][col] != 0 {
                    let f = a[r][col];
                    let pivot_row = a[col].clone();
                    a[r].iter_mut()
                        .zip(&pivot_row)
                        .for_each(|(x, &p)| *x ^= mul(f, p));
                }
            }
        }
        a.into_iter().map(|row| row[n..].to_vec()).collect()
    }
}

#[test]
fn scratch_len_is_a_const() {
    const N: usize = decode_scratch_len(64, 8);
    assert_eq!(N, 8 * 68 + 64);
}

/// The tests above do run the SIMD kernels where the CPU has them (the
/// dev-dependency on this crate turns `std` on).
#[test]
#[cfg(target_arch = "x86_64")]
fn simd_backends_are_exercised() {
    if std::is_x86_feature_detected!("avx2") {
        assert!(backends().contains(&Backend::Avx2));
        assert_ne!(Codec::new(4, 2).unwrap().backend(), Backend::Portable);
    }
    if std::is_x86_feature_detected!("gfni") && std::is_x86_feature_detected!("avx2") {
        assert!(backends().contains(&Backend::Gfni));
    }
    if std::is_x86_feature_detected!("ssse3") {
        assert!(backends().contains(&Backend::Ssse3));
    }
}

/// Parity on demand: a codec with room for many parity symbols, of which
/// the sender makes only the few each receiver is missing, by index.
#[test]
fn parity_on_demand_repairs_any_losses() {
    let (k, m) = (6, 249);
    let data: Vec<Vec<u8>> = (0..k).map(|i| bytes(i as u64 + 11, 40)).collect();
    let refs: Vec<&[u8]> = data.iter().map(Vec::as_slice).collect();
    for backend in backends() {
        let codec = Codec::with_backend(k, m, backend).unwrap();
        // Parity 7 and 200 go out; receiver A lost data 0 and 5, receiver B
        // lost data 2 and 3: the same two parity symbols repair both.
        let mut p7 = vec![0u8; 40];
        let mut p200 = vec![0u8; 40];
        codec.encode_one(7, &refs, &mut p7).unwrap();
        codec.encode_one(200, &refs, &mut p200).unwrap();
        for lost in [[0, 5], [2, 3]] {
            let mut received: Vec<Option<&[u8]>> = vec![None; k + m];
            for j in (0..k).filter(|j| !lost.contains(j)) {
                received[j] = Some(refs[j]);
            }
            received[k + 7] = Some(&p7);
            received[k + 200] = Some(&p200);
            let (mut a, mut b) = (vec![0u8; 40], vec![0u8; 40]);
            let mut scratch = vec![0u8; codec.decode_scratch_len()];
            codec
                .decode(&received, &mut [&mut a, &mut b], &mut scratch)
                .unwrap();
            assert_eq!((&a, &b), (&data[lost[0]], &data[lost[1]]), "{backend:?}");
        }
    }
}
