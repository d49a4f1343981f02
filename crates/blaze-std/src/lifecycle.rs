//! The life cycle of a channel: constructed, initialized, started and
//! stopped (any number of times), shut down.

use std::fmt;

/// Where a channel is in its life cycle.
///
/// ```text
/// Constructed --init--> Initialized --start--> Started <--stop/start--> Stopped
///      |                     |                    |                        |
///      +---------------------+------ shutdown ----+------------------------+--> ShutDown
/// ```
///
/// `start` on a constructed channel initializes it first. A shut-down
/// channel stays shut down.
///
/// ```
/// use blaze_std::Lifecycle;
///
/// let mut state = Lifecycle::Constructed;
/// state = state.to(Lifecycle::Started).unwrap();
/// state = state.to(Lifecycle::Stopped).unwrap();
/// state = state.to(Lifecycle::Started).unwrap();
/// state = state.to(Lifecycle::ShutDown).unwrap();
/// assert!(state.to(Lifecycle::Started).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Lifecycle {
    /// Made from a configuration; no socket is open.
    Constructed,
    /// Sockets bound; not yet talking to the group.
    Initialized,
    /// Running: a member of its groups, sending and receiving.
    Started,
    /// Left its groups and stopped running; the sockets stay bound and it
    /// can start again.
    Stopped,
    /// Sockets closed; it cannot be used again.
    ShutDown,
}

impl Lifecycle {
    /// The state after moving to `next`, or the refused transition.
    /// Moving to the current state is allowed (nothing to do).
    pub fn to(self, next: Lifecycle) -> Result<Lifecycle, Transition> {
        use Lifecycle::*;
        let allowed = self == next
            || matches!(
                (self, next),
                (Constructed, Initialized | Started | ShutDown)
                    | (Initialized, Started | ShutDown)
                    | (Started, Stopped | ShutDown)
                    | (Stopped, Started | ShutDown)
            );
        if allowed && self != ShutDown {
            Ok(next)
        } else {
            Err(Transition {
                from: self,
                to: next,
            })
        }
    }

    /// The state's name, in lower case.
    pub fn name(self) -> &'static str {
        match self {
            Lifecycle::Constructed => "constructed",
            Lifecycle::Initialized => "initialized",
            Lifecycle::Started => "started",
            Lifecycle::Stopped => "stopped",
            Lifecycle::ShutDown => "shut down",
        }
    }
}

impl fmt::Display for Lifecycle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A life-cycle transition that is not allowed; the state did not change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    /// The state the channel is in.
    pub from: Lifecycle,
    /// The state asked for.
    pub to: Lifecycle,
}

impl fmt::Display for Transition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a {} channel cannot become {}", self.from, self.to)
    }
}

impl std::error::Error for Transition {}

#[cfg(test)]
mod tests {
    use super::Lifecycle::*;

    #[test]
    fn every_transition_against_the_diagram() {
        let all = [Constructed, Initialized, Started, Stopped, ShutDown];
        let edges = [
            (Constructed, Initialized),
            (Constructed, Started),
            (Constructed, ShutDown),
            (Initialized, Started),
            (Initialized, ShutDown),
            (Started, Stopped),
            (Started, ShutDown),
            (Stopped, Started),
            (Stopped, ShutDown),
        ];
        for from in all {
            for to in all {
                let expected = (from == to && from != ShutDown) || edges.contains(&(from, to));
                assert_eq!(from.to(to).is_ok(), expected, "{from} -> {to}");
            }
        }
        assert_eq!(
            ShutDown.to(Started).unwrap_err().to_string(),
            "a shut down channel cannot become started"
        );
    }
}
