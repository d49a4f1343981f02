//! The invariants the network-namespace cluster tests check, as small
//! functions over what the nodes reported. Each returns a description of
//! the first violation.

use std::collections::{BTreeMap, BTreeSet};

/// A message as delivered: (sender name, sequence number).
pub(crate) type Delivery = (String, u64);

/// Every message each sender published successfully (`sent`: sender name
/// to its sequence numbers, in publishing order) is delivered exactly once
/// and in its sender's order, and nothing else is delivered.
pub(crate) fn exactly_once_in_order(
    sent: &BTreeMap<String, Vec<u64>>,
    delivered: &[Delivery],
) -> Result<(), String> {
    let mut per_sender: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for (sender, seq) in delivered {
        per_sender.entry(sender).or_default().push(*seq);
    }
    for (sender, got) in &per_sender {
        if !sent.contains_key(*sender) {
            return Err(format!(
                "delivered {} messages of unknown sender {sender}",
                got.len()
            ));
        }
    }
    for (sender, want) in sent {
        let got = per_sender.get(sender.as_str()).cloned().unwrap_or_default();
        let unique: BTreeSet<u64> = got.iter().copied().collect();
        if unique.len() != got.len() {
            return Err(format!("duplicates from {sender}: {got:?}"));
        }
        if got != *want {
            let missing: Vec<u64> = want
                .iter()
                .filter(|s| !unique.contains(s))
                .copied()
                .collect();
            return Err(format!(
                "from {sender}: {} delivered of {} sent, missing {missing:?}, order {got:?}",
                got.len(),
                want.len()
            ));
        }
    }
    Ok(())
}

/// What survives a split of the sender's and receiver's configurations:
/// each sender's messages delivered at most once, in its order, and only
/// messages it sent.
pub(crate) fn at_most_once_in_order(
    sent: &BTreeMap<String, Vec<u64>>,
    delivered: &[Delivery],
) -> Result<(), String> {
    let mut last: BTreeMap<&str, usize> = BTreeMap::new();
    for (sender, seq) in delivered {
        let seqs = sent
            .get(sender)
            .ok_or_else(|| format!("delivered a message of unknown sender {sender}"))?;
        let at = seqs
            .iter()
            .position(|s| s == seq)
            .ok_or_else(|| format!("delivered {sender}:{seq}, which was not sent"))?;
        if let Some(&before) = last.get(sender.as_str())
            && at <= before
        {
            return Err(format!("{sender}:{seq} delivered again or out of order"));
        }
        last.insert(sender, at);
    }
    Ok(())
}

/// Total order where members may miss messages: any two messages that two
/// members both delivered, they delivered in the same order.
pub(crate) fn consistent_order(sequences: &[Vec<Delivery>]) -> Result<(), String> {
    for (i, a) in sequences.iter().enumerate() {
        for (j, b) in sequences.iter().enumerate().skip(i + 1) {
            let in_b: BTreeSet<&Delivery> = b.iter().collect();
            let in_a: BTreeSet<&Delivery> = a.iter().collect();
            let common_a: Vec<&Delivery> = a.iter().filter(|m| in_b.contains(m)).collect();
            let common_b: Vec<&Delivery> = b.iter().filter(|m| in_a.contains(m)).collect();
            if common_a != common_b {
                let at = common_a.iter().zip(&common_b).position(|(x, y)| x != y);
                return Err(format!(
                    "members {i} and {j} deliver their common messages in different orders \
                     (first difference at {at:?})"
                ));
            }
        }
    }
    Ok(())
}

/// Total order: every member delivered the same sequence.
pub(crate) fn same_sequence(sequences: &[Vec<Delivery>]) -> Result<(), String> {
    let Some(first) = sequences.first() else {
        return Ok(());
    };
    for (i, other) in sequences.iter().enumerate().skip(1) {
        if other != first {
            let at = first.iter().zip(other).position(|(a, b)| a != b);
            return Err(format!(
                "member {i} differs from member 0 (lengths {} and {}, first difference at {at:?})",
                other.len(),
                first.len()
            ));
        }
    }
    Ok(())
}

/// The first view that excludes `gone` comes at most `limit_us` after
/// `since_us`; `views` are (time µs, members) in order. Returns the delay.
pub(crate) fn removed_within(
    views: &[(u64, Vec<String>)],
    gone: &str,
    since_us: u64,
    limit_us: u64,
) -> Result<u64, String> {
    let first = views
        .iter()
        .find(|(t, members)| *t >= since_us && !members.iter().any(|m| m == gone))
        .ok_or_else(|| format!("no view without {gone} after {since_us}"))?;
    let delay = first.0 - since_us;
    if delay > limit_us {
        return Err(format!(
            "{gone} removed after {delay} µs, limit {limit_us} µs"
        ));
    }
    Ok(delay)
}

/// Every acknowledged write (key, value; keys written once) is what each
/// member holds at the end.
pub(crate) fn acked_writes_present(
    acked: &[(String, String)],
    finals: &[BTreeMap<String, Option<String>>],
) -> Result<(), String> {
    for (member, values) in finals.iter().enumerate() {
        for (key, value) in acked {
            let held = values.get(key).cloned().flatten();
            if held.as_deref() != Some(value.as_str()) {
                return Err(format!(
                    "member {member}: acknowledged {key} = {value} but holds {held:?}"
                ));
            }
        }
    }
    Ok(())
}

/// One holding of a lock: who, its fencing token, and from when to when
/// (µs of the shared monotonic clock).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hold {
    /// The holder.
    pub(crate) holder: String,
    /// The grant's fencing token.
    pub(crate) fence: u64,
    /// When the holder learned of the grant.
    pub(crate) start: u64,
    /// When it released the lock or its lease ran out, the earlier.
    pub(crate) end: u64,
}

/// No two holdings overlap in time, and fences strictly increase in the
/// order of the holdings.
pub(crate) fn lock_safety(holds: &[Hold]) -> Result<(), String> {
    let mut sorted = holds.to_vec();
    sorted.sort_by_key(|h| h.start);
    for pair in sorted.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        if b.start < a.end {
            return Err(format!("overlapping holders: {a:?} and {b:?}"));
        }
        if b.fence <= a.fence {
            return Err(format!("fences not increasing: {a:?} then {b:?}"));
        }
    }
    Ok(())
}

/// After a merge, every member holds exactly one of `sides` (key to
/// value, `None` for absent), the same one: returns its index.
pub(crate) fn merged_to_one_side(
    sides: &[BTreeMap<String, Option<String>>],
    finals: &[BTreeMap<String, Option<String>>],
) -> Result<usize, String> {
    let holds = |values: &BTreeMap<String, Option<String>>,
                 side: &BTreeMap<String, Option<String>>| {
        side.iter()
            .all(|(key, want)| values.get(key).cloned().flatten() == *want)
    };
    let first = finals.first().ok_or("no members")?;
    let winner = sides
        .iter()
        .position(|side| holds(first, side))
        .ok_or_else(|| format!("member 0 holds no side's map whole: {first:?}"))?;
    for (member, values) in finals.iter().enumerate() {
        if !holds(values, &sides[winner]) {
            return Err(format!(
                "member {member} holds {values:?}, member 0 holds side {winner}"
            ));
        }
    }
    Ok(winner)
}
