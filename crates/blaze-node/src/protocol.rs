//! The five verbs of a sans-IO protocol machine.

use core::net::SocketAddr;

use blaze_wire::{Instant, Transmit};

/// A sans-IO protocol machine: the interface between every Blaze protocol
/// and the adapters that drive it.
///
/// The machine owns protocol state and nothing else. The adapter owns the
/// sockets, the clock and the buffers, and talks to the machine only through
/// these five methods:
///
/// - **inputs**: [`handle_datagram`](Protocol::handle_datagram) (a datagram
///   arrived) and [`handle_timeout`](Protocol::handle_timeout) (a deadline
///   passed). Application commands (publish, join, put, …) are inputs too;
///   they are inherent methods of the concrete machine.
/// - **outputs**: [`poll_transmit`](Protocol::poll_transmit) (a datagram to
///   send), [`poll_event`](Protocol::poll_event) (something for the
///   application) and [`poll_timeout`](Protocol::poll_timeout) (when to call
///   `handle_timeout` next).
///
/// # Polling order
///
/// After any input (one or more `handle_*` calls or commands), the adapter:
///
/// 1. calls `poll_transmit` until it returns `None`, sending each datagram
///    (the machine may produce more output than one call's worth, and
///    buffers nothing that is ready: outgoing work is pending state that
///    `poll_transmit` serialises);
/// 2. calls `poll_event` until it returns `None`, handing each event to the
///    application;
/// 3. reads `poll_timeout` again and re-arms its single timer if the
///    deadline changed, because any input may move the deadline.
///
/// Only then does it wait for the next datagram or deadline. When the
/// deadline is reached it calls `handle_timeout(now)` and repeats from 1.
///
/// # Time
///
/// `now` is an [`Instant`] in microseconds from the adapter's monotonic
/// clock. Time only moves forward: every call gets a `now` no earlier than
/// the previous call's. A machine may be handed a `now` later than the
/// deadline it asked for (the adapter was busy), and must then do what it
/// would have done at the deadline.
///
/// A spurious `handle_timeout` (one made before the deadline, or twice for
/// one deadline) is a no-op: the machine acts only on its own timers that
/// have expired at `now`.
///
/// # Errors
///
/// None of the verbs return errors. Malformed or unexpected datagrams are
/// counted and dropped by the machine (each machine has a `Stats` getter);
/// they never panic and never grow memory.
///
/// # Example
///
/// A machine that answers every datagram with a one-byte acknowledgement to
/// its sender and counts the datagrams as events:
///
/// ```
/// use core::net::SocketAddr;
/// use blaze_node::{Destination, Instant, Protocol, Transmit};
///
/// #[derive(Default)]
/// struct Acker { to_ack: Option<SocketAddr>, received: u32, reported: u32 }
///
/// impl Protocol for Acker {
///     type Event<'a> = u32;
///     fn handle_datagram(&mut self, _now: Instant, from: SocketAddr, _datagram: &[u8]) {
///         self.to_ack = Some(from);
///         self.received += 1;
///     }
///     fn handle_timeout(&mut self, _now: Instant) {}
///     fn poll_transmit(&mut self, _now: Instant, buf: &mut [u8]) -> Option<Transmit> {
///         let to = self.to_ack.take()?;
///         *buf.first_mut()? = 0xAC;
///         Some(Transmit { to: Destination::Peer(to), len: 1 })
///     }
///     fn poll_event(&mut self) -> Option<u32> {
///         (self.reported < self.received).then(|| { self.reported += 1; self.reported })
///     }
///     fn poll_timeout(&self) -> Option<Instant> { None }
/// }
///
/// let peer: SocketAddr = "127.0.0.1:4000".parse().unwrap();
/// let mut m = Acker::default();
/// let mut buf = [0u8; 1500];
/// m.handle_datagram(Instant::ZERO, peer, b"hello");
/// let t = m.poll_transmit(Instant::ZERO, &mut buf).unwrap();
/// assert_eq!((t.to, t.len), (Destination::Peer(peer), 1));
/// assert!(m.poll_transmit(Instant::ZERO, &mut buf).is_none());
/// assert_eq!(m.poll_event(), Some(1));
/// assert_eq!(m.poll_event(), None);
/// assert_eq!(m.poll_timeout(), None);
/// ```
pub trait Protocol {
    /// What the machine reports to the application: delivered messages,
    /// view changes, map changes, …
    ///
    /// Events borrow the machine's storage, so delivery copies nothing: the
    /// event must be consumed (or copied out) before the machine is used
    /// again.
    type Event<'a>
    where
        Self: 'a;

    /// A datagram arrived from `from` (the sender's unicast address, for
    /// datagrams received on the group too).
    ///
    /// Malformed, foreign or duplicate datagrams are counted and dropped.
    fn handle_datagram(&mut self, now: Instant, from: SocketAddr, datagram: &[u8]);

    /// The deadline returned by [`poll_timeout`](Protocol::poll_timeout) may
    /// have passed. Acts on every timer that has expired at `now`; a no-op
    /// if none has.
    fn handle_timeout(&mut self, now: Instant);

    /// Writes the next datagram to send into `buf` and says where it goes,
    /// or returns `None` when there is nothing to send now.
    ///
    /// The adapter passes a buffer of its maximum datagram size; the
    /// datagram is the first [`Transmit::len`] bytes of `buf`. If `buf` is
    /// too small for the pending work, the machine keeps the work pending.
    #[must_use]
    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit>;

    /// The next event for the application, or `None` when there is none.
    #[must_use]
    fn poll_event(&mut self) -> Option<Self::Event<'_>>;

    /// The earliest deadline at which [`handle_timeout`](Protocol::handle_timeout)
    /// must be called, or `None` if the machine waits only for datagrams or
    /// commands.
    #[must_use]
    fn poll_timeout(&self) -> Option<Instant>;
}

/// Drives a machine through a mutable borrow, so an adapter can run a
/// machine that the application keeps owning.
impl<P: Protocol + ?Sized> Protocol for &mut P {
    type Event<'a>
        = P::Event<'a>
    where
        Self: 'a;

    fn handle_datagram(&mut self, now: Instant, from: SocketAddr, datagram: &[u8]) {
        (**self).handle_datagram(now, from, datagram);
    }

    fn handle_timeout(&mut self, now: Instant) {
        (**self).handle_timeout(now);
    }

    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        (**self).poll_transmit(now, buf)
    }

    fn poll_event(&mut self) -> Option<Self::Event<'_>> {
        (**self).poll_event()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        (**self).poll_timeout()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use blaze_wire::{Destination, Duration};

    /// Emits one numbered datagram per period to the group and reports the
    /// payload of each datagram received, borrowed from its own storage.
    struct Ticker {
        period: Duration,
        next: Option<Instant>,
        due: u8,
        last: [u8; 8],
        last_len: usize,
        unreported: bool,
    }

    impl Protocol for Ticker {
        type Event<'a> = &'a [u8];

        fn handle_datagram(&mut self, _now: Instant, _from: SocketAddr, datagram: &[u8]) {
            let n = datagram.len().min(self.last.len());
            if let (Some(dst), Some(src)) = (self.last.get_mut(..n), datagram.get(..n)) {
                dst.copy_from_slice(src);
                self.last_len = n;
                self.unreported = true;
            }
        }

        fn handle_timeout(&mut self, now: Instant) {
            while let Some(t) = self.next.filter(|t| *t <= now) {
                self.due = self.due.wrapping_add(1);
                self.next = Some(t + self.period);
            }
        }

        fn poll_transmit(&mut self, _now: Instant, buf: &mut [u8]) -> Option<Transmit> {
            if self.due == 0 {
                return None;
            }
            *buf.first_mut()? = self.due;
            self.due -= 1;
            Some(Transmit {
                to: Destination::Group,
                len: 1,
            })
        }

        fn poll_event(&mut self) -> Option<&[u8]> {
            if !core::mem::take(&mut self.unreported) {
                return None;
            }
            self.last.get(..self.last_len)
        }

        fn poll_timeout(&self) -> Option<Instant> {
            self.next
        }
    }

    fn ticker() -> Ticker {
        Ticker {
            period: Duration::from_millis(10),
            next: Some(Instant::from_millis(10)),
            due: 0,
            last: [0; 8],
            last_len: 0,
            unreported: false,
        }
    }

    /// Runs the polling-order contract through `&mut P`, as an adapter would.
    fn drive<P: Protocol>(mut p: P, now: Instant, buf: &mut [u8]) -> (usize, usize) {
        p.handle_timeout(now);
        let mut sent = 0;
        while p.poll_transmit(now, buf).is_some() {
            sent += 1;
        }
        let mut events = 0;
        while p.poll_event().is_some() {
            events += 1;
        }
        (sent, events)
    }

    #[test]
    fn borrowed_machine_is_driven_like_an_owned_one() {
        let mut t = ticker();
        let mut buf = [0u8; 16];
        assert_eq!(drive(&mut t, Instant::from_millis(35), &mut buf), (3, 0));
        assert_eq!(t.poll_timeout(), Some(Instant::from_millis(40)));
    }

    #[test]
    fn spurious_timeout_is_a_no_op() {
        let mut t = ticker();
        let mut buf = [0u8; 16];
        t.handle_timeout(Instant::from_millis(5));
        assert!(t.poll_transmit(Instant::from_millis(5), &mut buf).is_none());
        assert_eq!(t.poll_timeout(), Some(Instant::from_millis(10)));
    }

    #[test]
    fn events_borrow_the_machine() {
        let mut t = ticker();
        let from: SocketAddr = "127.0.0.1:1".parse().unwrap();
        t.handle_datagram(Instant::ZERO, from, b"abc");
        assert_eq!(t.poll_event(), Some(&b"abc"[..]));
        assert_eq!(t.poll_event(), None);
    }
}
