//! The invariant checkers catch violations that a faulty network seeds
//! into a naive receiver (one that hands over what it gets, as it gets it).

mod common;

use blaze_sim::{
    LinkConfig, ViolationKind, World, check_agreed_order, check_bounded, check_exactly_once,
    check_fifo, check_same_sequence, check_total_order, per_node, run_seeds,
};
use blaze_wire::{Duration, Instant};
use common::{Plan, Toy, one_sender};

const COUNT: u64 = 200;

fn run(seed: u64, link: LinkConfig) -> World<Toy> {
    let mut w = World::new(
        seed,
        3,
        one_sender(Plan::multicast(COUNT, Duration::from_millis(1))),
    );
    w.set_default_link(link);
    w.run_until(Instant::from_millis(2_000));
    w
}

fn deliveries(w: &World<Toy>) -> Vec<Vec<(usize, u64)>> {
    per_node(w.events(), w.node_count(), |r| {
        Some((r.event.from, r.event.seq))
    })
}

fn expected() -> Vec<(usize, u64)> {
    (0..COUNT).map(|s| (0, s)).collect()
}

#[test]
fn a_perfect_network_passes_every_check() {
    run_seeds!("a_perfect_network_passes_every_check", 4, |seed| {
        let w = run(
            seed,
            LinkConfig::default().with_delay(Duration::from_micros(200), Duration::ZERO),
        );
        let d = deliveries(&w);
        for (node, got) in d.iter().enumerate().skip(1) {
            check_exactly_once(node, got, &expected()).map_err(|v| v.to_string())?;
            check_fifo(node, got).map_err(|v| v.to_string())?;
        }
        let seqs = [(1, &d[1][..]), (2, &d[2][..])];
        check_same_sequence(&seqs).map_err(|v| v.to_string())?;
        check_agreed_order(&seqs).map_err(|v| v.to_string())?;
        check_bounded(&w, COUNT as usize).map_err(|v| v.to_string())
    });
}

#[test]
fn duplication_is_caught() {
    let w = run(1, LinkConfig::default().with_duplicate(0.05));
    let v = check_exactly_once(1, &deliveries(&w)[1], &expected()).unwrap_err();
    assert_eq!(v.kind, ViolationKind::Duplicate, "{v}");
    // A duplicate also breaks FIFO (the same seq again).
    assert_eq!(
        check_fifo(1, &deliveries(&w)[1]).unwrap_err().kind,
        ViolationKind::OutOfOrder
    );
}

#[test]
fn loss_is_caught_as_a_gap() {
    let w = run(2, LinkConfig::default().with_loss(0.05));
    let v = check_exactly_once(2, &deliveries(&w)[2], &expected()).unwrap_err();
    assert_eq!(v.kind, ViolationKind::Missing, "{v}");
    assert!(
        v.to_string().starts_with("missing delivery at node 2: "),
        "{v}"
    );
}

#[test]
fn reordering_is_caught() {
    let w = run(
        3,
        LinkConfig::default().with_reorder(0.3, Duration::from_millis(4)),
    );
    let d = deliveries(&w);
    assert!(check_exactly_once(1, &d[1], &expected()).is_ok());
    let v = check_fifo(1, &d[1]).unwrap_err();
    assert_eq!(v.kind, ViolationKind::OutOfOrder, "{v}");
}

#[test]
fn total_order_disagreement_is_caught() {
    let w = run(
        4,
        LinkConfig::default().with_delay(Duration::from_millis(1), Duration::from_millis(3)),
    );
    let d = deliveries(&w);
    let seqs = [(1, &d[1][..]), (2, &d[2][..])];
    let v = check_total_order(&seqs).unwrap_err();
    assert_eq!(v.kind, ViolationKind::Disagreement, "{v}");
    let v = check_agreed_order(&seqs).unwrap_err();
    assert_eq!(v.kind, ViolationKind::Disagreement, "{v}");
}

#[test]
fn occupancy_over_the_bound_is_caught() {
    let w = run(5, LinkConfig::default());
    // The toy's occupancy is the number of datagrams it kept.
    let v = check_bounded(&w, 150).unwrap_err();
    assert_eq!(v.kind, ViolationKind::OverBound);
    assert_eq!(v.node, Some(1));
    assert!(check_bounded(&w, 200).is_ok());
}
