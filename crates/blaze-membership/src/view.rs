//! A numbered membership view and the coordinator order.

use crate::Name;
use blaze_wire::MemberId;
use core::cmp::Reverse;
use core::net::SocketAddr;

/// One member as listed in a view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ViewMember {
    /// The member's id.
    pub id: MemberId,
    /// Its name.
    pub name: Name,
    /// Its coordinator weight.
    pub weight: u32,
    /// The services it runs (see [`Identity::services`](crate::Identity::services)).
    pub services: u32,
    /// Its incarnation.
    pub incarnation: u64,
    /// Its unicast address, when known.
    pub address: Option<SocketAddr>,
    /// Join order within the group (lower is older).
    pub rank: u64,
}

impl ViewMember {
    /// Coordinator order: highest weight first, then oldest, then lowest id.
    pub(crate) fn key(&self) -> (Reverse<u32>, u64, MemberId) {
        (Reverse(self.weight), self.rank, self.id)
    }
}

/// An installed view: its id and members, coordinator first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View<const M: usize> {
    pub(crate) id: u64,
    pub(crate) members: heapless::Vec<ViewMember, M>,
    pub(crate) merge: bool,
}

impl<const M: usize> Default for View<M> {
    fn default() -> Self {
        View {
            id: 0,
            members: heapless::Vec::new(),
            merge: false,
        }
    }
}

impl<const M: usize> View<M> {
    /// The view id (0: no view yet). The high 32 bits count views, the low
    /// 32 bits identify the coordinator that issued it, so two coordinators
    /// never issue different views under one id.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The members, coordinator first.
    pub fn members(&self) -> &[ViewMember] {
        &self.members
    }

    /// The coordinator.
    pub fn coordinator(&self) -> Option<MemberId> {
        self.members.first().map(|m| m.id)
    }

    /// True when `id` is a member.
    pub fn contains(&self, id: MemberId) -> bool {
        self.members.iter().any(|m| m.id == id)
    }

    /// Whether this view merged views of several partitions.
    pub fn is_merge(&self) -> bool {
        self.merge
    }

    pub(crate) fn same_members(&self, other: &[ViewMember]) -> bool {
        self.members.len() == other.len()
            && self
                .members
                .iter()
                .zip(other)
                .all(|(a, b)| a.id == b.id && a.incarnation == b.incarnation)
    }

    pub(crate) fn max_rank(&self) -> u64 {
        self.members.iter().map(|m| m.rank).max().unwrap_or(0)
    }
}

/// The counter part of a view id.
pub(crate) fn view_counter(id: u64) -> u64 {
    id >> 32
}

/// A view id from a counter and the issuing coordinator.
pub(crate) fn make_view_id(counter: u64, issuer: MemberId, incarnation: u64) -> u64 {
    let v = issuer.as_u128() ^ u128::from(incarnation).rotate_left(64);
    let folded = (v as u64) ^ ((v >> 64) as u64);
    let low = ((folded as u32) ^ ((folded >> 32) as u32)).max(1);
    (counter << 32) | u64::from(low)
}

/// Sorts members into coordinator order.
pub(crate) fn sort_members(members: &mut [ViewMember]) {
    crate::insertion_sort::sort_by_key(members, ViewMember::key);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(id: u128, weight: u32, rank: u64) -> ViewMember {
        ViewMember {
            id: MemberId::from_u128(id),
            name: Name::default(),
            weight,
            services: 0,
            incarnation: 0,
            address: None,
            rank,
        }
    }

    #[test]
    fn coordinator_order_weight_then_age_then_id() {
        let mut v = [m(1, 0, 5), m(2, 0, 1), m(3, 7, 9), m(4, 0, 1)];
        sort_members(&mut v);
        let ids: std::vec::Vec<u128> = v.iter().map(|m| m.id.as_u128()).collect();
        assert_eq!(ids, std::vec![3, 2, 4, 1]);
    }

    #[test]
    fn view_ids_order_by_counter_and_differ_by_issuer() {
        let a = make_view_id(5, MemberId::from_u128(1), 0);
        let b = make_view_id(5, MemberId::from_u128(2), 0);
        assert_ne!(a, b);
        assert!(make_view_id(6, MemberId::from_u128(1), 0) > b);
        assert_eq!(view_counter(a), 5);
    }
}
