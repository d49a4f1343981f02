//! A [`Driver`] running in a tokio task of its own, commanded from
//! anywhere through a bounded queue: the engine under the channel API.

use std::io;
use std::ops::ControlFlow;

use blaze_node::Protocol;
use blaze_wire::Instant;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::{Application, Driver, DriverWaker};

/// Commands queued for the task, at most; senders wait when it is full.
const COMMAND_QUEUE: usize = 1024;

/// Work done on the machine and the application inside the driver's turn.
/// `Break` stops the task after this turn.
pub(crate) type Command<P, A> = Box<dyn FnOnce(&mut P, &mut A, Instant) -> ControlFlow<()> + Send>;

/// The application wrapped so that it also runs queued commands.
struct Commanded<P, A> {
    app: A,
    commands: mpsc::Receiver<Command<P, A>>,
    /// A command asked the task to stop (a `Break` of the application
    /// itself only pauses the driver for [`Adjust`]).
    stopping: bool,
}

/// Called when the application pauses the driver (returns `Break`), to
/// change the driver itself (for instance the peers of unicast-only
/// mode); the driver then runs on.
pub(crate) type Adjust<P, A> = fn(&mut A, &mut Driver<P>);

impl<P: Protocol, A: Application<P>> Application<P> for Commanded<P, A> {
    fn on_event(&mut self, now: Instant, event: P::Event<'_>) -> ControlFlow<()> {
        self.app.on_event(now, event)
    }

    fn on_turn(&mut self, now: Instant, protocol: &mut P) -> ControlFlow<()> {
        // Commands queued before this turn; later ones wake another turn.
        for _ in 0..COMMAND_QUEUE {
            match self.commands.try_recv() {
                Ok(command) => {
                    if command(protocol, &mut self.app, now).is_break() {
                        self.stopping = true;
                        return ControlFlow::Break(());
                    }
                }
                Err(_) => break,
            }
        }
        self.app.on_turn(now, protocol)
    }

    fn turn_after_transmit(&self) -> bool {
        self.app.turn_after_transmit()
    }

    fn accepts_events(&self, task: &DriverWaker) -> bool {
        self.app.accepts_events(task)
    }
}

/// What a stopped task hands back, to run again later.
pub(crate) struct Parked<P: Protocol, A> {
    pub(crate) driver: Driver<P>,
    pub(crate) app: A,
}

/// What the task returns: the parts to run again, and how `run` ended.
type Ended<P, A> = (Parked<P, A>, io::Result<()>);

/// A running driver task.
pub(crate) struct Runner<P: Protocol, A> {
    commands: mpsc::Sender<Command<P, A>>,
    waker: DriverWaker,
    /// `None` only once `stop` took it.
    task: Option<JoinHandle<Ended<P, A>>>,
}

/// A runner dropped without `stop` ends its task (abruptly: nothing more
/// is sent).
impl<P: Protocol, A> Drop for Runner<P, A> {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// The task is gone (stopped, or its runtime shut down).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Gone;

impl<P, A> Runner<P, A>
where
    P: Protocol + Send + 'static,
    A: Application<P> + Send + 'static,
{
    /// Spawns the driver on the current tokio runtime.
    pub(crate) fn spawn(parked: Parked<P, A>, adjust: Adjust<P, A>) -> Self {
        let Parked { mut driver, app } = parked;
        let (commands, receiver) = mpsc::channel(COMMAND_QUEUE);
        let waker = driver.waker();
        let task = tokio::spawn(async move {
            let mut commanded = Commanded {
                app,
                commands: receiver,
                stopping: false,
            };
            let result = loop {
                let result = driver.run(&mut commanded).await;
                if result.is_err() || commanded.stopping {
                    break result;
                }
                adjust(&mut commanded.app, &mut driver);
            };
            if let Err(e) = &result {
                tracing::error!("the node's driver stopped: {e}");
            }
            (
                Parked {
                    driver,
                    app: commanded.app,
                },
                result,
            )
        });
        Runner {
            commands,
            waker,
            task: Some(task),
        }
    }

    /// Queues `command` for the next turn (waiting while the queue is
    /// full).
    pub(crate) async fn exec(&self, command: Command<P, A>) -> Result<(), Gone> {
        self.commands.send(command).await.map_err(|_| Gone)?;
        self.waker.wake();
        Ok(())
    }

    /// Wakes the task for a turn (as a queued command does).
    pub(crate) fn waker(&self) -> DriverWaker {
        self.waker.clone()
    }

    /// Runs `f` in the next turn and returns its result.
    pub(crate) async fn call<T, F>(&self, f: F) -> Result<T, Gone>
    where
        T: Send + 'static,
        F: FnOnce(&mut P, &mut A, Instant) -> T + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        self.exec(Box::new(move |p, a, now| {
            let _ = tx.send(f(p, a, now));
            ControlFlow::Continue(())
        }))
        .await?;
        rx.await.map_err(|_| Gone)
    }

    /// Stops the task after the commands already queued, and hands back
    /// the driver and the application.
    pub(crate) async fn stop(mut self) -> Result<Parked<P, A>, Gone> {
        let _ = self.exec(Box::new(|_, _, _| ControlFlow::Break(()))).await;
        match self.task.take() {
            Some(task) => task.await.map(|(parked, _result)| parked).map_err(|_| Gone),
            None => Err(Gone),
        }
    }

    /// Whether the task has ended (by error or `Break`).
    pub(crate) fn is_finished(&self) -> bool {
        self.task.as_ref().is_none_or(JoinHandle::is_finished)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Clock, DriverConfig, SocketConfig, Sockets};
    use blaze_wire::Transmit;
    use std::net::SocketAddr;

    /// Counts the numbers it is told to add, and reports each sum.
    #[derive(Default)]
    struct Adder {
        sum: u64,
        pending: std::collections::VecDeque<u64>,
    }

    impl Protocol for Adder {
        type Event<'a> = u64;
        fn handle_datagram(&mut self, _: Instant, _: SocketAddr, _: &[u8]) {}
        fn handle_timeout(&mut self, _: Instant) {}
        fn poll_transmit(&mut self, _: Instant, _: &mut [u8]) -> Option<Transmit> {
            None
        }
        fn poll_event(&mut self) -> Option<u64> {
            self.pending.pop_front()
        }
        fn poll_timeout(&self) -> Option<Instant> {
            None
        }
    }

    #[derive(Default)]
    struct Sums(Vec<u64>);
    impl Application<Adder> for Sums {
        fn on_event(&mut self, _: Instant, sum: u64) -> ControlFlow<()> {
            self.0.push(sum);
            ControlFlow::Continue(())
        }
    }

    #[tokio::test]
    async fn commands_run_in_turns_and_the_task_restarts() {
        let sockets = Sockets::bind(&SocketConfig::unicast(Vec::new())).unwrap();
        let driver = Driver::new(
            Adder::default(),
            sockets,
            Clock::new(),
            DriverConfig::default(),
        )
        .unwrap();
        let mut parked = Parked {
            driver,
            app: Sums::default(),
        };
        for round in 0..2u64 {
            let runner = Runner::spawn(parked, |_, _| {});
            for n in 1..=3 {
                runner
                    .exec(Box::new(move |adder: &mut Adder, _, _| {
                        adder.sum += n;
                        adder.pending.push_back(adder.sum);
                        ControlFlow::Continue(())
                    }))
                    .await
                    .unwrap();
            }
            let sum = runner
                .call(|adder: &mut Adder, _, _| adder.sum)
                .await
                .unwrap();
            assert_eq!(sum, 6 * (round + 1));
            assert!(!runner.is_finished());
            parked = runner.stop().await.unwrap();
        }
        assert_eq!(parked.app.0, [1, 3, 6, 7, 9, 12]);
    }
}
