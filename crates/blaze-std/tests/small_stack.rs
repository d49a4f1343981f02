//! The channel API on a thread with a small stack: nodes are over a
//! megabyte each, and are built in place (never whole on the stack), so
//! two members start (joining builds the group's machines one at a time,
//! each in a frame of its own), exchange messages and shut down on a
//! thread with the 2 MiB stack of a default tokio worker, in a debug build
//! too (building a node by value there takes over 8 MiB).

use std::time::Duration;

use blaze_std::{Channel, ChannelConfig, StdNode};

const STACK: usize = 2 << 20;

fn config(name: &str) -> ChannelConfig {
    ChannelConfig::builder()
        .name(name)
        .group("239.255.77.46:47846".parse().unwrap())
        .join("small-stack")
        .heartbeat(Duration::from_millis(50))
        .build()
        .unwrap()
}

#[test]
fn members_start_and_talk_on_a_small_stack() {
    assert!(std::mem::size_of::<StdNode>() > STACK / 4);
    let thread = std::thread::Builder::new()
        .stack_size(STACK)
        .spawn(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(async {
                    let mut a = Channel::new(config("a"));
                    let mut b = Channel::new(config("b"));
                    let mut news = b.subscribe("news").await.unwrap();
                    a.start().await.unwrap();
                    b.start().await.unwrap();
                    let got = tokio::time::timeout(Duration::from_secs(20), async {
                        loop {
                            a.publish("news", b"small").await.unwrap();
                            if let Ok(Some(m)) =
                                tokio::time::timeout(Duration::from_millis(100), news.recv()).await
                            {
                                break m;
                            }
                        }
                    })
                    .await
                    .unwrap();
                    assert_eq!(got.payload, b"small");
                    assert_eq!(got.sender, a.id());
                    a.shutdown().await.unwrap();
                    b.shutdown().await.unwrap();
                    // A node built again from the recycled storage.
                    let mut c = Channel::new(config("c"));
                    c.start().await.unwrap();
                    c.shutdown().await.unwrap();
                });
        })
        .unwrap();
    thread.join().unwrap();
}
