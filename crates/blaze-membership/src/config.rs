//! Configuration: timing, discovery and coordinator weight.

use blaze_wire::Duration;
use core::fmt;
use core::net::SocketAddr;

/// The most unicast seed addresses a [`Config`] holds.
pub const MAX_SEEDS: usize = 8;

/// How members find each other and how group-wide frames travel.
#[allow(
    clippy::large_enum_variant,
    reason = "no allocator: the seed list is stored inline"
)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Discovery {
    /// Group-wide frames go to [`Destination::Group`](blaze_wire::Destination)
    /// (the adapter's multicast address).
    Multicast,
    /// No multicast: joins go to the configured seed addresses, and every
    /// group-wide frame is sent by unicast to every known member
    /// ([`Destination::Peer`](blaze_wire::Destination)).
    Unicast {
        /// Seed addresses, the first `count` are used.
        seeds: [Option<SocketAddr>; MAX_SEEDS],
    },
}

impl Discovery {
    /// Unicast discovery with the given seeds (at most [`MAX_SEEDS`]; extra
    /// seeds are ignored).
    pub fn unicast(list: &[SocketAddr]) -> Self {
        let mut seeds = [None; MAX_SEEDS];
        for (slot, addr) in seeds.iter_mut().zip(list) {
            *slot = Some(*addr);
        }
        Discovery::Unicast { seeds }
    }
}

/// Membership configuration. Build one from a profile, adjust the fields,
/// and call [`Config::validate`] (the constructor of
/// [`Membership`](crate::Membership) does).
///
/// ```
/// use blaze_membership::Config;
/// use blaze_wire::Duration;
/// let mut c = Config::lan();
/// c.heartbeat_interval = Duration::from_millis(50);
/// c.failure_timeout = Duration::from_millis(250);
/// assert!(c.validate().is_ok());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Time between two heartbeats of a member in each of its groups.
    pub heartbeat_interval: Duration,
    /// A member not heard from (directly or through indirect probes) for
    /// this long is declared failed. At least 3 heartbeat intervals.
    pub failure_timeout: Duration,
    /// Members asked to probe a silent member on our behalf in each probe
    /// round (SWIM ping-req fan-out).
    pub indirect_probes: u8,
    /// Retransmission time-out of point-to-point messages, replies, views
    /// and leaves.
    pub retransmit_interval: Duration,
    /// How long a joiner waits for an existing coordinator before forming a
    /// view itself.
    pub join_wait: Duration,
    /// Period of the coordinator's view announcement and of announcements to
    /// seeds and recently failed members (this is how partitions heal).
    pub announce_interval: Duration,
    /// How long a failed member is remembered (its address is used for
    /// announcements; its stale frames are ignored during the first
    /// `failure_timeout`).
    pub tombstone_ttl: Duration,
    /// Coordinator weight of this member: highest weight coordinates; equal
    /// weights fall back to age (ActiveBlaze's `masterWeight`).
    pub weight: u32,
    /// Discovery mode.
    pub discovery: Discovery,
}

/// Why a [`Config`] was refused.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigError {
    /// A duration is zero.
    ZeroDuration,
    /// `failure_timeout` is shorter than three heartbeat intervals.
    TimeoutTooShort,
    /// Unicast discovery without any seed.
    NoSeeds,
    /// Unicast discovery in a build without feature `unicast`.
    UnicastNotBuiltIn,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::ZeroDuration => f.write_str("a configured duration is zero"),
            ConfigError::TimeoutTooShort => {
                f.write_str("failure timeout shorter than 3 heartbeat intervals")
            }
            ConfigError::NoSeeds => f.write_str("unicast discovery needs at least one seed"),
            ConfigError::UnicastNotBuiltIn => {
                f.write_str("unicast discovery not built in (feature `unicast`)")
            }
        }
    }
}

impl core::error::Error for ConfigError {}

impl Config {
    /// A local network: 100 ms heartbeats, 500 ms failure time-out.
    pub const fn lan() -> Self {
        Config {
            heartbeat_interval: Duration::from_millis(100),
            failure_timeout: Duration::from_millis(500),
            indirect_probes: 3,
            retransmit_interval: Duration::from_millis(40),
            join_wait: Duration::from_millis(300),
            announce_interval: Duration::from_millis(1_000),
            tombstone_ttl: Duration::from_secs(60),
            weight: 0,
            discovery: Discovery::Multicast,
        }
    }

    /// A wide-area network: 1 s heartbeats, 5 s failure time-out, unicast
    /// discovery (set the seeds).
    pub const fn wan() -> Self {
        Config {
            heartbeat_interval: Duration::from_millis(1_000),
            failure_timeout: Duration::from_millis(5_000),
            indirect_probes: 3,
            retransmit_interval: Duration::from_millis(400),
            join_wait: Duration::from_millis(3_000),
            announce_interval: Duration::from_millis(5_000),
            tombstone_ttl: Duration::from_secs(600),
            weight: 0,
            discovery: Discovery::Unicast {
                seeds: [None; MAX_SEEDS],
            },
        }
    }

    /// Checks the invariants; nothing is changed.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let durations = [
            self.heartbeat_interval,
            self.failure_timeout,
            self.retransmit_interval,
            self.join_wait,
            self.announce_interval,
            self.tombstone_ttl,
        ];
        if durations.contains(&Duration::ZERO) {
            return Err(ConfigError::ZeroDuration);
        }
        if self.failure_timeout < self.heartbeat_interval * 3 {
            return Err(ConfigError::TimeoutTooShort);
        }
        if let Discovery::Unicast { seeds } = &self.discovery {
            if !cfg!(feature = "unicast") {
                return Err(ConfigError::UnicastNotBuiltIn);
            }
            if seeds.iter().all(Option::is_none) {
                return Err(ConfigError::NoSeeds);
            }
        }
        Ok(())
    }

    /// Silence after which probing starts (half the time-out).
    pub(crate) fn suspect_after(&self) -> Duration {
        self.failure_timeout / 2
    }

    /// Period between probe rounds of a silent member.
    pub(crate) fn probe_interval(&self) -> Duration {
        self.heartbeat_interval
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_validate() {
        assert_eq!(Config::lan().validate(), Ok(()));
        let mut w = Config::wan();
        if cfg!(feature = "unicast") {
            assert_eq!(w.validate(), Err(ConfigError::NoSeeds));
        }
        w.discovery = Discovery::unicast(&["10.0.0.1:7000".parse().unwrap()]);
        let seeded = if cfg!(feature = "unicast") {
            Ok(())
        } else {
            Err(ConfigError::UnicastNotBuiltIn)
        };
        assert_eq!(w.validate(), seeded);
    }

    #[test]
    fn refuses_bad_timing() {
        let mut c = Config::lan();
        c.failure_timeout = c.heartbeat_interval * 2;
        assert_eq!(c.validate(), Err(ConfigError::TimeoutTooShort));
        c.heartbeat_interval = Duration::ZERO;
        assert_eq!(c.validate(), Err(ConfigError::ZeroDuration));
    }
}
