//! The ring-ordered mode (`Ordering::Totem`): every node runs a Totem
//! member of `blaze-proto-totem` and a replica that applies what the ring
//! delivers. Concurrent writers under 10 % loss while members crash,
//! lock safety, joiners during traffic, quorum under a partition, and
//! merges per policy; the checkers are the coordinator mode's.
#![cfg(feature = "ring")]

mod common;

use blaze_map::{MergePolicy, WriteError};
use blaze_sim::{LinkConfig, run_seeds};
use blaze_wire::{Duration, Instant, Rng};
use common::{Cluster, Rec, linearizability, locks, merged, ring_config, rng};

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
        eprintln!(
            "inv {} n{} {:?} {:?}",
            inv.time, inv.node, inv.request, inv.op
        );
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

/// Runs until every live node is synced, in one ring (the same lowest
/// member) and at the same order (at most `limit`).
fn converge(c: &mut Cluster, limit: Duration) {
    let end = c.now() + limit;
    while c.now() < end {
        c.run_for(Duration::from_millis(20));
        let live: Vec<_> = (0..c.n).filter_map(|i| c.world.machine(i)).collect();
        let one = live.iter().all(|m| {
            m.r.is_synced()
                && m.r.coordinator() == live[0].r.coordinator()
                && m.r.applied() == live[0].r.applied()
        });
        if one {
            return;
        }
    }
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
    let two = !seed.is_multiple_of(3);
    let mut w = Writers::new(5);
    for t in 0..200u64 {
        let ms = t * 4;
        if ms == first - first % 4 || (two && ms == second - second % 4) {
            let victim = if seed.is_multiple_of(2) {
                (0..5).find(|&i| c.up(i)).unwrap_or(0)
            } else {
                (0..5).rev().find(|&i| c.up(i)).unwrap_or(0)
            };
            c.crash(victim);
        }
        w.step(&mut c, &mut r);
        c.run_for(Duration::from_millis(4));
    }
    // Under loss the ring may have been re-forming for most of the run:
    // write on until something completes (at most a second more).
    for _ in 0..250 {
        if c.world
            .events()
            .iter()
            .any(|e| matches!(e.event, Rec::WriteDone { .. }))
        {
            break;
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
    run_seeds!(
        "ring_writers_with_crashes_under_loss",
        200,
        writers_with_crashes
    );
}

/// Agreed delivery (`safe: false`): writes complete as soon as they are
/// ordered. Under 10 % loss with one member cut off for a while, every
/// node ends with the same map and the same order of changes. (An
/// acknowledged write is not guaranteed to survive here: its writer may
/// be cut off before the others received it.)
fn agreed_writers(seed: u64) -> Result<(), String> {
    let mut c = Cluster::new(seed, 5, ring_config(3, MergePolicy::MajoritySide, false));
    c.world
        .set_default_link(LinkConfig::lossy_lan().with_loss(0.10));
    settle(&mut c, FORM);
    let mut r = rng(seed);
    let cut = r.below(5) as usize;
    let cut_at = 20 + r.below(20);
    let heal_at = cut_at + 100 + r.below(50);
    let mut w = Writers::new(5);
    for t in 0..250u64 {
        if t == cut_at {
            let rest: Vec<usize> = (0..5).filter(|&i| i != cut).collect();
            c.partition(&[&[cut], &rest]);
        }
        if t == heal_at {
            c.heal();
        }
        w.step(&mut c, &mut r);
        c.run_for(Duration::from_millis(4));
    }
    c.run_for(Duration::from_millis(300));
    converge(&mut c, Duration::from_millis(3000));
    debug_dump(&c);
    c.check_converged()?;
    c.check_total_order()?;
    let done = c
        .world
        .events()
        .iter()
        .filter(|e| matches!(e.event, Rec::WriteDone { .. }))
        .count();
    if done == 0 {
        return Err("no write completed".into());
    }
    Ok(())
}

#[test]
fn ring_agreed_writers_converge() {
    run_seeds!("ring_agreed_writers_converge", 200, agreed_writers);
}

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

const LOCKS: [&[u8]; 2] = [b"x", b"y"];

/// One step of the lock clients: react to outcomes, ask, write with the
/// token, release.
fn lock_clients(c: &mut Cluster, r: &mut Rng, clients: &mut [Client], seen: &mut usize) {
    let events: Vec<_> = c.world.events()[*seen..].to_vec();
    *seen = c.world.events().len();
    for e in events {
        if e.incarnation != c.incarnation(e.node) {
            continue;
        }
        let cl = &mut clients[e.node];
        match e.event {
            Rec::LockAcquired { key, fence, .. } => {
                let keep = r.below(7) == 0;
                let release_at = (!keep).then(|| c.now() + Duration::from_millis(1 + r.below(80)));
                *cl = Client::Holding {
                    key,
                    fence,
                    release_at,
                    wrote: false,
                };
            }
            Rec::LockFailed { .. } | Rec::LockLost { .. } => *cl = Client::Idle,
            _ => {}
        }
    }
    for (i, cl) in clients.iter_mut().enumerate() {
        if !c.up(i) || c.world.is_paused(i) {
            continue;
        }
        match cl.clone() {
            Client::Idle if r.below(4) == 0 => {
                let key = LOCKS[r.below(2) as usize];
                // A grant takes a few token rotations under loss: leases
                // and waits are longer than the coordinator mode's.
                let lease = Duration::from_millis(300);
                if c.try_lock(i, key, lease, Duration::from_millis(600))
                    .is_some()
                {
                    *cl = Client::Waiting;
                }
            }
            Client::Holding {
                key,
                fence,
                release_at,
                wrote,
            } => {
                if !wrote {
                    c.put(i, &key, format!("{i}.{fence}").as_bytes(), fence);
                    *cl = Client::Holding {
                        key: key.clone(),
                        fence,
                        release_at,
                        wrote: true,
                    };
                }
                if release_at.is_some_and(|at| c.now() >= at) {
                    c.unlock(i, &key, fence);
                    *cl = Client::Idle;
                }
            }
            _ => {}
        }
    }
}

/// 5 members compete for two locks under 10 % loss (quorum 3): a member
/// crashes (even seeds) or two are cut off and come back (odd seeds), a
/// holder is paused past its lease, the crashed member restarts. Never two
/// holders at once, tokens increase, stale tokens are refused, and every
/// lease is expired by an ordered operation in the end.
fn lock_safety(seed: u64) -> Result<(), String> {
    let split = !seed.is_multiple_of(2);
    let mut c = Cluster::new(seed, 5, ring_config(3, MergePolicy::MajoritySide, true));
    c.world
        .set_default_link(LinkConfig::lossy_lan().with_loss(0.10));
    settle(&mut c, FORM);
    let mut r = rng(seed);
    let mut clients = vec![Client::Idle; 5];
    let mut seen = c.world.events().len();
    let fault_at = 100 + r.below(100);
    let pause_at = 250 + r.below(100);
    let back_at = 900 + r.below(200);
    let mut victim = None;
    for t in 0..1000u64 {
        let ms = t * 2;
        if ms == fault_at - fault_at % 2 {
            let v = r.below(5) as usize;
            if split {
                let other = (v + 1 + r.below(4) as usize) % 5;
                let rest: Vec<usize> = (0..5).filter(|&i| i != v && i != other).collect();
                c.partition(&[&[v, other], &rest]);
            } else {
                c.crash(v);
                clients[v] = Client::Idle;
            }
            victim = Some(v);
        }
        if ms == back_at - back_at % 2
            && let Some(v) = victim.take()
        {
            if split {
                c.heal();
            } else {
                c.restart(v);
                clients[v] = Client::Idle;
            }
        }
        if ms == pause_at - pause_at % 2 {
            let holder = (0..5)
                .find(|&i| c.up(i) && matches!(clients[i], Client::Holding { .. }))
                .unwrap_or(4);
            c.pause(holder, Duration::from_millis(400));
        }
        lock_clients(&mut c, &mut r, &mut clients, &mut seen);
        c.run_for(Duration::from_millis(2));
    }
    c.run_for(Duration::from_millis(3000));
    debug_dump(&c);
    let held = locks::check(&c)?;
    let fenced = locks::check_fenced_writes(&c)?;
    c.check_converged()?;
    c.check_total_order()?;
    if held < 5 || fenced == 0 {
        return Err(format!(
            "too little happened: {held} holdings, {fenced} fenced writes"
        ));
    }
    for i in 0..5 {
        if let Some(m) = c.world.machine(i) {
            for key in LOCKS {
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
fn ring_lock_safety_with_faults_and_loss() {
    run_seeds!("ring_lock_safety_with_faults_and_loss", 200, lock_safety);
}

/// Members join (fresh, and back after a crash) while writers keep going
/// under 5 % loss: every joiner takes the state as of a configuration
/// change, then the operations delivered after it, and ends with the same
/// map as everyone else.
fn joiners(seed: u64) -> Result<(), String> {
    let mut c = Cluster::new(seed, 5, ring_config(0, MergePolicy::MajoritySide, true));
    c.world
        .set_default_link(LinkConfig::lossy_lan().with_loss(0.05));
    c.crash(3);
    c.crash(4);
    c.crashes.clear();
    settle(&mut c, FORM);
    let mut r = rng(seed);
    let join3 = 40 + r.below(100);
    let join4 = join3 + 20 + r.below(300);
    let bounce = join4 + 300 + r.below(200);
    let mut w = Writers::new(5);
    for t in 0..300u64 {
        let ms = t * 4;
        if ms == join3 - join3 % 4 {
            c.restart(3);
        }
        if ms == join4 - join4 % 4 {
            c.restart(4);
        }
        if ms == bounce - bounce % 4 {
            let i = r.below(5) as usize;
            c.crash(i);
            c.restart(i);
        }
        w.step(&mut c, &mut r);
        c.run_for(Duration::from_millis(4));
    }
    settle(&mut c, Duration::from_millis(3000));
    c.run_for(Duration::from_millis(200));
    debug_dump(&c);
    c.check_converged()?;
    c.check_total_order()?;
    c.check_acked_present()?;
    linearizability::check_run(&c)?;
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
                Rec::Changed { version, .. } if next.is_some_and(|n| *version < n) => {
                    return Err(format!(
                        "node {i}: change {version} at or before its snapshot"
                    ));
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
fn ring_joiners_during_traffic_converge() {
    run_seeds!("ring_joiners_during_traffic_converge", 200, joiners);
}

/// Two sides of a partition: (minority, majority).
fn sides(seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut r = rng(seed ^ 0x51de);
    let a = r.below(5) as usize;
    let b = (a + 1 + r.below(4) as usize) % 5;
    let rest = (0..5).filter(|&i| i != a && i != b).collect();
    (vec![a, b], rest)
}

/// With quorum 3, a cut-off pair refuses writes (at the command or with
/// `QuorumLost`) and acknowledges nothing; after the heal every node
/// converges on the majority's history with every acknowledged write.
fn quorum_partition(seed: u64) -> Result<(), String> {
    let mut c = Cluster::new(seed, 5, ring_config(3, MergePolicy::MajoritySide, true));
    c.world
        .set_default_link(LinkConfig::lossy_lan().with_loss(0.05));
    settle(&mut c, FORM);
    let mut r = rng(seed);
    let (minority, majority) = sides(seed);
    let mut w = Writers::new(5);
    for _ in 0..25 {
        w.step(&mut c, &mut r);
        c.run_for(Duration::from_millis(4));
    }
    c.partition(&[&minority, &majority]);
    let split_at = c.now();
    for _ in 0..250 {
        w.step(&mut c, &mut r);
        c.run_for(Duration::from_millis(4));
    }
    // Long after the split, the minority refuses at once.
    for &i in &minority {
        let refused = c
            .world
            .command(i, |n, now| {
                n.r.put(now, "m", b"late", b"x", blaze_map::WriteOptions::default())
            })
            .is_some_and(|r| r.is_err());
        if !refused {
            return Err(format!(
                "minority node {i} accepted a write a second after the split"
            ));
        }
    }
    let heal_at = c.now();
    c.heal();
    for _ in 0..100 {
        w.step(&mut c, &mut r);
        c.run_for(Duration::from_millis(4));
    }
    settle(&mut c, Duration::from_millis(3000));
    c.run_for(Duration::from_millis(200));
    debug_dump(&c);
    // The minority acknowledged nothing it issued during the split.
    let outcomes = c.outcomes();
    for (inv, out) in c.history.iter().zip(&outcomes) {
        if minority.contains(&inv.node)
            && inv.time > split_at
            && inv.time < heal_at
            && let Some((pos, Rec::WriteDone { .. })) = out
            && c.world.events()[*pos].time < heal_at
        {
            // Writes delivered before the ring split may still complete.
            let applied_at = c.world.events()[*pos].time;
            if applied_at > split_at + Duration::from_millis(700) {
                return Err(format!(
                    "minority node {} acknowledged a write at {applied_at} during the split",
                    inv.node
                ));
            }
        }
    }
    let refused = c.world.events().iter().any(|e| {
        minority.contains(&e.node)
            && matches!(
                e.event,
                Rec::Quorum(false)
                    | Rec::WriteFailed {
                        error: WriteError::QuorumLost,
                        ..
                    }
            )
    });
    if !refused {
        return Err("the minority never noticed it lost the quorum".into());
    }
    c.check_converged()?;
    c.check_total_order()?;
    c.check_acked_present()?;
    linearizability::check_run(&c)?;
    let _ = majority;
    Ok(())
}

#[test]
fn ring_quorum_minority_refuses_and_merge_converges() {
    run_seeds!(
        "ring_quorum_minority_refuses_and_merge_converges",
        200,
        quorum_partition
    );
}

/// Both sides of a partition (no quorum) write; the ring merges them
/// after the heal and the policy decides. Returns the cluster and the
/// last value each side wrote to its own key.
fn split_brain(
    seed: u64,
    policy: MergePolicy,
    answer: Option<bool>,
) -> Result<(Cluster, Vec<u8>, Vec<u8>), String> {
    let mut c = Cluster::new(seed, 5, ring_config(0, policy, true));
    for i in 0..5 {
        c.world.command(i, |n, _| n.answer = answer);
    }
    c.world
        .set_default_link(LinkConfig::lossy_lan().with_loss(0.02));
    settle(&mut c, FORM);
    let mut r = rng(seed);
    let (minority, majority) = sides(seed);
    for t in 0..10u64 {
        c.put((t % 5) as usize, b"a", format!("base{t}").as_bytes(), 0);
        c.run_for(Duration::from_millis(4));
    }
    c.run_for(Duration::from_millis(100));
    c.partition(&[&minority, &majority]);
    settle(&mut c, Duration::from_millis(200));
    c.run_for(Duration::from_millis(1000));
    settle(&mut c, Duration::from_millis(2000));
    for t in 0..20u64 {
        let i = minority[r.below(minority.len() as u64) as usize];
        c.put(i, b"min", format!("min{t}").as_bytes(), 0);
        let j = majority[r.below(majority.len() as u64) as usize];
        c.put(j, b"maj", format!("maj{t}").as_bytes(), 0);
        c.run_for(Duration::from_millis(5));
    }
    c.run_for(Duration::from_millis(300));
    let read = |c: &Cluster, i: usize, key: &[u8]| {
        c.world
            .machine(i)
            .and_then(|m| m.r.get("m", key).map(|e| e.value.to_vec()))
            .unwrap_or_default()
    };
    let last_min = read(&c, minority[0], b"min");
    let last_maj = read(&c, majority[0], b"maj");
    if last_min.is_empty() || last_maj.is_empty() {
        return Err("a side wrote nothing during the split".into());
    }
    c.heal();
    c.run_for(Duration::from_millis(500));
    settle(&mut c, Duration::from_millis(4000));
    c.run_for(Duration::from_millis(100));
    debug_dump(&c);
    c.check_converged()?;
    c.check_total_order()?;
    merged::losers_told(&c, &minority)?;
    Ok((c, last_min, last_maj))
}

#[test]
fn ring_merge_majority_side_wins() {
    run_seeds!("ring_merge_majority_side_wins", 200, |seed| {
        let (c, _, last_maj) = split_brain(seed, MergePolicy::MajoritySide, None)?;
        merged::majority_side_won(&c, &last_maj)
    });
}

#[cfg(feature = "merge-reapply")]
#[test]
fn ring_merge_latest_version_keeps_both_sides() {
    run_seeds!("ring_merge_latest_version_keeps_both_sides", 200, |seed| {
        let (c, last_min, last_maj) = split_brain(seed, MergePolicy::LatestVersion, None)?;
        merged::both_sides_kept(&c, &last_min, &last_maj)
    });
}

#[cfg(feature = "merge-reapply")]
#[test]
fn ring_merge_asks_the_application() {
    run_seeds!("ring_merge_asks_the_application", 200, |seed| {
        let (c, last_min, _) = split_brain(seed, MergePolicy::Ask, Some(true))?;
        merged::asked_and_taken(&c, &last_min)
    });
}
