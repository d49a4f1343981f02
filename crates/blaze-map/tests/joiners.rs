//! Members join (fresh, and back after a crash) while writers keep going
//! under loss: every joiner receives a snapshot and then the stream, with
//! no gap and no duplicate, and ends with the same map as everyone else.

mod common;

use blaze_map::MergePolicy;
use blaze_sim::{LinkConfig, run_seeds};
use blaze_wire::Duration;
use common::{Cluster, Rec, config, linearizability, rng};

const KEYS: [&[u8]; 4] = [b"a", b"b", b"c", b"d"];

fn scenario(seed: u64) -> Result<(), String> {
    let mut c = Cluster::new(seed, 5, config(0, MergePolicy::MajoritySide));
    c.world
        .set_default_link(LinkConfig::lossy_lan().with_loss(0.05));
    // Members 3 and 4 are not there at the start.
    c.crash(3);
    c.crash(4);
    c.crashes.clear();
    c.install_views();
    let mut r = rng(seed);
    let join3 = 40 + r.below(60);
    let join4 = join3 + 20 + r.below(60);
    let bounce = join4 + 40 + r.below(60);
    let mut count = 0;
    let mut view_at: Option<u64> = None;
    let mut bounced: Option<usize> = None;
    for t in 0..80u64 {
        let ms = t * 4;
        if ms == join3 - join3 % 4 {
            c.restart(3);
            view_at = Some(ms + 2);
        }
        if ms == join4 - join4 % 4 {
            c.restart(4);
            view_at = Some(ms + 2);
        }
        let bounce = if seed.is_multiple_of(3) {
            join4 + 8
        } else {
            bounce
        };
        if ms == bounce - bounce % 4 {
            // A member crashes and comes back as a new member; every third
            // seed it is the coordinator, soon after the joins.
            let i = if seed.is_multiple_of(3) {
                c.oldest_up().unwrap_or(0)
            } else {
                1 + r.below(4) as usize
            };
            c.crash(i);
            bounced = Some(i);
            view_at = Some(ms + 20);
        }
        if view_at.is_some_and(|at| ms >= at) {
            view_at = None;
            if let Some(i) = bounced.take() {
                c.install_views();
                c.restart(i);
            }
            c.install_views();
        }
        for i in 0..5 {
            if r.below(3) != 0 {
                continue;
            }
            let key = KEYS[r.below(KEYS.len() as u64) as usize];
            count += 1;
            let value = format!("{i}.{count}");
            if r.below(2) == 0 {
                c.put(i, key, value.as_bytes(), 0);
            } else {
                let expected = c.version(i, key);
                c.cas(i, key, expected, value.as_bytes());
            }
        }
        c.run_for(Duration::from_millis(4));
    }
    if view_at.is_some() {
        c.install_views();
    }
    c.run_for(Duration::from_millis(1500));
    c.check_converged()?;
    c.check_total_order()?;
    c.check_acked_present()?;
    linearizability::check_run(&c)?;
    // Every joiner installed a snapshot and then applied the stream from
    // right after it, without a gap or a duplicate.
    let mut installs = 0;
    for i in 0..5 {
        let inc = c.incarnation(i);
        let mut next: Option<u64> = None;
        for e in c
            .world
            .events()
            .iter()
            .filter(|e| e.node == i && e.incarnation == inc)
        {
            match &e.event {
                Rec::Installed(as_of) => {
                    installs += 1;
                    next = Some(as_of + 1);
                }
                Rec::Changed { version, .. } => {
                    if let Some(n) = next
                        && *version < n
                    {
                        return Err(format!(
                            "node {i}: change {version} at or before its snapshot"
                        ));
                    }
                }
                _ => {}
            }
        }
    }
    if installs < 2 {
        return Err(format!("only {installs} snapshots installed"));
    }
    Ok(())
}

#[test]
fn joiners_during_traffic_converge() {
    run_seeds!("joiners_during_traffic_converge", 200, scenario);
}
