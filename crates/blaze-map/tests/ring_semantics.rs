//! The ring-ordered mode's rules, one at a time, over an in-process
//! lossless total-order broadcast: every submitted message is delivered to
//! every member of the configuration in one order; configuration changes
//! follow extended virtual synchrony (a transitional configuration of the
//! members that move on, then the regular one).
#![cfg(feature = "ring")]

use blaze_map::{
    CommandError, Config, Event, LockLostReason, Ordering, Replica, RingConfiguration, WriteError,
    WriteOptions,
};
use blaze_wire::{Duration, GroupId, Instant, MemberId};

type R = Replica<16, 4, 16, 32>;

/// What a member heard, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Heard {
    Changed(u64, Vec<u8>, Option<Vec<u8>>),
    Done(u64),
    Failed(WriteError),
    Locked(u64),
    LockFailed(WriteError),
    Lost(LockLostReason),
    Installed(u64),
    Other,
}

struct Ring {
    now: Instant,
    seq: u64,
    /// Every replica ever made, and whether it is in the configuration.
    nodes: Vec<(R, bool)>,
    heard: Vec<Vec<Heard>>,
}

fn id(i: usize) -> MemberId {
    MemberId::from_u128(i as u128 + 1)
}

impl Ring {
    fn new(n: usize, quorum: usize) -> Ring {
        let cfg = Config {
            quorum,
            ordering: Ordering::Totem { safe: true },
            ..Config::lan(GroupId::from_name("ring-semantics"))
        };
        let mut ring = Ring {
            now: Instant::from_millis(1),
            seq: 0,
            nodes: (0..n)
                .map(|i| (R::new(cfg, id(i)).unwrap(), false))
                .collect(),
            heard: vec![Vec::new(); n],
        };
        ring.configure(&(0..n).collect::<Vec<_>>());
        ring
    }

    fn members(&self) -> Vec<usize> {
        (0..self.nodes.len()).filter(|&i| self.nodes[i].1).collect()
    }

    /// A new ring with `members`: the old members among them go through a
    /// transitional configuration first.
    fn configure(&mut self, members: &[usize]) {
        self.seq += 4;
        let ids: Vec<MemberId> = members.iter().map(|&i| id(i)).collect();
        let old: Vec<usize> = self.members();
        let moving: Vec<MemberId> = old
            .iter()
            .filter(|i| members.contains(i))
            .map(|&i| id(i))
            .collect();
        for (i, (r, on)) in self.nodes.iter_mut().enumerate() {
            *on = members.contains(&i);
            if !*on {
                continue;
            }
            if old.contains(&i) {
                r.handle_configuration(
                    self.now,
                    RingConfiguration::Transitional,
                    self.seq,
                    &moving,
                );
            }
            r.handle_configuration(self.now, RingConfiguration::Regular, self.seq, &ids);
        }
        self.settle();
    }

    /// Delivers everything the members submit, in member order, until
    /// nothing is left; drains events after each delivery.
    fn settle(&mut self) {
        let mut buf = [0u8; 512];
        for _ in 0..10_000 {
            self.drain();
            let mut sent = None;
            for i in self.members() {
                if let Some(s) = self.nodes[i].0.poll_ordered_submit(self.now, &mut buf) {
                    sent = Some((i, buf[..s.len].to_vec()));
                    break;
                }
            }
            let Some((from, msg)) = sent else {
                return;
            };
            for i in self.members() {
                self.nodes[i].0.handle_delivered(self.now, id(from), &msg);
                self.drain();
            }
        }
        panic!("the ring never went quiet");
    }

    fn drain(&mut self) {
        for (i, (r, _)) in self.nodes.iter_mut().enumerate() {
            while let Some(e) = r.poll_event() {
                self.heard[i].push(match e {
                    Event::Changed(c) => {
                        Heard::Changed(c.version, c.key.to_vec(), c.new.map(<[u8]>::to_vec))
                    }
                    Event::WriteDone { version, .. } => Heard::Done(version),
                    Event::WriteFailed { error, .. } => Heard::Failed(error),
                    Event::LockAcquired { fence, .. } => Heard::Locked(fence),
                    Event::LockFailed { error, .. } => Heard::LockFailed(error),
                    Event::LockLost { reason, .. } => Heard::Lost(reason),
                    Event::StateInstalled { as_of } => Heard::Installed(as_of),
                    _ => Heard::Other,
                });
            }
        }
    }

    /// Moves time on and lets every member act on it.
    fn advance(&mut self, d: Duration) {
        self.now += d;
        for i in self.members() {
            self.nodes[i].0.handle_timeout(self.now);
        }
        self.settle();
    }

    fn r(&mut self, i: usize) -> &mut R {
        &mut self.nodes[i].0
    }

    fn value(&self, i: usize, key: &[u8]) -> Option<Vec<u8>> {
        self.nodes[i].0.get("m", key).map(|e| e.value.to_vec())
    }

    fn changes(&self, i: usize) -> Vec<Heard> {
        self.heard[i]
            .iter()
            .filter(|h| matches!(h, Heard::Changed(..)))
            .cloned()
            .collect()
    }
}

#[test]
fn every_member_applies_the_same_stream_and_the_writer_hears_its_version() {
    let mut ring = Ring::new(3, 0);
    let now = ring.now;
    ring.r(0)
        .put(now, "m", b"a", b"1", WriteOptions::default())
        .unwrap();
    ring.r(1)
        .put(now, "m", b"b", b"2", WriteOptions::default())
        .unwrap();
    ring.settle();
    assert!(ring.heard[0].contains(&Heard::Done(1)));
    assert!(ring.heard[1].contains(&Heard::Done(2)));
    let c0 = ring.changes(0);
    assert_eq!(c0.len(), 2);
    assert_eq!(ring.changes(1), c0);
    assert_eq!(ring.changes(2), c0);
    assert!((0..3).all(|i| ring.nodes[i].0.is_synced()));
}

#[test]
fn concurrent_compare_and_set_has_one_winner_decided_alike() {
    let mut ring = Ring::new(3, 0);
    let now = ring.now;
    ring.r(0)
        .put(now, "m", b"k", b"base", WriteOptions::default())
        .unwrap();
    ring.settle();
    let v = ring.nodes[0].0.get("m", b"k").unwrap().version;
    for i in 0..3 {
        let value = format!("cas{i}");
        ring.r(i)
            .compare_and_set(now, "m", b"k", v, value.as_bytes(), WriteOptions::default())
            .unwrap();
    }
    ring.settle();
    let wins = (0..3)
        .filter(|&i| {
            ring.heard[i]
                .iter()
                .any(|h| matches!(h, Heard::Done(x) if *x > v))
        })
        .count();
    let losses = (0..3)
        .filter(|&i| {
            ring.heard[i]
                .iter()
                .any(|h| matches!(h, Heard::Failed(WriteError::VersionMismatch { .. })))
        })
        .count();
    assert_eq!((wins, losses), (1, 2));
    let first = ring.value(0, b"k");
    assert!((1..3).all(|i| ring.value(i, b"k") == first));
}

#[test]
fn owner_only_entries_refuse_others_naming_the_owner() {
    let mut ring = Ring::new(2, 0);
    let now = ring.now;
    let opts = WriteOptions {
        owner_only: true,
        ..WriteOptions::default()
    };
    ring.r(0).put(now, "m", b"k", b"mine", opts).unwrap();
    ring.settle();
    ring.r(1)
        .put(now, "m", b"k", b"theirs", WriteOptions::default())
        .unwrap();
    ring.settle();
    assert!(ring.heard[1].contains(&Heard::Failed(WriteError::Owned(id(0)))));
    assert_eq!(ring.value(1, b"k"), Some(b"mine".to_vec()));
}

#[test]
fn a_ttl_ends_by_an_ordered_proposal_at_every_member() {
    let mut ring = Ring::new(3, 0);
    let now = ring.now;
    let opts = WriteOptions {
        ttl: Duration::from_millis(50),
        ..WriteOptions::default()
    };
    ring.r(2).put(now, "m", b"k", b"v", opts).unwrap();
    ring.settle();
    ring.advance(Duration::from_millis(30));
    assert_eq!(ring.value(0, b"k"), Some(b"v".to_vec()));
    ring.advance(Duration::from_millis(30));
    for i in 0..3 {
        assert_eq!(ring.value(i, b"k"), None, "member {i}");
        assert_eq!(
            ring.changes(i).last(),
            Some(&Heard::Changed(2, b"k".to_vec(), None))
        );
    }
}

#[test]
fn a_lease_ends_by_an_ordered_proposal_after_the_holder_stopped() {
    let mut ring = Ring::new(3, 0);
    let now = ring.now;
    ring.r(1)
        .lock(now, "m", b"k", Duration::from_millis(40))
        .unwrap();
    ring.settle();
    assert!(ring.heard[1].contains(&Heard::Locked(1)));
    ring.advance(Duration::from_millis(41));
    // The holder stopped at its own deadline; the proposer's lease runs a
    // margin longer.
    assert!(ring.heard[1].contains(&Heard::Lost(LockLostReason::Expired)));
    ring.advance(Duration::from_millis(60));
    assert!((0..3).all(|i| ring.nodes[i].0.lock_info("m", b"k").is_none()));
    let now = ring.now;
    ring.r(0)
        .lock(now, "m", b"k", Duration::from_millis(40))
        .unwrap();
    ring.settle();
    assert!(
        ring.heard[0]
            .iter()
            .any(|h| matches!(h, Heard::Locked(f) if *f > 1))
    );
}

#[test]
fn owner_exit_removes_entries_and_revokes_locks_at_the_configuration_change() {
    let mut ring = Ring::new(3, 0);
    let now = ring.now;
    let opts = WriteOptions {
        remove_on_exit: true,
        ..WriteOptions::default()
    };
    ring.r(2).put(now, "m", b"e", b"v", opts).unwrap();
    ring.r(2)
        .put(now, "m", b"kept", b"v", WriteOptions::default())
        .unwrap();
    ring.r(2)
        .lock(now, "m", b"l", Duration::from_millis(30))
        .unwrap();
    ring.settle();
    ring.configure(&[0, 1]);
    for i in 0..2 {
        assert_eq!(ring.value(i, b"e"), None);
        assert_eq!(ring.value(i, b"kept"), Some(b"v".to_vec()));
        assert!(ring.nodes[i].0.lock_info("m", b"l").is_none());
    }
    assert_eq!(ring.changes(0), ring.changes(1));
    // The revoked lock stays unavailable until its old lease ran out,
    // then an ordered proposal frees it.
    let now = ring.now;
    ring.r(0)
        .try_lock(
            now,
            "m",
            b"l",
            Duration::from_millis(30),
            Duration::from_millis(10),
        )
        .unwrap();
    ring.settle();
    ring.advance(Duration::from_millis(11));
    assert!(!ring.heard[0].iter().any(|h| matches!(h, Heard::Locked(_))));
    ring.advance(Duration::from_millis(60));
    let now = ring.now;
    ring.r(0)
        .lock(now, "m", b"l", Duration::from_millis(30))
        .unwrap();
    ring.settle();
    assert!(ring.heard[0].iter().any(|h| matches!(h, Heard::Locked(_))));
}

#[test]
fn a_joiner_takes_the_state_as_of_the_change_and_follows() {
    let mut ring = Ring::new(3, 0);
    let now = ring.now;
    for k in 0..5u8 {
        ring.r(usize::from(k % 3))
            .put(now, "m", &[b'k', k], &[k], WriteOptions::default())
            .unwrap();
    }
    ring.settle();
    let cfg = Config {
        ordering: Ordering::Totem { safe: true },
        ..Config::lan(GroupId::from_name("ring-semantics"))
    };
    ring.nodes.push((R::new(cfg, id(3)).unwrap(), false));
    ring.heard.push(Vec::new());
    ring.configure(&[0, 1, 2, 3]);
    assert!(ring.heard[3].contains(&Heard::Installed(5)));
    let now = ring.now;
    ring.r(3)
        .put(now, "m", b"new", b"x", WriteOptions::default())
        .unwrap();
    ring.settle();
    assert!(ring.heard[3].contains(&Heard::Done(6)));
    let all: Vec<_> = ring.nodes[0]
        .0
        .entries()
        .map(|(_, k, e)| (k.to_vec(), e.version))
        .collect();
    for i in 1..4 {
        let other: Vec<_> = ring.nodes[i]
            .0
            .entries()
            .map(|(_, k, e)| (k.to_vec(), e.version))
            .collect();
        assert_eq!(other.len(), all.len());
        for e in &all {
            assert!(other.contains(e), "member {i} lacks {e:?}");
        }
    }
}

#[test]
fn below_the_quorum_commands_are_refused() {
    let mut ring = Ring::new(3, 2);
    let now = ring.now;
    ring.r(0)
        .put(now, "m", b"k", b"v", WriteOptions::default())
        .unwrap();
    ring.settle();
    ring.configure(&[0]);
    let now = ring.now;
    assert_eq!(
        ring.r(0).put(now, "m", b"k", b"w", WriteOptions::default()),
        Err(CommandError::QuorumLost)
    );
    assert_eq!(
        ring.r(0).lock(now, "m", b"k", Duration::from_millis(10)),
        Err(CommandError::QuorumLost)
    );
    assert_eq!(ring.value(0, b"k"), Some(b"v".to_vec()));
}

#[test]
fn a_request_in_flight_across_a_reformation_is_resent() {
    let mut ring = Ring::new(3, 0);
    let now = ring.now;
    ring.r(1)
        .put(now, "m", b"k", b"v", WriteOptions::default())
        .unwrap();
    // The ring reforms before the request is broadcast: the member's
    // submission is lost with the old ring.
    let mut buf = [0u8; 512];
    let _lost = ring.r(1).poll_ordered_submit(now, &mut buf);
    ring.configure(&[0, 1]);
    ring.advance(Duration::from_millis(1));
    assert!(ring.heard[1].contains(&Heard::Done(1)));
    assert_eq!(ring.value(0, b"k"), Some(b"v".to_vec()));
}
