//! What a member reports to the application.

use blaze_wire::{MemberId, RingId};

/// Whether a configuration is a regular ring or the transitional
/// configuration between two rings (extended virtual synchrony).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ConfigurationKind {
    /// A ring was installed; messages that follow were sent on it.
    Regular,
    /// The members of the old ring that move on together to the new one.
    /// Messages of the old ring delivered after this event could not be
    /// delivered with the old ring's guarantees (a member left), but every
    /// member of the transitional configuration delivers the same ones.
    Transitional,
}

/// An event for the application, borrowed from the member's storage.
///
/// Events come out in the order extended virtual synchrony prescribes: the
/// messages of the old ring that could be delivered there, then a
/// [`Transitional`](ConfigurationKind::Transitional) configuration, the
/// recovered messages of the old ring delivered in it, then the
/// [`Regular`](ConfigurationKind::Regular) configuration of the new ring
/// and its messages.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Event<'a> {
    /// A message, in total order.
    Deliver {
        /// The member that sent it.
        sender: MemberId,
        /// Its sequence number on the ring it was sent on.
        seq: u64,
        /// True when it was sent with [`Qos::Safe`](crate::Qos::Safe) and is
        /// known to be held by every member of the current configuration.
        safe: bool,
        /// The topic it was sent on ([`Totem::send_topic`](crate::Totem::send_topic);
        /// empty for [`Totem::send`](crate::Totem::send)).
        topic: &'a str,
        /// The payload.
        payload: &'a [u8],
    },
    /// A new configuration.
    ConfigurationChange {
        /// Regular or transitional.
        kind: ConfigurationKind,
        /// The ring (for a transitional configuration: the new ring it
        /// leads to).
        ring: RingId,
        /// The members, in ascending id order.
        members: &'a [MemberId],
    },
}
