//! Split brain. With a quorum, the minority side refuses writes while the
//! majority goes on, and the merge converges without losing an
//! acknowledged write. Without a quorum, both sides write and the merge
//! policy decides: majority side, latest version, or the application.

mod common;

use blaze_map::{CommandError, MergePolicy, WriteOptions};
use blaze_sim::{LinkConfig, run_seeds};
use blaze_wire::Duration;
use common::{Cluster, Rec, config, linearizability, merged, rng, value};

const KEYS: [&[u8]; 3] = [b"a", b"b", b"c"];

fn sides(seed: u64) -> (Vec<usize>, Vec<usize>) {
    if seed.is_multiple_of(2) {
        (vec![0, 1], vec![2, 3, 4])
    } else {
        (vec![3, 4], vec![0, 1, 2])
    }
}

fn quorum_scenario(seed: u64) -> Result<(), String> {
    let mut c = Cluster::new(seed, 5, config(3, MergePolicy::MajoritySide));
    c.world
        .set_default_link(LinkConfig::lossy_lan().with_loss(0.05));
    let mut r = rng(seed);
    let (minority, majority) = sides(seed);
    let split = 60 + r.below(60);
    let split_view = split + 24;
    let heal = split_view + 100 + r.below(60);
    let heal_view = heal + 24;
    let mut count = 0;
    let mut refused = 0;
    for t in 0..90u64 {
        let ms = t * 4;
        if ms == split - split % 4 {
            c.partition(&[&minority, &majority]);
        }
        if ms == split_view - split_view % 4 || ms == heal_view - heal_view % 4 {
            c.install_views();
        }
        if ms == heal - heal % 4 {
            c.heal();
        }
        let minority_view = ms >= split_view - split_view % 4 && ms < heal_view - heal_view % 4;
        for i in 0..5 {
            if r.below(3) != 0 {
                continue;
            }
            let key = KEYS[r.below(3) as usize];
            count += 1;
            let value = format!("{i}.{count}");
            if minority_view && minority.contains(&i) {
                let res = c.world.command(i, |n, now| {
                    n.r.put(now, "m", key, value.as_bytes(), WriteOptions::default())
                });
                if res != Some(Err(CommandError::QuorumLost)) {
                    return Err(format!("minority node {i} accepted a write: {res:?}"));
                }
                refused += 1;
                continue;
            }
            if r.below(2) == 0 {
                c.put(i, key, value.as_bytes(), 0);
            } else {
                let expected = c.version(i, key);
                c.cas(i, key, expected, value.as_bytes());
            }
        }
        c.run_for(Duration::from_millis(4));
    }
    c.run_for(Duration::from_millis(1500));
    // No write the minority side asked for once cut off completed: it could
    // never reach every member of its old view, nor a quorum in its new one.
    let from = blaze_wire::Instant::from_millis(split - split % 4);
    let to = blaze_wire::Instant::from_millis(heal_view - heal_view % 4);
    for (inv, out) in c.history.iter().zip(c.outcomes()) {
        if minority.contains(&inv.node)
            && inv.time >= from
            && inv.time < to
            && matches!(out, Some((_, Rec::WriteDone { .. })))
        {
            return Err(format!(
                "node {} completed a write asked at {} while cut off",
                inv.node, inv.time
            ));
        }
    }
    if refused == 0 {
        return Err("the minority never tried to write".into());
    }
    c.check_converged()?;
    c.check_total_order()?;
    c.check_acked_present()?;
    linearizability::check_run(&c)?;
    Ok(())
}

#[test]
fn quorum_minority_refuses_and_merge_converges() {
    run_seeds!(
        "quorum_minority_refuses_and_merge_converges",
        200,
        quorum_scenario
    );
}

/// Both sides write during the split (no quorum); returns the cluster
/// after the merge settled and the value each side held for its own key
/// when the partition healed.
fn split_brain(
    seed: u64,
    policy: MergePolicy,
    answer: Option<bool>,
) -> Result<(Cluster, Vec<u8>, Vec<u8>), String> {
    let mut c = Cluster::new(seed, 5, config(0, policy));
    for i in 0..5 {
        c.world.command(i, |n, _| n.answer = answer);
    }
    c.world
        .set_default_link(LinkConfig::lossy_lan().with_loss(0.02));
    let mut r = rng(seed);
    let (minority, majority) = sides(seed);
    for t in 0..10u64 {
        let i = (t % 5) as usize;
        c.put(i, b"a", format!("base{t}").as_bytes(), 0);
        c.run_for(Duration::from_millis(4));
    }
    c.partition(&[&minority, &majority]);
    c.run_for(Duration::from_millis(25));
    c.install_views();
    c.run_for(Duration::from_millis(10));
    for t in 0..20u64 {
        let i = minority[r.below(minority.len() as u64) as usize];
        c.put(i, b"min", format!("min{t}").as_bytes(), 0);
        let j = majority[r.below(majority.len() as u64) as usize];
        c.put(j, b"maj", format!("maj{t}").as_bytes(), 0);
        c.run_for(Duration::from_millis(5));
    }
    c.run_for(Duration::from_millis(300));
    // What each side holds when the partition heals.
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
    c.run_for(Duration::from_millis(25));
    c.install_views();
    // An unanswered question holds the merge for a request time-out.
    let wait = if answer.is_none() && policy == MergePolicy::Ask {
        2000
    } else {
        800
    };
    c.run_for(Duration::from_millis(wait));
    c.check_converged()?;
    c.check_total_order()?;
    let merged = c
        .world
        .events()
        .iter()
        .filter(|e| matches!(e.event, Rec::Merged { .. }))
        .count();
    if merged < 5 {
        return Err(format!("only {merged} merge reports"));
    }
    merged::losers_told(&c, &minority)?;
    Ok((c, last_min, last_maj))
}

#[test]
fn merge_majority_side_wins() {
    run_seeds!("merge_majority_side_wins", 200, |seed| {
        let (c, _, last_maj) = split_brain(seed, MergePolicy::MajoritySide, None)?;
        merged::majority_side_won(&c, &last_maj)
    });
}

#[cfg(feature = "merge-reapply")]
#[test]
fn merge_latest_version_keeps_both_sides() {
    run_seeds!("merge_latest_version_keeps_both_sides", 200, |seed| {
        let (c, last_min, last_maj) = split_brain(seed, MergePolicy::LatestVersion, None)?;
        merged::both_sides_kept(&c, &last_min, &last_maj)
    });
}

#[cfg(feature = "merge-reapply")]
#[test]
fn merge_asks_the_application() {
    run_seeds!("merge_asks_the_application", 200, |seed| {
        let (c, last_min, _) = split_brain(seed, MergePolicy::Ask, Some(true))?;
        merged::asked_and_taken(&c, &last_min)
    });
}

#[cfg(feature = "merge-reapply")]
#[test]
fn unanswered_merge_questions_keep_the_base() {
    run_seeds!("unanswered_merge_questions_keep_the_base", 50, |seed| {
        let (c, _, _) = split_brain(seed, MergePolicy::Ask, None)?;
        let asked = c
            .world
            .events()
            .iter()
            .any(|e| matches!(&e.event, Rec::Conflict { key, .. } if key == b"min"));
        if !asked {
            return Err("no merge question".into());
        }
        if value(&c, b"min").is_some() {
            return Err("an unanswered question took the losing side's value".into());
        }
        Ok(())
    });
}

/// Picks `k` of `from` at random (order kept).
fn pick(r: &mut blaze_wire::Rng, from: &[usize], k: usize) -> Vec<usize> {
    let mut left = from.to_vec();
    let mut out = Vec::new();
    while out.len() < k && !left.is_empty() {
        out.push(left.remove(r.below(left.len() as u64) as usize));
    }
    out.sort_unstable();
    out
}

/// Like [`split_brain`], but the healed partition comes back the way a
/// membership protocol may bring it: first one merged view holding part of
/// each side (often more of the minority than of the majority, led by
/// either side's coordinator), then the whole group (not always flagged as
/// a merge). Returns the cluster,
/// the two sides, and each side's last write when the partition healed.
/// Under [`MergePolicy::Ask`] every member answers each question by taking
/// the losing side's value.
///
/// With `lonely`, the first step may leave a merged view's coordinator the
/// only member of its losing side there (see
/// `merge_in_steps_with_a_lonely_losing_coordinator`); without, the first
/// step always holds another member of the coordinator's side. Under
/// [`MergePolicy::Ask`] every member answers each question by taking the
/// losing side's value.
fn stepwise_split_brain(seed: u64, policy: MergePolicy, lonely: bool) -> Result<Healed, String> {
    stepwise_split_brain_answering(seed, policy, lonely, Some(true))
}

/// [`stepwise_split_brain`] with every member answering each merge question
/// with `answer` (`true` takes the losing side's value).
fn stepwise_split_brain_answering(
    seed: u64,
    policy: MergePolicy,
    lonely: bool,
    answer: Option<bool>,
) -> Result<Healed, String> {
    let mut c = Cluster::new(seed, 5, config(0, policy));
    for i in 0..5 {
        c.world.command(i, |n, _| n.answer = answer);
    }
    c.world
        .set_default_link(LinkConfig::lossy_lan().with_loss(0.02));
    let mut r = rng(seed);
    let (minority, majority) = sides(seed);
    for t in 0..10u64 {
        c.put((t % 5) as usize, b"a", format!("base{t}").as_bytes(), 0);
        c.run_for(Duration::from_millis(4));
    }
    c.partition(&[&minority, &majority]);
    c.run_for(Duration::from_millis(25));
    c.install_views();
    c.run_for(Duration::from_millis(10));
    let min_last = seed % 4 < 2;
    for t in 0..20u64 {
        let i = minority[r.below(minority.len() as u64) as usize];
        c.put(i, b"min", format!("min{t}").as_bytes(), 0);
        let j = majority[r.below(majority.len() as u64) as usize];
        c.put(j, b"maj", format!("maj{t}").as_bytes(), 0);
        // A key both sides write: a conflict for the merge to settle
        // (either side may write it last, so either may hold the higher
        // version).
        if t % 4 == 1 + 2 * u64::from(min_last) {
            c.put(i, b"both", format!("min{t}").as_bytes(), 0);
        }
        if t % 4 == 3 - 2 * u64::from(min_last) {
            c.put(j, b"both", format!("maj{t}").as_bytes(), 0);
        }
        c.run_for(Duration::from_millis(5));
    }
    c.run_for(Duration::from_millis(300));
    let entry = |c: &Cluster, i: usize, key: &[u8]| {
        c.world
            .machine(i)
            .and_then(|m| m.r.get("m", key).map(|e| (e.value.to_vec(), e.version)))
            .unwrap_or_default()
    };
    let read = |c: &Cluster, i: usize, key: &[u8]| entry(c, i, key).0;
    let last_min = read(&c, minority[0], b"min");
    let last_maj = read(&c, majority[0], b"maj");
    let both_min = entry(&c, minority[0], b"both");
    let both_maj = entry(&c, majority[0], b"both");
    if last_min.is_empty() || last_maj.is_empty() {
        return Err("a side wrote nothing during the split".into());
    }
    c.heal();
    c.run_for(Duration::from_millis(25));
    // The first step: part of each side, never all of both; half the seeds
    // take every minority member and one majority member (the minority
    // outnumbers the majority inside that view).
    let (k_min, k_maj) = if r.below(2) == 0 {
        (minority.len(), 1)
    } else {
        let k_min = 1 + r.below(minority.len() as u64) as usize;
        let most = if k_min == minority.len() {
            majority.len() - 1
        } else {
            majority.len()
        };
        (k_min, 1 + r.below(most as u64) as usize)
    };
    let mut first = pick(&mut r, &minority, k_min);
    if !lonely && first.len() == 1 && minority.contains(&0) {
        // Node 0 leads every view it is in; alone, node 1 would lead this
        // one and node 0 the next, each the only member of its side.
        first = vec![0];
    }
    first.extend(pick(&mut r, &majority, k_maj));
    c.install_view(first);
    c.run_for(Duration::from_millis(20 + r.below(300)));
    // The whole group; a third of the seeds leave this step unflagged.
    let unflagged = r.below(3) == 0;
    c.install_view_as((0..5).collect(), unflagged.then_some(false));
    c.run_for(Duration::from_millis(1000));
    c.check_converged()?;
    c.check_total_order()?;
    Ok(Healed {
        c,
        minority,
        majority,
        last_min,
        last_maj,
        both_min,
        both_maj,
    })
}

/// A cluster after a merge in steps.
struct Healed {
    c: Cluster,
    minority: Vec<usize>,
    majority: Vec<usize>,
    /// Each side's last write when the partition healed.
    #[cfg_attr(
        not(feature = "merge-reapply"),
        allow(dead_code, reason = "read by the re-applying policies' tests")
    )]
    last_min: Vec<u8>,
    last_maj: Vec<u8>,
    /// Each side's value and version of the key both sides wrote.
    both_min: (Vec<u8>, u64),
    both_maj: (Vec<u8>, u64),
}

impl Healed {
    /// The shared key's value a `LatestVersion` merge keeps: the side's
    /// with the higher version (the minority's writes all came after its
    /// own fail-over), the majority's if it holds the same value.
    #[cfg(feature = "merge-reapply")]
    fn latest_both(&self) -> Option<Vec<u8>> {
        let (min, maj) = (&self.both_min, &self.both_maj);
        let pick = if min.0.is_empty() || (!maj.0.is_empty() && maj.1 >= min.1) {
            maj
        } else {
            min
        };
        (!pick.0.is_empty()).then(|| pick.0.clone())
    }

    fn check_both(&self, expected: Option<Vec<u8>>) -> Result<(), String> {
        let got = value(&self.c, b"both");
        if got != expected {
            return Err(format!(
                "the shared key holds {got:?}, expected {expected:?} (minority {:?}, majority {:?})",
                self.both_min, self.both_maj
            ));
        }
        Ok(())
    }
}

/// The merge reports of node `i`: (won, winner size, own size).
fn merge_reports(c: &Cluster, i: usize) -> Vec<(bool, u64, u64)> {
    c.world
        .events()
        .iter()
        .filter(|e| e.node == i)
        .filter_map(|e| match e.event {
            Rec::Merged {
                won,
                winner_size,
                own_size,
                ..
            } => Some((won, winner_size, own_size)),
            _ => None,
        })
        .collect()
}

#[test]
fn merge_in_steps_majority_side_wins() {
    run_seeds!("merge_in_steps_majority_side_wins", 200, |seed| {
        let h = stepwise_split_brain(seed, MergePolicy::MajoritySide, true)?;
        h.check_both((!h.both_maj.0.is_empty()).then(|| h.both_maj.0.clone()))?;
        let Healed {
            c,
            minority,
            majority,
            last_maj,
            ..
        } = h;
        if value(&c, b"min").is_some() {
            return Err("the minority's key survived a majority-wins merge".into());
        }
        if value(&c, b"maj") != Some(last_maj) {
            return Err(format!(
                "the majority's last write is missing: {:?}",
                value(&c, b"maj")
            ));
        }
        for &i in &minority {
            let reports = merge_reports(&c, i);
            if !reports.contains(&(false, 3, 2)) {
                return Err(format!(
                    "minority node {i} was not told it lost to the side of 3: {reports:?}"
                ));
            }
        }
        // A majority member that arrives in a step that adds nothing but
        // its own side's members (unflagged) has no merge to report.
        let mut told = 0;
        for &i in &majority {
            let reports = merge_reports(&c, i);
            if reports.iter().any(|(won, size, _)| !won || *size != 3) {
                return Err(format!("majority node {i} reports {reports:?}"));
            }
            told += reports.len();
        }
        if told == 0 {
            return Err("no majority member reported the merge".into());
        }
        Ok(())
    });
}

#[cfg(feature = "merge-reapply")]
#[test]
fn merge_in_steps_latest_version_keeps_both_sides() {
    run_seeds!(
        "merge_in_steps_latest_version_keeps_both_sides",
        200,
        |seed| {
            let h = stepwise_split_brain(seed, MergePolicy::LatestVersion, false)?;
            h.check_both(h.latest_both())?;
            let Healed {
                c,
                last_min,
                last_maj,
                ..
            } = h;
            if value(&c, b"min") != Some(last_min) {
                return Err(format!(
                    "the minority's last write is missing: {:?}",
                    value(&c, b"min")
                ));
            }
            if value(&c, b"maj") != Some(last_maj) {
                return Err("the majority's last write is missing".into());
            }
            Ok(())
        }
    );
}

/// With a re-applying policy, a merged view whose coordinator is the only
/// member of a losing side there keeps that side's writes: the coordinator
/// takes the winner's state over its own newer entries and sequences them
/// again (no other member can be scanned for them).
#[cfg(feature = "merge-reapply")]
#[test]
fn merge_in_steps_with_a_lonely_losing_coordinator() {
    run_seeds!(
        "merge_in_steps_with_a_lonely_losing_coordinator",
        200,
        |seed| {
            let h = stepwise_split_brain(seed, MergePolicy::LatestVersion, true)?;
            h.check_both(h.latest_both())?;
            let Healed { c, last_min, .. } = h;
            if value(&c, b"min") != Some(last_min) {
                return Err(format!(
                    "the minority's last write is missing: {:?}",
                    value(&c, b"min")
                ));
            }
            Ok(())
        }
    );
}

/// Whether the application was asked about the minority's last write.
#[cfg(feature = "merge-reapply")]
fn asked_about_last_min(c: &Cluster, last_min: &[u8]) -> Result<(), String> {
    let asked = c.world.events().iter().any(|e| {
        matches!(&e.event, Rec::Conflict { key, theirs, .. } if key == b"min" && theirs.as_slice() == last_min)
    });
    if asked {
        Ok(())
    } else {
        Err("no merge question about the minority's last write".into())
    }
}

/// Each node's value of `key` in map `m`.
#[cfg(feature = "merge-reapply")]
fn values_at_each<'c>(
    c: &'c Cluster,
    key: &'c [u8],
) -> impl Iterator<Item = (usize, Option<Vec<u8>>)> + 'c {
    (0..c.n).map(move |i| {
        let got = c
            .world
            .machine(i)
            .and_then(|m| m.r.get("m", key).map(|e| e.value.to_vec()));
        (i, got)
    })
}

/// Under `Ask`, a lonely losing coordinator asks the application about its
/// side's writes, as a merge scan would (old: the winner's value or none,
/// new: its own), and sequences again what the answer takes.
#[cfg(feature = "merge-reapply")]
#[test]
fn merge_in_steps_with_a_lonely_losing_coordinator_asks() {
    run_seeds!(
        "merge_in_steps_with_a_lonely_losing_coordinator_asks",
        200,
        |seed| {
            let h = stepwise_split_brain(seed, MergePolicy::Ask, true)?;
            // Every answer takes the losing side's value of the shared key.
            let (min, maj) = (&h.both_min.0, &h.both_maj.0);
            let both = if min.is_empty() { maj } else { min };
            h.check_both((!both.is_empty()).then(|| both.clone()))?;
            let Healed { c, last_min, .. } = h;
            asked_about_last_min(&c, &last_min)?;
            for (i, got) in values_at_each(&c, b"min") {
                if got.as_ref() != Some(&last_min) {
                    return Err(format!(
                        "member {i} holds {got:?} for the minority's key, the answer took {last_min:?}"
                    ));
                }
            }
            Ok(())
        }
    );
}

/// Under `Ask`, a lonely losing coordinator's writes the application refuses
/// are dropped: the winner's state stands at every member.
#[cfg(feature = "merge-reapply")]
#[test]
fn merge_in_steps_with_a_lonely_losing_coordinator_refused() {
    run_seeds!(
        "merge_in_steps_with_a_lonely_losing_coordinator_refused",
        100,
        |seed| {
            let h = stepwise_split_brain_answering(seed, MergePolicy::Ask, true, Some(false))?;
            h.check_both((!h.both_maj.0.is_empty()).then(|| h.both_maj.0.clone()))?;
            let Healed { c, last_min, .. } = h;
            asked_about_last_min(&c, &last_min)?;
            for (i, got) in values_at_each(&c, b"min") {
                if got.is_some() {
                    return Err(format!(
                        "member {i} holds {got:?} for the minority's key, the answer refused it"
                    ));
                }
            }
            Ok(())
        }
    );
}
