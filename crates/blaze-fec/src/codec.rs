//! The codec: a block shape (data and parity counts) and a kernel.

use crate::cauchy::{decode_matrix, parity_coef};
use crate::kernel::{Backend, Kernel};
use crate::{ConfigError, DecodeError, EncodeError};

/// The most symbols (data plus parity) in one block.
pub const MAX_SYMBOLS: usize = 255;

/// The scratch bytes [`Codec::decode`] needs for a code of `data` data and
/// `parity` parity symbols, whatever symbols are lost: `e * (k + 4) + k`
/// for `e = min(parity, data)` erasures and `k = data`.
///
/// A `const fn`, so firmware can size a `static` or stack array with it:
///
/// ```
/// let scratch = [0u8; blaze_fec::decode_scratch_len(16, 4)];
/// assert_eq!(scratch.len(), 4 * (16 + 4) + 16);
/// ```
pub const fn decode_scratch_len(data: usize, parity: usize) -> usize {
    let e = if parity < data { parity } else { data };
    scratch_for(data, e)
}

/// Scratch for `e` erasures with `k` data symbols (see [`decode_scratch_len`]).
const fn scratch_for(k: usize, e: usize) -> usize {
    e.saturating_mul(k.saturating_add(4)).saturating_add(k)
}

/// A systematic Reed–Solomon erasure code over GF(2^8): `k` data symbols
/// and `m` parity symbols per block, `1 <= k`, `k + m <= 255`, any `k` of the
/// `k + m` symbols rebuild the block.
///
/// Symbols are byte strings of one length per block (pad the short ones,
/// see [`pad_symbol`](crate::pad_symbol)); the length may differ from block
/// to block. The codec holds no buffers: data, parity, output and scratch
/// are the caller's, passed as slices of slices, so a sender or receiver can
/// point straight into the slots of its own window ring. It is `Copy`,
/// cheap to build, and never allocates or panics.
///
/// ```
/// use blaze_fec::Codec;
///
/// // 4 data + 2 parity symbols of 8 bytes.
/// let codec = Codec::new(4, 2)?;
/// let data: [&[u8]; 4] = [b"Blaze is", b" a group", b" communi", b"cation! "];
/// let mut p = [[0u8; 8]; 2];
/// let [p0, p1] = &mut p;
/// codec.encode(&data, &mut [p0, p1])?;
///
/// // Data symbols 1 and 3 are lost; both parity symbols arrived.
/// let received = [Some(data[0]), None, Some(data[2]), None, Some(&p[0][..]), Some(&p[1][..])];
/// let (mut one, mut three) = ([0u8; 8], [0u8; 8]);
/// let mut scratch = [0u8; blaze_fec::decode_scratch_len(4, 2)];
/// codec.decode(&received, &mut [&mut one, &mut three], &mut scratch)?;
/// assert_eq!(&one, b" a group");
/// assert_eq!(&three, b"cation! ");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Codec {
    data: u8,
    parity: u8,
    kernel: Kernel,
}

impl Codec {
    /// A codec for `data` data and `parity` parity symbols per block, on the
    /// fastest backend of this CPU (SIMD needs the `std` feature on x86_64).
    pub fn new(data: usize, parity: usize) -> Result<Self, ConfigError> {
        let (data, parity) = check_shape(data, parity)?;
        Ok(Codec {
            data,
            parity,
            kernel: Kernel::detect(),
        })
    }

    /// A codec on the portable table-driven backend, whatever the CPU: the
    /// reference the SIMD backends are tested against.
    ///
    /// ```
    /// use blaze_fec::{Backend, Codec};
    /// const CODEC: Codec = match Codec::portable(16, 4) {
    ///     Ok(c) => c,
    ///     Err(_) => panic!("16 + 4 is a valid shape"),
    /// };
    /// assert_eq!(CODEC.backend(), Backend::Portable);
    /// ```
    pub const fn portable(data: usize, parity: usize) -> Result<Self, ConfigError> {
        match check_shape(data, parity) {
            Ok((data, parity)) => Ok(Codec {
                data,
                parity,
                kernel: Kernel::Portable,
            }),
            Err(e) => Err(e),
        }
    }

    /// A codec on a chosen backend;
    /// [`ConfigError::Unsupported`] if this build or CPU lacks it.
    pub fn with_backend(data: usize, parity: usize, backend: Backend) -> Result<Self, ConfigError> {
        let (data, parity) = check_shape(data, parity)?;
        let kernel = Kernel::for_backend(backend).ok_or(ConfigError::Unsupported(backend))?;
        Ok(Codec {
            data,
            parity,
            kernel,
        })
    }

    /// Data symbols per block (`k`).
    pub const fn data_count(&self) -> usize {
        self.data as usize
    }

    /// Parity symbols per block (`m`).
    pub const fn parity_count(&self) -> usize {
        self.parity as usize
    }

    /// The backend this codec runs on.
    pub fn backend(&self) -> Backend {
        self.kernel.backend()
    }

    /// The scratch bytes [`decode`](Self::decode) needs for any erasure
    /// pattern of this codec; see [`decode_scratch_len`].
    pub const fn decode_scratch_len(&self) -> usize {
        decode_scratch_len(self.data_count(), self.parity_count())
    }

    /// Computes every parity symbol of a block.
    ///
    /// `data` holds the `k` data symbols in order, all of one length;
    /// `parity` the `m` output buffers of that same length, which are
    /// overwritten with parity symbols `0..m`.
    ///
    /// # Errors
    /// [`EncodeError`] if a count or a length is off; nothing is written then.
    pub fn encode(&self, data: &[&[u8]], parity: &mut [&mut [u8]]) -> Result<(), EncodeError> {
        let len = self.check_data(data)?;
        if parity.len() != self.parity_count() {
            return Err(EncodeError::ParityCount {
                expected: self.parity_count(),
                actual: parity.len(),
            });
        }
        check_lengths(len, parity.iter().map(|p| p.len()))?;
        let k = self.data;
        self.kernel.run(
            self.data_count(),
            &|j| data.get(j).copied().unwrap_or(&[]),
            &|r, j| parity_coef(k, r as u8, j as u8),
            parity,
        );
        Ok(())
    }

    /// Computes one parity symbol, number `index` (`0..m`), into `out`:
    /// the same bytes as `encode`'s `parity[index]`. For parity made on
    /// demand, one symbol at a time: build the codec with the most parity
    /// symbols a block may ever get (up to `255 - k`) and send indices as
    /// needed; a receiver decodes from whichever `k` symbols it holds, and
    /// [`decode_scratch_len`] grows only with `min(k, m)`.
    ///
    /// ```
    /// use blaze_fec::Codec;
    /// let codec = Codec::new(3, 2)?;
    /// let data: [&[u8]; 3] = [&[1, 2], &[3, 4], &[5, 6]];
    /// let (mut all, mut one) = ([[0u8; 2]; 2], [0u8; 2]);
    /// let [a0, a1] = &mut all;
    /// codec.encode(&data, &mut [a0, a1])?;
    /// codec.encode_one(1, &data, &mut one)?;
    /// assert_eq!(one, all[1]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`EncodeError`] if `index >= m` or a count or a length is off;
    /// nothing is written then.
    pub fn encode_one(
        &self,
        index: usize,
        data: &[&[u8]],
        out: &mut [u8],
    ) -> Result<(), EncodeError> {
        let len = self.check_data(data)?;
        if index >= self.parity_count() {
            return Err(EncodeError::ParityIndex {
                index,
                parity: self.parity_count(),
            });
        }
        check_lengths(len, [out.len()])?;
        let (k, row) = (self.data, index as u8);
        self.kernel.run(
            self.data_count(),
            &|j| data.get(j).copied().unwrap_or(&[]),
            &|_, j| parity_coef(k, row, j as u8),
            &mut [out],
        );
        Ok(())
    }

    /// Rebuilds the lost data symbols of a block from any `k` of its
    /// symbols.
    ///
    /// - `received` has one entry per symbol of the block, data `0..k`
    ///   then parity `0..m`: `Some(bytes)` for a symbol that arrived intact,
    ///   `None` for one that did not. All received symbols have one length.
    /// - `lost` has one buffer of that length per `None` among the data
    ///   entries, in increasing index order; each is overwritten with the
    ///   rebuilt symbol. Lost parity symbols are not rebuilt.
    /// - `scratch` holds [`decode_scratch_len`] bytes or more (the exact
    ///   need for `e` lost data symbols is `e * (k + 4) + k`).
    ///
    /// Only `e` received parity symbols are read (the first ones), and the
    /// work is `e * k` multiply-adds per byte: decoding costs what encoding
    /// `e` parity symbols costs. With nothing lost it returns at once.
    ///
    /// Parity that arrived corrupted is not detected here (an erasure code
    /// only fills gaps): it yields wrong data symbols. Check the block with
    /// a [`crc32c()`](crate::crc32c()) of its data symbols.
    ///
    /// A receiver keeps its symbols in slots of its own window; one pass
    /// over the block's slots lends the arrived ones to `received` and the
    /// empty ones to `lost`, and the codec writes straight into them:
    ///
    /// ```
    /// use blaze_fec::Codec;
    ///
    /// const K: usize = 4;
    /// const M: usize = 2;
    /// let codec = Codec::new(K, M)?;
    ///
    /// // The sender's window: data slots then parity slots.
    /// let mut window = [[0u8; 8]; K + M];
    /// for (i, slot) in window.iter_mut().take(K).enumerate() {
    ///     slot.fill(0x10 + i as u8);
    /// }
    /// let (data, parity) = window.split_at_mut(K);
    /// let data: [&[u8]; K] = core::array::from_fn(|i| &data[i][..]);
    /// let mut parity = parity.iter_mut().map(|s| &mut s[..]);
    /// let (p0, p1) = (parity.next().unwrap(), parity.next().unwrap());
    /// codec.encode(&data, &mut [p0, p1])?;
    ///
    /// // The receiver's window: data symbols 1 and 2 never arrived.
    /// let mut rx = window;
    /// let arrived = [true, false, false, true, true, true];
    /// rx[1] = [0; 8];
    /// rx[2] = [0; 8];
    /// let mut received: [Option<&[u8]>; K + M] = [None; K + M];
    /// let mut lost: [&mut [u8]; M] = [&mut [], &mut []];
    /// let mut n = 0;
    /// for ((slot, ok), entry) in rx.iter_mut().zip(arrived).zip(&mut received) {
    ///     if ok {
    ///         *entry = Some(&*slot);
    ///     } else if let Some(out) = lost.get_mut(n) {
    ///         *out = slot;
    ///         n += 1;
    ///     }
    /// }
    /// let mut scratch = [0u8; blaze_fec::decode_scratch_len(K, M)];
    /// codec.decode(&received, &mut lost[..n], &mut scratch)?;
    /// assert_eq!(rx, window);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`DecodeError::TooFewSymbols`] with fewer than `k` symbols received
    /// (more erasures than parity), and the other [`DecodeError`]s for
    /// counts, lengths or scratch that do not fit. No `lost` byte is written
    /// then.
    pub fn decode(
        &self,
        received: &[Option<&[u8]>],
        lost: &mut [&mut [u8]],
        scratch: &mut [u8],
    ) -> Result<(), DecodeError> {
        let (k, m) = (self.data_count(), self.parity_count());
        if received.len() != k + m {
            return Err(DecodeError::ReceivedCount {
                expected: k + m,
                actual: received.len(),
            });
        }
        let count = received.iter().flatten().count();
        if count < k {
            return Err(DecodeError::TooFewSymbols {
                received: count,
                needed: k,
            });
        }
        let len = received.iter().flatten().next().map_or(0, |s| s.len());
        let symbol_len = |actual| DecodeError::SymbolLength {
            expected: len,
            actual,
        };
        if let Some(bad) = received.iter().flatten().find(|s| s.len() != len) {
            return Err(symbol_len(bad.len()));
        }
        let data_rx = received.get(..k).unwrap_or(&[]);
        let e = data_rx.iter().filter(|s| s.is_none()).count();
        if lost.len() != e {
            return Err(DecodeError::LostCount {
                expected: e,
                actual: lost.len(),
            });
        }
        if let Some(bad) = lost.iter().find(|s| s.len() != len) {
            return Err(symbol_len(bad.len()));
        }
        if e == 0 {
            return Ok(());
        }
        let required = scratch_for(k, e);
        let too_small = DecodeError::ScratchTooSmall { required };
        let scratch = scratch.get_mut(..required).ok_or(too_small)?;
        let (d, rest) = scratch.split_at_mut_checked(e * k).ok_or(too_small)?;
        let (cols, rest) = rest.split_at_mut_checked(k).ok_or(too_small)?;
        let (lost_ix, rest) = rest.split_at_mut_checked(e).ok_or(too_small)?;
        let (prows, work) = rest.split_at_mut_checked(e).ok_or(too_small)?;

        // Lost data indices, and as many received parity rows to stand in.
        let missing = data_rx.iter().enumerate().filter(|(_, s)| s.is_none());
        for (slot, (j, _)) in lost_ix.iter_mut().zip(missing) {
            *slot = j as u8;
        }
        let parity_rx = received.get(k..).unwrap_or(&[]).iter().enumerate();
        for (slot, (p, _)) in prows.iter_mut().zip(parity_rx.filter(|(_, s)| s.is_some())) {
            *slot = p as u8;
        }
        // Column j of the decoding matrix multiplies data symbol j if it was
        // received, else the parity symbol that stands in for it.
        let mut stand_in = prows.iter();
        for (j, (c, s)) in cols.iter_mut().zip(data_rx).enumerate() {
            *c = match s {
                Some(_) => j as u8,
                None => (k as u8).wrapping_add(stand_in.next().copied().unwrap_or(0)),
            };
        }
        decode_matrix(self.data, lost_ix, prows, work, d);

        let (cols, d) = (&*cols, &*d);
        self.kernel.run(
            k,
            &|j| {
                cols.get(j)
                    .and_then(|&c| received.get(usize::from(c)))
                    .copied()
                    .flatten()
                    .unwrap_or(&[])
            },
            &|r, j| d.get(j * e + r).copied().unwrap_or(0),
            lost,
        );
        Ok(())
    }

    /// Checks the data symbol count and lengths; returns the symbol length.
    fn check_data(&self, data: &[&[u8]]) -> Result<usize, EncodeError> {
        if data.len() != self.data_count() {
            return Err(EncodeError::DataCount {
                expected: self.data_count(),
                actual: data.len(),
            });
        }
        let len = data.first().map_or(0, |d| d.len());
        check_lengths(len, data.iter().map(|d| d.len()))?;
        Ok(len)
    }
}

/// Validates a block shape and narrows it to bytes.
const fn check_shape(data: usize, parity: usize) -> Result<(u8, u8), ConfigError> {
    if data == 0 {
        return Err(ConfigError::NoData);
    }
    let total = data.saturating_add(parity);
    if total > MAX_SYMBOLS {
        return Err(ConfigError::TooManySymbols { total });
    }
    Ok((data as u8, parity as u8))
}

/// Every length equals `len`.
fn check_lengths(len: usize, lens: impl IntoIterator<Item = usize>) -> Result<(), EncodeError> {
    match lens.into_iter().find(|&l| l != len) {
        Some(actual) => Err(EncodeError::SymbolLength {
            expected: len,
            actual,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_are_validated() {
        assert_eq!(Codec::new(0, 3), Err(ConfigError::NoData));
        assert_eq!(
            Codec::new(200, 56),
            Err(ConfigError::TooManySymbols { total: 256 })
        );
        assert_eq!(
            Codec::portable(usize::MAX, usize::MAX),
            Err(ConfigError::TooManySymbols { total: usize::MAX })
        );
        assert!(Codec::new(255, 0).is_ok());
        assert!(Codec::new(1, 254).is_ok());
        assert_eq!(
            Codec::with_backend(4, 2, Backend::Portable).map(|c| c.backend()),
            Ok(Backend::Portable)
        );
    }

    #[test]
    fn scratch_bound_covers_every_erasure_count() {
        for k in 1..=255usize {
            for m in 0..=(255 - k) {
                let bound = decode_scratch_len(k, m);
                for e in 0..=m.min(k) {
                    assert!(scratch_for(k, e) <= bound);
                }
            }
        }
    }

    #[test]
    fn zero_parity_encodes_and_decodes_nothing() {
        let codec = Codec::new(3, 0).unwrap();
        let data: [&[u8]; 3] = [&[1], &[2], &[3]];
        codec.encode(&data, &mut []).unwrap();
        let received = [Some(data[0]), Some(data[1]), Some(data[2])];
        codec.decode(&received, &mut [], &mut []).unwrap();
        let received = [Some(data[0]), None, Some(data[2])];
        assert_eq!(
            codec.decode(&received, &mut [&mut [0]], &mut [0; 64]),
            Err(DecodeError::TooFewSymbols {
                received: 2,
                needed: 3
            })
        );
    }
}
