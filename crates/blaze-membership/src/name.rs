//! Bounded, `Copy` names and metadata.

use core::fmt;

/// Longest member, group or queue name, in bytes.
pub const MAX_NAME: usize = 32;

/// Largest member metadata (an encoded `BlazeMessage`), in bytes.
pub const MAX_METADATA: usize = 64;

/// A UTF-8 name of at most [`MAX_NAME`] bytes, stored inline.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Name {
    len: u8,
    bytes: [u8; MAX_NAME],
}

impl Name {
    /// Copies `s`; `None` if it is longer than [`MAX_NAME`].
    pub fn new(s: &str) -> Option<Self> {
        let mut bytes = [0u8; MAX_NAME];
        bytes.get_mut(..s.len())?.copy_from_slice(s.as_bytes());
        Some(Name {
            len: u8::try_from(s.len()).ok()?,
            bytes,
        })
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        let b = self.bytes.get(..usize::from(self.len)).unwrap_or(&[]);
        core::str::from_utf8(b).unwrap_or("")
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Opaque member metadata of at most [`MAX_METADATA`] bytes (an encoded
/// `BlazeMessage` on the wire), stored inline.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Metadata {
    len: u8,
    bytes: [u8; MAX_METADATA],
}

impl Default for Metadata {
    fn default() -> Self {
        Metadata {
            len: 0,
            bytes: [0; MAX_METADATA],
        }
    }
}

impl Metadata {
    /// Copies `b`; `None` if it is longer than [`MAX_METADATA`].
    pub fn new(b: &[u8]) -> Option<Self> {
        let mut bytes = [0u8; MAX_METADATA];
        bytes.get_mut(..b.len())?.copy_from_slice(b);
        Some(Metadata {
            len: u8::try_from(b.len()).ok()?,
            bytes,
        })
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or(&[])
    }
}

impl fmt::Debug for Metadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Metadata({} bytes)", self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded() {
        assert_eq!(Name::new("chat").unwrap().as_str(), "chat");
        assert!(Name::new(&"x".repeat(MAX_NAME + 1)).is_none());
        assert_eq!(Metadata::new(&[1, 2]).unwrap().as_bytes(), &[1, 2]);
        assert!(Metadata::new(&[0; MAX_METADATA + 1]).is_none());
    }
}
