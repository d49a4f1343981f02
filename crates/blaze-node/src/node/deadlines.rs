//! The deadline of every machine of a node, kept so that an input to one
//! machine recomputes the node's deadline without asking all the others,
//! and which machines have no output, so that draining the node's
//! transmits does not ask each of them again after every input.

use blaze_wire::Instant;

use crate::earliest;
use crate::group::{CHANNELS, SOURCES};

/// Machines of a group slot with a deadline: its channels (the custom one
/// included), then, with feature `map`, its map (at index [`SOURCES`]).
pub(super) const PER_SLOT: usize = SOURCES + cfg!(feature = "map") as usize;

/// The index of machine `k` of slot `s` among a node's machines:
/// membership is 0, then each slot's [`PER_SLOT`] machines in turn (the
/// order `poll_transmit` and `poll_event` go round).
pub(super) const fn machine(s: usize, k: usize) -> usize {
    1 + s * PER_SLOT + k
}

/// The bit of machine `i` in a set of machines; the machines past the
/// 64th have none (they are always asked, and their inputs make a full
/// refresh).
const fn bit(i: usize) -> Option<u64> {
    if i < 64 { Some(1 << i) } else { None }
}

/// Whether channel `k` of a slot is a NACK-based one: its inputs and
/// outputs change itself only. The ring is not (the map ordered by it
/// submits through it), nor is the custom channel.
const fn is_nack_channel(k: usize) -> bool {
    #[cfg(feature = "total-order")]
    if k == crate::group::CH_TOTEM {
        return false;
    }
    k < CHANNELS
}

/// The NACK-based channels of `g` slots, as a set of machines.
const fn nack_channels(g: usize) -> u64 {
    let mut set = 0;
    let mut s = 0;
    while s < g {
        let mut k = 0;
        while k < CHANNELS {
            if is_nack_channel(k)
                && let Some(b) = bit(machine(s, k))
            {
                set |= b;
            }
            k += 1;
        }
        s += 1;
    }
    set
}

/// Each machine's deadline as of its last [`Deadlines::set`]; valid while
/// [`Deadlines::is_fresh`], except for the [`stale`](Deadlines::stale)
/// machines (touched since without their entry being set again).
///
/// It also keeps the *quiet* machines: those whose `poll_transmit` (or,
/// apart, `poll_event`) last returned nothing and that took no input
/// since. A machine's output only changes with an input or when its
/// deadline passes (a node adapter waits for nothing else), so while the
/// node's deadline has not passed a quiet machine need not be asked
/// again.
#[derive(Debug, Clone)]
pub(super) struct Deadlines<const G: usize> {
    membership: Option<Instant>,
    slots: [[Option<Instant>; PER_SLOT]; G],
    fresh: bool,
    /// Machines whose entry is out of date (while `fresh`).
    stale: u64,
    /// Machines with no output until their next input or deadline.
    quiet: u64,
    /// Machines with no event until their next input or deadline.
    ev_quiet: u64,
    /// Machines that lent out an event: asking them again releases it,
    /// which changes them.
    lent: u64,
}

impl<const G: usize> Deadlines<G> {
    /// The NACK-based channels of every slot.
    pub(super) const NACK_CHANNELS: u64 = nack_channels(G);

    /// Whether machine `i` is a NACK-based channel.
    pub(super) fn is_nack_channel(i: usize) -> bool {
        bit(i).is_some_and(|b| Self::NACK_CHANNELS & b != 0)
    }

    pub(super) const fn new() -> Self {
        Deadlines {
            membership: None,
            slots: [[None; PER_SLOT]; G],
            fresh: false,
            stale: 0,
            quiet: 0,
            ev_quiet: 0,
            lent: 0,
        }
    }

    /// Whether every entry but the stale ones is the machine's current
    /// deadline.
    pub(super) fn is_fresh(&self) -> bool {
        self.fresh
    }

    /// The machines whose entry must be asked again.
    pub(super) fn stale(&self) -> u64 {
        self.stale
    }

    /// Some machine may have changed without its entry being set: the
    /// next input asks them all, and each may have output.
    pub(super) fn invalidate(&mut self) {
        self.fresh = false;
        self.wake_all();
    }

    /// Machine `i` took an input or was asked for output: its entry is
    /// out of date and it may have (more) output.
    pub(super) fn touch(&mut self, i: usize) {
        match bit(i) {
            Some(b) => {
                self.stale |= b;
                self.quiet &= !b;
                self.ev_quiet &= !b;
            }
            None => self.fresh = false,
        }
    }

    /// Machine `i`'s deadline may have moved, but it took no input: what
    /// it has to send or to hand out is unchanged.
    pub(super) fn mark_stale(&mut self, i: usize) {
        match bit(i) {
            Some(b) => self.stale |= b,
            None => self.fresh = false,
        }
    }

    /// Machine `i` was asked for an event and had none.
    pub(super) fn set_ev_quiet(&mut self, i: usize) {
        if let Some(b) = bit(i) {
            self.ev_quiet |= b;
        }
    }

    /// Whether machine `i` has had no event since it was last asked.
    pub(super) fn is_ev_quiet(&self, i: usize) -> bool {
        bit(i).is_some_and(|b| self.ev_quiet & b != 0)
    }

    /// Machine `i` handed out an event (lent until it is asked again).
    pub(super) fn lend(&mut self, i: usize) {
        self.touch(i);
        if let Some(b) = bit(i) {
            self.lent |= b;
        }
    }

    /// Machine `i` is asked for its next event: one it lent is released
    /// (which changes it).
    pub(super) fn ask_event(&mut self, i: usize) {
        match bit(i) {
            Some(b) if self.lent & b != 0 => {
                self.lent &= !b;
                self.touch(i);
            }
            Some(_) => {}
            None => self.touch(i),
        }
    }

    /// Machine `i` was asked for output and had none.
    pub(super) fn set_quiet(&mut self, i: usize) {
        if let Some(b) = bit(i) {
            self.quiet |= b;
        }
    }

    /// Whether machine `i` has had no output since it was last asked.
    pub(super) fn is_quiet(&self, i: usize) -> bool {
        bit(i).is_some_and(|b| self.quiet & b != 0)
    }

    /// Every machine may have output (a deadline passed, or an input
    /// reached several).
    pub(super) fn wake_all(&mut self) {
        self.quiet = 0;
        self.ev_quiet = 0;
    }

    /// Starts a full refresh: membership's deadline, every slot empty.
    pub(super) fn restart(&mut self, membership: Option<Instant>) {
        self.membership = membership;
        self.slots = [[None; PER_SLOT]; G];
        self.fresh = true;
        self.stale = 0;
    }

    /// Sets membership's entry. Returns whether it changed.
    pub(super) fn set_membership(&mut self, deadline: Option<Instant>) -> bool {
        self.stale &= !1;
        core::mem::replace(&mut self.membership, deadline) != deadline
    }

    /// Sets machine `k` of slot `s` (a source index, or [`SOURCES`] for
    /// the map with feature `map`). Returns whether the entry changed.
    pub(super) fn set(&mut self, s: usize, k: usize, deadline: Option<Instant>) -> bool {
        if let Some(b) = bit(machine(s, k)) {
            self.stale &= !b;
        }
        match self.slots.get_mut(s).and_then(|slot| slot.get_mut(k)) {
            Some(entry) if *entry != deadline => {
                *entry = deadline;
                true
            }
            _ => false,
        }
    }

    /// The entry of machine `k` of slot `s`.
    #[cfg(debug_assertions)]
    pub(super) fn get(&self, s: usize, k: usize) -> Option<Instant> {
        self.slots
            .get(s)
            .and_then(|slot| slot.get(k))
            .copied()
            .flatten()
    }

    /// Membership's entry.
    #[cfg(debug_assertions)]
    pub(super) fn membership(&self) -> Option<Instant> {
        self.membership
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
        // The last machine of a slot (the map with feature `map`).
        let last = PER_SLOT - 1;
        assert!(d.set(1, last, Some(Instant::from_millis(40))));
        assert!(!d.set(1, last, Some(Instant::from_millis(40))));
        assert!(d.is_fresh());
        assert_eq!(d.earliest(), Some(Instant::from_millis(30)));
        // The machine that had the earliest deadline moves it later.
        d.set(0, 1, Some(Instant::from_millis(90)));
        assert_eq!(d.earliest(), Some(Instant::from_millis(40)));
        d.set(1, last, None);
        assert_eq!(d.earliest(), Some(Instant::from_millis(50)));
        // Out of range: ignored.
        assert!(!d.set(2, 0, Some(Instant::ZERO)));
        assert!(!d.set(0, PER_SLOT, Some(Instant::ZERO)));
        assert_eq!(d.earliest(), Some(Instant::from_millis(50)));
        d.invalidate();
        assert!(!d.is_fresh());
    }

    #[test]
    fn a_touched_machine_is_stale_and_not_quiet_until_set() {
        let mut d: Deadlines<2> = Deadlines::new();
        d.restart(None);
        let i = machine(1, 0);
        d.set_quiet(i);
        d.set_quiet(0);
        assert!(d.is_quiet(i) && d.is_quiet(0));
        d.touch(i);
        assert!(!d.is_quiet(i) && d.is_quiet(0));
        assert_eq!(d.stale(), 1 << i);
        assert!(d.set(1, 0, Some(Instant::from_millis(5))));
        assert_eq!(d.stale(), 0);
        d.touch(0);
        assert!(!d.set_membership(None));
        assert_eq!(d.stale(), 0);
        // A full refresh keeps what is quiet; an invalidation does not.
        d.set_quiet(i);
        d.restart(None);
        assert!(d.is_quiet(i));
        d.invalidate();
        assert!(!d.is_quiet(i));
        d.set_quiet(i);
        d.wake_all();
        assert!(!d.is_quiet(i));
    }

    #[test]
    fn machines_past_the_64th_are_never_quiet_and_refresh_all() {
        // Far enough with the fewest machines per slot (no optional
        // channel built).
        let mut d: Deadlines<40> = Deadlines::new();
        d.restart(None);
        let far = machine(39, 0);
        assert!(far >= 64);
        d.set_quiet(far);
        assert!(!d.is_quiet(far));
        d.touch(far);
        assert!(!d.is_fresh());
    }

    #[test]
    fn the_nack_channels_are_the_built_in_channels_but_the_ring() {
        let set = Deadlines::<2>::NACK_CHANNELS;
        assert_ne!(set & (1 << machine(0, 0)), 0);
        assert_ne!(set & (1 << machine(1, 0)), 0);
        // Membership, the custom channels and the maps are not.
        assert_eq!(set & 1, 0);
        assert_eq!(set & (1 << machine(0, crate::group::CH_CUSTOM)), 0);
        #[cfg(feature = "map")]
        assert_eq!(set & (1 << machine(1, SOURCES)), 0);
    }

    #[test]
    fn a_slot_has_a_machine_for_the_map_only_with_the_map() {
        assert_eq!(PER_SLOT, SOURCES + usize::from(cfg!(feature = "map")));
        // Slot 1's first machine follows slot 0's last.
        assert_eq!(machine(1, 0), machine(0, PER_SLOT - 1) + 1);
    }
}
