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
        }
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
