//! The one loop of the codec: output symbols as GF(2^8) combinations of input
//! symbols, and the choice of the implementation that runs it.

use crate::gf256;

#[cfg(all(feature = "std", target_arch = "x86_64"))]
use crate::simd;

/// An implementation of the symbol arithmetic.
///
/// Every backend gives identical bytes; they differ only in speed.
/// [`Codec::new`](crate::Codec::new) picks the fastest one the CPU has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Backend {
    /// Table lookups, one byte at a time: every target, no `unsafe`.
    Portable,
    /// 16 bytes at a time with SSSE3 `pshufb` (x86_64, feature `std`).
    Ssse3,
    /// 32 bytes at a time with AVX2 `vpshufb` (x86_64, feature `std`).
    Avx2,
    /// 32 bytes at a time with GFNI `vgf2p8affineqb`, one instruction per
    /// product, on AVX2 registers (x86_64, feature `std`).
    Gfni,
    /// 64 bytes at a time with GFNI `vgf2p8affineqb` on AVX-512 registers
    /// (x86_64, feature `std`).
    Gfni512,
}

impl core::fmt::Display for Backend {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Backend::Portable => "portable",
            Backend::Ssse3 => "ssse3",
            Backend::Avx2 => "avx2",
            Backend::Gfni => "gfni",
            Backend::Gfni512 => "gfni-avx512",
        })
    }
}

/// A backend that is known to run on this CPU: the SIMD variants hold a
/// token that only exists once the CPU feature was detected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kernel {
    Portable,
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    Ssse3(simd::Ssse3),
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    Avx2(simd::Avx2),
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    Gfni(simd::Gfni),
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    Gfni512(simd::Gfni512),
}

impl Kernel {
    /// The fastest kernel this CPU runs.
    pub(crate) fn detect() -> Self {
        #[cfg(all(feature = "std", target_arch = "x86_64"))]
        {
            if let Some(t) = simd::Gfni512::detect() {
                return Kernel::Gfni512(t);
            }
            if let Some(t) = simd::Gfni::detect() {
                return Kernel::Gfni(t);
            }
            if let Some(t) = simd::Avx2::detect() {
                return Kernel::Avx2(t);
            }
            if let Some(t) = simd::Ssse3::detect() {
                return Kernel::Ssse3(t);
            }
        }
        Kernel::Portable
    }

    /// The kernel for `backend`, if this build and this CPU have it.
    pub(crate) fn for_backend(backend: Backend) -> Option<Self> {
        match backend {
            Backend::Portable => Some(Kernel::Portable),
            #[cfg(all(feature = "std", target_arch = "x86_64"))]
            Backend::Ssse3 => simd::Ssse3::detect().map(Kernel::Ssse3),
            #[cfg(all(feature = "std", target_arch = "x86_64"))]
            Backend::Avx2 => simd::Avx2::detect().map(Kernel::Avx2),
            #[cfg(all(feature = "std", target_arch = "x86_64"))]
            Backend::Gfni => simd::Gfni::detect().map(Kernel::Gfni),
            #[cfg(all(feature = "std", target_arch = "x86_64"))]
            Backend::Gfni512 => simd::Gfni512::detect().map(Kernel::Gfni512),
            #[cfg(not(all(feature = "std", target_arch = "x86_64")))]
            Backend::Ssse3 | Backend::Avx2 | Backend::Gfni | Backend::Gfni512 => None,
        }
    }

    /// The public name of this kernel.
    pub(crate) fn backend(self) -> Backend {
        match self {
            Kernel::Portable => Backend::Portable,
            #[cfg(all(feature = "std", target_arch = "x86_64"))]
            Kernel::Ssse3(_) => Backend::Ssse3,
            #[cfg(all(feature = "std", target_arch = "x86_64"))]
            Kernel::Avx2(_) => Backend::Avx2,
            #[cfg(all(feature = "std", target_arch = "x86_64"))]
            Kernel::Gfni(_) => Backend::Gfni,
            #[cfg(all(feature = "std", target_arch = "x86_64"))]
            Kernel::Gfni512(_) => Backend::Gfni512,
        }
    }

    /// `outputs[r] = sum over j < cols of coef(r, j) * input(j)`.
    ///
    /// Works over the length of the shortest slice involved (the codec
    /// passes slices of one length); bytes of an output past that length are
    /// left as they were. Never panics.
    #[inline]
    pub(crate) fn run<'a, I, C>(self, cols: usize, input: &I, coef: &C, outputs: &mut [&mut [u8]])
    where
        I: Fn(usize) -> &'a [u8],
        C: Fn(usize, usize) -> u8,
    {
        match self {
            Kernel::Portable => {
                let len = common_len(cols, input, outputs);
                portable(cols, input, coef, outputs, 0, len);
            }
            #[cfg(all(feature = "std", target_arch = "x86_64"))]
            Kernel::Ssse3(t) => simd::run(t, cols, input, coef, outputs),
            #[cfg(all(feature = "std", target_arch = "x86_64"))]
            Kernel::Avx2(t) => simd::run(t, cols, input, coef, outputs),
            #[cfg(all(feature = "std", target_arch = "x86_64"))]
            Kernel::Gfni(t) => simd::run(t, cols, input, coef, outputs),
            #[cfg(all(feature = "std", target_arch = "x86_64"))]
            Kernel::Gfni512(t) => simd::run(t, cols, input, coef, outputs),
        }
    }
}

/// The length of the shortest of the `cols` inputs and the outputs.
pub(crate) fn common_len<'a, I>(cols: usize, input: &I, outputs: &[&mut [u8]]) -> usize
where
    I: Fn(usize) -> &'a [u8],
{
    let out = outputs.iter().map(|o| o.len()).min().unwrap_or(0);
    (0..cols).map(|j| input(j).len()).fold(out, usize::min)
}

/// The table-driven kernel over bytes `start..end` of every symbol: one
/// lookup in the 256-byte product row of the coefficient per byte, or with
/// `small-tables` two lookups in its 16-entry nibble products.
pub(crate) fn portable<'a, I, C>(
    cols: usize,
    input: &I,
    coef: &C,
    outputs: &mut [&mut [u8]],
    start: usize,
    end: usize,
) where
    I: Fn(usize) -> &'a [u8],
    C: Fn(usize, usize) -> u8,
{
    #[cfg(not(feature = "small-tables"))]
    let mul_add = product_row;
    #[cfg(feature = "small-tables")]
    let mul_add = product_nibbles;
    for (r, out) in outputs.iter_mut().enumerate() {
        let Some(out) = out.get_mut(start..end) else {
            continue;
        };
        out.fill(0);
        for j in 0..cols {
            let src = input(j).get(start..end).unwrap_or(&[]);
            match coef(r, j) {
                0 => {}
                1 => out.iter_mut().zip(src).for_each(|(o, s)| *o ^= s),
                c => mul_add(c, src, out),
            }
        }
    }
}

/// `out ^= c * src`, one lookup per byte in the 64 KiB product table.
#[cfg(any(test, not(feature = "small-tables")))]
fn product_row(c: u8, src: &[u8], out: &mut [u8]) {
    let t = gf256::row(c);
    #[allow(
        clippy::indexing_slicing,
        reason = "a u8 index into a 256-entry table is always in bounds"
    )]
    out.iter_mut()
        .zip(src)
        .for_each(|(o, &s)| *o ^= t[usize::from(s)]);
}

/// `out ^= c * src`, two lookups per byte in the nibble products of `c`.
#[cfg(any(test, feature = "small-tables"))]
fn product_nibbles(c: u8, src: &[u8], out: &mut [u8]) {
    let (lo, hi) = gf256::nibbles(c);
    #[allow(
        clippy::indexing_slicing,
        reason = "a nibble index into a 16-entry table is always in bounds"
    )]
    out.iter_mut()
        .zip(src)
        .for_each(|(o, &s)| *o ^= lo[usize::from(s & 15)] ^ hi[usize::from(s >> 4)]);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both table variants give the same products, whichever one the
    /// portable kernel is built with.
    #[test]
    fn product_variants_agree() {
        let src: [u8; 256] = core::array::from_fn(|i| i as u8);
        for c in 0..=255u8 {
            let mut a = [0x5au8; 256];
            let mut b = a;
            product_row(c, &src, &mut a);
            product_nibbles(c, &src, &mut b);
            assert_eq!(a, b, "coefficient {c}");
            for (i, &x) in a.iter().enumerate() {
                assert_eq!(x ^ 0x5a, gf256::mul(c, i as u8));
            }
        }
    }
}
