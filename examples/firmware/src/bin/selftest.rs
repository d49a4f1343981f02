//! Three Blaze members in one Cortex-M4 image, over an in-memory hub with
//! seeded loss: views, a reliable topic, the replicated map, a lock and
//! failure detection. Prints `N passed, M failed` and exits 0 only if
//! every check passed.
#![no_std]
#![no_main]

use blaze_firmware::{exit, init_time, report, scenario};
use embassy_executor::Spawner;

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    // SAFETY: the first call in `main`, once, before the tick's
    // interrupt is enabled (`init_time`): `paint`'s contract.
    unsafe { blaze_firmware::stack::paint() };
    let Some(p) = cortex_m::Peripherals::take() else {
        exit(false)
    };
    init_time(p.SYST);
    report(format_args!(
        "blaze firmware selftest: {} members on one hub",
        scenario::MEMBERS
    ));
    let (passed, failed) = scenario::run(spawner, report).await;
    report(format_args!("{passed} passed, {failed} failed"));
    exit(failed == 0 && passed > 0)
}
