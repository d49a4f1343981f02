//! A random adversary: faults drawn from the world's seed, VOPR-style.

use crate::{LinkConfig, Machine, World};
use blaze_wire::{Duration, Instant, Rng};
use std::cell::RefCell;
use std::rc::Rc;

/// A random adversary that injects node and network faults during a
/// window of virtual time, every draw from the world's generator (so the
/// seed fixes the faults too).
///
/// Between `start` and `end` a fault comes every `U[0, 2·mean_interval]`;
/// its kind is drawn by weight: crash (then restart after `downtime`),
/// pause (for `pause_len`), partition (the nodes split at random into two
/// sides, healed after `partition_len`; one partition at a time), isolate
/// one node (likewise), or a bad link (both directions between two nodes
/// get `bad_link` for `partition_len`, then their previous model back).
/// Nodes in `spared` are never crashed, paused or isolated, and at most
/// `max_down` nodes are down at once. Every fault is repaired by `end`:
/// after it the network is whole and every node the nemesis crashed is
/// up again.
///
/// ```
/// use blaze_sim::{Machine, Nemesis, World};
/// use blaze_wire::{Duration, Instant, Transmit};
/// use core::net::SocketAddr;
/// struct Idle;
/// impl Machine for Idle {
///     type Event = ();
///     fn handle_datagram(&mut self, _: Instant, _: SocketAddr, _: &[u8]) {}
///     fn handle_timeout(&mut self, _: Instant) {}
///     fn poll_transmit(&mut self, _: Instant, _: &mut [u8]) -> Option<Transmit> { None }
///     fn poll_timeout(&mut self) -> Option<Instant> { None }
///     fn poll_event(&mut self, _: Instant) -> Option<()> { None }
/// }
/// let mut w = World::new(3, 5, |_| Idle);
/// w.unleash(Nemesis::new(Instant::ZERO, Instant::from_millis(1_000)).spare(&[0]));
/// w.run_until(Instant::from_millis(2_000));
/// assert!(w.stats().total().crashes > 0);
/// assert!((0..5).all(|i| w.is_up(i) && !w.is_paused(i)));
/// assert_eq!(w.stats().nodes[0].crashes, 0);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Nemesis {
    /// When faults may begin.
    pub start: Instant,
    /// When the last fault is repaired; no fault starts after it.
    pub end: Instant,
    /// Mean time between faults.
    pub mean_interval: Duration,
    /// Weight of crash-then-restart.
    pub crash: u32,
    /// Weight of pauses.
    pub pause: u32,
    /// Weight of two-sided partitions.
    pub partition: u32,
    /// Weight of isolating one node.
    pub isolate: u32,
    /// Weight of bad links.
    pub link: u32,
    /// How long a crashed node stays down: `U[min, max]`.
    pub downtime: (Duration, Duration),
    /// How long a pause lasts: `U[min, max]`.
    pub pause_len: (Duration, Duration),
    /// How long a partition, isolation or bad link lasts: `U[min, max]`.
    pub partition_len: (Duration, Duration),
    /// The model of a bad link.
    pub bad_link: LinkConfig,
    /// Nodes never crashed, paused or isolated.
    pub spared: Vec<usize>,
    /// Most nodes down (crashed) at once.
    pub max_down: usize,
}

impl Nemesis {
    /// Faults every 50 ms on average between `start` and `end`, all kinds
    /// equally likely, at most one node down at once; downtimes, pauses
    /// and partitions of 10 to 200 ms; bad links lose half and reorder.
    pub fn new(start: Instant, end: Instant) -> Self {
        let ms = Duration::from_millis;
        Nemesis {
            start,
            end,
            mean_interval: ms(50),
            crash: 1,
            pause: 1,
            partition: 1,
            isolate: 1,
            link: 1,
            downtime: (ms(10), ms(200)),
            pause_len: (ms(10), ms(200)),
            partition_len: (ms(10), ms(200)),
            bad_link: LinkConfig::default()
                .with_loss(0.5)
                .with_reorder(0.2, ms(5))
                .with_duplicate(0.05),
            spared: Vec::new(),
            max_down: 1,
        }
    }

    /// Spares `nodes` from crashes, pauses and isolation.
    pub fn spare(mut self, nodes: &[usize]) -> Self {
        self.spared.extend_from_slice(nodes);
        self
    }

    /// Only network faults (partitions, isolation, bad links).
    pub fn network_only(mut self) -> Self {
        self.crash = 0;
        self.pause = 0;
        self
    }
}

/// What the nemesis has broken and not yet repaired.
#[derive(Debug, Default)]
struct Damage {
    crashed: Vec<usize>,
    paused: Vec<usize>,
    partitioned: bool,
    links: Vec<(usize, usize, Option<LinkConfig>)>,
}

fn between(rng: &mut Rng, (lo, hi): (Duration, Duration)) -> Duration {
    let span = hi.total_micros().saturating_sub(lo.total_micros());
    lo + Duration::from_micros(rng.below(span.saturating_add(1)))
}

impl<M: Machine + 'static> World<M> {
    /// Lets `nemesis` loose on this world (see [`Nemesis`]).
    pub fn unleash(&mut self, nemesis: Nemesis) {
        let damage = Rc::new(RefCell::new(Damage::default()));
        let nemesis = Rc::new(nemesis);
        let end = nemesis.end;
        {
            let damage = damage.clone();
            self.at(end, move |w| repair_all(w, &damage));
        }
        let first = nemesis.start;
        self.at(first, move |w| strike(w, nemesis, damage));
    }
}

fn strike<M: Machine + 'static>(w: &mut World<M>, n: Rc<Nemesis>, damage: Rc<RefCell<Damage>>) {
    let now = w.now();
    if now >= n.end {
        return;
    }
    fault(w, &n, &damage);
    let gap = Duration::from_micros(
        w.rng_mut().below(
            n.mean_interval
                .total_micros()
                .saturating_mul(2)
                .saturating_add(1),
        ),
    );
    let next = now + gap.max(Duration::from_micros(1));
    if next < n.end {
        w.at(next, move |w| strike(w, n, damage));
    }
}

fn fault<M: Machine + 'static>(w: &mut World<M>, n: &Nemesis, damage: &Rc<RefCell<Damage>>) {
    let count = w.node_count();
    if count == 0 {
        return;
    }
    let weights = [n.crash, n.pause, n.partition, n.isolate, n.link];
    let total: u64 = weights.iter().map(|x| u64::from(*x)).sum();
    if total == 0 {
        return;
    }
    let mut pick = w.rng_mut().below(total);
    let mut kind = 0;
    for (k, wt) in weights.iter().enumerate() {
        if pick < u64::from(*wt) {
            kind = k;
            break;
        }
        pick -= u64::from(*wt);
    }
    let victim = w.rng_mut().below(count as u64) as usize;
    let fair_game = !n.spared.contains(&victim) && w.is_up(victim);
    let repair_at = |w: &mut World<M>, len: (Duration, Duration)| {
        let at = w.now() + between(w.rng_mut(), len);
        at.min(n.end)
    };
    match kind {
        0 => {
            let down = damage.borrow().crashed.len();
            if !fair_game || down >= n.max_down {
                return;
            }
            w.crash(victim);
            damage.borrow_mut().crashed.push(victim);
            let at = repair_at(w, n.downtime);
            let damage = damage.clone();
            w.at(at, move |w| {
                let mut d = damage.borrow_mut();
                if let Some(pos) = d.crashed.iter().position(|c| *c == victim) {
                    d.crashed.swap_remove(pos);
                    drop(d);
                    w.restart(victim);
                }
            });
        }
        1 => {
            if !fair_game || w.is_paused(victim) {
                return;
            }
            let len = between(w.rng_mut(), n.pause_len);
            let len = len.min(n.end - w.now());
            w.pause(victim, len);
            damage.borrow_mut().paused.push(victim);
        }
        2 | 3 => {
            if damage.borrow().partitioned {
                return;
            }
            if kind == 2 {
                // Each node lands on side A or B; the spared are not
                // exempt from a split, only from isolation.
                let side: Vec<usize> = (0..count).filter(|_| w.rng_mut().below(2) == 0).collect();
                w.partition(&[&side]);
            } else {
                if !fair_game {
                    return;
                }
                w.isolate(victim);
            }
            damage.borrow_mut().partitioned = true;
            let at = repair_at(w, n.partition_len);
            let damage = damage.clone();
            w.at(at, move |w| {
                let mut d = damage.borrow_mut();
                if d.partitioned {
                    d.partitioned = false;
                    drop(d);
                    w.partition(&[]);
                }
            });
        }
        _ => {
            let other = w.rng_mut().below(count as u64) as usize;
            if other == victim {
                return;
            }
            let before = (w.link(victim, other), w.link(other, victim));
            damage.borrow_mut().links.push((victim, other, before.0));
            damage.borrow_mut().links.push((other, victim, before.1));
            w.set_link_pair(victim, other, n.bad_link);
            let at = repair_at(w, n.partition_len);
            let damage = damage.clone();
            w.at(at, move |w| {
                let mut d = damage.borrow_mut();
                // Undo this fault's two entries (the latest for each
                // direction), restoring the model found before it.
                for (a, b) in [(other, victim), (victim, other)] {
                    if let Some(pos) = d.links.iter().rposition(|(x, y, _)| (*x, *y) == (a, b)) {
                        let (_, _, old) = d.links.remove(pos);
                        w.restore_link(a, b, old);
                    }
                }
            });
        }
    }
}

fn repair_all<M: Machine + 'static>(w: &mut World<M>, damage: &Rc<RefCell<Damage>>) {
    let mut d = damage.borrow_mut();
    for node in d.crashed.drain(..) {
        w.restart(node);
    }
    for node in d.paused.drain(..) {
        w.resume(node);
    }
    if d.partitioned {
        d.partitioned = false;
        w.partition(&[]);
    }
    while let Some((a, b, old)) = d.links.pop() {
        w.restore_link(a, b, old);
    }
}
