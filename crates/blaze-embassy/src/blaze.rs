//! The application's handle on a node run by a [`Runner`](crate::Runner).

use core::future::poll_fn;
use core::task::{Context, Poll};

use blaze_node::Protocol;
use blaze_wire::Instant;

use crate::shared::Shared;
use crate::{Stats, time};

/// The application's handle on a machine that a [`Runner`](crate::Runner)
/// runs: `Copy`, so every task of the application can hold one, like
/// embassy-net's `Stack`.
///
/// - **Commands**: [`with`](Blaze::with) runs a closure on the machine
///   with the current time and then wakes the runner, which sends what the
///   command produced. For a [`Node`](blaze_node::Node) the usual commands
///   have their own methods (`join`, `publish`, `map_put`, `lock`, …).
/// - **Getters**: [`read`](Blaze::read), [`stats`](Blaze::stats).
/// - **Outputs**: events through [`poll_event`](Blaze::poll_event) /
///   [`event`](Blaze::event); conditions on the machine through
///   [`poll_until`](Blaze::poll_until) / [`until`](Blaze::until). Each
///   `poll_*` registers the task to be woken when the runner has taken a
///   turn; each `async fn` waits on its `poll_*`.
///
/// The machine lives in a `RefCell`: closures given to these methods must
/// not call back into the handle (that borrow would panic), and no method
/// holds the borrow across an `await`.
///
/// Events are handed out only to the application, so the application
/// drains them (a task looping on [`event`](Blaze::event)); undrained
/// events stay in the machine, whose windows then fill up and hold back
/// its senders.
pub struct Blaze<'d, M> {
    pub(crate) shared: &'d Shared<M>,
}

impl<M> Clone for Blaze<'_, M> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<M> Copy for Blaze<'_, M> {}

impl<M> core::fmt::Debug for Blaze<'_, M> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Blaze").finish_non_exhaustive()
    }
}

impl<'d, M: Protocol> Blaze<'d, M> {
    /// Runs a command on the machine with the current time, then wakes
    /// the runner so the command's output is sent.
    pub fn with<R>(&self, f: impl FnOnce(&mut M, Instant) -> R) -> R {
        let mut inner = self.shared.inner.borrow_mut();
        let r = f(&mut inner.machine, time::now());
        inner.io.wake_runner();
        r
    }

    /// Reads the machine.
    pub fn read<R>(&self, f: impl FnOnce(&M) -> R) -> R {
        f(&self.shared.inner.borrow().machine)
    }

    /// The runner's counters.
    pub fn stats(&self) -> Stats {
        self.shared.inner.borrow().io.stats
    }

    /// Now, on the clock the runner gives the machine.
    pub fn now(&self) -> Instant {
        time::now()
    }

    /// Hands the machine's next event to `f`, or registers the task to be
    /// woken after the runner's next turn. The event borrows the machine,
    /// so `f` copies out what it keeps.
    pub fn poll_event<R>(
        &self,
        cx: &mut Context<'_>,
        f: impl FnOnce(M::Event<'_>) -> R,
    ) -> Poll<R> {
        let mut guard = self.shared.inner.borrow_mut();
        let inner = &mut *guard;
        if let Some(event) = inner.machine.poll_event() {
            let r = f(event);
            // Delivery may open windows or queue acknowledgements.
            inner.io.wake_runner();
            return Poll::Ready(r);
        }
        inner.io.register_app(cx.waker());
        Poll::Pending
    }

    /// Waits for the machine's next event and hands it to `f`.
    pub async fn event<R>(&self, f: impl FnOnce(M::Event<'_>) -> R) -> R {
        let mut f = Some(f);
        poll_fn(|cx| {
            let mut guard = self.shared.inner.borrow_mut();
            let inner = &mut *guard;
            if let Some(event) = inner.machine.poll_event() {
                inner.io.wake_runner();
                return match f.take() {
                    Some(f) => Poll::Ready(f(event)),
                    // Polled again after completion: nothing to hand out.
                    None => Poll::Pending,
                };
            }
            inner.io.register_app(cx.waker());
            Poll::Pending
        })
        .await
    }

    /// Runs `f` on the machine; if it returns `None`, registers the task
    /// to be woken after the runner's next turn. For conditions such as
    /// "the view has four members" or "the lock is held".
    pub fn poll_until<R>(
        &self,
        cx: &mut Context<'_>,
        f: impl FnOnce(&mut M, Instant) -> Option<R>,
    ) -> Poll<R> {
        let mut guard = self.shared.inner.borrow_mut();
        let inner = &mut *guard;
        match f(&mut inner.machine, time::now()) {
            Some(r) => {
                inner.io.wake_runner();
                Poll::Ready(r)
            }
            None => {
                inner.io.register_app(cx.waker());
                Poll::Pending
            }
        }
    }

    /// Waits until `f` returns `Some`, checked after every turn of the
    /// runner.
    pub async fn until<R>(&self, mut f: impl FnMut(&mut M, Instant) -> Option<R>) -> R {
        poll_fn(|cx| self.poll_until(cx, &mut f)).await
    }
}
