//! Handlers run inline on the channel's task
//! ([`Channel::subscribe_inline`](blaze_std::Channel::subscribe_inline)):
//! each message of the topic is lent to the handler as it is delivered,
//! in order, and a reply the handler publishes reaches the other member.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use blaze_std::{ChannelConfig, GroupChannel, RECORD_CAPACITY, TopicQos};

mod runtime;

const GROUP: &str = "inline";
const LIMIT: Duration = Duration::from_secs(20);
const PINGS: u32 = 500;

fn config(name: &str) -> ChannelConfig {
    ChannelConfig::builder()
        .name(name)
        .group("239.255.77.46:47865".parse().unwrap())
        .join(GROUP)
        .topic("ping", TopicQos::Reliable)
        .topic("pong", TopicQos::Reliable)
        .heartbeat(Duration::from_millis(50))
        .build()
        .unwrap()
}

#[test]
fn a_handler_sees_every_message_in_order_and_its_replies_arrive() {
    runtime::run(async {
        let mut pinger = GroupChannel::new(config("pinger"));
        let mut echo = GroupChannel::new(config("echo"));
        pinger.start().await.unwrap();
        echo.start().await.unwrap();
        for m in [&pinger, &echo] {
            m.wait_for_members(GROUP, LIMIT, |v| v.len() == 2)
                .await
                .unwrap();
        }
        // The echo answers each ping from its handler, with the ping's
        // number and the group and sender it was lent.
        let mut pongs = echo.publisher_in(GROUP, "pong").await.unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let echo_seen = seen.clone();
        let pinger_id = pinger.id();
        echo.subscribe_inline("ping", move |message| {
            assert_eq!(message.group, GROUP);
            assert_eq!(message.topic, "ping");
            assert_eq!(message.sender, pinger_id);
            assert_eq!(message.qos, blaze_std::Qos::Reliable);
            echo_seen.lock().unwrap().push(message.payload.to_vec());
            pongs.try_publish(message.payload).unwrap();
        })
        .await
        .unwrap();
        let mut replies = pinger.subscribe_inbox("pong").await.unwrap();
        let mut pings = pinger.publisher_in(GROUP, "ping").await.unwrap();
        let mut buf = [0u8; RECORD_CAPACITY];
        // Closed loop: each ping waits for its pong.
        for i in 0..PINGS {
            pings.publish(&i.to_be_bytes()).await.unwrap();
            let meta = tokio::time::timeout(LIMIT, replies.recv_into(&mut buf))
                .await
                .unwrap_or_else(|_| panic!("pong {i} did not arrive"))
                .unwrap();
            assert_eq!(meta.sender, echo.id());
            assert_eq!(buf[..meta.len], i.to_be_bytes());
        }
        let seen = seen.lock().unwrap().clone();
        let expected: Vec<Vec<u8>> = (0..PINGS).map(|i| i.to_be_bytes().to_vec()).collect();
        assert_eq!(seen, expected, "every ping once, in order");
        pinger.shutdown().await.unwrap();
        echo.shutdown().await.unwrap();
    });
}
