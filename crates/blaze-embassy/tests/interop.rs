//! Interop, for real: the firmware's member (the same `Node`
//! configuration and the same code as `examples/firmware`, on embassy's
//! std platform) on a TAP device, against a `blaze-std` node on the
//! kernel's side of the TAP, inside a network namespace the test creates
//! (never the host's network).
//!
//! The embassy member runs as a child process (this test binary again,
//! under `ip netns exec`), so that it can be killed with SIGKILL. Its
//! frames lose 10 % of their UDP datagrams in each direction, drawn from
//! a seeded generator. The test checks, from the `blaze-std` side and
//! from the child's reports: the embassy member appears in the std node's
//! view; reliable messages flow both ways, exactly once and in order,
//! under the loss; a map write from each side is seen by the other; and
//! killing the embassy member is detected.
//!
//! Again with an embassy member that runs no map (`Config::run_map`
//! false, as a firmware without the map): it still appears in the view and
//! exchanges messages both ways; the std node's map writes complete
//! without it (it neither coordinates the map nor holds up a write); it
//! refuses map calls with `MapError::NotRunning` and drops the map's
//! frames it receives (`Stats::no_map`).
//!
//! Needs root (network namespace, TAP). Without it the test prints why it
//! is skipped; with `BLAZE_REQUIRE_NETNS=1` the skip is a failure.
//! Built with feature `map` (default on): the map writes are part of it.
#![cfg(feature = "map")]
#![allow(
    dead_code,
    unreachable_pub,
    missing_docs,
    reason = "the included firmware module is written for the firmware crate"
)]

use std::cell::RefCell;
use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::ops::ControlFlow;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::task::Context;
use std::time::Duration as StdDuration;

use blaze_node::{Event, GroupBuffers, Identity, Instant, MemberId, Metadata, Name};
use blaze_std::{Application, Clock, Driver, DriverConfig, SocketConfig, Sockets};
use blaze_wire::Rng;
use embassy_executor::{Executor, Spawner};
use embassy_net::driver::{Capabilities, Driver as NetDriver, HardwareAddress, LinkState};
use embassy_net::{Ipv4Cidr, StackResources, StaticConfigV4};
use embassy_net_tuntap::TunTapDevice;
use static_cell::StaticCell;

#[path = "../../../examples/firmware/src/scenario.rs"]
mod scenario;

use scenario::{FwNode, MESSAGES, TOPIC};

const CHILD_ENV: &str = "BLAZE_EMBASSY_INTEROP_CHILD";
/// Set for a child that runs no map.
const CHILD_NO_MAP_ENV: &str = "BLAZE_EMBASSY_INTEROP_NO_MAP";
const TAP: &str = "tap0";
const HOST_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const EMBASSY_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
/// UDP datagrams dropped per thousand, each direction, on the embassy side.
const LOSS_PER_MILLE: u64 = 100;

// ------------------------------------------------------------ the child

/// An embassy-net driver that drops a seeded share of the UDP frames it
/// receives and sends (ARP and IGMP pass). A dropped received frame is
/// handed to the stack empty (it discards it); a dropped sent frame gets
/// an unknown EtherType, so the kernel discards it.
struct Lossy<D> {
    inner: D,
    rng: RefCell<Rng>,
}

fn is_udp(frame: &[u8]) -> bool {
    frame.get(12..14) == Some(&[0x08, 0x00]) && frame.get(23) == Some(&17)
}

fn lose(rng: &RefCell<Rng>) -> bool {
    rng.borrow_mut().below(1000) < LOSS_PER_MILLE
}

struct LossyRx<'a, T> {
    inner: T,
    rng: &'a RefCell<Rng>,
}

struct LossyTx<'a, T> {
    inner: T,
    rng: &'a RefCell<Rng>,
}

impl<T: embassy_net::driver::RxToken> embassy_net::driver::RxToken for LossyRx<'_, T> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, f: F) -> R {
        let rng = self.rng;
        self.inner.consume(|frame| {
            if is_udp(frame) && lose(rng) {
                f(&mut [])
            } else {
                f(frame)
            }
        })
    }
}

impl<T: embassy_net::driver::TxToken> embassy_net::driver::TxToken for LossyTx<'_, T> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let rng = self.rng;
        self.inner.consume(len, |frame| {
            let r = f(frame);
            if is_udp(frame)
                && lose(rng)
                && let Some(ethertype) = frame.get_mut(12..14)
            {
                ethertype.copy_from_slice(&[0x88, 0xb5]);
            }
            r
        })
    }
}

impl<D: NetDriver> NetDriver for Lossy<D> {
    type RxToken<'a>
        = LossyRx<'a, D::RxToken<'a>>
    where
        Self: 'a;
    type TxToken<'a>
        = LossyTx<'a, D::TxToken<'a>>
    where
        Self: 'a;

    fn receive(&mut self, cx: &mut Context<'_>) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        let Lossy { inner, rng } = self;
        let rng = &*rng;
        inner
            .receive(cx)
            .map(|(rx, tx)| (LossyRx { inner: rx, rng }, LossyTx { inner: tx, rng }))
    }

    fn transmit(&mut self, cx: &mut Context<'_>) -> Option<Self::TxToken<'_>> {
        let Lossy { inner, rng } = self;
        let rng = &*rng;
        inner.transmit(cx).map(|tx| LossyTx { inner: tx, rng })
    }

    fn link_state(&mut self, cx: &mut Context<'_>) -> LinkState {
        self.inner.link_state(cx)
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    fn hardware_address(&self) -> HardwareAddress {
        self.inner.hardware_address()
    }
}

type ChildDevice = Lossy<TunTapDevice>;

#[embassy_executor::task]
async fn child_net_task(mut runner: embassy_net::Runner<'static, ChildDevice>) -> ! {
    runner.run().await
}

/// The embassy member: the firmware's node on the TAP device. Reports
/// its progress on stdout, one `child: …` line per milestone, and then
/// runs until it is killed.
#[embassy_executor::task]
async fn child_main(spawner: Spawner) {
    static NET: StaticCell<StackResources<3>> = StaticCell::new();
    static NODE: StaticCell<scenario::NodeStorage> = StaticCell::new();
    let say = |line: &str| println!("child: {line}");
    let tap = match TunTapDevice::new(TAP) {
        Ok(tap) => tap,
        Err(e) => return say(&format!("error: cannot open {TAP}: {e}")),
    };
    let device = Lossy {
        inner: tap,
        rng: RefCell::new(Rng::new(0x1055)),
    };
    let config = embassy_net::Config::ipv4_static(StaticConfigV4 {
        address: Ipv4Cidr::new(EMBASSY_IP, 24),
        gateway: None,
        dns_servers: Default::default(),
    });
    let (stack, runner) = embassy_net::new(device, config, NET.init(StackResources::new()), 7);
    spawner.spawn(child_net_task(runner).expect("spawned once"));
    let runs_map = std::env::var_os(CHILD_NO_MAP_ENV).is_none();
    let adjust: fn(&mut blaze_node::Config) = if runs_map {
        |_| {}
    } else {
        |c| c.run_map = false
    };
    let storage = NODE.init(scenario::NodeStorage::new());
    let Some(me) = scenario::start_node_with(spawner, stack, 0, storage, adjust) else {
        return say("error: cannot start the node");
    };
    say("started");

    let with_peer =
        scenario::eventually(30, || me.blaze.read(|n| n.members(me.group).len() == 2)).await;
    say(if with_peer {
        "view of 2"
    } else {
        "error: no view of 2"
    });

    let published = scenario::publish_range(&me, 0, MESSAGES).await;
    say(if published {
        "published"
    } else {
        "error: publish failed"
    });

    let std_id = std_member_id();
    let got = scenario::eventually(60, || me.record.received_from(std_id) == MESSAGES).await;
    let seen = me.record.seen();
    say(&format!(
        "received {} of {MESSAGES} from std, {} out of order",
        me.record.received_from(std_id),
        seen.order_errors
    ));
    if got && seen.order_errors == 0 {
        say("receive ok");
    }

    if !runs_map {
        // The std node's map writes arrive and are dropped; map calls are
        // refused.
        let refused = me.blaze.map_put(
            me.group,
            "cfg",
            b"from-fw",
            b"2",
            blaze_node::WriteOptions::default(),
        );
        let dropped = scenario::eventually(60, || me.blaze.read(|n| n.stats().no_map > 0)).await;
        say(&format!(
            "map: put {:?}, {} map frames dropped",
            refused.map(|_| ()),
            me.blaze.read(|n| n.stats().no_map)
        ));
        if refused == Err(blaze_node::MapError::NotRunning) && dropped {
            say("map ok");
        } else {
            say("error: map");
        }
        loop {
            embassy_time::Timer::after_secs(60).await;
        }
    }
    // The map takes its coordinator from the view after a state
    // transfer: until then a write is refused with `NoCoordinator`.
    let mut put = Err(blaze_node::MapError::NotJoined);
    for _ in 0..300 {
        put = me.blaze.map_put(
            me.group,
            "cfg",
            b"from-fw",
            b"2",
            blaze_node::WriteOptions::default(),
        );
        if put.is_ok() {
            break;
        }
        embassy_time::Timer::after_millis(100).await;
    }
    let map_seen = put.is_ok()
        && scenario::eventually(60, || {
            me.blaze.map_get(me.group, "cfg", b"from-std", |e| {
                e.is_some_and(|e| e.value == b"1")
            })
        })
        .await;
    let own = me
        .blaze
        .map_get(me.group, "cfg", b"from-fw", |e| e.map(|e| e.version));
    say(&format!(
        "map: put {:?}, {} writes done, own entry version {own:?}",
        put.map(|_| ()),
        me.record.seen().writes_done
    ));
    say(if map_seen { "map ok" } else { "error: map" });
    // Stay up until killed.
    loop {
        embassy_time::Timer::after_secs(60).await;
    }
}

#[test]
#[ignore = "the embassy member of `embassy_member_and_std_node_interoperate`, run by it"]
fn interop_child() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    let executor: &'static mut Executor = Box::leak(Box::new(Executor::new()));
    executor.run(|spawner| spawner.spawn(child_main(spawner).expect("spawned once")));
}

// ------------------------------------------------------------ the parent

fn std_member_id() -> MemberId {
    MemberId::from_u128(0x5_7d00_0001)
}

/// Skips (printing why) or, with `BLAZE_REQUIRE_NETNS=1`, fails.
fn skip(reason: &str) {
    assert!(
        std::env::var("BLAZE_REQUIRE_NETNS").as_deref() != Ok("1"),
        "BLAZE_REQUIRE_NETNS=1 but {reason}"
    );
    println!("skipped: {reason}");
}

fn sh(args: &[&str]) -> bool {
    Command::new(args[0])
        .args(&args[1..])
        .status()
        .is_ok_and(|s| s.success())
}

/// A network namespace with a TAP device, deleted on drop.
struct Netns {
    name: String,
}

impl Netns {
    fn create(tag: &str) -> Option<Netns> {
        let name = format!("blaze-emb-{}-{tag}", std::process::id());
        let ns = Netns { name };
        let n = ns.name.as_str();
        let ok = sh(&["ip", "netns", "add", n])
            && sh(&["ip", "-n", n, "link", "set", "lo", "up"])
            && sh(&["ip", "-n", n, "tuntap", "add", "name", TAP, "mode", "tap"])
            && sh(&["ip", "-n", n, "addr", "add", "192.0.2.1/24", "dev", TAP])
            && sh(&["ip", "-n", n, "link", "set", TAP, "up"]);
        ok.then_some(ns)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = sh(&["ip", "netns", "del", &self.name]);
    }
}

/// Moves the calling thread into the namespace.
fn enter(ns: &str) -> std::io::Result<()> {
    let file = std::fs::File::open(format!("/run/netns/{ns}"))?;
    use std::os::fd::AsRawFd;
    // SAFETY: `setns` with a valid namespace file descriptor and
    // CLONE_NEWNET only changes the calling thread's network namespace.
    #[allow(unsafe_code, reason = "setns has no safe wrapper in std")]
    let r = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// What the std side saw and did.
#[derive(Default)]
struct StdApp {
    group: Option<blaze_node::GroupId>,
    next_from_embassy: u32,
    order_errors: u32,
    published: u32,
    map_put: bool,
    embassy_failed: bool,
    phase: Phase,
    kill: Option<mpsc::Sender<()>>,
    lines: Option<mpsc::Receiver<String>>,
    log: Vec<String>,
    child_map_ok: bool,
    child_receive_ok: bool,
    /// Whether the embassy member runs the map (else only the std node
    /// writes, and its write must complete without the other member).
    embassy_runs_map: bool,
    std_write_done: bool,
}

#[derive(Default, Clone, Copy, PartialEq, Eq, Debug)]
enum Phase {
    #[default]
    WaitView,
    Traffic,
    Killed,
    Done,
}

impl StdApp {
    fn child_lines(&mut self) {
        while let Some(line) = self.lines.as_ref().and_then(|l| l.try_recv().ok()) {
            println!("{line}");
            self.child_receive_ok |= line == "child: receive ok";
            self.child_map_ok |= line == "child: map ok";
            self.log.push(line);
        }
    }
}

impl<'n> Application<&'n mut FwNode> for StdApp {
    fn on_event(&mut self, _now: Instant, event: Event<'_>) -> ControlFlow<()> {
        match event {
            Event::Message {
                topic,
                sender,
                payload,
                ..
            } if topic == TOPIC && sender == scenario::member_id(0) => {
                let seq = payload
                    .get(..4)
                    .and_then(|b| b.try_into().ok())
                    .map_or(u32::MAX, u32::from_le_bytes);
                if seq == self.next_from_embassy {
                    self.next_from_embassy += 1;
                } else {
                    self.order_errors += 1;
                }
            }
            Event::MemberFailed { member, .. } if member == scenario::member_id(0) => {
                self.embassy_failed = true;
            }
            Event::WriteFailed { error, .. } => {
                // Retried at the next turn (a write can fail while a view
                // changes).
                println!("std: map write failed ({error:?}), retrying");
                self.map_put = false;
            }
            Event::WriteDone { .. } => {
                println!("std: map write done");
                self.std_write_done = true;
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }

    fn on_turn(&mut self, now: Instant, node: &mut &'n mut FwNode) -> ControlFlow<()> {
        self.child_lines();
        let Some(group) = self.group else {
            return ControlFlow::Continue(());
        };
        match self.phase {
            Phase::WaitView => {
                if node
                    .members(group)
                    .iter()
                    .any(|m| m.id == scenario::member_id(0))
                {
                    println!("std: the embassy member is in the view");
                    self.phase = Phase::Traffic;
                }
            }
            Phase::Traffic => {
                while self.published < MESSAGES {
                    match node.publish(now, group, TOPIC, &self.published.to_le_bytes()) {
                        Ok(()) => self.published += 1,
                        Err(_) => break,
                    }
                }
                if !self.map_put {
                    self.map_put = node
                        .map_put(
                            now,
                            group,
                            "cfg",
                            b"from-std",
                            b"1",
                            blaze_node::WriteOptions::default(),
                        )
                        .is_ok();
                }
                let std_sees_fw = if self.embassy_runs_map {
                    node.map_get(group, "cfg", b"from-fw")
                        .is_some_and(|e| e.value == b"2")
                } else {
                    self.std_write_done
                        && node
                            .map_get(group, "cfg", b"from-std")
                            .is_some_and(|e| e.value == b"1")
                };
                if self.next_from_embassy == MESSAGES
                    && std_sees_fw
                    && self.child_map_ok
                    && self.child_receive_ok
                {
                    println!("std: traffic both ways and both map writes seen; killing the child");
                    if let Some(kill) = self.kill.take() {
                        let _ = kill.send(());
                    }
                    self.phase = Phase::Killed;
                }
            }
            Phase::Killed => {
                if self.embassy_failed {
                    println!("std: the embassy member was declared failed");
                    self.phase = Phase::Done;
                    return ControlFlow::Break(());
                }
            }
            Phase::Done => return ControlFlow::Break(()),
        }
        ControlFlow::Continue(())
    }
}

fn spawn_child(ns: &str, runs_map: bool) -> std::io::Result<Child> {
    let exe = std::env::current_exe()?;
    let mut command = Command::new("ip");
    if !runs_map {
        command.env(CHILD_NO_MAP_ENV, "1");
    }
    command
        .args(["netns", "exec", ns])
        .arg(exe)
        .args([
            "--exact",
            "interop_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
}

/// Runs the std node in the namespace until the scenario ends or times
/// out; returns what it saw.
fn run_std_side(ns: String, mut app: StdApp) -> std::io::Result<StdApp> {
    enter(&ns)?;
    let storage: &'static mut [scenario::ChannelStorage; 2] = Box::leak(Box::new([
        scenario::ChannelStorage::new(),
        scenario::ChannelStorage::new(),
    ]));
    let [reliable, best_effort] = storage;
    let identity = Identity {
        id: std_member_id(),
        name: Name::new("std").expect("short name"),
        metadata: Metadata::default(),
        incarnation: 0,
        seed: 0x57d,
    };
    let clock = Clock::new();
    let node: &'static mut FwNode = Box::leak(Box::new(
        FwNode::new(
            clock.now(),
            scenario::node_config(),
            identity,
            [GroupBuffers {
                reliable: reliable.buffers(),
                best_effort: best_effort.buffers(),
            }],
        )
        .map_err(|e| std::io::Error::other(format!("{e:?}")))?,
    ));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let mut config = SocketConfig::multicast(SocketAddrV4::new(Ipv4Addr::new(239, 255, 0, 1), 7600));
        config.interface = HOST_IP;
        config.unicast_port = 7601;
        let sockets = Sockets::bind(&config).map_err(|e| std::io::Error::other(e.to_string()))?;
        let mut driver = Driver::new(node, sockets, clock, DriverConfig::default())?;
        app.group = Some(
            driver
                .protocol_mut()
                .join(clock.now(), scenario::GROUP_NAME)
                .map_err(|e| std::io::Error::other(format!("{e:?}")))?,
        );
        let ran = tokio::time::timeout(StdDuration::from_secs(120), driver.run(&mut app)).await;
        if ran.is_err() {
            let node = driver.protocol();
            let group = app.group.unwrap_or(blaze_node::GroupId::from_name(scenario::GROUP_NAME));
            println!(
                "std: timed out in phase {:?}; sees from-fw: {:?}, own from-std: {:?}, coordinator {:?}",
                app.phase,
                node.map_get(group, "cfg", b"from-fw").map(|e| e.version),
                node.map_get(group, "cfg", b"from-std").map(|e| e.version),
                node.coordinator(group),
            );
        }
        Ok(app)
    })
}

#[test]
fn embassy_member_and_std_node_interoperate() {
    interoperate(true);
}

#[test]
fn embassy_member_without_the_map_and_std_node_interoperate() {
    interoperate(false);
}

/// The scenario, with an embassy member that runs the map or not.
fn interoperate(embassy_runs_map: bool) {
    // SAFETY: geteuid has no preconditions.
    #[allow(unsafe_code, reason = "geteuid has no safe wrapper in std")]
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        return skip("not root: a network namespace and a TAP device need root");
    }
    if !std::path::Path::new("/dev/net/tun").exists() {
        return skip("/dev/net/tun is missing");
    }
    let Some(ns) = Netns::create(if embassy_runs_map { "map" } else { "bare" }) else {
        return skip("cannot create a network namespace with a TAP device (ip netns / ip tuntap)");
    };
    let mut child = spawn_child(&ns.name, embassy_runs_map)
        .expect("the test binary runs again in the namespace");
    let stdout = child.stdout.take().expect("piped");
    let (line_tx, line_rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.starts_with("child: ") && line_tx.send(line).is_err() {
                break;
            }
        }
    });
    let (kill_tx, kill_rx) = mpsc::channel::<()>();
    let app = StdApp {
        kill: Some(kill_tx),
        lines: Some(line_rx),
        embassy_runs_map,
        ..StdApp::default()
    };
    let name = ns.name.clone();
    let std_side = std::thread::spawn(move || run_std_side(name, app));
    // The child is killed (SIGKILL) when the std side asks, or when the
    // std side ends without asking (a time-out).
    let killed = loop {
        match kill_rx.recv_timeout(StdDuration::from_millis(100)) {
            Ok(()) => break true,
            Err(mpsc::RecvTimeoutError::Timeout) if !std_side.is_finished() => {}
            Err(_) => break false,
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    let app = std_side
        .join()
        .expect("the std side does not panic")
        .expect("the std side runs");
    drop(ns);
    println!(
        "std: received {} of {MESSAGES} from embassy ({} out of order), published {}",
        app.next_from_embassy, app.order_errors, app.published
    );
    assert!(
        app.log.iter().any(|l| l == "child: view of 2"),
        "{:?}",
        app.log
    );
    assert_eq!(
        app.next_from_embassy, MESSAGES,
        "embassy → std, reliable under loss"
    );
    assert_eq!(app.order_errors, 0);
    assert!(
        app.child_receive_ok,
        "std → embassy, reliable under loss: {:?}",
        app.log
    );
    assert!(
        app.child_map_ok,
        "the map on embassy (the std write seen; without the map, calls refused and frames dropped): {:?}",
        app.log
    );
    assert!(
        embassy_runs_map || app.std_write_done,
        "the std write completes without the embassy member"
    );
    assert!(killed, "the std side asked for the kill");
    assert_eq!(
        app.phase,
        Phase::Done,
        "killing the embassy member is detected"
    );
}
