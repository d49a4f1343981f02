//! The replicated state: map names, and one slot per (map, key) holding the
//! entry's value and the key's lock.

use blaze_wire::{Instant, MemberId};
use heapless::{String, Vec};

/// Most named maps one replica holds.
pub const MAX_MAPS: usize = 8;
/// Longest map name, bytes.
pub const MAX_MAP_NAME: usize = 32;

/// Entry option bit: only the owner may write or remove the entry.
pub const FLAG_OWNER_ONLY: u32 = 1;
/// Entry option bit: the coordinator removes the entry when its owner leaves
/// the view.
pub const FLAG_REMOVE_ON_EXIT: u32 = 2;
/// Entry option bit: the coordinator revokes the key's lock when its holder
/// leaves the view.
pub const FLAG_RELEASE_LOCK_ON_EXIT: u32 = 4;
/// The option bits that travel on the wire.
pub(crate) const FLAG_MASK: u32 = 7;

/// The names of the maps, interned to small local indexes (the wire always
/// carries the name; indexes may differ between replicas).
#[derive(Debug, Default)]
pub(crate) struct Names {
    names: Vec<String<MAX_MAP_NAME>, MAX_MAPS>,
}

impl Names {
    pub(crate) fn index(&self, name: &str) -> Option<u8> {
        let i = self.names.iter().position(|n| n.as_str() == name)?;
        u8::try_from(i).ok()
    }

    /// The index of `name`, adding it if new; `None` if too long or full.
    pub(crate) fn intern(&mut self, name: &str) -> Option<u8> {
        if let Some(i) = self.index(name) {
            return Some(i);
        }
        let mut s = String::new();
        s.push_str(name).ok()?;
        self.names.push(s).ok()?;
        u8::try_from(self.names.len().checked_sub(1)?).ok()
    }

    pub(crate) fn name(&self, index: u8) -> &str {
        self.names
            .get(usize::from(index))
            .map_or("", |s| s.as_str())
    }
}

/// A granted lock as every replica records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LockState {
    pub(crate) holder: MemberId,
    /// The fencing token: the order number of the grant.
    pub(crate) fence: u64,
    pub(crate) lease_us: u64,
    /// Local, conservative end of the lease (the coordinator expires it
    /// then; re-based on fail-over).
    pub(crate) expires: Instant,
}

/// One (map, key): the entry's value if any and the key's lock if any.
#[derive(Debug, Clone)]
pub(crate) struct Slot<const K: usize, const V: usize> {
    pub(crate) map: u8,
    pub(crate) key: Vec<u8, K>,
    pub(crate) has_value: bool,
    pub(crate) value: Vec<u8, V>,
    /// Order number of the write that produced the value (0 = none).
    pub(crate) version: u64,
    pub(crate) owner: MemberId,
    pub(crate) flags: u32,
    pub(crate) ttl_us: u64,
    /// Local expiry time of the entry (from `ttl_us`).
    pub(crate) expires: Option<Instant>,
    pub(crate) lock: Option<LockState>,
    /// A revoked lock may not be granted again before its old lease ran out:
    /// `(lease_us, local time it may be granted)`.
    pub(crate) quarantine: Option<(u64, Instant)>,
    /// A merging coordinator's own entry, kept over the winning side's
    /// state, that it still has to sequence again (see
    /// [`Store::keep_newer`]).
    pub(crate) reapply: bool,
    /// The application took this kept entry over the winning side's value
    /// (policy [`MergePolicy::Ask`](crate::MergePolicy::Ask)): it stays over
    /// the winner's record without a second question.
    pub(crate) taken: bool,
}

impl<const K: usize, const V: usize> Slot<K, V> {
    fn new(map: u8, key: Vec<u8, K>) -> Self {
        Slot {
            map,
            key,
            has_value: false,
            value: Vec::new(),
            version: 0,
            owner: MemberId::NIL,
            flags: 0,
            ttl_us: 0,
            expires: None,
            lock: None,
            quarantine: None,
            reapply: false,
            taken: false,
        }
    }

    /// The merge rule of a coordinator that takes the winning side's state
    /// while keeping its own newer entries: whether this slot's own entry
    /// stays over the winner's record (`has_value`, `value`, `version`).
    /// It stays if it is marked, and the winner holds no value for the key,
    /// or (`ask` false) a different one written earlier (the rule of a merge
    /// scan under
    /// [`MergePolicy::LatestVersion`](crate::MergePolicy::LatestVersion)),
    /// or (`ask` true) the application already took it.
    pub(crate) fn keeps_own(&self, ask: bool, has_value: bool, value: &[u8], version: u64) -> bool {
        let over = if ask {
            self.taken
        } else {
            self.value.as_slice() != value && self.version > version
        };
        self.reapply && self.has_value && (!has_value || over)
    }

    /// Under [`MergePolicy::Ask`](crate::MergePolicy::Ask): whether the
    /// winner's record (`has_value`, `value`) conflicts with this slot's
    /// kept entry, not yet asked about.
    pub(crate) fn asks(&self, has_value: bool, value: &[u8]) -> bool {
        self.reapply && !self.taken && self.has_value && has_value && self.value.as_slice() != value
    }

    /// Clears the entry's value (the lock stays).
    pub(crate) fn clear_value(&mut self) {
        self.has_value = false;
        self.value.clear();
        self.version = 0;
        self.owner = MemberId::NIL;
        self.flags = 0;
        self.ttl_us = 0;
        self.expires = None;
        self.reapply = false;
        self.taken = false;
    }

    fn is_empty(&self) -> bool {
        !self.has_value && self.lock.is_none() && self.quarantine.is_none()
    }
}

/// `N` slots and the map names.
#[derive(Debug)]
pub(crate) struct Store<const N: usize, const K: usize, const V: usize> {
    slots: [Option<Slot<K, V>>; N],
    pub(crate) names: Names,
}

impl<const N: usize, const K: usize, const V: usize> Store<N, K, V> {
    pub(crate) fn new() -> Self {
        Store {
            slots: core::array::from_fn(|_| None),
            names: Names::default(),
        }
    }

    pub(crate) fn clear(&mut self) {
        for s in self.slots.iter_mut() {
            *s = None;
        }
    }

    pub(crate) fn find(&self, map: u8, key: &[u8]) -> Option<usize> {
        self.slots.iter().position(|s| {
            s.as_ref()
                .is_some_and(|s| s.map == map && s.key.as_slice() == key)
        })
    }

    pub(crate) fn get(&self, map: u8, key: &[u8]) -> Option<&Slot<K, V>> {
        self.slot(self.find(map, key)?)
    }

    pub(crate) fn slot(&self, i: usize) -> Option<&Slot<K, V>> {
        self.slots.get(i)?.as_ref()
    }

    pub(crate) fn slot_mut(&mut self, i: usize) -> Option<&mut Slot<K, V>> {
        self.slots.get_mut(i)?.as_mut()
    }

    /// The slot of (map, key), created empty if absent; `None` if full.
    pub(crate) fn find_or_insert(&mut self, map: u8, key: &[u8]) -> Option<usize> {
        if let Some(i) = self.find(map, key) {
            return Some(i);
        }
        let k = Vec::from_slice(key).ok()?;
        let i = self.slots.iter().position(Option::is_none)?;
        *self.slots.get_mut(i)? = Some(Slot::new(map, k));
        Some(i)
    }

    /// Keeps only the entries written after order `newer_than` (a losing
    /// coordinator's own writes since its side's fail-over), marked to be
    /// re-applied, without their locks: the winning side's state is then
    /// pulled over them with [`Slot::keeps_own`].
    pub(crate) fn keep_newer(&mut self, newer_than: u64) {
        for s in self.slots.iter_mut() {
            let Some(slot) = s.as_mut().filter(|s| s.has_value && s.version > newer_than) else {
                *s = None;
                continue;
            };
            slot.lock = None;
            slot.quarantine = None;
            slot.reapply = true;
            slot.taken = false;
        }
    }

    /// Drops every slot not marked to be re-applied (a restarted pull over
    /// kept entries).
    pub(crate) fn retain_marked(&mut self) {
        for s in self.slots.iter_mut() {
            if !s.as_ref().is_some_and(|s| s.reapply) {
                *s = None;
            }
        }
    }

    /// Frees one slot marked to be re-applied (the winning side's state
    /// comes first when both do not fit); `false` if none is.
    pub(crate) fn drop_one_marked(&mut self) -> bool {
        match self
            .slots
            .iter_mut()
            .find(|s| s.as_ref().is_some_and(|s| s.reapply))
        {
            Some(s) => {
                *s = None;
                true
            }
            None => false,
        }
    }

    /// The first slot marked to be re-applied.
    pub(crate) fn first_marked(&self) -> Option<(usize, &Slot<K, V>)> {
        self.iter().find(|(_, s)| s.reapply)
    }

    /// Whether a new key would find a free slot.
    pub(crate) fn has_room(&self) -> bool {
        self.slots.iter().any(Option::is_none)
    }

    /// Frees slot `i` if it holds neither value nor lock.
    pub(crate) fn tidy(&mut self, i: usize) {
        if let Some(s) = self.slots.get_mut(i)
            && s.as_ref().is_some_and(Slot::is_empty)
        {
            *s = None;
        }
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (usize, &Slot<K, V>)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| Some((i, s.as_ref()?)))
    }

    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = &mut Slot<K, V>> {
        self.slots.iter_mut().filter_map(Option::as_mut)
    }

    /// The first occupied slot at index `from` or later.
    pub(crate) fn next_from(&self, from: usize) -> Option<(usize, &Slot<K, V>)> {
        self.iter().find(|(i, _)| *i >= from)
    }

    pub(crate) fn len(&self) -> usize {
        self.slots.iter().filter(|s| s.is_some()).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(store: &mut Store<4, 8, 8>, key: &[u8], value: &[u8], version: u64) -> usize {
        let i = store.find_or_insert(0, key).unwrap();
        let s = store.slot_mut(i).unwrap();
        s.has_value = true;
        s.value = Vec::from_slice(value).unwrap();
        s.version = version;
        i
    }

    #[test]
    fn keep_newer_keeps_only_writes_after_the_base_without_locks() {
        let mut store: Store<4, 8, 8> = Store::new();
        put(&mut store, b"old", b"x", 5);
        let new = put(&mut store, b"new", b"y", 7);
        let locked = store.find_or_insert(0, b"lock").unwrap();
        store.slot_mut(locked).unwrap().lock = Some(LockState {
            holder: MemberId::from_u128(1),
            fence: 3,
            lease_us: 10,
            expires: Instant::from_millis(1),
        });
        store.slot_mut(new).unwrap().quarantine = Some((10, Instant::from_millis(1)));
        store.keep_newer(5);
        assert_eq!(store.len(), 1);
        let s = store.get(0, b"new").unwrap();
        assert!(s.reapply && s.lock.is_none() && s.quarantine.is_none());
        assert_eq!(store.first_marked().map(|(i, _)| i), Some(new));
    }

    #[test]
    fn the_own_entry_stays_only_if_marked_different_and_newer() {
        let mut store: Store<4, 8, 8> = Store::new();
        let i = put(&mut store, b"k", b"mine", 9);
        // Not marked: the winner's record is installed.
        assert!(!store.slot(i).unwrap().keeps_own(false, true, b"theirs", 3));
        store.slot_mut(i).unwrap().reapply = true;
        let s = store.slot(i).unwrap();
        assert!(
            s.keeps_own(false, true, b"theirs", 3),
            "newer and different"
        );
        assert!(
            s.keeps_own(false, false, b"", 0),
            "the winner holds no value"
        );
        assert!(!s.keeps_own(false, true, b"mine", 3), "same value");
        assert!(!s.keeps_own(false, true, b"theirs", 9), "same version");
        assert!(
            !s.keeps_own(false, true, b"theirs", 12),
            "the winner's is newer"
        );
    }

    #[test]
    fn under_ask_a_different_value_is_asked_about_once() {
        let mut store: Store<4, 8, 8> = Store::new();
        let i = put(&mut store, b"k", b"mine", 9);
        store.keep_newer(0);
        let s = store.slot(i).unwrap();
        assert!(s.asks(true, b"theirs"), "any version of a different value");
        assert!(
            !s.keeps_own(true, true, b"theirs", 3),
            "asked first, not kept"
        );
        assert!(!s.asks(true, b"mine"), "same value");
        assert!(!s.asks(false, b""), "no value: asked once active");
        assert!(
            s.keeps_own(true, false, b"", 0),
            "the winner holds no value"
        );
        store.slot_mut(i).unwrap().taken = true;
        let s = store.slot(i).unwrap();
        assert!(!s.asks(true, b"theirs"), "already taken");
        assert!(
            s.keeps_own(true, true, b"theirs", 30),
            "taken stays over any version"
        );
        store.slot_mut(i).unwrap().clear_value();
        store.tidy(i);
        assert_eq!(store.len(), 0);
    }

    #[test]
    fn a_restart_or_a_full_store_gives_up_kept_entries() {
        let mut store: Store<2, 8, 8> = Store::new();
        let i = store.find_or_insert(0, b"a").unwrap();
        let s = store.slot_mut(i).unwrap();
        s.has_value = true;
        s.version = 4;
        store.keep_newer(0);
        assert!(store.find_or_insert(0, b"b").is_some());
        assert!(store.find_or_insert(0, b"c").is_none());
        store.retain_marked();
        assert_eq!(store.len(), 1);
        assert!(store.drop_one_marked());
        assert!(!store.drop_one_marked());
        assert_eq!(store.len(), 0);
        assert!(store.find_or_insert(0, b"c").is_some());
    }
}
