//! The deadline table.

use blaze_wire::Instant;

/// The member's timers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Timer {
    /// No token (or commit progress) for `token_timeout`.
    TokenLoss,
    /// Retransmit the last forwarded token or commit token.
    TokenRetransmit,
    /// Pass on a token held while idle.
    TokenHold,
    /// Send a join again.
    Join,
    /// Gather has not reached consensus in time.
    Consensus,
    /// The representative announces its ring.
    Merge,
}

const COUNT: usize = 6;
const ALL: [Timer; COUNT] = [
    Timer::TokenLoss,
    Timer::TokenRetransmit,
    Timer::TokenHold,
    Timer::Join,
    Timer::Consensus,
    Timer::Merge,
];

/// `[Option<Instant>; N]` indexed by [`Timer`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Timers([Option<Instant>; COUNT]);

impl Timers {
    fn slot(&mut self, t: Timer) -> Option<&mut Option<Instant>> {
        self.0.get_mut(t as usize)
    }

    pub(super) fn set(&mut self, t: Timer, at: Instant) {
        if let Some(s) = self.slot(t) {
            *s = Some(at);
        }
    }

    pub(super) fn stop(&mut self, t: Timer) {
        if let Some(s) = self.slot(t) {
            *s = None;
        }
    }

    /// When `t` is armed for, if it is.
    pub(super) fn at(&self, t: Timer) -> Option<Instant> {
        self.0.get(t as usize).copied().flatten()
    }

    /// True when `t` is armed for `now` or earlier.
    pub(super) fn due(&self, t: Timer, now: Instant) -> bool {
        self.0
            .get(t as usize)
            .is_some_and(|s| s.is_some_and(|at| at <= now))
    }

    pub(super) fn next(&self) -> Option<Instant> {
        self.0.iter().flatten().min().copied()
    }

    /// Takes every timer due at `now`, clearing them.
    pub(super) fn take_expired(&mut self, now: Instant) -> [Option<Timer>; COUNT] {
        let mut out = [None; COUNT];
        for (o, t) in out.iter_mut().zip(ALL) {
            if let Some(s) = self.slot(t)
                && s.is_some_and(|at| at <= now)
            {
                *s = None;
                *o = Some(t);
            }
        }
        out
    }
}
