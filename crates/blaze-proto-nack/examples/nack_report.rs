//! Prints the figures of one sender and five receivers at 10 % loss with a
//! 1 ms round trip (then with 100 us), in the simulator's virtual time:
//!
//! ```text
//! cargo run -p blaze-proto-nack --example nack_report [seed]
//! ```
//!
//! - datagrams sent (all kinds, all members) per message delivered;
//! - latency from `send` to delivery, overall and for repaired messages
//!   (the head of each burst of deliveries later than the one-way delay
//!   plus jitter: the messages behind a hole wait for it, FIFO);
//! - NACKs sent versus suppressed by receivers, repairs by the sender.

#[path = "../tests/common/mod.rs"]
mod common;

use blaze_sim::LinkConfig;
use blaze_wire::Duration;
use common::{Plan, Rec, Scenario, member, run, test_config};

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn main() {
    let seed = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    // The asked-for 1 ms round trip, then a LAN-like 100 us one.
    report(seed, Duration::from_micros(500), Duration::from_micros(20));
    println!();
    report(seed, Duration::from_micros(50), Duration::from_micros(5));
}

fn report(seed: u64, one_way: Duration, jitter: Duration) {
    let sc = Scenario {
        nodes: 6,
        senders: vec![0],
        plan: Plan {
            count: 5_000,
            interval: Duration::from_micros(100),
            large_every: 0,
            large_len: 0,
            small_len: 100,
        },
        link: LinkConfig::default()
            .with_delay(one_way, jitter)
            .with_loss(0.10),
        config: {
            let mut c = test_config();
            c.flow_window = core::num::NonZeroU32::new(256).expect("non-zero");
            c
        },
        deadline: Duration::from_secs(30),
    };
    let out = match run::<8, 256>(seed, &sc) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("run failed: {e}");
            std::process::exit(1);
        }
    };
    let world = &out.world;
    if std::env::var("DUMP").is_ok() {
        dump(world);
    }
    let sender = world.machine(0).expect("sender");
    let mut all = Vec::new();
    let mut repaired = Vec::new();
    let threshold = (one_way + jitter + Duration::from_micros(10)).total_micros();
    for r in 1..6 {
        // A lost message blocks the ones behind it (FIFO): when its repair
        // arrives they are all delivered at once. The head of each such
        // burst is the repaired message.
        let mut last_time = None;
        for e in world.events().iter().filter(|e| e.node == r) {
            if let Rec::Msg { idx, .. } = e.event {
                let lat = (e.time - sender.sent_at[idx as usize]).total_micros();
                all.push(lat);
                if lat > threshold && last_time != Some(e.time) {
                    repaired.push(lat);
                }
                last_time = Some(e.time);
            }
        }
    }
    all.sort_unstable();
    repaired.sort_unstable();
    let stats = world.stats();
    let total_sent: u64 = stats.nodes.iter().map(|n| n.sent).sum();
    let (mut nacks, mut suppressed, mut unrec) = (0, 0, 0);
    for r in 1..6 {
        let rs = world
            .machine(r)
            .expect("receiver")
            .ep()
            .recv_stats(member(0))
            .copied()
            .unwrap_or_default();
        nacks += rs.nacks_sent;
        suppressed += rs.nacks_suppressed;
        unrec += rs.unrecoverable_seqs;
    }
    let s = sender.ep().stats().send;
    println!(
        "1 sender x 5 receivers, 10% loss on every link, RTT {} (virtual time), seed {seed}",
        one_way * 2
    );
    println!(
        "messages sent {}, deliveries {} (unrecoverable {unrec}), done at {}",
        s.messages_sent,
        all.len(),
        out.finished_at
    );
    println!(
        "datagrams per delivered message: {:.3} (all members), sender alone {:.3} ({} data, {} repair, {} heartbeats)",
        total_sent as f64 / all.len() as f64,
        stats.nodes[0].sent as f64 / all.len() as f64,
        s.data_datagrams,
        s.repair_datagrams,
        s.heartbeats
    );
    println!(
        "latency send->delivery: p50 {} us, p99 {} us, max {} us",
        percentile(&all, 0.5),
        percentile(&all, 0.99),
        all.last().copied().unwrap_or(0)
    );
    println!(
        "repair latency (send to delivery of the {} repaired messages at the head of a delayed burst): p50 {} us, p99 {} us",
        repaired.len(),
        percentile(&repaired, 0.5),
        percentile(&repaired, 0.99)
    );
    println!(
        "NACKs: sent {nacks}, suppressed {suppressed} (ratio suppressed/sent {:.2}); sender: received {}, ignored seqs {}, repairs {} in {} datagrams",
        suppressed as f64 / nacks.max(1) as f64,
        s.nacks_received,
        s.nacks_ignored,
        s.repairs,
        s.repair_datagrams
    );
}

/// Prints every counter (with `DUMP=1`).
fn dump(world: &blaze_sim::World<common::Node<8, 256>>) {
    for r in 1..6 {
        let rs = world
            .machine(r)
            .expect("receiver")
            .ep()
            .recv_stats(member(0))
            .copied()
            .unwrap_or_default();
        eprintln!(
            "receiver {r}: {rs:?} rtt {:?}",
            world.machine(r).expect("r").ep().rtt(member(0))
        );
    }
    let s = world.machine(0).expect("sender").ep().stats();
    eprintln!("sender: {s:?}");
}
