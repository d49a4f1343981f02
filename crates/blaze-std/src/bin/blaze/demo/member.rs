//! `blaze demo --member NAME --group ADDR`: one member of the demo
//! cluster in this process, commanded one line at a time on standard
//! input, answering one line per command on standard output (`ok ...`
//! or `fail ...`). A test (or a person) runs one such process per member
//! and plays a scenario across them: every service of the channel API
//! between separate processes on real sockets.
//!
//! Commands (arguments separated by single spaces; ids are 32 hex
//! digits; `quit` ends the process after a graceful shutdown):
//!
//! | command | answer |
//! |---|---|
//! | `subscribe TOPIC` | `ok` (before or after `start`) |
//! | `inbox TOPIC` | `ok` (the zero-allocation subscription) |
//! | `start` | `ok ID` |
//! | `members N` | `ok NAME=ID ...` once the view has `N` members |
//! | `join GROUP` / `leave GROUP` / `members-in GROUP N` | `ok` / `ok` / `ok NAME=ID ...` |
//! | `publish-in GROUP TOPIC COUNT PREFIX` | `ok` |
//! | `publish-big TOPIC COUNT SIZE` / `expect-big TOPIC COUNT SIZE` | `ok` / `ok N` |
//! | `coordinator` | `ok ID` once elected |
//! | `publish TOPIC COUNT PREFIX` | `ok` after `PREFIX 0` … published |
//! | `publish-fast TOPIC COUNT PREFIX` | the same through a `Publisher` |
//! | `expect TOPIC COUNT PREFIX QOS` | `ok N`: the `N` in-order messages before a gap |
//! | `expect-fast TOPIC COUNT PREFIX` | the same from the inbox |
//! | `drain TOPIC` | `ok N`: the messages waiting |
//! | `collect TOPIC COUNT` | `ok HASH N`: a hash of the first `COUNT` payloads in order |
//! | `directs` / `send-to ID TEXT` / `expect-direct` | `ok` / `ok` / `ok FROM TEXT` |
//! | `serve-upper` / `request ID TEXT` | `ok` / `ok ANSWER` |
//! | `consume QUEUE` / `queue-send QUEUE COUNT` / `consumed QUEUE IDLE_MS` | `ok` / `ok` / `ok JOB,...` (`r` after a redelivered job) |
//! | `hold QUEUE` | `ok JOB`: one job received and never acknowledged |
//! | `request-any TEXT` | `ok ANSWER` |
//! | `watch-map` / `heard` | `ok` / `ok MAP/KEY=VALUE ...` |
//! | `put MAP KEY VALUE` / `get MAP KEY` / `wait-value MAP KEY` | `ok VERSION` / `ok VALUE` / `ok VALUE` |
//! | `put-owned MAP KEY VALUE` | `ok VERSION`: removed when this member leaves |
//! | `remove MAP KEY` / `wait-gone MAP KEY` | `ok` / `ok` once the key is absent |
//! | `lock MAP KEY LEASE_MS` | `ok FENCE WAITED_MS` |
//! | `events` / `expect-failed ID` / `expect-left ID` | `ok` / `ok` once the member failed / left |
//! | `watch-master` / `master-changes` | `ok` / `ok N` |
//! | `new-coordinator OLD_ID` | `ok ID` once the coordinator is another |
//! | `quit` | `ok`, then the process exits |

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hasher};
use std::io::BufRead;
use std::net::SocketAddrV4;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use blaze_std::{
    ChannelError, ClusterChannel, Events, GroupEvent, Inbox, MemberId, Message, Publisher, Qos,
    QueueMessage, RECORD_CAPACITY, Subscription, WriteOptions,
};

use super::{GROUP, LIMIT, config};

/// One member's state between commands.
struct Member {
    channel: ClusterChannel,
    subs: HashMap<String, Subscription<Message>>,
    inboxes: HashMap<String, Inbox>,
    publishers: HashMap<String, Publisher>,
    directs: Option<Subscription<blaze_std::Direct>>,
    queues: HashMap<String, Subscription<QueueMessage>>,
    heard: Arc<Mutex<Vec<String>>>,
    /// Queue messages received and deliberately left unacknowledged.
    held: Vec<QueueMessage>,
    events: Option<Events>,
    master_changes: Arc<AtomicUsize>,
}

/// Runs the member until `quit` or the end of standard input.
pub(crate) fn main(name: &str, group: SocketAddrV4) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_stack_size(16 << 20)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let (tx, mut lines) = tokio::sync::mpsc::unbounded_channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    runtime.block_on(async {
        let mut member = Member {
            channel: ClusterChannel::new(config(name, group)?),
            subs: HashMap::new(),
            inboxes: HashMap::new(),
            publishers: HashMap::new(),
            directs: None,
            queues: HashMap::new(),
            heard: Arc::new(Mutex::new(Vec::new())),
            held: Vec::new(),
            events: None,
            master_changes: Arc::new(AtomicUsize::new(0)),
        };
        while let Some(line) = lines.recv().await {
            let words: Vec<&str> = line.split(' ').filter(|w| !w.is_empty()).collect();
            let quit = words.first() == Some(&"quit");
            let answer = match member.run(&words).await {
                Ok(text) if text.is_empty() => "ok".to_owned(),
                Ok(text) => format!("ok {text}"),
                Err(e) => format!("fail {e}"),
            };
            println!("{answer}");
            if quit {
                break;
            }
        }
        Ok(())
    })
}

/// Waits until `group` has `n` members; answers `name=id` for each.
async fn members_text(ch: &ClusterChannel, group: &str, n: usize) -> Result<String, String> {
    let members = ch
        .wait_for_members(group, LIMIT, |m| m.len() == n)
        .await
        .map_err(e)?;
    Ok(members
        .iter()
        .map(|m| format!("{}={}", m.name, id_text(m.id)))
        .collect::<Vec<_>>()
        .join(" "))
}

fn id_text(id: MemberId) -> String {
    format!("{:032x}", id.as_u128())
}

fn parse_id(text: &str) -> Result<MemberId, String> {
    u128::from_str_radix(text, 16)
        .map(MemberId::from_u128)
        .map_err(|e| format!("bad id {text:?}: {e}"))
}

fn number<T: std::str::FromStr>(text: &str) -> Result<T, String> {
    text.parse().map_err(|_| format!("bad number {text:?}"))
}

fn qos(text: &str) -> Result<Qos, String> {
    Ok(match text {
        "best-effort" => Qos::BestEffort,
        "reliable" => Qos::Reliable,
        "fec" => Qos::ReliableFec,
        "agreed" => Qos::Agreed,
        "safe" => Qos::Safe,
        _ => return Err(format!("unknown qos {text:?}")),
    })
}

/// The `i`th large test message: `size` bytes of a pattern that depends
/// on `i` and the position.
fn big(i: u32, size: usize) -> Vec<u8> {
    (0..size)
        .map(|k| (k as u32).wrapping_mul(31).wrapping_add(i) as u8)
        .collect()
}

fn e(err: ChannelError) -> String {
    err.to_string()
}

impl Member {
    async fn run(&mut self, words: &[&str]) -> Result<String, String> {
        let arg = |i: usize| {
            words
                .get(i)
                .copied()
                .ok_or_else(|| format!("{:?} needs more arguments", words.first()))
        };
        let ch = &mut self.channel;
        match words.first().copied().unwrap_or("") {
            "subscribe" => {
                let topic = arg(1)?;
                let sub = ch.subscribe(topic).await.map_err(e)?;
                self.subs.insert(topic.to_owned(), sub);
                Ok(String::new())
            }
            "inbox" => {
                let topic = arg(1)?;
                let inbox = ch.subscribe_inbox(topic).await.map_err(e)?;
                self.inboxes.insert(topic.to_owned(), inbox);
                Ok(String::new())
            }
            "start" => {
                ch.start().await.map_err(e)?;
                Ok(id_text(ch.id()))
            }
            "members" => members_text(ch, GROUP, number(arg(1)?)?).await,
            "join" => {
                ch.join(arg(1)?).await.map_err(e)?;
                Ok(String::new())
            }
            "leave" => {
                ch.leave(arg(1)?).await.map_err(e)?;
                Ok(String::new())
            }
            "members-in" => members_text(ch, arg(1)?, number(arg(2)?)?).await,
            "publish-in" => {
                let (group, topic) = (arg(1)?, arg(2)?);
                let (count, prefix) = (number::<u32>(arg(3)?)?, arg(4)?);
                for i in 0..count {
                    ch.publish_in(group, topic, format!("{prefix} {i}").as_bytes())
                        .await
                        .map_err(e)?;
                }
                Ok(String::new())
            }
            "publish-big" => {
                let (topic, count, size) =
                    (arg(1)?, number::<u32>(arg(2)?)?, number::<usize>(arg(3)?)?);
                for i in 0..count {
                    ch.publish(topic, &big(i, size)).await.map_err(e)?;
                }
                Ok(String::new())
            }
            "expect-big" => {
                let (topic, count, size) =
                    (arg(1)?, number::<u32>(arg(2)?)?, number::<usize>(arg(3)?)?);
                let sub = self.subs.get_mut(topic).ok_or("not subscribed")?;
                let mut got = 0;
                while got < count {
                    match tokio::time::timeout(LIMIT, sub.recv()).await {
                        Ok(Some(m)) if m.payload == big(got, size) => got += 1,
                        _ => break,
                    }
                }
                Ok(got.to_string())
            }
            "coordinator" => Ok(id_text(
                ch.wait_for_election(GROUP, LIMIT).await.map_err(e)?,
            )),
            "publish" => {
                let (topic, count, prefix) = (arg(1)?, number::<u32>(arg(2)?)?, arg(3)?);
                for i in 0..count {
                    ch.publish(topic, format!("{prefix} {i}").as_bytes())
                        .await
                        .map_err(e)?;
                }
                Ok(String::new())
            }
            "publish-fast" => {
                let (topic, count, prefix) = (arg(1)?, number::<u32>(arg(2)?)?, arg(3)?);
                if !self.publishers.contains_key(topic) {
                    let publisher = ch.publisher(topic).await.map_err(e)?;
                    self.publishers.insert(topic.to_owned(), publisher);
                }
                let publisher = self.publishers.get_mut(topic).ok_or("no publisher")?;
                for i in 0..count {
                    publisher
                        .publish(format!("{prefix} {i}").as_bytes())
                        .await
                        .map_err(e)?;
                }
                publisher.flush().await.map_err(e)?;
                match publisher.last_refusal() {
                    Some(err) => Err(format!("{} refused: {err}", publisher.refused())),
                    None => Ok(String::new()),
                }
            }
            "expect" => {
                let (topic, count, prefix) = (arg(1)?, number::<u32>(arg(2)?)?, arg(3)?);
                let want = qos(arg(4)?)?;
                let sub = self.subs.get_mut(topic).ok_or("not subscribed")?;
                let mut got = 0;
                while got < count {
                    match tokio::time::timeout(LIMIT, sub.recv()).await {
                        Ok(Some(m))
                            if m.payload == format!("{prefix} {got}").as_bytes()
                                && m.qos == want =>
                        {
                            got += 1;
                        }
                        _ => break,
                    }
                }
                Ok(got.to_string())
            }
            "expect-fast" => {
                let (topic, count, prefix) = (arg(1)?, number::<u32>(arg(2)?)?, arg(3)?);
                let inbox = self.inboxes.get_mut(topic).ok_or("no inbox")?;
                let mut buf = [0u8; RECORD_CAPACITY];
                let mut got = 0;
                while got < count {
                    match tokio::time::timeout(LIMIT, inbox.recv_into(&mut buf)).await {
                        Ok(Some(m)) if buf[..m.len] == *format!("{prefix} {got}").as_bytes() => {
                            got += 1;
                        }
                        _ => break,
                    }
                }
                Ok(got.to_string())
            }
            "drain" => {
                let sub = self.subs.get_mut(arg(1)?).ok_or("not subscribed")?;
                tokio::time::sleep(Duration::from_millis(300)).await;
                let mut n = 0;
                while sub.try_recv().is_some() {
                    n += 1;
                }
                Ok(n.to_string())
            }
            "collect" => {
                let (topic, count) = (arg(1)?, number::<usize>(arg(2)?)?);
                let sub = self.subs.get_mut(topic).ok_or("not subscribed")?;
                let mut hash = DefaultHasher::new();
                let mut n = 0;
                while n < count {
                    match tokio::time::timeout(LIMIT, sub.recv()).await {
                        Ok(Some(m)) => {
                            hash.write(&m.payload);
                            hash.write_u8(0);
                            n += 1;
                        }
                        _ => break,
                    }
                }
                Ok(format!("{:016x} {n}", hash.finish()))
            }
            "directs" => {
                self.directs = Some(ch.directs().await.map_err(e)?);
                Ok(String::new())
            }
            "send-to" => {
                ch.send_to(parse_id(arg(1)?)?, arg(2)?.as_bytes())
                    .await
                    .map_err(e)?;
                Ok(String::new())
            }
            "expect-direct" => {
                let directs = self.directs.as_mut().ok_or("no directs")?;
                match tokio::time::timeout(LIMIT, directs.recv()).await {
                    Ok(Some(d)) => Ok(format!(
                        "{} {}",
                        id_text(d.from),
                        String::from_utf8_lossy(&d.payload)
                    )),
                    _ => Err("no direct message".into()),
                }
            }
            "serve-upper" => {
                ch.set_request_handler(|r| {
                    (
                        0,
                        String::from_utf8_lossy(&r.payload)
                            .to_uppercase()
                            .into_bytes(),
                    )
                })
                .await
                .map_err(e)?;
                Ok(String::new())
            }
            "request" => {
                let answer = ch
                    .request(
                        parse_id(arg(1)?)?,
                        arg(2)?.as_bytes(),
                        Duration::from_secs(3),
                    )
                    .await
                    .map_err(e)?;
                Ok(String::from_utf8_lossy(&answer).into_owned())
            }
            "request-any" => {
                let answer = ch
                    .request_any(GROUP, arg(1)?.as_bytes(), Duration::from_secs(3))
                    .await
                    .map_err(e)?;
                Ok(String::from_utf8_lossy(&answer).into_owned())
            }
            "hold" => {
                let sub = self.queues.get_mut(arg(1)?).ok_or("not consuming")?;
                match tokio::time::timeout(LIMIT, sub.recv()).await {
                    Ok(Some(m)) => {
                        let job = m.payload.first().copied().unwrap_or(u8::MAX);
                        self.held.push(m);
                        Ok(job.to_string())
                    }
                    _ => Err("no job".into()),
                }
            }
            "consume" => {
                let queue = arg(1)?;
                let sub = ch.consume(GROUP, queue).await.map_err(e)?;
                self.queues.insert(queue.to_owned(), sub);
                Ok(String::new())
            }
            "queue-send" => {
                let (queue, count) = (arg(1)?, number::<u8>(arg(2)?)?);
                for i in 0..count {
                    ch.queue_send(GROUP, queue, &[i]).await.map_err(e)?;
                }
                Ok(String::new())
            }
            "consumed" => {
                let (queue, idle) = (arg(1)?, number::<u64>(arg(2)?)?);
                let sub = self.queues.get_mut(queue).ok_or("not consuming")?;
                let mut jobs = Vec::new();
                let end = tokio::time::Instant::now() + LIMIT;
                while tokio::time::Instant::now() < end {
                    match tokio::time::timeout(Duration::from_millis(idle), sub.recv()).await {
                        Ok(Some(m)) => {
                            ch.ack(&m).await.map_err(e)?;
                            let job = m.payload.first().copied().unwrap_or(u8::MAX);
                            let mark = if m.redelivered { "r" } else { "" };
                            jobs.push(format!("{job}{mark}"));
                        }
                        _ => break,
                    }
                }
                Ok(jobs.join(","))
            }
            "watch-map" => {
                let heard = Arc::clone(&self.heard);
                ch.on_map_change(move |c| {
                    if let Ok(mut v) = heard.lock() {
                        v.push(format!(
                            "{}/{}={}",
                            c.map,
                            String::from_utf8_lossy(&c.key),
                            c.new.as_deref().map_or("-".into(), String::from_utf8_lossy)
                        ));
                    }
                });
                Ok(String::new())
            }
            "heard" => Ok(self.heard.lock().map(|v| v.join(" ")).unwrap_or_default()),
            "put" => Ok(ch
                .map_put(GROUP, arg(1)?, arg(2)?.as_bytes(), arg(3)?.as_bytes())
                .await
                .map_err(e)?
                .to_string()),
            "put-owned" => {
                let options = WriteOptions {
                    owner_only: true,
                    remove_on_exit: true,
                    ..WriteOptions::default()
                };
                Ok(ch
                    .map_put_with(
                        GROUP,
                        arg(1)?,
                        arg(2)?.as_bytes(),
                        arg(3)?.as_bytes(),
                        options,
                    )
                    .await
                    .map_err(e)?
                    .to_string())
            }
            "remove" => {
                ch.map_remove(GROUP, arg(1)?, arg(2)?.as_bytes())
                    .await
                    .map_err(e)?;
                Ok(String::new())
            }
            "wait-gone" => {
                let (map, key) = (arg(1)?, arg(2)?.as_bytes());
                let deadline = tokio::time::Instant::now() + LIMIT;
                loop {
                    if ch.map_get(GROUP, map, key).await.map_err(e)?.is_none() {
                        return Ok(String::new());
                    }
                    if tokio::time::Instant::now() >= deadline {
                        return Err("the key is still there".into());
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
            "get" => Ok(ch
                .map_get(GROUP, arg(1)?, arg(2)?.as_bytes())
                .await
                .map_err(e)?
                .map_or("-".into(), |v| String::from_utf8_lossy(&v).into_owned())),
            "wait-value" => Ok(ch
                .wait_for_value(GROUP, arg(1)?, arg(2)?.as_bytes(), LIMIT)
                .await
                .map(|v| String::from_utf8_lossy(&v).into_owned())
                .map_err(e)?),
            "lock" => {
                let lease = Duration::from_millis(number(arg(3)?)?);
                let asked = Instant::now();
                let grant = ch
                    .lock(GROUP, arg(1)?, arg(2)?.as_bytes(), lease)
                    .await
                    .map_err(e)?;
                Ok(format!("{} {}", grant.fence, asked.elapsed().as_millis()))
            }
            "events" => {
                self.events = Some(ch.events());
                Ok(String::new())
            }
            "expect-failed" | "expect-left" => {
                let failed = words.first() == Some(&"expect-failed");
                let who = parse_id(arg(1)?)?;
                let feed = self.events.as_mut().ok_or("no event feed")?;
                let seen = tokio::time::timeout(LIMIT, async {
                    while let Some(ev) = feed.recv().await {
                        match ev {
                            GroupEvent::MemberFailed { member, .. } if failed && member == who => {
                                return true;
                            }
                            GroupEvent::MemberLeft { member, .. } if !failed && member == who => {
                                return true;
                            }
                            _ => {}
                        }
                    }
                    false
                })
                .await
                .unwrap_or(false);
                if seen {
                    Ok(String::new())
                } else {
                    Err("not seen".into())
                }
            }
            "watch-master" => {
                let changes = Arc::clone(&self.master_changes);
                ch.on_master_changed(move |_, _, _| {
                    changes.fetch_add(1, Ordering::Relaxed);
                });
                Ok(String::new())
            }
            "master-changes" => Ok(self.master_changes.load(Ordering::Relaxed).to_string()),
            "new-coordinator" => {
                let old = parse_id(arg(1)?)?;
                let deadline = tokio::time::Instant::now() + LIMIT;
                loop {
                    match ch.coordinator(GROUP).await.map_err(e)? {
                        Some(m) if m != old => return Ok(id_text(m)),
                        _ if tokio::time::Instant::now() >= deadline => {
                            return Err("no new coordinator".into());
                        }
                        _ => tokio::time::sleep(Duration::from_millis(20)).await,
                    }
                }
            }
            "quit" => {
                ch.shutdown().await.map_err(e)?;
                Ok(String::new())
            }
            other => Err(format!("unknown command {other:?}")),
        }
    }
}
