//! The world: N machines, one network, one virtual clock, one seed.

mod driver;
mod faults;

use crate::network::Network;
use crate::schedule::Schedule;
use crate::trace::Trace;
use crate::{
    Config, EventRecord, LinkConfig, MAX_NODES, MAX_UDP_PAYLOAD, Machine, Spawn, Stats, node_addr,
};
use blaze_wire::{Duration, Instant, Rng};
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
/// [`Destination::Group`](blaze_wire::Destination::Group) reaches every node that has joined it (all nodes
/// at start; see [`set_joined`](World::set_joined)), except the sender
/// unless [`Config::multicast_loopback`] is set.
/// [`Destination::Peer`](blaze_wire::Destination::Peer) is
/// unicast; an address that is no node is dropped as
/// [`NoRoute`](crate::DropReason::NoRoute).
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
    trace: Trace,
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
            trace: Trace::new(config.trace_lines),
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

    /// Datagrams held for node `index` while it is paused.
    pub fn held(&self, index: usize) -> usize {
        self.nodes.get(index).map_or(0, |n| n.held.len())
    }

    /// Node `index`'s incarnation: 0, then +1 per restart.
    pub fn incarnation(&self, index: usize) -> Option<u32> {
        self.nodes.get(index).map(|n| n.incarnation)
    }

    /// Counters so far.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The hash of everything delivered so far (see [`TraceHash`](crate::TraceHash)).
    pub fn trace_hash(&self) -> u64 {
        self.trace.hash().value()
    }

    /// The last [`Config::trace_lines`] lines of the run in readable form,
    /// oldest first: deliveries, drops, timeouts, events and faults, each
    /// with its virtual time. Print them when a check fails.
    pub fn trace_tail(&self) -> impl Iterator<Item = &str> {
        self.trace.lines()
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
}

impl<M: Machine> core::fmt::Debug for World<M> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("World")
            .field("now", &self.now)
            .field("nodes", &self.nodes.len())
            .field("pending", &self.schedule.len())
            .field("in_flight", &self.in_flight)
            .field("trace_hash", &self.trace.hash())
            .finish_non_exhaustive()
    }
}
