//! Encode and decode throughput of blaze-fec (run-time picked backend and
//! forced portable backend) side by side with `reed-solomon-simd` and
//! `reed-solomon-erasure`, on the same data, for k = 16, m = 4 and
//! k = 64, m = 8 with 1 KiB symbols. Decoding loses `m` data symbols.
//! Throughput counts the `k` data symbols of a block.
//!
//! `blaze-fec` is the backend `Codec::new` picks on this CPU (GFNI where
//! present), `blaze-fec-avx2` the AVX2 `pshufb` kernel alone, and
//! `blaze-fec-portable` the table-driven `no_std` kernel.

use std::hint::black_box;

use blaze_fec::{Backend, Codec};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use reed_solomon_erasure::galois_8::ReedSolomon;
use reed_solomon_simd::{ReedSolomonDecoder, ReedSolomonEncoder};

const SYMBOL: usize = 1024;
const SHAPES: [(usize, usize); 2] = [(16, 4), (64, 8)];

/// Deterministic block contents (xorshift), the same for every library.
fn block(k: usize) -> Vec<Vec<u8>> {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    (0..k)
        .map(|_| {
            (0..SYMBOL)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect()
        })
        .collect()
}

/// The lost data indices: `m` of them spread over the block.
fn lost(k: usize, m: usize) -> Vec<usize> {
    (0..m).map(|i| i * (k / m)).collect()
}

/// The blaze-fec codecs compared: the one `Codec::new` picks, AVX2 where
/// the CPU has it, and the portable one.
fn codecs(k: usize, m: usize) -> Vec<(&'static str, Codec)> {
    let mut v = vec![("blaze-fec", Codec::new(k, m).unwrap())];
    if let Ok(c) = Codec::with_backend(k, m, Backend::Avx2) {
        v.push(("blaze-fec-avx2", c));
    }
    v.push(("blaze-fec-portable", Codec::portable(k, m).unwrap()));
    v
}

fn encode(c: &mut Criterion) {
    for (k, m) in SHAPES {
        let data = block(k);
        let refs: Vec<&[u8]> = data.iter().map(Vec::as_slice).collect();
        let mut g = c.benchmark_group(format!("encode/k{k}m{m}"));
        g.throughput(Throughput::Bytes((k * SYMBOL) as u64));

        for (name, codec) in codecs(k, m) {
            let mut parity = vec![vec![0u8; SYMBOL]; m];
            g.bench_function(name, |b| {
                b.iter(|| {
                    let mut outs: Vec<&mut [u8]> =
                        parity.iter_mut().map(Vec::as_mut_slice).collect();
                    codec.encode(black_box(&refs), &mut outs).unwrap();
                    black_box(&outs);
                })
            });
        }

        let mut enc = ReedSolomonEncoder::new(k, m, SYMBOL).unwrap();
        g.bench_function("reed-solomon-simd", |b| {
            b.iter(|| {
                for d in &refs {
                    enc.add_original_shard(black_box(d)).unwrap();
                }
                let result = enc.encode().unwrap();
                for r in result.recovery_iter() {
                    black_box(r);
                }
            })
        });

        let rse = ReedSolomon::new(k, m).unwrap();
        let mut parity = vec![vec![0u8; SYMBOL]; m];
        g.bench_function("reed-solomon-erasure", |b| {
            b.iter(|| {
                rse.encode_sep(black_box(&refs), &mut parity).unwrap();
                black_box(&parity);
            })
        });
        g.finish();
    }
}

fn decode(c: &mut Criterion) {
    for (k, m) in SHAPES {
        let data = block(k);
        let refs: Vec<&[u8]> = data.iter().map(Vec::as_slice).collect();
        let codec = Codec::new(k, m).unwrap();
        let mut parity = vec![vec![0u8; SYMBOL]; m];
        {
            let mut outs: Vec<&mut [u8]> = parity.iter_mut().map(Vec::as_mut_slice).collect();
            codec.encode(&refs, &mut outs).unwrap();
        }
        let lost = lost(k, m);
        let mut g = c.benchmark_group(format!("decode/k{k}m{m}"));
        g.throughput(Throughput::Bytes((k * SYMBOL) as u64));

        let received: Vec<Option<&[u8]>> = (0..k)
            .map(|j| (!lost.contains(&j)).then_some(refs[j]))
            .chain(parity.iter().map(|p| Some(p.as_slice())))
            .collect();
        for (name, codec) in codecs(k, m) {
            let mut rebuilt = vec![vec![0u8; SYMBOL]; m];
            let mut scratch = vec![0u8; codec.decode_scratch_len()];
            let mut run = || {
                let mut outs: Vec<&mut [u8]> = rebuilt.iter_mut().map(Vec::as_mut_slice).collect();
                codec
                    .decode(black_box(&received), &mut outs, &mut scratch)
                    .unwrap();
                black_box(&outs);
            };
            run();
            g.bench_function(name, |b| b.iter(&mut run));
            for (r, &j) in rebuilt.iter().zip(&lost) {
                assert_eq!(r, &data[j], "{name} rebuilt symbol {j}");
            }
        }

        let mut rs_parity = Vec::new();
        {
            let mut enc = ReedSolomonEncoder::new(k, m, SYMBOL).unwrap();
            for d in &refs {
                enc.add_original_shard(d).unwrap();
            }
            let result = enc.encode().unwrap();
            rs_parity.extend(result.recovery_iter().map(<[u8]>::to_vec));
        }
        let mut dec = ReedSolomonDecoder::new(k, m, SYMBOL).unwrap();
        let mut restored = 0;
        let mut run = || {
            for (j, d) in refs.iter().enumerate() {
                if !lost.contains(&j) {
                    dec.add_original_shard(j, black_box(d)).unwrap();
                }
            }
            for (i, p) in rs_parity.iter().enumerate() {
                dec.add_recovery_shard(i, black_box(p)).unwrap();
            }
            let result = dec.decode().unwrap();
            for (j, r) in result.restored_original_iter() {
                restored += usize::from(r == data[j].as_slice());
            }
        };
        run();
        g.bench_function("reed-solomon-simd", |b| b.iter(&mut run));
        assert!(restored >= m, "reed-solomon-simd restored the lost symbols");

        let rse = ReedSolomon::new(k, m).unwrap();
        let mut shards: Vec<Vec<u8>> = data.clone();
        shards.extend((0..m).map(|_| vec![0u8; SYMBOL]));
        rse.encode(&mut shards).unwrap();
        let mut flagged: Vec<(Vec<u8>, bool)> = shards.into_iter().map(|s| (s, true)).collect();
        let mut run = || {
            for &j in &lost {
                flagged[j].0.fill(0);
                flagged[j].1 = false;
            }
            rse.reconstruct_data(black_box(&mut flagged)).unwrap();
            black_box(&flagged);
        };
        run();
        g.bench_function("reed-solomon-erasure", |b| b.iter(&mut run));
        for &j in &lost {
            assert_eq!(flagged[j].0, data[j]);
        }
        g.finish();
    }
}

criterion_group!(benches, encode, decode);
criterion_main!(benches);
