//! The lock-safety checker over a whole run: holding intervals in virtual
//! time never overlap per key, fencing tokens strictly increase, and
//! writes that carried a token were accepted only under the newest grant.

use super::{Cluster, OpCall, Rec};
use blaze_wire::Instant;
use std::collections::BTreeMap;

/// One holding: from the `LockAcquired` event to the first of: the lease
/// deadline, this member's `unlock`, its `LockLost`, its crash.
#[derive(Debug, Clone)]
pub struct Holding {
    pub node: usize,
    pub key: Vec<u8>,
    pub fence: u64,
    pub start: Instant,
    pub end: Instant,
}

pub fn holdings(c: &Cluster) -> Vec<Holding> {
    let events = c.world.events();
    let mut out = Vec::new();
    for (pos, e) in events.iter().enumerate() {
        let Rec::LockAcquired {
            key,
            fence,
            deadline,
            ..
        } = &e.event
        else {
            continue;
        };
        let mut end = *deadline;
        for (n, inc, k, f, t) in &c.unlocks {
            if *n == e.node && *inc == e.incarnation && k == key && f == fence {
                end = end.min(*t);
            }
        }
        for later in &events[pos..] {
            if later.node == e.node
                && later.incarnation == e.incarnation
                && matches!(&later.event, Rec::LockLost { key: k, fence: f, .. } if k == key && f == fence)
            {
                end = end.min(later.time);
                break;
            }
        }
        for (n, inc, t) in &c.crashes {
            if *n == e.node && *inc == e.incarnation && *t >= e.time {
                end = end.min(*t);
            }
        }
        out.push(Holding {
            node: e.node,
            key: key.clone(),
            fence: *fence,
            start: e.time,
            end,
        });
    }
    out
}

/// Never two holders at once, tokens increase with time.
pub fn check(c: &Cluster) -> Result<usize, String> {
    let mut by_key: BTreeMap<Vec<u8>, Vec<Holding>> = BTreeMap::new();
    for h in holdings(c) {
        by_key.entry(h.key.clone()).or_default().push(h);
    }
    let mut total = 0;
    for (key, mut hs) in by_key {
        hs.sort_by_key(|h| (h.start, h.fence));
        total += hs.len();
        for w in hs.windows(2) {
            let (a, b) = (&w[0], &w[1]);
            if a.end > b.start {
                return Err(format!("key {key:?}: two holders at once: {a:?} and {b:?}"));
            }
            if b.fence <= a.fence {
                return Err(format!(
                    "key {key:?}: fence did not increase: {a:?} then {b:?}"
                ));
            }
        }
    }
    Ok(total)
}

/// A write accepted with token `f` at version `v`: no grant `g` with
/// `f < g < v` (a newer grant makes the token stale).
pub fn check_fenced_writes(c: &Cluster) -> Result<usize, String> {
    let grants: Vec<(Vec<u8>, u64)> = c
        .world
        .events()
        .iter()
        .filter_map(|e| match &e.event {
            Rec::LockAcquired { key, fence, .. } => Some((key.clone(), *fence)),
            _ => None,
        })
        .collect();
    let mut n = 0;
    for (inv, out) in c.history.iter().zip(c.outcomes()) {
        let OpCall::Put { key, fence, .. } = &inv.op else {
            continue;
        };
        if *fence == 0 {
            continue;
        }
        let Some((_, Rec::WriteDone { version, .. })) = out else {
            continue;
        };
        n += 1;
        if let Some((_, g)) = grants
            .iter()
            .find(|(k, g)| k == key && *g > *fence && *g < version)
        {
            return Err(format!(
                "write to {key:?} with stale token {fence} accepted at {version} after grant {g}"
            ));
        }
    }
    Ok(n)
}
