//! Many seeds of the simulator: every message delivered exactly once, in
//! per-sender order, intact, with bounded memory, under loss (uniform and
//! bursty), duplication and reordering.

mod common;

use blaze_wire::Duration;
use common::{Plan, Scenario, link, run, test_config};

/// Seeds per test by default; `BLAZE_SIM_SEEDS` scales it.
const SEEDS: u64 = 200;

fn scenario(nodes: usize, senders: Vec<usize>, count: u32, profile: u64) -> Scenario {
    Scenario {
        nodes,
        senders,
        plan: Plan {
            count,
            interval: Duration::from_micros(20),
            large_every: 25,
            large_len: 3_000,
            small_len: 16,
        },
        link: link(profile).1,
        config: test_config(),
        deadline: Duration::from_secs(5),
    }
}

/// One test per topology and network condition, each over `SEEDS` seeds.
macro_rules! scenarios {
    ($($name:ident: $nodes:expr, $senders:expr, $count:expr, $profile:expr;)*) => {$(
        #[test]
        fn $name() {
            blaze_sim::run_seeds!(stringify!($name), SEEDS, |seed| {
                let sc = scenario($nodes, $senders, $count, $profile);
                run::<8, 64>(seed, &sc).map(drop)
            });
        }
    )*};
}

scenarios! {
    one_to_five_loss_0: 6, vec![0], 100, 0;
    one_to_five_loss_1: 6, vec![0], 100, 1;
    one_to_five_loss_10: 6, vec![0], 100, 2;
    one_to_five_loss_30: 6, vec![0], 100, 3;
    one_to_five_bursty: 6, vec![0], 100, 4;
    three_to_three_loss_0: 6, vec![0, 1, 2], 40, 0;
    three_to_three_loss_1: 6, vec![0, 1, 2], 40, 1;
    three_to_three_loss_10: 6, vec![0, 1, 2], 40, 2;
    three_to_three_loss_30: 6, vec![0, 1, 2], 40, 3;
    three_to_three_bursty: 6, vec![0, 1, 2], 40, 4;
}

#[test]
fn wan_profile_over_a_wan_path() {
    blaze_sim::run_seeds!("wan_profile_over_a_wan_path", SEEDS, |seed| {
        let mut config = blaze_proto_nack::Config::wan();
        config.late_join = blaze_proto_nack::LateJoin::Oldest;
        let sc = Scenario {
            nodes: 4,
            senders: vec![0, 1],
            plan: Plan {
                count: 60,
                interval: Duration::from_micros(500),
                large_every: 20,
                large_len: 2_500,
                small_len: 16,
            },
            link: blaze_sim::LinkConfig::wan(),
            config,
            deadline: Duration::from_secs(30),
        };
        run::<8, 64>(seed, &sc).map(drop)
    });
}
