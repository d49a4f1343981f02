//! Settings of a [`Replica`](crate::Replica).

use blaze_wire::{Duration, GroupId};

/// What a merged view does when its members come from partitions that
/// each kept their own history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MergePolicy {
    /// The side with the most members in the merged view wins (ties go to
    /// the side with the newer epoch); the other sides' writes are dropped
    /// and their members take a snapshot of the winner.
    MajoritySide,
    /// The majority side is the base; then every entry that a losing side
    /// wrote after its own fail-over is re-applied when its version is
    /// higher than the base's (or the base lacks the key).
    LatestVersion,
    /// Like [`LatestVersion`](MergePolicy::LatestVersion), but the
    /// coordinator asks the application about each candidate entry with
    /// [`Event::MergeConflict`](crate::Event::MergeConflict) and waits for
    /// [`Replica::resolve_merge`](crate::Replica::resolve_merge) (up to
    /// [`Config::request_timeout`]; then the base keeps its value).
    Ask,
}

/// Who puts the writes of a [`Replica`](crate::Replica) in one total order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Ordering {
    /// The coordinator of the view sequences every write and multicasts it
    /// over the replica's own reliable stream (datagrams through
    /// `poll_transmit` / `handle_datagram`).
    #[default]
    Coordinator,
    /// A total-order broadcast with extended virtual synchrony (the Totem
    /// ring of `blaze-proto-totem`) orders the operations (feature `ring`;
    /// without it [`Config::validate`] refuses this with
    /// [`ConfigError::RingNotBuiltIn`]): the replica hands
    /// them out through
    /// [`poll_ordered_submit`](crate::Replica::poll_ordered_submit) and
    /// applies what the ring delivers
    /// ([`handle_delivered`](crate::Replica::handle_delivered),
    /// [`handle_configuration`](crate::Replica::handle_configuration)).
    /// Every member decides every outcome against the same state at the
    /// same position; no coordinator.
    Totem {
        /// Submit with safe delivery (a write completes once every member
        /// of the configuration holds it) rather than agreed delivery.
        safe: bool,
    },
}

impl Ordering {
    /// Whether a ring orders the writes.
    pub const fn is_totem(self) -> bool {
        matches!(self, Ordering::Totem { .. })
    }
}

/// Settings of a [`Replica`](crate::Replica). Plain data; [`Config::lan`]
/// is a good start.
///
/// ```
/// use blaze_map::{Config, MergePolicy};
/// use blaze_wire::GroupId;
/// let c = Config { quorum: 3, merge: MergePolicy::LatestVersion, ..Config::lan(GroupId::from_name("g")) };
/// assert!(c.validate().is_ok());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// The group every frame names.
    pub group: GroupId,
    /// Fewest members a view needs before this side accepts writes and
    /// locks (0 = no quorum: every side of a partition keeps working and
    /// the merge policy reconciles them later). Majority of `n` members:
    /// `n / 2 + 1`.
    pub quorum: usize,
    /// What a merged view does.
    pub merge: MergePolicy,
    /// Coordinator heartbeat: high and committed order, exposes tail loss.
    pub beat_interval: Duration,
    /// Resend interval of unanswered requests, re-requests (NACKs), sync
    /// and snapshot messages.
    pub retry_interval: Duration,
    /// How long a write or lock request may wait for its outcome.
    pub request_timeout: Duration,
    /// Added to every lease on the coordinator's side before it takes a
    /// lock away (covers clock-rate differences).
    pub lease_margin: Duration,
    /// A snapshot session without a request for this long is abandoned (the
    /// coordinator resumes sequencing).
    pub snapshot_idle: Duration,
    /// Who orders the writes (default: the coordinator).
    pub ordering: Ordering,
}

impl Config {
    /// Settings for a LAN: 20 ms beats, 10 ms retries, 2 s request timeout.
    pub const fn lan(group: GroupId) -> Self {
        Config {
            group,
            quorum: 0,
            merge: MergePolicy::MajoritySide,
            beat_interval: Duration::from_millis(20),
            retry_interval: Duration::from_millis(10),
            request_timeout: Duration::from_secs(2),
            lease_margin: Duration::from_millis(1),
            snapshot_idle: Duration::from_millis(200),
            ordering: Ordering::Coordinator,
        }
    }

    /// The merge policy in force: [`MergePolicy::MajoritySide`] whatever
    /// `merge` says when the other policies are not built (`validate`
    /// refuses them then), so that their code folds away.
    pub(crate) fn merge_policy(&self) -> MergePolicy {
        if cfg!(feature = "merge-reapply") {
            self.merge
        } else {
            MergePolicy::MajoritySide
        }
    }

    /// Checks the settings; the error names the first bad field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.beat_interval == Duration::ZERO {
            return Err(ConfigError::BeatInterval);
        }
        if self.retry_interval == Duration::ZERO {
            return Err(ConfigError::RetryInterval);
        }
        if self.request_timeout == Duration::ZERO {
            return Err(ConfigError::RequestTimeout);
        }
        if self.snapshot_idle == Duration::ZERO {
            return Err(ConfigError::SnapshotIdle);
        }
        if self.merge != MergePolicy::MajoritySide && !cfg!(feature = "merge-reapply") {
            return Err(ConfigError::MergePolicyNotBuiltIn);
        }
        if self.ordering.is_totem() && !cfg!(feature = "ring") {
            return Err(ConfigError::RingNotBuiltIn);
        }
        Ok(())
    }
}

/// A [`Config`] field that is out of range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// `beat_interval` is zero.
    BeatInterval,
    /// `retry_interval` is zero.
    RetryInterval,
    /// `request_timeout` is zero.
    RequestTimeout,
    /// `snapshot_idle` is zero.
    SnapshotIdle,
    /// `ordering` is [`Ordering::Totem`] but the crate was built without
    /// its `ring` feature.
    RingNotBuiltIn,
    /// `merge` is [`MergePolicy::LatestVersion`] or [`MergePolicy::Ask`]
    /// but the crate was built without its `merge-reapply` feature.
    MergePolicyNotBuiltIn,
}

impl core::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let field = match self {
            ConfigError::BeatInterval => "beat_interval",
            ConfigError::RetryInterval => "retry_interval",
            ConfigError::RequestTimeout => "request_timeout",
            ConfigError::SnapshotIdle => "snapshot_idle",
            ConfigError::MergePolicyNotBuiltIn => {
                return f
                    .write_str("config field `merge`: policy not built (feature `merge-reapply`)");
            }
            ConfigError::RingNotBuiltIn => {
                return f.write_str(
                    "config field `ordering`: ring-ordered mode not built (feature `ring`)",
                );
            }
        };
        write!(f, "config field `{field}` must not be zero")
    }
}

impl core::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_ordering_needs_the_ring_feature() {
        let c = Config {
            ordering: Ordering::Totem { safe: true },
            ..Config::lan(GroupId::from_name("g"))
        };
        if cfg!(feature = "ring") {
            assert_eq!(c.validate(), Ok(()));
        } else {
            assert_eq!(c.validate(), Err(ConfigError::RingNotBuiltIn));
        }
        assert_eq!(Config::lan(GroupId::from_name("g")).validate(), Ok(()));
    }
    #[test]
    fn re_applying_merge_policies_need_their_feature() {
        for merge in [MergePolicy::LatestVersion, MergePolicy::Ask] {
            let c = Config {
                merge,
                ..Config::lan(GroupId::from_name("g"))
            };
            if cfg!(feature = "merge-reapply") {
                assert_eq!(c.validate(), Ok(()));
                assert_eq!(c.merge_policy(), merge);
            } else {
                assert_eq!(c.validate(), Err(ConfigError::MergePolicyNotBuiltIn));
            }
        }
        let c = Config::lan(GroupId::from_name("g"));
        assert_eq!(c.merge, MergePolicy::MajoritySide);
        assert_eq!(c.merge_policy(), MergePolicy::MajoritySide);
    }
}
