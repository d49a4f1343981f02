//! The header the benchmark writes at the start of every message: which
//! run it belongs to, its sequence number and when it was sent.

use crate::os::monotonic_ns;

/// "BZB1": marks a benchmark message.
const MAGIC: u32 = 0x425A_4231;

/// Bytes of the header; the smallest message size the benchmark accepts.
pub(crate) const HEADER_LEN: usize = 24;

/// One message's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    /// The run (so that two runs on one host do not mix).
    pub(crate) run: u32,
    /// Position in the run, with the sender's index in its high bits
    /// ([`crate::raw::seq_of`]); [`crate::raw::end_of`] ends a sender's run.
    pub(crate) seq: u64,
    /// `CLOCK_MONOTONIC` nanoseconds when the message was written.
    pub(crate) sent_ns: u64,
}

impl Stamp {
    /// A stamp for `seq`, timed now.
    pub(crate) fn now(run: u32, seq: u64) -> Self {
        Stamp {
            run,
            seq,
            sent_ns: monotonic_ns(),
        }
    }

    /// Writes the header into the start of `buf` and fills the rest of
    /// `buf` with a pattern. Returns `None` if `buf` is shorter than the
    /// header.
    pub(crate) fn write(self, buf: &mut [u8]) -> Option<()> {
        let (head, rest) = buf.split_at_mut_checked(HEADER_LEN)?;
        head.get_mut(0..4)?.copy_from_slice(&MAGIC.to_le_bytes());
        head.get_mut(4..8)?.copy_from_slice(&self.run.to_le_bytes());
        head.get_mut(8..16)?
            .copy_from_slice(&self.seq.to_le_bytes());
        head.get_mut(16..24)?
            .copy_from_slice(&self.sent_ns.to_le_bytes());
        for (i, b) in rest.iter_mut().enumerate() {
            *b = i as u8;
        }
        Some(())
    }

    /// Reads the header of `buf`, or `None` if `buf` is not a benchmark
    /// message.
    pub(crate) fn read(buf: &[u8]) -> Option<Self> {
        let word = |range: std::ops::Range<usize>| buf.get(range);
        let magic = u32::from_le_bytes(word(0..4)?.try_into().ok()?);
        if magic != MAGIC {
            return None;
        }
        Some(Stamp {
            run: u32::from_le_bytes(word(4..8)?.try_into().ok()?),
            seq: u64::from_le_bytes(word(8..16)?.try_into().ok()?),
            sent_ns: u64::from_le_bytes(word(16..24)?.try_into().ok()?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rejects() {
        let stamp = Stamp {
            run: 7,
            seq: 42,
            sent_ns: 123_456_789,
        };
        let mut buf = [0u8; 32];
        stamp.write(&mut buf).unwrap();
        assert_eq!(Stamp::read(&buf), Some(stamp));
        assert_eq!(Stamp::read(&buf[..HEADER_LEN - 1]), None);
        assert!(stamp.write(&mut [0u8; HEADER_LEN - 1]).is_none());
        buf[0] ^= 1;
        assert_eq!(Stamp::read(&buf), None);
    }
}
