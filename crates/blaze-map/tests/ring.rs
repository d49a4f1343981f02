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
const FORM: Duration = Duration::from_millis(400);

fn writers(c: &mut Cluster, r: &mut blaze_wire::Rng, count: &mut u32) {
    for i in 0..c.n {
        if r.below(3) != 0 {
            continue;
        }
        let key = KEYS[r.below(KEYS.len() as u64) as usize];
        *count += 1;
        let value = format!("{i}.{count}");
        if r.below(2) == 0 {
            c.put(i, key, value.as_bytes(), 0);
        } else {
            let expected = c.version(i, key);
            c.cas(i, key, expected, value.as_bytes());
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

/// 5 members write concurrently under 10 % loss; one or two of them
/// crash mid-stream (the lowest, which proposes expiries, on even seeds).
fn writers_with_crashes(seed: u64) -> Result<(), String> {
    let mut c = Cluster::new(seed, 5, ring_config(0, MergePolicy::MajoritySide, true));
    c.world
        .set_default_link(LinkConfig::lossy_lan().with_loss(0.10));
    c.run_for(FORM);
    let mut r = rng(seed);
    let first = 60 + r.below(80);
    let second = first + 80 + r.below(80);
    let two = seed % 3 != 0;
    let mut count = 0;
    for t in 0..100u64 {
        let ms = t * 4;
        if ms == first - first % 4 || (two && ms == second - second % 4) {
            let victim = if seed % 2 == 0 {
                (0..5).find(|&i| c.up(i)).unwrap_or(0)
            } else {
                (0..5).rev().find(|&i| c.up(i)).unwrap_or(0)
            };
            c.crash(victim);
        }
        writers(&mut c, &mut r, &mut count);
        c.run_for(Duration::from_millis(4));
    }
    c.run_for(Duration::from_millis(2000));
    debug_dump(&c);
    c.check_converged()?;
    c.check_total_order()?;
    let acked = c.check_acked_present()?;
    if acked == 0 {
        return Err("no write was acknowledged".into());
    }
    linearizability::check_run(&c)?;
    Ok(())
}

#[test]
fn ring_writers_with_crashes_under_loss() {
    run_seeds!("ring_writers_with_crashes_under_loss", 200, writers_with_crashes);
}
