//! Group identity.

use core::fmt;

/// A group's 64-bit id: the FNV-1a hash of its name.
///
/// Frames carry only the id; `Join` frames also carry the name, so a
/// receiver can detect (and count) a collision.
///
/// ```
/// use blaze_wire::GroupId;
/// let g = GroupId::from_name("prices");
/// assert_eq!(g, GroupId::from_name("prices"));
/// assert_ne!(g, GroupId::from_name("orders"));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct GroupId(u64);

impl GroupId {
    /// The id of a group name.
    pub const fn from_name(name: &str) -> Self {
        let mut rest = name.as_bytes();
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        while let [byte, tail @ ..] = rest {
            hash ^= *byte as u64;
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
            rest = tail;
        }
        GroupId(hash)
    }

    /// An id from its raw value.
    pub const fn from_raw(raw: u64) -> Self {
        GroupId(raw)
    }

    /// The raw value, as carried in `Frame.group`.
    pub const fn raw(self) -> u64 {
        self.0
    }
}

impl fmt::Debug for GroupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GroupId({:016x})", self.0)
    }
}

impl fmt::Display for GroupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_reference_vectors() {
        assert_eq!(GroupId::from_name("").raw(), 0xcbf2_9ce4_8422_2325);
        assert_eq!(GroupId::from_name("a").raw(), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(GroupId::from_name("foobar").raw(), 0x8594_4171_f739_67e8);
    }
}
