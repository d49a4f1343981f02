//! The interface of the ring-ordered mode ([`Ordering::Totem`](crate::Ordering::Totem)):
//! what the replica hands to the ring and what the ring tells it.

/// An operation to broadcast in total order, written into the caller's
/// buffer by [`Replica::poll_ordered_submit`](crate::Replica::poll_ordered_submit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Submit {
    /// Bytes written (one `Frame` of `proto/blaze.proto`).
    pub len: usize,
    /// Submit with safe delivery (else agreed).
    pub safe: bool,
}

/// The kind of a configuration the ring installed (extended virtual
/// synchrony).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RingConfiguration {
    /// The members of the old ring that move on together; messages
    /// delivered after it (and before the next regular configuration) were
    /// sent on the old ring.
    Transitional,
    /// A new ring; messages delivered after it were sent on it.
    Regular,
}
