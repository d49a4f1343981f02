//! The channel API layers on real sockets: three members in one process
//! on loopback multicast (a group in 239.255.0.0/16 via 127.0.0.1). Every
//! wait is bounded.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use blaze_std::{
    ChannelConfig, ChannelError, ClusterChannel, GroupEvent, Lifecycle, MAX_PAYLOAD, MemberId, Qos,
    TopicQos,
};

mod runtime;
use runtime::run;

const GROUP: &str = "api-test";
const LIMIT: Duration = Duration::from_secs(15);

fn config(name: &str, port: u16) -> ChannelConfig {
    ChannelConfig::builder()
        .name(name)
        .group(
            format!("239.255.61.{}:{port}", port % 200 + 1)
                .parse()
                .unwrap(),
        )
        .join(GROUP)
        .topic("ticks", TopicQos::BestEffort)
        .heartbeat(Duration::from_millis(50))
        .failure_timeout(Duration::from_millis(400))
        .build()
        .unwrap()
}

async fn cluster(port: u16) -> Vec<ClusterChannel> {
    let mut members = Vec::new();
    for name in ["a", "b", "c"] {
        let mut member = ClusterChannel::new(config(name, port));
        member.start().await.unwrap();
        members.push(member);
    }
    for member in &members {
        member
            .wait_for_members(GROUP, LIMIT, |m| m.len() == 3)
            .await
            .unwrap();
    }
    members
}

#[test]
fn misuse_is_refused_with_typed_errors() {
    run(async {
        let mut lone = ClusterChannel::new(config("lone", 47_101));
        assert_eq!(lone.state(), Lifecycle::Constructed);
        let early = lone.publish("news", b"x").await.unwrap_err();
        assert!(matches!(
            early,
            ChannelError::NotStarted {
                state: Lifecycle::Constructed
            }
        ));
        assert!(early.to_string().contains("start()"), "{early}");
        lone.start().await.unwrap();
        let big = vec![0u8; MAX_PAYLOAD + 1];
        assert!(matches!(
            lone.publish("news", &big).await,
            Err(ChannelError::PayloadTooLarge {
                max: MAX_PAYLOAD,
                ..
            })
        ));
        let stranger = MemberId::from_u128(42);
        assert!(matches!(
            lone.send_to(stranger, b"hi").await,
            Err(ChannelError::UnknownMember(id)) if id == stranger
        ));
        assert!(matches!(
            lone.publish_in("elsewhere", "news", b"x").await,
            Err(ChannelError::NotInGroup(_))
        ));
        // The stack's own topics (the ring-ordered map's `blaze.map`) are
        // not the application's.
        let reserved = lone.publish("blaze.map", b"x").await.unwrap_err();
        assert!(
            matches!(&reserved, ChannelError::ReservedTopic(t) if t == "blaze.map"),
            "{reserved}"
        );
        assert!(matches!(
            lone.publisher("blaze.anything").await,
            Err(ChannelError::ReservedTopic(_))
        ));
        assert!(
            ChannelConfig::builder()
                .topic("blaze.map", TopicQos::Agreed)
                .build()
                .is_err()
        );
        lone.shutdown().await.unwrap();
        assert!(matches!(
            lone.start().await,
            Err(ChannelError::Lifecycle(_))
        ));
    });
}

#[test]
fn three_members_use_every_layer() {
    run(async {
        let mut members = cluster(47_102).await;
        let ids: Vec<MemberId> = members.iter().map(|m| m.id()).collect();

        // Broadcast, reliable: every message to each other member, once,
        // in order. Subscriptions are made before publishing.
        let mut news_b = members[1].subscribe("news").await.unwrap();
        let mut news_c = members[2].subscribe("news").await.unwrap();
        let mut ticks_b = members[1].subscribe("ticks").await.unwrap();
        for i in 0..50u32 {
            members[0].publish("news", &i.to_be_bytes()).await.unwrap();
        }
        for sub in [&mut news_b, &mut news_c] {
            for i in 0..50u32 {
                let m = tokio::time::timeout(LIMIT, sub.recv())
                    .await
                    .unwrap()
                    .unwrap();
                assert_eq!(m.payload, i.to_be_bytes());
                assert_eq!((m.sender, m.qos), (ids[0], Qos::Reliable));
            }
        }
        // Best effort: loopback loses nothing in practice, but only one
        // message is required.
        let tick = loop {
            members[2].publish("ticks", b"tick").await.unwrap();
            if let Ok(Some(m)) =
                tokio::time::timeout(Duration::from_millis(50), ticks_b.recv()).await
            {
                break m;
            }
        };
        assert_eq!(tick.qos, Qos::BestEffort);

        // Point to point, request/reply.
        let mut directs = members[2].directs().await.unwrap();
        members[0].send_to(ids[2], b"just for c").await.unwrap();
        let d = tokio::time::timeout(LIMIT, directs.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!((d.from, d.payload.as_slice()), (ids[0], &b"just for c"[..]));
        members[1]
            .set_request_handler(|r| (0, [b"echo:".as_slice(), &r.payload].concat()))
            .await
            .unwrap();
        let answer = members[0].request(ids[1], b"q", LIMIT).await.unwrap();
        assert_eq!(answer, b"echo:q");
        assert!(matches!(
            members[0].request(ids[2], b"q", LIMIT).await,
            Err(ChannelError::Remote { code: 404 })
        ));

        // A queue with two consumers: each message to exactly one. All
        // are sent before any is consumed, by the coordinator itself (the
        // member that dispatches the queue).
        let master = members[0].wait_for_election(GROUP, LIMIT).await.unwrap();
        let producer = members.iter().position(|m| m.id() == master).unwrap();
        let others: Vec<usize> = (0..3).filter(|i| *i != producer).collect();
        let (c1, c2) = (others[0], others[1]);
        let mut q_1 = members[c1].consume(GROUP, "work").await.unwrap();
        let mut q_2 = members[c2].consume(GROUP, "work").await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        for i in 0..10u8 {
            members[producer]
                .queue_send(GROUP, "work", &[i])
                .await
                .unwrap();
        }
        let mut got = Vec::new();
        while got.len() < 10 {
            tokio::select! {
                Some(m) = q_1.recv() => { members[c1].ack(&m).await.unwrap(); got.push(m.payload[0]); }
                Some(m) = q_2.recv() => { members[c2].ack(&m).await.unwrap(); got.push(m.payload[0]); }
                () = tokio::time::sleep(LIMIT) => panic!("queue stalled at {got:?}"),
            }
        }
        got.sort_unstable();
        assert_eq!(got, (0..10).collect::<Vec<u8>>());

        // The map: a put seen everywhere with a change listener, a lock.
        let changes = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&changes);
        members[2].on_map_change(move |c| seen.lock().unwrap().push(c.key.clone()));
        assert!(ids.contains(&master));
        members[1]
            .map_put(GROUP, "state", b"k", b"v1")
            .await
            .unwrap();
        assert_eq!(
            members[2]
                .wait_for_value(GROUP, "state", b"k", LIMIT)
                .await
                .unwrap(),
            b"v1"
        );
        let grant = members[0]
            .lock(GROUP, "state", b"k", Duration::from_secs(5))
            .await
            .unwrap();
        assert!(grant.fence > 0);
        assert_eq!(
            members[1].lock_holder(GROUP, "state", b"k").await.unwrap(),
            Some(ids[0])
        );
        members[0].unlock(GROUP, "state", b"k").await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(changes.lock().unwrap().contains(&b"k".to_vec()));

        // Stop and restart: the others see a graceful leave, then a join.
        let mut events = members[0].events();
        members[1].stop().await.unwrap();
        assert_eq!(members[1].state(), Lifecycle::Stopped);
        assert!(matches!(
            members[1].publish("news", b"x").await,
            Err(ChannelError::NotStarted {
                state: Lifecycle::Stopped
            })
        ));
        let left = tokio::time::timeout(LIMIT, async {
            loop {
                match events.recv().await {
                    Some(GroupEvent::MemberLeft { member, .. }) => break member,
                    Some(_) => {}
                    None => panic!("feed closed"),
                }
            }
        })
        .await
        .unwrap();
        assert_eq!(left, ids[1]);
        members[1].start().await.unwrap();
        members[0]
            .wait_for_members(GROUP, LIMIT, |m| m.len() == 3)
            .await
            .unwrap();
        let names: BTreeSet<String> = members[0]
            .members(GROUP)
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.name)
            .collect();
        assert_eq!(names, ["a", "b", "c"].map(String::from).into());
        for member in &mut members {
            member.shutdown().await.unwrap();
        }
    });
}

/// Without multicast: two members seeded with each other, and a third
/// seeded with only one of them, which still reaches both (the peers
/// follow the views) for broadcast and the map.
#[test]
fn unicast_only_members_follow_the_views() {
    run(async {
        let addr = |port: u16| -> std::net::SocketAddr { ([127, 0, 0, 1], port).into() };
        let member = |name: &str, port: u16, seed: u16| {
            ClusterChannel::new(
                ChannelConfig::builder()
                    .name(name)
                    .seeds([addr(seed)])
                    .port(port)
                    .join(GROUP)
                    .heartbeat(Duration::from_millis(50))
                    .failure_timeout(Duration::from_millis(400))
                    .build()
                    .unwrap(),
            )
        };
        let mut a = member("a", 47_711, 47_712);
        let mut b = member("b", 47_712, 47_711);
        let mut c = member("c", 47_713, 47_711);
        let mut news = b.subscribe("news").await.unwrap();
        for m in [&mut a, &mut b, &mut c] {
            m.start().await.unwrap();
        }
        for m in [&a, &b, &c] {
            m.wait_for_members(GROUP, LIMIT, |v| v.len() == 3)
                .await
                .unwrap();
        }
        c.map_put(GROUP, "state", b"k", b"v").await.unwrap();
        assert_eq!(
            b.wait_for_value(GROUP, "state", b"k", LIMIT).await.unwrap(),
            b"v"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        c.publish("news", b"from c").await.unwrap();
        let m = tokio::time::timeout(LIMIT, news.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!((m.payload.as_slice(), m.sender), (&b"from c"[..], c.id()));
        for m in [&mut a, &mut b, &mut c] {
            m.shutdown().await.unwrap();
        }
    });
}

#[test]
fn a_batch_larger_than_the_window_arrives_whole_and_in_order() {
    run(async {
        let mut members = cluster(47_131).await;
        let mut subs = Vec::new();
        for member in &mut members[1..] {
            subs.push(member.subscribe("bulk").await.unwrap());
        }
        // Far more than the 64-message window: the rest waits on the
        // channel's task for acknowledgements.
        let batch: Vec<Vec<u8>> = (0..1000u32).map(|i| i.to_be_bytes().to_vec()).collect();
        let second: Vec<Vec<u8>> = (1000..1100u32).map(|i| i.to_be_bytes().to_vec()).collect();
        let (first, then) = tokio::join!(
            members[0].publish_batch(GROUP, "bulk", batch),
            members[0].publish_batch(GROUP, "bulk", second),
        );
        first.unwrap();
        then.unwrap();
        for sub in &mut subs {
            for i in 0..1100u32 {
                let m = tokio::time::timeout(LIMIT, sub.recv())
                    .await
                    .unwrap()
                    .unwrap();
                assert_eq!(m.payload, i.to_be_bytes(), "message {i}");
            }
        }
        assert!(matches!(
            members[0]
                .publish_batch("elsewhere", "bulk", vec![b"x".to_vec()])
                .await,
            Err(ChannelError::NotInGroup(_))
        ));
        for mut member in members {
            member.shutdown().await.unwrap();
        }
    });
}
