//! Real sockets on loopback: multicast with IP_MULTICAST_IF = 127.0.0.1 in
//! 239.255.0.0/16, unicast to a peer, and unicast-only fan-out. Every node
//! sends a bounded number of datagrams at a bounded rate, and every test is
//! bounded in time.

mod common;

use std::net::SocketAddr;
use std::time::Duration as StdDuration;

use blaze_std::{Clock, Driver, DriverConfig, DriverStats, IoMode, SocketConfig, Sockets};
use blaze_wire::Destination;
use common::{Burst, Collect, group_for};

/// Per test; generous for a loaded debug build, never reached when healthy.
const LIMIT: StdDuration = StdDuration::from_secs(30);

struct Node {
    driver: Driver<Burst>,
    app: Collect,
}

impl Node {
    fn new(
        id: u8,
        sockets: Sockets,
        to: Destination,
        total: u32,
        nodes: usize,
        expect: usize,
        config: DriverConfig,
    ) -> Self {
        let clock = Clock::new();
        let burst = Burst::new(id, to, total, nodes, clock.now());
        Node {
            driver: Driver::new(burst, sockets, clock, config).unwrap(),
            app: Collect::new(expect, nodes),
        }
    }

    async fn run(&mut self) {
        self.driver.run(&mut self.app).await.unwrap();
        self.driver.flush().await.unwrap();
    }
}

/// Runs the nodes together; on time-out, reports what each received.
async fn run_all(nodes: &mut [Node]) {
    let runs = nodes.iter_mut().map(Node::run);
    let all = futures_join(runs);
    if tokio::time::timeout(LIMIT, all).await.is_err() {
        let report: Vec<String> = nodes
            .iter()
            .map(|n| {
                let p = n.driver.protocol();
                format!(
                    "node {}: sent {}/{}, delivered {}/{}, stats {:?}",
                    p.id,
                    p.sent,
                    p.total,
                    n.app.delivered,
                    n.app.expect,
                    n.driver.stats()
                )
            })
            .collect();
        panic!("timed out (datagrams lost?):\n{}", report.join("\n"));
    }
}

/// Polls every future to completion on the current task.
async fn futures_join<F: std::future::Future<Output = ()>>(futures: impl Iterator<Item = F>) {
    let mut futures: Vec<_> = futures.map(Box::pin).collect();
    let mut done = vec![false; futures.len()];
    std::future::poll_fn(|cx| {
        for (f, d) in futures.iter_mut().zip(done.iter_mut()) {
            if !*d && f.as_mut().poll(cx).is_ready() {
                *d = true;
            }
        }
        if done.iter().all(|d| *d) {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
}

fn check_sent(stats: DriverStats, expected: u64) {
    assert_eq!(stats.datagrams_sent, expected, "{stats:?}");
    assert_eq!(
        stats.dropped_send_error + stats.dropped_no_target + stats.dropped_oversized,
        0,
        "{stats:?}"
    );
    assert_eq!(stats.dropped_truncated + stats.recv_errors, 0, "{stats:?}");
}

async fn multicast_three_nodes(test: &str, config: DriverConfig) -> Vec<DriverStats> {
    const NODES: usize = 3;
    const TOTAL: u32 = 200;
    let group = group_for(test);
    let mut nodes: Vec<Node> = (0..NODES)
        .map(|id| {
            let sockets = Sockets::bind(&SocketConfig::multicast(group)).unwrap();
            let expect = (NODES - 1) * TOTAL as usize;
            Node::new(
                id as u8,
                sockets,
                Destination::Group,
                TOTAL,
                NODES,
                expect,
                config.clone(),
            )
        })
        .collect();
    let addrs: Vec<SocketAddr> = nodes
        .iter()
        .map(|n| n.driver.sockets().local_addr())
        .collect();
    run_all(&mut nodes).await;
    for node in &nodes {
        let p = node.driver.protocol();
        for (sender, addr) in addrs.iter().enumerate() {
            let expect = if sender == usize::from(p.id) {
                0
            } else {
                TOTAL as usize
            };
            assert_eq!(
                p.received_from(sender),
                expect,
                "node {} from {sender}",
                p.id
            );
            if sender != usize::from(p.id) {
                assert_eq!(
                    node.app.from[sender],
                    Some(*addr),
                    "source is the unicast address"
                );
            }
        }
        assert_eq!((p.duplicates, p.malformed), (0, 0));
        let stats = node.driver.stats();
        check_sent(stats, u64::from(TOTAL));
        // Multicast loops back to the sender's own group socket, where a
        // socket filter drops it on Linux, and the driver elsewhere.
        if cfg!(target_os = "linux") {
            assert_eq!(stats.dropped_own, 0, "{stats:?}");
        } else {
            assert!(stats.dropped_own > 0, "{stats:?}");
        }
        assert!(stats.timer_rearms > 0 && stats.timeouts > 0, "{stats:?}");
    }
    nodes.iter().map(|n| n.driver.stats()).collect()
}

#[tokio::test]
async fn three_nodes_multicast_batched() {
    let stats =
        multicast_three_nodes("three_nodes_multicast_batched", DriverConfig::default()).await;
    // Bursts of 10 datagrams leave in one sendmmsg each.
    for s in stats {
        assert!(s.send_calls < s.datagrams_sent, "{s:?}");
    }
}

#[tokio::test]
async fn three_nodes_multicast_batched_without_segmentation() {
    let mut config = DriverConfig::default();
    config.io_mode = IoMode::Batched;
    let stats = multicast_three_nodes("three_nodes_multicast_batched_no_gso", config).await;
    for s in stats {
        assert!(s.send_calls < s.datagrams_sent, "{s:?}");
    }
}

#[tokio::test]
async fn three_nodes_multicast_plain() {
    let mut config = DriverConfig::default();
    config.io_mode = IoMode::Plain;
    let stats = multicast_three_nodes("three_nodes_multicast_plain", config).await;
    for s in stats {
        assert_eq!(s.send_calls, s.datagrams_sent, "{s:?}");
    }
}

#[tokio::test]
async fn three_nodes_multicast_busy_poll_small_batches() {
    let mut config = DriverConfig::default();
    config.busy_poll = Some(StdDuration::from_micros(200));
    config.batch_size = 3;
    let stats = multicast_three_nodes("three_nodes_multicast_busy_poll", config).await;
    // Spinning found datagrams (at least the looped-back own ones) before
    // parking.
    assert!(
        stats.iter().map(|s| s.busy_poll_hits).sum::<u64>() > 0,
        "{stats:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_multicast_on_a_multi_thread_runtime() {
    // The driver future is Send: each node runs on its own task.
    const NODES: usize = 3;
    const TOTAL: u32 = 100;
    let group = group_for("three_nodes_multicast_on_a_multi_thread_runtime");
    // Every node joins the group before any starts sending.
    let sockets: Vec<Sockets> = (0..NODES)
        .map(|_| Sockets::bind(&SocketConfig::multicast(group)).unwrap())
        .collect();
    let tasks: Vec<_> = sockets
        .into_iter()
        .enumerate()
        .map(|(id, sockets)| {
            let expect = (NODES - 1) * TOTAL as usize;
            let mut node = Node::new(
                id as u8,
                sockets,
                Destination::Group,
                TOTAL,
                NODES,
                expect,
                DriverConfig::default(),
            );
            tokio::spawn(async move {
                tokio::time::timeout(LIMIT, node.run())
                    .await
                    .expect("timed out");
                node
            })
        })
        .collect();
    for task in tasks {
        let node = task.await.unwrap();
        assert_eq!(node.app.delivered, (NODES - 1) * TOTAL as usize);
    }
}

#[tokio::test]
async fn unicast_peer_datagrams_reach_only_the_peer() {
    const TOTAL: u32 = 150;
    let group = group_for("unicast_peer_datagrams_reach_only_the_peer");
    let a = Sockets::bind(&SocketConfig::multicast(group)).unwrap();
    let b = Sockets::bind(&SocketConfig::multicast(group)).unwrap();
    let c = Sockets::bind(&SocketConfig::multicast(group)).unwrap();
    let (a_addr, b_addr) = (a.local_addr(), b.local_addr());
    let mut nodes = vec![
        Node::new(
            0,
            a,
            Destination::Peer(b_addr),
            TOTAL,
            3,
            0,
            DriverConfig::default(),
        ),
        Node::new(
            1,
            b,
            Destination::Peer(a_addr),
            TOTAL,
            3,
            TOTAL as usize,
            DriverConfig::default(),
        ),
        // C sends to the group only so that the others see group traffic
        // too; it expects nothing.
        Node::new(2, c, Destination::Group, 20, 3, 0, DriverConfig::default()),
    ];
    nodes[0].app.expect = TOTAL as usize + 20;
    nodes[1].app.expect = TOTAL as usize + 20;
    run_all(&mut nodes).await;
    let (pa, pb) = (nodes[0].driver.protocol(), nodes[1].driver.protocol());
    assert_eq!(pb.received_from(0), TOTAL as usize);
    assert_eq!(pa.received_from(1), TOTAL as usize);
    assert_eq!(nodes[1].app.from[0], Some(a_addr));
    assert_eq!(pa.received_from(2), 20);
    // C stopped once it had sent; whatever it received before, none of it
    // was A's or B's unicast.
    let pc = nodes[2].driver.protocol();
    assert_eq!(pc.received_from(0) + pc.received_from(1), 0);
    check_sent(nodes[0].driver.stats(), u64::from(TOTAL));
}

#[tokio::test]
async fn unicast_only_fans_group_datagrams_out_to_every_peer() {
    const NODES: usize = 3;
    const TOTAL: u32 = 150;
    let mut sockets: Vec<Sockets> = (0..NODES)
        .map(|_| Sockets::bind(&SocketConfig::unicast(Vec::new())).unwrap())
        .collect();
    let peers: Vec<SocketAddr> = sockets.iter().map(Sockets::local_addr).collect();
    for s in &mut sockets {
        // The same list for everyone: each skips itself.
        s.set_peers(&peers);
        assert_eq!(s.group_targets().len(), NODES - 1);
        assert!(s.multicast().is_none());
    }
    let expect = (NODES - 1) * TOTAL as usize;
    let mut nodes: Vec<Node> = sockets
        .into_iter()
        .enumerate()
        .map(|(id, s)| {
            Node::new(
                id as u8,
                s,
                Destination::Group,
                TOTAL,
                NODES,
                expect,
                DriverConfig::default(),
            )
        })
        .collect();
    run_all(&mut nodes).await;
    for node in &nodes {
        let p = node.driver.protocol();
        for sender in (0..NODES).filter(|s| *s != usize::from(p.id)) {
            assert_eq!(p.received_from(sender), TOTAL as usize);
        }
        let stats = node.driver.stats();
        check_sent(stats, u64::from(TOTAL) * (NODES as u64 - 1));
        assert_eq!(stats.dropped_own, 0);
    }
}

#[tokio::test]
async fn unicast_only_without_peers_drops_group_datagrams() {
    let sockets = Sockets::bind(&SocketConfig::unicast(Vec::new())).unwrap();
    let mut node = Node::new(
        0,
        sockets,
        Destination::Group,
        25,
        1,
        0,
        DriverConfig::default(),
    );
    tokio::time::timeout(LIMIT, node.run()).await.unwrap();
    let stats = node.driver.stats();
    assert_eq!((stats.datagrams_sent, stats.dropped_no_target), (0, 25));
}

/// Runs `node` (cancel-safely, in slices) until `done` holds, for at most
/// [`LIMIT`].
async fn run_until(node: &mut Node, done: impl Fn(&Node) -> bool) {
    let start = std::time::Instant::now();
    while !done(node) {
        assert!(
            start.elapsed() < LIMIT,
            "timed out: {:?}",
            node.driver.stats()
        );
        let _ = tokio::time::timeout(StdDuration::from_millis(20), node.driver.run(&mut node.app))
            .await;
    }
}

#[tokio::test]
async fn oversized_datagrams_are_counted_and_dropped() {
    const TOTAL: u32 = 30;
    let group = group_for("oversized_datagrams_are_counted_and_dropped");
    let a = Sockets::bind(&SocketConfig::multicast(group)).unwrap();
    let b = Sockets::bind(&SocketConfig::multicast(group)).unwrap();
    let mut sender = Node::new(
        0,
        a,
        Destination::Group,
        TOTAL,
        2,
        0,
        DriverConfig::default(),
    );
    let mut small = DriverConfig::default();
    small.max_datagram_size = 100;
    // B sends nothing and expects nothing: its app would stop at once, so
    // it runs in slices until it has seen every datagram.
    let mut receiver = Node::new(1, b, Destination::Group, 0, 2, usize::MAX, small);
    tokio::time::timeout(LIMIT, sender.run()).await.unwrap();
    run_until(&mut receiver, |n| {
        n.driver.stats().dropped_truncated == u64::from(TOTAL)
    })
    .await;
    assert_eq!(receiver.driver.protocol().received_from(0), 0);
    assert_eq!(receiver.driver.stats().datagrams_received, 0);
}

#[tokio::test]
async fn own_multicast_is_delivered_on_request() {
    const TOTAL: u32 = 40;
    let group = group_for("own_multicast_is_delivered_on_request");
    let sockets = Sockets::bind(&SocketConfig::multicast(group)).unwrap();
    let mut config = DriverConfig::default();
    config.deliver_own = true;
    let mut node = Node::new(
        0,
        sockets,
        Destination::Group,
        TOTAL,
        1,
        TOTAL as usize,
        config,
    );
    tokio::time::timeout(LIMIT, node.run()).await.unwrap();
    assert_eq!(node.driver.protocol().received_from(0), TOTAL as usize);
    assert_eq!(node.driver.stats().dropped_own, 0);
}

#[tokio::test]
async fn sizes_are_clamped() {
    let sockets = Sockets::bind(&SocketConfig::unicast(Vec::new())).unwrap();
    let mut config = DriverConfig::default();
    config.max_datagram_size = 1 << 20;
    config.batch_size = 0;
    let node = Node::new(0, sockets, Destination::Group, 0, 1, 0, config);
    assert_eq!(
        node.driver.config().max_datagram_size,
        blaze_std::MAX_UDP_PAYLOAD
    );
    assert_eq!(node.driver.config().batch_size, 1);
}
