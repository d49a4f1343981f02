//! Two machines composed into one through the `Protocol` trait, the way the
//! `Node` will compose the protocol crates: datagrams routed by a tag byte,
//! transmits merged by `RoundRobin`, deadlines by `earliest`, and events of
//! both machines (each borrowing its machine) handed out through one enum.

use core::net::SocketAddr;

use blaze_node::{Destination, Duration, Instant, Protocol, RoundRobin, Transmit, earliest};

/// Sends `backlog` datagrams tagged `tag`, one per `period` of its own once
/// the backlog is gone, and reports each received payload by borrowing it.
struct Tagged {
    tag: u8,
    backlog: u32,
    period: Duration,
    next: Instant,
    last: Vec<u8>,
    unread: bool,
}

impl Tagged {
    fn new(tag: u8, backlog: u32, period: Duration) -> Self {
        Tagged {
            tag,
            backlog,
            period,
            next: Instant::ZERO + period,
            last: Vec::new(),
            unread: false,
        }
    }
}

impl Protocol for Tagged {
    type Event<'a> = &'a [u8];

    fn handle_datagram(&mut self, _now: Instant, _from: SocketAddr, datagram: &[u8]) {
        self.last.clear();
        self.last.extend_from_slice(datagram);
        self.unread = true;
    }

    fn handle_timeout(&mut self, now: Instant) {
        if self.next <= now {
            self.backlog += 1;
            self.next = now + self.period;
        }
    }

    fn poll_transmit(&mut self, _now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        if self.backlog == 0 {
            return None;
        }
        *buf.first_mut()? = self.tag;
        self.backlog -= 1;
        Some(Transmit {
            to: Destination::Group,
            len: 1,
        })
    }

    fn poll_event(&mut self) -> Option<&[u8]> {
        core::mem::take(&mut self.unread).then_some(&self.last[..])
    }

    fn poll_timeout(&self) -> Option<Instant> {
        Some(self.next)
    }
}

/// An event of either part, borrowing that part.
#[derive(Debug, PartialEq)]
enum PairEvent<'a> {
    A(&'a [u8]),
    B(&'a [u8]),
}

struct Pair {
    a: Tagged,
    b: Tagged,
    transmits: RoundRobin<2>,
}

impl Protocol for Pair {
    type Event<'a> = PairEvent<'a>;

    fn handle_datagram(&mut self, now: Instant, from: SocketAddr, datagram: &[u8]) {
        match datagram.first() {
            Some(&t) if t == self.a.tag => self.a.handle_datagram(now, from, datagram),
            Some(&t) if t == self.b.tag => self.b.handle_datagram(now, from, datagram),
            _ => {}
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.a.handle_timeout(now);
        self.b.handle_timeout(now);
    }

    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        let (a, b) = (&mut self.a, &mut self.b);
        self.transmits
            .poll(|i| match i {
                0 => a.poll_transmit(now, buf),
                _ => b.poll_transmit(now, buf),
            })
            .map(|(_, t)| t)
    }

    fn poll_event(&mut self) -> Option<PairEvent<'_>> {
        if let Some(e) = self.a.poll_event() {
            return Some(PairEvent::A(e));
        }
        self.b.poll_event().map(PairEvent::B)
    }

    fn poll_timeout(&self) -> Option<Instant> {
        earliest([self.a.poll_timeout(), self.b.poll_timeout()])
    }
}

#[test]
fn composed_machines_share_the_wire_fairly() {
    let mut pair = Pair {
        a: Tagged::new(b'a', 5, Duration::from_millis(10)),
        b: Tagged::new(b'b', 2, Duration::from_millis(3)),
        transmits: RoundRobin::new(),
    };
    let mut buf = [0u8; 64];
    let mut sent = Vec::new();
    while let Some(t) = pair.poll_transmit(Instant::ZERO, &mut buf) {
        assert_eq!(t.len, 1);
        sent.push(buf[0]);
    }
    assert_eq!(sent, b"ababaaa");

    // The earlier deadline is B's; at it, only B has something to send.
    assert_eq!(pair.poll_timeout(), Some(Instant::from_millis(3)));
    let now = Instant::from_millis(3);
    pair.handle_timeout(now);
    assert_eq!(
        pair.poll_transmit(now, &mut buf)
            .map(|t| buf[..t.len].to_vec()),
        Some(b"b".to_vec())
    );
    assert!(pair.poll_transmit(now, &mut buf).is_none());
    assert_eq!(pair.poll_timeout(), Some(Instant::from_millis(6)));

    let from: SocketAddr = "127.0.0.1:7".parse().unwrap();
    pair.handle_datagram(now, from, b"b-hello");
    pair.handle_datagram(now, from, b"a-hi");
    pair.handle_datagram(now, from, b"zzz");
    assert_eq!(pair.poll_event(), Some(PairEvent::A(b"a-hi")));
    assert_eq!(pair.poll_event(), Some(PairEvent::B(b"b-hello")));
    assert_eq!(pair.poll_event(), None);
}
