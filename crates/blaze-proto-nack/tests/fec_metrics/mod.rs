//! Figures of a one-sender run, shared by the FEC tests and
//! `examples/fec_report.rs`: repair traffic, blocks healed without NACK,
//! repair latency.
#![allow(
    dead_code,
    reason = "each test binary uses a different part of the harness"
)]

use blaze_proto_nack::{Config, FecConfig, Reliability};
use blaze_sim::LinkConfig;
use blaze_wire::Duration;

use crate::common::{Plan, Rec, Scenario, member, run, test_config};

/// Receive window of the measured runs.
pub(crate) const W: usize = 128;

/// What one run measured.
#[derive(Debug, Clone, Default)]
pub(crate) struct Figures {
    /// Deliveries (all receivers).
    pub(crate) deliveries: usize,
    /// First transmissions of data.
    pub(crate) data_datagrams: u64,
    /// Repair datagrams: retransmissions plus parity sent on demand.
    pub(crate) repair_datagrams: u64,
    /// Of which parity.
    pub(crate) on_demand_parity: u64,
    /// Proactive parity datagrams.
    pub(crate) proactive_parity: u64,
    /// NACK frames sent by the receivers, and loss reports sent alone.
    pub(crate) nacks_sent: u64,
    pub(crate) loss_reports: u64,
    /// Blocks closed, and blocks some NACK named.
    pub(crate) blocks: u64,
    pub(crate) blocks_nacked: u64,
    /// Blocks and messages rebuilt by the receivers, CRC failures.
    pub(crate) blocks_recovered: u64,
    pub(crate) symbols_recovered: u64,
    pub(crate) crc_failures: u64,
    /// Latencies (us) from `send` to delivery of the messages at the head
    /// of each delayed burst (the repaired ones), sorted.
    pub(crate) repair_latency: Vec<u64>,
    /// All latencies (us), sorted.
    pub(crate) latency: Vec<u64>,
}

impl Figures {
    /// The `p`-quantile of the repair latency (us).
    pub(crate) fn repair_p(&self, p: f64) -> u64 {
        percentile(&self.repair_latency, p)
    }

    /// The `p`-quantile of all latencies (us).
    pub(crate) fn latency_p(&self, p: f64) -> u64 {
        percentile(&self.latency, p)
    }

    /// Share of blocks healed without any NACK.
    pub(crate) fn no_nack_share(&self) -> f64 {
        1.0 - self.blocks_nacked as f64 / self.blocks.max(1) as f64
    }
}

pub(crate) fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// A measured network: one way delay and jitter, independent loss.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Net {
    pub(crate) one_way: Duration,
    pub(crate) jitter: Duration,
    pub(crate) loss: f64,
}

/// The configuration measured: plain NACK, or FEC of this shape.
pub(crate) fn config(fec: Option<FecConfig>) -> Config {
    let mut c = test_config();
    c.flow_window = core::num::NonZeroU32::new(W as u32 / 2).expect("non-zero");
    if let Some(f) = fec {
        c.reliability = Reliability::ReliableFec(f);
    }
    c
}

/// Runs one sender and `receivers` receivers, `count` messages of 100
/// bytes every `interval`, and measures.
pub(crate) fn measure(
    seed: u64,
    config: Config,
    receivers: usize,
    count: u32,
    interval: Duration,
    net: Net,
) -> Result<Figures, String> {
    let nodes = receivers + 1;
    let sc = Scenario {
        nodes,
        senders: vec![0],
        plan: Plan {
            count,
            interval,
            large_every: 0,
            large_len: 0,
            small_len: 100,
        },
        link: LinkConfig::default()
            .with_delay(net.one_way, net.jitter)
            .with_loss(net.loss),
        config,
        deadline: Duration::from_secs(60),
    };
    let out = run::<24, W>(seed, &sc)?;
    let world = &out.world;
    let sender = world.machine(0).ok_or("no sender")?;
    let threshold = (net.one_way + net.jitter + Duration::from_micros(10)).total_micros();
    let mut f = Figures::default();
    for r in 1..nodes {
        let mut last_time = None;
        for e in world.events().iter().filter(|e| e.node == r) {
            if let Rec::Msg { idx, .. } = e.event {
                let lat = (e.time - sender.sent_at[idx as usize]).total_micros();
                f.latency.push(lat);
                if lat > threshold && last_time != Some(e.time) {
                    f.repair_latency.push(lat);
                }
                last_time = Some(e.time);
            }
        }
        let ep = world.machine(r).ok_or("no receiver")?.ep();
        let rs = ep.recv_stats(member(0)).copied().unwrap_or_default();
        f.nacks_sent += rs.nacks_sent;
        let fs = ep.fec_stats();
        if std::env::var("DUMP").is_ok() {
            eprintln!("receiver {r}: {fs:?} {rs:?}");
        }
        f.loss_reports += fs.loss_reports;
        f.blocks_recovered += fs.blocks_recovered;
        f.symbols_recovered += fs.symbols_recovered;
        f.crc_failures += fs.crc_failures;
    }
    f.deliveries = f.latency.len();
    f.latency.sort_unstable();
    f.repair_latency.sort_unstable();
    let s = sender.ep().stats().send;
    let fs = sender.ep().fec_stats();
    f.data_datagrams = s.data_datagrams;
    f.on_demand_parity = fs.on_demand_parity;
    f.repair_datagrams = s.repair_datagrams + fs.on_demand_parity;
    f.proactive_parity = fs.proactive_parity;
    f.blocks = fs.blocks;
    f.blocks_nacked = fs.blocks_nacked;
    Ok(f)
}
