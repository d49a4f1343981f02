//! Real clusters across network namespaces: five hosts joined by a bridge
//! (multicast snooping off), a `blaze node --control stdio` process in each,
//! real sockets and real multicast, faults injected with nftables. The
//! nodes report what they see as JSON lines; the checks are invariants
//! (exactly once, order, agreement, removal time, acknowledged writes,
//! lock safety, merge policy), not just liveness.
//!
//! Needs root: without it each test prints that it was skipped, unless
//! `BLAZE_REQUIRE_NETNS=1` (CI), which makes it fail. The tests run one at
//! a time (a lock), each bounded by the time-outs of its waits.
#![cfg(all(feature = "cli", target_os = "linux"))]

#[path = "common/cluster.rs"]
mod cluster;
#[path = "common/invariants.rs"]
mod invariants;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use blaze_netns::require_or_skip;
use cluster::{Cluster, Discovery, FAILURE_TIMEOUT_MS, last_view};
use invariants::{Delivery, Hold};
use serde_json::Value;

const HOSTS: usize = 5;
/// Messages each node publishes on the reliable topic, and on each
/// totally ordered one.
const RELIABLE: u64 = 100;
const AGREED: u64 = 40;

/// One cluster at a time: two cores, five nodes each.
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

fn all() -> Vec<usize> {
    (0..HOSTS).collect()
}

fn of<'a>(events: &'a [Value], ev: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    events.iter().filter(move |e| e["ev"] == ev)
}

/// The messages of `topic` delivered, in order, from payloads
/// `NAME:TOPIC:SEQ`.
fn deliveries(events: &[Value], topic: &str) -> Vec<Delivery> {
    of(events, "msg")
        .filter(|e| e["topic"] == topic)
        .map(|e| {
            let payload = e["payload"].as_str().unwrap();
            let mut parts = payload.split(':');
            let name = parts.next().unwrap().to_owned();
            assert_eq!(parts.next(), Some(topic), "{payload}");
            (name, parts.next().unwrap().parse().unwrap())
        })
        .collect()
}

/// What each node published successfully on `topic`.
fn published(cluster: &Cluster, topic: &str) -> BTreeMap<String, Vec<u64>> {
    cluster
        .nodes
        .iter()
        .flatten()
        .map(|node| {
            let events = node.log.snapshot();
            let done = of(&events, "published")
                .find(|e| e["topic"] == topic)
                .expect("published");
            let total = done["sent"].as_u64().unwrap() + done["failed"].as_u64().unwrap();
            let failed: Vec<u64> = of(&events, "publish_failed")
                .filter(|e| e["topic"] == topic)
                .map(|e| e["seq"].as_u64().unwrap())
                .collect();
            let seqs = (0..total).filter(|s| !failed.contains(s)).collect();
            (node.name.clone(), seqs)
        })
        .collect()
}

/// The totally ordered topics: Totem's agreed and safe delivery.
const ORDERED: [&str; 2] = ["tot", "saf"];

/// Waits until the Totem ring holds every node: each round, every node
/// publishes one message on the agreed topic `tw`, until every node has
/// delivered such a message from each of them. The membership view forms
/// before the ring does, and under extended virtual synchrony a message
/// sent while its sender's ring is still a smaller one is delivered only in
/// that ring (to its sender alone, say), which is correct but not what the
/// exactly-once check below expects.
fn ring_barrier(c: &mut Cluster) {
    let names: BTreeSet<String> = c.nodes.iter().flatten().map(|n| n.name.clone()).collect();
    for _ in 0..20 {
        for h in all() {
            c.send(h, "publish tw 1 0");
        }
        let whole = all().into_iter().all(|h| {
            c.node(h)
                .log
                .wait(c.limit(Duration::from_secs(2)), |e| {
                    deliveries(e, "tw")
                        .into_iter()
                        .map(|(name, _)| name)
                        .collect::<BTreeSet<_>>()
                        == names
                })
                .is_some()
        });
        if whole {
            return;
        }
    }
    panic!("the total-order ring never held every node");
}

/// The regular ring configurations a node reported, as (time, size).
fn regular_rings(events: &[Value]) -> Vec<(u64, usize)> {
    of(events, "ring")
        .filter(|e| e["kind"] == "regular")
        .map(|e| {
            let members = e["members"].as_array().map_or(0, Vec::len);
            (e["t"].as_u64().unwrap_or(0), members)
        })
        .collect()
}

/// How much of total order a scenario demands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ordered {
    /// Every agreed and safe message reaches every member, and all deliver
    /// one sequence.
    Everything,
    /// What total order guarantees even when the ring splits under loss:
    /// no duplicates, each sender's messages in order, and no two members
    /// deliver two messages in different orders.
    Consistent,
}

/// Reliable multicast and total order (agreed and safe) with 5 % loss on
/// every host: every node publishes on each topic at once. Reliable
/// messages must reach every other member exactly once and in order;
/// `ordered_check` says what the agreed and safe topics must show.
fn reliable_and_agreed(prefix: &str, discovery: Discovery, ordered_check: Ordered) {
    let _serial = serial();
    let mut c = Cluster::start(prefix, HOSTS, discovery, 5);
    ring_barrier(&mut c);
    for h in all() {
        c.send(h, &format!("publish rel {RELIABLE} 200"));
        for topic in ORDERED {
            c.send(h, &format!("publish {topic} {AGREED} 80"));
        }
    }
    for h in all() {
        c.node(h).log.wait(c.limit(Duration::from_secs(60)), |e| {
            of(e, "published").filter(|e| e["topic"] != "tw").count() >= 3
        });
    }
    let rel = published(&c, "rel");
    let ordered: Vec<BTreeMap<String, Vec<u64>>> =
        ORDERED.iter().map(|topic| published(&c, topic)).collect();
    for (name, seqs) in rel.iter().chain(ordered.iter().flatten()) {
        assert!(!seqs.is_empty(), "{name} published nothing");
    }
    let total = |sent: &BTreeMap<String, Vec<u64>>| sent.values().map(Vec::len).sum::<usize>();
    let rel_total = total(&rel);
    let ordered_totals: Vec<usize> = ordered.iter().map(total).collect();
    let mut complete = true;
    for h in all() {
        let node = c.node(h);
        let own = rel[&node.name].len();
        // Reliable messages come from the others; totally ordered ones
        // from all, the sender included.
        complete &= node
            .log
            .wait(c.limit(Duration::from_secs(20)), |e| {
                deliveries(e, "rel").len() >= rel_total - own
                    && ORDERED
                        .iter()
                        .zip(&ordered_totals)
                        .all(|(topic, &n)| deliveries(e, topic).len() >= n)
            })
            .is_some();
    }
    // Late duplicates would show up now.
    std::thread::sleep(Duration::from_millis(500));
    for h in all() {
        let rings = regular_rings(&c.node(h).log.snapshot());
        println!("{prefix}: host {h} installed rings of sizes (at µs) {rings:?}");
    }
    let mut sequences = vec![Vec::new(); ORDERED.len()];
    for h in all() {
        let node = c.node(h);
        let events = node.log.snapshot();
        let mut others = rel.clone();
        others.remove(&node.name);
        invariants::exactly_once_in_order(&others, &deliveries(&events, "rel"))
            .unwrap_or_else(|e| panic!("reliable, host {h}: {e}"));
        for (i, topic) in ORDERED.iter().enumerate() {
            let got = deliveries(&events, topic);
            match ordered_check {
                Ordered::Everything => invariants::exactly_once_in_order(&ordered[i], &got),
                Ordered::Consistent => invariants::at_most_once_in_order(&ordered[i], &got),
            }
            .unwrap_or_else(|e| panic!("{topic}, host {h}: {e}"));
            sequences[i].push(got);
        }
    }
    for (topic, sequences) in ORDERED.iter().zip(&sequences) {
        match ordered_check {
            Ordered::Everything => invariants::same_sequence(sequences),
            Ordered::Consistent => invariants::consistent_order(sequences),
        }
        .unwrap_or_else(|e| panic!("total order of {topic}: {e}"));
    }
    let dropped: Vec<u64> = all()
        .into_iter()
        .map(|h| c.net.dropped(h).expect("counter"))
        .collect();
    assert!(
        dropped.iter().all(|&d| d > 0),
        "the loss rules dropped nothing: {dropped:?}"
    );
    let delivered: Vec<Vec<usize>> = sequences
        .iter()
        .map(|per_member| per_member.iter().map(Vec::len).collect())
        .collect();
    println!(
        "{prefix}: {rel_total} reliable messages delivered once and in order at every member; \
         agreed and safe: {} and {} sent, delivered per member {delivered:?} ({}), in one \
         consistent order; datagrams dropped per host {dropped:?}",
        ordered_totals[0],
        ordered_totals[1],
        if complete {
            "all of them"
        } else {
            "INCOMPLETE: the ring split"
        },
    );
}

#[test]
fn reliable_and_total_order_under_loss_with_multicast_discovery() {
    if require_or_skip("netns reliable, multicast").is_none() {
        return;
    }
    reliable_and_agreed("bzrelm", Discovery::Multicast, Ordered::Consistent);
}

#[test]
fn reliable_and_total_order_under_loss_with_unicast_seeds() {
    if require_or_skip("netns reliable, seeds").is_none() {
        return;
    }
    reliable_and_agreed("bzrels", Discovery::Seeds, Ordered::Consistent);
}

/// Every agreed and safe message reaches every member under 5 % loss. The
/// ring used to split now and then here (a node process of the debug
/// build stalled past Totem's 200 ms LAN token timeout on a loaded
/// machine, while the view, with its one-second failure timeout, stayed
/// whole), and under extended virtual synchrony the messages sent while
/// split reach only part of the group; the ring timers now follow the
/// view's failure timeout. The nodes report every ring configuration
/// (`ring` events), printed per host above the checks.
#[test]
fn agreed_and_safe_reach_every_member_under_loss() {
    if require_or_skip("netns total order, everything").is_none() {
        return;
    }
    reliable_and_agreed("bzallm", Discovery::Multicast, Ordered::Everything);
    reliable_and_agreed("bzalls", Discovery::Seeds, Ordered::Everything);
}

/// The views of `events` as (time, members).
fn views(events: &[Value]) -> Vec<(u64, Vec<String>)> {
    (0..events.len())
        .filter(|&i| events[i]["ev"] == "view")
        .map(|i| {
            (
                events[i]["t"].as_u64().unwrap(),
                last_view(&events[..=i]).unwrap(),
            )
        })
        .collect()
}

#[test]
fn a_killed_member_is_removed_in_time_and_a_restarted_one_rejoins() {
    if require_or_skip("netns kill").is_none() {
        return;
    }
    let _serial = serial();
    let mut c = Cluster::start("bzkill", HOSTS, Discovery::Multicast, 0);
    // A time stamp from the nodes' clock taken before the kill.
    let before = c.ask(0, "members", "members")["t"].as_u64().unwrap();
    let victim = c.kill(4);
    let survivors = [0, 1, 2, 3];
    let limit_us = (FAILURE_TIMEOUT_MS + 1_000) * 1_000;
    let mut delays = Vec::new();
    for h in survivors {
        let log = &c.node(h).log;
        log.wait(c.limit(Duration::from_secs(10)), |e| {
            last_view(e).is_some_and(|v| !v.contains(&victim.id))
        });
        let delay =
            invariants::removed_within(&views(&log.snapshot()), &victim.id, before, limit_us)
                .unwrap_or_else(|e| panic!("host {h}: {e}"));
        delays.push(delay / 1_000);
    }
    println!("removed after (ms): {delays:?} (failure timeout {FAILURE_TIMEOUT_MS} ms)");
    c.spawn(4);
    assert_ne!(c.node(4).id, victim.id);
    c.wait_views(&all(), &c.ids(), Duration::from_secs(20));
}

#[test]
fn map_keeps_acknowledged_writes_and_locks_stay_safe_when_the_coordinator_dies() {
    if require_or_skip("netns coordinator").is_none() {
        return;
    }
    let _serial = serial();
    let mut c = Cluster::start("bzmap", HOSTS, Discovery::Multicast, 0);
    let coordinator = c.ask(0, "coordinator", "coordinator")["id"]
        .as_str()
        .expect("a coordinator")
        .to_owned();
    let coord_host = all()
        .into_iter()
        .find(|&h| c.node(h).id == coordinator)
        .expect("the coordinator is a node");
    let others: Vec<usize> = all().into_iter().filter(|&h| h != coord_host).collect();
    let (writers, lockers) = (&others[..2], &others[2..]);
    for (i, &w) in writers.iter().enumerate() {
        c.send(w, &format!("puts m w{i}- 20 50"));
    }
    for &l in lockers {
        c.send(l, "locks locks L 10 800 40");
    }
    // Kill it mid-stream.
    c.node(writers[0])
        .log
        .wait(c.limit(Duration::from_secs(30)), |e| {
            of(e, "put_ack").count() >= 5
        });
    c.kill(coord_host);
    c.wait_count(writers, "puts_done", 1, Duration::from_secs(90));
    c.wait_count(lockers, "locks_done", 1, Duration::from_secs(120));
    c.wait_views(&others, &c.ids(), Duration::from_secs(20));

    let mut acked = Vec::new();
    let mut failed = 0;
    for &w in writers {
        let events = c.node(w).log.snapshot();
        for e in of(&events, "put_ack") {
            acked.push((
                e["key"].as_str().unwrap().to_owned(),
                e["value"].as_str().unwrap().to_owned(),
            ));
        }
        failed += of(&events, "put_failed").count();
    }
    assert!(
        acked.len() >= 10,
        "only {} writes acknowledged",
        acked.len()
    );
    let keys: Vec<String> = acked.iter().map(|(k, _)| k.clone()).collect();
    let finals = c.values(&others, "m", &keys);
    invariants::acked_writes_present(&acked, &finals).unwrap_or_else(|e| panic!("map: {e}"));

    let mut holds = Vec::new();
    for &l in lockers {
        let node = c.node(l);
        for e in of(&node.log.snapshot(), "lock_held") {
            holds.push(Hold {
                holder: node.name.clone(),
                fence: e["fence"].as_u64().unwrap(),
                start: e["t_grant"].as_u64().unwrap(),
                end: e["t_end"].as_u64().unwrap(),
            });
        }
    }
    assert!(holds.len() >= 4, "only {} lock holdings", holds.len());
    invariants::lock_safety(&holds).unwrap_or_else(|e| panic!("locks: {e}"));
    println!(
        "coordinator killed: {} acknowledged writes kept at {} survivors ({failed} failed), \
         {} lock holdings without overlap, fences increasing",
        acked.len(),
        others.len(),
        holds.len()
    );
}

/// A partition of three against two members, both sides writing (no
/// quorum is configured), then healed: one view of all, and every member
/// holds one side's map whole. With `majority_must_win`, that side must be
/// the majority (the policy of blaze-std, `MergePolicy::MajoritySide`).
/// `coordinator_in_majority` puts the group's coordinator, which leads the
/// merge, on the majority side or on the minority side.
fn partition_and_merge(prefix: &str, coordinator_in_majority: bool, majority_must_win: bool) {
    let _serial = serial();
    let mut c = Cluster::start(prefix, HOSTS, Discovery::Multicast, 0);
    assert_eq!(c.ask(0, "put m base x", "put_ack")["key"], "base");
    let coordinator = c.ask(0, "coordinator", "coordinator")["id"]
        .as_str()
        .expect("a coordinator")
        .to_owned();
    let (mut with, without): (Vec<usize>, Vec<usize>) = all()
        .into_iter()
        .partition(|&h| c.node(h).id == coordinator);
    let (major, minor) = if coordinator_in_majority {
        with.extend_from_slice(&without[..2]);
        (with, without[2..].to_vec())
    } else {
        with.extend_from_slice(&without[..1]);
        (without[1..].to_vec(), with)
    };
    assert_eq!((major.len(), minor.len()), (3, 2));
    c.net.partition(&[&major, &minor]).expect("partition");
    let ids = |hosts: &[usize]| {
        hosts
            .iter()
            .map(|&h| c.node(h).id.clone())
            .collect::<Vec<_>>()
    };
    let (major_ids, minor_ids) = (ids(&major), ids(&minor));
    c.wait_views(&major, &major_ids, Duration::from_secs(15));
    c.wait_views(&minor, &minor_ids, Duration::from_secs(15));
    assert!(c.ask(major[0], "put m major A", "put_ack")["version"].is_u64());
    assert!(c.ask(major[1], "put m both M", "put_ack")["version"].is_u64());
    // The minority has no quorum setting: it goes on writing on its side.
    assert!(c.ask(minor[0], "put m minor B", "put_ack")["version"].is_u64());
    assert!(c.ask(minor[1], "put m both m", "put_ack")["version"].is_u64());
    let sides = c.values(&[major[2], minor[0]], "m", &["both".to_owned()]);
    assert_eq!(sides[0]["both"].as_deref(), Some("M"));
    assert_eq!(sides[1]["both"].as_deref(), Some("m"));

    c.net.heal().expect("heal");
    c.wait_views(&all(), &c.ids(), Duration::from_secs(30));
    let state = |entries: [(&str, Option<&str>); 4]| -> BTreeMap<String, Option<String>> {
        entries
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.map(str::to_owned)))
            .collect()
    };
    // What each side held when the partition healed.
    let sides = [
        state([
            ("base", Some("x")),
            ("major", Some("A")),
            ("both", Some("M")),
            ("minor", None),
        ]),
        state([
            ("base", Some("x")),
            ("major", None),
            ("both", Some("m")),
            ("minor", Some("B")),
        ]),
    ];
    let keys: Vec<String> = sides[0].keys().cloned().collect();
    let mut outcome = Err(String::new());
    for _ in 0..30 {
        if c.limit(Duration::from_secs(1)) < Duration::from_secs(1) {
            break;
        }
        let finals = c.values(&all(), "m", &keys);
        outcome = invariants::merged_to_one_side(&sides, &finals);
        if outcome.is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let winner = outcome.unwrap_or_else(|e| panic!("after the merge: {e}"));
    let winner = ["majority", "minority"][winner];
    if majority_must_win {
        assert_eq!(
            winner, "majority",
            "MajoritySide policy: the minority's map won the merge"
        );
        // The minority lost to the side of 3 (however many merged views
        // it took), and says so; the majority never lost (a majority member
        // that came back in a view adding only its own side's members has
        // no merge to report).
        let merges = |h: usize| -> Vec<Value> {
            c.node(h)
                .log
                .snapshot()
                .into_iter()
                .filter(|e| e["ev"] == "map_merged")
                .collect()
        };
        for &h in &minor {
            let lost = c
                .node(h)
                .log
                .wait(c.limit(Duration::from_secs(10)), |events| {
                    events
                        .iter()
                        .any(|e| e["ev"] == "map_merged" && e["won"] == false)
                });
            let m = merges(h);
            assert!(
                lost.is_some(),
                "minority host {h} was not told it lost: {m:?}"
            );
            assert!(
                m.iter().any(|e| e["won"] == false
                    && e["own_size"] == 2
                    && e["winner_size"].as_u64() >= Some(3)),
                "minority host {h}: {m:?}"
            );
        }
        let mut told = 0;
        for &h in &major {
            let m = merges(h);
            // A heal that comes back in steps merges more than once; the
            // majority side (3 before the merge, more after each step)
            // wins every step.
            assert!(
                m.iter().all(|e| e["won"] == true
                    && e["winner_size"].as_u64() >= Some(3)
                    && e["own_size"].as_u64() >= Some(3)),
                "majority host {h}: {m:?}"
            );
            told += m.len();
        }
        assert!(told > 0, "no majority host reported the map's merge");
        for h in all() {
            let events = c.node(h).log.snapshot();
            assert!(
                events
                    .iter()
                    .any(|e| e["ev"] == "view" && e["merge"] == true)
                    == events.iter().any(|e| e["ev"] == "merged"),
                "host {h}: a merged view without a merge event, or the reverse"
            );
        }
    }
    println!(
        "{prefix}: partition {major:?} | {minor:?} healed into one view of {HOSTS}; \
         every member holds the {winner} side's map, the other side's writes dropped"
    );
}

/// The merge after a partition: one view of all members, and every member
/// holds one side's map whole (the other side's writes dropped, nothing
/// mixed), whichever side the merge picked.
#[test]
fn a_partition_heals_and_the_map_merges_to_one_side() {
    if require_or_skip("netns partition").is_none() {
        return;
    }
    partition_and_merge("bzpart", true, false);
}

/// The membership merges the other side's members as it hears them again,
/// one merged view at a time, and whichever side's coordinator ranks first
/// leads it: the map's majority-side policy must compare the sides as they
/// were before the merge (3 against 2), not count them within a first,
/// partial view (say 2 of the minority against 1 of the majority). Every
/// member reports the map's merge outcome (`map_merged`).
#[test]
fn a_partition_heals_and_the_map_merges_by_majority() {
    if require_or_skip("netns partition, majority").is_none() {
        return;
    }
    partition_and_merge("bzpartmaj", true, true);
    partition_and_merge("bzpartmin", false, true);
}

/// The checkers catch what they are meant to catch.
#[test]
fn the_invariant_checkers_reject_violations() {
    let d = |n: &str, s: u64| (n.to_owned(), s);
    let sent: BTreeMap<String, Vec<u64>> = [("a".to_owned(), vec![0, 1, 2])].into();
    assert!(invariants::exactly_once_in_order(&sent, &[d("a", 0), d("a", 1), d("a", 2)]).is_ok());
    assert!(invariants::exactly_once_in_order(&sent, &[d("a", 0), d("a", 2), d("a", 1)]).is_err());
    assert!(invariants::exactly_once_in_order(&sent, &[d("a", 0), d("a", 1)]).is_err());
    assert!(
        invariants::exactly_once_in_order(&sent, &[d("a", 0), d("a", 1), d("a", 1), d("a", 2)])
            .is_err()
    );
    assert!(
        invariants::exactly_once_in_order(&sent, &[d("a", 0), d("a", 1), d("a", 2), d("b", 0)])
            .is_err()
    );
    assert!(invariants::at_most_once_in_order(&sent, &[d("a", 0), d("a", 2)]).is_ok());
    assert!(invariants::at_most_once_in_order(&sent, &[d("a", 2), d("a", 0)]).is_err());
    assert!(invariants::at_most_once_in_order(&sent, &[d("a", 0), d("a", 0)]).is_err());
    assert!(invariants::at_most_once_in_order(&sent, &[d("a", 3)]).is_err());
    assert!(invariants::at_most_once_in_order(&sent, &[d("b", 0)]).is_err());
    assert!(invariants::same_sequence(&[vec![d("a", 0)], vec![d("a", 0)]]).is_ok());
    let split = [
        vec![d("a", 0), d("b", 0), d("a", 1)],
        vec![d("a", 0), d("b", 0), d("b", 1)],
    ];
    assert!(invariants::consistent_order(&split).is_ok());
    assert!(invariants::same_sequence(&split).is_err());
    let swapped = [
        vec![d("a", 0), d("b", 0)],
        vec![d("b", 0), d("c", 0), d("a", 0)],
    ];
    assert!(invariants::consistent_order(&swapped).is_err());
    assert!(
        invariants::same_sequence(&[vec![d("a", 0), d("b", 0)], vec![d("b", 0), d("a", 0)]])
            .is_err()
    );

    let v = |t: u64, m: &[&str]| (t, m.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>());
    let views = [v(5, &["a", "b"]), v(100, &["a", "b"]), v(900, &["a"])];
    assert_eq!(invariants::removed_within(&views, "b", 50, 1000), Ok(850));
    assert!(invariants::removed_within(&views, "b", 50, 800).is_err());
    assert!(invariants::removed_within(&views[..2], "b", 50, 1000).is_err());

    let finals: Vec<BTreeMap<String, Option<String>>> =
        vec![[("k".to_owned(), Some("v".to_owned()))].into()];
    assert!(invariants::acked_writes_present(&[("k".into(), "v".into())], &finals).is_ok());
    assert!(invariants::acked_writes_present(&[("k".into(), "w".into())], &finals).is_err());
    assert!(invariants::acked_writes_present(&[("j".into(), "v".into())], &finals).is_err());
    let side = |v: Option<&str>| -> BTreeMap<String, Option<String>> {
        [("k".to_owned(), v.map(str::to_owned))].into()
    };
    assert_eq!(
        invariants::merged_to_one_side(&[side(None), side(Some("v"))], &finals),
        Ok(1)
    );
    assert!(invariants::merged_to_one_side(&[side(None), side(Some("w"))], &finals).is_err());
    let mixed: Vec<BTreeMap<String, Option<String>>> = vec![side(Some("v")), side(None)];
    assert!(invariants::merged_to_one_side(&[side(None), side(Some("v"))], &mixed).is_err());

    let h = |fence: u64, start: u64, end: u64| Hold {
        holder: String::new(),
        fence,
        start,
        end,
    };
    assert!(invariants::lock_safety(&[h(1, 0, 10), h(3, 10, 20), h(4, 25, 30)]).is_ok());
    assert!(invariants::lock_safety(&[h(1, 0, 10), h(3, 9, 20)]).is_err());
    assert!(invariants::lock_safety(&[h(3, 0, 10), h(2, 11, 20)]).is_err());
}

/// The control channel itself, on loopback (no root needed): commands in,
/// JSON events out, errors reported, `quit` leaves.
#[test]
fn the_control_channel_answers_on_loopback() {
    use std::io::{BufRead, BufReader, Write};
    use std::process::{Command, Stdio};

    let dir = std::env::temp_dir().join(format!("blaze-control-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("solo.toml");
    std::fs::write(
        &config,
        "name = \"solo\"\ngroup = \"239.255.51.7:7651\"\n[topics]\ntot = \"agreed\"\n",
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_blaze"))
        .args(["node", "--control", "stdio", "--config"])
        .arg(&config)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("blaze runs");
    let mut stdin = child.stdin.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<Value>();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let event = serde_json::from_str(&line.unwrap()).expect("a JSON line");
            if tx.send(event).is_err() {
                break;
            }
        }
    });
    // The next event named `ev`; the others are kept for later asks.
    let mut pending: Vec<Value> = Vec::new();
    let mut next = |ev: &str| -> Value {
        if let Some(i) = pending.iter().position(|e| e["ev"] == ev) {
            return pending.remove(i);
        }
        loop {
            let e = rx
                .recv_timeout(Duration::from_secs(20))
                .unwrap_or_else(|_| panic!("no {ev} event"));
            assert!(e["t"].is_u64(), "{e}");
            if e["ev"] == ev {
                return e;
            }
            pending.push(e);
        }
    };
    let up = next("up");
    assert_eq!(up["name"], "solo");
    writeln!(stdin, "put m colour blue").unwrap();
    let ack = next("put_ack");
    assert_eq!(
        (ack["key"].as_str(), ack["version"].as_u64()),
        (Some("colour"), Some(1))
    );
    writeln!(stdin, "get m colour").unwrap();
    assert_eq!(next("value")["value"], "blue");
    writeln!(stdin, "publish tot 3 0").unwrap();
    for seq in 0..3 {
        assert_eq!(next("msg")["payload"], format!("solo:tot:{seq}"));
    }
    assert_eq!(next("published")["sent"], 3);
    // Alone, the node formed a total-order ring of one before delivering.
    let ring = next("ring");
    assert_eq!(
        (&ring["kind"], &ring["members"], &ring["representative"]),
        (&"regular".into(), &serde_json::json!([up["id"]]), &up["id"]),
        "{ring}"
    );
    writeln!(stdin, "locks m door 2 500 10").unwrap();
    let first = next("lock_held")["fence"].as_u64().unwrap();
    assert!(next("lock_held")["fence"].as_u64().unwrap() > first);
    writeln!(stdin, "members").unwrap();
    assert_eq!(next("members")["members"], serde_json::json!([up["id"]]));
    writeln!(stdin, "fly away").unwrap();
    assert_eq!(next("error")["line"], "fly away");
    writeln!(stdin, "quit").unwrap();
    next("down");
    assert!(child.wait().unwrap().success());
    let _ = std::fs::remove_dir_all(&dir);
}
