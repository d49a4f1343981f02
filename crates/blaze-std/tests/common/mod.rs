//! A small test protocol and harness for the driver tests: each node sends
//! numbered datagrams at a bounded rate and records what it receives.
#![allow(dead_code, reason = "each test binary uses part of the harness")]

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::ops::ControlFlow;

use blaze_node::Protocol;
use blaze_std::Application;
use blaze_wire::{Destination, Duration, Instant, Transmit};

const MAGIC: u8 = 0xB1;
const HEADER: usize = 6;

/// A deterministic multicast group and port for a test, from its name
/// (FNV-1a), so parallel tests do not share a group.
pub(crate) fn group_for(test: &str) -> SocketAddrV4 {
    let mut h: u32 = 0x811c_9dc5;
    for b in test.bytes() {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    let [a, b, c, _] = h.to_be_bytes();
    let port = 40_000 + (u16::from_be_bytes([a, c]) % 20_000);
    SocketAddrV4::new(Ipv4Addr::new(239, 255, a, b), port)
}

/// What a node receives: one delivery per datagram.
#[derive(Debug)]
pub(crate) struct Delivery<'a> {
    pub(crate) from: SocketAddr,
    pub(crate) sender: u8,
    pub(crate) seq: u32,
    pub(crate) payload: &'a [u8],
}

/// Sends `total` datagrams of `size` bytes to `to`, `per_tick` of them every
/// `period`, and records every well-formed datagram it receives.
pub(crate) struct Burst {
    pub(crate) id: u8,
    pub(crate) to: Destination,
    pub(crate) total: u32,
    pub(crate) per_tick: u32,
    pub(crate) period: Duration,
    pub(crate) size: usize,
    next_tick: Option<Instant>,
    /// Datagrams allowed out now.
    due: u32,
    pub(crate) sent: u32,
    /// received[sender][seq]
    pub(crate) received: Vec<Vec<bool>>,
    pub(crate) duplicates: u32,
    pub(crate) malformed: u32,
    pending: VecDeque<(SocketAddr, Vec<u8>)>,
    current: Vec<u8>,
    pub(crate) timeouts: u32,
}

impl Burst {
    pub(crate) fn new(id: u8, to: Destination, total: u32, nodes: usize, start: Instant) -> Self {
        Burst {
            id,
            to,
            total,
            per_tick: 10,
            period: Duration::from_millis(2),
            size: 200,
            next_tick: (total > 0).then_some(start),
            due: 0,
            sent: 0,
            received: vec![vec![false; total as usize]; nodes],
            duplicates: 0,
            malformed: 0,
            pending: VecDeque::new(),
            current: Vec::new(),
            timeouts: 0,
        }
    }

    /// Distinct datagrams received from `sender`.
    pub(crate) fn received_from(&self, sender: usize) -> usize {
        self.received
            .get(sender)
            .map_or(0, |r| r.iter().filter(|x| **x).count())
    }

    pub(crate) fn sent_all(&self) -> bool {
        self.sent == self.total
    }
}

impl Protocol for Burst {
    type Event<'a> = Delivery<'a>;

    fn handle_datagram(&mut self, _now: Instant, from: SocketAddr, datagram: &[u8]) {
        let (Some(&[magic, sender]), Some(seq)) = (datagram.get(..2), datagram.get(2..HEADER))
        else {
            self.malformed += 1;
            return;
        };
        let seq = u32::from_le_bytes(seq.try_into().unwrap());
        let body_ok = datagram[HEADER..].iter().all(|b| *b == sender ^ seq as u8);
        let slot = self
            .received
            .get_mut(usize::from(sender))
            .and_then(|r| r.get_mut(seq as usize));
        match slot {
            Some(slot) if magic == MAGIC && body_ok => {
                if *slot {
                    self.duplicates += 1;
                } else {
                    *slot = true;
                    self.pending.push_back((from, datagram.to_vec()));
                }
            }
            _ => self.malformed += 1,
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.timeouts += 1;
        while let Some(tick) = self.next_tick.filter(|t| *t <= now) {
            self.due = (self.due + self.per_tick).min(self.total - self.sent);
            self.next_tick = (self.sent + self.due < self.total).then_some(tick + self.period);
        }
    }

    fn poll_transmit(&mut self, _now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        if self.due == 0 || buf.len() < self.size.max(HEADER) {
            return None;
        }
        let seq = self.sent;
        buf[0] = MAGIC;
        buf[1] = self.id;
        buf[2..HEADER].copy_from_slice(&seq.to_le_bytes());
        buf[HEADER..self.size].fill(self.id ^ seq as u8);
        self.due -= 1;
        self.sent += 1;
        Some(Transmit {
            to: self.to,
            len: self.size.max(HEADER),
        })
    }

    fn poll_event(&mut self) -> Option<Delivery<'_>> {
        let (from, datagram) = self.pending.pop_front()?;
        self.current = datagram;
        Some(Delivery {
            from,
            sender: self.current[1],
            seq: u32::from_le_bytes(self.current[2..HEADER].try_into().unwrap()),
            payload: &self.current[HEADER..],
        })
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.next_tick
    }
}

/// Counts deliveries and stops once the node has sent everything and
/// received `expect` datagrams.
pub(crate) struct Collect {
    pub(crate) expect: usize,
    pub(crate) delivered: usize,
    /// Sender addresses seen, by sender id.
    pub(crate) from: Vec<Option<SocketAddr>>,
}

impl Collect {
    pub(crate) fn new(expect: usize, nodes: usize) -> Self {
        Collect {
            expect,
            delivered: 0,
            from: vec![None; nodes],
        }
    }
}

impl Application<Burst> for Collect {
    fn on_event(&mut self, _now: Instant, event: Delivery<'_>) -> ControlFlow<()> {
        assert!(
            event
                .payload
                .iter()
                .all(|b| *b == event.sender ^ event.seq as u8)
        );
        if let Some(slot) = self.from.get_mut(usize::from(event.sender)) {
            assert!(
                slot.is_none_or(|a| a == event.from),
                "sender changed address"
            );
            *slot = Some(event.from);
        }
        self.delivered += 1;
        ControlFlow::Continue(())
    }

    fn on_turn(&mut self, _now: Instant, protocol: &mut Burst) -> ControlFlow<()> {
        if protocol.sent_all() && self.delivered >= self.expect {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }
}
