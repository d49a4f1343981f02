//! The ring-ordered mode (`Ordering::Totem`): every node runs a Totem
//! member of `blaze-proto-totem` and a replica that applies what the ring
//! delivers. Concurrent writers under 10 % loss while members crash,
//! lock safety, joiners during traffic, quorum under a partition, and
//! merges per policy; the checkers are the coordinator mode's.

mod common;

use blaze_map::{MergePolicy, WriteError};
use blaze_sim::{LinkConfig, run_seeds};
use blaze_wire::{Duration, Instant};
use common::{Cluster, Rec, linearizability, locks, ring_config, rng};

const KEYS: [&[u8]; 3] = [b"a", b"b", b"c"];

/// Time for the first ring to form.
const FORM: Duration = Duration::from_millis(2000);

/// Closed-loop writers: each live node has at most one write in flight
/// (a write in flight across a ring reformation waits for the new ring,
/// and unbounded open-loop traffic would only pile up concurrent
/// operations for the checker).
struct Writers {
    busy: Vec<Option<(u32, blaze_map::RequestId)>>,
    seen: usize,
    count: u32,
}

impl Writers {
    fn new(n: usize) -> Self {
        Writers {
            busy: vec![None; n],
            seen: 0,
            count: 0,
        }
    }

    fn step(&mut self, c: &mut Cluster, r: &mut blaze_wire::Rng) {
        let events = c.world.events();
        for e in &events[self.seen..] {
            let req = match &e.event {
                Rec::WriteDone { request, .. } | Rec::WriteFailed { request, .. } => *request,
                _ => continue,
            };
            if self.busy[e.node] == Some((e.incarnation, req)) {
                self.busy[e.node] = None;
            }
        }
        self.seen = events.len();
        for i in 0..c.n {
            if self.busy[i].is_some_and(|(inc, _)| inc == c.incarnation(i)) || r.below(3) != 0 {
                continue;
            }
            let key = KEYS[r.below(KEYS.len() as u64) as usize];
            self.count += 1;
            let value = format!("{i}.{}", self.count);
            let req = if r.below(2) == 0 {
                c.put(i, key, value.as_bytes(), 0)
            } else {
                let expected = c.version(i, key);
                c.cas(i, key, expected, value.as_bytes())
            };
            self.busy[i] = req.map(|q| (c.incarnation(i), q));
        }
    }
}

/// Runs until every live node is synced (at most `limit`).
fn settle(c: &mut Cluster, limit: Duration) {
    let end = c.now() + limit;
    while c.now() < end {
        c.run_for(Duration::from_millis(20));
        let all = (0..c.n).all(|i| c.world.machine(i).is_none_or(|m| m.r.is_synced()));
        if all {
            return;
        }
    }
}

fn debug_dump(c: &Cluster) {
    if std::env::var("MAP_DEBUG").is_err() {
        return;
    }
    for e in c.world.events() {
        eprintln!("{} n{}/{} {:?}", e.time, e.node, e.incarnation, e.event);
    }
    for inv in &c.history {
        eprintln!("inv {} n{} {:?} {:?}", inv.time, inv.node, inv.request, inv.op);
    }
    for i in 0..c.n {
        if let Some(m) = c.world.machine(i) {
            eprintln!(
                "node {i}: synced {} applied {} stats {:?}",
                m.r.is_synced(),
                m.r.applied(),
                m.r.stats()
            );
        }
    }
    eprintln!("crashes {:?}", c.crashes);
}

/// 5 members (quorum 3: under loss the ring may split, and a side alone
/// must not acknowledge) write concurrently under 10 % loss; one or two of them
/// crash mid-stream (the lowest, which proposes expiries, on even seeds).
fn writers_with_crashes(seed: u64) -> Result<(), String> {
    let mut c = Cluster::new(seed, 5, ring_config(3, MergePolicy::MajoritySide, true));
    c.world
        .set_default_link(LinkConfig::lossy_lan().with_loss(0.10));
    settle(&mut c, FORM);
    let mut r = rng(seed);
    let first = 60 + r.below(80);
    let second = first + 300 + r.below(200);
    let two = seed % 3 != 0;
    let mut w = Writers::new(5);
    for t in 0..200u64 {
        let ms = t * 4;
        if ms == first - first % 4 || (two && ms == second - second % 4) {
            let victim = if seed % 2 == 0 {
                (0..5).find(|&i| c.up(i)).unwrap_or(0)
            } else {
                (0..5).rev().find(|&i| c.up(i)).unwrap_or(0)
            };
            c.crash(victim);
        }
        w.step(&mut c, &mut r);
        c.run_for(Duration::from_millis(4));
    }
    let wall = std::time::Instant::now();
    c.run_for(Duration::from_millis(2000));
    if std::env::var("MAP_DEBUG").is_ok() {
        eprintln!("tail run took {:?}", wall.elapsed());
    }
    debug_dump(&c);
    c.check_converged()?;
    c.check_total_order()?;
    let acked = c.check_acked_present()?;
    if acked == 0 {
        return Err("no write was acknowledged".into());
    }
    let wall = std::time::Instant::now();
    linearizability::check_run(&c)?;
    if std::env::var("MAP_DEBUG").is_ok() {
        eprintln!("check took {:?}", wall.elapsed());
    }
    Ok(())
}

#[test]
fn ring_writers_with_crashes_under_loss() {
    run_seeds!("ring_writers_with_crashes_under_loss", 200, writers_with_crashes);
}
