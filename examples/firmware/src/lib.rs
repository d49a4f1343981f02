//! Board glue for QEMU's mps2-an386 (Cortex-M4, no HAL): an embassy-time
//! driver on SysTick, semihosting output and exit status, the panic
//! handler; and the scenario, which is free of board code.
#![no_std]

pub mod scenario;
pub mod stack;

use core::cell::{Cell, RefCell};
use core::task::Waker;

use cortex_m::peripheral::{SYST, syst::SystClkSource};
use cortex_m_rt::exception;
use critical_section::Mutex;
use embassy_time_queue_utils::Queue;

/// Prints a line on the host through semihosting.
pub fn report(args: core::fmt::Arguments<'_>) {
    cortex_m_semihosting::hprintln!("{}", args);
}

/// Reports the stack's high-water mark (see [`stack`]), then ends the
/// program: QEMU exits with 0 when `ok`, 1 otherwise.
pub fn exit(ok: bool) -> ! {
    match stack::peak() {
        Some(bytes) => report(format_args!("stack peak: {bytes} B")),
        None => report(format_args!(
            "stack peak: unknown (deeper than the {} B painted, or not painted)",
            stack::PAINTED
        )),
    }
    use cortex_m_semihosting::debug;
    debug::exit(if ok {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    loop {
        cortex_m::asm::wfi();
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    cortex_m_semihosting::hprintln!("PANIC: {}", info);
    exit(false)
}

/// embassy-time's driver: a 1 kHz tick counted by the SysTick exception,
/// and the timer queue it expires.
struct SysTickDriver {
    ticks: Mutex<Cell<u64>>,
    queue: Mutex<RefCell<Queue>>,
}

impl embassy_time_driver::Driver for SysTickDriver {
    fn now(&self) -> u64 {
        critical_section::with(|cs| self.ticks.borrow(cs).get())
    }

    fn schedule_wake(&self, at: u64, waker: &Waker) {
        critical_section::with(|cs| {
            // A deadline already passed wakes at the next tick.
            self.queue.borrow(cs).borrow_mut().schedule_wake(at, waker);
        });
    }
}

embassy_time_driver::time_driver_impl!(static DRIVER: SysTickDriver = SysTickDriver {
    ticks: Mutex::new(Cell::new(0)),
    queue: Mutex::new(RefCell::new(Queue::new())),
});

#[exception]
fn SysTick() {
    critical_section::with(|cs| {
        let t = DRIVER.ticks.borrow(cs).get() + 1;
        DRIVER.ticks.borrow(cs).set(t);
        DRIVER.queue.borrow(cs).borrow_mut().next_expiration(t);
    });
}

/// Starts the 1 kHz tick (the mps2 core clock is 25 MHz).
pub fn init_time(mut syst: SYST) {
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(25_000 - 1);
    syst.clear_current();
    syst.enable_interrupt();
    syst.enable_counter();
}
