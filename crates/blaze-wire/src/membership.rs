//! Membership frames: join, leave, views, suspicion and probes.

use crate::{MemberId, Repeated, RingId};

/// Bit of [`Join::services`], [`ViewMember::services`] and
/// [`Heartbeat::services`](crate::Heartbeat::services): the member runs
/// the group's replicated map. Members without it are left out of the
/// map's views; they neither coordinate the map nor hold up its writes.
pub const SERVICE_MAP: u32 = 1;

message! {
    /// A member asks to join a group, or announces itself (`blaze.v1.Join`).
    pub struct Join<'a> {
        /// Group name; its hash is the frame's group id.
        1 => group_name: &'a str,
        /// Member name.
        2 => member_name: &'a str,
        /// Coordinator weight (higher wins); 0 means by age.
        3 => weight: u32,
        /// Application metadata, an encoded `BlazeMessage`.
        4 => metadata: Option<crate::BlazeMessage<'a>>,
        /// Incarnation of the member.
        5 => incarnation: u64,
        /// Unicast address (4 or 16 bytes).
        6 => address: &'a [u8],
        /// Unicast port.
        7 => port: u32,
        /// Totem: proposed process set.
        8 => proc_set: Repeated<'a, MemberId>,
        /// Totem: members considered failed.
        9 => fail_set: Repeated<'a, MemberId>,
        /// Totem: highest ring sequence seen.
        10 => ring_seq: u64,
        /// Start time of the member on its own clock, microseconds.
        11 => started_us: u64,
        /// Services the member runs in the group, a bit set
        /// ([`SERVICE_MAP`]).
        12 => services: u32,
    }
}

message! {
    /// A member leaves a group gracefully (`blaze.v1.Leave`).
    pub struct Leave {
        /// Incarnation of the leaving member.
        1 => incarnation: u64,
    }
}

message! {
    /// One member of a view (`blaze.v1.ViewMember`).
    pub struct ViewMember<'a> {
        /// Member id.
        1 => id: Option<MemberId>,
        /// Member name.
        2 => name: &'a str,
        /// Coordinator weight.
        3 => weight: u32,
        /// Incarnation.
        4 => incarnation: u64,
        /// Unicast address (4 or 16 bytes).
        5 => address: &'a [u8],
        /// Unicast port.
        6 => port: u32,
        /// Join order (lower is older).
        7 => rank: u64,
        /// Application metadata of the member.
        8 => metadata: Option<crate::BlazeMessage<'a>>,
        /// Services the member runs in the group, as in its `Join`.
        9 => services: u32,
    }
}

message! {
    /// A member's state from its previous ring (`blaze.v1.MemberRingState`).
    pub struct MemberRingState {
        /// Member id.
        1 => id: Option<MemberId>,
        /// The ring it comes from.
        2 => old_ring: Option<RingId>,
        /// Its aru on that ring.
        3 => aru: u64,
        /// Highest sequence delivered on that ring.
        4 => high_delivered: u64,
        /// Whether it received everything up to the ring's high sequence.
        5 => received_flag: bool,
    }
}

message! {
    /// A membership view (`blaze.v1.View`).
    pub struct View<'a> {
        /// View id, increasing within a group.
        1 => view_id: u64,
        /// The members, coordinator first.
        2 => members: Repeated<'a, ViewMember<'a>>,
        /// True when the view merges earlier views.
        3 => merge: bool,
        /// Ids of the views merged.
        4 => merged_from: Repeated<'a, u64>,
        /// Totem commit: the new ring.
        5 => ring: Option<RingId>,
        /// Totem commit: per-member state from the old ring.
        6 => ring_states: Repeated<'a, MemberRingState>,
        /// Totem commit: hops the commit token made since the representative
        /// sent it.
        7 => commit_hop: u64,
        /// Members of the previous view that left gracefully (the others
        /// missing are taken as failed).
        8 => left: Repeated<'a, MemberId>,
    }
}

message! {
    /// A member reports another as suspected (`blaze.v1.Suspect`).
    pub struct Suspect {
        /// The suspected member.
        1 => member: Option<MemberId>,
        /// The incarnation suspected.
        2 => incarnation: u64,
        /// True for an indirect probe request rather than a verdict.
        3 => probe_request: bool,
    }
}

message! {
    /// Direct or indirect probe, and its answer (`blaze.v1.Probe`).
    pub struct Probe {
        /// Probe sequence number.
        1 => seq: u64,
        /// The member probed.
        2 => target: Option<MemberId>,
        /// The member that asked for an indirect probe.
        3 => origin: Option<MemberId>,
        /// True for an answer.
        4 => ack: bool,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BlazeMessage, Message};

    #[test]
    fn commit_hop_left_and_metadata_byte_vector() {
        let members = [ViewMember {
            metadata: Some(BlazeMessage::default()),
            ..ViewMember::default()
        }];
        let left = [MemberId::from_u128(1)];
        let v = View {
            members: Repeated::from_slice(&members),
            commit_hop: 2,
            left: Repeated::from_slice(&left),
            ..View::default()
        };
        let mut expected = std::vec![
            0x12, 0x02, 0x42, 0x00, // members { metadata {} }
            0x38, 0x02, // commit_hop = 2
            0x42, 0x10, // left: one 16-byte id
        ];
        expected.extend_from_slice(&[0; 15]);
        expected.push(1);
        let mut buf = [0u8; 64];
        let n = v.emit(&mut buf).unwrap();
        assert_eq!(&buf[..n], &expected[..]);
        let back = View::parse(&expected).unwrap();
        assert_eq!(back.commit_hop, 2);
        assert_eq!(back.left.iter().collect::<std::vec::Vec<_>>(), left);
        assert!(back.members.iter().next().unwrap().metadata.is_some());
    }
}
