//! Child processes of the benchmark: this same program started with
//! `--role`, which reports on its standard output, one line at a time
//! (`READY` once its socket is in place, then `RESULT <json>`), and may be
//! told to start by a line on its standard input (`GO`). Children are
//! killed by process id when the set is dropped, whatever happened.

use std::io::{self, BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A line a child printed, with the child's index.
type Line = (usize, String);

/// Running children of one benchmark case.
pub(crate) struct Children {
    procs: Vec<Child>,
    lines: mpsc::Receiver<Line>,
}

impl Children {
    /// Starts `n` copies of this program, child `i` with `args(i)`, run
    /// through `wrap(i)` when that gives a command prefix (e.g. to enter a
    /// network namespace).
    pub(crate) fn spawn_each(
        n: usize,
        args: impl Fn(usize) -> Vec<String>,
        wrap: impl Fn(usize) -> Option<Vec<String>>,
    ) -> io::Result<Self> {
        let exe = std::env::current_exe()?;
        let (tx, lines) = mpsc::channel();
        let mut children = Children {
            procs: Vec::with_capacity(n),
            lines,
        };
        for index in 0..n {
            let mut command = match wrap(index) {
                Some(prefix) => {
                    let (program, rest) = prefix
                        .split_first()
                        .ok_or_else(|| io::Error::other("empty command prefix"))?;
                    let mut c = Command::new(program);
                    c.args(rest).arg(&exe);
                    c
                }
                None => Command::new(&exe),
            };
            let mut child = command
                .args(args(index))
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()?;
            let stdout = child.stdout.take();
            // Pushed first, so that drop kills it even if what follows fails.
            children.procs.push(child);
            let stdout = stdout.ok_or_else(|| io::Error::other("child has no stdout"))?;
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if tx.send((index, line)).is_err() {
                        break;
                    }
                }
            });
        }
        Ok(children)
    }

    /// Writes `line` to every child's standard input.
    pub(crate) fn say(&mut self, line: &str) -> io::Result<()> {
        for child in &mut self.procs {
            if let Some(stdin) = child.stdin.as_mut() {
                writeln!(stdin, "{line}")?;
                stdin.flush()?;
            }
        }
        Ok(())
    }

    /// Process ids, for messages.
    pub(crate) fn pids(&self) -> Vec<u32> {
        self.procs.iter().map(Child::id).collect()
    }

    /// Waits until every child printed a line starting with `prefix`,
    /// returning the rest of each such line by child, or an error naming
    /// the children that did not within `timeout`.
    pub(crate) fn collect(
        &mut self,
        prefix: &str,
        timeout: Duration,
    ) -> Result<Vec<String>, String> {
        let deadline = Instant::now() + timeout;
        let mut got: Vec<Option<String>> = vec![None; self.procs.len()];
        while got.iter().any(Option::is_none) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok((index, line)) => {
                    if let (Some(rest), Some(slot)) =
                        (line.strip_prefix(prefix), got.get_mut(index))
                    {
                        *slot = Some(rest.trim().to_owned());
                    }
                }
                Err(_) => {
                    let missing: Vec<u32> = got
                        .iter()
                        .zip(self.pids())
                        .filter(|(g, _)| g.is_none())
                        .map(|(_, pid)| pid)
                        .collect();
                    return Err(format!(
                        "child processes {missing:?} did not report {prefix:?} within {timeout:?} \
                         (see their error output above)"
                    ));
                }
            }
        }
        Ok(got.into_iter().flatten().collect())
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        for child in &mut self.procs {
            if matches!(child.try_wait(), Ok(None)) {
                // Kills this child by its process id.
                let _ = child.kill();
            }
            let _ = child.wait();
        }
    }
}
