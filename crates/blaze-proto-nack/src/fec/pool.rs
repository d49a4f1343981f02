//! The parity pool: received parity symbols waiting until their block can
//! be rebuilt, in slots of the caller's bytes.
//!
//! A slot is a header followed by the symbol:
//! `[used][k][row][0][peer u16][len u16][crc u32][block u64][age u32]`
//! then the `k` true data lengths as `u16` (room for 255), then the symbol.
//! When every slot is taken the oldest is reused.

/// Bytes before the symbol in a slot.
pub(crate) const SLOT_HEADER: usize = 24 + 2 * 255;

/// The identity and shape of a stored parity symbol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Meta {
    /// Index of the sender in the peer table.
    pub(crate) peer: u16,
    /// First sequence number of the block (raw).
    pub(crate) block: u64,
    /// Data symbols in the block.
    pub(crate) k: u8,
    /// Parity row, from 0.
    pub(crate) row: u8,
    /// Symbol length.
    pub(crate) len: u16,
    /// CRC-32C of the block's data.
    pub(crate) crc: u32,
}

#[derive(Debug)]
pub(crate) struct Pool<'a> {
    bytes: &'a mut [u8],
    slot_len: usize,
    age: u32,
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    b.get(at..at + 2)
        .and_then(|s| s.try_into().ok())
        .map_or(0, u16::from_le_bytes)
}

impl<'a> Pool<'a> {
    pub(crate) fn new(bytes: &'a mut [u8], slot_len: usize) -> Self {
        let mut p = Pool {
            bytes,
            slot_len: slot_len.max(SLOT_HEADER + 1),
            age: 0,
        };
        for i in 0..p.slots() {
            if let Some(s) = p.slot_mut(i) {
                s.fill(0);
            }
        }
        p
    }

    pub(crate) fn into_bytes(self) -> &'a mut [u8] {
        self.bytes
    }

    pub(crate) fn slots(&self) -> usize {
        self.bytes.len() / self.slot_len
    }

    /// The longest symbol a slot holds.
    pub(crate) fn symbol_capacity(&self) -> usize {
        self.slot_len - SLOT_HEADER
    }

    fn slot(&self, i: usize) -> Option<&[u8]> {
        self.bytes.get(i * self.slot_len..(i + 1) * self.slot_len)
    }

    fn slot_mut(&mut self, i: usize) -> Option<&mut [u8]> {
        self.bytes
            .get_mut(i * self.slot_len..(i + 1) * self.slot_len)
    }

    /// The meta of slot `i` when it is used.
    pub(crate) fn meta(&self, i: usize) -> Option<Meta> {
        let s = self.slot(i)?;
        let h = s.get(..24)?;
        if h.first() != Some(&1) {
            return None;
        }
        Some(Meta {
            k: *h.get(1)?,
            row: *h.get(2)?,
            peer: u16_at(h, 4),
            len: u16_at(h, 6),
            crc: u32::from_le_bytes(h.get(8..12)?.try_into().ok()?),
            block: u64::from_le_bytes(h.get(12..20)?.try_into().ok()?),
        })
    }

    fn age_of(&self, i: usize) -> u32 {
        self.slot(i)
            .and_then(|s| s.get(20..24))
            .and_then(|s| s.try_into().ok())
            .map_or(0, u32::from_le_bytes)
    }

    /// The symbol of slot `i`.
    pub(crate) fn symbol(&self, i: usize) -> Option<&[u8]> {
        let m = self.meta(i)?;
        self.slot(i)?
            .get(SLOT_HEADER..SLOT_HEADER + usize::from(m.len))
    }

    /// True data length `j` of the block of slot `i`.
    pub(crate) fn length(&self, i: usize, j: usize) -> Option<usize> {
        let s = self.slot(i)?;
        (j < 255).then(|| usize::from(u16_at(s, 24 + 2 * j)))
    }

    /// Slots holding parity of `(peer, block)`.
    pub(crate) fn of_block(&self, peer: u16, block: u64) -> impl Iterator<Item = usize> + '_ {
        (0..self.slots()).filter(move |&i| {
            self.meta(i)
                .is_some_and(|m| m.peer == peer && m.block == block)
        })
    }

    /// Stores a parity symbol; a copy of one already held is ignored.
    /// Returns false when it cannot be stored (no slots, too long).
    pub(crate) fn insert(
        &mut self,
        meta: Meta,
        lengths: impl Iterator<Item = u32>,
        symbol: &[u8],
    ) -> bool {
        if symbol.len() > self.symbol_capacity() || symbol.len() != usize::from(meta.len) {
            return false;
        }
        if self
            .of_block(meta.peer, meta.block)
            .any(|i| self.meta(i).is_some_and(|m| m.row == meta.row))
        {
            return true;
        }
        let free = (0..self.slots()).find(|&i| self.meta(i).is_none());
        let Some(i) = free.or_else(|| (0..self.slots()).min_by_key(|&i| self.age_of(i))) else {
            return false;
        };
        self.age = self.age.wrapping_add(1);
        let age = self.age;
        let Some(s) = self.slot_mut(i) else {
            return false;
        };
        let (pe, ln, cr, bl, ag) = (
            meta.peer.to_le_bytes(),
            meta.len.to_le_bytes(),
            meta.crc.to_le_bytes(),
            meta.block.to_le_bytes(),
            age.to_le_bytes(),
        );
        let header: [u8; 24] = [
            1, meta.k, meta.row, 0, pe[0], pe[1], ln[0], ln[1], cr[0], cr[1], cr[2], cr[3], bl[0],
            bl[1], bl[2], bl[3], bl[4], bl[5], bl[6], bl[7], ag[0], ag[1], ag[2], ag[3],
        ];
        let Some((h, rest)) = s.split_at_mut_checked(24) else {
            return false;
        };
        h.copy_from_slice(&header);
        let Some((lens, sym)) = rest.split_at_mut_checked(SLOT_HEADER - 24) else {
            return false;
        };
        lens.fill(0);
        for (dst, l) in lens
            .chunks_exact_mut(2)
            .zip(lengths.take(usize::from(meta.k)))
        {
            dst.copy_from_slice(&u16::try_from(l).unwrap_or(u16::MAX).to_le_bytes());
        }
        if let Some(dst) = sym.get_mut(..symbol.len()) {
            dst.copy_from_slice(symbol);
        }
        true
    }

    /// Frees every slot whose meta matches.
    pub(crate) fn free_where(&mut self, mut f: impl FnMut(&Meta) -> bool) {
        for i in 0..self.slots() {
            if self.meta(i).is_some_and(|m| f(&m))
                && let Some(s) = self.slot_mut(i)
                && let Some(b) = s.first_mut()
            {
                *b = 0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_dedupe_evict() {
        let mut bytes = [0u8; 2 * (SLOT_HEADER + 8)];
        let mut p = Pool::new(&mut bytes, SLOT_HEADER + 8);
        let m = |block, row| Meta {
            peer: 1,
            block,
            k: 2,
            row,
            len: 4,
            crc: 7,
        };
        assert!(p.insert(m(10, 0), [3, 4].into_iter(), &[1, 2, 3, 4]));
        assert!(p.insert(m(10, 0), [3, 4].into_iter(), &[9, 9, 9, 9]));
        assert_eq!(p.of_block(1, 10).count(), 1);
        assert!(p.insert(m(10, 1), [3, 4].into_iter(), &[5, 6, 7, 8]));
        assert_eq!(p.length(0, 1), Some(4));
        // Full: the oldest goes.
        assert!(p.insert(m(20, 0), [1, 1].into_iter(), &[0; 4]));
        assert_eq!(p.of_block(1, 10).count(), 1);
        let i = p.of_block(1, 10).next().unwrap();
        assert_eq!(p.symbol(i), Some(&[5, 6, 7, 8][..]));
        assert!(!p.insert(m(30, 0), [1, 1].into_iter(), &[0; 9]));
        p.free_where(|m| m.block == 20);
        assert_eq!(p.of_block(1, 20).count(), 0);
    }
}
