//! Running a scenario over many seeds, and replaying a failing one.

use std::panic::{AssertUnwindSafe, catch_unwind};

/// Environment variable: how many seeds to run (`N` for `0..N`, or a range
/// `A..B`).
pub const SEEDS_ENV: &str = "BLAZE_SIM_SEEDS";
/// Environment variable: run this one seed only.
pub const SEED_ENV: &str = "BLAZE_SIM_SEED";

/// Which test binary holds a scenario, for the replay command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestTarget {
    /// The unit tests of the library (`--lib`).
    Lib,
    /// An integration test (`--test <name>`), named as its file under
    /// `tests/` without `.rs`.
    Test(&'static str),
}

/// Runs a scenario over many seeds; on failure, panics with the seed and the
/// one-line command that replays it.
///
/// Seeds `0..N` run, where `N` is the environment variable
/// `BLAZE_SIM_SEEDS` or the default count; `BLAZE_SIM_SEEDS=A..B` runs a
/// range and `BLAZE_SIM_SEED=S` runs seed `S` only. A scenario fails by
/// returning `Err` or by panicking; the run stops at the first failure.
///
/// Inside an integration test, the [`run_seeds!`](crate::run_seeds!) macro
/// fills in the package and test names.
///
/// ```
/// use blaze_sim::SeedRunner;
/// let runner = SeedRunner::new("my-crate", "chaos");
/// assert_eq!(
///     runner.replay_command("lossy_lan", 17),
///     "BLAZE_SIM_SEED=17 cargo test -p my-crate --test chaos lossy_lan"
/// );
/// let mut ran = 0;
/// runner.run_seeds("lossy_lan", 5, |seed| {
///     ran += 1;
///     if seed < 1_000 { Ok(()) } else { Err(format!("seed {seed} too big")) }
/// });
/// assert!(ran >= 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedRunner {
    /// The package (`cargo test -p`).
    pub package: &'static str,
    /// The test binary.
    pub target: TestTarget,
}

impl SeedRunner {
    /// A runner for a scenario in integration test `test` of `package`.
    pub const fn new(package: &'static str, test: &'static str) -> Self {
        SeedRunner {
            package,
            target: TestTarget::Test(test),
        }
    }

    /// A runner for a scenario among the unit tests of `package`.
    pub const fn lib(package: &'static str) -> Self {
        SeedRunner {
            package,
            target: TestTarget::Lib,
        }
    }

    /// The command that replays `seed` of test `name`.
    pub fn replay_command(&self, name: &str, seed: u64) -> String {
        let target = match self.target {
            TestTarget::Lib => "--lib".to_string(),
            TestTarget::Test(t) => format!("--test {t}"),
        };
        format!(
            "{SEED_ENV}={seed} cargo test -p {} {target} {name}",
            self.package
        )
    }

    /// The seeds to run: from the environment, else `0..default_count`.
    ///
    /// # Panics
    ///
    /// If a variable is set but does not parse.
    pub fn seeds(default_count: u64) -> core::ops::Range<u64> {
        if let Ok(one) = std::env::var(SEED_ENV) {
            let s: u64 = one
                .trim()
                .parse()
                .unwrap_or_else(|_| panic!("{SEED_ENV}={one:?} is not a u64 seed"));
            return s..s.saturating_add(1);
        }
        match std::env::var(SEEDS_ENV) {
            Ok(v) => parse_range(&v).unwrap_or_else(|| {
                panic!("{SEEDS_ENV}={v:?} is neither a count N nor a range A..B")
            }),
            Err(_) => 0..default_count,
        }
    }

    /// Runs `scenario` for each seed (see the type's docs).
    ///
    /// # Panics
    ///
    /// On the first failing seed, with its number, the failure, and the
    /// replay command.
    pub fn run_seeds(
        &self,
        name: &str,
        default_count: u64,
        mut scenario: impl FnMut(u64) -> Result<(), String>,
    ) {
        for seed in Self::seeds(default_count) {
            let outcome = catch_unwind(AssertUnwindSafe(|| scenario(seed)));
            let failure = match outcome {
                Ok(Ok(())) => continue,
                Ok(Err(msg)) => msg,
                Err(payload) => {
                    let msg = payload
                        .downcast_ref::<&str>()
                        .map(|s| (*s).to_string())
                        .or_else(|| payload.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "non-string panic".to_string());
                    format!("panicked: {msg}")
                }
            };
            panic!(
                "blaze-sim: `{name}` failed with seed {seed}: {failure}\n    replay: {}",
                self.replay_command(name, seed)
            );
        }
    }
}

fn parse_range(v: &str) -> Option<core::ops::Range<u64>> {
    let v = v.trim();
    match v.split_once("..") {
        Some((a, b)) => Some(a.trim().parse().ok()?..b.trim().parse().ok()?),
        None => Some(0..v.parse().ok()?),
    }
}

/// Runs a scenario over many seeds from inside an integration test:
/// `run_seeds!(name, default_count, |seed| -> Result<(), String>)`.
///
/// The replay command names the calling package and test binary
/// (`CARGO_PKG_NAME`, `CARGO_CRATE_NAME`), so name test files with
/// underscores, not hyphens. See [`SeedRunner`].
///
/// ```
/// # fn main() {
/// blaze_sim::run_seeds!("doc_example", 3, |seed| {
///     if seed < 100 { Ok(()) } else { Err("too big".to_string()) }
/// });
/// # }
/// ```
#[macro_export]
macro_rules! run_seeds {
    ($name:expr, $default_count:expr, $scenario:expr $(,)?) => {
        $crate::SeedRunner::new(env!("CARGO_PKG_NAME"), env!("CARGO_CRATE_NAME")).run_seeds(
            $name,
            $default_count,
            $scenario,
        )
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse() {
        assert_eq!(parse_range("12"), Some(0..12));
        assert_eq!(parse_range(" 5..9 "), Some(5..9));
        assert_eq!(parse_range("x"), None);
    }

    #[test]
    fn failure_names_seed_and_replay() {
        let runner = SeedRunner::lib("blaze-sim");
        let err = catch_unwind(|| {
            runner.run_seeds("demo", 10, |seed| {
                if seed == 0 {
                    Err("boom".into())
                } else {
                    Ok(())
                }
            })
        })
        .expect_err("every seed fails");
        let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(msg.contains("failed with seed"), "{msg}");
        assert!(msg.contains("cargo test -p blaze-sim --lib demo"), "{msg}");
    }

    #[test]
    fn panics_are_caught_and_reported() {
        let runner = SeedRunner::new("p", "t");
        let err = catch_unwind(|| runner.run_seeds("x", 1, |_| panic!("kaboom")))
            .expect_err("scenario panics");
        let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(msg.contains("panicked: kaboom"), "{msg}");
    }
}
