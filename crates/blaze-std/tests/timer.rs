//! The driver's timer handling in tokio's paused time: deadlines fire in
//! order and never early, the timer is re-armed only when the deadline
//! changes, and spurious wake-ups do not reach `handle_timeout`.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::ops::ControlFlow;
use std::time::Duration as StdDuration;

use blaze_node::Protocol;
use blaze_std::{Application, Clock, Driver, DriverConfig, SocketConfig, Sockets};
use blaze_wire::{Duration, Instant, Transmit};

/// A machine made only of a deadline. Each time it fires, the next one is
/// `now +` the next gap of its plan; a command can also set it.
struct Alarm {
    deadline: Option<Instant>,
    plan: VecDeque<Duration>,
    /// (deadline, now) of every firing.
    fired: Vec<(Instant, Instant)>,
    /// `handle_timeout` calls before the deadline (spurious).
    early: u32,
    /// Every `now` seen, to check time only moves forward.
    seen: Vec<Instant>,
}

impl Alarm {
    fn new(first: Instant, plan: &[u64]) -> Self {
        Alarm {
            deadline: Some(first),
            plan: plan.iter().map(|ms| Duration::from_millis(*ms)).collect(),
            fired: Vec::new(),
            early: 0,
            seen: Vec::new(),
        }
    }
}

impl Protocol for Alarm {
    type Event<'a> = Instant;

    fn handle_datagram(&mut self, now: Instant, _from: SocketAddr, _datagram: &[u8]) {
        self.seen.push(now);
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.seen.push(now);
        match self.deadline {
            Some(d) if d <= now => {
                self.fired.push((d, now));
                self.deadline = self.plan.pop_front().map(|gap| now + gap);
            }
            _ => self.early += 1,
        }
    }

    fn poll_transmit(&mut self, _now: Instant, _buf: &mut [u8]) -> Option<Transmit> {
        None
    }

    fn poll_event(&mut self) -> Option<Instant> {
        None
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }
}

/// Stops once the alarm has fired `until` times and has no deadline left;
/// optionally moves the deadline by a command at its first turn.
struct Until {
    until: usize,
    command: Option<Instant>,
    turns: u32,
}

impl Application<Alarm> for Until {
    fn on_event(&mut self, _now: Instant, _event: Instant) -> ControlFlow<()> {
        ControlFlow::Continue(())
    }

    fn on_turn(&mut self, now: Instant, alarm: &mut Alarm) -> ControlFlow<()> {
        self.turns += 1;
        alarm.seen.push(now);
        if let Some(at) = self.command.take() {
            alarm.deadline = Some(at);
        }
        if alarm.fired.len() >= self.until && alarm.deadline.is_none() {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }
}

fn driver(first: Instant, plan: &[u64], clock: Clock) -> Driver<Alarm> {
    let sockets = Sockets::bind(&SocketConfig::unicast(Vec::new())).unwrap();
    Driver::new(
        Alarm::new(first, plan),
        sockets,
        clock,
        DriverConfig::default(),
    )
    .unwrap()
}

/// Checks every firing came at or after its deadline, within tokio's
/// one-millisecond timer resolution, and that time never went back.
fn check_firings(alarm: &Alarm) {
    for (deadline, now) in &alarm.fired {
        assert!(now >= deadline, "fired early: {deadline} at {now}");
        assert!(
            *now - *deadline <= Duration::from_millis(1),
            "fired late: {deadline} at {now}"
        );
    }
    assert!(
        alarm.seen.windows(2).all(|w| w[0] <= w[1]),
        "time went back"
    );
    assert_eq!(alarm.early, 0, "the driver made a spurious handle_timeout");
}

#[tokio::test(start_paused = true)]
async fn deadlines_fire_in_order_and_rearm_only_on_change() {
    let clock = Clock::new();
    let mut d = driver(Instant::from_millis(10), &[7, 7, 30], clock);
    let mut app = Until {
        until: 4,
        command: None,
        turns: 0,
    };
    d.run(&mut app).await.unwrap();
    let alarm = d.protocol();
    check_firings(alarm);
    let deadlines: Vec<u64> = alarm.fired.iter().map(|(d, _)| d.total_millis()).collect();
    assert_eq!(deadlines, [10, 17, 24, 54]);
    let stats = d.stats();
    assert_eq!(stats.timeouts, 4);
    // Four distinct deadlines, one arming each.
    assert_eq!(stats.timer_rearms, 4);
    assert_eq!(clock.now(), Instant::from_millis(54));
}

#[tokio::test(start_paused = true)]
async fn spurious_wakeups_do_not_fire_or_rearm() {
    let clock = Clock::new();
    let mut d = driver(Instant::from_millis(50), &[], clock);
    let waker = d.waker();
    let mut app = Until {
        until: 1,
        command: None,
        turns: 0,
    };
    let wakes = async {
        for _ in 0..10 {
            tokio::time::sleep(StdDuration::from_millis(3)).await;
            waker.wake();
        }
    };
    let (run, ()) = tokio::join!(d.run(&mut app), wakes);
    run.unwrap();
    let alarm = d.protocol();
    check_firings(alarm);
    assert_eq!(alarm.fired.len(), 1);
    assert_eq!(alarm.fired[0].0, Instant::from_millis(50));
    let stats = d.stats();
    assert_eq!(stats.wakeups, 10);
    assert_eq!(stats.timeouts, 1);
    // Armed once for 50 ms; ten wake-ups in between changed nothing.
    assert_eq!(stats.timer_rearms, 1);
    assert!(app.turns >= 11, "{}", app.turns);
}

#[tokio::test(start_paused = true)]
async fn a_command_that_moves_the_deadline_rearms_the_timer() {
    let clock = Clock::new();
    let mut d = driver(Instant::from_millis(100), &[], clock);
    let mut app = Until {
        until: 1,
        command: Some(Instant::from_millis(20)),
        turns: 0,
    };
    d.run(&mut app).await.unwrap();
    let alarm = d.protocol();
    check_firings(alarm);
    assert_eq!(
        alarm.fired,
        [(Instant::from_millis(20), Instant::from_millis(20))]
    );
    assert_eq!(clock.now(), Instant::from_millis(20));
    // The command moved the deadline before the timer was first armed:
    // one arming, for 20 ms.
    assert_eq!(d.stats().timer_rearms, 1);
}

#[tokio::test(start_paused = true)]
async fn a_deadline_in_the_past_fires_at_once() {
    let clock = Clock::new();
    tokio::time::advance(StdDuration::from_millis(5)).await;
    let mut d = driver(Instant::from_millis(1), &[], clock);
    let mut app = Until {
        until: 1,
        command: None,
        turns: 0,
    };
    d.run(&mut app).await.unwrap();
    let alarm = d.protocol();
    assert_eq!(
        alarm.fired,
        [(Instant::from_millis(1), Instant::from_millis(5))]
    );
    assert_eq!(
        d.stats().timer_rearms,
        0,
        "fired on the first turn, no timer needed"
    );
}
