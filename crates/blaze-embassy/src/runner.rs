//! The task that runs a machine on embassy-net sockets.

use core::future::{Future, poll_fn};
use core::net::SocketAddr;
use core::pin::Pin;
use core::task::Poll;

use blaze_node::Protocol;
use blaze_wire::{Destination, Instant};
use embassy_net::udp::{RecvError, UdpSocket};
use embassy_net::{IpEndpoint, Stack};
use embassy_time::Timer;

use crate::shared::Shared;
use crate::{BindError, Blaze, Config, Resources, time};

/// Joins the multicast group this many times before going on without it
/// (unicast keeps working), 100 ms apart.
const JOIN_ATTEMPTS: u32 = 50;

/// Sets up a node: binds its unicast and group sockets on `net` in
/// `resources` and puts `machine` in them. Returns the application's
/// [`Blaze`] handle and the [`Runner`] to spawn as a task.
///
/// `net` needs three free socket slots (its `StackResources`): the
/// unicast socket, the group socket (receiving on the group's port) and a
/// second socket on the unicast port that only sends to the group. Group
/// datagrams get their own send queue so that they never wait behind a
/// unicast datagram whose next hop is being resolved (smoltcp holds a
/// socket's queue for up to a second per unresolved neighbour, which
/// would silence the node's heartbeats). The unicast socket is bound
/// first, so it is the one that receives on the unicast port. The machine
/// comes with its own seeded random source (for a
/// [`Node`](blaze_node::Node), `Identity::seed`), which the caller draws
/// from its hardware RNG.
///
/// # Errors
///
/// [`BindError`] when a socket cannot be bound.
pub fn new<'d, M: Protocol, const PACKETS: usize, const BYTES: usize, const DATAGRAM: usize>(
    net: Stack<'d>,
    machine: M,
    config: Config,
    resources: &'d mut Resources<M, PACKETS, BYTES, DATAGRAM>,
) -> Result<(Blaze<'d, M>, Runner<'d, M>), BindError> {
    let Resources {
        shared,
        tx,
        rx,
        unicast,
        group,
        group_tx,
    } = resources;
    let shared: &'d Shared<M> = shared.insert(Shared::new(machine));
    let mut unicast_socket = UdpSocket::new(
        net,
        unicast.rx_meta.fill(),
        &mut unicast.rx,
        unicast.tx_meta.fill(),
        &mut unicast.tx,
    );
    unicast_socket
        .bind(config.unicast_port)
        .map_err(|_| BindError::Unicast)?;
    let mut group_socket = UdpSocket::new(
        net,
        group.rx_meta.fill(),
        &mut group.rx,
        group.tx_meta.fill(),
        &mut group.tx,
    );
    group_socket
        .bind(config.group.port())
        .map_err(|_| BindError::Group)?;
    let mut group_tx_socket = UdpSocket::new(
        net,
        group_tx.rx_meta.fill(),
        &mut group_tx.rx,
        group_tx.tx_meta.fill(),
        &mut group_tx.tx,
    );
    group_tx_socket
        .bind(config.unicast_port)
        .map_err(|_| BindError::Unicast)?;
    Ok((
        Blaze { shared },
        Runner {
            net,
            shared,
            config,
            unicast: unicast_socket,
            group: group_socket,
            group_tx: group_tx_socket,
            tx,
            rx,
            armed: None,
            timer: None,
        },
    ))
}

/// Runs a machine on embassy-net: owns its sockets and its timer. Spawn
/// [`run`](Runner::run) as a task.
///
/// Each turn follows the machine's polling order (the
/// [`Protocol`] documentation), after quinn's connection driver:
///
/// 1. if the deadline has passed (checked against the clock), call
///    `handle_timeout`;
/// 2. drain `poll_transmit` into the one send buffer, sending each
///    datagram from the unicast port: [`Destination::Group`] to the
///    group's multicast address (waiting for room in its queue),
///    [`Destination::Peer`] to the peer (dropped and counted if the
///    unicast queue is full: it stalls while smoltcp resolves a
///    neighbour, and the machine repairs losses);
/// 3. wake the application tasks waiting on the [`Blaze`] handle (events
///    are theirs to drain);
/// 4. read `poll_timeout` and re-arm the one timer only if the deadline
///    changed;
/// 5. wait for a datagram on either socket, the timer, or a command from
///    the handle, and feed a datagram to `handle_datagram`.
///
/// A machine that leaves an expired deadline in place gets
/// `handle_timeout` again at its next input, not in a loop.
pub struct Runner<'d, M> {
    net: Stack<'d>,
    shared: &'d Shared<M>,
    config: Config,
    unicast: UdpSocket<'d>,
    group: UdpSocket<'d>,
    group_tx: UdpSocket<'d>,
    tx: &'d mut [u8],
    rx: &'d mut [u8],
    /// The deadline the timer was armed for.
    armed: Option<Instant>,
    /// The timer, until it fires.
    timer: Option<Timer>,
}

impl<M> core::fmt::Debug for Runner<'_, M> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Runner")
            .field("config", &self.config)
            .field("armed", &self.armed)
            .finish_non_exhaustive()
    }
}

impl<M: Protocol> Runner<'_, M> {
    /// Runs the machine forever: waits for the network to be configured,
    /// joins the group's multicast address, then turns the loop.
    pub async fn run(&mut self) -> ! {
        self.net.wait_config_up().await;
        let group = *self.config.group.ip();
        let mut attempts = 0;
        while let Err(_e) = self.net.join_multicast_group(group) {
            self.shared.inner.borrow_mut().io.stats.join_retries += 1;
            attempts += 1;
            if attempts >= JOIN_ATTEMPTS {
                warn!("cannot join the multicast group; going on with unicast only");
                break;
            }
            Timer::after_millis(100).await;
        }
        info!("node running");
        loop {
            self.turn().await;
            self.wait().await;
        }
    }

    /// Steps 1–4: timers, transmits, waking the application, the timer.
    async fn turn(&mut self) {
        let now = time::now();
        {
            let mut inner = self.shared.inner.borrow_mut();
            inner.io.stats.turns += 1;
            inner.io.commanded = false;
            if inner.machine.poll_timeout().is_some_and(|d| d <= now) {
                inner.machine.handle_timeout(now);
                inner.io.stats.timeouts += 1;
            }
        }
        self.drive_transmit().await;
        let mut inner = self.shared.inner.borrow_mut();
        inner.io.wake_app();
        let deadline = inner.machine.poll_timeout();
        drop(inner);
        if deadline != self.armed {
            self.armed = deadline;
            self.timer = deadline.map(|d| Timer::at(time::to_embassy(d)));
        }
    }

    /// Drains `poll_transmit`, sending each datagram as it comes (the
    /// borrow of the machine is released before each send waits).
    async fn drive_transmit(&mut self) {
        loop {
            let now = time::now();
            let transmit = {
                let mut inner = self.shared.inner.borrow_mut();
                inner.machine.poll_transmit(now, &mut self.tx[..])
            };
            let Some(t) = transmit else { return };
            let Some(datagram) = self.tx.get(..t.len) else {
                self.shared.inner.borrow_mut().io.stats.dropped_oversized += 1;
                continue;
            };
            let sent = match t.to {
                Destination::Group => {
                    let to = IpEndpoint::from(self.config.group);
                    self.group_tx.send_to(datagram, to).await
                }
                Destination::Peer(SocketAddr::V4(peer)) => {
                    // Never wait on the unicast queue: it stalls while a
                    // neighbour is resolved. A full queue drops the
                    // datagram, as a kernel's neighbour queue does.
                    let to = IpEndpoint::from(peer);
                    let unicast = &self.unicast;
                    let full = poll_fn(|cx| {
                        Poll::Ready(match unicast.poll_send_to(datagram, to, cx) {
                            Poll::Ready(r) => Some(r),
                            Poll::Pending => None,
                        })
                    })
                    .await;
                    match full {
                        Some(r) => r,
                        None => {
                            self.shared.inner.borrow_mut().io.stats.dropped_queue_full += 1;
                            continue;
                        }
                    }
                }
                Destination::Peer(SocketAddr::V6(_)) => {
                    self.shared.inner.borrow_mut().io.stats.dropped_not_ipv4 += 1;
                    continue;
                }
            };
            let mut inner = self.shared.inner.borrow_mut();
            match sent {
                Ok(()) => inner.io.stats.datagrams_sent += 1,
                Err(_e) => {
                    debug!("send failed: {:?}", _e);
                    inner.io.stats.dropped_send_error += 1;
                }
            }
        }
    }

    /// Step 5: waits for one input and feeds it to the machine.
    async fn wait(&mut self) {
        let Runner {
            shared,
            unicast,
            group,
            rx,
            timer,
            ..
        } = self;
        poll_fn(|cx| {
            {
                let mut inner = shared.inner.borrow_mut();
                if inner.io.commanded {
                    return Poll::Ready(());
                }
                inner.io.register_runner(cx.waker());
            }
            for socket in [&*unicast, &*group] {
                match socket.poll_recv_from(&mut rx[..], cx) {
                    Poll::Ready(Ok((len, meta))) => {
                        let from = SocketAddr::from(meta.endpoint);
                        let mut inner = shared.inner.borrow_mut();
                        inner.io.stats.datagrams_received += 1;
                        if let Some(datagram) = rx.get(..len) {
                            inner.machine.handle_datagram(time::now(), from, datagram);
                        }
                        return Poll::Ready(());
                    }
                    Poll::Ready(Err(RecvError::Truncated)) => {
                        shared.inner.borrow_mut().io.stats.dropped_truncated += 1;
                        return Poll::Ready(());
                    }
                    Poll::Pending => {}
                }
            }
            if let Some(t) = timer
                && Pin::new(t).poll(cx).is_ready()
            {
                *timer = None;
                return Poll::Ready(());
            }
            Poll::Pending
        })
        .await;
    }
}
