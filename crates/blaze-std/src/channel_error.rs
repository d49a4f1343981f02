//! What can go wrong with a channel operation.

use std::fmt;

use blaze_node::{MemberId, Qos};

use crate::{Lifecycle, SocketError, Transition};

/// Why a channel operation failed. Each variant says whether anything
/// changed.
#[derive(Debug)]
#[non_exhaustive]
pub enum ChannelError {
    /// The operation needs a started channel (for instance a send before
    /// `start`, or after `stop`). Nothing was sent.
    NotStarted {
        /// The state the channel is in.
        state: Lifecycle,
    },
    /// The life-cycle step is not allowed from the current state; the
    /// state did not change.
    Lifecycle(Transition),
    /// The payload is larger than the channel carries; nothing was sent.
    PayloadTooLarge {
        /// The payload's length.
        len: usize,
        /// The largest accepted.
        max: usize,
    },
    /// A topic, group, queue or map name is too long or empty; nothing
    /// was sent.
    BadName {
        /// What kind of name.
        what: &'static str,
        /// The longest accepted.
        max: usize,
    },
    /// The topic is reserved for the stack's own traffic (names starting
    /// with `blaze.`); nothing was sent.
    ReservedTopic(String),
    /// The member is not known to this node (not in any of its groups'
    /// views); nothing was sent.
    UnknownMember(MemberId),
    /// This member is not in the group (join it first); nothing changed.
    NotInGroup(String),
    /// The node is already in as many groups as it can be.
    TooManyGroups,
    /// The topic's quality of service is not built yet.
    QosUnavailable(Qos),
    /// No answer within the time allowed. A request may still be answered
    /// later (the answer is dropped); a write may still complete.
    Timeout,
    /// The send window or message storage stayed full for too long;
    /// nothing was sent.
    Backpressure,
    /// The replicated map refused or failed the operation.
    Map(String),
    /// The remote member answered a request with an error code.
    Remote {
        /// The code (non-zero).
        code: u32,
    },
    /// The sockets could not be opened; the channel stays constructed.
    Socket(SocketError),
    /// The node's settings are inconsistent; nothing changed.
    Config(String),
    /// The queue delivery was already acknowledged or is unknown.
    UnknownDelivery,
    /// The channel's task ended (shut down, or its runtime stopped).
    Closed,
}

impl fmt::Display for ChannelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChannelError::NotStarted { state } => {
                write!(f, "the channel is {state}: call start() before sending")
            }
            ChannelError::Lifecycle(t) => write!(f, "{t}"),
            ChannelError::PayloadTooLarge { len, max } => write!(
                f,
                "payload of {len} bytes is over the maximum of {max} bytes; split it"
            ),
            ChannelError::BadName { what, max } => {
                write!(f, "{what} name must be 1 to {max} bytes long")
            }
            ChannelError::ReservedTopic(topic) => write!(
                f,
                "topic {topic:?} is reserved for the stack (names starting with {:?}): pick another",
                blaze_node::RESERVED_TOPIC_PREFIX
            ),
            ChannelError::UnknownMember(id) => write!(
                f,
                "member {id} is not known here (not in the view of any group this member joined)"
            ),
            ChannelError::NotInGroup(group) => {
                write!(f, "not a member of group {group:?}: join it first")
            }
            ChannelError::TooManyGroups => write!(
                f,
                "already in {} groups, the most one node holds: leave one first",
                crate::engine::MAX_GROUPS
            ),
            ChannelError::QosUnavailable(qos) => write!(
                f,
                "quality of service {qos} is not available; use reliable or best-effort"
            ),
            ChannelError::Timeout => f.write_str("no answer in time"),
            ChannelError::Backpressure => {
                f.write_str("the send window stayed full (receivers too slow, or none reachable)")
            }
            ChannelError::Map(e) => write!(f, "replicated map: {e}"),
            ChannelError::Remote { code } => write!(f, "the member answered with error {code}"),
            ChannelError::Socket(e) => write!(f, "{e}"),
            ChannelError::Config(e) => write!(f, "configuration: {e}"),
            ChannelError::UnknownDelivery => {
                f.write_str("unknown queue delivery (already acknowledged?)")
            }
            ChannelError::Closed => f.write_str("the channel is closed"),
        }
    }
}

impl std::error::Error for ChannelError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ChannelError::Socket(e) => Some(e),
            ChannelError::Lifecycle(t) => Some(t),
            _ => None,
        }
    }
}

impl From<SocketError> for ChannelError {
    fn from(e: SocketError) -> Self {
        ChannelError::Socket(e)
    }
}

impl From<Transition> for ChannelError {
    fn from(t: Transition) -> Self {
        ChannelError::Lifecycle(t)
    }
}

impl From<crate::runner::Gone> for ChannelError {
    fn from(_: crate::runner::Gone) -> Self {
        ChannelError::Closed
    }
}

impl ChannelError {
    /// A membership send error, with what the caller knows of the send.
    pub(crate) fn from_send(
        e: blaze_membership::SendError,
        to: Option<MemberId>,
        len: usize,
        group: &str,
    ) -> Self {
        use blaze_membership::SendError as E;
        match e {
            E::PayloadTooLarge => ChannelError::PayloadTooLarge {
                len,
                max: crate::engine::MAX_DIRECT_PAYLOAD,
            },
            E::NotInGroup => ChannelError::NotInGroup(group.to_owned()),
            E::BadQueueName => ChannelError::BadName {
                what: "queue",
                max: blaze_membership::MAX_NAME,
            },
            E::StorageFull | E::TooManyPending => ChannelError::Backpressure,
            E::UnknownMember => ChannelError::UnknownMember(to.unwrap_or(MemberId::NIL)),
            _ => ChannelError::UnknownDelivery,
        }
    }
}
