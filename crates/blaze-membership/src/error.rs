//! Errors of the membership commands.

use core::fmt;

/// Why [`join`](crate::Membership::join) or [`leave`](crate::Membership::leave)
/// was refused. Nothing changed in every case.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupError {
    /// All group slots are in use.
    TooManyGroups,
    /// The group name is longer than [`MAX_NAME`](crate::MAX_NAME).
    NameTooLong,
    /// This member already is in (or joining) the group.
    AlreadyJoined,
    /// This member is not in the group.
    NotJoined,
}

impl fmt::Display for GroupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GroupError::TooManyGroups => "too many groups",
            GroupError::NameTooLong => "group name too long",
            GroupError::AlreadyJoined => "already in the group",
            GroupError::NotJoined => "not in the group",
        })
    }
}

impl core::error::Error for GroupError {}

/// Why a message, request, reply or queue operation was refused. Nothing
/// was sent and no state changed in every case.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendError {
    /// The destination member is not known to be alive.
    UnknownMember,
    /// This member has no installed view of the group.
    NotInGroup,
    /// The payload is larger than a storage slot.
    PayloadTooLarge,
    /// Every storage slot is busy (outgoing messages awaiting acks,
    /// undelivered inbound messages, queue messages).
    StorageFull,
    /// The queue name is longer than [`MAX_NAME`](crate::MAX_NAME) or empty.
    BadQueueName,
    /// The table of pending requests or of subscriptions is full.
    TooManyPending,
    /// The delivery is unknown or was already acknowledged.
    UnknownDelivery,
    /// This build leaves point-to-point messages, requests, replies and
    /// queues out (feature `messaging`).
    NotBuiltIn,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SendError::UnknownMember => "unknown member",
            SendError::NotInGroup => "not in the group",
            SendError::PayloadTooLarge => "payload too large",
            SendError::StorageFull => "message storage full",
            SendError::BadQueueName => "bad queue name",
            SendError::TooManyPending => "too many pending requests or subscriptions",
            SendError::UnknownDelivery => "unknown delivery",
            SendError::NotBuiltIn => "messaging not built in (feature `messaging`)",
        })
    }
}

impl core::error::Error for SendError {}
