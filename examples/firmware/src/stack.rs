//! The stack's high-water mark: the free RAM below the stack is filled
//! with a pattern at start, and the deepest word no longer holding it at
//! the end tells how deep the stack went.
//!
//! The stack grows down from `_stack_start` (the end of RAM) towards
//! `_stack_end` (the end of the statics), both placed by cortex-m-rt's
//! linker script. Only the part of that gap closest to the stack is
//! painted ([`PAINTED`] bytes below the stack pointer at the call), which
//! bounds the time the fill takes under QEMU and is ample for these
//! images; a stack that went deeper than the painted part is reported as
//! such, not as a figure.

use core::sync::atomic::{AtomicUsize, Ordering};

/// The word the free stack is filled with.
const PATTERN: u32 = 0x5AC3_5AC3;

/// How much of the free RAM below the stack pointer is painted.
pub const PAINTED: usize = 256 * 1024;

/// Room left unpainted right below the stack pointer at the call, for the
/// frames of [`paint`] itself.
const MARGIN: usize = 256;

// SAFETY: cortex-m-rt's linker script (`link.x`) defines both symbols for
// every image linked with it, as the first address past the end of RAM
// and as the end of the statics. They are declared only to take their
// addresses (`&raw const`, which reads nothing); no value is ever read
// through them, so their type does not describe memory that must hold a
// `u32`.
unsafe extern "C" {
    /// The top of the stack (cortex-m-rt's linker script).
    static _stack_start: u32;
    /// The lowest address the stack may grow to: the end of the statics
    /// (cortex-m-rt's linker script).
    static _stack_end: u32;
}

/// The painted range, `[LOW, HIGH)`: both 0 until [`paint`] filled a
/// non-empty range.
static LOW: AtomicUsize = AtomicUsize::new(0);
/// See [`LOW`].
static HIGH: AtomicUsize = AtomicUsize::new(0);

/// The painted range, lowest address first, both word-aligned.
fn painted_range(sp: usize) -> (usize, usize) {
    let floor = (&raw const _stack_end) as usize;
    let high = sp.saturating_sub(MARGIN) & !3;
    let low = high.saturating_sub(PAINTED).max((floor + 3) & !3);
    (low, high.max(low))
}

/// Fills the free RAM below the current stack pointer with the pattern.
///
/// # Safety
///
/// Call it once, first thing in `main`, before any interrupt is enabled:
/// an exception frame pushed while the range below the stack pointer is
/// being written would be overwritten, and a second call from deeper in
/// the stack would overwrite the frames of the first caller's callees
/// that are still live.
pub unsafe fn paint() {
    let (low, high) = painted_range(cortex_m::register::msp::read() as usize);
    if low >= high {
        return;
    }
    let mut p = low as *mut u32;
    while (p as usize) < high {
        // SAFETY: `p` is word-aligned and lies in `[low, high)`, which is
        // inside RAM between the end of the statics (`_stack_end`) and
        // `MARGIN` bytes below the current stack pointer. Nothing lives
        // there: the image links no allocator, the statics end at
        // `_stack_end`, and the stack only occupies addresses above the
        // stack pointer, which is where every live frame is as long as
        // this is the first call in `main` (the caller's contract); no
        // interrupt is enabled yet (the caller's contract), so no
        // exception frame is pushed into the range meanwhile. Writing a
        // `u32` there therefore touches no live value.
        unsafe { p.write_volatile(PATTERN) };
        p = p.wrapping_add(1);
    }
    LOW.store(low, Ordering::Relaxed);
    HIGH.store(high, Ordering::Relaxed);
}

/// How deep the stack has gone since [`paint`], in bytes from its top;
/// `None` if it went past the painted range (the figure would be a lower
/// bound only) or nothing was painted. A stack that never went below
/// the painted range reports the depth of its top end.
pub fn peak() -> Option<usize> {
    let top = (&raw const _stack_start) as usize;
    let (low, high) = (LOW.load(Ordering::Relaxed), HIGH.load(Ordering::Relaxed));
    if low >= high {
        return None;
    }
    let mut p = low as *const u32;
    // SAFETY: `p` starts at the lowest painted word and moves up a word
    // at a time while it is below `high`, so it is an aligned address in
    // the range `paint` wrote: RAM holding either the pattern or what the
    // stack wrote over it since, initialised either way.
    while (p as usize) < high && unsafe { p.read_volatile() } == PATTERN {
        p = p.wrapping_add(1);
    }
    let deepest = p as usize;
    (deepest > low).then(|| top - deepest)
}
