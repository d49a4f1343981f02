//! Errors of the node's constructor and commands.

use core::fmt;

/// [`Node::new`](crate::Node::new) refused its configuration or storage;
/// no node was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// The membership settings are invalid.
    Membership(blaze_membership::ConfigError),
    /// The reliable multicast settings are invalid (or do not fit the
    /// window `W`).
    Nack(blaze_proto_nack::ConfigError),
    /// The replicated map settings are invalid. Feature `map`.
    #[cfg(feature = "map")]
    Map(blaze_map::ConfigError),
    /// The channel buffers of a group slot are smaller than
    /// [`GroupBuffers::recv_bytes_needed`](crate::GroupBuffers::recv_bytes_needed)
    /// (or have no send room).
    Buffers,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Membership(e) => write!(f, "membership: {e}"),
            ConfigError::Nack(e) => write!(f, "reliable multicast: {e}"),
            #[cfg(feature = "map")]
            ConfigError::Map(e) => write!(f, "replicated map: {e}"),
            ConfigError::Buffers => f.write_str("channel buffers too small"),
        }
    }
}

impl core::error::Error for ConfigError {}

/// [`Node::join`](crate::Node::join) or [`Node::leave`](crate::Node::leave)
/// was refused; nothing changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum GroupError {
    /// Every group slot of the node is in use.
    TooManyGroups,
    /// The group name is longer than
    /// [`MAX_NAME`](blaze_membership::MAX_NAME).
    NameTooLong,
    /// This node already is in (or joining) the group.
    AlreadyJoined,
    /// This node is not in the group.
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

/// [`Node::publish`](crate::Node::publish) refused a message; nothing was
/// queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PublishError<E = core::convert::Infallible> {
    /// This node has not joined the group.
    NotJoined,
    /// The topic's QoS has no channel in this group (its slot got no FEC
    /// or Totem storage, or the group has no custom channel).
    QosUnavailable(crate::Qos),
    /// The topic name is longer than [`MAX_TOPIC_LEN`](crate::MAX_TOPIC_LEN).
    TopicTooLong,
    /// The topic is reserved for the stack's own traffic
    /// ([`RESERVED_TOPIC_PREFIX`](crate::RESERVED_TOPIC_PREFIX)).
    ReservedTopic,
    /// The payload is larger than the channel can ever carry.
    TooLarge,
    /// The send window is full until receivers catch up (back-pressure):
    /// retry after the node processed input.
    WouldBlock,
    /// The custom channel refused the message.
    Custom(E),
}

impl<E: fmt::Debug> fmt::Display for PublishError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PublishError::NotJoined => f.write_str("not in the group"),
            PublishError::QosUnavailable(q) => write!(f, "quality of service {q} not available"),
            PublishError::TopicTooLong => f.write_str("topic name too long"),
            PublishError::ReservedTopic => f.write_str("topic reserved for the stack (blaze.*)"),
            PublishError::TooLarge => f.write_str("payload too large"),
            PublishError::WouldBlock => f.write_str("send window full"),
            PublishError::Custom(e) => write!(f, "custom channel: {e:?}"),
        }
    }
}

impl<E: fmt::Debug> core::error::Error for PublishError<E> {}

/// A replicated-map or lock command was refused on the spot; nothing was
/// sent. Feature `map`.
#[cfg(feature = "map")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MapError {
    /// This node has not joined the group.
    NotJoined,
    /// This node runs no map ([`Config::run_map`](crate::Config::run_map)
    /// is false).
    NotRunning,
    /// The group's map refused the command.
    Map(blaze_map::CommandError),
}

#[cfg(feature = "map")]
impl fmt::Display for MapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MapError::NotJoined => f.write_str("not in the group"),
            MapError::NotRunning => f.write_str("this member runs no map"),
            MapError::Map(e) => write!(f, "map: {e}"),
        }
    }
}

#[cfg(feature = "map")]
impl core::error::Error for MapError {}

#[cfg(feature = "map")]
impl From<blaze_map::CommandError> for MapError {
    fn from(e: blaze_map::CommandError) -> Self {
        MapError::Map(e)
    }
}

/// [`Node::set_custom`](crate::Node::set_custom) was refused; the protocol
/// is handed back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CustomError<C> {
    /// This node has not joined the group.
    NotJoined(C),
}

impl<C> fmt::Display for CustomError<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CustomError::NotJoined(_) => f.write_str("not in the group"),
        }
    }
}

impl<C: fmt::Debug> core::error::Error for CustomError<C> {}
