//! An in-memory Ethernet hub: several embassy-net stacks in one program,
//! with seeded loss and disconnection.

use core::cell::RefCell;
use core::task::Context;

use blaze_wire::Rng;
use embassy_net_driver::{Capabilities, Driver, HardwareAddress, LinkState, RxToken, TxToken};
use embassy_sync::waitqueue::WakerRegistration;
use heapless::{Deque, Vec};

/// The largest frame a hub carries: an Ethernet frame of 1500 bytes of
/// payload, without the frame check sequence.
pub const HUB_MTU: usize = 1514;

type Frame = Vec<u8, HUB_MTU>;

/// What a [`Hub`] did with the frames it was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct HubStats {
    /// Frame copies queued for a port.
    pub forwarded: u64,
    /// Copies dropped by the loss model.
    pub dropped_loss: u64,
    /// Copies dropped because the receiving port's queue was full.
    pub dropped_full: u64,
    /// Copies dropped because the sending or receiving port is
    /// disconnected.
    pub dropped_disconnected: u64,
}

/// An Ethernet hub in memory, with `PORTS` ports of `QUEUE` frames each:
/// every frame sent on one port is copied to every other connected port,
/// minus the copies the loss model drops (drawn from a seeded [`Rng`], so
/// a run repeats exactly). A full queue drops the copy, as a switch would.
///
/// It joins embassy-net stacks in one program (tests, simulations, a
/// firmware exercising its protocol stack without a network device): each
/// [`Port`] is an `embassy_net_driver::Driver` whose MAC address is
/// `02:00:00:00:00:<port + 1>`.
///
/// ```
/// use blaze_embassy::Hub;
/// let hub: Hub<3> = Hub::new();
/// hub.set_loss_per_mille(100, 7); // 10 % of copies dropped, seed 7
/// hub.set_connected(2, false); // port 2 hears nothing and is not heard
/// let port = hub.port(0).unwrap();
/// assert!(hub.port(3).is_none());
/// # let _ = port;
/// ```
pub struct Hub<const PORTS: usize, const QUEUE: usize = 4> {
    inner: RefCell<HubInner<PORTS, QUEUE>>,
}

struct HubInner<const PORTS: usize, const QUEUE: usize> {
    queues: [Deque<Frame, QUEUE>; PORTS],
    wakers: [WakerRegistration; PORTS],
    /// Disconnected ports (`false`, the default, is connected: an empty
    /// hub is all zero bytes).
    cut: [bool; PORTS],
    /// The loss model's generator, seeded when a loss rate is set.
    rng: Option<Rng>,
    loss_per_mille: u16,
    stats: HubStats,
}

impl<const PORTS: usize, const QUEUE: usize> Default for Hub<PORTS, QUEUE> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const PORTS: usize, const QUEUE: usize> Hub<PORTS, QUEUE> {
    /// A hub with every port connected and no loss. Its bytes are all
    /// zero, so a `static` of it (`static_cell::ConstStaticCell`) takes no
    /// image in flash and is not built on the stack and copied.
    pub const fn new() -> Self {
        Hub {
            inner: RefCell::new(HubInner {
                queues: [const { Deque::new() }; PORTS],
                wakers: [const { WakerRegistration::new() }; PORTS],
                cut: [false; PORTS],
                rng: None,
                loss_per_mille: 0,
                stats: HubStats {
                    forwarded: 0,
                    dropped_loss: 0,
                    dropped_full: 0,
                    dropped_disconnected: 0,
                },
            }),
        }
    }

    /// Port `index` (`None` past the last port). Each port is meant for
    /// one stack; two drivers on one port share its queue.
    pub fn port(&self, index: usize) -> Option<Port<'_, PORTS, QUEUE>> {
        (index < PORTS).then_some(Port { hub: self, index })
    }

    /// Drops each frame copy with probability `per_mille / 1000`
    /// (clamped to 1000), drawn from a generator seeded with `seed`, so
    /// that a run repeats exactly. Each call seeds the generator afresh:
    /// the draws after it depend on `seed` only, not on the draws before.
    pub fn set_loss_per_mille(&self, per_mille: u16, seed: u64) {
        let mut inner = self.inner.borrow_mut();
        inner.loss_per_mille = per_mille.min(1000);
        inner.rng = Some(Rng::new(seed));
    }

    /// Connects or disconnects port `index`: a disconnected port's frames
    /// reach no one and it receives none (frames already queued for it
    /// are dropped). Out-of-range ports are ignored.
    pub fn set_connected(&self, index: usize, connected: bool) {
        let mut inner = self.inner.borrow_mut();
        if let Some(c) = inner.cut.get_mut(index) {
            *c = !connected;
        }
        if !connected && let Some(q) = inner.queues.get_mut(index) {
            q.clear();
        }
    }

    /// What the hub did so far.
    pub fn stats(&self) -> HubStats {
        self.inner.borrow().stats
    }

    /// Copies `frame` from port `from` to every other connected port.
    fn forward(&self, from: usize, frame: &Frame) {
        let mut guard = self.inner.borrow_mut();
        let inner = &mut *guard;
        let sender_connected = !inner.cut.get(from).copied().unwrap_or(true);
        for (to, ((queue, waker), cut)) in inner
            .queues
            .iter_mut()
            .zip(inner.wakers.iter_mut())
            .zip(inner.cut.iter())
            .enumerate()
        {
            if to == from {
                continue;
            }
            if !sender_connected || *cut {
                inner.stats.dropped_disconnected += 1;
            } else if inner.loss_per_mille > 0
                && inner
                    .rng
                    .as_mut()
                    .is_some_and(|r| r.below(1000) < u64::from(inner.loss_per_mille))
            {
                inner.stats.dropped_loss += 1;
            } else if queue.push_back(frame.clone()).is_err() {
                inner.stats.dropped_full += 1;
            } else {
                inner.stats.forwarded += 1;
                waker.wake();
            }
        }
    }
}

impl<const PORTS: usize, const QUEUE: usize> core::fmt::Debug for Hub<PORTS, QUEUE> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Hub")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// One port of a [`Hub`]: an embassy-net driver.
#[derive(Debug, Clone, Copy)]
pub struct Port<'h, const PORTS: usize, const QUEUE: usize> {
    hub: &'h Hub<PORTS, QUEUE>,
    index: usize,
}

impl<const PORTS: usize, const QUEUE: usize> Port<'_, PORTS, QUEUE> {
    /// The port's MAC address: `02:00:00:00:00:<index + 1>` (locally
    /// administered).
    pub fn mac(&self) -> [u8; 6] {
        [2, 0, 0, 0, 0, (self.index as u8).wrapping_add(1)]
    }
}

/// A frame received on a [`Port`].
#[derive(Debug)]
pub struct PortRx {
    frame: Frame,
}

/// A frame to send on a [`Port`].
#[derive(Debug)]
pub struct PortTx<'h, const PORTS: usize, const QUEUE: usize> {
    port: Port<'h, PORTS, QUEUE>,
}

impl RxToken for PortRx {
    fn consume<R, F>(mut self, f: F) -> R
    where
        F: FnOnce(&mut [u8]) -> R,
    {
        f(&mut self.frame)
    }
}

impl<const PORTS: usize, const QUEUE: usize> TxToken for PortTx<'_, PORTS, QUEUE> {
    fn consume<R, F>(self, len: usize, f: F) -> R
    where
        F: FnOnce(&mut [u8]) -> R,
    {
        let mut frame = Frame::new();
        // Never longer than HUB_MTU: the stack honours `capabilities`.
        let _ = frame.resize(len.min(HUB_MTU), 0);
        let r = f(&mut frame);
        self.port.hub.forward(self.port.index, &frame);
        r
    }
}

impl<'h, const PORTS: usize, const QUEUE: usize> Driver for Port<'h, PORTS, QUEUE> {
    type RxToken<'a>
        = PortRx
    where
        Self: 'a;
    type TxToken<'a>
        = PortTx<'h, PORTS, QUEUE>
    where
        Self: 'a;

    fn receive(&mut self, cx: &mut Context<'_>) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        let mut guard = self.hub.inner.borrow_mut();
        let inner = &mut *guard;
        let frame = inner.queues.get_mut(self.index)?.pop_front();
        match frame {
            Some(frame) => Some((PortRx { frame }, PortTx { port: *self })),
            None => {
                if let Some(w) = inner.wakers.get_mut(self.index) {
                    w.register(cx.waker());
                }
                None
            }
        }
    }

    fn transmit(&mut self, _cx: &mut Context<'_>) -> Option<Self::TxToken<'_>> {
        Some(PortTx { port: *self })
    }

    fn link_state(&mut self, _cx: &mut Context<'_>) -> LinkState {
        LinkState::Up
    }

    fn capabilities(&self) -> Capabilities {
        let mut caps = Capabilities::default();
        caps.max_transmission_unit = HUB_MTU;
        caps.max_burst_size = Some(1);
        caps
    }

    fn hardware_address(&self) -> HardwareAddress {
        HardwareAddress::Ethernet(self.mac())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(b: u8) -> Frame {
        let mut f = Frame::new();
        let _ = f.extend_from_slice(&[b; 60]);
        f
    }

    #[test]
    fn frames_reach_every_other_connected_port() {
        let hub: Hub<3, 2> = Hub::new();
        hub.forward(0, &frame(1));
        let inner = hub.inner.borrow();
        assert_eq!(inner.queues[0].len(), 0);
        assert_eq!(inner.queues[1].len(), 1);
        assert_eq!(inner.queues[2].len(), 1);
        assert_eq!(inner.stats.forwarded, 2);
    }

    #[test]
    fn full_queues_and_disconnected_ports_drop() {
        let hub: Hub<3, 1> = Hub::new();
        hub.set_connected(2, false);
        hub.forward(0, &frame(1));
        hub.forward(0, &frame(2));
        let s = hub.stats();
        assert_eq!(
            (s.forwarded, s.dropped_full, s.dropped_disconnected),
            (1, 1, 2)
        );
        hub.forward(2, &frame(3));
        assert_eq!(hub.stats().dropped_disconnected, 4);
    }

    #[test]
    fn loss_is_seeded_and_near_its_rate() {
        let run = |seed| {
            let hub: Hub<2, 1> = Hub::new();
            hub.set_loss_per_mille(250, seed);
            for _ in 0..4000 {
                hub.forward(0, &frame(0));
                hub.inner.borrow_mut().queues[1].clear();
            }
            hub.stats().dropped_loss
        };
        assert_eq!(run(9), run(9));
        let lost = run(9);
        assert!((800..1200).contains(&lost), "{lost}");
    }
}
