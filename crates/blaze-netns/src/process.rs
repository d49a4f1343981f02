//! A process running inside a host of a topology.

use std::collections::BTreeSet;
use std::io;
use std::process::{Child, ChildStderr, ChildStdin, ChildStdout, ExitStatus};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The PIDs a topology spawned and nobody has reaped yet. While a PID is
/// listed its process (or zombie) still holds it, so killing it by PID can
/// never hit an unrelated process.
pub(crate) type Live = Arc<Mutex<BTreeSet<u32>>>;

/// A process started by [`Topology::spawn`](crate::Topology::spawn).
///
/// Dropping it kills the process (SIGKILL, by PID) and reaps it. Its pipes
/// are those the spawn asked for; take them with [`Process::stdin`],
/// [`Process::stdout`] and [`Process::stderr`].
#[derive(Debug)]
pub struct Process {
    child: Child,
    host: usize,
    live: Live,
    reaped: bool,
}

impl Process {
    pub(crate) fn new(child: Child, host: usize, live: Live) -> Self {
        live.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(child.id());
        Self {
            child,
            host,
            live,
            reaped: false,
        }
    }

    /// The process's PID (that of the program itself: `ip netns exec`
    /// replaces itself with it).
    #[must_use]
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The host it runs in.
    #[must_use]
    pub fn host(&self) -> usize {
        self.host
    }

    /// Takes its standard input, if it was piped and not taken before.
    pub fn stdin(&mut self) -> Option<ChildStdin> {
        self.child.stdin.take()
    }

    /// Takes its standard output, if it was piped and not taken before.
    pub fn stdout(&mut self) -> Option<ChildStdout> {
        self.child.stdout.take()
    }

    /// Takes its standard error, if it was piped and not taken before.
    pub fn stderr(&mut self) -> Option<ChildStderr> {
        self.child.stderr.take()
    }

    /// Kills it with SIGKILL and reaps it. Killing a process that already
    /// exited is not an error.
    ///
    /// # Errors
    ///
    /// When waiting for it fails.
    pub fn kill(&mut self) -> io::Result<ExitStatus> {
        if !self.reaped {
            // Fails only when it already exited, which `wait` then reports.
            let _ = self.child.kill();
        }
        self.wait()
    }

    /// Waits for it to exit and reaps it.
    ///
    /// # Errors
    ///
    /// When waiting fails.
    pub fn wait(&mut self) -> io::Result<ExitStatus> {
        let status = self.child.wait()?;
        self.mark_reaped();
        Ok(status)
    }

    /// Its exit status if it has exited (then it is reaped), else `None`.
    ///
    /// # Errors
    ///
    /// When asking fails.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        let status = self.child.try_wait()?;
        if status.is_some() {
            self.mark_reaped();
        }
        Ok(status)
    }

    /// Waits up to `limit` for it to exit; `None` if it is still running.
    ///
    /// # Errors
    ///
    /// When asking fails.
    pub fn wait_timeout(&mut self, limit: Duration) -> io::Result<Option<ExitStatus>> {
        let until = Instant::now() + limit;
        loop {
            if let Some(status) = self.try_wait()? {
                return Ok(Some(status));
            }
            if Instant::now() >= until {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn mark_reaped(&mut self) {
        if !self.reaped {
            self.reaped = true;
            self.live
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&self.child.id());
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.kill();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};

    #[test]
    fn dropping_kills_and_reaps_and_unlists() {
        let live = Live::default();
        let child = Command::new("sleep")
            .arg("30")
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        let pid = child.id();
        let process = Process::new(child, 3, live.clone());
        assert_eq!(process.host(), 3);
        assert!(live.lock().unwrap().contains(&pid));
        drop(process);
        assert!(live.lock().unwrap().is_empty());
        assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
    }

    #[test]
    fn exits_are_seen_and_unlisted() {
        let live = Live::default();
        let child = Command::new("true").spawn().unwrap();
        let mut process = Process::new(child, 0, live.clone());
        let status = process.wait_timeout(Duration::from_secs(10)).unwrap();
        assert!(status.is_some_and(|s| s.success()));
        assert!(live.lock().unwrap().is_empty());
        // Killing an exited process is fine.
        assert!(process.kill().unwrap().success());
    }
}
