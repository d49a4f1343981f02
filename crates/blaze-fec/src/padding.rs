//! Carrying a payload's true length inside an equal-length symbol.
//!
//! Every symbol of a block has one length, so the data symbols of a block of
//! messages of different lengths are padded to the longest. A receiver that
//! rebuilds a lost symbol gets the padded bytes back, and must learn where
//! the message ends. Either the protocol carries the lengths elsewhere (in
//! the parity frame's header, say), or the symbol carries it: these helpers
//! put a 2-byte little-endian length before the payload and zeros after it.

use crate::PadError;

/// Bytes of the length prefix.
pub const LEN_PREFIX: usize = 2;

/// The symbol length that holds a payload of `payload_len` bytes: the block's
/// symbol length is this for its longest payload.
pub const fn padded_len(payload_len: usize) -> usize {
    payload_len.saturating_add(LEN_PREFIX)
}

/// Writes `payload` into `symbol` as `[len: u16 LE][payload][zeros]`.
///
/// ```
/// use blaze_fec::{pad_symbol, padded_len, unpad_symbol};
/// let msgs: [&[u8]; 2] = [b"hi", b"hello"];
/// let len = msgs.iter().map(|m| padded_len(m.len())).max().unwrap_or(0);
/// let mut sym = [0u8; 7];
/// assert_eq!(len, sym.len());
/// pad_symbol(msgs[0], &mut sym)?;
/// assert_eq!(sym, [2, 0, b'h', b'i', 0, 0, 0]);
/// assert_eq!(unpad_symbol(&sym)?, b"hi");
/// # Ok::<(), blaze_fec::PadError>(())
/// ```
///
/// # Errors
/// [`PadError::SymbolTooSmall`] or [`PadError::PayloadTooLong`]; `symbol`
/// is unchanged then.
pub fn pad_symbol(payload: &[u8], symbol: &mut [u8]) -> Result<(), PadError> {
    let len = u16::try_from(payload.len()).map_err(|_| PadError::PayloadTooLong)?;
    let required = padded_len(payload.len());
    let (prefix, rest) = symbol
        .split_at_mut_checked(LEN_PREFIX)
        .ok_or(PadError::SymbolTooSmall { required })?;
    let (body, pad) = rest
        .split_at_mut_checked(payload.len())
        .ok_or(PadError::SymbolTooSmall { required })?;
    prefix.copy_from_slice(&len.to_le_bytes());
    body.copy_from_slice(payload);
    pad.fill(0);
    Ok(())
}

/// The payload of a symbol written by [`pad_symbol`].
///
/// # Errors
/// [`PadError::BadLength`] if the prefix is missing or claims more bytes
/// than the symbol has (a corrupted symbol cannot make this read out of
/// bounds).
pub fn unpad_symbol(symbol: &[u8]) -> Result<&[u8], PadError> {
    let Some((&[a, b], rest)) = symbol.split_first_chunk::<LEN_PREFIX>() else {
        return Err(PadError::BadLength { claimed: 0 });
    };
    let claimed = usize::from(u16::from_le_bytes([a, b]));
    rest.get(..claimed).ok_or(PadError::BadLength { claimed })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_errors() {
        let mut sym = [0xeeu8; 6];
        pad_symbol(b"abcd", &mut sym).unwrap();
        assert_eq!(unpad_symbol(&sym).unwrap(), b"abcd");
        pad_symbol(b"", &mut sym).unwrap();
        assert_eq!(sym, [0; 6]);
        assert_eq!(unpad_symbol(&sym).unwrap(), b"");

        let mut small = [7u8; 4];
        assert_eq!(
            pad_symbol(b"abc", &mut small),
            Err(PadError::SymbolTooSmall { required: 5 })
        );
        assert_eq!(small, [7; 4]);
        assert_eq!(unpad_symbol(&[9]), Err(PadError::BadLength { claimed: 0 }));
        assert_eq!(
            unpad_symbol(&[5, 0, 1, 2]),
            Err(PadError::BadLength { claimed: 5 })
        );
    }
}
