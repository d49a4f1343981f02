//! Member identity.

use core::fmt;

/// A member's globally unique 128-bit id.
///
/// Ids are drawn from the caller's random source when a member is created
/// ([`MemberId::from_random`]); on the wire they are exactly 16 bytes,
/// big-endian. Ordering is by the numeric value, which Totem uses to pick a
/// ring representative.
///
/// ```
/// use blaze_wire::MemberId;
/// let id = MemberId::from_u128(0x0123_4567_89ab_cdef_0011_2233_4455_6677);
/// assert_eq!(MemberId::from_bytes(id.to_bytes()), id);
/// assert_eq!(MemberId::from_slice(&id.to_bytes()[..]), Some(id));
/// assert_eq!(MemberId::from_slice(&[1, 2, 3]), None);
/// ```
#[derive(Clone, Copy, Eq, PartialOrd, Ord, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct MemberId(u128);

/// Equality of the 128-bit ids, as derived; out of line on 32-bit targets,
/// where each comparison inlined is four word compares (ids are compared
/// in every table look-up: a call is about a third of the code).
impl PartialEq for MemberId {
    #[cfg_attr(target_pointer_width = "32", inline(never))]
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

/// Hashes the id, as derived (written out beside the equality it must
/// agree with).
impl core::hash::Hash for MemberId {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl MemberId {
    /// Length of an id on the wire.
    pub const LEN: usize = 16;
    /// The all-zero id, never assigned to a member.
    pub const NIL: MemberId = MemberId(0);

    /// An id from its numeric value.
    pub const fn from_u128(v: u128) -> Self {
        MemberId(v)
    }

    /// A fresh id from 16 random bytes supplied by the caller's RNG. The
    /// all-zero pattern is mapped to 1 so that [`MemberId::NIL`] stays free.
    pub const fn from_random(bytes: [u8; 16]) -> Self {
        let v = u128::from_be_bytes(bytes);
        MemberId(if v == 0 { 1 } else { v })
    }

    /// An id from its 16 wire bytes.
    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        MemberId(u128::from_be_bytes(bytes))
    }

    /// An id from a wire slice, or `None` unless it is exactly 16 bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        let arr: [u8; 16] = bytes.try_into().ok()?;
        Some(MemberId::from_bytes(arr))
    }

    /// The 16 wire bytes.
    pub const fn to_bytes(self) -> [u8; 16] {
        self.0.to_be_bytes()
    }

    /// The numeric value.
    pub const fn as_u128(self) -> u128 {
        self.0
    }

    /// True for [`MemberId::NIL`].
    pub const fn is_nil(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Debug for MemberId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MemberId({self})")
    }
}

/// Shows the first 8 hex digits, enough to tell members apart in logs;
/// `{:#}` shows all 32.
impl fmt::Display for MemberId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if f.alternate() {
            write!(f, "{:032x}", self.0)
        } else {
            write!(f, "{:08x}", (self.0 >> 96) as u32)
        }
    }
}
