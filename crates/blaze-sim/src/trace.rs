//! A running hash of everything a run delivered, to prove determinism.

use core::fmt;

/// A 64-bit FNV-1a hash over every delivered datagram, timer, event and
/// fault of a run, each with its virtual time.
///
/// Two runs from the same seed have equal hashes; a different seed almost
/// surely gives a different one.
///
/// ```
/// use blaze_sim::TraceHash;
/// let mut a = TraceHash::new();
/// a.write(b"x");
/// let mut b = TraceHash::new();
/// b.write(b"y");
/// assert_ne!(a.value(), b.value());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceHash(u64);

impl Default for TraceHash {
    fn default() -> Self {
        TraceHash::new()
    }
}

impl TraceHash {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;

    /// The hash of nothing.
    pub const fn new() -> Self {
        TraceHash(Self::OFFSET)
    }

    /// Mixes `bytes` in.
    pub fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(Self::PRIME);
        }
    }

    /// Mixes a length-prefixed `bytes` in (so field boundaries count).
    pub fn write_field(&mut self, bytes: &[u8]) {
        self.write_u64(u64::try_from(bytes.len()).unwrap_or(u64::MAX));
        self.write(bytes);
    }

    /// Mixes a `u64` in.
    pub fn write_u64(&mut self, v: u64) {
        self.write(&v.to_le_bytes());
    }

    /// The hash so far.
    pub const fn value(&self) -> u64 {
        self.0
    }
}

impl fmt::Display for TraceHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}
