//! The replica's deadlines, one per purpose.

use blaze_wire::Instant;

/// What a deadline is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Timer {
    /// Coordinator heartbeat.
    Beat,
    /// Resend of sync requests / results.
    Sync,
    /// Resend of a re-request.
    Nack,
    /// Resend of a snapshot pull.
    Pull,
    /// Client requests: resends and time-outs, lock leases.
    Client,
    /// Coordinator: entry expiry, lease expiry, quarantine end.
    Expiry,
    /// End of an idle snapshot session.
    Serve,
}

const COUNT: usize = 7;

/// `[Option<Instant>; N]` indexed by [`Timer`].
#[derive(Debug, Default, Clone)]
pub(super) struct Timers {
    at: [Option<Instant>; COUNT],
}

impl Timers {
    pub(super) fn set(&mut self, t: Timer, at: Option<Instant>) {
        if let Some(s) = self.at.get_mut(t as usize) {
            *s = at;
        }
    }

    pub(super) fn get(&self, t: Timer) -> Option<Instant> {
        self.at.get(t as usize).copied().flatten()
    }

    /// Whether `t` is armed and due at `now`.
    pub(super) fn due(&self, t: Timer, now: Instant) -> bool {
        self.get(t).is_some_and(|at| at <= now)
    }

    pub(super) fn next(&self) -> Option<Instant> {
        self.at.iter().flatten().min().copied()
    }
}
