//! Prints the figures of "reliable + FEC" against plain NACK recovery, in
//! the simulator's virtual time:
//!
//! ```text
//! cargo run -p blaze-proto-nack --example fec_report [seed]
//! ```
//!
//! 1. One sender, 20 receivers, 5 % independent loss on every link: repair
//!    datagrams of plain retransmission versus parity on demand (one
//!    parity datagram heals different losses at different receivers).
//! 2. One sender, 5 receivers, 5 % loss, 1 ms RTT: proactive parity
//!    (k = 16, m = 4) versus plain NACK: blocks healed without any NACK,
//!    and the repair latency (send to delivery of the message at the head
//!    of each delayed burst).
//! 3. The same with adaptive parity (k = 16, 1..=8).

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/fec_metrics/mod.rs"]
mod fec_metrics;

use blaze_proto_nack::FecConfig;
use blaze_wire::Duration;
use fec_metrics::{Figures, Net, config, measure};

fn main() {
    let seed = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let lan = Net {
        one_way: Duration::from_micros(50),
        jitter: Duration::from_micros(5),
        loss: 0.05,
    };
    let wan1ms = Net {
        one_way: Duration::from_micros(500),
        jitter: Duration::from_micros(20),
        loss: 0.05,
    };
    let interval = Duration::from_micros(100);

    println!("== 1 sender x 20 receivers, 5% loss, RTT 100 us, 2000 messages, seed {seed}");
    let plain = run(seed, None, 20, 2000, interval, lan);
    let on_demand = run(
        seed,
        Some(FecConfig::on_demand(16)),
        20,
        2000,
        interval,
        lan,
    );
    line("plain NACK", &plain);
    line("FEC on demand k=16", &on_demand);
    println!(
        "repair datagrams: plain {} vs on-demand parity {} ({} parity + {} retransmissions), ratio {:.2}",
        plain.repair_datagrams,
        on_demand.repair_datagrams,
        on_demand.on_demand_parity,
        on_demand.repair_datagrams - on_demand.on_demand_parity,
        on_demand.repair_datagrams as f64 / plain.repair_datagrams.max(1) as f64
    );

    println!();
    println!("== 1 sender x 5 receivers, 5% loss, RTT 1 ms, 5000 messages, seed {seed}");
    let plain = run(seed, None, 5, 5000, interval, wan1ms);
    let proactive = run(
        seed,
        Some(FecConfig::proactive(16, 4)),
        5,
        5000,
        interval,
        wan1ms,
    );
    let adaptive = run(
        seed,
        Some(FecConfig::adaptive(16, 1, 8)),
        5,
        5000,
        interval,
        wan1ms,
    );
    line("plain NACK", &plain);
    line("FEC proactive k=16 m=4", &proactive);
    line("FEC adaptive k=16 m=1..8", &adaptive);
    for (name, f) in [("proactive", &proactive), ("adaptive", &adaptive)] {
        println!(
            "{name}: blocks {} healed without NACK {:.1}% ({} NACKed); repair latency p50 {} us p99 {} us vs plain p50 {} us p99 {} us",
            f.blocks,
            100.0 * f.no_nack_share(),
            f.blocks_nacked,
            f.repair_p(0.5),
            f.repair_p(0.99),
            plain.repair_p(0.5),
            plain.repair_p(0.99)
        );
    }
}

fn run(
    seed: u64,
    fec: Option<FecConfig>,
    receivers: usize,
    count: u32,
    interval: Duration,
    net: Net,
) -> Figures {
    match measure(seed, config(fec), receivers, count, interval, net) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("run failed: {e}");
            std::process::exit(1);
        }
    }
}

fn line(name: &str, f: &Figures) {
    println!(
        "{name:>26}: deliveries {}, data {}, repair {} (parity on demand {}), proactive parity {}, NACKs {} (+{} loss reports), blocks rebuilt {} ({} msgs, {} CRC failures), latency p50 {} p99 {} us, repair latency ({} bursts) p50 {} p99 {} us",
        f.deliveries,
        f.data_datagrams,
        f.repair_datagrams,
        f.on_demand_parity,
        f.proactive_parity,
        f.nacks_sent,
        f.loss_reports,
        f.blocks_recovered,
        f.symbols_recovered,
        f.crc_failures,
        f.latency_p(0.5),
        f.latency_p(0.99),
        f.repair_latency.len(),
        f.repair_p(0.5),
        f.repair_p(0.99)
    );
}
