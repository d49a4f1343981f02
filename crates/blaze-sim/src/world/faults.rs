//! Faults on nodes and on the network's reachability: partitions, blocks,
//! crash, restart, pause.

use super::{Action, World};
use crate::trace::Happening;
use crate::{DropReason, Machine};
use blaze_wire::Duration;

impl<M: Machine> World<M> {
    /// Splits the nodes: nodes in different `sets` cannot reach each other;
    /// nodes in no set form one more set together. Replaces any earlier
    /// partition (blocks from [`block`](World::block) stay). Copies in
    /// flight across the cut are dropped on arrival.
    pub fn partition(&mut self, sets: &[&[usize]]) {
        self.net.partition(sets);
        self.trace.record(self.now, Happening::Partition { sets });
    }

    /// Heals every partition and every block.
    pub fn heal(&mut self) {
        self.net.heal();
        self.trace
            .record(self.now, Happening::Partition { sets: &[] });
    }

    /// Blocks (or unblocks) the one direction `from → to`.
    pub fn block(&mut self, from: usize, to: usize, blocked: bool) {
        self.net.block(from, to, blocked);
        self.trace
            .record(self.now, Happening::Block { from, to, blocked });
    }

    /// Makes node `index` join or leave the multicast group.
    pub fn set_joined(&mut self, index: usize, joined: bool) {
        if let Some(n) = self.nodes.get_mut(index) {
            n.joined = joined;
        }
    }

    /// Crashes node `index`: its machine is dropped with all its state, its
    /// timers die, datagrams held by a pause and copies in flight to it are
    /// lost. A crashed node stays down until [`restart`](World::restart).
    pub fn crash(&mut self, index: usize) {
        let now = self.now;
        let Some(node) = self.nodes.get_mut(index) else {
            return;
        };
        if node.machine.take().is_none() {
            return;
        }
        node.armed = None;
        node.queued = None;
        node.timer_generation += 1;
        node.paused_until = None;
        node.pause_generation += 1;
        let held = core::mem::take(&mut node.held);
        for (from, _) in held {
            self.count_drop(from, index, DropReason::Crashed);
        }
        if let Some(s) = self.stats.nodes.get_mut(index) {
            s.crashes += 1;
        }
        self.trace.record(
            now,
            Happening::Fault {
                node: index,
                what: "crash",
            },
        );
    }

    /// Restarts node `index` with a fresh machine from the factory (a new
    /// incarnation; a node that is up is crashed first), and drives it.
    pub fn restart(&mut self, index: usize) {
        if index >= self.nodes.len() {
            return;
        }
        self.crash(index);
        let incarnation = self.nodes.get(index).map_or(0, |n| n.incarnation + 1);
        let machine = self.spawn(index, incarnation);
        if let Some(node) = self.nodes.get_mut(index) {
            node.machine = Some(machine);
            node.incarnation = incarnation;
        }
        if let Some(s) = self.stats.nodes.get_mut(index) {
            s.restarts += 1;
        }
        self.trace.record(
            self.now,
            Happening::Fault {
                node: index,
                what: "restart",
            },
        );
        self.drive(index);
    }

    /// Pauses node `index` for `d`, like a garbage-collection stop: it
    /// receives nothing and no timer fires. Arriving datagrams are held (up
    /// to [`Config::pause_buffer`](crate::Config::pause_buffer), then dropped as
    /// [`PauseOverflow`](DropReason::PauseOverflow)); at the end the held
    /// datagrams are delivered in arrival order and then overdue timers
    /// fire, late. Pausing a paused node moves the end of the pause.
    /// Commands through [`command`](World::command) still run.
    pub fn pause(&mut self, index: usize, d: Duration) {
        let until = self.now + d;
        let Some(node) = self.nodes.get_mut(index) else {
            return;
        };
        if node.machine.is_none() {
            return;
        }
        node.paused_until = Some(until);
        node.pause_generation += 1;
        let generation = node.pause_generation;
        self.schedule.push(
            until,
            Action::Resume {
                node: index,
                generation,
            },
        );
        self.trace.record(
            self.now,
            Happening::Fault {
                node: index,
                what: "pause",
            },
        );
    }

    /// Ends node `index`'s pause now (see [`pause`](World::pause)).
    pub fn resume(&mut self, index: usize) {
        let Some(node) = self.nodes.get_mut(index) else {
            return;
        };
        if node.paused_until.take().is_none() {
            return;
        }
        node.pause_generation += 1;
        // A timer that came due during the pause left no entry queued, so
        // the drive below re-arms it: it fires now, after the held
        // datagrams.
        let held = core::mem::take(&mut node.held);
        self.trace.record(
            self.now,
            Happening::Fault {
                node: index,
                what: "resume",
            },
        );
        for (from, data) in held {
            self.deliver(from, index, &data);
        }
        self.drive(index);
    }

    /// Wakes node `index` spuriously: calls `handle_timeout` now whether
    /// or not a deadline passed (machines must treat that as a no-op), then
    /// drives it. Does nothing to a crashed or paused node.
    pub fn wake(&mut self, index: usize) {
        let now = self.now;
        let Some(node) = self.nodes.get_mut(index) else {
            return;
        };
        if node.paused_until.is_some() {
            return;
        }
        let Some(machine) = node.machine.as_mut() else {
            return;
        };
        machine.handle_timeout(now);
        if let Some(s) = self.stats.nodes.get_mut(index) {
            s.timeouts += 1;
        }
        self.trace.record(
            now,
            Happening::Fault {
                node: index,
                what: "spurious wake-up",
            },
        );
        self.drive(index);
    }
}
