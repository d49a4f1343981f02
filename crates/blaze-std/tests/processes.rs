//! Every service of the channel API between separate processes: three
//! `blaze demo --member` processes (and a fourth that joins later) on
//! loopback multicast, each commanded one line at a time on its standard
//! input, play the demo's scenario: broadcast on every quality of service
//! (best effort, reliable, reliable + FEC, agreed, safe, and the
//! zero-allocation publisher/inbox path), large messages (fragmented and
//! reassembled), a second group joined and left at run time,
//! point-to-point, request/reply (to a member and to any member), a queue
//! (each job once; a job held unacknowledged by a member that is then
//! killed is redelivered to another), the replicated map (put, remove, an
//! entry removed when its owner dies) and a change listener, a lock with a
//! lease, a member killed (by process id) and its failure seen, a new
//! member receiving the map, the coordinator killed and replaced, and a
//! graceful leave seen as one.
//!
//! Every wait is bounded (each answer within [`ANSWER_LIMIT`]); children
//! are killed by process id when dropped, whatever happened.
#![cfg(feature = "cli")]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const GROUP_ADDR: &str = "239.255.79.33:47933";
const ANSWER_LIMIT: Duration = Duration::from_secs(40);
/// Messages per quality of service.
const N: u32 = 100;
/// Total-order messages per sender (two senders).
const ORDERED: u32 = 30;

/// One member process.
struct Member {
    name: &'static str,
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
}

impl Member {
    fn spawn(name: &'static str) -> Member {
        let mut child = Command::new(env!("CARGO_BIN_EXE_blaze"))
            .args([
                "--log", "error", "demo", "--member", name, "--group", GROUP_ADDR,
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the blaze program starts");
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Member {
            name,
            child,
            stdin,
            lines,
        }
    }

    fn send(&mut self, command: &str) {
        writeln!(self.stdin, "{command}")
            .and_then(|()| self.stdin.flush())
            .unwrap_or_else(|e| panic!("{}: cannot send {command:?}: {e}", self.name));
    }

    /// The answer to the oldest command sent, which must be `ok`; its text.
    fn answer(&mut self, command: &str) -> String {
        let line = self
            .lines
            .recv_timeout(ANSWER_LIMIT)
            .unwrap_or_else(|e| panic!("{}: no answer to {command:?}: {e}", self.name));
        match line.strip_prefix("ok") {
            Some(text) => text.trim_start().to_owned(),
            None => panic!("{}: {command:?} answered {line:?}", self.name),
        }
    }

    fn ok(&mut self, command: &str) -> String {
        self.send(command);
        self.answer(command)
    }

    fn number(&mut self, command: &str) -> u64 {
        let text = self.ok(command);
        text.parse()
            .unwrap_or_else(|_| panic!("{}: {command:?} answered {text:?}", self.name))
    }

    /// Kills the process by its id.
    fn kill(mut self) {
        self.child.kill().expect("the child is killed");
        let _ = self.child.wait();
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends `command` to every member, then collects every answer (so the
/// members work at the same time).
fn all(members: &mut [Member], command: &str) -> Vec<String> {
    for m in members.iter_mut() {
        m.send(command);
    }
    members.iter_mut().map(|m| m.answer(command)).collect()
}

/// The member named `name`.
fn named<'m>(members: &'m mut [Member], name: &str) -> &'m mut Member {
    members
        .iter_mut()
        .find(|m| m.name == name)
        .unwrap_or_else(|| panic!("no member {name}"))
}

/// `name=id ...` as a map.
fn ids(view: &str) -> HashMap<String, String> {
    view.split(' ')
        .filter_map(|pair| pair.split_once('='))
        .map(|(name, id)| (name.to_owned(), id.to_owned()))
        .collect()
}

#[test]
fn every_service_between_three_processes() {
    let mut members = vec![
        Member::spawn("alpha"),
        Member::spawn("bravo"),
        Member::spawn("charlie"),
    ];
    for command in [
        "subscribe news",
        "subscribe ticks",
        "subscribe frames",
        "subscribe orders",
        "subscribe audits",
        "subscribe big",
        "subscribe extra-news",
        "inbox fast",
        "directs",
        "events",
        "watch-map",
    ] {
        all(&mut members, command);
    }

    // Members join.
    let own: Vec<String> = all(&mut members, "start");
    let views = all(&mut members, "members 3");
    let id = ids(&views[0]);
    for (m, view) in members.iter().zip(&views) {
        assert_eq!(ids(view), id, "{} sees another view", m.name);
    }
    for (m, own) in members.iter().zip(&own) {
        assert_eq!(id[m.name], *own);
    }
    let coordinators = all(&mut members, "coordinator");
    assert!(coordinators.iter().all(|c| *c == coordinators[0]));

    // Broadcast on each quality of service, alpha to the others.
    for command in [
        format!("publish news {N} news"),
        format!("publish ticks {N} tick"),
        format!("publish frames {N} frame"),
        format!("publish-fast fast {N} fast"),
    ] {
        members[0].ok(&command);
    }
    for m in &mut members[1..] {
        assert_eq!(
            m.number(&format!("expect news {N} news reliable")),
            u64::from(N)
        );
        assert_eq!(
            m.number(&format!("expect frames {N} frame fec")),
            u64::from(N)
        );
        assert_eq!(
            m.number(&format!("expect-fast fast {N} fast")),
            u64::from(N)
        );
        let ticks = m.number("drain ticks");
        assert!(
            ticks > 0 && ticks <= u64::from(N),
            "{}: {ticks} ticks",
            m.name
        );
    }
    // Total order, agreed and safe: alpha and bravo publish at the same
    // time; every member (the senders too) delivers the same sequence.
    for (topic, tag) in [("orders", "agreed"), ("audits", "safe")] {
        members[0].send(&format!("publish {topic} {ORDERED} alpha-{tag}"));
        members[1].send(&format!("publish {topic} {ORDERED} bravo-{tag}"));
        members[0].answer("publish");
        members[1].answer("publish");
        let sequences = all(&mut members, &format!("collect {topic} {}", 2 * ORDERED));
        assert!(
            sequences.iter().all(|s| *s == sequences[0])
                && sequences[0].ends_with(&format!(" {}", 2 * ORDERED)),
            "{topic}: {sequences:?}"
        );
    }

    // Large messages: fragmented, reassembled, in order.
    members[0].ok("publish-big big 3 20000");
    for m in &mut members[1..] {
        assert_eq!(m.number("expect-big big 3 20000"), 3, "{}", m.name);
    }

    // A second group, joined and left at run time by bravo and charlie.
    for m in &mut members[1..] {
        m.ok("join extra");
    }
    for m in &mut members[1..] {
        let view = ids(&m.ok("members-in extra 2"));
        assert!(view.contains_key("bravo") && view.contains_key("charlie"));
    }
    members[1].ok("publish-in extra extra-news 10 extra");
    assert_eq!(members[2].number("expect extra-news 10 extra reliable"), 10);
    assert_eq!(
        members[0].number("drain extra-news"),
        0,
        "alpha is not in it"
    );
    members[2].ok("leave extra");
    members[1].ok("members-in extra 1");

    // Point-to-point.
    members[0].ok(&format!("send-to {} hello-charlie", id["charlie"]));
    assert_eq!(
        members[2].ok("expect-direct"),
        format!("{} hello-charlie", id["alpha"])
    );

    // Request and reply.
    members[1].ok("serve-upper");
    assert_eq!(
        members[0].ok(&format!("request {} hello-bravo", id["bravo"])),
        "HELLO-BRAVO"
    );

    // A request to any other member (all of them serve).
    for m in &mut members {
        m.ok("serve-upper");
    }
    assert_eq!(members[0].ok("request-any hello-any"), "HELLO-ANY");

    // A queue: a member other than the coordinator produces, the two
    // others consume; every job is processed exactly once.
    let coordinator = coordinators[0].clone();
    let producer = members
        .iter()
        .position(|m| id[m.name] != coordinator)
        .unwrap();
    let consumers: Vec<usize> = (0..3).filter(|i| *i != producer).collect();
    for &c in &consumers {
        members[c].ok("consume jobs");
    }
    std::thread::sleep(Duration::from_millis(200));
    members[producer].ok("queue-send jobs 20");
    for &c in &consumers {
        members[c].send("consumed jobs 1500");
    }
    let mut jobs: Vec<u32> = Vec::new();
    for &c in &consumers {
        let done = members[c].answer("consumed");
        jobs.extend(
            done.split(',')
                .filter(|j| !j.is_empty())
                .map(|j| j.parse::<u32>().unwrap()),
        );
    }
    jobs.sort_unstable();
    assert_eq!(jobs, (0..20).collect::<Vec<u32>>(), "each job exactly once");

    // The member killed below holds a job of another queue without
    // acknowledging it, and owns a map entry removed when it leaves.
    let victim = members[producer].name;
    let victim_id = id[victim].clone();
    let coordinator_name = members
        .iter()
        .find(|m| id[m.name] == coordinator)
        .unwrap()
        .name;
    let other = members
        .iter()
        .find(|m| m.name != victim && m.name != coordinator_name)
        .unwrap()
        .name;
    named(&mut members, victim).ok("consume work");
    std::thread::sleep(Duration::from_millis(200));
    named(&mut members, coordinator_name).ok("queue-send work 1");
    assert_eq!(named(&mut members, victim).ok("hold work"), "0");
    named(&mut members, other).ok("consume work");
    named(&mut members, victim).ok("put-owned session owned alive");
    assert_eq!(
        named(&mut members, other).ok("wait-value session owned"),
        "alive"
    );

    // The replicated map and a change listener.
    let version: u64 = members[1].ok("put config colour blue").parse().unwrap();
    assert!(version > 0);
    assert_eq!(members[0].ok("wait-value config colour"), "blue");
    let mut heard = String::new();
    for _ in 0..50 {
        heard = members[2].ok("heard");
        if heard.split(' ').any(|c| c == "config/colour=blue") {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        heard.split(' ').any(|c| c == "config/colour=blue"),
        "{heard}"
    );

    // A lock with a lease: alpha takes it and never renews; bravo gets it
    // with a higher fence once the lease ran out.
    let first = members[0].ok("lock config colour 600");
    let second = members[1].ok("lock config colour 600");
    let fence = |s: &str| s.split(' ').next().unwrap().parse::<u64>().unwrap();
    let waited: u64 = second.split(' ').nth(1).unwrap().parse().unwrap();
    assert!(fence(&second) > fence(&first), "{first} then {second}");
    assert!(
        waited >= 150,
        "bravo waited only {waited} ms for a 600 ms lease"
    );

    // A member killed by process id; the others see it fail, its held
    // job goes to the other consumer, its owned entry goes away.
    let victim = members.iter().position(|m| m.name == victim).unwrap();
    members.remove(victim).kill();
    all(&mut members, &format!("expect-failed {victim_id}"));
    all(&mut members, "members 2");
    assert_eq!(named(&mut members, other).ok("consumed work 3000"), "0r");
    all(&mut members, "wait-gone session owned");

    // A new member joins and receives the map.
    let mut delta = Member::spawn("delta");
    let delta_id = delta.ok("start");
    members.push(delta);
    all(&mut members, "members 3");
    assert_eq!(members[2].ok("wait-value config colour"), "blue");

    // The coordinator killed; the survivors agree on a new one, their
    // master-changed listeners fire, the map is intact and writable.
    let old = members[0].ok("coordinator");
    let old_index = members.iter().position(|m| id.get(m.name) == Some(&old));
    let old_index = old_index.unwrap_or_else(|| {
        // delta cannot be the coordinator (the oldest member is).
        panic!("the coordinator {old} is not alpha, bravo or charlie")
    });
    all(&mut members, "watch-master");
    members.remove(old_index).kill();
    let new = all(&mut members, &format!("new-coordinator {old}"));
    assert!(new.iter().all(|c| *c == new[0]), "{new:?}");
    for m in &mut members {
        assert!(m.number("master-changes") >= 1, "{}", m.name);
        assert_eq!(m.ok("get config colour"), "blue", "{}", m.name);
    }
    members[0].ok("put config shape round");
    assert_eq!(members[1].ok("wait-value config shape"), "round");
    members[1].ok("remove config shape");
    members[0].ok("wait-gone config shape");

    // delta leaves gracefully: seen as a leave, not a failure.
    let last = members
        .iter()
        .position(|m| m.name != "delta")
        .expect("a survivor of the first three");
    let delta = members.iter().position(|m| m.name == "delta").unwrap();
    members[delta].ok("quit");
    members[last].ok(&format!("expect-left {delta_id}"));
    members[last].ok("quit");
}
