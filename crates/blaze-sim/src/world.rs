//! The world: N machines, one network, one virtual clock, one seed.

use crate::network::{Channel, Network};
use crate::schedule::Schedule;
use crate::{
    Config, DropReason, EventRecord, LinkConfig, MAX_NODES, MAX_UDP_PAYLOAD, Machine, Spawn, Stats,
    TraceHash, node_addr, node_index,
};
use blaze_wire::{Destination, Duration, Instant, Rng};
use std::collections::VecDeque;

/// A scheduled happening.
enum Action<M: Machine> {
    /// A copy of a datagram reaches `to`.
    Arrive {
        from: usize,
        to: usize,
        incarnation: u32,
        data: Vec<u8>,
    },
    /// A machine's deadline, valid while `generation` matches.
    Timer { node: usize, generation: u64 },
    /// The end of a pause, valid while `generation` matches.
    Resume { node: usize, generation: u64 },
    /// A scripted step.
    Call(Script<M>),
}

/// A scripted step on the world.
type Script<M> = Box<dyn FnOnce(&mut World<M>)>;

/// One node: its machine (none while crashed) and its driver state.
struct Node<M> {
    machine: Option<M>,
    incarnation: u32,
    joined: bool,
    /// The machine's deadline as last read.
    armed: Option<Instant>,
    /// Time of the one live timer entry in the schedule, if any.
    queued: Option<Instant>,
    timer_generation: u64,
    paused_until: Option<Instant>,
    pause_generation: u64,
    held: VecDeque<(usize, Vec<u8>)>,
}

/// Many sans-IO machines over a simulated network, in virtual time, from one
/// seed.
///
/// Nodes are numbered `0..n` and live at [`node_addr(i)`](crate::node_addr)
/// (`127.0.0.{i+1}:7400`). The world models **one multicast group**:
/// [`Destination::Group`] reaches every node that has joined it (all nodes
/// at start; see [`set_joined`](World::set_joined)), except the sender
/// unless [`Config::multicast_loopback`] is set. [`Destination::Peer`] is
/// unicast; an address that is no node is dropped as
/// [`NoRoute`](DropReason::NoRoute).
///
/// Each copy of a datagram follows a [`LinkConfig`]: the per-link model set
/// by [`set_link`](World::set_link) if any, else for multicast copies the
/// group model of [`set_group_link`](World::set_group_link) if any, else
/// the default model. Models can change at any time.
///
/// Everything random comes from one [`Rng`] seeded with the world's seed,
/// and the event queue breaks ties by scheduling order, so a seed fixes the
/// whole run; [`trace_hash`](World::trace_hash) proves it.
///
/// ```
/// use blaze_sim::{Machine, World};
/// use blaze_wire::{Destination, Instant, Transmit};
/// use core::net::SocketAddr;
///
/// /// Multicasts one byte at start, records what it hears.
/// struct Hello { said: bool, heard: Vec<u8> }
/// impl Machine for Hello {
///     type Event = u8;
///     fn handle_datagram(&mut self, _: Instant, _: SocketAddr, d: &[u8]) {
///         self.heard.extend_from_slice(d);
///     }
///     fn handle_timeout(&mut self, _: Instant) {}
///     fn poll_transmit(&mut self, _: Instant, buf: &mut [u8]) -> Option<Transmit> {
///         if self.said { return None; }
///         self.said = true;
///         buf[0] = 42;
///         Some(Transmit { to: Destination::Group, len: 1 })
///     }
///     fn poll_timeout(&mut self) -> Option<Instant> { None }
///     fn poll_event(&mut self, _: Instant) -> Option<u8> { self.heard.pop() }
/// }
///
/// let mut world = World::new(7, 3, |_| Hello { said: false, heard: Vec::new() });
/// world.run_until(Instant::from_millis(1));
/// assert_eq!(world.events().len(), 6); // each node hears the two others
/// assert_eq!(world.stats().total().delivered, 6);
/// ```
pub struct World<M: Machine> {
    config: Config,
    now: Instant,
    rng: Rng,
    schedule: Schedule<Action<M>>,
    nodes: Vec<Node<M>>,
    factory: Box<dyn FnMut(Spawn) -> M>,
    net: Network,
    stats: Stats,
    hash: TraceHash,
    events: Vec<EventRecord<M::Event>>,
    buf: Vec<u8>,
    in_flight: usize,
    steps_at_now: u64,
}

impl<M: Machine> World<M> {
    /// A world of `nodes` machines made by `factory`, with the default
    /// [`Config`], every node up and in the group, and each machine driven
    /// once at time zero.
    ///
    /// # Panics
    ///
    /// If `nodes` exceeds [`MAX_NODES`].
    pub fn new(seed: u64, nodes: usize, factory: impl FnMut(Spawn) -> M + 'static) -> Self {
        Self::with_config(seed, nodes, Config::default(), factory)
    }

    /// A world with an explicit [`Config`].
    ///
    /// # Panics
    ///
    /// If `nodes` exceeds [`MAX_NODES`], or `config.mtu` is 0 or exceeds
    /// [`MAX_UDP_PAYLOAD`].
    pub fn with_config(
        seed: u64,
        nodes: usize,
        config: Config,
        factory: impl FnMut(Spawn) -> M + 'static,
    ) -> Self {
        assert!(
            nodes <= MAX_NODES,
            "blaze-sim: at most {MAX_NODES} nodes, asked for {nodes}"
        );
        assert!(
            config.mtu > 0 && config.mtu <= MAX_UDP_PAYLOAD,
            "blaze-sim: mtu must be in 1..={MAX_UDP_PAYLOAD}, got {}",
            config.mtu
        );
        let mut world = World {
            config,
            now: Instant::ZERO,
            rng: Rng::new(seed),
            schedule: Schedule::new(),
            nodes: Vec::with_capacity(nodes),
            factory: Box::new(factory),
            net: Network::new(nodes),
            stats: Stats {
                nodes: vec![Default::default(); nodes],
                peak_in_flight: 0,
                peak_held: 0,
                peak_pending: 0,
            },
            hash: TraceHash::new(),
            events: Vec::new(),
            buf: vec![0; config.mtu],
            in_flight: 0,
            steps_at_now: 0,
        };
        for index in 0..nodes {
            let machine = world.spawn(index, 0);
            world.nodes.push(Node {
                machine: Some(machine),
                incarnation: 0,
                joined: true,
                armed: None,
                queued: None,
                timer_generation: 0,
                paused_until: None,
                pause_generation: 0,
                held: VecDeque::new(),
            });
        }
        for index in 0..nodes {
            world.drive(index);
        }
        world
    }

    fn spawn(&mut self, index: usize, incarnation: u32) -> M {
        let seed = self.rng.next_u64();
        (self.factory)(Spawn {
            index,
            addr: node_addr(index),
            seed,
            incarnation,
        })
    }

    // ----- getters -------------------------------------------------------

    /// The current virtual time.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// The number of nodes (up or down).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// The world's settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Node `index`'s machine, or `None` while it is crashed (or if there is
    /// no such node).
    pub fn machine(&self, index: usize) -> Option<&M> {
        self.nodes.get(index).and_then(|n| n.machine.as_ref())
    }

    /// Whether node `index` is up (not crashed).
    pub fn is_up(&self, index: usize) -> bool {
        self.machine(index).is_some()
    }

    /// Whether node `index` is paused.
    pub fn is_paused(&self, index: usize) -> bool {
        self.nodes
            .get(index)
            .is_some_and(|n| n.paused_until.is_some())
    }

    /// Node `index`'s incarnation: 0, then +1 per restart.
    pub fn incarnation(&self, index: usize) -> Option<u32> {
        self.nodes.get(index).map(|n| n.incarnation)
    }

    /// Counters so far.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The hash of everything delivered so far (see [`TraceHash`]).
    pub fn trace_hash(&self) -> u64 {
        self.hash.value()
    }

    /// Events drained so far (if [`Config::record_events`]).
    pub fn events(&self) -> &[EventRecord<M::Event>] {
        &self.events
    }

    /// Takes the recorded events, leaving the record empty.
    pub fn take_events(&mut self) -> Vec<EventRecord<M::Event>> {
        core::mem::take(&mut self.events)
    }

    /// Copies of datagrams in flight now.
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Entries in the event queue (copies, timers, scripted steps).
    pub fn pending(&self) -> usize {
        self.schedule.len()
    }

    /// Time of the next queued happening, if any.
    pub fn next_time(&self) -> Option<Instant> {
        self.schedule.peek_time()
    }

    /// Whether `from`'s datagrams can reach `to` now.
    pub fn reachable(&self, from: usize, to: usize) -> bool {
        self.net.reachable(from, to)
    }

    // ----- commands ------------------------------------------------------

    /// Runs `f` on node `index`'s machine at the current time, then drives
    /// it (drains transmits and events, re-reads the deadline). Returns
    /// `None`, without calling `f`, if the node is crashed.
    pub fn command<R>(&mut self, index: usize, f: impl FnOnce(&mut M, Instant) -> R) -> Option<R> {
        let now = self.now;
        let r = f(self.nodes.get_mut(index)?.machine.as_mut()?, now);
        self.drive(index);
        Some(r)
    }

    /// Schedules `f` to run on the world at virtual time `at` (or now, if
    /// `at` has passed), after everything already queued for that time.
    pub fn at(&mut self, at: Instant, f: impl FnOnce(&mut World<M>) + 'static) {
        let t = at.max(self.now);
        self.schedule.push(t, Action::Call(Box::new(f)));
    }

    /// Sets the model used when no link or group model applies.
    pub fn set_default_link(&mut self, cfg: LinkConfig) {
        self.net.set_default(cfg);
    }

    /// The model used when no link or group model applies.
    pub fn default_link(&self) -> &LinkConfig {
        self.net.default_link()
    }

    /// Sets (or with `None` clears) the model of multicast copies that have
    /// no per-link model. With a bandwidth cap, each sender has one group
    /// queue and a multicast is serialised once for all receivers.
    pub fn set_group_link(&mut self, cfg: Option<LinkConfig>) {
        self.net.set_group(cfg);
    }

    /// Sets the model of the directed link `from → to`, for unicast and
    /// multicast copies alike.
    pub fn set_link(&mut self, from: usize, to: usize, cfg: LinkConfig) {
        self.net.set_link(from, to, Some(cfg));
    }

    /// Sets the model of both directions between `a` and `b`.
    pub fn set_link_pair(&mut self, a: usize, b: usize, cfg: LinkConfig) {
        self.net.set_link(a, b, Some(cfg));
        self.net.set_link(b, a, Some(cfg));
    }

    /// Removes the model of `from → to` (back to group/default).
    pub fn clear_link(&mut self, from: usize, to: usize) {
        self.net.set_link(from, to, None);
    }

    /// Splits the nodes: nodes in different `sets` cannot reach each other;
    /// nodes in no set form one more set together. Replaces any earlier
    /// partition (blocks from [`block`](World::block) stay). Copies in
    /// flight across the cut are dropped on arrival.
    pub fn partition(&mut self, sets: &[&[usize]]) {
        self.net.partition(sets);
        self.hash.write(b"partition");
        for set in sets {
            self.hash.write(b"|");
            for n in *set {
                self.hash.write_u64(*n as u64);
            }
        }
    }

    /// Heals every partition and every block.
    pub fn heal(&mut self) {
        self.net.heal();
        self.hash.write(b"heal");
    }

    /// Blocks (or unblocks) the one direction `from → to`.
    pub fn block(&mut self, from: usize, to: usize, blocked: bool) {
        self.net.block(from, to, blocked);
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
        self.hash.write(b"crash");
        self.hash.write_u64(now.total_micros());
        self.hash.write_u64(index as u64);
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
        self.hash.write(b"restart");
        self.hash.write_u64(self.now.total_micros());
        self.hash.write_u64(index as u64);
        self.drive(index);
    }

    /// Pauses node `index` for `d`, like a garbage-collection stop: it
    /// receives nothing and no timer fires. Arriving datagrams are held (up
    /// to [`Config::pause_buffer`], then dropped as
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
        self.hash.write(b"pause");
        self.hash.write_u64(self.now.total_micros());
        self.hash.write_u64(index as u64);
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
        self.hash.write(b"resume");
        self.hash.write_u64(self.now.total_micros());
        self.hash.write_u64(index as u64);
        for (from, data) in held {
            self.deliver(from, index, &data);
        }
        self.drive(index);
    }

    // ----- running -------------------------------------------------------

    /// Runs the next queued happening; `false` if the queue is empty.
    ///
    /// # Panics
    ///
    /// If more than [`Config::max_steps_per_instant`] steps happen at one
    /// virtual instant (a livelocked machine).
    pub fn step(&mut self) -> bool {
        let Some(entry) = self.schedule.pop() else {
            return false;
        };
        if entry.time > self.now {
            self.now = entry.time;
            self.steps_at_now = 0;
        }
        self.steps_at_now += 1;
        assert!(
            self.steps_at_now <= self.config.max_steps_per_instant,
            "blaze-sim: livelock: more than {} steps at {} (a deadline that never moves?)",
            self.config.max_steps_per_instant,
            self.now
        );
        match entry.action {
            Action::Arrive {
                from,
                to,
                incarnation,
                data,
            } => {
                self.in_flight = self.in_flight.saturating_sub(1);
                self.arrive(from, to, incarnation, data);
            }
            Action::Timer { node, generation } => self.fire(node, generation),
            Action::Resume { node, generation } => {
                if self
                    .nodes
                    .get(node)
                    .is_some_and(|n| n.pause_generation == generation)
                {
                    self.resume(node);
                }
            }
            Action::Call(f) => f(self),
        }
        true
    }

    /// Runs everything queued up to and including `t`, then sets the clock
    /// to `t`.
    pub fn run_until(&mut self, t: Instant) {
        while self.schedule.peek_time().is_some_and(|next| next <= t) {
            self.step();
        }
        if t > self.now {
            self.now = t;
            self.steps_at_now = 0;
        }
    }

    /// Runs for `d` of virtual time.
    pub fn run_for(&mut self, d: Duration) {
        self.run_until(self.now + d);
    }

    /// Runs until `done(self)` holds (checked before each step) or the time
    /// would pass `deadline`; returns whether `done` held.
    pub fn run_while_not(
        &mut self,
        deadline: Instant,
        mut done: impl FnMut(&Self) -> bool,
    ) -> bool {
        loop {
            if done(self) {
                return true;
            }
            match self.schedule.peek_time() {
                Some(next) if next <= deadline => {
                    self.step();
                }
                _ => {
                    if deadline > self.now {
                        self.now = deadline;
                        self.steps_at_now = 0;
                    }
                    return done(self);
                }
            }
        }
    }

    // ----- internals -----------------------------------------------------

    fn fire(&mut self, index: usize, generation: u64) {
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
        self.hash.write(b"T");
        self.hash.write_u64(now.total_micros());
        self.hash.write_u64(index as u64);
        self.drive(index);
    }

    fn arrive(&mut self, from: usize, to: usize, incarnation: u32, data: Vec<u8>) {
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

    fn deliver(&mut self, from: usize, to: usize, data: &[u8]) {
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
        self.hash.write(b"D");
        self.hash.write_u64(now.total_micros());
        self.hash.write_u64(from as u64);
        self.hash.write_u64(to as u64);
        self.hash.write_field(data);
        self.drive(to);
    }

    fn count_drop(&mut self, from: usize, to: usize, reason: DropReason) {
        if let Some(s) = self.stats.nodes.get_mut(from) {
            s.dropped_outbound.add(reason);
        }
        if let Some(s) = self.stats.nodes.get_mut(to) {
            s.dropped_inbound.add(reason);
        }
        self.hash.write(b"X");
        self.hash.write_u64(self.now.total_micros());
        self.hash.write_u64(from as u64);
        self.hash.write_u64(to as u64);
        self.hash.write(reason.to_string().as_bytes());
    }

    /// Drives node `index` as an adapter does after an input: drain
    /// transmits, drain events, re-read the deadline.
    fn drive(&mut self, index: usize) {
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
            self.hash.write(b"E");
            self.hash.write_u64(now.total_micros());
            self.hash.write_u64(index as u64);
            self.hash.write(format!("{event:?}").as_bytes());
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

impl<M: Machine> core::fmt::Debug for World<M> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("World")
            .field("now", &self.now)
            .field("nodes", &self.nodes.len())
            .field("pending", &self.schedule.len())
            .field("in_flight", &self.in_flight)
            .field("trace_hash", &self.hash)
            .finish_non_exhaustive()
    }
}
