//! Errors of the commands.

use core::fmt;

/// [`Endpoint::send`](crate::Endpoint::send) refused a message; nothing was
/// queued and no state changed (except the `would_block` counter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum SendError {
    /// The retransmit window is full: receivers have not yet acknowledged
    /// enough. Retry after the endpoint has processed input (back-pressure).
    WouldBlock,
    /// The message is larger than `Config::max_message_len` or than the
    /// send buffers can ever hold.
    TooLarge,
    /// The topic is longer than [`MAX_TOPIC_LEN`](crate::MAX_TOPIC_LEN).
    TopicTooLong,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SendError::WouldBlock => "send window full",
            SendError::TooLarge => "message larger than the send window can hold",
            SendError::TopicTooLong => "topic name too long",
        })
    }
}

impl core::error::Error for SendError {}

/// [`Endpoint::add_peer`](crate::Endpoint::add_peer) found the peer table
/// full; nothing changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct PeerTableFull;

impl fmt::Display for PeerTableFull {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("peer table full")
    }
}

impl core::error::Error for PeerTableFull {}
