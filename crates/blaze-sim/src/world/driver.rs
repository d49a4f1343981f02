//! Driving machines as an adapter does, and carrying their datagrams.

use super::{Action, World};
use crate::network::Channel;
use crate::trace::Happening;
use crate::{DropReason, EventRecord, Machine, node_addr, node_index};
use blaze_wire::{Destination, Instant};

impl<M: Machine> World<M> {
    pub(super) fn fire(&mut self, index: usize, generation: u64) {
        let now = self.now;
        let Some(node) = self.nodes.get_mut(index) else {
            return;
        };
        if node.timer_generation != generation {
            return;
        }
        node.queued = None;
        if node.paused_until.is_some() {
            return;
        }
        let Some(deadline) = node.armed else {
            return;
        };
        if deadline > now {
            // The deadline moved later since this entry was queued.
            node.timer_generation += 1;
            node.queued = Some(deadline);
            let generation = node.timer_generation;
            self.schedule.push(
                deadline,
                Action::Timer {
                    node: index,
                    generation,
                },
            );
            return;
        }
        let Some(machine) = node.machine.as_mut() else {
            return;
        };
        machine.handle_timeout(now);
        if let Some(s) = self.stats.nodes.get_mut(index) {
            s.timeouts += 1;
        }
        self.trace.record(now, Happening::Timeout { node: index });
        self.drive(index);
    }

    pub(super) fn arrive(&mut self, from: usize, to: usize, incarnation: u32, data: Vec<u8>) {
        if !self.net.reachable(from, to) {
            self.count_drop(from, to, DropReason::Partition);
            return;
        }
        let pause_buffer = self.config.pause_buffer;
        let Some(node) = self.nodes.get_mut(to) else {
            return;
        };
        if node.machine.is_none() || node.incarnation != incarnation {
            self.count_drop(from, to, DropReason::Crashed);
            return;
        }
        if node.paused_until.is_some() {
            if node.held.len() >= pause_buffer {
                self.count_drop(from, to, DropReason::PauseOverflow);
            } else {
                node.held.push_back((from, data));
                self.stats.peak_held = self.stats.peak_held.max(node.held.len());
            }
            return;
        }
        self.deliver(from, to, &data);
    }

    pub(super) fn deliver(&mut self, from: usize, to: usize, data: &[u8]) {
        let now = self.now;
        let Some(machine) = self.nodes.get_mut(to).and_then(|n| n.machine.as_mut()) else {
            self.count_drop(from, to, DropReason::Crashed);
            return;
        };
        machine.handle_datagram(now, node_addr(from), data);
        if let Some(s) = self.stats.nodes.get_mut(to) {
            s.delivered += 1;
            s.delivered_bytes += data.len() as u64;
        }
        self.trace
            .record(now, Happening::Delivered { from, to, data });
        self.drive(to);
    }

    pub(super) fn count_drop(&mut self, from: usize, to: usize, reason: DropReason) {
        if let Some(s) = self.stats.nodes.get_mut(from) {
            s.dropped_outbound.add(reason);
        }
        if let Some(s) = self.stats.nodes.get_mut(to) {
            s.dropped_inbound.add(reason);
        }
        self.trace
            .record(self.now, Happening::Dropped { from, to, reason });
    }

    /// Drives node `index` as an adapter does after an input: drain
    /// transmits, drain events, re-read the deadline.
    pub(super) fn drive(&mut self, index: usize) {
        let now = self.now;
        let Some(mut machine) = self.nodes.get_mut(index).and_then(|n| n.machine.take()) else {
            return;
        };
        let mut buf = core::mem::take(&mut self.buf);
        let mut polls: u64 = 0;
        while let Some(t) = machine.poll_transmit(now, &mut buf) {
            polls += 1;
            assert!(
                polls <= self.config.max_steps_per_instant,
                "blaze-sim: node {index} emitted more than {} datagrams in one drive",
                self.config.max_steps_per_instant
            );
            let data = buf.get(..t.len).unwrap_or_else(|| {
                panic!(
                    "blaze-sim: node {index} returned len {} > buffer {}",
                    t.len,
                    buf.len()
                )
            });
            self.route(index, t.to, data);
        }
        self.buf = buf;
        while let Some(event) = machine.poll_event(now) {
            let incarnation = self.nodes.get(index).map_or(0, |n| n.incarnation);
            let text = format!("{event:?}");
            self.trace.record(
                now,
                Happening::Event {
                    node: index,
                    text: &text,
                },
            );
            if let Some(s) = self.stats.nodes.get_mut(index) {
                s.events += 1;
            }
            if self.config.record_events {
                self.events.push(EventRecord {
                    time: now,
                    node: index,
                    incarnation,
                    event,
                });
            }
        }
        let deadline = machine.poll_timeout();
        let occupancy = machine.occupancy();
        if let Some(s) = self.stats.nodes.get_mut(index) {
            s.peak_occupancy = s.peak_occupancy.max(occupancy);
        }
        let Some(node) = self.nodes.get_mut(index) else {
            return;
        };
        node.machine = Some(machine);
        // One live timer entry per node: a later deadline reuses the queued
        // entry (which re-queues itself when it fires early), an earlier one
        // replaces it.
        node.armed = deadline;
        if let Some(d) = deadline {
            let at = d.max(now);
            if node.queued.is_none_or(|q| q > at) {
                node.timer_generation += 1;
                node.queued = Some(at);
                let generation = node.timer_generation;
                self.schedule.push(
                    at,
                    Action::Timer {
                        node: index,
                        generation,
                    },
                );
            }
        }
        self.stats.peak_pending = self.stats.peak_pending.max(self.schedule.len());
    }

    fn route(&mut self, from: usize, to: Destination, data: &[u8]) {
        if let Some(s) = self.stats.nodes.get_mut(from) {
            s.sent += 1;
            s.sent_bytes += data.len() as u64;
        }
        match to {
            Destination::Peer(addr) => match node_index(addr).filter(|i| *i < self.nodes.len()) {
                Some(i) => self.send_copy(from, i, false, data, &mut None),
                None => {
                    if let Some(s) = self.stats.nodes.get_mut(from) {
                        s.dropped_outbound.add(DropReason::NoRoute);
                    }
                }
            },
            Destination::Group => {
                let mut group_depart = None;
                for i in 0..self.nodes.len() {
                    let joined = self.nodes.get(i).is_some_and(|n| n.joined);
                    if joined && (i != from || self.config.multicast_loopback) {
                        self.send_copy(from, i, true, data, &mut group_depart);
                    }
                }
            }
        }
    }

    fn send_copy(
        &mut self,
        from: usize,
        to: usize,
        multicast: bool,
        data: &[u8],
        group_depart: &mut Option<Result<Instant, DropReason>>,
    ) {
        if !self.net.reachable(from, to) {
            self.count_drop(from, to, DropReason::Partition);
            return;
        }
        let Some(incarnation) = self
            .nodes
            .get(to)
            .filter(|n| n.machine.is_some())
            .map(|n| n.incarnation)
        else {
            self.count_drop(from, to, DropReason::Crashed);
            return;
        };
        let (cfg, channel) = self.net.model(from, to, multicast);
        let depart = match channel {
            Channel::Group(_) => *group_depart
                .get_or_insert_with(|| self.net.depart(self.now, &cfg, channel, data.len())),
            Channel::Link(..) => self.net.depart(self.now, &cfg, channel, data.len()),
        };
        let fate = depart.and_then(|d| self.net.fly(&mut self.rng, from, to, &cfg, d));
        match fate {
            Err(reason) => self.count_drop(from, to, reason),
            Ok(fate) => {
                for (k, at) in fate.arrivals.into_iter().flatten().enumerate() {
                    if self.in_flight >= self.config.max_in_flight {
                        self.count_drop(from, to, DropReason::SimFull);
                        continue;
                    }
                    if k > 0
                        && let Some(s) = self.stats.nodes.get_mut(from)
                    {
                        s.duplicated += 1;
                    }
                    self.in_flight += 1;
                    self.stats.peak_in_flight = self.stats.peak_in_flight.max(self.in_flight);
                    self.schedule.push(
                        at,
                        Action::Arrive {
                            from,
                            to,
                            incarnation,
                            data: data.to_vec(),
                        },
                    );
                }
            }
        }
    }
}
