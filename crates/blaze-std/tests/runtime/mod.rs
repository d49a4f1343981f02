//! The runtime the in-process channel tests run on.

use std::time::Duration;

/// Runs `f` to its end, within 50 s, on a two-worker runtime whose threads
/// have room for the node's large frames in a debug build.
pub(crate) fn run<F: std::future::Future<Output = ()>>(f: F) {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_stack_size(16 << 20)
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            tokio::time::timeout(Duration::from_secs(50), f)
                .await
                .unwrap()
        });
}
