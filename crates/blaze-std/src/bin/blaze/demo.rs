//! `blaze demo`: a cluster of three members in this process, on loopback
//! multicast, showing each feature working for real, with a check per
//! claim and a summary.

use std::collections::BTreeMap;
use std::net::SocketAddrV4;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use blaze_std::{
    ChannelConfig, ChannelError, ClusterChannel, GroupEvent, MapOrdering, MemberId, Qos,
    Subscription, TopicQos,
};
use clap::Args;

mod member;

/// Run a three-member cluster in this process and show every feature working.
///
/// Members join, broadcast on each quality of service, a point-to-point
/// message, a request and its reply, a queue spreading work, the replicated
/// map with a change listener, a lock with a lease, a member killed and its
/// departure seen, and the coordinator failing over with the map intact. Each
/// step is checked; the exit status is non-zero if any check fails.
#[derive(Debug, Clone, Args)]
#[command(
    after_help = "Examples:\n  blaze demo\n  blaze demo --group 239.255.9.9:47999 --messages 500"
)]
pub(crate) struct DemoArgs {
    /// Multicast group and port (on 127.0.0.1); default derived from the process id.
    #[arg(long)]
    group: Option<SocketAddrV4>,
    /// Messages broadcast per quality of service.
    #[arg(long, default_value_t = 200)]
    messages: u32,
    /// Run one member of the cluster in this process, named NAME, commanded
    /// one line at a time on standard input (with --group; for tests that
    /// run each member in a process of its own).
    #[arg(long, value_name = "NAME", hide = true, requires = "group")]
    member: Option<String>,
}

const GROUP: &str = "demo";
const LIMIT: Duration = Duration::from_secs(15);

/// Checks made and failed.
struct Checks {
    passed: usize,
    failed: Vec<String>,
    start: Instant,
}

impl Checks {
    fn check(&mut self, claim: &str, ok: bool, detail: impl std::fmt::Display) {
        let t = self.start.elapsed().as_secs_f64();
        if ok {
            self.passed += 1;
            println!("  [ok]   {claim}: {detail}  ({t:.2} s)");
        } else {
            self.failed.push(claim.to_owned());
            println!("  [FAIL] {claim}: {detail}  ({t:.2} s)");
        }
    }
}

fn step(n: u32, title: &str) {
    println!("\n{n}. {title}");
}

fn config(name: &str, group: SocketAddrV4) -> Result<ChannelConfig, String> {
    ChannelConfig::builder()
        .name(name)
        .group(group)
        .join(GROUP)
        .topic("ticks", TopicQos::BestEffort)
        .topic("frames", TopicQos::ReliableFec)
        .topic("orders", TopicQos::Agreed)
        .topic("audits", TopicQos::Safe)
        .heartbeat(Duration::from_millis(50))
        .failure_timeout(Duration::from_millis(400))
        .build()
        .map_err(|e| e.to_string())
}

fn default_group() -> SocketAddrV4 {
    let pid = std::process::id();
    SocketAddrV4::new(
        std::net::Ipv4Addr::new(239, 255, 78, u8::try_from(pid % 250).unwrap_or(0) + 1),
        41_000 + u16::try_from(pid % 20_000).unwrap_or(0),
    )
}

pub(crate) fn main(args: &DemoArgs) -> Result<(), String> {
    if let (Some(name), Some(group)) = (&args.member, args.group) {
        return member::main(name, group);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_stack_size(16 << 20)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let group = args.group.unwrap_or_else(default_group);
    let mut checks = Checks {
        passed: 0,
        failed: Vec::new(),
        start: Instant::now(),
    };
    let outcome = runtime.block_on(async {
        tokio::time::timeout(Duration::from_secs(120), run(args, group, &mut checks)).await
    });
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(e)) => checks.check("the demo ran to its end", false, e),
        Err(_) => checks.check("the demo ran to its end", false, "took over 120 s"),
    }
    println!(
        "\nSummary: {} checks passed, {} failed",
        checks.passed,
        checks.failed.len()
    );
    for claim in &checks.failed {
        println!("  failed: {claim}");
    }
    if checks.failed.is_empty() {
        println!("Every feature shown above worked on real sockets (loopback multicast {group}).");
        Ok(())
    } else {
        Err(format!(
            "{} of {} checks failed",
            checks.failed.len(),
            checks.passed + checks.failed.len()
        ))
    }
}

/// How many of the `n` messages `"{prefix} 0"`, `"{prefix} 1"`, … arrive
/// on `sub` with `qos`, in that order, before one is late, missing or out
/// of place.
async fn in_order(sub: &mut Subscription, prefix: &str, qos: Qos, n: u32) -> u32 {
    let mut got = 0;
    while got < n {
        match tokio::time::timeout(LIMIT, sub.recv()).await {
            Ok(Some(m)) if m.payload == format!("{prefix} {got}").as_bytes() && m.qos == qos => {
                got += 1
            }
            _ => break,
        }
    }
    got
}

fn e(err: ChannelError) -> String {
    err.to_string()
}

async fn run(args: &DemoArgs, group: SocketAddrV4, checks: &mut Checks) -> Result<(), String> {
    println!(
        "blaze demo: members alpha, bravo and charlie on loopback multicast {group}, group {GROUP:?}"
    );
    let mut names: BTreeMap<MemberId, String> = BTreeMap::new();

    step(1, "Members join");
    let mut members = Vec::new();
    for name in ["alpha", "bravo", "charlie"] {
        let mut member = ClusterChannel::new(config(name, group)?);
        member.start().await.map_err(e)?;
        println!(
            "  {name} started: id {}, unicast {}",
            member.id(),
            member
                .local_addr()
                .map_or_else(String::new, |a| a.to_string())
        );
        names.insert(member.id(), name.to_owned());
        members.push(member);
    }
    let joins = Arc::new(AtomicUsize::new(0));
    for member in &members {
        let seen = member
            .wait_for_members(GROUP, LIMIT, |m| m.len() == 3)
            .await
            .map(|m| m.into_iter().map(|m| m.name).collect::<Vec<_>>());
        let ok = seen.is_ok();
        checks.check(
            &format!("{} sees three members", member.name()),
            ok,
            seen.map_or_else(|e| e.to_string(), |m| m.join(", ")),
        );
    }
    let counter = Arc::clone(&joins);
    members[0].on_member_event(move |_| {
        counter.fetch_add(1, Ordering::Relaxed);
    });
    let master = members[0]
        .wait_for_election(GROUP, LIMIT)
        .await
        .map_err(e)?;
    println!(
        "  coordinator (master): {}",
        names.get(&master).map_or("?", String::as_str)
    );

    step(2, "Broadcast on each quality of service");
    let n = args.messages;
    let mut news = [
        members[1].subscribe("news").await.map_err(e)?,
        members[2].subscribe("news").await.map_err(e)?,
    ];
    let mut ticks = [
        members[1].subscribe("ticks").await.map_err(e)?,
        members[2].subscribe("ticks").await.map_err(e)?,
    ];
    let mut frames = [
        members[1].subscribe("frames").await.map_err(e)?,
        members[2].subscribe("frames").await.map_err(e)?,
    ];
    for i in 0..n {
        members[0]
            .publish("news", format!("news {i}").as_bytes())
            .await
            .map_err(e)?;
        members[0]
            .publish("ticks", format!("tick {i}").as_bytes())
            .await
            .map_err(e)?;
        members[0]
            .publish("frames", format!("frame {i}").as_bytes())
            .await
            .map_err(e)?;
    }
    for (k, sub) in news.iter_mut().enumerate() {
        let got = in_order(sub, "news", Qos::Reliable, n).await;
        checks.check(
            &format!(
                "{} got every reliable message once, in order",
                members[k + 1].name()
            ),
            got == n,
            format!("{got}/{n} on topic \"news\""),
        );
    }
    for (k, sub) in frames.iter_mut().enumerate() {
        let got = in_order(sub, "frame", Qos::ReliableFec, n).await;
        checks.check(
            &format!(
                "{} got every reliable + FEC message once, in order",
                members[k + 1].name()
            ),
            got == n,
            format!("{got}/{n} on topic \"frames\" (Reed–Solomon parity, k = 16, m = 4)"),
        );
    }
    // Total order: alpha and bravo publish at the same time; all three
    // members deliver one and the same sequence (the senders included).
    let mut orders = [
        members[0].subscribe("orders").await.map_err(e)?,
        members[1].subscribe("orders").await.map_err(e)?,
        members[2].subscribe("orders").await.map_err(e)?,
    ];
    let per_sender = n.min(50) as usize;
    for i in 0..per_sender {
        for member in &members[..2] {
            member
                .publish("orders", format!("{} order {i}", member.name()).as_bytes())
                .await
                .map_err(e)?;
        }
    }
    let mut sequences: Vec<Vec<Vec<u8>>> = Vec::new();
    for sub in orders.iter_mut() {
        let mut seq = Vec::new();
        while seq.len() < 2 * per_sender {
            match tokio::time::timeout(LIMIT, sub.recv()).await {
                Ok(Some(m)) if m.qos == Qos::Agreed => seq.push(m.payload.to_vec()),
                Ok(Some(_)) => {}
                _ => break,
            }
        }
        sequences.push(seq);
    }
    let complete = sequences.iter().all(|s| s.len() == 2 * per_sender);
    let same = sequences.windows(2).all(|w| w[0] == w[1]);
    checks.check(
        "all three members delivered the same total order",
        complete && same,
        format!(
            "{} messages from two concurrent senders on topic \"orders\" (Totem ring, agreed delivery); lengths {:?}",
            2 * per_sender,
            sequences.iter().map(Vec::len).collect::<Vec<_>>()
        ),
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    for (k, sub) in ticks.iter_mut().enumerate() {
        let mut got = 0;
        while sub.try_recv().is_some() {
            got += 1;
        }
        checks.check(
            &format!("{} got best-effort messages", members[k + 1].name()),
            got > 0 && got <= n,
            format!(
                "{got}/{n} on topic \"ticks\" (best effort: losses allowed, none retransmitted)"
            ),
        );
    }

    step(3, "A point-to-point message");
    let mut directs = members[2].directs().await.map_err(e)?;
    members[0]
        .send_to(members[2].id(), b"for charlie only")
        .await
        .map_err(e)?;
    let direct = tokio::time::timeout(LIMIT, directs.recv())
        .await
        .ok()
        .flatten();
    checks.check(
        "charlie got alpha's direct message",
        direct
            .as_ref()
            .is_some_and(|d| d.payload == b"for charlie only" && d.from == members[0].id()),
        direct.map_or_else(
            || "nothing".into(),
            |d| String::from_utf8_lossy(&d.payload).into_owned(),
        ),
    );

    step(4, "Request and reply");
    members[1]
        .set_request_handler(|r| {
            (
                0,
                String::from_utf8_lossy(&r.payload)
                    .to_uppercase()
                    .into_bytes(),
            )
        })
        .await
        .map_err(e)?;
    let answer = members[0]
        .request(members[1].id(), b"hello bravo", Duration::from_secs(2))
        .await;
    checks.check(
        "alpha's request answered by bravo",
        answer.as_ref().is_ok_and(|a| a == b"HELLO BRAVO"),
        answer.map_or_else(
            |e| e.to_string(),
            |a| String::from_utf8_lossy(&a).into_owned(),
        ),
    );

    step(5, "A queue spreading work over consumers");
    // The coordinator, which dispatches the queue, produces every job
    // before any is consumed; the two others consume.
    let master = members[0]
        .wait_for_election(GROUP, LIMIT)
        .await
        .map_err(e)?;
    let producer = members.iter().position(|m| m.id() == master).unwrap_or(0);
    let consumers: Vec<usize> = (0..members.len()).filter(|i| *i != producer).collect();
    let (c1, c2) = (consumers[0], consumers[1]);
    let mut jobs_1 = members[c1].consume(GROUP, "jobs").await.map_err(e)?;
    let mut jobs_2 = members[c2].consume(GROUP, "jobs").await.map_err(e)?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let jobs = 20u8;
    for i in 0..jobs {
        members[producer]
            .queue_send(GROUP, "jobs", &[i])
            .await
            .map_err(e)?;
    }
    println!(
        "  {} sent {jobs} jobs to queue \"jobs\"; {} and {} consume",
        members[producer].name(),
        members[c1].name(),
        members[c2].name()
    );
    let mut done: Vec<(u8, usize)> = Vec::new();
    let deadline = tokio::time::Instant::now() + LIMIT;
    while done.len() < usize::from(jobs) {
        tokio::select! {
            Some(m) = jobs_1.recv() => { members[c1].ack(&m).await.map_err(e)?; done.push((m.payload[0], c1)); }
            Some(m) = jobs_2.recv() => { members[c2].ack(&m).await.map_err(e)?; done.push((m.payload[0], c2)); }
            () = tokio::time::sleep_until(deadline) => break,
        }
    }
    let mut ids: Vec<u8> = done.iter().map(|(i, _)| *i).collect();
    ids.sort_unstable();
    let by_first = done.iter().filter(|(_, w)| *w == c1).count();
    checks.check(
        "every job processed exactly once",
        ids == (0..jobs).collect::<Vec<u8>>(),
        format!(
            "{} jobs: {} {by_first}, {} {}",
            done.len(),
            members[c1].name(),
            members[c2].name(),
            done.len() - by_first
        ),
    );

    step(6, "The replicated map and a change listener");
    let changes = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&changes);
    members[2].on_map_change(move |c| {
        if let Ok(mut v) = seen.lock() {
            v.push(format!(
                "{}/{} = {}",
                c.map,
                String::from_utf8_lossy(&c.key),
                c.new
                    .as_deref()
                    .map_or("(removed)".into(), String::from_utf8_lossy)
            ));
        }
    });
    let version = members[1]
        .map_put(GROUP, "config", b"colour", b"blue")
        .await;
    checks.check(
        "bravo's put replicated",
        version.is_ok(),
        version.map_or_else(
            |e| e.to_string(),
            |v| format!("config/colour = blue, version {v}"),
        ),
    );
    let at_alpha = members[0]
        .wait_for_value(GROUP, "config", b"colour", LIMIT)
        .await;
    checks.check(
        "alpha reads the value",
        at_alpha.as_ref().is_ok_and(|v| v == b"blue"),
        at_alpha.map_or_else(
            |e| e.to_string(),
            |v| String::from_utf8_lossy(&v).into_owned(),
        ),
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    let heard = changes.lock().map(|v| v.clone()).unwrap_or_default();
    checks.check(
        "charlie's listener heard the change",
        heard.iter().any(|c| c == "config/colour = blue"),
        heard.join("; "),
    );

    step(7, "A lock with a lease");
    let lease = Duration::from_millis(600);
    let first = members[0].lock(GROUP, "config", b"colour", lease).await;
    checks.check(
        "alpha takes the lock",
        first.is_ok(),
        first.as_ref().map_or_else(
            |e| e.to_string(),
            |g| format!("fence {}, lease {lease:?}, not renewed", g.fence),
        ),
    );
    let asked = Instant::now();
    let second = members[1].lock(GROUP, "config", b"colour", lease).await;
    let waited = asked.elapsed();
    checks.check(
        "bravo gets it only once alpha's lease expired",
        matches!((&first, &second), (Ok(a), Ok(b)) if b.fence > a.fence) && waited >= lease / 2,
        second.as_ref().map_or_else(
            |e| e.to_string(),
            |g| format!("fence {} after waiting {waited:.2?}", g.fence),
        ),
    );
    let _ = members[1].unlock(GROUP, "config", b"colour").await;

    step(8, "A member killed; its departure seen by the others");
    let master = members[0]
        .wait_for_election(GROUP, LIMIT)
        .await
        .map_err(e)?;
    let victim = members.iter().position(|m| m.id() != master).unwrap_or(2);
    let victim_id = members[victim].id();
    let victim_name = members[victim].name().to_owned();
    let mut feeds: Vec<_> = members
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != victim)
        .map(|(i, m)| (i, m.events()))
        .collect();
    members[victim].kill();
    println!("  killed {victim_name} (no goodbye: its task stopped)");
    for (i, feed) in &mut feeds {
        let seen = tokio::time::timeout(LIMIT, async {
            while let Some(ev) = feed.recv().await {
                if let GroupEvent::MemberFailed { member, .. } = ev
                    && member == victim_id
                {
                    return true;
                }
            }
            false
        })
        .await
        .unwrap_or(false);
        checks.check(
            &format!("{} saw {victim_name} fail", members[*i].name()),
            seen,
            if seen {
                "member failed event"
            } else {
                "not seen"
            },
        );
    }
    members.remove(victim);
    for member in &members {
        let left = member
            .wait_for_members(GROUP, LIMIT, |m| m.len() == 2)
            .await;
        checks.check(
            &format!("{}'s view has two members", member.name()),
            left.is_ok(),
            left.map_or_else(
                |e| e.to_string(),
                |m| m.into_iter().map(|m| m.name).collect::<Vec<_>>().join(", "),
            ),
        );
    }

    step(
        9,
        "A new member joins and gets the map; the coordinator fails over",
    );
    let mut delta = ClusterChannel::new(config("delta", group)?);
    delta.start().await.map_err(e)?;
    names.insert(delta.id(), "delta".into());
    let transferred = delta
        .wait_for_value(GROUP, "config", b"colour", LIMIT)
        .await;
    checks.check(
        "delta received the map on joining",
        transferred.as_ref().is_ok_and(|v| v == b"blue"),
        transferred.map_or_else(
            |e| e.to_string(),
            |v| format!("config/colour = {}", String::from_utf8_lossy(&v)),
        ),
    );
    members.push(delta);
    for member in &members {
        let _ = member
            .wait_for_members(GROUP, LIMIT, |m| m.len() == 3)
            .await;
    }
    let old_master = members[0]
        .wait_for_election(GROUP, LIMIT)
        .await
        .map_err(e)?;
    let master_changes = Arc::new(Mutex::new(Vec::new()));
    let Some(master_index) = members.iter().position(|m| m.id() == old_master) else {
        return Err("the coordinator is not among the live members".into());
    };
    let old_name = members[master_index].name().to_owned();
    for member in members.iter().filter(|m| m.id() != old_master) {
        let log = Arc::clone(&master_changes);
        let who = member.name().to_owned();
        member.on_master_changed(move |_, new, _| {
            if let Ok(mut v) = log.lock() {
                v.push((who.clone(), new));
            }
        });
    }
    members[master_index].kill();
    members.remove(master_index);
    println!("  killed the coordinator, {old_name}");
    let mut new_masters = Vec::new();
    for member in &members {
        let deadline = tokio::time::Instant::now() + LIMIT;
        let master = loop {
            match member.coordinator(GROUP).await.map_err(e)? {
                Some(m) if m != old_master => break Some(m),
                _ if tokio::time::Instant::now() >= deadline => break None,
                _ => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        };
        new_masters.push(master);
    }
    let agreed = new_masters.first().copied().flatten();
    checks.check(
        "the survivors agree on a new coordinator",
        agreed.is_some() && new_masters.iter().all(|m| *m == agreed),
        agreed.map_or("none".into(), |m| {
            names.get(&m).cloned().unwrap_or_else(|| m.to_string())
        }),
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    let heard = master_changes.lock().map(|v| v.len()).unwrap_or(0);
    checks.check(
        "master-changed listeners fired",
        heard >= members.len(),
        format!("{heard} notifications"),
    );
    for member in &members {
        let value = member
            .map_get(GROUP, "config", b"colour")
            .await
            .map_err(e)?;
        checks.check(
            &format!("{}'s map is intact", member.name()),
            value.as_deref() == Some(b"blue"),
            value.map_or("missing".into(), |v| {
                String::from_utf8_lossy(&v).into_owned()
            }),
        );
    }
    let after = members[0]
        .map_put(GROUP, "config", b"shape", b"round")
        .await;
    let replicated = match &after {
        Ok(_) => members[1]
            .wait_for_value(GROUP, "config", b"shape", LIMIT)
            .await
            .is_ok(),
        Err(_) => false,
    };
    checks.check(
        "writes work under the new coordinator",
        replicated,
        after.map_or_else(
            |e| e.to_string(),
            |v| format!("config/shape = round, version {v}"),
        ),
    );

    println!("\nShutting down (graceful leaves).");
    for member in &mut members {
        member.shutdown().await.map_err(e)?;
    }
    ring_ordered_map(group, checks).await
}

/// Step 10: three more members whose map is ordered by the group's Totem
/// ring rather than by a coordinator.
async fn ring_ordered_map(group: SocketAddrV4, checks: &mut Checks) -> Result<(), String> {
    step(
        10,
        "The map ordered by the Totem ring (map_ordering = totem)",
    );
    let ring_group = SocketAddrV4::new(*group.ip(), group.port().wrapping_add(1).max(1024));
    let mut members = Vec::new();
    for name in ["echo", "foxtrot", "golf"] {
        let mut config = config(name, ring_group)?;
        config.map_ordering = MapOrdering::Totem;
        let mut member = ClusterChannel::new(config);
        member.start().await.map_err(e)?;
        members.push(member);
    }
    for member in &members {
        member
            .wait_for_members(GROUP, LIMIT, |m| m.len() == 3)
            .await
            .map_err(e)?;
    }
    println!("  echo, foxtrot and golf joined {ring_group}; every map write goes through the ring");
    // Every member writes at once: one total order, no coordinator.
    let writes = write_from_each(&members).await;
    let versions: Vec<u64> = writes
        .iter()
        .filter_map(|w| w.as_ref().ok().copied())
        .collect();
    let mut distinct = versions.clone();
    distinct.sort_unstable();
    distinct.dedup();
    checks.check(
        "concurrent writes from three members are ordered (distinct versions)",
        versions.len() == 3 && distinct.len() == 3,
        format!("versions {versions:?}"),
    );
    let mut same = true;
    for member in &members {
        for (i, _) in members.iter().enumerate() {
            let key = format!("from-{i}");
            same &= member
                .wait_for_value(GROUP, "ring", key.as_bytes(), LIMIT)
                .await
                .is_ok();
        }
    }
    checks.check(
        "every member reads every ring-ordered write",
        same,
        "3 keys at 3 members",
    );
    let grant = members[1]
        .lock(GROUP, "ring", b"from-0", Duration::from_secs(5))
        .await;
    // Each member applies the grant when the ring delivers it there:
    // golf may deliver it a little after foxtrot.
    let holder = tokio::time::timeout(LIMIT, async {
        loop {
            match members[2].lock_holder(GROUP, "ring", b"from-0").await {
                Ok(Some(h)) => return Some(h),
                Ok(None) => tokio::time::sleep(Duration::from_millis(5)).await,
                Err(_) => return None,
            }
        }
    })
    .await
    .unwrap_or(None);
    checks.check(
        "a lock granted through the ring is seen by the others",
        matches!((&grant, &holder), (Ok(_), Some(h)) if *h == members[1].id()),
        grant.as_ref().map_or_else(
            |e| e.to_string(),
            |g| format!("foxtrot holds it, fence {}", g.fence),
        ),
    );
    let mut leaver = members.remove(1);
    leaver.shutdown().await.map_err(e)?;
    let released = tokio::time::timeout(LIMIT, async {
        loop {
            match members[1].lock_holder(GROUP, "ring", b"from-0").await {
                Ok(None) => return true,
                Ok(Some(_)) => tokio::time::sleep(Duration::from_millis(20)).await,
                Err(_) => return false,
            }
        }
    })
    .await
    .unwrap_or(false);
    checks.check(
        "foxtrot leaves; its lock is released on exit",
        released,
        "release-lock-on-exit, applied at the ring's configuration change",
    );
    for member in &mut members {
        member.shutdown().await.map_err(e)?;
    }
    Ok(())
}

/// One write per member, all at once.
async fn write_from_each(members: &[ClusterChannel]) -> Vec<Result<u64, ChannelError>> {
    let put = |i: usize| {
        let key = format!("from-{i}");
        let value = format!("value {i}");
        async move {
            members[i]
                .map_put(GROUP, "ring", key.as_bytes(), value.as_bytes())
                .await
        }
    };
    let (a, b, c) = tokio::join!(put(0), put(1), put(2));
    vec![a, b, c]
}
