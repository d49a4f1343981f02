//! The membership view this crate is given.

use blaze_wire::MemberId;
use core::net::SocketAddr;

/// One member of a [`ViewInfo`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ViewMember {
    /// The member's id.
    pub id: MemberId,
    /// Its unicast address (requests, acknowledgements and snapshots go
    /// there).
    pub addr: SocketAddr,
}

/// A membership view, as the membership layer installs it.
///
/// This crate does not detect failures: the node that composes it feeds
/// every view of the group's membership layer through
/// [`Replica::handle_view`](crate::Replica::handle_view). The coordinator
/// (the sequencer of all writes) is `members[0]`; view ids must strictly
/// increase at a member and start at 1.
///
/// ```
/// use blaze_map::{ViewInfo, ViewMember};
/// use blaze_wire::MemberId;
/// let members = [ViewMember { id: MemberId::from_u128(1), addr: "127.0.0.1:7400".parse().unwrap() }];
/// let v = ViewInfo { id: 1, members: &members, merge: false };
/// assert_eq!(v.coordinator(), Some(MemberId::from_u128(1)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ViewInfo<'a> {
    /// View id, strictly increasing, at least 1.
    pub id: u64,
    /// The members, coordinator first (at most the replica's `MEMBERS`,
    /// [`MAX_MEMBERS`](crate::MAX_MEMBERS) by default; more are ignored).
    pub members: &'a [ViewMember],
    /// True when this view merges views of formerly partitioned sides.
    pub merge: bool,
}

impl ViewInfo<'_> {
    /// The coordinator: the first member.
    pub fn coordinator(&self) -> Option<MemberId> {
        self.members.first().map(|m| m.id)
    }
}

/// The installed view, owned.
#[derive(Debug, Clone, Default)]
pub(crate) struct View<const M: usize> {
    pub(crate) id: u64,
    pub(crate) members: heapless::Vec<ViewMember, M>,
    pub(crate) merge: bool,
}

impl<const M: usize> View<M> {
    pub(crate) fn from_info(info: &ViewInfo<'_>) -> Self {
        let mut members = heapless::Vec::new();
        for m in info.members.iter().take(M) {
            let _ = members.push(*m);
        }
        View {
            id: info.id,
            members,
            merge: info.merge,
        }
    }

    pub(crate) fn coordinator(&self) -> Option<MemberId> {
        self.members.first().map(|m| m.id)
    }

    pub(crate) fn contains(&self, id: MemberId) -> bool {
        self.members.iter().any(|m| m.id == id)
    }

    pub(crate) fn addr(&self, id: MemberId) -> Option<SocketAddr> {
        self.members.iter().find(|m| m.id == id).map(|m| m.addr)
    }
}
