//! Message storage: a fixed ring of slots indexed by a local absolute
//! position, so the messages of an old ring and of the next one can share
//! it.

use blaze_wire::MemberId;

/// One stored message: its topic, then its payload, in `data`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Slot<const P: usize> {
    /// Absolute position of the message; meaningful when `present`.
    pub(crate) abs: u64,
    pub(crate) present: bool,
    pub(crate) safe: bool,
    pub(crate) sender: MemberId,
    /// Sequence number on the ring it was sent on.
    pub(crate) seq: u64,
    /// Already re-sent on a new ring during recovery.
    pub(crate) recovered: bool,
    /// Length of the topic at the front of `data`.
    pub(crate) topic_len: u8,
    /// Length of the payload after the topic.
    pub(crate) len: u16,
    pub(crate) data: [u8; P],
}

impl<const P: usize> Slot<P> {
    const EMPTY: Self = Slot {
        abs: 0,
        present: false,
        safe: false,
        sender: MemberId::NIL,
        seq: 0,
        recovered: false,
        topic_len: 0,
        len: 0,
        data: [0; P],
    };

    /// The topic.
    pub(crate) fn topic(&self) -> &str {
        topic_of(&self.data, self.topic_len)
    }

    /// The payload.
    pub(crate) fn payload(&self) -> &[u8] {
        payload_of(&self.data, self.topic_len, self.len)
    }
}

/// The topic stored at the front of `data` (only ever written from a
/// `&str`, so the fallback to "" is unreachable).
pub(crate) fn topic_of(data: &[u8], topic_len: u8) -> &str {
    data.get(..usize::from(topic_len))
        .and_then(|t| core::str::from_utf8(t).ok())
        .unwrap_or("")
}

/// The payload stored after the topic in `data`.
pub(crate) fn payload_of(data: &[u8], topic_len: u8, len: u16) -> &[u8] {
    let start = usize::from(topic_len);
    data.get(start..start + usize::from(len)).unwrap_or(&[])
}

/// Writes `topic` then `payload` into `data`; `None` when they do not fit
/// (a topic of at most 255 bytes, both together at most `data.len()`).
pub(crate) fn store(data: &mut [u8], topic: &str, payload: &[u8]) -> Option<(u8, u16)> {
    let topic_len = u8::try_from(topic.len()).ok()?;
    let len = u16::try_from(payload.len()).ok()?;
    if topic.len() + payload.len() > data.len() {
        return None;
    }
    let (t, rest) = data.split_at_mut_checked(topic.len())?;
    t.copy_from_slice(topic.as_bytes());
    rest.get_mut(..payload.len())?.copy_from_slice(payload);
    Some((topic_len, len))
}

/// Why a message was not stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// Below the base (already freed) or already present.
    Duplicate,
    /// Beyond `base + W`, or the payload does not fit a slot.
    NoRoom,
}

/// `W` slots of `P` bytes; positions below `base` are free.
pub(crate) struct Window<const W: usize, const P: usize> {
    slots: [Slot<P>; W],
    base: u64,
}

impl<const W: usize, const P: usize> Window<W, P> {
    pub(crate) const fn new() -> Self {
        Window {
            slots: [Slot::EMPTY; W],
            base: 1,
        }
    }

    fn index(abs: u64) -> usize {
        // W is a usize, so the remainder fits one.
        usize::try_from(abs % W as u64).unwrap_or(0)
    }

    /// The message at `abs`, if held.
    pub(crate) fn get(&self, abs: u64) -> Option<&Slot<P>> {
        self.slots
            .get(Self::index(abs))
            .filter(|s| s.present && s.abs == abs && abs >= self.base)
    }

    /// The message at `abs`, mutably, if held.
    pub(crate) fn get_mut(&mut self, abs: u64) -> Option<&mut Slot<P>> {
        let base = self.base;
        self.slots
            .get_mut(Self::index(abs))
            .filter(|s| s.present && s.abs == abs && abs >= base)
    }

    /// True when `abs` is held.
    pub(crate) fn has(&self, abs: u64) -> bool {
        self.get(abs).is_some()
    }

    /// True when a message at `abs` could be stored now.
    pub(crate) fn fits(&self, abs: u64) -> bool {
        abs >= self.base && abs - self.base < W as u64
    }

    /// Stores a message.
    pub(crate) fn insert(
        &mut self,
        abs: u64,
        seq: u64,
        sender: MemberId,
        safe: bool,
        topic: &str,
        payload: &[u8],
    ) -> Result<(), Refused> {
        if abs < self.base || self.has(abs) {
            return Err(Refused::Duplicate);
        }
        if !self.fits(abs) {
            return Err(Refused::NoRoom);
        }
        let slot = self
            .slots
            .get_mut(Self::index(abs))
            .ok_or(Refused::NoRoom)?;
        let (topic_len, len) = store(&mut slot.data, topic, payload).ok_or(Refused::NoRoom)?;
        slot.abs = abs;
        slot.present = true;
        slot.safe = safe;
        slot.sender = sender;
        slot.seq = seq;
        slot.recovered = false;
        slot.topic_len = topic_len;
        slot.len = len;
        Ok(())
    }

    /// Frees every position below `abs` (never moves back).
    pub(crate) fn set_base(&mut self, abs: u64) {
        if abs <= self.base {
            return;
        }
        if abs - self.base >= W as u64 {
            for s in &mut self.slots {
                s.present = false;
            }
        } else {
            for a in self.base..abs {
                if let Some(s) = self.slots.get_mut(Self::index(a))
                    && s.abs == a
                {
                    s.present = false;
                }
            }
        }
        self.base = abs;
    }

    /// The lowest position that may still be held.
    pub(crate) fn base(&self) -> u64 {
        self.base
    }

    /// Messages held.
    pub(crate) fn occupancy(&self) -> usize {
        self.slots.iter().filter(|s| s.present).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_frees_and_refuses() {
        let mut w: Window<4, 8> = Window::new();
        let m = MemberId::from_u128(7);
        assert_eq!(w.insert(1, 1, m, false, "", b"a"), Ok(()));
        assert_eq!(w.insert(1, 1, m, false, "", b"a"), Err(Refused::Duplicate));
        assert_eq!(w.insert(5, 5, m, false, "", b"e"), Err(Refused::NoRoom));
        assert_eq!(w.insert(4, 4, m, true, "top", b"d"), Ok(()));
        assert_eq!(w.get(4).map(Slot::payload), Some(&b"d"[..]));
        assert_eq!(w.get(4).map(Slot::topic), Some("top"));
        assert_eq!(w.insert(2, 2, m, false, "", &[0; 9]), Err(Refused::NoRoom));
        assert_eq!(
            w.insert(2, 2, m, false, "abcd", &[0; 5]),
            Err(Refused::NoRoom)
        );
        assert_eq!(w.insert(2, 2, m, false, "abcd", &[0; 4]), Ok(()));
        w.set_base(3);
        assert!(!w.has(1));
        assert_eq!(w.insert(1, 1, m, false, "", b"a"), Err(Refused::Duplicate));
        assert_eq!(w.insert(6, 6, m, false, "", b"f"), Ok(()));
        assert_eq!(w.occupancy(), 2);
        w.set_base(100);
        assert_eq!(w.occupancy(), 0);
    }
}
