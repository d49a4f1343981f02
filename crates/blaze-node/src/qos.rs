//! Qualities of service and the topic → QoS table.

use core::fmt;

/// Quality of service of a topic: which channel of a group carries its
/// messages.
///
/// ```
/// use blaze_node::Qos;
/// assert_eq!(Qos::default(), Qos::Reliable);
/// assert!(Qos::Reliable.is_built_in() && !Qos::Safe.is_built_in());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Qos {
    /// Plain datagrams: what arrives is delivered, holes are skipped.
    /// Feature `best-effort` (default on); without it
    /// [`Node::set_qos`](crate::Node::set_qos) refuses it with
    /// [`TopicError::QosUnavailable`].
    BestEffort,
    /// Per-sender FIFO, exactly once, NACK-based recovery (the default of
    /// every topic).
    #[default]
    Reliable,
    /// Reliable with forward error correction. Not available yet:
    /// publishing returns [`PublishError::QosUnavailable`](crate::PublishError::QosUnavailable).
    ReliableFec,
    /// Total order, agreed delivery (Totem): every member of the ring
    /// delivers the group's agreed and safe messages in one sequence, this
    /// member's own included. Available in groups whose slot got Totem
    /// storage ([`Node::add_total_order`](crate::Node::add_total_order)).
    Agreed,
    /// Total order, safe delivery (Totem): as [`Qos::Agreed`], and
    /// delivered only once every member of the ring holds the message.
    Safe,
    /// The group's custom channel (the user's protocol, installed with
    /// [`Node::set_custom`](crate::Node::set_custom)).
    Custom,
}

impl Qos {
    /// Whether a channel every group has in this build carries this QoS:
    /// the reliable one and, with feature `best-effort`, the best-effort
    /// one.
    pub const fn is_built_in(self) -> bool {
        matches!(self, Qos::Reliable)
            || (cfg!(feature = "best-effort") && matches!(self, Qos::BestEffort))
    }
}

impl fmt::Display for Qos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Qos::BestEffort => "best-effort",
            Qos::Reliable => "reliable",
            Qos::ReliableFec => "reliable+fec",
            Qos::Agreed => "agreed",
            Qos::Safe => "safe",
            Qos::Custom => "custom",
        })
    }
}

/// Most topics with an explicit QoS in one node's table by default (a
/// node's `TOPICS`).
pub const MAX_TOPICS: usize = 32;

/// Longest topic name, in bytes.
pub const MAX_TOPIC_LEN: usize = 64;

/// Topics starting with this prefix carry the stack's own traffic (such
/// as `blaze.map`, the replicated map's operations on a Totem ring) and
/// are refused to applications.
///
/// ```
/// assert!(blaze_node::is_reserved_topic("blaze.map"));
/// assert!(!blaze_node::is_reserved_topic("blazer"));
/// ```
pub const RESERVED_TOPIC_PREFIX: &str = "blaze.";

/// Whether `topic` is reserved for the stack ([`RESERVED_TOPIC_PREFIX`]).
pub fn is_reserved_topic(topic: &str) -> bool {
    topic.starts_with(RESERVED_TOPIC_PREFIX)
}

/// The topic table refused an entry; nothing changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TopicError {
    /// The topic name is longer than [`MAX_TOPIC_LEN`].
    TooLong,
    /// The node's `TOPICS` ([`MAX_TOPICS`] by default) topics already have
    /// an explicit QoS.
    TableFull,
    /// This build has no channel for the QoS: its feature (`best-effort`,
    /// `fec` or `total-order`) was left out.
    QosUnavailable(Qos),
}

impl fmt::Display for TopicError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TopicError::TooLong => f.write_str("topic name too long"),
            TopicError::TableFull => f.write_str("topic table full"),
            TopicError::QosUnavailable(q) => {
                write!(
                    f,
                    "quality of service {q} not built in (a feature left out)"
                )
            }
        }
    }
}

impl core::error::Error for TopicError {}

/// The QoS of each topic; topics not listed are [`Qos::Reliable`].
#[derive(Debug, Clone, Default)]
pub(crate) struct Topics<const N: usize> {
    entries: heapless::Vec<(heapless::String<MAX_TOPIC_LEN>, Qos), N>,
}

impl<const N: usize> Topics<N> {
    pub(crate) fn qos(&self, topic: &str) -> Qos {
        self.entries
            .iter()
            .find(|(t, _)| t.as_str() == topic)
            .map_or(Qos::default(), |(_, q)| *q)
    }

    pub(crate) fn set(&mut self, topic: &str, qos: Qos) -> Result<(), TopicError> {
        if topic.len() > MAX_TOPIC_LEN {
            return Err(TopicError::TooLong);
        }
        if let Some(e) = self.entries.iter_mut().find(|(t, _)| t.as_str() == topic) {
            e.1 = qos;
            return Ok(());
        }
        let mut name = heapless::String::new();
        name.push_str(topic).map_err(|_| TopicError::TooLong)?;
        self.entries
            .push((name, qos))
            .map_err(|_| TopicError::TableFull)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_topics_are_reliable_and_entries_update() {
        let mut t: Topics<MAX_TOPICS> = Topics::default();
        assert_eq!(t.qos("x"), Qos::Reliable);
        t.set("x", Qos::BestEffort).unwrap();
        assert_eq!(t.qos("x"), Qos::BestEffort);
        t.set("x", Qos::Safe).unwrap();
        assert_eq!(t.qos("x"), Qos::Safe);
        let long = "a".repeat(MAX_TOPIC_LEN + 1);
        assert_eq!(t.set(&long, Qos::Reliable), Err(TopicError::TooLong));
        for i in 1..MAX_TOPICS {
            t.set(&std::format!("t{i}"), Qos::BestEffort).unwrap();
        }
        assert_eq!(t.set("full", Qos::BestEffort), Err(TopicError::TableFull));
        assert_eq!(t.qos("full"), Qos::Reliable);
    }
}
