//! The replicated map ordered by the group's Totem ring
//! (`MapOrdering::Totem`): three members in one process on loopback
//! multicast write, read, lock and take over after a member leaves. Every
//! wait is bounded.

use std::time::Duration;

use blaze_std::{ChannelConfig, ClusterChannel, MapOrdering};

mod runtime;
use runtime::run;

const GROUP: &str = "map-ring";
const LIMIT: Duration = Duration::from_secs(15);

fn config(name: &str, port: u16) -> ChannelConfig {
    ChannelConfig::builder()
        .name(name)
        .group(
            format!("239.255.62.{}:{port}", port % 200 + 1)
                .parse()
                .unwrap(),
        )
        .join(GROUP)
        .heartbeat(Duration::from_millis(50))
        .failure_timeout(Duration::from_millis(400))
        .map_ordering(MapOrdering::Totem)
        .build()
        .unwrap()
}

#[test]
fn three_members_share_a_ring_ordered_map() {
    run(async {
        let mut members = Vec::new();
        for name in ["a", "b", "c"] {
            let mut member = ClusterChannel::new(config(name, 47_901));
            member.start().await.unwrap();
            members.push(member);
        }
        for member in &members {
            member
                .wait_for_members(GROUP, LIMIT, |m| m.len() == 3)
                .await
                .unwrap();
        }
        // Writes from every member, one total order: versions increase
        // and every member reads every value.
        let mut versions = Vec::new();
        for (i, member) in members.iter().enumerate() {
            let value = format!("v{i}");
            versions.push(
                member
                    .map_put(GROUP, "state", b"k", value.as_bytes())
                    .await
                    .unwrap(),
            );
            for other in &members {
                let got = tokio::time::timeout(LIMIT, async {
                    loop {
                        if other
                            .map_get(GROUP, "state", b"k")
                            .await
                            .unwrap()
                            .as_deref()
                            == Some(value.as_bytes())
                        {
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                })
                .await;
                assert!(got.is_ok(), "a member never read {value}");
            }
        }
        assert!(versions.windows(2).all(|w| w[0] < w[1]), "{versions:?}");

        // A lock granted at its position in the order, seen everywhere.
        let ids: Vec<_> = members.iter().map(|m| m.id()).collect();
        let grant = members[1]
            .lock(GROUP, "state", b"k", Duration::from_secs(5))
            .await
            .unwrap();
        assert!(grant.fence > versions[2]);
        for member in &members {
            let holder = tokio::time::timeout(LIMIT, async {
                loop {
                    if let Some(h) = member.lock_holder(GROUP, "state", b"k").await.unwrap() {
                        break h;
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            })
            .await
            .unwrap();
            assert_eq!(holder, ids[1]);
        }

        // The holder leaves: its lock is released at the ring's
        // configuration change, and the others go on writing.
        members[1].stop().await.unwrap();
        let after = tokio::time::timeout(LIMIT, async {
            loop {
                match members[0].map_put(GROUP, "state", b"after", b"x").await {
                    Ok(v) => break v,
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
        })
        .await
        .unwrap();
        assert!(after > grant.fence);
        let free = tokio::time::timeout(LIMIT, async {
            loop {
                if members[2]
                    .lock_holder(GROUP, "state", b"k")
                    .await
                    .unwrap()
                    .is_none()
                {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        assert!(free.is_ok(), "the leaver's lock was never released");
        for member in &mut members {
            let _ = member.shutdown().await;
        }
    });
}
