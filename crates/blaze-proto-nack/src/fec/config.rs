//! The shape of a "reliable + FEC" stream: block size, proactive parity
//! and its adaptive bounds.

use blaze_fec::MAX_SYMBOLS;

/// Forward error correction of a stream
/// ([`Reliability::ReliableFec`](crate::Reliability::ReliableFec)).
///
/// Every `k` consecutive sequence numbers form a block (a block closes
/// earlier when the stream goes idle, with fewer data symbols). After a
/// block's last data message the sender sends `parity` parity symbols
/// (proactive); a NACK for a closed block is answered with new parity
/// symbols (on demand), as many as the largest loss a receiver reported,
/// up to `255 - k` per block, then with plain retransmissions. With
/// `adaptive`, the proactive count follows the loss rate receivers report,
/// within `[min_parity, max_parity]`.
///
/// Receivers rebuild a block from their own receive slots: keep
/// `flow_window <= W - k` so that the symbols of a block they already
/// delivered are still there when its parity arrives (otherwise that block
/// is repaired by retransmission, counted in
/// [`FecStats::blocks_unusable`](crate::FecStats::blocks_unusable)).
///
/// ```
/// use blaze_proto_nack::FecConfig;
/// let fec = FecConfig::proactive(16, 4);
/// assert!(fec.validate().is_ok());
/// assert!(FecConfig::proactive(250, 10).validate().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct FecConfig {
    /// Data symbols (sequence numbers) per block, at least 1.
    pub k: u8,
    /// Parity symbols sent proactively after each block (0: on demand only).
    pub parity: u8,
    /// Lower bound of the adaptive proactive parity.
    pub min_parity: u8,
    /// Upper bound of the adaptive proactive parity.
    pub max_parity: u8,
    /// Proactive parity follows the receivers' reported loss rate.
    pub adaptive: bool,
}

impl FecConfig {
    /// `k` data and `parity` proactive parity symbols per block, fixed.
    pub const fn proactive(k: u8, parity: u8) -> Self {
        FecConfig {
            k,
            parity,
            min_parity: parity,
            max_parity: parity,
            adaptive: false,
        }
    }

    /// Blocks of `k` data symbols, parity only when a receiver asks.
    pub const fn on_demand(k: u8) -> Self {
        FecConfig::proactive(k, 0)
    }

    /// Blocks of `k`, proactive parity adapted to the reported loss within
    /// `[min, max]`, starting at `min`.
    pub const fn adaptive(k: u8, min: u8, max: u8) -> Self {
        FecConfig {
            k,
            parity: min,
            min_parity: min,
            max_parity: max,
            adaptive: true,
        }
    }

    /// The most parity symbols a block of `k` data symbols can have.
    pub const fn parity_capacity(k: u8) -> u8 {
        (MAX_SYMBOLS as u8).saturating_sub(k)
    }

    /// Checks the shape: `k >= 1`, `min <= parity <= max`,
    /// `k + max <= 255`.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Fec`](crate::ConfigError::Fec).
    pub const fn validate(&self) -> Result<(), crate::ConfigError> {
        let ok = self.k >= 1
            && self.min_parity <= self.parity
            && self.parity <= self.max_parity
            && (self.k as usize) + (self.max_parity as usize) <= MAX_SYMBOLS;
        if ok {
            Ok(())
        } else {
            Err(crate::ConfigError::Fec)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Config, ConfigError, Reliability};

    #[test]
    #[cfg(feature = "fec")]
    fn shapes_are_validated() {
        assert_eq!(FecConfig::proactive(16, 4).validate(), Ok(()));
        assert_eq!(FecConfig::on_demand(255).validate(), Ok(()));
        assert_eq!(FecConfig::proactive(0, 1).validate(), Err(ConfigError::Fec));
        assert_eq!(
            FecConfig::proactive(200, 56).validate(),
            Err(ConfigError::Fec)
        );
        assert_eq!(
            FecConfig::adaptive(8, 5, 2).validate(),
            Err(ConfigError::Fec)
        );
        let mut c = Config::lan();
        c.reliability = Reliability::ReliableFec(FecConfig::adaptive(16, 1, 8));
        assert_eq!(c.validate(), Ok(()));
        assert_eq!(c.send_fragment_size(), c.fragment_size() - 3 * 16 - 40);
        c.reliability = Reliability::ReliableFec(FecConfig::proactive(200, 60));
        assert_eq!(c.validate(), Err(ConfigError::Fec));
        // No room left for a symbol in a small datagram.
        c.mtu = core::num::NonZeroU16::new(256).unwrap_or(core::num::NonZeroU16::MIN);
        c.burst = core::num::NonZeroU32::new(4096).unwrap_or(core::num::NonZeroU32::MIN);
        c.reliability = Reliability::ReliableFec(FecConfig::proactive(64, 4));
        assert_eq!(c.validate(), Err(ConfigError::Fec));
        assert!(Reliability::ReliableFec(FecConfig::on_demand(4)).is_reliable());
        assert_eq!(Reliability::Reliable.fec(), None);
    }

    #[test]
    #[cfg(not(feature = "fec"))]
    fn fec_streams_are_refused_without_the_feature() {
        let mut c = Config::lan();
        c.reliability = Reliability::ReliableFec(FecConfig::proactive(16, 4));
        assert_eq!(c.validate(), Err(ConfigError::Fec));
        assert_eq!(c.fec_shape(), None);
        c.reliability = Reliability::Reliable;
        assert_eq!(c.validate(), Ok(()));
    }
}
