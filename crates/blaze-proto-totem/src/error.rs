//! Errors of the commands.

use core::fmt;

/// [`Totem::send`](crate::Totem::send) refused a message; nothing was
/// queued and no state changed (except a counter in the stats).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum SendError {
    /// The send queue (or, for a message larger than
    /// [`INLINE`](crate::INLINE), the pool of large messages) is full
    /// (back-pressure): retry after the token has visited this member and
    /// taken queued messages onto the ring.
    WouldBlock,
    /// The payload is longer than [`Totem::MAX_PAYLOAD`](crate::Totem::MAX_PAYLOAD).
    TooLarge,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SendError::WouldBlock => "send queue full",
            SendError::TooLarge => "payload larger than a message slot",
        })
    }
}

impl core::error::Error for SendError {}
