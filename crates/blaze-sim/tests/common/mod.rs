//! A toy machine for the simulator's own tests: it sends numbered datagrams
//! on a timer and reports each one it receives.
#![allow(dead_code, reason = "each test binary uses part of the toy")]

use blaze_sim::{Spawn, node_index};
use blaze_wire::{Destination, Duration, Instant, Transmit};
use core::net::SocketAddr;
use std::collections::VecDeque;

/// One received datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Got {
    /// Sender's node index.
    pub(crate) from: usize,
    /// Sender's incarnation when it sent.
    pub(crate) incarnation: u32,
    /// Sender's sequence number (per incarnation, from 0).
    pub(crate) seq: u64,
}

/// What a toy node sends.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plan {
    /// Datagrams to send on the timer (0: only on command).
    pub(crate) count: u64,
    /// Time of the first send.
    pub(crate) start: Instant,
    /// Time between sends.
    pub(crate) interval: Duration,
    /// Where to.
    pub(crate) to: Destination,
    /// Datagram size in bytes (at least 12).
    pub(crate) size: usize,
}

impl Plan {
    /// Sends nothing.
    pub(crate) fn silent() -> Self {
        Plan {
            count: 0,
            start: Instant::ZERO,
            interval: Duration::from_millis(1),
            to: Destination::Group,
            size: 12,
        }
    }

    /// Multicasts `count` datagrams, one per `interval`, from time zero.
    pub(crate) fn multicast(count: u64, interval: Duration) -> Self {
        Plan {
            count,
            interval,
            ..Plan::silent()
        }
    }
}

/// The toy machine.
#[derive(Debug)]
pub(crate) struct Toy {
    spawn: Spawn,
    plan: Plan,
    next_send: Option<Instant>,
    planned_left: u64,
    to_send: u64,
    next_seq: u64,
    inbox: VecDeque<Got>,
    /// Every datagram received, in order, for direct inspection.
    pub(crate) received: Vec<Got>,
}

impl Toy {
    pub(crate) fn new(spawn: Spawn, plan: Plan) -> Self {
        Toy {
            spawn,
            plan,
            next_send: (plan.count > 0).then_some(plan.start),
            planned_left: plan.count,
            to_send: 0,
            next_seq: 0,
            inbox: VecDeque::new(),
            received: Vec::new(),
        }
    }

    /// Queues `n` sends right now (a command).
    pub(crate) fn send_now(&mut self, n: u64) {
        self.to_send += n;
    }

    /// Sequence numbers sent so far by this incarnation.
    pub(crate) fn sent(&self) -> u64 {
        self.next_seq
    }
}

impl blaze_sim::Machine for Toy {
    type Event = Got;

    fn handle_datagram(&mut self, _now: Instant, from: SocketAddr, d: &[u8]) {
        let (Some(seq), Some(inc)) = (d.get(..8), d.get(8..12)) else {
            return;
        };
        let got = Got {
            from: node_index(from).unwrap_or(usize::MAX),
            incarnation: u32::from_le_bytes(inc.try_into().unwrap_or_default()),
            seq: u64::from_le_bytes(seq.try_into().unwrap_or_default()),
        };
        self.received.push(got);
        self.inbox.push_back(got);
    }

    fn handle_timeout(&mut self, now: Instant) {
        while let Some(t) = self.next_send {
            if t > now {
                break;
            }
            self.to_send += 1;
            self.planned_left -= 1;
            self.next_send = (self.planned_left > 0).then(|| t + self.plan.interval);
        }
    }

    fn poll_transmit(&mut self, _now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        if self.to_send == 0 {
            return None;
        }
        self.to_send -= 1;
        let len = self.plan.size.max(12);
        let out = buf.get_mut(..len)?;
        out.fill(0xab);
        out[..8].copy_from_slice(&self.next_seq.to_le_bytes());
        out[8..12].copy_from_slice(&self.spawn.incarnation.to_le_bytes());
        self.next_seq += 1;
        Some(Transmit {
            to: self.plan.to,
            len,
        })
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        self.next_send
    }

    fn poll_event(&mut self, _now: Instant) -> Option<Got> {
        self.inbox.pop_front()
    }

    fn occupancy(&self) -> usize {
        self.received.len()
    }
}

/// Plans per node: node 0 uses `sender`, the others are silent.
pub(crate) fn one_sender(sender: Plan) -> impl FnMut(Spawn) -> Toy + 'static {
    move |s: Spawn| Toy::new(s, if s.index == 0 { sender } else { Plan::silent() })
}
