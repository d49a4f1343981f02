//! CRC-32C (Castagnoli), the check a sender attaches to a block so that a
//! receiver can tell a good reconstruction from one built on corrupted
//! parity.

/// The reflected Castagnoli polynomial, 0x1EDC6F41 bit-reversed.
const POLY: u32 = 0x82f6_3b78;

/// Slicing-by-8 tables (8 KiB): `TABLES[0]` is the classic byte table, and
/// `TABLES[n][b]` is the CRC of byte `b` followed by `n` zero bytes.
#[cfg(any(test, not(feature = "small-tables")))]
static TABLES: [[u32; 256]; 8] = tables();

#[cfg(any(test, not(feature = "small-tables")))]
#[allow(
    clippy::indexing_slicing,
    reason = "evaluated at compile time: a bad index fails the build, it cannot panic at run time"
)]
const fn tables() -> [[u32; 256]; 8] {
    let mut t = [[0u32; 256]; 8];
    let mut b = 0;
    while b < 256 {
        let mut c = b as u32;
        let mut i = 0;
        while i < 8 {
            c = if c & 1 != 0 { (c >> 1) ^ POLY } else { c >> 1 };
            i += 1;
        }
        t[0][b] = c;
        b += 1;
    }
    let mut n = 1;
    while n < 8 {
        let mut b = 0;
        while b < 256 {
            let prev = t[n - 1][b];
            t[n][b] = (prev >> 8) ^ t[0][(prev & 0xff) as usize];
            b += 1;
        }
        n += 1;
    }
    t
}

/// The nibble table (64 bytes): `NIBBLE[n]` is the CRC step of the four
/// bits `n`, two lookups per byte.
#[cfg(any(test, feature = "small-tables"))]
static NIBBLE: [u32; 16] = nibble_table();

#[cfg(any(test, feature = "small-tables"))]
#[allow(
    clippy::indexing_slicing,
    reason = "evaluated at compile time: a bad index fails the build, it cannot panic at run time"
)]
const fn nibble_table() -> [u32; 16] {
    let mut t = [0u32; 16];
    let mut n = 0;
    while n < 16 {
        let mut c = n as u32;
        let mut i = 0;
        while i < 4 {
            c = if c & 1 != 0 { (c >> 1) ^ POLY } else { c >> 1 };
            i += 1;
        }
        t[n] = c;
        n += 1;
    }
    t
}

/// Feeds `bytes` to the running state `c`, eight bytes per step through
/// the slicing-by-8 tables.
#[cfg(any(test, not(feature = "small-tables")))]
fn update_sliced(mut c: u32, bytes: &[u8]) -> u32 {
    #[allow(
        clippy::indexing_slicing,
        reason = "u8 indices into 256-entry tables are always in bounds"
    )]
    let t = |n: usize, b: u32| TABLES[n & 7][(b & 0xff) as usize];
    let (words, tail) = bytes.as_chunks::<8>();
    for w in words {
        let lo = c ^ u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
        let hi = u32::from_le_bytes([w[4], w[5], w[6], w[7]]);
        c = t(7, lo)
            ^ t(6, lo >> 8)
            ^ t(5, lo >> 16)
            ^ t(4, lo >> 24)
            ^ t(3, hi)
            ^ t(2, hi >> 8)
            ^ t(1, hi >> 16)
            ^ t(0, hi >> 24);
    }
    for &b in tail {
        c = (c >> 8) ^ t(0, c ^ u32::from(b));
    }
    c
}

/// Feeds `bytes` to the running state `c`, four bits per lookup in the
/// 16-entry table.
#[cfg(any(test, feature = "small-tables"))]
fn update_nibbles(mut c: u32, bytes: &[u8]) -> u32 {
    #[allow(
        clippy::indexing_slicing,
        reason = "a nibble index into a 16-entry table is always in bounds"
    )]
    let t = |b: u32| NIBBLE[(b & 15) as usize];
    for &b in bytes {
        c ^= u32::from(b);
        c = (c >> 4) ^ t(c);
        c = (c >> 4) ^ t(c);
    }
    c
}

/// A running CRC-32C over data fed in pieces, e.g. the data symbols of a
/// block one by one.
///
/// ```
/// use blaze_fec::{crc32c, Crc32c};
/// let symbols: [&[u8]; 3] = [b"1234", b"5678", b"9"];
/// let mut crc = Crc32c::new();
/// for s in symbols {
///     crc.update(s);
/// }
/// assert_eq!(crc.finish(), crc32c(b"123456789"));
/// assert_eq!(crc.finish(), 0xe306_9283);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Crc32c {
    state: u32,
}

impl Default for Crc32c {
    fn default() -> Self {
        Self::new()
    }
}

impl Crc32c {
    /// A CRC over no bytes yet.
    pub const fn new() -> Self {
        Crc32c { state: !0 }
    }

    /// Feeds `bytes`.
    pub fn update(&mut self, bytes: &[u8]) {
        #[cfg(not(feature = "small-tables"))]
        let update = update_sliced;
        #[cfg(feature = "small-tables")]
        let update = update_nibbles;
        self.state = update(self.state, bytes);
    }

    /// The CRC of every byte fed so far (feeding may go on afterwards).
    #[must_use]
    pub const fn finish(&self) -> u32 {
        !self.state
    }
}

/// The CRC-32C of `bytes` (the iSCSI / SCTP / ext4 checksum): `"123456789"`
/// gives `0xE3069283`.
///
/// ```
/// assert_eq!(blaze_fec::crc32c(b""), 0);
/// assert_eq!(blaze_fec::crc32c(b"123456789"), 0xe306_9283);
/// ```
#[must_use]
pub fn crc32c(bytes: &[u8]) -> u32 {
    let mut c = Crc32c::new();
    c.update(bytes);
    c.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bit at a time, straight from the definition.
    fn reference(bytes: &[u8]) -> u32 {
        let mut c = !0u32;
        for &b in bytes {
            c ^= u32::from(b);
            for _ in 0..8 {
                c = if c & 1 != 0 { (c >> 1) ^ POLY } else { c >> 1 };
            }
        }
        !c
    }

    #[test]
    fn known_vectors() {
        assert_eq!(crc32c(b"123456789"), 0xe306_9283);
        // RFC 3720 (iSCSI) B.4: 32 bytes of zeros, of ones, increasing.
        assert_eq!(crc32c(&[0u8; 32]), 0x8a91_36aa);
        assert_eq!(crc32c(&[0xffu8; 32]), 0x62a8_ab43);
        let inc: [u8; 32] = core::array::from_fn(|i| i as u8);
        assert_eq!(crc32c(&inc), 0x46dd_794e);
    }

    #[test]
    fn sliced_matches_bitwise_at_every_split() {
        let data: [u8; 67] = core::array::from_fn(|i| (i as u8).wrapping_mul(37) ^ 0x5a);
        for len in 0..data.len() {
            assert_eq!(crc32c(&data[..len]), reference(&data[..len]));
            for cut in 0..=len {
                let mut c = Crc32c::new();
                c.update(&data[..cut]);
                c.update(&data[cut..len]);
                assert_eq!(c.finish(), reference(&data[..len]));
            }
        }
    }

    /// Both table variants agree with the definition, whichever one
    /// [`Crc32c`] is built with.
    #[test]
    fn table_variants_match_bitwise() {
        let data: [u8; 67] = core::array::from_fn(|i| (i as u8).wrapping_mul(91) ^ 0xc3);
        for len in 0..data.len() {
            let want = reference(&data[..len]);
            assert_eq!(!update_sliced(!0, &data[..len]), want);
            assert_eq!(!update_nibbles(!0, &data[..len]), want);
        }
    }
}
