//! Timing and flow-control settings of a ring member.

use blaze_wire::Duration;
use core::fmt;

/// Settings of a [`Totem`](crate::Totem) member, validated by
/// [`Config::validate`] when the member is created.
///
/// The defaults (also [`Config::lan`]) detect a crashed member within
/// `token_timeout + consensus_timeout` (about 0.35 s) and keep a ring
/// stable under 10 % datagram loss: a token is retransmitted every
/// `token_retransmit` until the holder sees evidence that it arrived, so
/// `token_timeout / token_retransmit` copies must all be lost before the
/// ring is declared broken.
///
/// ```
/// use blaze_proto_totem::Config;
/// let c = Config::lan();
/// assert!(c.validate().is_ok());
/// assert_eq!(c.token_timeout.total_millis(), 200);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Config {
    /// Time without the token after which the ring is declared lost.
    pub token_timeout: Duration,
    /// Interval between retransmissions of a forwarded token (or commit
    /// token) while no evidence shows the successor got it.
    pub token_retransmit: Duration,
    /// How long an idle holder (nothing to send, nothing missing) keeps the
    /// token before passing it on; keeps an idle ring cheap. A member that
    /// has something to send meanwhile asks for the token (an empty data
    /// batch on the ring), and the holder passes it on at once.
    pub token_hold: Duration,
    /// How long after the last activity it saw (a message sent, served or
    /// missing, a backlog, a message not yet safe) a member passes an idle
    /// token on at once instead of holding it: a busy ring keeps turning
    /// without holds, so that a message sent between two bursts waits for
    /// no timer. Longer costs more CPU on a ring that goes quiet (the
    /// token turns idle meanwhile); shorter costs a token request and its
    /// hop for the first message after a pause.
    pub token_linger: Duration,
    /// Interval between join messages in the gather state.
    pub join_interval: Duration,
    /// Time in the gather state after which members that have not agreed
    /// are declared failed.
    pub consensus_timeout: Duration,
    /// Interval at which a ring's representative announces the ring by
    /// multicast, so that rings separated by a healed partition find each
    /// other and merge.
    pub merge_interval: Duration,
    /// Flow control: messages broadcast on the whole ring per rotation
    /// (and at most the storage's `W`; a member with others waiting gets a
    /// share of it in proportion to its queue).
    pub window: u32,
    /// Flow control: messages one member broadcasts per token visit.
    pub max_messages: u32,
    /// Flow control: bytes (topics and payloads) of the new messages one
    /// member broadcasts per token visit (at least one message): with a
    /// large `max_messages` for small messages, a visit of large ones
    /// still comes as a burst the receivers' socket buffers hold.
    pub max_bytes: u32,
    /// Services this member runs, carried in its ring joins
    /// (`Join::services`, a bit set such as `blaze_wire::SERVICE_MAP`) for
    /// the application; the ring itself does not read it. Every member of
    /// a new ring has received a join of every other member in the round
    /// that formed it, so an application that reads them knows each
    /// member's services before the configuration is delivered.
    pub services: u32,
}

impl Config {
    /// Settings for a local network (the default).
    pub const fn lan() -> Self {
        Config {
            token_timeout: Duration::from_millis(200),
            token_retransmit: Duration::from_millis(25),
            token_hold: Duration::from_millis(2),
            token_linger: Duration::from_millis(2),
            join_interval: Duration::from_millis(20),
            consensus_timeout: Duration::from_millis(100),
            merge_interval: Duration::from_millis(100),
            window: 256,
            max_messages: 64,
            max_bytes: 64 * 1024,
            services: 0,
        }
    }

    /// Settings for a wide-area network: longer timeouts.
    pub const fn wan() -> Self {
        Config {
            token_timeout: Duration::from_millis(1_000),
            token_retransmit: Duration::from_millis(120),
            token_hold: Duration::from_millis(10),
            token_linger: Duration::from_millis(10),
            join_interval: Duration::from_millis(100),
            consensus_timeout: Duration::from_millis(500),
            merge_interval: Duration::from_millis(500),
            window: 256,
            max_messages: 64,
            max_bytes: 64 * 1024,
            services: 0,
        }
    }

    /// LAN settings whose ring survives a member that stays silent for
    /// less than `failure_timeout` (a stalled process, a burst of loss):
    /// the token timeout becomes `failure_timeout`, the consensus timeout
    /// half of it, so that the ring is no quicker to drop a member than a
    /// membership view with that failure timeout. A crashed member is then
    /// excluded after about `1.5 × failure_timeout`.
    ///
    /// With [`lan`](Config::lan) timers next to such a view, a process
    /// that does not run for a few hundred milliseconds (a debug build on
    /// a loaded machine) splits the ring while the view stays whole, and
    /// the messages sent meanwhile reach only part of the group.
    ///
    /// ```
    /// use blaze_proto_totem::Config;
    /// use blaze_wire::Duration;
    /// let c = Config::tolerating(Duration::from_millis(1_000));
    /// assert!(c.validate().is_ok());
    /// assert_eq!(c.token_timeout.total_millis(), 1_000);
    /// assert_eq!(c.consensus_timeout.total_millis(), 500);
    /// // Never quicker than the LAN settings.
    /// assert_eq!(Config::tolerating(Duration::from_millis(10)), Config::lan());
    /// ```
    pub const fn tolerating(failure_timeout: Duration) -> Self {
        let lan = Config::lan();
        let mut c = lan;
        if failure_timeout.total_micros() > lan.token_timeout.total_micros() {
            c.token_timeout = failure_timeout;
            let half = Duration::from_micros(failure_timeout.total_micros() / 2);
            if half.total_micros() > lan.consensus_timeout.total_micros() {
                c.consensus_timeout = half;
            }
        }
        c
    }

    /// Checks the settings; nothing changes.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.token_retransmit.total_micros() == 0
            || self.token_retransmit.total_micros() * 2 > self.token_timeout.total_micros()
        {
            return Err(ConfigError::TokenRetransmit);
        }
        if self.token_hold.total_micros() * 4 > self.token_retransmit.total_micros() {
            return Err(ConfigError::TokenHold);
        }
        if self.join_interval.total_micros() == 0
            || self.join_interval.total_micros() * 2 > self.consensus_timeout.total_micros()
        {
            return Err(ConfigError::JoinInterval);
        }
        if self.merge_interval.total_micros() == 0 {
            return Err(ConfigError::MergeInterval);
        }
        if self.window == 0 || self.max_messages == 0 || self.max_bytes == 0 {
            return Err(ConfigError::FlowControl);
        }
        Ok(())
    }
}

impl Default for Config {
    fn default() -> Self {
        Config::lan()
    }
}

/// A [`Config`] was refused; nothing was created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum ConfigError {
    /// `token_retransmit` is zero or more than half of `token_timeout`.
    TokenRetransmit,
    /// `token_hold` is more than a quarter of `token_retransmit`.
    TokenHold,
    /// `join_interval` is zero or more than half of `consensus_timeout`.
    JoinInterval,
    /// `merge_interval` is zero.
    MergeInterval,
    /// `window`, `max_messages` or `max_bytes` is zero.
    FlowControl,
    /// The [`Buffers`](crate::Buffers) lent do not match the machine: not
    /// exactly [`slots_needed`](crate::Buffers::slots_needed) slots, or
    /// fewer than [`bytes_needed`](crate::Buffers::bytes_needed) bytes.
    Buffers,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConfigError::TokenRetransmit => {
                "token_retransmit must be non-zero and at most half of token_timeout"
            }
            ConfigError::TokenHold => "token_hold must be at most a quarter of token_retransmit",
            ConfigError::JoinInterval => {
                "join_interval must be non-zero and at most half of consensus_timeout"
            }
            ConfigError::MergeInterval => "merge_interval must be non-zero",
            ConfigError::FlowControl => "window, max_messages and max_bytes must be non-zero",
            ConfigError::Buffers => "buffers do not match the window, slot and queue sizes",
        })
    }
}

impl core::error::Error for ConfigError {}
