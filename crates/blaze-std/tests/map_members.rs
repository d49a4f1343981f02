//! A member that runs no map (`run_map(false)`) in a group with members
//! that do, under both orderings of the map: it is the oldest member, yet
//! it neither coordinates the map nor holds up a write or a lock; its own
//! map calls fail with a typed error, and messages still reach it. Three
//! members in one process on loopback multicast; every wait is bounded.

use std::time::Duration;

use blaze_std::{ChannelConfig, ChannelError, ClusterChannel, MapOrdering};

mod runtime;
use runtime::run;

const GROUP: &str = "map-members";
const LIMIT: Duration = Duration::from_secs(15);

fn config(name: &str, port: u16, ordering: MapOrdering, run_map: bool) -> ChannelConfig {
    ChannelConfig::builder()
        .name(name)
        .group(
            format!("239.255.63.{}:{port}", port % 200 + 1)
                .parse()
                .unwrap(),
        )
        .join(GROUP)
        .heartbeat(Duration::from_millis(50))
        .failure_timeout(Duration::from_millis(400))
        .map_ordering(ordering)
        .run_map(run_map)
        .build()
        .unwrap()
}

async fn scenario(ordering: MapOrdering, port: u16) {
    // The member without the map starts first: the oldest, it coordinates
    // the view.
    let mut bare = ClusterChannel::new(config("bare", port, ordering, false));
    bare.start().await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut members = Vec::new();
    for name in ["a", "b"] {
        let mut member = ClusterChannel::new(config(name, port, ordering, true));
        member.start().await.unwrap();
        members.push(member);
    }
    for member in members.iter().chain([&bare]) {
        member
            .wait_for_members(GROUP, LIMIT, |m| m.len() == 3)
            .await
            .unwrap();
    }
    assert_eq!(bare.coordinator(GROUP).await.unwrap(), Some(bare.id()));

    // A write from each map member is read by the other.
    for (i, member) in members.iter().enumerate() {
        let value = format!("v{i}");
        let key = format!("k{i}");
        tokio::time::timeout(
            LIMIT,
            member.map_put(GROUP, "state", key.as_bytes(), value.as_bytes()),
        )
        .await
        .expect("a write never completed")
        .unwrap();
        for other in &members {
            let got = tokio::time::timeout(LIMIT, async {
                loop {
                    let v = other.map_get(GROUP, "state", key.as_bytes()).await.unwrap();
                    if v.as_deref() == Some(value.as_bytes()) {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            })
            .await;
            assert!(got.is_ok(), "a member never read {value}");
        }
    }
    // A lock is granted without the member that runs no map.
    let grant = tokio::time::timeout(
        LIMIT,
        members[1].lock(GROUP, "state", b"k0", Duration::from_secs(5)),
    )
    .await
    .expect("the lock was never granted")
    .unwrap();
    assert!(grant.fence > 0);

    // The member without the map refuses map calls, and still hears the
    // group's messages.
    match bare.map_put(GROUP, "state", b"bare", b"x").await {
        Err(ChannelError::Map(e)) => assert!(e.contains("runs no map"), "{e}"),
        other => panic!("a member without the map answered {other:?}"),
    }
    let mut inbox = bare.subscribe("news").await.unwrap();
    members[0].publish("news", b"hello").await.unwrap();
    let m = tokio::time::timeout(LIMIT, inbox.recv())
        .await
        .expect("no message reached the member without the map")
        .expect("the subscription ended");
    assert_eq!(m.payload, b"hello");

    for member in members.iter_mut().chain([&mut bare]) {
        let _ = member.shutdown().await;
    }
}

#[test]
fn a_member_without_the_map_holds_up_no_coordinated_write() {
    run(scenario(MapOrdering::Coordinator, 47_921));
}

#[test]
fn a_member_without_the_map_holds_up_no_ring_ordered_write() {
    run(scenario(MapOrdering::Totem, 47_923));
}
