//! What the multicast channels (best effort, reliable, reliable + FEC)
//! of every group dropped, by reason.

use blaze_node::{Channel, GroupId, Qos};

use crate::StdNode;

/// Frames the node's NACK-based channels dropped before they reached a
/// stream, by reason, summed over the channels of every group (the
/// router's own drops are [`NodeStats`](crate::NodeStats)).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StreamDrops {
    /// Frames from a sender outside the group's view (a stranger, or a
    /// member not yet or no longer in the view): never given a peer slot,
    /// never delivered.
    pub unknown_peer: u64,
    /// Frames the channel could not decode.
    pub malformed: u64,
    /// Frames of an unsupported version.
    pub version: u64,
    /// Frames of another group.
    pub wrong_group: u64,
    /// Bodies a channel does not handle.
    pub foreign_body: u64,
    /// Frames for a stream id other than the sender's.
    pub unknown_stream: u64,
    /// NACKs or acknowledgements naming sequence numbers never sent.
    pub invalid_seq: u64,
    /// Frames of a new sender that found the peer table full.
    pub peer_table_full: u64,
}

impl StreamDrops {
    /// The sums over every joined group of `node`.
    pub(crate) fn of(node: &StdNode) -> Self {
        let mut d = StreamDrops::default();
        let groups: Vec<GroupId> = node.groups().collect();
        for group in groups {
            for qos in [Qos::BestEffort, Qos::Reliable, Qos::ReliableFec] {
                if let Some(
                    Channel::BestEffort(e) | Channel::Reliable(e) | Channel::ReliableFec(e),
                ) = node.channel(group, qos)
                {
                    let s = e.stats().drops;
                    d.unknown_peer += s.unknown_peer;
                    d.malformed += s.malformed;
                    d.version += s.version;
                    d.wrong_group += s.wrong_group;
                    d.foreign_body += s.foreign_body;
                    d.unknown_stream += s.unknown_stream;
                    d.invalid_seq += s.invalid_seq;
                    d.peer_table_full += s.peer_table_full;
                }
            }
        }
        d
    }
}
