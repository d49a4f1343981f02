//! `blaze node --control stdio`: a member driven by line commands on
//! standard input that reports what it sees as JSON lines on standard
//! output, for test harnesses (the network-namespace cluster tests).
//!
//! Every output line is one JSON object with `ev` (what happened) and `t`
//! (microseconds of `CLOCK_MONOTONIC`, comparable between the processes of
//! a host). Commands run concurrently; each long one is bounded in count
//! and in time. End of input (the harness went away) leaves the group and
//! exits, as `quit` does.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use blaze_std::{ChannelConfig, ClusterChannel, GroupEvent, Message, Subscription};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::net::{NetArgs, explain, shutdown_signal};
use crate::os::monotonic_ns;

/// The commands, as `blaze node --help` lists them (a macro, for
/// `concat!` in the command's attributes).
macro_rules! help {
    () => {
        "\
Control (--control stdio): one command per line on standard input, one JSON
object per line on standard output, each with \"ev\" and \"t\" (µs of
CLOCK_MONOTONIC). Commands:
  publish TOPIC COUNT RATE     COUNT messages \"NAME:TOPIC:SEQ\" at RATE/s
                               (0: as fast as the channel takes them)
                               -> publish_failed per refusal, then published
  put MAP KEY VALUE            -> put_ack {version} or put_failed
  puts MAP PREFIX COUNT [GAP_MS]
                               keys PREFIX0.., values NAME-0.., one after the
                               other (GAP_MS apart); put_ack or put_failed
                               each, then puts_done
  get MAP KEY                  -> value {value or null}
  locks MAP KEY COUNT LEASE_MS HOLD_MS
                               take, hold and release the lock COUNT times
                               -> lock_granted {fence} when granted, then
                               lock_held {fence, t_req, t_grant, t_end}
                               (t_end: release or lease end, the earlier),
                               lock_failed, then locks_done
  members | coordinator        -> members {members} | coordinator {id}
  quit                         leave gracefully (so does end of input)
Reported as they happen: up {id, name, addr}, view {view_id, count,
members, merge}, merged {view_id} (partitions healed), joined, left, failed,
coordinator_changed, msg {topic, sender, payload, qos} (topics of the
configuration's [topics] table), map {map, key, kind, old, new, cause},
map_merged {view_id, won, winner_size, own_size} (the map's merge outcome:
the larger side before the merge wins), lock_lost, unrecoverable, ring {kind
(regular or transitional), ring_seq, representative, members} (total-order
ring configurations), error {line, error}, and down once the member left."
    };
}
pub(crate) use help;

/// Longest a `publish`, `puts` or `locks` command keeps going.
const COMMAND_LIMIT: Duration = Duration::from_secs(90);
/// Most messages, writes or lock rounds one command may ask for.
const MAX_COUNT: u64 = 100_000;

/// Microseconds of the monotonic clock every process of the host shares.
fn now_us() -> u64 {
    monotonic_ns() / 1_000
}

/// Writes one event line (standard output is line buffered). A reader
/// that went away is not an error here: end of input ends the member.
fn emit(ev: &str, mut fields: Value) {
    if let Value::Object(map) = &mut fields {
        map.insert("ev".into(), ev.into());
        map.insert("t".into(), now_us().into());
    }
    let _ = writeln!(std::io::stdout().lock(), "{fields}");
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs the member under control until `quit`, end of input or a signal.
pub(crate) async fn run(config: ChannelConfig) -> Result<(), String> {
    let group = NetArgs::group_name(&config);
    let mut member = ClusterChannel::new(config.clone());
    let mut subscriptions = Vec::new();
    for topic in config.topics.keys() {
        subscriptions.push(member.subscribe(topic).await.map_err(explain)?);
    }
    let events = member.events();
    member.start().await.map_err(explain)?;
    let member = Arc::new(member);
    emit(
        "up",
        json!({
            "id": member.id().to_string(),
            "name": member.name(),
            "addr": member.local_addr().map(|a| a.to_string()),
            "group": group,
        }),
    );
    let mut tasks = JoinSet::new();
    for subscription in subscriptions {
        tasks.spawn(report_messages(subscription));
    }
    tasks.spawn(report_events(Arc::clone(&member), events));
    let mut lines = read_stdin();
    loop {
        tokio::select! {
            () = shutdown_signal() => break,
            line = lines.recv() => match line {
                None => break,
                Some(line) if line.trim() == "quit" => break,
                Some(line) => {
                    if let Err(e) = command(&mut tasks, &member, &group, &line) {
                        emit("error", json!({ "line": line, "error": e }));
                    }
                }
            },
        }
    }
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
    match Arc::try_unwrap(member) {
        Ok(mut member) => member.shutdown().await.map_err(explain)?,
        Err(_) => return Err("the member is still in use at shutdown".into()),
    }
    emit("down", json!({}));
    Ok(())
}

/// Standard input's lines, read on a thread of their own; the stream ends
/// with the input.
fn read_stdin() -> mpsc::UnboundedReceiver<String> {
    let (tx, rx) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

async fn report_messages(mut subscription: Subscription) {
    while let Some(Message {
        group,
        topic,
        sender,
        payload,
        qos,
    }) = subscription.recv().await
    {
        emit(
            "msg",
            json!({
                "group": group,
                "topic": topic,
                "sender": sender.to_string(),
                "payload": text(&payload),
                "qos": qos.to_string(),
            }),
        );
    }
}

async fn report_events(member: Arc<ClusterChannel>, mut events: blaze_std::Events) {
    while let Some(event) = events.recv().await {
        match event {
            GroupEvent::ViewChanged {
                group,
                view_id,
                members,
                merge,
            } => {
                let ids: Vec<String> = member
                    .members(&group)
                    .await
                    .map(|m| m.iter().map(|m| m.id.to_string()).collect())
                    .unwrap_or_default();
                emit(
                    "view",
                    json!({
                        "group": group,
                        "view_id": view_id,
                        "count": members,
                        "members": ids,
                        "merge": merge,
                    }),
                );
            }
            GroupEvent::Merged { group, view_id } => {
                emit("merged", json!({ "group": group, "view_id": view_id }))
            }
            GroupEvent::MapMerged {
                group,
                view_id,
                won,
                winner_size,
                own_size,
            } => emit(
                "map_merged",
                json!({
                    "group": group,
                    "view_id": view_id,
                    "won": won,
                    "winner_size": winner_size,
                    "own_size": own_size,
                }),
            ),
            GroupEvent::MemberJoined { group, member } => emit(
                "joined",
                json!({ "group": group, "member": member.to_string() }),
            ),
            GroupEvent::MemberLeft { group, member } => emit(
                "left",
                json!({ "group": group, "member": member.to_string() }),
            ),
            GroupEvent::MemberFailed { group, member } => emit(
                "failed",
                json!({ "group": group, "member": member.to_string() }),
            ),
            GroupEvent::CoordinatorChanged {
                group,
                coordinator,
                previous,
            } => emit(
                "coordinator_changed",
                json!({
                    "group": group,
                    "coordinator": coordinator.to_string(),
                    "previous": previous.map(|p| p.to_string()),
                }),
            ),
            GroupEvent::MapChanged(c) => emit(
                "map",
                json!({
                    "group": c.group,
                    "map": c.map,
                    "key": text(&c.key),
                    "kind": format!("{:?}", c.kind),
                    "old": c.old.as_deref().map(text),
                    "new": c.new.as_deref().map(text),
                    "cause": c.cause.to_string(),
                }),
            ),
            GroupEvent::LockLost {
                group,
                map,
                key,
                fence,
            } => emit(
                "lock_lost",
                json!({ "group": group, "map": map, "key": text(&key), "fence": fence }),
            ),
            GroupEvent::Unrecoverable { group, sender } => emit(
                "unrecoverable",
                json!({ "group": group, "sender": sender.to_string() }),
            ),
            GroupEvent::RingChanged {
                group,
                transitional,
                ring_seq,
                representative,
                members,
            } => emit(
                "ring",
                json!({
                    "group": group,
                    "kind": if transitional { "transitional" } else { "regular" },
                    "ring_seq": ring_seq,
                    "representative": representative.map(|r| r.to_string()),
                    "members": members.iter().map(ToString::to_string).collect::<Vec<_>>(),
                }),
            ),
            other => emit("event", json!({ "debug": format!("{other:?}") })),
        }
    }
}

/// A parsed command line, started as a task when it takes time.
fn command(
    tasks: &mut JoinSet<()>,
    member: &Arc<ClusterChannel>,
    group: &str,
    line: &str,
) -> Result<(), String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let m = Arc::clone(member);
    let g = group.to_owned();
    let owned = |i: usize| -> Result<String, String> {
        words
            .get(i)
            .map(|w| (*w).to_owned())
            .ok_or_else(|| format!("argument {i} missing"))
    };
    let number = |i: usize| -> Result<u64, String> {
        owned(i)?
            .parse::<u64>()
            .map_err(|e| format!("argument {i}: {e}"))
    };
    match words.first().copied() {
        None => {}
        Some("publish") => {
            let (topic, count, rate) = (owned(1)?, number(2)?.min(MAX_COUNT), number(3)?);
            tasks.spawn(async move { publish(&m, &g, &topic, count, rate).await });
        }
        Some("put") => {
            let (map, key, value) = (owned(1)?, owned(2)?, owned(3)?);
            tasks.spawn(async move { put(&m, &g, &map, &key, &value).await });
        }
        Some("puts") => {
            let (map, prefix, count) = (owned(1)?, owned(2)?, number(3)?.min(MAX_COUNT));
            let gap = Duration::from_millis(if words.len() > 4 { number(4)? } else { 0 });
            tasks.spawn(async move {
                let started = tokio::time::Instant::now();
                for i in 0..count {
                    if started.elapsed() > COMMAND_LIMIT {
                        break;
                    }
                    if i > 0 {
                        tokio::time::sleep(gap).await;
                    }
                    let value = format!("{}-{i}", m.name());
                    put(&m, &g, &map, &format!("{prefix}{i}"), &value).await;
                }
                emit("puts_done", json!({ "map": map, "prefix": prefix }));
            });
        }
        Some("get") => {
            let (map, key) = (owned(1)?, owned(2)?);
            tasks.spawn(async move {
                let value = m.map_get(&g, &map, key.as_bytes()).await;
                match value {
                    Ok(value) => emit(
                        "value",
                        json!({ "map": map, "key": key, "value": value.as_deref().map(text) }),
                    ),
                    Err(e) => emit(
                        "error",
                        json!({ "line": format!("get {map} {key}"), "error": e.to_string() }),
                    ),
                }
            });
        }
        Some("locks") => {
            let (map, key) = (owned(1)?, owned(2)?);
            let count = number(3)?.min(MAX_COUNT);
            let lease = Duration::from_millis(number(4)?);
            let hold = Duration::from_millis(number(5)?);
            tasks.spawn(async move { locks(&m, &g, &map, &key, count, lease, hold).await });
        }
        Some("members") => {
            tasks.spawn(async move {
                let ids: Vec<String> = m
                    .members(&g)
                    .await
                    .map(|ms| ms.iter().map(|m| m.id.to_string()).collect())
                    .unwrap_or_default();
                emit("members", json!({ "group": g, "members": ids }));
            });
        }
        Some("coordinator") => {
            tasks.spawn(async move {
                let id = m.coordinator(&g).await.ok().flatten();
                emit(
                    "coordinator",
                    json!({ "group": g, "id": id.map(|i| i.to_string()) }),
                );
            });
        }
        Some(other) => return Err(format!("unknown command {other:?}")),
    }
    Ok(())
}

/// Publishes `count` messages `NAME:TOPIC:SEQ` at `rate` per second (0:
/// as fast as the channel takes them), for at most [`COMMAND_LIMIT`].
async fn publish(member: &ClusterChannel, group: &str, topic: &str, count: u64, rate: u64) {
    let started = tokio::time::Instant::now();
    let mut sent = 0u64;
    let mut failed = 0u64;
    for seq in 0..count {
        if started.elapsed() > COMMAND_LIMIT {
            break;
        }
        if rate > 0 {
            let due = started + Duration::from_secs_f64(seq as f64 / rate as f64);
            tokio::time::sleep_until(due).await;
        }
        let payload = format!("{}:{topic}:{seq}", member.name());
        match member.publish_in(group, topic, payload.as_bytes()).await {
            Ok(()) => sent += 1,
            Err(e) => {
                failed += 1;
                emit(
                    "publish_failed",
                    json!({ "topic": topic, "seq": seq, "error": e.to_string() }),
                );
            }
        }
    }
    emit(
        "published",
        json!({ "topic": topic, "sent": sent, "failed": failed }),
    );
}

async fn put(member: &ClusterChannel, group: &str, map: &str, key: &str, value: &str) {
    let t_req = now_us();
    match member
        .map_put(group, map, key.as_bytes(), value.as_bytes())
        .await
    {
        Ok(version) => emit(
            "put_ack",
            json!({ "map": map, "key": key, "value": value, "version": version, "t_req": t_req }),
        ),
        Err(e) => emit(
            "put_failed",
            json!({ "map": map, "key": key, "value": value, "error": e.to_string(), "t_req": t_req }),
        ),
    }
}

/// Takes, holds and releases a lock `count` times, for at most
/// [`COMMAND_LIMIT`].
async fn locks(
    member: &ClusterChannel,
    group: &str,
    map: &str,
    key: &str,
    count: u64,
    lease: Duration,
    hold: Duration,
) {
    let started = tokio::time::Instant::now();
    let lease_us = u64::try_from(lease.as_micros()).unwrap_or(u64::MAX);
    for round in 0..count {
        if started.elapsed() > COMMAND_LIMIT {
            break;
        }
        let t_req = now_us();
        match member.lock(group, map, key.as_bytes(), lease).await {
            Ok(grant) => {
                let t_grant = now_us();
                emit(
                    "lock_granted",
                    json!({ "map": map, "key": key, "round": round, "fence": grant.fence }),
                );
                tokio::time::sleep(hold).await;
                let t_unlock = now_us();
                let unlocked = member.unlock(group, map, key.as_bytes()).await;
                emit(
                    "lock_held",
                    json!({
                        "map": map,
                        "key": key,
                        "round": round,
                        "fence": grant.fence,
                        "t_req": t_req,
                        "t_grant": t_grant,
                        "t_end": t_unlock.min(t_req.saturating_add(lease_us)),
                        "lease_us": lease_us,
                        "unlock_error": unlocked.err().map(|e| e.to_string()),
                    }),
                );
            }
            Err(e) => emit(
                "lock_failed",
                json!({ "map": map, "key": key, "round": round, "error": e.to_string(), "t_req": t_req }),
            ),
        }
    }
    emit("locks_done", json!({ "map": map, "key": key }));
}
