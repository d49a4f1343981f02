//! This member's state in one group.

use crate::view::View;
use crate::{Name, ViewMember};
use blaze_wire::{GroupId, Instant, MemberId};

/// Where this member stands in a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Looking for the group's coordinator; at `deadline` this member may
    /// form a view itself.
    Joining { deadline: Instant },
    /// In an installed view.
    Member,
    /// Leaving: the Leave frame is repeated `tries` more times.
    Leaving { tries: u8 },
}

/// A view heard from another partition's coordinator.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Foreign {
    pub(crate) view_id: u64,
    pub(crate) coordinator: ViewMember,
    pub(crate) heard: Instant,
}

/// One group slot.
#[derive(Debug, Clone)]
pub(crate) struct Group<const M: usize> {
    pub(crate) name: Name,
    pub(crate) id: GroupId,
    pub(crate) phase: Phase,
    pub(crate) view: View<M>,
    /// Highest view counter seen in this group.
    pub(crate) counter: u64,
    /// Members that announced a graceful leave (until they join again).
    pub(crate) left: heapless::Vec<MemberId, M>,
    pub(crate) foreign: Option<Foreign>,
    /// Members of the previous view that left gracefully, as the installed
    /// view says (`View.left`); the others it dropped failed.
    pub(crate) view_left: heapless::Vec<MemberId, M>,
    /// The views merged into the installed one (when it is a merge).
    pub(crate) merged_from: heapless::Vec<u64, 4>,
    /// Pending multicast frames (`DUE_*` bits).
    pub(crate) mcast: u8,
    /// When the current view was installed (view retransmissions start
    /// one retransmit interval later).
    pub(crate) installed_at: Instant,
}

impl<const M: usize> Group<M> {
    pub(crate) fn new(name: Name, now: Instant) -> Self {
        Group {
            id: GroupId::from_name(name.as_str()),
            name,
            phase: Phase::Joining { deadline: now },
            view: View::default(),
            counter: 0,
            left: heapless::Vec::new(),
            foreign: None,
            view_left: heapless::Vec::new(),
            merged_from: heapless::Vec::new(),
            mcast: 0,
            installed_at: now,
        }
    }

    pub(crate) fn mark_left(&mut self, id: MemberId) {
        if self.left.contains(&id) {
            return;
        }
        if self.left.is_full() {
            self.left.remove(0);
        }
        let _ = self.left.push(id);
    }

    pub(crate) fn clear_left(&mut self, id: MemberId) {
        self.left.retain(|m| *m != id);
    }
}
