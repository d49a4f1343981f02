//! The two clock readings the benchmark needs from the system: a monotonic
//! clock shared by every process of the host (to time a datagram from one
//! process to another), and the CPU time a process or thread has used.

use std::time::Duration;

/// Nanoseconds of `CLOCK_MONOTONIC`, which every process of the host reads
/// alike, so a time stamped by the sender can be compared with the time the
/// receiver reads.
pub(crate) fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec that outlives the call;
    // CLOCK_MONOTONIC is always available on Linux.
    #[allow(unsafe_code, reason = "clock_gettime has no safe wrapper in std")]
    let r = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &raw mut ts) };
    if r != 0 {
        return 0;
    }
    let secs = u64::try_from(ts.tv_sec).unwrap_or(0);
    let nanos = u64::try_from(ts.tv_nsec).unwrap_or(0);
    secs.saturating_mul(1_000_000_000).saturating_add(nanos)
}

/// Whose CPU time [`cpu_time`] reads.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Whom {
    /// The whole process.
    Process,
    /// The calling thread only.
    Thread,
}

/// CPU time used so far (user, system), from `getrusage`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct CpuTime {
    pub(crate) user: Duration,
    pub(crate) system: Duration,
}

impl CpuTime {
    /// User plus system time, in microseconds.
    pub(crate) fn total_micros(self) -> u64 {
        u64::try_from((self.user + self.system).as_micros()).unwrap_or(u64::MAX)
    }

    /// The time used since `earlier`.
    pub(crate) fn since(self, earlier: CpuTime) -> CpuTime {
        CpuTime {
            user: self.user.saturating_sub(earlier.user),
            system: self.system.saturating_sub(earlier.system),
        }
    }
}

/// The CPU time used so far by the process or by the calling thread.
pub(crate) fn cpu_time(whom: Whom) -> CpuTime {
    let who = match whom {
        Whom::Process => libc::RUSAGE_SELF,
        Whom::Thread => libc::RUSAGE_THREAD,
    };
    // SAFETY: rusage is a plain C struct of integers, for which all zeroes
    // is a valid value.
    #[allow(unsafe_code, reason = "zeroing a C struct for getrusage")]
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid, writable rusage that outlives the call;
    // `who` is RUSAGE_SELF or RUSAGE_THREAD, both supported by Linux.
    #[allow(unsafe_code, reason = "getrusage has no safe wrapper in std")]
    let r = unsafe { libc::getrusage(who, &raw mut usage) };
    if r != 0 {
        return CpuTime::default();
    }
    let tv = |t: libc::timeval| {
        Duration::from_secs(u64::try_from(t.tv_sec).unwrap_or(0))
            + Duration::from_micros(u64::try_from(t.tv_usec).unwrap_or(0))
    };
    CpuTime {
        user: tv(usage.ru_utime),
        system: tv(usage.ru_stime),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monotonic_moves_forward() {
        let a = monotonic_ns();
        let b = monotonic_ns();
        assert!(a > 0 && b >= a);
    }

    #[test]
    fn cpu_time_grows_with_work() {
        let before = cpu_time(Whom::Thread);
        let mut x = 0u64;
        let start = std::time::Instant::now();
        while start.elapsed() < Duration::from_millis(30) {
            x = std::hint::black_box(x.wrapping_add(1));
        }
        let used = cpu_time(Whom::Thread).since(before);
        assert!(used.total_micros() > 0, "{used:?}");
        assert!(cpu_time(Whom::Process).total_micros() >= used.total_micros());
    }
}
