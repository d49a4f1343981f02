//! Concurrent writers on 5 members under 10 % loss while coordinators
//! crash mid-stream: survivors converge, agree on the order, keep every
//! acknowledged write, and the acknowledged history is linearizable.

mod common;

use blaze_map::MergePolicy;
use blaze_sim::{LinkConfig, run_seeds};
use blaze_wire::Duration;
use common::{Cluster, config, linearizability, rng};

const KEYS: [&[u8]; 3] = [b"a", b"b", b"c"];

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

fn scenario(seed: u64) -> Result<(), String> {
    let mut c = Cluster::new(seed, 5, config(0, MergePolicy::MajoritySide));
    c.world
        .set_default_link(LinkConfig::lossy_lan().with_loss(0.10));
    let mut r = rng(seed);
    let first = 60 + r.below(80);
    let second = first + 80 + r.below(80);
    let mut count = 0;
    let mut pending_view: Option<u64> = None;
    for t in 0..100u64 {
        let ms = t * 4;
        if (ms == first - first % 4 || ms == second - second % 4)
            && let Some(coord) = c.oldest_up()
        {
            c.crash(coord);
            pending_view = Some(ms + 20 + r.below(20));
        }
        if pending_view.is_some_and(|at| ms >= at) {
            pending_view = None;
            c.install_views();
        }
        writers(&mut c, &mut r, &mut count);
        c.run_for(Duration::from_millis(4));
    }
    if pending_view.is_some() {
        c.install_views();
    }
    c.run_for(Duration::from_millis(1500));
    if std::env::var("MAP_DEBUG").is_ok() {
        for e in c.world.events() {
            match &e.event {
                common::Rec::Changed {
                    key,
                    new,
                    version,
                    cause,
                    ..
                } => eprintln!(
                    "{} n{}/{} v{version} {:?}={:?} by {cause:?}",
                    e.time,
                    e.node,
                    e.incarnation,
                    String::from_utf8_lossy(key),
                    new.as_ref().map(|v| String::from_utf8_lossy(v).to_string())
                ),
                other => eprintln!("{} n{}/{} {other:?}", e.time, e.node, e.incarnation),
            }
        }
        for inv in &c.history {
            eprintln!(
                "inv {} n{} {:?} {:?}",
                inv.time, inv.node, inv.request, inv.op
            );
        }
        eprintln!("crashes {:?}", c.crashes);
    }
    c.check_converged()?;
    c.check_total_order()?;
    let acked = c.check_acked_present()?;
    if acked == 0 {
        return Err("no write was acknowledged".into());
    }
    let checked = linearizability::check_run(&c)?;
    if std::env::var("MAP_DEBUG").is_ok() {
        let s = c
            .world
            .machine(c.oldest_up().unwrap_or(0))
            .map(|m| *m.r.stats());
        eprintln!(
            "seed {seed}: {} invocations, {acked} acked, {checked} ops checked, {} crashes, stats {s:?}",
            c.history.len(),
            c.crashes.len()
        );
    }
    Ok(())
}

/// The membership flaps: every 30 to 60 ms it wrongly suspects a live
/// member (often the coordinator) and takes it back in the next view.
fn flapping(seed: u64) -> Result<(), String> {
    let mut c = Cluster::new(seed, 5, config(0, MergePolicy::MajoritySide));
    c.world
        .set_default_link(LinkConfig::lossy_lan().with_loss(0.05));
    let mut r = rng(seed);
    let mut count = 0;
    let mut next = 30 + r.below(30);
    let mut suspected = false;
    for t in 0..100u64 {
        let ms = t * 4;
        if ms >= next {
            if suspected {
                c.install_views();
            } else {
                let victim = if r.below(2) == 0 {
                    c.oldest_up().unwrap_or(0)
                } else {
                    r.below(5) as usize
                };
                c.install_views_excluding(&[victim]);
            }
            suspected = !suspected;
            next = ms + 30 + r.below(30);
        }
        writers(&mut c, &mut r, &mut count);
        c.run_for(Duration::from_millis(4));
    }
    if suspected {
        c.install_views();
    }
    c.run_for(Duration::from_millis(800));
    if std::env::var("MAP_DEBUG").is_ok() {
        for e in c.world.events() {
            if !matches!(
                e.event,
                common::Rec::Changed { .. }
                    | common::Rec::WriteDone { .. }
                    | common::Rec::WriteFailed { .. }
            ) {
                eprintln!("{} n{} {:?}", e.time, e.node, e.event);
            }
        }
        for i in 0..5 {
            if let Some(m) = c.world.machine(i) {
                eprintln!(
                    "node {i}: seq {} synced {} applied {} committed {} stats {:?}",
                    m.r.is_sequencing(),
                    m.r.is_synced(),
                    m.r.applied(),
                    m.r.committed(),
                    m.r.stats()
                );
            }
        }
    }
    c.check_converged()?;
    c.check_total_order()?;
    c.check_acked_present()?;
    linearizability::check_run(&c)?;
    Ok(())
}

#[test]
fn flapping_membership() {
    run_seeds!("flapping_membership", 40, flapping);
}

#[test]
fn checker_self_test() {
    linearizability::self_test();
}

#[test]
fn coordinator_crashes_under_loss() {
    run_seeds!("coordinator_crashes_under_loss", 200, scenario);
}
