//! The deadline of every machine of a node, kept so that an input to one
//! machine recomputes the node's deadline without asking all the others.

use blaze_wire::Instant;

use crate::earliest;
use crate::group::SOURCES;

/// Machines of a group slot with a deadline: its channels (the custom one
/// included), then its map.
pub(super) const PER_SLOT: usize = SOURCES + 1;

/// Each machine's deadline as of its last [`Deadlines::set`]; valid while
/// [`Deadlines::is_fresh`] (no machine was touched since without its
/// entry being set again).
#[derive(Debug, Clone)]
pub(super) struct Deadlines<const G: usize> {
    membership: Option<Instant>,
    slots: [[Option<Instant>; PER_SLOT]; G],
    fresh: bool,
}

impl<const G: usize> Deadlines<G> {
    pub(super) const fn new() -> Self {
        Deadlines {
            membership: None,
            slots: [[None; PER_SLOT]; G],
            fresh: false,
        }
    }

    /// Whether every entry is the machine's current deadline.
    pub(super) fn is_fresh(&self) -> bool {
        self.fresh
    }

    /// Some machine may have changed without its entry being set: the
    /// next input asks them all.
    pub(super) fn invalidate(&mut self) {
        self.fresh = false;
    }

    /// Starts a full refresh: membership's deadline, every slot empty.
    pub(super) fn restart(&mut self, membership: Option<Instant>) {
        self.membership = membership;
        self.slots = [[None; PER_SLOT]; G];
        self.fresh = true;
    }

    /// Sets machine `k` of slot `s` (a source index, or [`SOURCES`] for
    /// the map). Returns whether the entry changed.
    pub(super) fn set(&mut self, s: usize, k: usize, deadline: Option<Instant>) -> bool {
        match self.slots.get_mut(s).and_then(|slot| slot.get_mut(k)) {
            Some(entry) if *entry != deadline => {
                *entry = deadline;
                true
            }
            _ => false,
        }
    }

    /// The earliest of every entry.
    pub(super) fn earliest(&self) -> Option<Instant> {
        let slots = self.slots.iter().flatten().copied();
        earliest(core::iter::once(self.membership).chain(slots))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setting_one_entry_moves_the_earliest() {
        let mut d: Deadlines<2> = Deadlines::new();
        assert!(!d.is_fresh());
        d.restart(Some(Instant::from_millis(50)));
        assert!(d.set(0, 1, Some(Instant::from_millis(30))));
        assert!(d.set(1, SOURCES, Some(Instant::from_millis(40))));
        assert!(!d.set(1, SOURCES, Some(Instant::from_millis(40))));
        assert!(d.is_fresh());
        assert_eq!(d.earliest(), Some(Instant::from_millis(30)));
        // The machine that had the earliest deadline moves it later.
        d.set(0, 1, Some(Instant::from_millis(90)));
        assert_eq!(d.earliest(), Some(Instant::from_millis(40)));
        d.set(1, SOURCES, None);
        assert_eq!(d.earliest(), Some(Instant::from_millis(50)));
        // Out of range: ignored.
        assert!(!d.set(2, 0, Some(Instant::ZERO)));
        assert!(!d.set(0, PER_SLOT, Some(Instant::ZERO)));
        assert_eq!(d.earliest(), Some(Instant::from_millis(50)));
        d.invalidate();
        assert!(!d.is_fresh());
    }
}
