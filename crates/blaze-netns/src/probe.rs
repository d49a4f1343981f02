//! Whether this process may build topologies, and the skip-or-fail policy.

use std::io::Write;
use std::sync::OnceLock;

use crate::tool::run;

/// The environment variable that turns a skip into a failure (CI sets it).
pub const REQUIRE_ENV: &str = "BLAZE_REQUIRE_NETNS";

/// Whether namespaces can be made here: `ip netns add` of a probe namespace
/// works (then it is deleted again) and `nft` runs.
///
/// Returns the reason when they cannot. The probe runs once per process;
/// later calls return its outcome.
pub fn root_available() -> Result<(), String> {
    static OUTCOME: OnceLock<Result<(), String>> = OnceLock::new();
    OUTCOME.get_or_init(probe).clone()
}

fn probe() -> Result<(), String> {
    let name = format!("bzprobe{}", std::process::id());
    run("ip", &["netns", "add", &name]).map_err(|e| e.to_string())?;
    let nft = run("ip", &["netns", "exec", &name, "nft", "list", "ruleset"]);
    let deleted = run("ip", &["netns", "delete", &name]);
    nft.map_err(|e| e.to_string())?;
    deleted.map_err(|e| e.to_string())?;
    Ok(())
}

/// `Some(())` when topologies can be built. Otherwise writes
/// `<test>: skipped: needs root (<reason>)` to standard error, past the
/// test harness's capture, and returns `None`; or, when
/// `BLAZE_REQUIRE_NETNS=1`, panics with the reason.
///
/// ```no_run
/// # fn test() {
/// let Some(()) = blaze_netns::require_or_skip("my_test") else {
///     return;
/// };
/// # }
/// ```
///
/// # Panics
///
/// When namespaces cannot be made and `BLAZE_REQUIRE_NETNS=1`.
#[must_use]
pub fn require_or_skip(test: &str) -> Option<()> {
    match root_available() {
        Ok(()) => Some(()),
        Err(reason) => {
            let required = std::env::var(REQUIRE_ENV).is_ok_and(|v| v == "1");
            assert!(
                !required,
                "{test}: network namespaces are required ({REQUIRE_ENV}=1) but unavailable: {reason}"
            );
            // Straight to the standard error stream, past the test
            // harness's capture, so that the skip shows in every run.
            let _ = writeln!(std::io::stderr(), "{test}: skipped: needs root ({reason})");
            None
        }
    }
}
