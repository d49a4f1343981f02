//! The tokio driver: owns the sockets and the timer, and runs a
//! [`Protocol`] machine by its polling-order contract.

use std::io;
use std::ops::ControlFlow;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use blaze_node::Protocol;
use blaze_wire::{Destination, Instant};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;
use tokio::sync::Notify;
use tokio::time::Sleep;

use crate::{Clock, IoMode, RecvBatch, SendBatch, Sockets};

/// Receive batches taken from one socket per turn before the driver turns
/// to timers and transmits again, so that a flood cannot starve them.
const RECV_BATCHES_PER_TURN: usize = 4;

/// The largest UDP payload over IPv4.
pub const MAX_UDP_PAYLOAD: usize = 65_507;

/// How a [`Driver`] moves datagrams.
///
/// ```
/// use blaze_std::{DriverConfig, IoMode};
/// let mut config = DriverConfig::default();
/// config.io_mode = IoMode::Plain;
/// config.busy_poll = Some(std::time::Duration::from_micros(50));
/// assert_eq!(config.batch_size, 32);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DriverConfig {
    /// Batched (`recvmmsg`/`sendmmsg`) or plain system calls.
    pub io_mode: IoMode,
    /// Datagrams per batch, for sending and receiving (clamped to
    /// `1..=MAX_BATCH`). Default 32.
    pub batch_size: usize,
    /// The largest datagram sent or received; the buffer handed to
    /// `poll_transmit` has this size, and longer datagrams received are
    /// counted and dropped. Default 1472 (an Ethernet frame less IPv4 and
    /// UDP headers); clamped to `1..=MAX_UDP_PAYLOAD`.
    pub max_datagram_size: usize,
    /// Busy polling: before parking, spin on non-blocking receives for up
    /// to this long (of real time), for the lowest latency at the cost of a
    /// busy core. `None` (the default) parks at once.
    pub busy_poll: Option<std::time::Duration>,
    /// Hand the machine the node's own multicast datagrams, looped back by
    /// the host. Default `false`: they are counted and dropped.
    ///
    /// Own datagrams are recognised by their source address, the unicast
    /// socket's. When that socket is bound to the unspecified address
    /// (interface `0.0.0.0`) the source is not known in advance, so they
    /// reach the machine, which recognises its own frames by sender id.
    pub deliver_own: bool,
}

impl Default for DriverConfig {
    fn default() -> Self {
        DriverConfig {
            io_mode: IoMode::default(),
            batch_size: 32,
            max_datagram_size: 1472,
            busy_poll: None,
            deliver_own: false,
        }
    }
}

/// What a [`Driver`] did, counted since it was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct DriverStats {
    /// Turns of the loop.
    pub turns: u64,
    /// Datagrams received and handed to the machine.
    pub datagrams_received: u64,
    /// Receive system calls (or plain batches) that returned datagrams.
    pub recv_batches: u64,
    /// Datagrams sent (a group datagram fanned out to three peers counts
    /// three).
    pub datagrams_sent: u64,
    /// Send system calls.
    pub send_calls: u64,
    /// Times the send buffer was full and the driver waited.
    pub send_blocked: u64,
    /// Datagrams refused by the kernel with an error, dropped.
    pub dropped_send_error: u64,
    /// Group datagrams dropped because unicast-only mode has no peer.
    pub dropped_no_target: u64,
    /// Transmits longer than the buffer they were written into, dropped.
    pub dropped_oversized: u64,
    /// Received datagrams longer than `max_datagram_size`, dropped.
    pub dropped_truncated: u64,
    /// The node's own multicast datagrams, dropped.
    pub dropped_own: u64,
    /// Receive errors other than "would block".
    pub recv_errors: u64,
    /// Calls to `handle_timeout`.
    pub timeouts: u64,
    /// Times the timer was re-armed because the deadline changed.
    pub timer_rearms: u64,
    /// Events handed to the application.
    pub events: u64,
    /// Wake-ups through a [`DriverWaker`].
    pub wakeups: u64,
    /// Turns that delivered events and let other tasks run before the
    /// next turn.
    pub yields: u64,
    /// Busy-poll spins that found a datagram before parking.
    pub busy_poll_hits: u64,
    /// Turns that left events in the machine because the application had
    /// no room for them ([`Application::accepts_events`]).
    pub held_back: u64,
}

/// The application side of a [`Driver`]: receives the machine's events and
/// gives it commands.
///
/// Events are borrowed from the machine and handed over one by one, so
/// delivery allocates nothing; copy out what must outlive the call.
pub trait Application<P: Protocol> {
    /// One event, in the order the machine produced it. `Break` makes
    /// [`Driver::run`] return (events not yet polled stay in the machine).
    fn on_event(&mut self, now: Instant, event: P::Event<'_>) -> ControlFlow<()>;

    /// Called at the start of every turn of the loop, before transmits are
    /// drained: the place to give the machine commands (publish, join, …).
    ///
    /// A turn follows every input, every deadline, every
    /// [`DriverWaker::wake`], every delivery of events (after the
    /// runtime's other ready tasks had their turn, unless a wake came
    /// during the delivery, as from a handler that published) and, unless
    /// [`turn_after_transmit`](Application::turn_after_transmit) says
    /// otherwise, every turn that sent datagrams, so the last `on_turn`
    /// before the driver parks sees the machine with its output drained.
    /// `Break` makes [`Driver::run`] return.
    fn on_turn(&mut self, now: Instant, protocol: &mut P) -> ControlFlow<()> {
        let _ = (now, protocol);
        ControlFlow::Continue(())
    }

    /// Whether a turn that sent datagrams but delivered no event must be
    /// followed by another before the driver parks. The default, `true`,
    /// makes the last `on_turn` see the machine after its sending (for an
    /// application that acts on what sending changed, such as a count of
    /// datagrams sent or room freed in the machine). An application whose
    /// `on_turn` only acts on its own commands (with a
    /// [`DriverWaker::wake`]), on events and on room that inputs free
    /// returns `false` and saves that turn, a scan of the whole machine.
    fn turn_after_transmit(&self) -> bool {
        true
    }

    /// Whether the application has room for another event now. While it
    /// has not, the driver leaves the machine's events in the machine,
    /// which holds them in its bounded windows (a reliable channel then
    /// holds its senders back, as a slow receiver does), and parks until
    /// an input or a [`DriverWaker::wake`]: an application that says
    /// `false` wakes the driver (`task`) once it has room again. Counted in
    /// [`DriverStats::held_back`]. By default always `true`.
    fn accepts_events(&self, task: &DriverWaker) -> bool {
        let _ = task;
        true
    }
}

/// Wakes a [`Driver`] from another task or thread, so that its application
/// gets an [`on_turn`](Application::on_turn) (for instance after queueing a
/// command). Cloning shares the driver; waking allocates nothing.
#[derive(Debug, Clone)]
pub struct DriverWaker {
    inner: Arc<WakeInner>,
}

#[derive(Debug)]
struct WakeInner {
    notify: Notify,
    /// Set by `wake`, so a busy-polling driver sees it without parking.
    woken: AtomicBool,
}

impl DriverWaker {
    pub(crate) fn new() -> Self {
        DriverWaker {
            inner: Arc::new(WakeInner {
                notify: Notify::new(),
                woken: AtomicBool::new(false),
            }),
        }
    }

    /// Makes the driver take a turn soon. Wakes before the driver next
    /// waits are not lost; several wakes may make one turn.
    pub fn wake(&self) {
        // A wake not yet taken by a turn has notified already: a burst of
        // wakes (a message published at a time) costs one notification.
        if !self.inner.woken.swap(true, Ordering::AcqRel) {
            self.inner.notify.notify_one();
        }
    }

    /// Clears the flag and says whether it was set.
    pub(crate) fn take(&self) -> bool {
        self.inner.woken.swap(false, Ordering::Acquire)
    }

    /// Whether a wake is waiting for a turn (without taking it).
    fn is_woken(&self) -> bool {
        self.inner.woken.load(Ordering::Acquire)
    }
}

/// A duplicate of one of the node's sockets, registered with tokio for
/// readability only; the system calls themselves go through the std handle
/// in [`Sockets`], which shares the socket.
///
/// Only readability: a registration for writability too would wake the
/// runtime after every send (the kernel reports room freed in the send
/// buffer as an edge), for nothing while the buffer has room; the unicast
/// socket is registered for writability only once sending blocked.
#[derive(Debug)]
struct Registered {
    fd: AsyncFd<std::net::UdpSocket>,
}

impl Registered {
    fn readable(socket: &std::net::UdpSocket) -> io::Result<Self> {
        Ok(Registered {
            fd: register(socket.try_clone()?, Interest::READABLE)?,
        })
    }
}

/// Registers `socket` with the runtime for `interest` only.
#[allow(
    deprecated,
    reason = "the safe constructor is deprecated because a descriptor-holding T might close \
              its descriptor early; a std socket owns it until the AsyncFd hands it back"
)]
fn register(
    socket: std::net::UdpSocket,
    interest: Interest,
) -> io::Result<AsyncFd<std::net::UdpSocket>> {
    AsyncFd::with_interest(socket, interest)
}

/// The unicast socket's registration for writability, made the first time
/// sending blocks (see [`Registered`]) and kept from then on: registering
/// allocates, and a node that filled its send buffer once will again.
#[derive(Debug)]
enum Writable {
    /// A duplicate of the socket, not registered.
    Idle(std::net::UdpSocket),
    /// Registered.
    Armed(AsyncFd<std::net::UdpSocket>),
    /// Registration failed; the driver retries sending every millisecond.
    Failed,
}

impl Writable {
    /// Registers for writability (when sending blocks).
    fn arm(&mut self) {
        if let Writable::Idle(_) = self
            && let Writable::Idle(socket) = std::mem::replace(self, Writable::Failed)
        {
            match register(socket, Interest::WRITABLE) {
                Ok(fd) => *self = Writable::Armed(fd),
                Err(e) => log::warn!("cannot wait for room to send: {e}"),
            }
        }
    }

    /// Until the socket has room, as far as tokio knows.
    async fn ready(&self) -> io::Result<()> {
        match self {
            Writable::Armed(fd) => fd.writable().await.map(drop),
            _ => {
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                Ok(())
            }
        }
    }
}

/// Runs a sans-IO [`Protocol`] machine on real UDP sockets under tokio.
///
/// Each turn of [`run`](Driver::run) follows the machine's polling-order
/// contract, after the shape of quinn's connection driver:
///
/// 1. if the deadline has passed (checked against the clock), call
///    `handle_timeout`;
/// 2. [`Application::on_turn`] for commands;
/// 3. drain `poll_transmit` into one reused send buffer of `batch_size`
///    slots, sending a batch with one `sendmmsg` whenever it fills and
///    once at the end; if the kernel's buffer is full, keep the rest and
///    stop polling until the socket is writable;
/// 4. drain `poll_event` into [`Application::on_event`];
/// 5. read `poll_timeout` and re-arm the one timer only if the deadline
///    changed;
/// 6. if this turn delivered events, let the runtime's other ready tasks
///    run (the application reacting to them), then take another turn;
///    likewise, without yielding, after a turn that sent datagrams if
///    [`Application::turn_after_transmit`] asks for it; else, unless the
///    deadline has already passed, wait for a datagram
///    on either socket, the timer, writability or a [`DriverWaker`] not
///    yet answered by an `on_turn` (after busy polling, if configured);
///    then receive waiting datagrams a batch per `recvmmsg` (a batch that
///    is not full ends the socket's readiness) and feed each to
///    `handle_datagram`.
///
/// Datagrams for [`Destination::Group`] go to the group's multicast address,
/// or in unicast-only mode to each peer. All datagrams leave from the
/// unicast socket, so receivers see the sender's unicast address as `from`.
///
/// Time passed to the machine comes from a [`Clock`] and never goes
/// backwards. tokio's timer has a resolution of one millisecond, so
/// `handle_timeout` may come up to about a millisecond after the deadline
/// (busy polling checks deadlines while it spins). A machine that leaves an
/// expired deadline in place gets `handle_timeout` again at its next input,
/// not in a loop.
///
/// # Example
///
/// Two nodes in unicast-only mode; each greets the group once and stops
/// when it has heard the other.
///
/// ```
/// use std::net::SocketAddr;
/// use std::ops::ControlFlow;
/// use blaze_node::Protocol;
/// use blaze_std::{Application, Clock, Driver, DriverConfig, SocketConfig, Sockets};
/// use blaze_wire::{Destination, Instant, Transmit};
///
/// #[derive(Default)]
/// struct Hello { greeted: bool, heard: Option<SocketAddr> }
///
/// impl Protocol for Hello {
///     type Event<'a> = SocketAddr;
///     fn handle_datagram(&mut self, _: Instant, from: SocketAddr, datagram: &[u8]) {
///         if datagram == b"hello" { self.heard = Some(from); }
///     }
///     fn handle_timeout(&mut self, _: Instant) {}
///     fn poll_transmit(&mut self, _: Instant, buf: &mut [u8]) -> Option<Transmit> {
///         if std::mem::replace(&mut self.greeted, true) { return None; }
///         buf.get_mut(..5)?.copy_from_slice(b"hello");
///         Some(Transmit { to: Destination::Group, len: 5 })
///     }
///     fn poll_event(&mut self) -> Option<SocketAddr> { self.heard.take() }
///     fn poll_timeout(&self) -> Option<Instant> { None }
/// }
///
/// struct StopOnHello(Option<SocketAddr>);
/// impl Application<Hello> for StopOnHello {
///     fn on_event(&mut self, _: Instant, from: SocketAddr) -> ControlFlow<()> {
///         self.0 = Some(from);
///         ControlFlow::Break(())
///     }
/// }
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() -> std::io::Result<()> {
///     let mut a = Sockets::bind(&SocketConfig::unicast(Vec::new())).unwrap();
///     let mut b = Sockets::bind(&SocketConfig::unicast(Vec::new())).unwrap();
///     let (a_addr, b_addr) = (a.local_addr(), b.local_addr());
///     a.set_peers(&[b_addr]);
///     b.set_peers(&[a_addr]);
///     let clock = Clock::new();
///     let mut a = Driver::new(Hello::default(), a, clock, DriverConfig::default())?;
///     let mut b = Driver::new(Hello::default(), b, clock, DriverConfig::default())?;
///     let (mut heard_by_a, mut heard_by_b) = (StopOnHello(None), StopOnHello(None));
///     let both = async { tokio::try_join!(a.run(&mut heard_by_a), b.run(&mut heard_by_b)) };
///     tokio::time::timeout(std::time::Duration::from_secs(10), both).await.unwrap()?;
///     assert_eq!((heard_by_a.0, heard_by_b.0), (Some(b_addr), Some(a_addr)));
///     Ok(())
/// }
/// ```
pub struct Driver<P: Protocol> {
    protocol: P,
    clock: Clock,
    config: DriverConfig,
    sockets: Sockets,
    unicast: Registered,
    multicast: Option<Registered>,
    writable: Writable,
    send: SendBatch,
    /// The send batch holds datagrams the kernel refused for lack of room.
    blocked: bool,
    recv: RecvBatch,
    timer: Pin<Box<Sleep>>,
    /// The deadline the timer is armed for.
    armed: Option<Instant>,
    last_now: Instant,
    waker: DriverWaker,
    stats: DriverStats,
}

impl<P: Protocol> std::fmt::Debug for Driver<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("local_addr", &self.sockets.local_addr())
            .field("group", &self.sockets.group())
            .field("armed", &self.armed)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl<P: Protocol> Driver<P> {
    /// Registers `sockets` with the current tokio runtime (which must have
    /// I/O and time enabled) and prepares to run `protocol`, with times
    /// taken from `clock`. Allocates the send and receive buffers, once.
    pub fn new(
        protocol: P,
        sockets: Sockets,
        clock: Clock,
        mut config: DriverConfig,
    ) -> io::Result<Self> {
        config.max_datagram_size = config.max_datagram_size.clamp(1, MAX_UDP_PAYLOAD);
        config.batch_size = config.batch_size.clamp(1, crate::MAX_BATCH);
        if !config.deliver_own {
            // Where the system cannot drop them, the loop below does.
            let _ = sockets.filter_own();
        }
        let unicast = Registered::readable(sockets.unicast())?;
        let multicast = sockets.multicast().map(Registered::readable).transpose()?;
        let writable = Writable::Idle(sockets.unicast().try_clone()?);
        let send = SendBatch::new(config.batch_size, config.max_datagram_size);
        // With segmentation offload, senders' bursts may also be taken in
        // whole (generic receive offload), where the system allows it.
        let gro = config.io_mode.is_segmented() && sockets.enable_gro().unwrap_or(false);
        let recv = if gro {
            RecvBatch::with_gro(config.batch_size, config.max_datagram_size)
        } else {
            RecvBatch::new(config.batch_size, config.max_datagram_size)
        };
        let last_now = clock.now();
        Ok(Driver {
            protocol,
            clock,
            sockets,
            unicast,
            multicast,
            writable,
            send,
            blocked: false,
            recv,
            timer: Box::pin(tokio::time::sleep_until(clock.to_tokio(Instant::MAX))),
            armed: None,
            last_now,
            waker: DriverWaker::new(),
            stats: DriverStats::default(),
            config,
        })
    }

    /// The machine.
    pub fn protocol(&self) -> &P {
        &self.protocol
    }

    /// The machine, for commands outside [`run`](Driver::run). Call
    /// [`run`](Driver::run) afterwards so its output is drained.
    pub fn protocol_mut(&mut self) -> &mut P {
        &mut self.protocol
    }

    /// The machine, when the driver is done.
    pub fn into_protocol(self) -> P {
        self.protocol
    }

    /// The node's sockets.
    pub fn sockets(&self) -> &Sockets {
        &self.sockets
    }

    /// The node's sockets, for instance to change the peers of
    /// unicast-only mode with [`Sockets::set_peers`].
    pub fn sockets_mut(&mut self) -> &mut Sockets {
        &mut self.sockets
    }

    /// The configuration in force (sizes clamped).
    pub fn config(&self) -> &DriverConfig {
        &self.config
    }

    /// The clock that times the machine.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// What the driver did so far.
    pub fn stats(&self) -> DriverStats {
        self.stats
    }

    /// A handle that wakes the driver from elsewhere.
    pub fn waker(&self) -> DriverWaker {
        self.waker.clone()
    }

    /// Runs the machine until the application returns `Break`.
    ///
    /// Errors only if the runtime's I/O driver fails; errors of single
    /// datagrams are counted in [`stats`](Driver::stats) and logged.
    /// Datagrams polled but not yet accepted by the kernel when it returns
    /// stay in the send buffer; [`flush`](Driver::flush) sends them.
    ///
    /// Cancel-safe: the future only waits for readiness, so dropping it
    /// (for instance in a `select!` or a time-out) loses no datagram and no
    /// event, and `run` may be called again to go on.
    pub async fn run<A: Application<P>>(&mut self, app: &mut A) -> io::Result<()> {
        loop {
            self.stats.turns += 1;
            let now = self.now();
            // Wakes given before this turn are answered by its `on_turn`.
            self.waker.take();
            // The application's commands and the datagrams they make go
            // first: a reply to a message just delivered leaves before the
            // machine's timer work, which the delivery made due.
            if app.on_turn(now, &mut self.protocol).is_break() {
                return Ok(());
            }
            let mut polled = self.drive_transmit(now);
            let handled = self.protocol.poll_timeout().filter(|d| *d <= now);
            if handled.is_some() {
                self.protocol.handle_timeout(now);
                self.stats.timeouts += 1;
                polled += self.drive_transmit(now);
            }
            let ControlFlow::Continue(delivered) = self.deliver(now, app) else {
                return Ok(());
            };
            self.drive_timer();
            // Another turn follows one that sent, or whose timer work
            // moved the deadline, when the application asks for it: that
            // work may have made room its `on_turn` found missing.
            let again = app.turn_after_transmit()
                && (polled > 0 || handled.is_some_and(|h| self.protocol.poll_timeout() != Some(h)));
            if delivered {
                // A turn that delivered events is followed by another
                // before parking, so the application's last `on_turn` sees
                // the machine drained and may act on the events.
                self.yield_now().await;
            } else if !again && !self.due_again(handled) {
                self.wait().await?;
            }
            self.receive_ready();
            // What the datagrams released goes to the application at once,
            // before this driver's transmits and timers. Other tasks run
            // first: an application reacting from its own task (a reply to
            // a message) is then served by the next turn's `on_turn`,
            // without one turn for the events and one more for the reply.
            // A wake given during the delivery (a reply published by a
            // handler run inline) is answered by that turn at once; the
            // other tasks run when it is done.
            let now = self.last_now;
            match self.deliver(now, app) {
                ControlFlow::Break(()) => return Ok(()),
                ControlFlow::Continue(true) if !self.waker.is_woken() => self.yield_now().await,
                ControlFlow::Continue(_) => {}
            }
        }
    }

    /// Hands the machine's events to the application while it has room.
    /// Returns whether any was delivered, or `Break` if the application
    /// asked to stop.
    fn deliver<A: Application<P>>(&mut self, now: Instant, app: &mut A) -> ControlFlow<(), bool> {
        let mut delivered = false;
        loop {
            if !app.accepts_events(&self.waker) {
                self.stats.held_back += 1;
                return ControlFlow::Continue(delivered);
            }
            let Some(event) = self.protocol.poll_event() else {
                return ControlFlow::Continue(delivered);
            };
            self.stats.events += 1;
            delivered = true;
            app.on_event(now, event)?;
        }
    }

    /// Lets the runtime's other ready tasks run (the application's among
    /// them) before the next turn.
    async fn yield_now(&mut self) {
        self.stats.yields += 1;
        tokio::task::yield_now().await;
    }

    /// Waits until every datagram already polled from the machine has been
    /// handed to the kernel.
    pub async fn flush(&mut self) -> io::Result<()> {
        self.try_flush();
        while !self.send.is_empty() {
            self.writable.ready().await?;
            self.try_flush();
        }
        Ok(())
    }

    /// Whether the machine's deadline has passed and is not the one this
    /// turn's `handle_timeout` was for (a deadline set during the turn for
    /// "now" is served by another turn at once, not by a timer a
    /// millisecond later; one left in place waits for the next input).
    fn due_again(&mut self, handled: Option<Instant>) -> bool {
        let deadline = self.protocol.poll_timeout();
        deadline != handled && deadline.is_some_and(|d| d <= self.now())
    }

    /// The clock's time, never earlier than the last.
    fn now(&mut self) -> Instant {
        self.last_now = self.clock.now().max(self.last_now);
        self.last_now
    }

    /// Drains `poll_transmit` into the send batch, sending each full batch
    /// and the remainder. Returns how many transmits were polled.
    fn drive_transmit(&mut self, now: Instant) -> usize {
        let mut polled = 0;
        if self.blocked {
            return polled;
        }
        loop {
            if self.send.is_full() && !self.try_flush() {
                return polled;
            }
            let Some(buf) = self.send.next_buf() else {
                return polled;
            };
            let capacity = buf.len();
            let Some(transmit) = self.protocol.poll_transmit(now, buf) else {
                break;
            };
            polled += 1;
            if transmit.len > capacity {
                self.stats.dropped_oversized += 1;
                log::warn!(
                    "poll_transmit returned {} bytes for a {capacity}-byte buffer",
                    transmit.len
                );
                continue;
            }
            if transmit.to == Destination::Group && self.sockets.group_targets().is_empty() {
                self.stats.dropped_no_target += 1;
                continue;
            }
            if self.send.push(transmit).is_err() {
                self.stats.dropped_oversized += 1;
            }
        }
        self.try_flush();
        polled
    }

    /// Sends what the batch holds, directly on the socket. Returns whether
    /// the batch is now empty; if not, the driver waits for writability.
    fn try_flush(&mut self) -> bool {
        if self.send.is_empty() {
            self.blocked = false;
            return true;
        }
        let Driver {
            sockets,
            send,
            stats,
            config,
            writable,
            blocked,
            ..
        } = self;
        let mut flush = || {
            let flushed = send.send(sockets.unicast(), sockets.group_targets(), config.io_mode);
            stats.datagrams_sent += flushed.sent as u64;
            stats.dropped_send_error += flushed.dropped as u64;
            stats.send_calls += flushed.calls as u64;
            if let Some(kind) = flushed.last_error {
                log::warn!("{} datagram(s) dropped on send: {kind}", flushed.dropped);
            }
            if flushed.blocked {
                Err(io::Error::from(io::ErrorKind::WouldBlock))
            } else {
                Ok(())
            }
        };
        let result = match writable {
            // Through tokio, so that "would block" clears the socket's
            // writability and the driver waits for the next edge.
            Writable::Armed(fd) if *blocked => fd.try_io(Interest::WRITABLE, |_| flush()),
            _ => flush(),
        };
        *blocked = result.is_err();
        if *blocked {
            stats.send_blocked += 1;
            // Registering reports a socket that has room by then at once.
            writable.arm();
        }
        !*blocked
    }

    /// Re-arms the timer if the machine's deadline changed.
    fn drive_timer(&mut self) {
        let deadline = self.protocol.poll_timeout();
        if deadline == self.armed {
            return;
        }
        self.armed = deadline;
        if let Some(deadline) = deadline {
            self.timer.as_mut().reset(self.clock.to_tokio(deadline));
            self.stats.timer_rearms += 1;
        }
    }

    /// Parks until a socket is readable, the timer fires, the send buffer
    /// has room (when blocked), or the waker is woken. Busy-polls first if
    /// configured.
    async fn wait(&mut self) -> io::Result<()> {
        if let Some(budget) = self.config.busy_poll
            && self.spin(budget)
        {
            return Ok(());
        }
        let Driver {
            unicast,
            multicast,
            writable,
            timer,
            armed,
            waker,
            blocked,
            stats,
            ..
        } = self;
        let timer_pending = armed.is_some() && !timer.is_elapsed();
        loop {
            tokio::select! {
                biased;
                () = waker.inner.notify.notified() => {
                    // A wake whose flag the last turn took has been
                    // answered by that turn's `on_turn`: wait on.
                    if !waker.take() {
                        continue;
                    }
                    stats.wakeups += 1;
                }
                () = timer.as_mut(), if timer_pending => {}
                ready = writable.ready(), if *blocked => ready?,
                ready = unicast.fd.readable() => drop(ready?),
                ready = readable(multicast.as_ref()) => ready?,
            }
            break;
        }
        if self.blocked {
            self.try_flush();
        }
        Ok(())
    }

    /// Spins on non-blocking receives for up to `budget` of real time.
    /// Returns whether anything happened: datagrams received, a wake, or an
    /// expired deadline.
    fn spin(&mut self, budget: std::time::Duration) -> bool {
        let start = std::time::Instant::now();
        loop {
            let mut got = self.receive_direct(false);
            if self.multicast.is_some() {
                got |= self.receive_direct(true);
            }
            if got {
                self.stats.busy_poll_hits += 1;
                return true;
            }
            if self.waker.take() {
                self.stats.wakeups += 1;
                return true;
            }
            let now = self.clock.now();
            if self.protocol.poll_timeout().is_some_and(|d| d <= now) || start.elapsed() >= budget {
                return self.protocol.poll_timeout().is_some_and(|d| d <= now);
            }
            std::hint::spin_loop();
        }
    }

    /// Receives what is waiting on both sockets, through tokio's readiness
    /// (so that "would block" re-arms it), a few batches per socket at most.
    fn receive_ready(&mut self) {
        for group in [false, true] {
            for _ in 0..RECV_BATCHES_PER_TURN {
                let Driver {
                    sockets,
                    unicast,
                    multicast,
                    recv,
                    config,
                    ..
                } = self;
                let (registered, socket) = if group {
                    match (multicast.as_ref(), sockets.multicast()) {
                        (Some(r), Some(s)) => (r, s),
                        _ => break,
                    }
                } else {
                    (&*unicast, sockets.unicast())
                };
                let capacity = recv.capacity();
                let mut got = 0;
                let received = registered.fd.try_io(Interest::READABLE, |_| {
                    got = recv.recv(socket, config.io_mode)?;
                    if got < capacity {
                        // A batch that is not full emptied the socket's
                        // queue: clear its readiness now rather than with
                        // one more receive that finds nothing. A datagram
                        // arriving from here on is a new readiness event.
                        return Err(io::ErrorKind::WouldBlock.into());
                    }
                    Ok(got)
                });
                if got > 0 {
                    self.feed();
                }
                if let Err(e) = received {
                    self.count_recv_error(&e);
                }
                if got < capacity {
                    break;
                }
            }
        }
    }

    /// One receive on a socket's descriptor, bypassing tokio's readiness
    /// (for busy polling). Returns whether datagrams arrived.
    fn receive_direct(&mut self, group: bool) -> bool {
        let socket = if group {
            self.sockets.multicast()
        } else {
            Some(self.sockets.unicast())
        };
        let Some(socket) = socket else {
            return false;
        };
        match self.recv.recv(socket, self.config.io_mode) {
            Ok(_) => {
                self.feed();
                true
            }
            Err(e) => {
                self.count_recv_error(&e);
                false
            }
        }
    }

    fn count_recv_error(&mut self, e: &io::Error) {
        if e.kind() != io::ErrorKind::WouldBlock {
            self.stats.recv_errors += 1;
            log::warn!("receive failed: {e}");
        }
    }

    /// Hands the received batch to the machine.
    fn feed(&mut self) {
        let now = self.now();
        let own = self.sockets.local_addr();
        self.stats.recv_batches += 1;
        for datagram in self.recv.iter() {
            if datagram.truncated {
                self.stats.dropped_truncated += 1;
            } else if datagram.from == own && !self.config.deliver_own {
                self.stats.dropped_own += 1;
            } else {
                self.stats.datagrams_received += 1;
                self.protocol
                    .handle_datagram(now, datagram.from, datagram.data);
            }
        }
    }
}

/// Readiness of the group socket, or never without one.
async fn readable(socket: Option<&Registered>) -> io::Result<()> {
    match socket {
        Some(socket) => socket.fd.readable().await.map(drop),
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SocketConfig;
    use blaze_wire::Transmit;
    use std::net::SocketAddr;

    /// Sends `pending` datagrams to `to` (a socket nobody reads).
    struct Sender {
        to: SocketAddr,
        pending: u32,
    }

    impl Protocol for Sender {
        type Event<'a> = ();
        fn handle_datagram(&mut self, _: Instant, _: SocketAddr, _: &[u8]) {}
        fn handle_timeout(&mut self, _: Instant) {}
        fn poll_transmit(&mut self, _: Instant, buf: &mut [u8]) -> Option<Transmit> {
            self.pending = self.pending.checked_sub(1)?;
            *buf.first_mut()? = 1;
            Some(Transmit {
                to: Destination::Peer(self.to),
                len: 1,
            })
        }
        fn poll_event(&mut self) -> Option<()> {
            None
        }
        fn poll_timeout(&self) -> Option<Instant> {
            None
        }
    }

    /// Counts its turns; asks for a turn after sending or not.
    struct Turns {
        turns: u32,
        after_transmit: bool,
    }

    impl Application<Sender> for Turns {
        fn on_event(&mut self, _: Instant, (): ()) -> ControlFlow<()> {
            ControlFlow::Continue(())
        }
        fn on_turn(&mut self, _: Instant, _: &mut Sender) -> ControlFlow<()> {
            self.turns += 1;
            ControlFlow::Continue(())
        }
        fn turn_after_transmit(&self) -> bool {
            self.after_transmit
        }
    }

    /// A driver whose machine has `pending` datagrams to send, and the
    /// socket they go to (kept open so that sending succeeds).
    fn sender(pending: u32) -> (Driver<Sender>, Sockets) {
        let sink = Sockets::bind(&SocketConfig::unicast(Vec::new())).unwrap();
        let sockets = Sockets::bind(&SocketConfig::unicast(Vec::new())).unwrap();
        let machine = Sender {
            to: sink.local_addr(),
            pending,
        };
        let driver = Driver::new(machine, sockets, Clock::new(), DriverConfig::default()).unwrap();
        (driver, sink)
    }

    /// Runs `driver` until it has parked for a while (it never stops by
    /// itself).
    async fn run_until_parked(driver: &mut Driver<Sender>, app: &mut Turns) {
        let slice = std::time::Duration::from_millis(50);
        let _ = tokio::time::timeout(slice, driver.run(app)).await;
    }

    #[tokio::test]
    async fn a_second_turn_after_sending_only_when_the_application_asks() {
        for (after_transmit, turns) in [(true, 2), (false, 1)] {
            let (mut driver, _sink) = sender(3);
            let mut app = Turns {
                turns: 0,
                after_transmit,
            };
            run_until_parked(&mut driver, &mut app).await;
            assert_eq!(driver.stats().datagrams_sent, 3);
            assert_eq!(driver.protocol().pending, 0);
            assert_eq!((app.turns, driver.stats().turns), (turns, u64::from(turns)));
        }
    }

    /// Leaves its expired deadline in place, or moves it to "now" a few
    /// times.
    struct Stuck {
        deadline: Option<Instant>,
        moves: u32,
        timeouts: u32,
    }

    impl Protocol for Stuck {
        type Event<'a> = ();
        fn handle_datagram(&mut self, _: Instant, _: SocketAddr, _: &[u8]) {}
        fn handle_timeout(&mut self, now: Instant) {
            self.timeouts += 1;
            if self.moves > 0 {
                self.moves -= 1;
                // A move is to another instant than the one handled (a
                // turn within the same microsecond would otherwise see the
                // deadline left in place).
                let after = self
                    .deadline
                    .map_or(now, |d| d + blaze_wire::Duration::from_micros(1));
                self.deadline = Some(now.max(after));
            }
        }
        fn poll_transmit(&mut self, _: Instant, _: &mut [u8]) -> Option<Transmit> {
            None
        }
        fn poll_event(&mut self) -> Option<()> {
            None
        }
        fn poll_timeout(&self) -> Option<Instant> {
            self.deadline
        }
    }

    struct Idle;
    impl Application<Stuck> for Idle {
        fn on_event(&mut self, _: Instant, (): ()) -> ControlFlow<()> {
            ControlFlow::Continue(())
        }
    }

    #[tokio::test]
    async fn a_deadline_of_now_is_served_at_once_and_one_left_in_place_is_not_a_loop() {
        for moves in [0, 3] {
            let sockets = Sockets::bind(&SocketConfig::unicast(Vec::new())).unwrap();
            let machine = Stuck {
                deadline: Some(Instant::ZERO),
                moves,
                timeouts: 0,
            };
            let config = DriverConfig::default();
            let mut driver = Driver::new(machine, sockets, Clock::new(), config).unwrap();
            // Long enough for the timer to fire on a loaded machine; a
            // loop would count thousands of turns in it.
            let slice = std::time::Duration::from_millis(500);
            let _ = tokio::time::timeout(slice, driver.run(&mut Idle)).await;
            // Each move is served by the next turn; the deadline left in
            // place at the end gets one more call when the timer armed for
            // it fires, then waits for an input.
            assert_eq!(driver.protocol().timeouts, moves + 2);
            assert_eq!(driver.stats().turns, u64::from(moves) + 2);
        }
    }

    #[tokio::test]
    async fn writability_is_registered_once_sending_blocks() {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.set_nonblocking(true).unwrap();
        let mut writable = Writable::Idle(socket);
        writable.arm();
        assert!(matches!(writable, Writable::Armed(_)));
        // A socket with room is reported writable as soon as registered.
        let ready = tokio::time::timeout(std::time::Duration::from_secs(5), writable.ready());
        ready.await.unwrap().unwrap();
        writable.arm();
        assert!(matches!(writable, Writable::Armed(_)));
        // Without a registration, waiting is a short sleep.
        let failed =
            tokio::time::timeout(std::time::Duration::from_secs(5), Writable::Failed.ready());
        failed.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn a_wake_answered_by_a_turn_does_not_make_another() {
        let (mut driver, _sink) = sender(0);
        let mut app = Turns {
            turns: 0,
            after_transmit: false,
        };
        // Woken before it runs: the first turn answers the wake, whose
        // stored notification is then ignored.
        driver.waker().wake();
        run_until_parked(&mut driver, &mut app).await;
        assert_eq!((app.turns, driver.stats().wakeups), (1, 0));
        // Running again starts with a turn; a wake while parked makes one
        // more.
        let waker = driver.waker();
        let wake = async {
            tokio::task::yield_now().await;
            waker.wake();
        };
        tokio::join!(run_until_parked(&mut driver, &mut app), wake);
        assert_eq!((app.turns, driver.stats().wakeups), (3, 1));
    }
}
