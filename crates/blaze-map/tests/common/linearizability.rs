//! A Wing–Gong linearizability checker for one key of the map, modelled as
//! a versioned register with compare-and-set.
//!
//! Each acknowledged operation has an invocation and a response position in
//! the recorded history (real-time order). An operation whose outcome is
//! unknown (time-out, abort, crash) takes effect only if its unique value
//! shows up in a surviving member's change stream, and then with that
//! version and no response bound. The search tries every order consistent
//! with real time (memoised on the set of linearised operations and the
//! register state) and reports whether one explains every result.

use std::collections::HashSet;

/// What one operation did, as the model sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Wrote value id `value`, producing `version`.
    Put { value: u32, version: u64 },
    /// Compare-and-set from `expected` succeeded, producing `version`.
    CasOk {
        expected: u64,
        value: u32,
        version: u64,
    },
    /// Compare-and-set failed: the version was `current`.
    CasFail { expected: u64, current: u64 },
    /// Read the register: value id (0 = absent) and version.
    Read { value: u32, version: u64 },
}

/// One operation with its real-time window. Positions are doubled: an
/// invocation made when the record held `n` events is at `2n`, and the
/// event at index `k` is at `2k + 1`, so an outcome recorded by the very
/// command that asked for it still follows its invocation.
#[derive(Debug, Clone, Copy)]
pub struct Op {
    pub inv: usize,
    /// `usize::MAX` when the response was never seen.
    pub resp: usize,
    pub kind: Kind,
    /// May have had no effect at all (outcome unknown, value seen only at
    /// members that later crashed).
    pub optional: bool,
}

type State = (u32, u64);

fn step(s: State, k: Kind) -> Option<State> {
    match k {
        Kind::Put { value, version } => (version > s.1).then_some((value, version)),
        Kind::CasOk {
            expected,
            value,
            version,
        } => (s.1 == expected && version > s.1).then_some((value, version)),
        Kind::CasFail { expected, current } => (s.1 == current && current != expected).then_some(s),
        Kind::Read { value, version } => (s == (value, version)).then_some(s),
    }
}

/// Whether `ops` (at most 128) are linearizable from the empty register.
pub fn check(ops: &[Op]) -> Result<(), String> {
    if ops.len() > 128 {
        return Err(format!(
            "history too long for the checker: {} operations",
            ops.len()
        ));
    }
    let full: u128 = if ops.len() == 128 {
        u128::MAX
    } else {
        (1u128 << ops.len()) - 1
    };
    let mut memo: HashSet<(u128, State)> = HashSet::new();
    let mut stack: Vec<(u128, State)> = vec![(0, (0, 0))];
    while let Some((done, state)) = stack.pop() {
        if done == full {
            return Ok(());
        }
        let min_resp = ops
            .iter()
            .enumerate()
            .filter(|(i, _)| done & (1 << i) == 0)
            .map(|(_, o)| o.resp)
            .min()
            .unwrap_or(usize::MAX);
        for (i, o) in ops.iter().enumerate() {
            if done & (1 << i) != 0 || o.inv >= min_resp {
                continue;
            }
            let d = done | (1 << i);
            if let Some(next) = step(state, o.kind)
                && memo.insert((d, next))
            {
                stack.push((d, next));
            }
            if o.optional && memo.insert((d, state)) {
                stack.push((d, state));
            }
        }
    }
    Err(format!(
        "no linearization of {} operations: {ops:?}",
        ops.len()
    ))
}

/// Self-test of the checker (called from a test).
pub fn self_test() {
    {
        fn sequential_history_passes_and_a_lost_write_fails() {
            let ok = [
                Op {
                    inv: 0,
                    resp: 1,
                    kind: Kind::Put {
                        value: 1,
                        version: 5,
                    },
                    optional: false,
                },
                Op {
                    inv: 2,
                    resp: 3,
                    kind: Kind::CasOk {
                        expected: 5,
                        value: 2,
                        version: 9,
                    },
                    optional: false,
                },
                Op {
                    inv: 4,
                    resp: 5,
                    kind: Kind::Read {
                        value: 2,
                        version: 9,
                    },
                    optional: false,
                },
            ];
            assert!(check(&ok).is_ok());
            let lost = [
                Op {
                    inv: 0,
                    resp: 1,
                    kind: Kind::Put {
                        value: 1,
                        version: 5,
                    },
                    optional: false,
                },
                Op {
                    inv: 2,
                    resp: 3,
                    kind: Kind::Read {
                        value: 0,
                        version: 0,
                    },
                    optional: false,
                },
            ];
            assert!(check(&lost).is_err());
        }
        sequential_history_passes_and_a_lost_write_fails();
    }
}

/// Builds the per-key histories of a run and checks each.
pub fn check_run(c: &super::Cluster) -> Result<usize, String> {
    use super::{OpCall, Rec};
    use std::collections::{BTreeMap, HashMap};
    let outcomes = c.outcomes();
    // (key, value) -> version, from live members (mandatory) and from
    // every member (optional).
    let mut live: HashMap<(Vec<u8>, Vec<u8>), u64> = HashMap::new();
    for stream in c.streams().values() {
        for (v, k, val) in stream {
            if let Some(val) = val {
                live.insert((k.clone(), val.clone()), *v);
            }
        }
    }
    let mut anywhere: HashMap<(Vec<u8>, Vec<u8>), u64> = HashMap::new();
    for e in c.world.events() {
        if let Rec::Changed {
            key,
            new: Some(val),
            version,
            ..
        } = &e.event
        {
            anywhere
                .entry((key.clone(), val.clone()))
                .or_insert(*version);
        }
    }
    let mut ids: HashMap<Vec<u8>, u32> = HashMap::new();
    let mut id = |v: &[u8]| {
        let n = ids.len() as u32 + 1;
        *ids.entry(v.to_vec()).or_insert(n)
    };
    let mut per_key: BTreeMap<Vec<u8>, Vec<Op>> = BTreeMap::new();
    for (inv, out) in c.history.iter().zip(&outcomes) {
        let (key, value, expected) = match &inv.op {
            OpCall::Put { key, value, .. } => (key, value, None),
            OpCall::Cas {
                key,
                expected,
                value,
            } => (key, value, Some(*expected)),
            OpCall::Lock { .. } => continue,
        };
        let vid = id(value);
        let effect = |version| match expected {
            None => Kind::Put {
                value: vid,
                version,
            },
            Some(expected) => Kind::CasOk {
                expected,
                value: vid,
                version,
            },
        };
        let op = match out {
            Some((pos, Rec::WriteDone { version, .. })) => Op {
                inv: 2 * inv.pos,
                resp: 2 * *pos + 1,
                kind: effect(*version),
                optional: false,
            },
            Some((
                pos,
                Rec::WriteFailed {
                    error: blaze_map::WriteError::VersionMismatch { current },
                    ..
                },
            )) => Op {
                inv: 2 * inv.pos,
                resp: 2 * *pos + 1,
                kind: Kind::CasFail {
                    expected: expected.unwrap_or(0),
                    current: *current,
                },
                optional: false,
            },
            Some((_, Rec::WriteFailed { error, .. })) if error.is_definite() => continue,
            _ => {
                let k = (key.clone(), value.clone());
                if let Some(v) = live.get(&k) {
                    Op {
                        inv: 2 * inv.pos,
                        resp: usize::MAX,
                        kind: effect(*v),
                        optional: false,
                    }
                } else if let Some(v) = anywhere.get(&k) {
                    Op {
                        inv: 2 * inv.pos,
                        resp: usize::MAX,
                        kind: effect(*v),
                        optional: true,
                    }
                } else {
                    continue;
                }
            }
        };
        per_key.entry(key.clone()).or_default().push(op);
    }
    let end = c.world.events().len();
    let reader = (0..c.n).find(|&i| c.world.machine(i).is_some());
    let mut checked = 0;
    for (key, mut ops) in per_key {
        if let Some(i) = reader {
            let (value, version) = c
                .world
                .machine(i)
                .and_then(|m| m.r.get("m", &key).map(|e| (id(e.value), e.version)))
                .unwrap_or((0, 0));
            ops.push(Op {
                inv: 2 * end,
                resp: 2 * end + 1,
                kind: Kind::Read { value, version },
                optional: false,
            });
        }
        checked += ops.len();
        check(&ops).map_err(|e| format!("key {key:?}: {e}"))?;
    }
    Ok(checked)
}
