//! A small test protocol and harness for the driver tests: each node sends
//! numbered datagrams at a bounded rate and records what it receives.
#![allow(dead_code, reason = "each test binary uses part of the harness")]

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::ops::ControlFlow;

use blaze_node::Protocol;
use blaze_std::Application;
use blaze_wire::{
    Body, DataBatch, DataMessage, Destination, Duration, Frame, GroupId, Instant, MemberId,
    Message, Repeated, Transmit, VERSION,
};

/// The group every test frame carries.
fn group() -> GroupId {
    GroupId::from_name("blaze-std-tests")
}

/// The byte every payload byte of datagram `seq` from `sender` equals.
pub(crate) fn pattern(sender: u8, seq: u32) -> u8 {
    sender ^ seq as u8
}

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

/// Sends `total` datagrams to `to`, `per_tick` of them every `period`, and
/// records every well-formed datagram it receives. Each datagram is a
/// blaze-wire `Frame` holding a `DataBatch` of one `size`-byte message, so
/// the tests also carry the real codec over real sockets.
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
    pending: VecDeque<(SocketAddr, u8, u32, Vec<u8>)>,
    current: Vec<u8>,
    /// The payload being framed.
    payload: Vec<u8>,
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
            payload: Vec::new(),
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
        // A frame of the test group, with a batch of one message whose
        // bytes all equal `sender ^ seq`.
        let Ok(frame) = Frame::parse(datagram) else {
            self.malformed += 1;
            return;
        };
        let (Body::Data(batch), true) = (frame.body, frame.group == group()) else {
            self.malformed += 1;
            return;
        };
        let sender = frame.sender.as_u128();
        let seq = batch.first_seq;
        let payload = batch.messages.iter().next().map(|m| m.payload);
        let slot = self
            .received
            .get_mut(usize::try_from(sender).unwrap_or(usize::MAX))
            .and_then(|r| r.get_mut(usize::try_from(seq).unwrap_or(usize::MAX)));
        match (slot, payload) {
            (Some(slot), Some(payload))
                if batch.messages.len() == 1
                    && payload
                        .iter()
                        .all(|b| *b == pattern(sender as u8, seq as u32)) =>
            {
                if *slot {
                    self.duplicates += 1;
                } else {
                    *slot = true;
                    self.pending
                        .push_back((from, sender as u8, seq as u32, payload.to_vec()));
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
        if self.due == 0 {
            return None;
        }
        let seq = self.sent;
        self.payload.clear();
        self.payload.resize(self.size, pattern(self.id, seq));
        let messages = [DataMessage {
            payload: &self.payload,
            ..DataMessage::default()
        }];
        let frame = Frame {
            version: VERSION,
            group: group(),
            sender: MemberId::from_u128(u128::from(self.id)),
            body: Body::Data(DataBatch {
                first_seq: u64::from(seq),
                messages: Repeated::from_slice(&messages),
                ..DataBatch::default()
            }),
            ..Frame::default()
        };
        // Too small a buffer keeps the datagram pending.
        let len = frame.emit(buf).ok()?;
        self.due -= 1;
        self.sent += 1;
        Some(Transmit { to: self.to, len })
    }

    fn poll_event(&mut self) -> Option<Delivery<'_>> {
        let (from, sender, seq, payload) = self.pending.pop_front()?;
        self.current = payload;
        Some(Delivery {
            from,
            sender,
            seq,
            payload: &self.current,
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
