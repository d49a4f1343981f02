//! Why a node could not be set up.

/// Why [`new`](crate::new) failed. The resources stay borrowed (they
/// hold the machine) until they are dropped; make new ones to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum BindError {
    /// The unicast socket could not be bound to its port (port 0, or the
    /// stack has no free socket slot).
    Unicast,
    /// The group socket could not be bound to the group's port.
    Group,
}

impl core::fmt::Display for BindError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            BindError::Unicast => f.write_str("cannot bind the unicast socket"),
            BindError::Group => f.write_str("cannot bind the group socket"),
        }
    }
}

impl core::error::Error for BindError {}
