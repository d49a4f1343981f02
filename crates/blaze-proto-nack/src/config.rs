//! Configuration: tunables, named profiles and their validation.

use core::fmt;
use core::num::{NonZeroU16, NonZeroU32, NonZeroU64};

use blaze_wire::Duration;

use crate::fec::FecConfig;

/// Bytes of every data datagram that are not payload: frame envelope, batch
/// header and the framing of one fragment, with room to spare.
pub const FRAME_OVERHEAD: usize = 128;

/// Longest topic of a message, in bytes. A message's topic travels in its
/// first fragment and counts against that fragment's
/// [`Config::fragment_size`] bytes.
pub const MAX_TOPIC_LEN: usize = 64;

/// Quality of service of the local stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Reliability {
    /// Plain datagrams: no retransmit window, no NACK, no flow control.
    /// Receivers deliver what arrives in sequence order and skip holes
    /// (counted in [`RecvStats::best_effort_lost`](crate::RecvStats)).
    BestEffort,
    /// Per-sender FIFO, exactly once, NACK-based recovery; a hole that can
    /// no longer be repaired is reported by
    /// [`Event::Unrecoverable`](crate::Event::Unrecoverable).
    Reliable,
    /// Like [`Reliability::Reliable`], with Reed–Solomon parity: proactive
    /// (`k` data plus `parity` parity symbols per block), on demand (a NACK
    /// is answered with parity that heals different losses at different
    /// receivers) and optionally adaptive. See [`FecConfig`].
    ReliableFec(FecConfig),
}

impl Reliability {
    /// True for the reliable kinds (with or without FEC).
    pub const fn is_reliable(&self) -> bool {
        !matches!(self, Reliability::BestEffort)
    }

    /// The FEC shape, for [`Reliability::ReliableFec`].
    pub const fn fec(&self) -> Option<FecConfig> {
        match self {
            Reliability::ReliableFec(f) => Some(*f),
            _ => None,
        }
    }
}

/// Where a receiver starts in a sender's stream that it first hears of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum LateJoin {
    /// From the next message sent after the first frame heard.
    Next,
    /// From the oldest message the sender still holds.
    Oldest,
}

/// Tunables of an [`Endpoint`](crate::Endpoint).
///
/// Start from a profile and adjust; [`Config::validate`] (also run by
/// [`Endpoint::new`](crate::Endpoint::new) and
/// [`Endpoint::set_config`](crate::Endpoint::set_config)) rejects
/// inconsistent values.
///
/// ```
/// use blaze_proto_nack::{Config, LateJoin};
/// let mut c = Config::lan();
/// c.late_join = LateJoin::Oldest;
/// assert!(c.validate().is_ok());
/// assert!(Config::wan().validate().is_ok());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct Config {
    /// Id of the local stream, carried in every data frame.
    pub stream: u32,
    /// Quality of service of the local stream.
    pub reliability: Reliability,
    /// Largest datagram produced, in bytes (the UDP payload size).
    pub mtu: NonZeroU16,
    /// Largest message `send` accepts, in bytes (further bounded by the
    /// send buffers; receivers drop and report larger ones).
    pub max_message_len: NonZeroU32,
    /// Round-trip time assumed until the first measurement.
    pub initial_rtt: Duration,
    /// Lower bound of every retry timeout derived from the RTT.
    pub min_timeout: Duration,
    /// A receiver waits `[min, min + spread]` percent of the SRTT (chosen
    /// uniformly at random) after detecting a hole before it NACKs, so the
    /// first NACK can reach the others and suppress theirs.
    pub nack_delay_min_pct: u16,
    /// See [`Config::nack_delay_min_pct`].
    pub nack_delay_spread_pct: u16,
    /// Longest wait before repeating an unanswered NACK (the retry timeout
    /// doubles from `srtt + 4 rttvar` up to this).
    pub nack_retry_max: Duration,
    /// Heartbeat interval of a stream that just went idle.
    pub heartbeat_interval: Duration,
    /// The interval doubles while the stream stays idle, up to this.
    pub heartbeat_max: Duration,
    /// Under load (a data datagram left less than `linger` ago), a datagram
    /// that is not full waits up to `linger` for more messages. An idle
    /// sender sends a lone message at once.
    pub linger: Duration,
    /// Optional rate limit of all data and repair traffic, bytes per second.
    pub rate_limit: Option<NonZeroU64>,
    /// Rate limit of repairs, bytes per second.
    pub repair_rate: NonZeroU64,
    /// Burst allowance of both buckets, bytes (at least one `mtu`).
    pub burst: NonZeroU32,
    /// Messages in flight beyond the slowest receiver's acknowledgement
    /// (must not exceed the receivers' window `W`).
    pub flow_window: NonZeroU32,
    /// Bytes a receiver keeps per remote stream for messages not yet
    /// delivered (a ring of variable-length records: a 64-byte message
    /// costs 64 bytes, not a whole fragment). At least four fragments are
    /// kept whatever this says; see [`Config::recv_region_len`]. Senders
    /// keep their bytes in flight below what a receiver with the same
    /// configuration can hold ([`Config::flow_bytes`]).
    pub recv_window_bytes: NonZeroU32,
    /// A receiver acknowledges progress once the stream has paused this
    /// long (or at once every quarter of the flow window), and at most
    /// four times this long after it.
    pub ack_delay: Duration,
    /// Slow-receiver policy: `None` holds the group to the slowest receiver;
    /// `Some(n)` cuts loose a receiver that lags more than `n` messages
    /// behind when it blocks `send`.
    pub max_lag: Option<NonZeroU32>,
    /// A receiver silent this long while holding the window is cut loose.
    pub peer_timeout: Duration,
    /// Where to start in a newly heard sender's stream.
    pub late_join: LateJoin,
}

/// A [`Config`] was refused; nothing was changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum ConfigError {
    /// `mtu` is below 256 bytes, or above 65 507.
    Mtu,
    /// A timer is zero, a maximum is below its base, or `peer_timeout` is
    /// not above `heartbeat_max`.
    Timers,
    /// The NACK delay percentages are both zero or too large (> 1000).
    NackDelay,
    /// `burst` is smaller than `mtu`.
    Burst,
    /// `flow_window` is larger than the receive window `W`.
    FlowWindow,
    /// The borrowed buffers are too small for this configuration (the
    /// receive rings need `PEERS * recv_region_len()` bytes, the send index
    /// and send bytes at least one entry and one fragment), or
    /// `set_config` would change the receive rings' size.
    Buffers,
    /// The receive window entries (`recv_slots`) are fewer than
    /// `PEERS * W`.
    RecvSlots,
    /// The FEC shape is invalid (`k` zero, `k + max_parity > 255`,
    /// `min_parity <= parity <= max_parity` violated, or no room left in
    /// a datagram for the parity header), or this build has no FEC (the
    /// `fec` feature is off).
    Fec,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConfigError::Mtu => "mtu out of range",
            ConfigError::Timers => "a timer is zero or a maximum is below its base",
            ConfigError::NackDelay => "NACK delay percentages out of range",
            ConfigError::Burst => "burst smaller than mtu",
            ConfigError::FlowWindow => "flow window larger than the receive window",
            ConfigError::Buffers => "buffers too small for the configuration",
            ConfigError::RecvSlots => "fewer receive window entries than PEERS * W",
            ConfigError::Fec => "invalid FEC shape",
        })
    }
}

impl core::error::Error for ConfigError {}

const fn nz16(v: u16) -> NonZeroU16 {
    match NonZeroU16::new(v) {
        Some(v) => v,
        None => NonZeroU16::MIN,
    }
}

const fn nz32(v: u32) -> NonZeroU32 {
    match NonZeroU32::new(v) {
        Some(v) => v,
        None => NonZeroU32::MIN,
    }
}

const fn nz64(v: u64) -> NonZeroU64 {
    match NonZeroU64::new(v) {
        Some(v) => v,
        None => NonZeroU64::MIN,
    }
}

impl Config {
    /// A local network: RTT in the tens to hundreds of microseconds, so a
    /// hole is NACKed after half to one and a half SRTT (well under a
    /// millisecond) and tail loss shows within a millisecond.
    pub const fn lan() -> Self {
        Config {
            stream: 0,
            reliability: Reliability::Reliable,
            mtu: nz16(1472),
            max_message_len: nz32(16 << 20),
            initial_rtt: Duration::from_micros(200),
            min_timeout: Duration::from_micros(50),
            nack_delay_min_pct: 50,
            nack_delay_spread_pct: 100,
            nack_retry_max: Duration::from_millis(50),
            heartbeat_interval: Duration::from_millis(1),
            heartbeat_max: Duration::from_millis(500),
            linger: Duration::from_micros(20),
            rate_limit: None,
            repair_rate: nz64(100_000_000),
            burst: nz32(64 * 1024),
            flow_window: nz32(64),
            recv_window_bytes: nz32(128 * 1024),
            ack_delay: Duration::from_micros(500),
            max_lag: None,
            peer_timeout: Duration::from_secs(3),
            late_join: LateJoin::Next,
        }
    }

    /// A wide-area network: RTT in the tens of milliseconds.
    pub const fn wan() -> Self {
        Config {
            stream: 0,
            reliability: Reliability::Reliable,
            mtu: nz16(1200),
            max_message_len: nz32(16 << 20),
            initial_rtt: Duration::from_millis(50),
            min_timeout: Duration::from_millis(5),
            nack_delay_min_pct: 50,
            nack_delay_spread_pct: 100,
            nack_retry_max: Duration::from_secs(2),
            heartbeat_interval: Duration::from_millis(20),
            heartbeat_max: Duration::from_secs(2),
            linger: Duration::from_millis(1),
            rate_limit: None,
            repair_rate: nz64(10_000_000),
            burst: nz32(64 * 1024),
            flow_window: nz32(64),
            recv_window_bytes: nz32(128 * 1024),
            ack_delay: Duration::from_millis(10),
            max_lag: None,
            peer_timeout: Duration::from_secs(10),
            late_join: LateJoin::Next,
        }
    }

    /// Payload bytes of one fragment: every message of up to this many
    /// bytes travels unfragmented.
    pub const fn fragment_size(&self) -> usize {
        self.mtu.get() as usize - FRAME_OVERHEAD
    }

    /// The FEC shape of the local stream, when this build has FEC (the
    /// `fec` feature): without it, every FEC path folds away.
    pub(crate) const fn fec_shape(&self) -> Option<FecConfig> {
        if cfg!(feature = "fec") {
            self.reliability.fec()
        } else {
            None
        }
    }

    /// Bytes of a receiver's ring per remote stream:
    /// [`recv_window_bytes`](Self::recv_window_bytes), and at least four
    /// fragments.
    pub const fn recv_region_len(&self) -> usize {
        let want = self.recv_window_bytes.get() as usize;
        let least = 4 * self.fragment_size();
        if want > least { want } else { least }
    }

    /// Bytes a sender keeps in flight beyond the slowest receiver's
    /// acknowledgement: a receiver's ring less three fragments (two held
    /// back so that the next message in sequence always fits, one lost to
    /// the ring's wrap).
    pub const fn flow_bytes(&self) -> usize {
        self.recv_region_len() - 3 * self.fragment_size()
    }

    /// Payload bytes of one fragment this member sends: the
    /// [`fragment_size`](Self::fragment_size), less room for the parity
    /// header on FEC streams (so that one padded symbol and its header fit
    /// a datagram: `3 k + 40` bytes).
    pub const fn send_fragment_size(&self) -> usize {
        match self.reliability {
            Reliability::ReliableFec(f) => {
                self.fragment_size().saturating_sub(3 * f.k as usize + 40)
            }
            _ => self.fragment_size(),
        }
    }

    /// Checks the values against each other.
    ///
    /// # Errors
    ///
    /// The first inconsistency found, as a [`ConfigError`].
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(256..=65_507).contains(&self.mtu.get()) {
            return Err(ConfigError::Mtu);
        }
        let zero = Duration::ZERO;
        if self.initial_rtt == zero
            || self.min_timeout == zero
            || self.heartbeat_interval == zero
            || self.ack_delay == zero
            || self.peer_timeout == zero
            || self.heartbeat_max < self.heartbeat_interval
            || self.nack_retry_max < self.min_timeout
            || self.peer_timeout <= self.heartbeat_max
        {
            return Err(ConfigError::Timers);
        }
        if self.nack_delay_min_pct > 1000
            || self.nack_delay_spread_pct > 1000
            || (self.nack_delay_min_pct == 0 && self.nack_delay_spread_pct == 0)
        {
            return Err(ConfigError::NackDelay);
        }
        if self.burst.get() < u32::from(self.mtu.get()) {
            return Err(ConfigError::Burst);
        }
        if let Reliability::ReliableFec(f) = self.reliability {
            if !cfg!(feature = "fec") {
                return Err(ConfigError::Fec);
            }
            f.validate()?;
            if self.send_fragment_size() < 32 {
                return Err(ConfigError::Fec);
            }
        }
        Ok(())
    }
}

impl Default for Config {
    fn default() -> Self {
        Config::lan()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_are_valid_and_refusals_are_typed() {
        assert_eq!(Config::lan().validate(), Ok(()));
        assert_eq!(Config::wan().validate(), Ok(()));
        let mut c = Config::lan();
        c.mtu = nz16(100);
        assert_eq!(c.validate(), Err(ConfigError::Mtu));
        let mut c = Config::lan();
        c.heartbeat_max = Duration::from_micros(1);
        assert_eq!(c.validate(), Err(ConfigError::Timers));
        let mut c = Config::lan();
        c.nack_delay_min_pct = 0;
        c.nack_delay_spread_pct = 0;
        assert_eq!(c.validate(), Err(ConfigError::NackDelay));
        let mut c = Config::lan();
        c.burst = nz32(10);
        assert_eq!(c.validate(), Err(ConfigError::Burst));
        assert_eq!(Config::lan().fragment_size(), 1472 - FRAME_OVERHEAD);
    }
}
