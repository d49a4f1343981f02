//! x86_64 kernels: SSSE3 and AVX2 split-nibble multiply-accumulate with
//! `pshufb`, and GFNI `gf2p8affineqb` on AVX2 or AVX-512 registers.
//!
//! A product `c * b` in GF(2^8) is linear in `b`. The `pshufb` kernels split
//! it into `lo_c[b & 15] ^ hi_c[b >> 4]` over two 16-entry tables, and one
//! `pshufb` looks up 16 (SSSE3) or 32 (AVX2) such entries. The GFNI kernels
//! apply the linear map as an 8x8 bit matrix, one instruction for 32 or 64
//! products. Up to [`ROWS`] output symbols are computed per pass over the
//! inputs, their accumulators held in registers, so each input block is
//! loaded once per pass and each output block is stored once.
//!
//! Soundness rests on two local facts, repeated at each `unsafe` block:
//! a token ([`Ssse3`], [`Avx2`], [`Gfni`], [`Gfni512`]) can only be built
//! after `is_x86_feature_detected!` returned true for its features, and
//! every load and store stays below the length of the shortest slice
//! involved, computed in the kernel itself ([`bound`]).

use core::arch::x86_64::{
    __m128i, __m256i, __m512i, _mm_and_si128, _mm_loadu_si128, _mm_set1_epi8, _mm_setzero_si128,
    _mm_shuffle_epi8, _mm_srli_epi64, _mm_storeu_si128, _mm_xor_si128, _mm256_and_si256,
    _mm256_broadcastsi128_si256, _mm256_gf2p8affine_epi64_epi8, _mm256_loadu_si256,
    _mm256_set1_epi8, _mm256_set1_epi64x, _mm256_setzero_si256, _mm256_shuffle_epi8,
    _mm256_srli_epi64, _mm256_storeu_si256, _mm256_xor_si256, _mm512_gf2p8affine_epi64_epi8,
    _mm512_loadu_si512, _mm512_set1_epi64, _mm512_setzero_si512, _mm512_storeu_si512,
    _mm512_ternarylogic_epi64, _mm512_xor_si512,
};

use crate::gf256::{AFFINE, NIBBLES};
use crate::kernel::{common_len, portable};

/// Output rows computed per pass over the inputs.
const ROWS: usize = 8;

/// Inputs per pass: a code has at most 255 symbols.
const COLS: usize = 255;

/// Proof that the CPU has SSSE3: only [`Ssse3::detect`] builds one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Ssse3(());

impl Ssse3 {
    /// `Some` when the running CPU has SSSE3.
    pub(crate) fn detect() -> Option<Self> {
        std::is_x86_feature_detected!("ssse3").then_some(Ssse3(()))
    }
}

/// Proof that the CPU has AVX2: only [`Avx2::detect`] builds one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Avx2(());

impl Avx2 {
    /// `Some` when the running CPU has AVX2.
    pub(crate) fn detect() -> Option<Self> {
        std::is_x86_feature_detected!("avx2").then_some(Avx2(()))
    }
}

/// Proof that the CPU has GFNI and AVX2: only [`Gfni::detect`] builds one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Gfni(());

impl Gfni {
    /// `Some` when the running CPU has GFNI and AVX2.
    pub(crate) fn detect() -> Option<Self> {
        (std::is_x86_feature_detected!("gfni") && std::is_x86_feature_detected!("avx2"))
            .then_some(Gfni(()))
    }
}

/// Proof that the CPU has GFNI, AVX-512F and AVX-512BW: only
/// [`Gfni512::detect`] builds one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Gfni512(());

impl Gfni512 {
    /// `Some` when the running CPU has GFNI, AVX-512F and AVX-512BW.
    pub(crate) fn detect() -> Option<Self> {
        (std::is_x86_feature_detected!("gfni")
            && std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512bw"))
        .then_some(Gfni512(()))
    }
}

/// A vector kernel for `R` output rows over every byte it can cover in
/// whole vectors; it returns how many leading bytes it wrote.
pub(crate) trait Lanes: Copy {
    /// Output rows per pass: as many accumulators as the registers hold.
    const ROWS: usize = ROWS;

    /// Computes `outs[r][..n] = sum_j coefs[j][r] * srcs[j][..n]` for the
    /// largest multiple `n` of the vector width that fits every slice, and
    /// returns `n`.
    fn rows<const R: usize>(
        self,
        srcs: &[&[u8]],
        coefs: &[[u8; R]],
        outs: &mut [&mut [u8]],
    ) -> usize;
}

impl Lanes for Ssse3 {
    #[inline]
    fn rows<const R: usize>(
        self,
        srcs: &[&[u8]],
        coefs: &[[u8; R]],
        outs: &mut [&mut [u8]],
    ) -> usize {
        // SAFETY: `self` is an `Ssse3` token, which `Ssse3::detect` builds
        // only after `is_x86_feature_detected!("ssse3")` returned true, so
        // the CPU runs the `ssse3` code of `rows_ssse3`.
        unsafe { rows_ssse3::<R>(srcs, coefs, outs) }
    }
}

impl Lanes for Avx2 {
    // Two accumulators per row (64 bytes a step) fill the 16 registers.
    const ROWS: usize = 4;

    #[inline]
    fn rows<const R: usize>(
        self,
        srcs: &[&[u8]],
        coefs: &[[u8; R]],
        outs: &mut [&mut [u8]],
    ) -> usize {
        // SAFETY: `self` is an `Avx2` token, which `Avx2::detect` builds
        // only after `is_x86_feature_detected!("avx2")` returned true, so
        // the CPU runs the `avx2` code of `rows_avx2`.
        unsafe { rows_avx2::<R>(srcs, coefs, outs) }
    }
}

impl Lanes for Gfni {
    #[inline]
    fn rows<const R: usize>(
        self,
        srcs: &[&[u8]],
        coefs: &[[u8; R]],
        outs: &mut [&mut [u8]],
    ) -> usize {
        // SAFETY: `self` is a `Gfni` token, which `Gfni::detect` builds only
        // after `is_x86_feature_detected!` returned true for both "gfni" and
        // "avx2", so the CPU runs the `gfni,avx2` code of `rows_gfni`.
        unsafe { rows_gfni::<R>(srcs, coefs, outs) }
    }
}

impl Lanes for Gfni512 {
    #[inline]
    fn rows<const R: usize>(
        self,
        srcs: &[&[u8]],
        coefs: &[[u8; R]],
        outs: &mut [&mut [u8]],
    ) -> usize {
        // SAFETY: `self` is a `Gfni512` token, which `Gfni512::detect`
        // builds only after `is_x86_feature_detected!` returned true for
        // "gfni", "avx512f" and "avx512bw", so the CPU runs the code of
        // `rows_gfni512`.
        unsafe { rows_gfni512::<R>(srcs, coefs, outs) }
    }
}

/// `outputs[r] = sum over j < cols of coef(r, j) * input(j)`, in passes of
/// [`ROWS`] outputs; the bytes past the last whole vector go through the
/// portable kernel.
pub(crate) fn run<'a, L, I, C>(
    lanes: L,
    cols: usize,
    input: &I,
    coef: &C,
    outputs: &mut [&mut [u8]],
) where
    L: Lanes,
    I: Fn(usize) -> &'a [u8],
    C: Fn(usize, usize) -> u8,
{
    let cols = cols.min(COLS);
    let mut row0 = 0;
    for group in outputs.chunks_mut(L::ROWS.clamp(1, ROWS)) {
        let n = group.len();
        match n {
            1 => pass::<L, 1, I, C>(lanes, cols, input, coef, row0, group),
            2 => pass::<L, 2, I, C>(lanes, cols, input, coef, row0, group),
            3 => pass::<L, 3, I, C>(lanes, cols, input, coef, row0, group),
            4 => pass::<L, 4, I, C>(lanes, cols, input, coef, row0, group),
            5 => pass::<L, 5, I, C>(lanes, cols, input, coef, row0, group),
            6 => pass::<L, 6, I, C>(lanes, cols, input, coef, row0, group),
            7 => pass::<L, 7, I, C>(lanes, cols, input, coef, row0, group),
            _ => pass::<L, ROWS, I, C>(lanes, cols, input, coef, row0, group),
        }
        row0 += n;
    }
}

/// One pass: gathers the inputs and the `R` rows' coefficients, runs the
/// vector kernel, then finishes the tail bytes portably.
fn pass<'a, L, const R: usize, I, C>(
    lanes: L,
    cols: usize,
    input: &I,
    coef: &C,
    row0: usize,
    outs: &mut [&mut [u8]],
) where
    L: Lanes,
    I: Fn(usize) -> &'a [u8],
    C: Fn(usize, usize) -> u8,
{
    let mut srcs: [&[u8]; COLS] = [&[]; COLS];
    let mut coefs = [[0u8; R]; COLS];
    for (j, (s, c)) in srcs.iter_mut().zip(coefs.iter_mut()).take(cols).enumerate() {
        *s = input(j);
        for (r, cr) in c.iter_mut().enumerate() {
            *cr = coef(row0 + r, j);
        }
    }
    let srcs = srcs.get(..cols).unwrap_or(&[]);
    let coefs = coefs.get(..cols).unwrap_or(&[]);
    let done = lanes.rows::<R>(srcs, coefs, outs);
    let len = common_len(cols, input, outs);
    if done < len {
        portable(cols, input, &|r, j| coef(row0 + r, j), outs, done, len);
    }
}

/// The number of whole `width`-byte vectors in the shortest slice, and the
/// output pointers: the bound every load and store below relies on.
fn bound<const R: usize>(
    srcs: &[&[u8]],
    outs: &mut [&mut [u8]],
    width: usize,
) -> (usize, [*mut u8; R]) {
    let mut ptrs = [core::ptr::null_mut(); R];
    let mut len = if outs.len() < R { 0 } else { usize::MAX };
    for (p, o) in ptrs.iter_mut().zip(outs.iter_mut()) {
        *p = o.as_mut_ptr();
        len = len.min(o.len());
    }
    let len = srcs.iter().fold(len, |l, s| l.min(s.len()));
    (len / width, ptrs)
}

#[target_feature(enable = "ssse3")]
fn rows_ssse3<const R: usize>(srcs: &[&[u8]], coefs: &[[u8; R]], outs: &mut [&mut [u8]]) -> usize {
    const W: usize = 16;
    let (blocks, ptrs) = bound::<R>(srcs, outs, W);
    let mask = _mm_set1_epi8(0x0f);
    for b in 0..blocks {
        let off = b * W;
        let mut acc = [_mm_setzero_si128(); R];
        for (src, c) in srcs.iter().zip(coefs) {
            // SAFETY: `off + W <= blocks * W <= src.len()` (`bound` took the
            // minimum over every source), so the 16 bytes read are in `src`.
            let x = unsafe { _mm_loadu_si128(src.as_ptr().add(off).cast::<__m128i>()) };
            let lo = _mm_and_si128(x, mask);
            let hi = _mm_and_si128(_mm_srli_epi64::<4>(x), mask);
            for (a, &cr) in acc.iter_mut().zip(c) {
                #[allow(
                    clippy::indexing_slicing,
                    reason = "a u8 index into a 256-entry table is always in bounds"
                )]
                let t = &NIBBLES[usize::from(cr)];
                // SAFETY: `t` is a `[u8; 32]`; the loads read bytes 0..16
                // and 16..32 of it.
                let (tl, th) = unsafe {
                    (
                        _mm_loadu_si128(t.as_ptr().cast::<__m128i>()),
                        _mm_loadu_si128(t.as_ptr().add(16).cast::<__m128i>()),
                    )
                };
                let p = _mm_xor_si128(_mm_shuffle_epi8(tl, lo), _mm_shuffle_epi8(th, hi));
                *a = _mm_xor_si128(*a, p);
            }
        }
        for (p, a) in ptrs.iter().zip(acc) {
            // SAFETY: `p` is the start of an output of at least
            // `blocks * W >= off + W` bytes (`bound` took the minimum over
            // the `R` outputs, and returned 0 blocks if fewer were given);
            // the outputs are distinct `&mut` slices, borrowed for this call.
            unsafe { _mm_storeu_si128(p.add(off).cast::<__m128i>(), a) };
        }
    }
    blocks * W
}

#[target_feature(enable = "avx2")]
fn rows_avx2<const R: usize>(srcs: &[&[u8]], coefs: &[[u8; R]], outs: &mut [&mut [u8]]) -> usize {
    // Two vectors per step, so each pair of table loads serves 64 bytes.
    const W: usize = 64;
    let (blocks, ptrs) = bound::<R>(srcs, outs, W);
    let mask = _mm256_set1_epi8(0x0f);
    for b in 0..blocks {
        let off = b * W;
        let mut acc = [[_mm256_setzero_si256(); 2]; R];
        for (src, c) in srcs.iter().zip(coefs) {
            // SAFETY: `off + W <= blocks * W <= src.len()` (`bound` took the
            // minimum over every source), so the 2 x 32 bytes read are in
            // `src`.
            let (x0, x1) = unsafe {
                let p = src.as_ptr().add(off);
                (
                    _mm256_loadu_si256(p.cast::<__m256i>()),
                    _mm256_loadu_si256(p.add(32).cast::<__m256i>()),
                )
            };
            let (lo0, lo1) = (_mm256_and_si256(x0, mask), _mm256_and_si256(x1, mask));
            let hi0 = _mm256_and_si256(_mm256_srli_epi64::<4>(x0), mask);
            let hi1 = _mm256_and_si256(_mm256_srli_epi64::<4>(x1), mask);
            for ([a0, a1], &cr) in acc.iter_mut().zip(c) {
                #[allow(
                    clippy::indexing_slicing,
                    reason = "a u8 index into a 256-entry table is always in bounds"
                )]
                let t = &NIBBLES[usize::from(cr)];
                // SAFETY: `t` is a `[u8; 32]`; the loads read bytes 0..16
                // and 16..32 of it.
                let (tl, th) = unsafe {
                    (
                        _mm_loadu_si128(t.as_ptr().cast::<__m128i>()),
                        _mm_loadu_si128(t.as_ptr().add(16).cast::<__m128i>()),
                    )
                };
                let tl = _mm256_broadcastsi128_si256(tl);
                let th = _mm256_broadcastsi128_si256(th);
                let p0 =
                    _mm256_xor_si256(_mm256_shuffle_epi8(tl, lo0), _mm256_shuffle_epi8(th, hi0));
                let p1 =
                    _mm256_xor_si256(_mm256_shuffle_epi8(tl, lo1), _mm256_shuffle_epi8(th, hi1));
                *a0 = _mm256_xor_si256(*a0, p0);
                *a1 = _mm256_xor_si256(*a1, p1);
            }
        }
        for (p, [a0, a1]) in ptrs.iter().zip(acc) {
            // SAFETY: `p` is the start of an output of at least
            // `blocks * W >= off + W` bytes (`bound` took the minimum over
            // the `R` outputs, and returned 0 blocks if fewer were given);
            // the outputs are distinct `&mut` slices, borrowed for this call.
            unsafe {
                _mm256_storeu_si256(p.add(off).cast::<__m256i>(), a0);
                _mm256_storeu_si256(p.add(off + 32).cast::<__m256i>(), a1);
            }
        }
    }
    blocks * W
}

#[target_feature(enable = "gfni,avx2")]
fn rows_gfni<const R: usize>(srcs: &[&[u8]], coefs: &[[u8; R]], outs: &mut [&mut [u8]]) -> usize {
    const W: usize = 32;
    let (blocks, ptrs) = bound::<R>(srcs, outs, W);
    for b in 0..blocks {
        let off = b * W;
        let mut acc = [_mm256_setzero_si256(); R];
        for (src, c) in srcs.iter().zip(coefs) {
            // SAFETY: `off + W <= blocks * W <= src.len()` (`bound` took the
            // minimum over every source), so the 32 bytes read are in `src`.
            let x = unsafe { _mm256_loadu_si256(src.as_ptr().add(off).cast::<__m256i>()) };
            for (a, &cr) in acc.iter_mut().zip(c) {
                #[allow(
                    clippy::indexing_slicing,
                    reason = "a u8 index into a 256-entry table is always in bounds"
                )]
                let m = _mm256_set1_epi64x(AFFINE[usize::from(cr)] as i64);
                *a = _mm256_xor_si256(*a, _mm256_gf2p8affine_epi64_epi8::<0>(x, m));
            }
        }
        for (p, a) in ptrs.iter().zip(acc) {
            // SAFETY: `p` is the start of an output of at least
            // `blocks * W >= off + W` bytes (`bound` took the minimum over
            // the `R` outputs, and returned 0 blocks if fewer were given);
            // the outputs are distinct `&mut` slices, borrowed for this call.
            unsafe { _mm256_storeu_si256(p.add(off).cast::<__m256i>(), a) };
        }
    }
    blocks * W
}

/// `c * x` for every byte of `x`.
#[target_feature(enable = "gfni,avx512f")]
#[inline]
fn mul512(x: __m512i, c: u8) -> __m512i {
    #[allow(
        clippy::indexing_slicing,
        reason = "a u8 index into a 256-entry table is always in bounds"
    )]
    let m = _mm512_set1_epi64(AFFINE[usize::from(c)] as i64);
    _mm512_gf2p8affine_epi64_epi8::<0>(x, m)
}

#[target_feature(enable = "gfni,avx512f,avx512bw")]
fn rows_gfni512<const R: usize>(
    srcs: &[&[u8]],
    coefs: &[[u8; R]],
    outs: &mut [&mut [u8]],
) -> usize {
    const W: usize = 64;
    let (blocks, ptrs) = bound::<R>(srcs, outs, W);
    // Sources in pairs: one three-way XOR adds both products.
    let (src_pairs, src_last) = srcs.as_chunks::<2>();
    let (coef_pairs, coef_last) = coefs.as_chunks::<2>();
    for b in 0..blocks {
        let off = b * W;
        let mut acc = [_mm512_setzero_si512(); R];
        for ([s0, s1], [c0, c1]) in src_pairs.iter().zip(coef_pairs) {
            // SAFETY: `off + W <= blocks * W <= s.len()` for both sources
            // (`bound` took the minimum over every source), so the 64 bytes
            // read from each are in it.
            let (x0, x1) = unsafe {
                (
                    _mm512_loadu_si512(s0.as_ptr().add(off).cast::<__m512i>()),
                    _mm512_loadu_si512(s1.as_ptr().add(off).cast::<__m512i>()),
                )
            };
            for ((a, &k0), &k1) in acc.iter_mut().zip(c0).zip(c1) {
                *a = _mm512_ternarylogic_epi64::<0x96>(*a, mul512(x0, k0), mul512(x1, k1));
            }
        }
        for (src, c) in src_last.iter().zip(coef_last) {
            // SAFETY: `off + W <= blocks * W <= src.len()` (`bound` took the
            // minimum over every source), so the 64 bytes read are in `src`.
            let x = unsafe { _mm512_loadu_si512(src.as_ptr().add(off).cast::<__m512i>()) };
            for (a, &k) in acc.iter_mut().zip(c) {
                *a = _mm512_xor_si512(*a, mul512(x, k));
            }
        }
        for (p, a) in ptrs.iter().zip(acc) {
            // SAFETY: `p` is the start of an output of at least
            // `blocks * W >= off + W` bytes (`bound` took the minimum over
            // the `R` outputs, and returned 0 blocks if fewer were given);
            // the outputs are distinct `&mut` slices, borrowed for this call.
            unsafe { _mm512_storeu_si512(p.add(off).cast::<__m512i>(), a) };
        }
    }
    blocks * W
}
