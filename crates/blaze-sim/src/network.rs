//! The network between the nodes: which model applies to a path, the state
//! of bursts and bandwidth queues, and partitions.

use crate::{DropReason, LinkConfig};
use blaze_wire::{Duration, Instant, Rng};
use std::collections::{BTreeMap, BTreeSet};

/// Which bandwidth queue a copy waits in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Channel {
    /// A directed link with its own model.
    Link(usize, usize),
    /// A sender's path onto the multicast group: one serialisation serves
    /// every receiver that uses the group model.
    Group(usize),
}

/// Where a copy stands after the sender-side part of its journey.
pub(crate) struct Fate {
    /// Arrival times: one, or two when duplicated.
    pub(crate) arrivals: [Option<Instant>; 2],
}

/// The network model and its state.
#[derive(Debug)]
pub(crate) struct Network {
    default: LinkConfig,
    group: Option<LinkConfig>,
    links: BTreeMap<(usize, usize), LinkConfig>,
    bad_state: BTreeSet<(usize, usize)>,
    busy_until: BTreeMap<Channel, Instant>,
    component: Vec<u32>,
    blocked: BTreeSet<(usize, usize)>,
}

impl Network {
    pub(crate) fn new(nodes: usize) -> Self {
        Network {
            default: LinkConfig::default(),
            group: None,
            links: BTreeMap::new(),
            bad_state: BTreeSet::new(),
            busy_until: BTreeMap::new(),
            component: vec![0; nodes],
            blocked: BTreeSet::new(),
        }
    }

    pub(crate) fn set_default(&mut self, cfg: LinkConfig) {
        self.default = cfg;
    }

    pub(crate) fn default_link(&self) -> &LinkConfig {
        &self.default
    }

    pub(crate) fn set_group(&mut self, cfg: Option<LinkConfig>) {
        self.group = cfg;
    }

    pub(crate) fn set_link(&mut self, from: usize, to: usize, cfg: Option<LinkConfig>) {
        match cfg {
            Some(cfg) => {
                self.links.insert((from, to), cfg);
            }
            None => {
                self.links.remove(&(from, to));
            }
        }
    }

    /// The model of one copy and the queue it waits in.
    pub(crate) fn model(&self, from: usize, to: usize, multicast: bool) -> (LinkConfig, Channel) {
        if let Some(cfg) = self.links.get(&(from, to)) {
            return (*cfg, Channel::Link(from, to));
        }
        match (&self.group, multicast) {
            (Some(g), true) => (*g, Channel::Group(from)),
            _ => (self.default, Channel::Link(from, to)),
        }
    }

    pub(crate) fn partition(&mut self, sets: &[&[usize]]) {
        self.component.iter_mut().for_each(|c| *c = 0);
        for (k, set) in sets.iter().enumerate() {
            let id = u32::try_from(k + 1).unwrap_or(u32::MAX);
            for &n in *set {
                if let Some(c) = self.component.get_mut(n) {
                    *c = id;
                }
            }
        }
    }

    pub(crate) fn heal(&mut self) {
        self.component.iter_mut().for_each(|c| *c = 0);
        self.blocked.clear();
    }

    pub(crate) fn block(&mut self, from: usize, to: usize, blocked: bool) {
        if blocked {
            self.blocked.insert((from, to));
        } else {
            self.blocked.remove(&(from, to));
        }
    }

    pub(crate) fn reachable(&self, from: usize, to: usize) -> bool {
        self.component.get(from) == self.component.get(to) && !self.blocked.contains(&(from, to))
    }

    /// The sender-side queue: when the copy leaves, or tail drop.
    pub(crate) fn depart(
        &mut self,
        now: Instant,
        cfg: &LinkConfig,
        channel: Channel,
        len: usize,
    ) -> Result<Instant, DropReason> {
        let Some(bw) = cfg.bandwidth else {
            return Ok(now);
        };
        let busy = self
            .busy_until
            .get(&channel)
            .copied()
            .unwrap_or(Instant::ZERO);
        let start = busy.max(now);
        let backlog = start - now;
        let waiting = u128::from(backlog.total_micros()) * u128::from(bw.bytes_per_sec) / 1_000_000;
        let limit = u128::try_from(bw.queue_bytes).unwrap_or(u128::MAX);
        if waiting + u128::try_from(len).unwrap_or(u128::MAX) > limit {
            return Err(DropReason::QueueFull);
        }
        let done = start + bw.serialization(len);
        self.busy_until.insert(channel, done);
        Ok(done)
    }

    /// Loss, delay, reordering and duplication of one copy that left the
    /// sender at `depart`.
    pub(crate) fn fly(
        &mut self,
        rng: &mut Rng,
        from: usize,
        to: usize,
        cfg: &LinkConfig,
        depart: Instant,
    ) -> Result<Fate, DropReason> {
        if cfg.loss > 0.0 && rng.unit_f64() < cfg.loss {
            return Err(DropReason::Loss);
        }
        if let Some(ge) = cfg.burst {
            let bad = self.bad_state.contains(&(from, to));
            let flip = if bad { ge.bad_to_good } else { ge.good_to_bad };
            let bad = if flip > 0.0 && rng.unit_f64() < flip {
                !bad
            } else {
                bad
            };
            if bad {
                self.bad_state.insert((from, to));
            } else {
                self.bad_state.remove(&(from, to));
            }
            let p = if bad { ge.loss_bad } else { ge.loss_good };
            if p > 0.0 && rng.unit_f64() < p {
                return Err(DropReason::BurstLoss);
            }
        }
        let first = depart + propagation(rng, cfg);
        let second = if cfg.duplicate > 0.0 && rng.unit_f64() < cfg.duplicate {
            Some(depart + propagation(rng, cfg))
        } else {
            None
        };
        Ok(Fate {
            arrivals: [Some(first), second],
        })
    }
}

fn uniform(rng: &mut Rng, max: Duration) -> Duration {
    if max == Duration::ZERO {
        return Duration::ZERO;
    }
    Duration::from_micros(rng.below(max.total_micros().saturating_add(1)))
}

fn propagation(rng: &mut Rng, cfg: &LinkConfig) -> Duration {
    let mut d = cfg.delay + uniform(rng, cfg.jitter);
    if cfg.reorder > 0.0 && rng.unit_f64() < cfg.reorder {
        d += uniform(rng, cfg.reorder_delay);
    }
    d
}
