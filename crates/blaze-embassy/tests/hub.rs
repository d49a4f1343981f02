//! The firmware's scenario (`examples/firmware/src/scenario.rs`, included
//! as is) on embassy's std platform: three members, each an embassy-net
//! stack with a blaze-embassy runner and a 4-member `Node`, over an
//! in-memory hub with 10 % seeded loss. Views, a reliable topic exactly
//! once and in order, the replicated map written from two members, a
//! lock, a member cut off and detected, and traffic after it.
#![allow(
    dead_code,
    unreachable_pub,
    missing_docs,
    reason = "the included firmware module is written for the firmware crate"
)]

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use embassy_executor::{Executor, Spawner};

#[path = "../../../examples/firmware/src/scenario.rs"]
mod scenario;

static PASSED: AtomicU32 = AtomicU32::new(0);
static FAILED: AtomicU32 = AtomicU32::new(0);
static DONE: AtomicBool = AtomicBool::new(false);

fn report(args: core::fmt::Arguments<'_>) {
    println!("{args}");
}

#[embassy_executor::task]
async fn main_task(spawner: Spawner) {
    let (passed, failed) = scenario::run(spawner, report).await;
    PASSED.store(passed, Ordering::SeqCst);
    FAILED.store(failed, Ordering::SeqCst);
    DONE.store(true, Ordering::SeqCst);
}

#[test]
fn firmware_scenario_on_the_std_platform() {
    let executor: &'static mut Executor = Box::leak(Box::new(Executor::new()));
    executor.run_until(
        |spawner| spawner.spawn(main_task(spawner).expect("the task is spawned once")),
        || DONE.load(Ordering::SeqCst),
    );
    let (passed, failed) = (PASSED.load(Ordering::SeqCst), FAILED.load(Ordering::SeqCst));
    println!("{passed} passed, {failed} failed");
    // The map's two checks with feature `map`.
    let checks = if cfg!(feature = "map") { 7 } else { 5 };
    assert_eq!((passed, failed), (checks, 0));
}
