//! Arithmetic in GF(2^8), the field of the code's symbols' bytes.
//!
//! The field is `GF(2)[x] / (x^8 + x^4 + x^3 + x^2 + 1)` (`0x11d`), the
//! polynomial of most Reed–Solomon erasure codes; 2 generates its
//! multiplicative group. Addition is XOR. Every table here is built by a
//! `const fn` at compile time, so the crate needs no build script and no
//! start-up initialisation.

/// The reduction polynomial, x^8 + x^4 + x^3 + x^2 + 1.
const POLY: u16 = 0x11d;

/// `EXP[i] = 2^i`, doubled in length so that `EXP[log a + log b]` needs no
/// reduction modulo 255. Used at compile time only, to build the tables.
const EXP: [u8; 512] = exp_table();

/// `LOG[a]` is the discrete logarithm of `a` to base 2; `LOG[0]` is unused.
const LOG: [u8; 256] = log_table();

/// `MUL[a][b] = a * b`: 64 KiB, one lookup per byte in the portable kernel
/// (without `small-tables`); the SIMD tables are derived from it at compile
/// time.
#[cfg(any(
    test,
    not(feature = "small-tables"),
    all(feature = "std", target_arch = "x86_64")
))]
pub(crate) static MUL: [[u8; 256]; 256] = mul_table();

/// `INV[a] = 1 / a`; `INV[0] = 0` (0 has no inverse and is never asked for).
static INV: [u8; 256] = inv_table();

#[allow(
    clippy::indexing_slicing,
    reason = "evaluated at compile time: a bad index fails the build, it cannot panic at run time"
)]
const fn exp_table() -> [u8; 512] {
    let mut t = [0u8; 512];
    let mut x: u16 = 1;
    let mut i = 0;
    while i < 512 {
        t[i] = x as u8;
        x <<= 1;
        if x & 0x100 != 0 {
            x ^= POLY;
        }
        i += 1;
    }
    t
}

#[allow(
    clippy::indexing_slicing,
    reason = "evaluated at compile time: a bad index fails the build, it cannot panic at run time"
)]
const fn log_table() -> [u8; 256] {
    let exp = EXP;
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 255 {
        t[exp[i] as usize] = i as u8;
        i += 1;
    }
    t
}

/// Carry-less multiply and reduce: the definition, the tables' oracle.
#[cfg(test)]
const fn mul_slow(a: u8, b: u8) -> u8 {
    let mut a = a as u16;
    let mut b = b;
    let mut p: u16 = 0;
    while b != 0 {
        if b & 1 != 0 {
            p ^= a;
        }
        a <<= 1;
        if a & 0x100 != 0 {
            a ^= POLY;
        }
        b >>= 1;
    }
    p as u8
}

#[cfg(any(
    test,
    not(feature = "small-tables"),
    all(feature = "std", target_arch = "x86_64")
))]
#[allow(
    clippy::indexing_slicing,
    reason = "evaluated at compile time: a bad index fails the build, it cannot panic at run time"
)]
const fn mul_table() -> [[u8; 256]; 256] {
    let (exp, log) = (EXP, LOG);
    let mut t = [[0u8; 256]; 256];
    let mut a = 1;
    while a < 256 {
        let la = log[a] as usize;
        let mut b = 1;
        while b < 256 {
            t[a][b] = exp[la + log[b] as usize];
            b += 1;
        }
        a += 1;
    }
    t
}

#[allow(
    clippy::indexing_slicing,
    reason = "evaluated at compile time: a bad index fails the build, it cannot panic at run time"
)]
const fn inv_table() -> [u8; 256] {
    let (exp, log) = (EXP, LOG);
    let mut t = [0u8; 256];
    let mut a = 1;
    while a < 256 {
        t[a] = exp[255 - log[a] as usize];
        a += 1;
    }
    t
}

/// `LOG[a]` at run time, for the scalar arithmetic of decoding: 256 bytes
/// that stay in L1 where the 64 KiB product table may not.
static LOGS: [u8; 256] = LOG;

/// `2^i` for `i` in `0..1024`, at run time: long enough that a sum of three
/// logarithms plus 255 needs no reduction.
static EXPS: [u8; 1024] = exp_long();

#[allow(
    clippy::indexing_slicing,
    reason = "evaluated at compile time: a bad index fails the build, it cannot panic at run time"
)]
const fn exp_long() -> [u8; 1024] {
    let mut t = [0u8; 1024];
    let mut i = 0;
    while i < 1024 {
        t[i] = EXP[i % 255];
        i += 1;
    }
    t
}

/// The discrete logarithm of `a` to base 2; `a` must not be 0 (0 gives 0,
/// a wrong but harmless value).
#[inline]
pub(crate) fn log(a: u8) -> u8 {
    #[allow(
        clippy::indexing_slicing,
        reason = "a u8 index into a 256-entry table is always in bounds"
    )]
    LOGS[usize::from(a)]
}

/// `2^i` for any `i`; one lookup when `i < 1024`, as in every caller.
#[inline]
pub(crate) fn exp(i: usize) -> u8 {
    match EXPS.get(i) {
        Some(&v) => v,
        None => EXPS.get(i % 255).copied().unwrap_or(0),
    }
}

/// `a * b` in GF(2^8) (the kernels use [`row`] or [`nibbles`] directly).
#[cfg(test)]
pub(crate) fn mul(a: u8, b: u8) -> u8 {
    #[allow(
        clippy::indexing_slicing,
        reason = "a u8 index into a 256-entry table is always in bounds"
    )]
    row(a)[usize::from(b)]
}

/// `1 / a` in GF(2^8); 0 for 0 (callers never divide by 0: the Cauchy
/// construction only inverts sums of distinct elements).
#[inline]
pub(crate) fn inv(a: u8) -> u8 {
    #[allow(
        clippy::indexing_slicing,
        reason = "a u8 index into a 256-entry table is always in bounds"
    )]
    INV[usize::from(a)]
}

/// The multiplication table row of `c`: `row(c)[x] = c * x`.
#[cfg(any(test, not(feature = "small-tables")))]
#[inline]
pub(crate) fn row(c: u8) -> &'static [u8; 256] {
    #[allow(
        clippy::indexing_slicing,
        reason = "a u8 index into a 256-entry table is always in bounds"
    )]
    &MUL[usize::from(c)]
}

/// `a * b` through the logarithm tables, without the 64 KiB product table.
#[cfg(any(test, feature = "small-tables"))]
#[inline]
fn mul_by_logs(a: u8, b: u8) -> u8 {
    if a == 0 || b == 0 {
        0
    } else {
        exp(usize::from(log(a)) + usize::from(log(b)))
    }
}

/// The split-nibble products of `c`, computed from the logarithm tables:
/// `lo[x] = c * x` and `hi[x] = c * (x << 4)` for `x` in `0..16`, so that
/// `c * b = lo[b & 15] ^ hi[b >> 4]`. 30 multiplications per coefficient;
/// the `small-tables` portable kernel builds them once per coefficient and
/// symbol range, on the stack.
#[cfg(any(test, feature = "small-tables"))]
pub(crate) fn nibbles(c: u8) -> ([u8; 16], [u8; 16]) {
    let lo = core::array::from_fn(|x| mul_by_logs(c, x as u8));
    let hi = core::array::from_fn(|x| mul_by_logs(c, (x as u8) << 4));
    (lo, hi)
}

/// The split-nibble tables of `c` for the `pshufb` kernels: bytes `0..16`
/// hold `c * x` and bytes `16..32` hold `c * (x << 4)` for `x` in `0..16`,
/// so `c * b = lo[b & 15] ^ hi[b >> 4]`.
#[cfg(all(feature = "std", target_arch = "x86_64"))]
pub(crate) static NIBBLES: [[u8; 32]; 256] = nibble_table();

#[cfg(all(feature = "std", target_arch = "x86_64"))]
#[allow(
    clippy::indexing_slicing,
    reason = "evaluated at compile time: a bad index fails the build, it cannot panic at run time"
)]
const fn nibble_table() -> [[u8; 32]; 256] {
    let mut t = [[0u8; 32]; 256];
    let mut c = 0;
    while c < 256 {
        let mut x = 0;
        while x < 16 {
            t[c][x] = MUL[c][x];
            t[c][16 + x] = MUL[c][x << 4];
            x += 1;
        }
        c += 1;
    }
    t
}

/// The GF(2)-linear map `b -> c * b` as the 8x8 bit matrix that GFNI's
/// `gf2p8affineqb` takes: byte `7 - i` of `AFFINE[c]` is the mask of the
/// input bits that output bit `i` sums, i.e. bit `k` of it is bit `i` of
/// `c * 2^k`. (The instruction's own multiply is tied to the AES
/// polynomial; the affine form works for any field representation.)
#[cfg(all(feature = "std", target_arch = "x86_64"))]
pub(crate) static AFFINE: [u64; 256] = affine_table();

#[cfg(all(feature = "std", target_arch = "x86_64"))]
#[allow(
    clippy::indexing_slicing,
    reason = "evaluated at compile time: a bad index fails the build, it cannot panic at run time"
)]
const fn affine_table() -> [u64; 256] {
    let mut t = [0u64; 256];
    let mut c = 0;
    while c < 256 {
        let mut m = 0u64;
        let mut k = 0;
        while k < 8 {
            let p = MUL[c][1 << k];
            let mut i = 0;
            while i < 8 {
                if (p >> i) & 1 != 0 {
                    m |= 1 << (8 * (7 - i) + k);
                }
                i += 1;
            }
            k += 1;
        }
        t[c] = m;
        c += 1;
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_products() {
        // 0x11d field: 2 * 0x80 wraps through the polynomial.
        assert_eq!(mul(2, 0x80), 0x1d);
        assert_eq!(mul(0x53, 0xca), mul_slow(0x53, 0xca));
        assert_eq!(mul(3, 7), 9);
        assert_eq!(mul(0xff, 0xff), 0xe2);
        // 2 generates the group: its powers run through all 255 non-zero
        // elements before returning to 1.
        assert_eq!(EXP[255], 1);
        let mut seen = [false; 256];
        for &e in EXP.iter().take(255) {
            assert!(!seen[usize::from(e)]);
            seen[usize::from(e)] = true;
        }
        assert!(!seen[0]);
    }

    #[test]
    fn logs_and_powers_agree() {
        for a in 1..=255u8 {
            assert_eq!(exp(usize::from(log(a))), a);
            assert_eq!(exp(usize::from(log(a)) + 255 * 3), a);
            for b in 1..=255u8 {
                assert_eq!(exp(usize::from(log(a)) + usize::from(log(b))), mul(a, b));
            }
        }
    }

    #[test]
    fn table_matches_definition() {
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                assert_eq!(mul(a, b), mul_slow(a, b), "{a} * {b}");
            }
        }
    }

    #[test]
    fn field_identities() {
        for a in 0..=255u8 {
            assert_eq!(mul(a, 0), 0);
            assert_eq!(mul(a, 1), a);
            if a != 0 {
                assert_eq!(mul(a, inv(a)), 1, "a * inv(a) for {a}");
                assert_eq!(inv(inv(a)), a);
            }
            for b in 0..=255u8 {
                assert_eq!(mul(a, b), mul(b, a));
            }
        }
        // Distributivity and associativity on a sample grid.
        for a in (0..=255u8).step_by(7) {
            for b in (0..=255u8).step_by(11) {
                for c in (0..=255u8).step_by(13) {
                    assert_eq!(mul(a, b ^ c), mul(a, b) ^ mul(a, c));
                    assert_eq!(mul(mul(a, b), c), mul(a, mul(b, c)));
                }
            }
        }
    }

    #[test]
    fn computed_nibbles_split_products() {
        for c in 0..=255u8 {
            assert_eq!(mul_by_logs(c, 0), 0);
            let (lo, hi) = nibbles(c);
            for b in 0..=255u8 {
                let p = lo[usize::from(b & 15)] ^ hi[usize::from(b >> 4)];
                assert_eq!(p, mul_slow(c, b), "{c} * {b}");
                assert_eq!(mul_by_logs(c, b), mul_slow(c, b), "{c} * {b}");
            }
        }
    }

    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    #[test]
    fn nibble_tables_split_products() {
        for c in 0..=255u8 {
            let t = &NIBBLES[usize::from(c)];
            for b in 0..=255u8 {
                let lo = t[usize::from(b & 15)];
                let hi = t[16 + usize::from(b >> 4)];
                assert_eq!(lo ^ hi, mul(c, b));
            }
        }
    }
}
