//! The state a [`Blaze`](crate::Blaze) handle and its
//! [`Runner`](crate::Runner) share: the machine and the wakers between
//! them.

use core::cell::RefCell;

use embassy_sync::waitqueue::{MultiWakerRegistration, WakerRegistration};

use crate::Stats;

/// Application tasks that can wait on one handle at once before the
/// wakers are woken early (a spurious wake-up, never a lost one).
const APP_WAITERS: usize = 4;

/// The machine and the wakers, behind one `RefCell`: embassy runs the
/// runner and the application on one executor, and no borrow is held
/// across an `await`.
pub(crate) struct Shared<M> {
    pub(crate) inner: RefCell<Inner<M>>,
}

pub(crate) struct Inner<M> {
    pub(crate) machine: M,
    pub(crate) io: Io,
}

/// Everything but the machine, so that both can be borrowed at once.
pub(crate) struct Io {
    pub(crate) stats: Stats,
    /// A command ran since the runner last looked.
    pub(crate) commanded: bool,
    /// The runner's task, woken by commands.
    runner: WakerRegistration,
    /// Application tasks waiting for events, room or a condition.
    app: MultiWakerRegistration<APP_WAITERS>,
}

impl<M> Shared<M> {
    pub(crate) fn new(machine: M) -> Self {
        Shared {
            inner: RefCell::new(Inner {
                machine,
                io: Io {
                    stats: Stats::default(),
                    commanded: false,
                    runner: WakerRegistration::new(),
                    app: MultiWakerRegistration::new(),
                },
            }),
        }
    }
}

impl Io {
    /// The machine took a command: the runner must take a turn.
    pub(crate) fn wake_runner(&mut self) {
        self.commanded = true;
        self.runner.wake();
    }

    pub(crate) fn register_runner(&mut self, waker: &core::task::Waker) {
        self.runner.register(waker);
    }

    /// The machine's state moved: application tasks look again.
    pub(crate) fn wake_app(&mut self) {
        self.app.wake();
    }

    pub(crate) fn register_app(&mut self, waker: &core::task::Waker) {
        self.app.register(waker);
    }
}
