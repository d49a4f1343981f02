//! One Blaze member (the 4-member configuration) alone in its group: the
//! image whose size CI reports as the stack's footprint. It runs the same
//! calls as the selftest (view, reliable publish and, with feature `map`,
//! map write and lock) and exits 0 only if they all worked.
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
    let (passed, failed) = scenario::run_alone(spawner, report).await;
    report(format_args!("{passed} passed, {failed} failed"));
    exit(failed == 0 && passed > 0)
}
