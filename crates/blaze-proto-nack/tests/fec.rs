//! "Reliable + FEC" streams: exactly-once FIFO delivery under loss over
//! many seeds (proactive, on-demand and adaptive parity), a corrupted
//! parity symbol never yields a delivery, and the figures FEC is for:
//! fewer repair datagrams than retransmission with many receivers, most
//! blocks healed without any NACK and a lower repair latency.

mod common;
mod fec_metrics;

use std::net::SocketAddr;

use blaze_proto_nack::{
    Buffers, Config, Endpoint, Event, FecBuffers, FecConfig, Identity, LateJoin, Reliability,
    RxSlot, SendSlot,
};
use blaze_wire::{Body, Duration, Frame, GroupId, Instant, MemberId, Message};
use common::{Plan, Scenario, run, test_config};
use fec_metrics::{Net, config, measure};

/// Seeds per correctness test by default; `BLAZE_SIM_SEEDS` scales it.
const SEEDS: u64 = 200;

fn scenario(senders: Vec<usize>, loss: f64, fec: FecConfig) -> Scenario {
    let mut config = test_config();
    config.reliability = Reliability::ReliableFec(fec);
    Scenario {
        nodes: 5,
        senders,
        plan: Plan {
            count: 80,
            interval: Duration::from_micros(20),
            large_every: 25,
            large_len: 3_000,
            small_len: 16,
        },
        link: blaze_sim::LinkConfig::default()
            .with_delay(Duration::from_micros(100), Duration::from_micros(20))
            .with_duplicate(0.01)
            .with_reorder(0.03, Duration::from_micros(300))
            .with_loss(loss),
        config,
        deadline: Duration::from_secs(5),
    }
}

/// Runs `SEEDS` seeds of a scenario (each checked for exactly-once, FIFO,
/// integrity, bounded memory, and no CRC failure: nothing corrupts
/// datagrams here) and returns `(blocks closed, blocks rebuilt)` in all.
fn seeds(name: &str, sc: &Scenario) -> (u64, u64) {
    let (mut blocks, mut rebuilt, mut unusable) = (0, 0, 0);
    blaze_sim::run_seeds!(name, SEEDS, |seed| {
        let out = run::<8, 64>(seed, sc)?;
        for r in 0..sc.nodes {
            let fs = out.world.machine(r).ok_or("node")?.ep().fec_stats();
            if fs.crc_failures > 0 {
                return Err(format!("node {r}: {} CRC failures", fs.crc_failures));
            }
            blocks += fs.blocks;
            rebuilt += fs.blocks_recovered;
            unusable += fs.blocks_unusable;
        }
        Ok(())
    });
    println!("{name}: blocks {blocks}, rebuilt {rebuilt}, unusable here {unusable}");
    (blocks, rebuilt)
}

#[test]
fn fec_exactly_once_fifo_loss_0() {
    let (blocks, _) = seeds(
        "fec_exactly_once_fifo_loss_0",
        &scenario(vec![0], 0.0, FecConfig::proactive(8, 2)),
    );
    assert!(blocks >= SEEDS * 80 / 8, "{blocks}");
}

#[test]
fn fec_exactly_once_fifo_loss_5() {
    let (_, rebuilt) = seeds(
        "fec_exactly_once_fifo_loss_5",
        &scenario(vec![0, 1], 0.05, FecConfig::adaptive(8, 1, 4)),
    );
    assert!(rebuilt > 0, "parity never rebuilt a block");
}

#[test]
fn fec_exactly_once_fifo_loss_10() {
    let (_, rebuilt) = seeds(
        "fec_exactly_once_fifo_loss_10",
        &scenario(vec![0], 0.10, FecConfig::proactive(8, 2)),
    );
    assert!(rebuilt > 0, "parity never rebuilt a block");
}

#[test]
fn fec_on_demand_exactly_once_fifo_loss_10() {
    let (_, rebuilt) = seeds(
        "fec_on_demand_exactly_once_fifo_loss_10",
        &scenario(vec![0, 2], 0.10, FecConfig::on_demand(8)),
    );
    assert!(rebuilt > 0, "parity never rebuilt a block");
}

// ------------------------------------------------------------ corruption

const P: usize = 2;
const WIN: usize = 16;

struct Store {
    index: Vec<SendSlot>,
    bytes: Vec<u8>,
    recv: Vec<u8>,
    slots: Vec<RxSlot>,
    reasm: Vec<u8>,
    scratch: Vec<u8>,
    parity: Vec<u8>,
}

impl Store {
    fn new(cfg: &Config) -> Self {
        Store {
            index: vec![SendSlot::EMPTY; 64],
            bytes: vec![0; 64 * 1024],
            recv: vec![0; Buffers::recv_bytes_needed(cfg, P, WIN)],
            slots: vec![RxSlot::EMPTY; Buffers::recv_slots_needed(P, WIN)],
            reasm: vec![0; 16 * 1024],
            scratch: vec![0; FecBuffers::scratch_needed(cfg, 8)],
            parity: vec![0; 8 * FecBuffers::parity_slot_len(cfg)],
        }
    }

    fn endpoint(&mut self, cfg: Config, id: u128) -> Endpoint<'_, P, WIN> {
        let identity = Identity {
            member: MemberId::from_u128(id),
            group: GroupId::from_name("fec"),
            seed: id as u64,
        };
        let buffers = Buffers {
            send_index: &mut self.index,
            send_bytes: &mut self.bytes,
            recv_bytes: &mut self.recv,
            recv_slots: &mut self.slots,
            reassembly: &mut self.reasm,
        };
        let fec = FecBuffers {
            scratch: &mut self.scratch,
            parity: &mut self.parity,
        };
        Endpoint::with_fec(Instant::ZERO, cfg, identity, buffers, fec).expect("valid")
    }
}

fn fec_config() -> Config {
    fec_config_with(FecConfig::proactive(4, 2))
}

fn fec_config_with(fec: FecConfig) -> Config {
    let mut c = Config::lan();
    c.late_join = LateJoin::Oldest;
    c.flow_window = core::num::NonZeroU32::new(WIN as u32).expect("non-zero");
    c.reliability = Reliability::ReliableFec(fec);
    c
}

/// The datagram's parity symbol, when it is a parity frame: its offset.
fn parity_symbol_at(datagram: &[u8]) -> Option<(usize, usize)> {
    match Frame::parse(datagram).ok()?.body {
        Body::Parity(p) if !p.symbol.is_empty() => {
            let at = p.symbol.as_ptr() as usize - datagram.as_ptr() as usize;
            Some((at, p.symbol.len()))
        }
        _ => None,
    }
}

/// One sender, one receiver; message 1 of a 4-message block is lost.
/// `corrupt` flips a byte of every parity symbol in flight. Returns the
/// delivered payloads and the receiver's FEC counters and NACK count.
fn lose_one(corrupt: bool) -> (Vec<Vec<u8>>, blaze_proto_nack::FecStats, u64) {
    lose_one_of(corrupt, fec_config(), 4, true).0
}

type Outcome = (Vec<Vec<u8>>, blaze_proto_nack::FecStats, u64);

/// As [`lose_one`], with `count` messages under `cfg` (`lose`: whether
/// message 1 is lost); also returns the sender's FEC counters.
fn lose_one_of(
    corrupt: bool,
    cfg: Config,
    count: usize,
    lose: bool,
) -> (Outcome, blaze_proto_nack::FecStats) {
    let (mut sa, mut sb) = (Store::new(&cfg), Store::new(&cfg));
    let mut a = sa.endpoint(cfg, 1);
    let mut b = sb.endpoint(cfg, 2);
    let (from_a, from_b): (SocketAddr, SocketAddr) =
        ("10.0.0.1:1".parse().unwrap(), "10.0.0.2:1".parse().unwrap());
    a.add_peer(Instant::ZERO, MemberId::from_u128(2)).unwrap();
    b.add_peer(Instant::ZERO, MemberId::from_u128(1)).unwrap();
    let mut now = Instant::from_micros(10);
    let mut data_seen = 0;
    let mut delivered = Vec::new();
    let mut buf = [0u8; 1500];
    for step in 0..2000 {
        if step < count {
            a.send(now, format!("message {step} of the block").as_bytes())
                .unwrap();
        }
        while let Some(t) = a.poll_transmit(now, &mut buf) {
            let d = &mut buf[..t.len];
            if let Ok(Frame {
                body: Body::Data(_),
                ..
            }) = Frame::parse(d)
            {
                data_seen += 1;
                if lose && data_seen == 2 {
                    continue; // the first transmission of message 1 is lost
                }
            }
            if corrupt && let Some((at, len)) = parity_symbol_at(d) {
                d[at + len / 2] ^= 0x5a;
            }
            b.handle_datagram(now, from_a, d);
        }
        while let Some(t) = b.poll_transmit(now, &mut buf) {
            a.handle_datagram(now, from_b, &buf[..t.len]);
        }
        while let Some(ev) = b.poll_event(now) {
            if let Event::Message { payload, .. } = ev {
                delivered.push(payload.to_vec());
            }
        }
        now += Duration::from_micros(100);
        a.handle_timeout(now);
        b.handle_timeout(now);
        if delivered.len() == count && step > 100 {
            break;
        }
    }
    let nacks = b
        .recv_stats(MemberId::from_u128(1))
        .map_or(0, |s| s.nacks_sent);
    ((delivered, *b.fec_stats(), nacks), *a.fec_stats())
}

fn expected() -> Vec<Vec<u8>> {
    expected_n(4)
}

fn expected_n(n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| format!("message {i} of the block").into_bytes())
        .collect()
}

#[test]
fn parity_heals_a_loss_without_nack() {
    let (delivered, fs, nacks) = lose_one(false);
    assert_eq!(delivered, expected());
    assert_eq!(fs.blocks_recovered, 1, "{fs:?}");
    assert_eq!(fs.symbols_recovered, 1);
    assert_eq!(fs.crc_failures, 0);
    assert_eq!(nacks, 0, "the proactive parity came first");
}

#[test]
fn corrupted_parity_is_caught_by_the_block_crc() {
    let (delivered, fs, nacks) = lose_one(true);
    // Nothing wrong was delivered: the rebuilt block failed its check,
    // and the hole was repaired by retransmission.
    assert_eq!(delivered, expected());
    assert!(fs.crc_failures >= 1, "{fs:?}");
    assert_eq!(fs.blocks_recovered, 0);
    assert!(nacks >= 1);
}

/// A NACK into the block being filled closes it early, and is answered
/// with parity.
#[test]
fn nack_into_the_open_block_is_answered_with_parity() {
    let cfg = fec_config_with(FecConfig::on_demand(8));
    let ((delivered, rx, nacks), tx) = lose_one_of(false, cfg, 3, true);
    assert_eq!(delivered, expected_n(3));
    assert!(nacks >= 1);
    assert_eq!(rx.blocks_recovered, 1, "{rx:?}");
    assert!(tx.blocks >= 1 && tx.blocks_nacked >= 1, "{tx:?}");
    assert!(tx.on_demand_parity >= 1 && tx.nacked_seqs_to_parity >= 1);
    assert_eq!(tx.proactive_parity, 0);
}

/// A stream that goes idle closes its partial block at the heartbeat, so
/// its proactive parity covers the tail.
#[test]
fn idle_stream_closes_its_partial_block() {
    let cfg = fec_config_with(FecConfig::proactive(8, 2));
    let ((delivered, rx, nacks), tx) = lose_one_of(false, cfg, 3, false);
    assert_eq!(delivered, expected_n(3));
    assert_eq!(nacks, 0);
    assert_eq!(
        (tx.blocks, tx.blocks_nacked, tx.proactive_parity),
        (1, 0, 2),
        "{tx:?}"
    );
    assert_eq!(rx.parity_received, 2);
    assert_eq!(rx.parity_unneeded, 2, "nothing was missing");
}

// --------------------------------------------------------------- figures

/// 20 receivers, 5 % independent loss: one parity datagram heals
/// different losses at different receivers, so on-demand parity needs
/// fewer repair datagrams than retransmission.
#[test]
fn on_demand_parity_sends_fewer_repair_datagrams_than_retransmission() {
    let net = Net {
        one_way: Duration::from_micros(50),
        jitter: Duration::from_micros(5),
        loss: 0.05,
    };
    let interval = Duration::from_micros(100);
    for seed in 0..2 {
        let plain = measure(seed, config(None), 20, 600, interval, net).unwrap();
        let fec = measure(
            seed,
            config(Some(FecConfig::on_demand(16))),
            20,
            600,
            interval,
            net,
        )
        .unwrap();
        println!(
            "seed {seed}: repair datagrams plain {} vs on-demand parity {} ({} parity)",
            plain.repair_datagrams, fec.repair_datagrams, fec.on_demand_parity
        );
        assert_eq!(fec.crc_failures, 0);
        assert!(fec.on_demand_parity > 0);
        assert!(
            fec.repair_datagrams * 2 < plain.repair_datagrams,
            "on demand {} vs plain {}",
            fec.repair_datagrams,
            plain.repair_datagrams
        );
    }
}

/// Proactive k = 16, m = 4 at 5 % loss, 1 ms RTT: at least 90 % of the
/// blocks heal without any NACK, and the repair latency p99 is below plain
/// NACK recovery's.
#[test]
fn proactive_parity_heals_most_blocks_without_nack() {
    let net = Net {
        one_way: Duration::from_micros(500),
        jitter: Duration::from_micros(20),
        loss: 0.05,
    };
    let interval = Duration::from_micros(100);
    for seed in 0..2 {
        let plain = measure(seed, config(None), 5, 1500, interval, net).unwrap();
        let fec = measure(
            seed,
            config(Some(FecConfig::proactive(16, 4))),
            5,
            1500,
            interval,
            net,
        )
        .unwrap();
        println!(
            "seed {seed}: blocks {} healed without NACK {:.1}%; repair latency p99 FEC {} us vs plain {} us",
            fec.blocks,
            100.0 * fec.no_nack_share(),
            fec.repair_p(0.99),
            plain.repair_p(0.99)
        );
        assert!(fec.blocks >= 1500 / 16);
        assert!(fec.no_nack_share() >= 0.9, "{}", fec.no_nack_share());
        assert!(fec.symbols_recovered > 0);
        assert!(fec.repair_p(0.99) < plain.repair_p(0.99));
    }
}

/// Adaptive parity follows the reported loss: more parity at 10 % than at
/// 1 %, within its bounds.
#[test]
fn adaptive_parity_follows_the_loss_rate() {
    let interval = Duration::from_micros(100);
    let mut parity = Vec::new();
    for loss in [0.01, 0.10] {
        let net = Net {
            one_way: Duration::from_micros(100),
            jitter: Duration::from_micros(10),
            loss,
        };
        let f = measure(
            3,
            config(Some(FecConfig::adaptive(16, 1, 8))),
            5,
            1500,
            interval,
            net,
        )
        .unwrap();
        assert_eq!(f.crc_failures, 0);
        parity.push(f.proactive_parity as f64 / f.blocks as f64);
    }
    println!(
        "proactive parity per block: 1% loss {:.2}, 10% loss {:.2}",
        parity[0], parity[1]
    );
    assert!(parity[0] >= 1.0 && parity[1] <= 8.0);
    assert!(parity[1] > parity[0] + 1.0, "{parity:?}");
}

// -------------------------------------------------------------- hostility

mod hostile {
    use super::*;
    use blaze_wire::{Parity, Repeated};
    use proptest::prelude::*;

    /// A forged parity frame from member 1.
    fn forged(block: u64, k: u32, index: u32, symbol: &[u8], lengths: &[u32], crc: u32) -> Vec<u8> {
        let p = Parity {
            stream: 0,
            block,
            k,
            m: 255u32.saturating_sub(k),
            index,
            symbol,
            lengths: Repeated::from_slice(lengths),
            block_crc: crc,
        };
        let f = Frame {
            version: blaze_wire::VERSION,
            group: GroupId::from_name("fec"),
            sender: MemberId::from_u128(1),
            auth_tag: &[],
            body: Body::Parity(p),
        };
        let mut buf = vec![0u8; f.encoded_len()];
        let n = f.emit(&mut buf).unwrap();
        buf.truncate(n);
        buf
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, rng_seed: proptest::test_runner::RngSeed::Fixed(7), ..ProptestConfig::default() })]

        /// Forged parity (any shape, aimed at the block with a hole) never
        /// panics and never makes the receiver deliver anything but the
        /// sent messages, in order.
        #[test]
        fn forged_parity_never_delivers_garbage(
            offset in 0u64..12, k in 0u32..20, row in 0u32..300,
            symbol in proptest::collection::vec(any::<u8>(), 0..80),
            lengths in proptest::collection::vec(0u32..100, 0..20),
            crc: u32,
        ) {
            let cfg = fec_config();
            let (mut sa, mut sb) = (Store::new(&cfg), Store::new(&cfg));
            let mut a = sa.endpoint(cfg, 1);
            let mut b = sb.endpoint(cfg, 2);
            let from_a: SocketAddr = "10.0.0.1:1".parse().unwrap();
            let from_b: SocketAddr = "10.0.0.2:1".parse().unwrap();
            a.add_peer(Instant::ZERO, MemberId::from_u128(2)).unwrap();
            b.add_peer(Instant::ZERO, MemberId::from_u128(1)).unwrap();
            let first = a.next_seq().raw();
            let mut now = Instant::from_micros(10);
            let mut buf = [0u8; 1500];
            let mut delivered = Vec::new();
            let mut data_seen = 0;
            for step in 0..400 {
                if step < 4 {
                    a.send(now, format!("message {step} of the block").as_bytes()).unwrap();
                }
                while let Some(t) = a.poll_transmit(now, &mut buf) {
                    let d = &buf[..t.len];
                    if matches!(Frame::parse(d).map(|f| f.body), Ok(Body::Data(_))) {
                        data_seen += 1;
                        if data_seen == 2 {
                            let f = forged(first.wrapping_add(offset), k, k + row, &symbol, &lengths, crc);
                            b.handle_datagram(now, from_a, &f);
                            continue;
                        }
                    }
                    b.handle_datagram(now, from_a, d);
                }
                while let Some(t) = b.poll_transmit(now, &mut buf) {
                    a.handle_datagram(now, from_b, &buf[..t.len]);
                }
                while let Some(ev) = b.poll_event(now) {
                    if let Event::Message { payload, .. } = ev {
                        delivered.push(payload.to_vec());
                    }
                }
                now += Duration::from_micros(100);
                a.handle_timeout(now);
                b.handle_timeout(now);
            }
            prop_assert_eq!(delivered, expected());
            // The forged frame and the two proactive rows all reached the decoder.
            prop_assert!(b.fec_stats().parity_received >= 3, "{:?}", b.fec_stats());
        }
    }
}
