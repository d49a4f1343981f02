//! A reader that falls behind slows its senders instead of losing
//! messages: while an [`Inbox`](blaze_std::Inbox) or a
//! [`Subscription`](blaze_std::Subscription) is full, the channel's task
//! leaves the messages in the node, whose reliable window holds the
//! sender back, and the reader's next take wakes the task.
//!
//! Each test publishes several times what the reader's queue holds while
//! the reader sleeps, then reads everything, in order, with nothing
//! dropped.

use std::time::Duration;

use blaze_std::{ChannelConfig, GroupChannel, Publisher, RECORD_CAPACITY, TopicQos};

mod runtime;

const GROUP: &str = "backpressure";
const LIMIT: Duration = Duration::from_secs(20);
/// Several times an inbox's ring (1024 records) and a subscription's
/// queue (4096 messages).
const TOTAL: u32 = 12_000;

fn config(name: &str, port: u16) -> ChannelConfig {
    ChannelConfig::builder()
        .name(name)
        .group(format!("239.255.77.45:{port}").parse().unwrap())
        .join(GROUP)
        .topic("flood", TopicQos::Reliable)
        .heartbeat(Duration::from_millis(50))
        .build()
        .unwrap()
}

async fn pair(port: u16) -> (GroupChannel, GroupChannel) {
    let mut a = GroupChannel::new(config("a", port));
    let mut b = GroupChannel::new(config("b", port));
    a.start().await.unwrap();
    b.start().await.unwrap();
    for m in [&a, &b] {
        m.wait_for_members(GROUP, LIMIT, |v| v.len() == 2)
            .await
            .unwrap();
    }
    (a, b)
}

/// Publishes `TOTAL` numbered messages on a task of its own; they wait
/// for the window whenever the reader is behind.
fn flood(mut publisher: Publisher) -> tokio::task::JoinHandle<Publisher> {
    tokio::spawn(async move {
        for i in 0..TOTAL {
            let mut payload = [0u8; 64];
            payload[..4].copy_from_slice(&i.to_be_bytes());
            publisher.publish(&payload).await.unwrap();
        }
        publisher
    })
}

#[test]
fn a_sleeping_inbox_reader_loses_nothing() {
    runtime::run(async {
        let (mut a, mut b) = pair(47_861).await;
        let mut inbox = b.subscribe_inbox("flood").await.unwrap();
        let publisher = flood(a.publisher("flood").await.unwrap());
        // The reader sleeps while the sender fills its ring and the window.
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(inbox.len() > 1000, "the ring filled while the reader slept");
        let mut buf = [0u8; RECORD_CAPACITY];
        for i in 0..TOTAL {
            let meta = tokio::time::timeout(LIMIT, inbox.recv_into(&mut buf))
                .await
                .unwrap_or_else(|_| panic!("message {i} did not arrive"))
                .unwrap();
            assert_eq!(meta.sender, a.id());
            assert_eq!(buf[..4], i.to_be_bytes(), "in order, none missing");
        }
        let publisher = publisher.await.unwrap();
        assert_eq!(publisher.published(), u64::from(TOTAL));
        assert_eq!(inbox.dropped(), 0, "a full ring held messages back");
        a.shutdown().await.unwrap();
        b.shutdown().await.unwrap();
    });
}

#[test]
fn a_sleeping_subscriber_loses_nothing() {
    runtime::run(async {
        let (mut a, mut b) = pair(47_863).await;
        let mut flood_sub = b.subscribe("flood").await.unwrap();
        let publisher = flood(a.publisher("flood").await.unwrap());
        tokio::time::sleep(Duration::from_millis(500)).await;
        for i in 0..TOTAL {
            let m = tokio::time::timeout(LIMIT, flood_sub.recv())
                .await
                .unwrap_or_else(|_| panic!("message {i} did not arrive"))
                .unwrap();
            assert_eq!(m.sender, a.id());
            assert_eq!(m.payload[..4], i.to_be_bytes(), "in order, none missing");
        }
        publisher.await.unwrap();
        assert_eq!(flood_sub.dropped(), 0, "a full queue held messages back");
        a.shutdown().await.unwrap();
        b.shutdown().await.unwrap();
    });
}
