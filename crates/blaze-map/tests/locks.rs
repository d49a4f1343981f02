//! Lock safety over whole runs: 5 members compete for two locks under 10 %
//! loss while the coordinator crashes, a member is paused past its lease,
//! and a crashed member comes back. Never two holders of a key at once in
//! virtual time, fencing tokens strictly increase, writes with a stale
//! token are refused, expired and orphaned leases are taken over.

mod common;

use blaze_map::{MergePolicy, WriteError};
use blaze_sim::{LinkConfig, run_seeds};
use blaze_wire::{Duration, Instant};
use common::{Cluster, Rec, config, locks, rng};

const KEYS: [&[u8]; 2] = [b"x", b"y"];

#[derive(Debug, Clone)]
enum Client {
    Idle,
    Waiting,
    Holding {
        key: Vec<u8>,
        fence: u64,
        release_at: Option<Instant>,
        wrote: bool,
    },
}

/// Odd seeds cut the coordinator and one other member off (quorum 3)
/// instead of crashing the coordinator; the cut heals later.
fn scenario(seed: u64) -> Result<(), String> {
    let split = seed % 2 == 1;
    let quorum = if split { 3 } else { 0 };
    let mut c = Cluster::new(seed, 5, config(quorum, MergePolicy::MajoritySide));
    c.world
        .set_default_link(LinkConfig::lossy_lan().with_loss(0.10));
    let mut r = rng(seed);
    let mut clients = vec![Client::Idle; 5];
    let mut seen = 0usize;
    let crash_at = 150 + r.below(100);
    let pause_at = 320 + r.below(60);
    let restart_at = 420 + r.below(60);
    let mut view_at: Option<u64> = None;
    let mut crashed: Option<usize> = None;
    let mut stale_refused = 0;
    for t in 0..300u64 {
        let ms = t * 2;
        // Outcomes since the last step.
        let events: Vec<_> = c.world.events()[seen..].to_vec();
        seen = c.world.events().len();
        for e in events {
            if e.incarnation != c.incarnation(e.node) {
                continue;
            }
            let cl = &mut clients[e.node];
            match e.event {
                Rec::LockAcquired { key, fence, .. } => {
                    let keep = r.below(7) == 0;
                    let release_at =
                        (!keep).then(|| c.now() + Duration::from_millis(1 + r.below(15)));
                    *cl = Client::Holding {
                        key,
                        fence,
                        release_at,
                        wrote: false,
                    };
                }
                Rec::LockFailed { .. } => *cl = Client::Idle,
                Rec::LockLost { .. } => *cl = Client::Idle,
                Rec::WriteFailed {
                    error: WriteError::StaleFence,
                    ..
                } => stale_refused += 1,
                _ => {}
            }
        }
        if ms == crash_at - crash_at % 2
            && let Some(coord) = c.oldest_up()
        {
            if split {
                let other = (coord + 1 + r.below(4) as usize) % 5;
                let rest: Vec<usize> = (0..5).filter(|&i| i != coord && i != other).collect();
                c.partition(&[&[coord, other], &rest]);
            } else {
                c.crash(coord);
                clients[coord] = Client::Idle;
            }
            crashed = Some(coord);
            view_at = Some(ms + 20 + r.below(20));
        }
        if ms == restart_at - restart_at % 2
            && let Some(i) = crashed.take()
        {
            if split {
                c.heal();
                view_at = Some(ms + 20);
            } else {
                c.restart(i);
                view_at = Some(ms + 5);
            }
        }
        if view_at.is_some_and(|at| ms >= at) {
            view_at = None;
            c.install_views();
        }
        if ms == pause_at - pause_at % 2 {
            // Pause a holder if there is one, past its lease.
            let victim = (0..5)
                .find(|&i| c.up(i) && matches!(clients[i], Client::Holding { .. }))
                .unwrap_or(4);
            c.pause(victim, Duration::from_millis(60));
        }
        #[allow(
            clippy::needless_range_loop,
            reason = "`c` is borrowed mutably in the body"
        )]
        for i in 0..5 {
            if !c.up(i) || c.world.is_paused(i) {
                continue;
            }
            match clients[i].clone() {
                Client::Idle if r.below(4) == 0 => {
                    let key = KEYS[r.below(2) as usize];
                    if c.try_lock(
                        i,
                        key,
                        Duration::from_millis(20),
                        Duration::from_millis(100),
                    )
                    .is_some()
                    {
                        clients[i] = Client::Waiting;
                    }
                }
                Client::Holding {
                    key,
                    fence,
                    release_at,
                    wrote,
                } => {
                    if !wrote {
                        let v = format!("{i}.{fence}");
                        c.put(i, &key, v.as_bytes(), fence);
                        clients[i] = Client::Holding {
                            key: key.clone(),
                            fence,
                            release_at,
                            wrote: true,
                        };
                    }
                    if release_at.is_some_and(|at| c.now() >= at) {
                        c.unlock(i, &key, fence);
                        clients[i] = Client::Idle;
                    }
                }
                _ => {}
            }
        }
        c.run_for(Duration::from_millis(2));
    }
    if view_at.is_some() {
        c.install_views();
    }
    c.run_for(Duration::from_millis(1000));
    let held = locks::check(&c)?;
    let fenced = locks::check_fenced_writes(&c)?;
    c.check_converged()?;
    c.check_total_order()?;
    if held < 5 || fenced == 0 {
        return Err(format!(
            "too little happened: {held} holdings, {fenced} fenced writes"
        ));
    }
    if std::env::var("MAP_DEBUG").is_ok() {
        eprintln!(
            "seed {seed}: {held} holdings, {fenced} fenced writes, {stale_refused} stale refused"
        );
    }
    // No lock survives its lease after the run (expired leases released).
    for i in 0..5 {
        if let Some(m) = c.world.machine(i) {
            for key in KEYS {
                if let Some(l) = m.r.lock_info("m", key) {
                    return Err(format!(
                        "node {i}: lock on {key:?} still held by {:?} after the run",
                        l.holder
                    ));
                }
            }
        }
    }
    Ok(())
}

#[test]
fn lock_safety_with_crashes_pauses_and_loss() {
    run_seeds!("lock_safety_with_crashes_pauses_and_loss", 200, scenario);
}
