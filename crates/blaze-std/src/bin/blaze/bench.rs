//! `blaze bench`: throughput and latency between real processes on
//! loopback multicast.
//!
//! The coordinator (the process the user starts) runs each case in turn:
//! it starts the receivers (this same program with `--role receiver`, or
//! one `--role echo` for ping-pong), waits until they have joined, sends
//! from a thread of its own while a progress bar runs, then collects each
//! receiver's report and prints a summary table (or JSON).

use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use blaze_std::{IoMode, TopicQos};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::children::Children;
use crate::latency::{Latency, LatencySummary};
use crate::netns::{Host, Hosts};
use crate::node_mode;
use crate::raw::{self, Endpoint, ReceiverReport, SendPlan, SenderReport};
use crate::stamp::HEADER_LEN;

/// The message sizes measured by default: Aeron's matrix, and 64 KiB
/// (fragmented by the protocol modes; one IP-fragmented datagram of
/// 65,507 bytes in raw mode).
const DEFAULT_SIZES: [usize; 6] = [32, 64, 288, 1024, 1344, 65_536];
/// The largest message size accepted.
const MAX_SIZE: usize = 65_536;

/// Measure throughput and latency on loopback multicast between real processes.
///
/// Each case starts its receivers as separate processes (this program with
/// `--role`), sends for `--duration` seconds or `--count` messages, whichever
/// comes first, and prints msgs/s, MB/s, loss, one-way latency percentiles
/// (HDR histogram) and CPU time per message. Traffic stays on loopback (the
/// group is in 239.255.0.0/16 and leaves through 127.0.0.1), or with
/// `--netns` (root) on a bridge between network namespaces built for the
/// run and deleted after it.
///
/// Cases: `throughput` (1 sender to N receivers, as fast as possible),
/// `latency` (the same at each offered `--rate`), `pingpong` (round trips
/// to one echoing process), `all-to-all` (`--senders` processes that all
/// send and all receive; with total order, each also times the delivery of
/// its own messages).
#[derive(Debug, Clone, Args)]
#[command(after_help = "Examples:\n  \
    blaze bench --mode raw --duration 2\n  \
    blaze bench --mode raw --sizes 64,1024 --cases latency --rate 20000\n  \
    blaze bench --mode raw --cases pingpong --count 10000 --json\n  \
    blaze bench --mode raw,agreed,safe --sizes 64,200 --cases all-to-all,pingpong")]
pub(crate) struct BenchArgs {
    /// Modes to measure, comma-separated: raw (plain UDP through the same
    /// sockets and batched I/O, no protocol), best-effort, reliable, agreed
    /// and safe (total order through the Totem ring).
    #[arg(long, value_enum, value_delimiter = ',', default_value = "raw")]
    pub(crate) mode: Vec<Mode>,
    /// Message sizes in bytes, comma-separated (24..=65536).
    #[arg(long, value_delimiter = ',', default_values_t = DEFAULT_SIZES)]
    pub(crate) sizes: Vec<usize>,
    /// Cases to run, comma-separated.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "throughput,latency,pingpong,all-to-all"
    )]
    pub(crate) cases: Vec<CaseKind>,
    /// Offered rates of extra all-to-all runs, messages per second per
    /// sender, comma-separated (the all-to-all case always runs as fast as
    /// possible too); self-delivery latency is best read at such a rate.
    #[arg(long, value_delimiter = ',')]
    pub(crate) peer_rate: Vec<f64>,
    /// Internal: a peer's offered rate.
    #[arg(long, hide = true)]
    pub(crate) paced: Option<f64>,
    /// Processes of the all-to-all case (each sends and receives).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(2..=16))]
    pub(crate) senders: u16,
    /// Receiver processes for the throughput and latency cases.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=16))]
    pub(crate) receivers: u16,
    /// Seconds each case sends for, at most.
    #[arg(long, default_value_t = 2.0)]
    pub(crate) duration: f64,
    /// Messages each case sends, at most.
    #[arg(long, default_value_t = 50_000_000)]
    pub(crate) count: u64,
    /// Offered rates of the latency case, messages per second,
    /// comma-separated (one run each).
    #[arg(
        long,
        value_delimiter = ',',
        default_values_t = [100_000.0, 500_000.0, 1_000_000.0]
    )]
    pub(crate) rate: Vec<f64>,
    /// Print the results as JSON on standard output (no table, no progress bar).
    #[arg(long)]
    pub(crate) json: bool,
    /// Multicast group and port (in 239.255.0.0/16); default derived from the process id.
    #[arg(long)]
    pub(crate) group: Option<SocketAddrV4>,
    /// Local interface for multicast (a loopback address; with `--netns`
    /// each host uses its own).
    #[arg(long, default_value = "127.0.0.1")]
    pub(crate) interface: Ipv4Addr,
    /// Datagram I/O: gso (sendmmsg + segmentation offload), mmsg (sendmmsg/recvmmsg), plain.
    #[arg(long, value_enum, default_value = "gso")]
    pub(crate) io: IoArg,
    /// Datagrams per system call.
    #[arg(long, default_value_t = 32)]
    pub(crate) batch: usize,
    /// A receiver stops after this many milliseconds without a message.
    #[arg(long, default_value_t = 500)]
    pub(crate) idle_ms: u64,
    /// Ping-pong of the protocol modes through the members' tasks (an
    /// inbox read and a publish on the application's task) instead of
    /// handlers run inline on the channel's task.
    #[arg(long)]
    pub(crate) pingpong_task: bool,
    /// Internal: the role of a child process.
    #[arg(long, value_enum, hide = true)]
    pub(crate) role: Option<Role>,
    /// Internal: the run a child belongs to.
    #[arg(long, hide = true, default_value_t = 0)]
    pub(crate) run: u32,
    /// Internal: a peer's sender index.
    #[arg(long, hide = true, default_value_t = 0)]
    pub(crate) index: u16,
    /// Run across network namespaces joined by a bridge (needs root and
    /// iproute2): the sender and each receiver in a host of its own, so
    /// that multicast crosses a link; raw mode uses the same hosts.
    #[arg(long)]
    pub(crate) netns: bool,
    /// Internal: the hosts built by `--netns`, as namespace@address.
    #[arg(long, hide = true, value_delimiter = ',')]
    pub(crate) netns_hosts: Vec<String>,
}

/// What a benchmark measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Mode {
    /// Plain UDP datagrams, no protocol.
    Raw,
    /// Blaze best-effort QoS.
    BestEffort,
    /// Blaze reliable (NACK-based, per-sender FIFO) QoS.
    Reliable,
    /// Blaze agreed (total order through the Totem ring) QoS.
    Agreed,
    /// Blaze safe (total order, delivered once every member has it) QoS.
    Safe,
}

/// One kind of measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum CaseKind {
    /// As fast as possible, one sender to all receivers.
    Throughput,
    /// At the offered rate, one sender to all receivers.
    Latency,
    /// Round trips to one echoing process.
    Pingpong,
    /// Every process sends and receives.
    AllToAll,
}

/// The I/O mode, as a flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum IoArg {
    Gso,
    Mmsg,
    Plain,
}

impl Mode {
    /// The topic's quality of service, or `None` for raw datagrams.
    fn qos(self) -> Option<TopicQos> {
        match self {
            Mode::Raw => None,
            Mode::BestEffort => Some(TopicQos::BestEffort),
            Mode::Reliable => Some(TopicQos::Reliable),
            Mode::Agreed => Some(TopicQos::Agreed),
            Mode::Safe => Some(TopicQos::Safe),
        }
    }
}

impl IoArg {
    fn io_mode(self) -> IoMode {
        match self {
            IoArg::Gso => IoMode::BatchedGso,
            IoArg::Mmsg => IoMode::Batched,
            IoArg::Plain => IoMode::Plain,
        }
    }

    fn name(self) -> &'static str {
        match self {
            IoArg::Gso => "gso",
            IoArg::Mmsg => "mmsg",
            IoArg::Plain => "plain",
        }
    }
}

/// The role of a child process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Role {
    Receiver,
    Echo,
    Peer,
}

/// The outcome of one case.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct CaseResult {
    pub(crate) mode: Mode,
    pub(crate) case: CaseKind,
    pub(crate) size: usize,
    /// Offered rate (latency case), messages per second per sender.
    pub(crate) rate: Option<f64>,
    pub(crate) receivers: usize,
    /// Messages sent (pings, for ping-pong).
    pub(crate) sent: u64,
    /// Messages received, mean over receivers (answers, for ping-pong).
    pub(crate) received: f64,
    pub(crate) loss_percent: f64,
    /// Messages delivered per second to each receiver (round trips per
    /// second, for ping-pong).
    pub(crate) msgs_per_sec: f64,
    /// Payload megabytes (10^6) delivered per second to each receiver.
    pub(crate) mb_per_sec: f64,
    /// One-way latency (round trip, for ping-pong).
    pub(crate) latency: LatencySummary,
    /// All-to-all: from a member's send to the delivery of its own
    /// message back to it (total order).
    pub(crate) self_latency: LatencySummary,
    /// Sender CPU time (user + system) per message sent, µs.
    pub(crate) sender_cpu_us_per_msg: f64,
    /// Receiver CPU time (user + system) per message received, µs.
    pub(crate) receiver_cpu_us_per_msg: f64,
    /// Messages per datagram at the receivers (protocol modes; 1 for raw).
    pub(crate) msgs_per_datagram: f64,
    /// Messages dropped by the receivers' subscription queues (the
    /// benchmark's reader fell behind a burst), summed over receivers;
    /// part of `loss_percent`, not lost by the protocol.
    pub(crate) queue_dropped: u64,
    /// Seconds the sender sent for.
    pub(crate) seconds: f64,
    /// Receivers that saw the end marker (the others stopped when idle).
    pub(crate) receivers_saw_end: usize,
}

/// Runs `blaze bench`: a child role, or the coordinator.
pub(crate) fn main(args: &BenchArgs) -> Result<(), String> {
    validate(args)?;
    if args.netns && args.role.is_none() && args.netns_hosts.is_empty() {
        return in_namespaces(args);
    }
    let hosts = args
        .netns_hosts
        .iter()
        .map(|h| Host::parse(h))
        .collect::<Result<Vec<_>, _>>()?;
    let interface = match (&args.role, hosts.first()) {
        // The coordinator runs in the first host.
        (None, Some(host)) => host.addr,
        _ => args.interface,
    };
    let endpoint = Endpoint {
        group: args.group.unwrap_or_else(default_group),
        interface,
        io_mode: args.io.io_mode(),
        batch: args.batch.clamp(1, blaze_std::MAX_BATCH),
    };
    match args.role {
        Some(role) => child(args, role, &endpoint),
        None => coordinate(args, &endpoint, &hosts),
    }
}

/// `--netns`: builds the hosts, runs the benchmark's coordinator again
/// inside the first one (its children go to the others), and deletes the
/// hosts afterwards.
fn in_namespaces(args: &BenchArgs) -> Result<(), String> {
    let hosts = usize::from(args.receivers.max(1) + 1).max(usize::from(args.senders));
    let built = Hosts::new(hosts)?;
    let first = Host::parse(&format!("{}@{}", built.namespace(0), built.addr(0)))?;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let status = std::process::Command::new("ip")
        .args(first.exec_prefix().iter().skip(1))
        .arg(&exe)
        .args(std::env::args_os().skip(1))
        .arg("--netns-hosts")
        .arg(built.describe())
        .status()
        .map_err(|e| format!("cannot run the benchmark in {}: {e}", first.namespace))?;
    drop(built);
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "the benchmark inside the namespaces failed ({status})"
        ))
    }
}

/// Starts `n` children with `base` arguments plus `extra(i)`; across
/// namespaces, child `i` runs in host `host_of(i)` with that host's address
/// as its interface.
fn spawn_children(
    hosts: &[Host],
    n: usize,
    base: &[String],
    host_of: impl Fn(usize) -> usize,
    extra: impl Fn(usize) -> Vec<String>,
) -> Result<Children, String> {
    let host = |i: usize| {
        if hosts.is_empty() {
            None
        } else {
            hosts.get(host_of(i) % hosts.len())
        }
    };
    Children::spawn_each(
        n,
        |i| {
            let mut a = base.to_vec();
            if let Some(h) = host(i) {
                if let Some(at) = a.iter().position(|x| x == "--interface")
                    && let Some(value) = a.get_mut(at + 1)
                {
                    *value = h.addr.to_string();
                }
                a.push("--netns-hosts".to_owned());
                a.push(format!("{}@{}", h.namespace, h.addr));
            }
            a.extend(extra(i));
            a
        },
        |i| host(i).map(Host::exec_prefix),
    )
    .map_err(|e| format!("cannot start the child processes: {e}"))
}

fn validate(args: &BenchArgs) -> Result<(), String> {
    if let Some(group) = args.group {
        let [a, b, _, _] = group.ip().octets();
        if (a, b) != (239, 255) {
            return Err(format!(
                "--group {group}: the benchmark uses only site-local groups; pick one in 239.255.0.0/16"
            ));
        }
    }
    if !args.interface.is_loopback() && !args.netns && args.netns_hosts.is_empty() {
        return Err(format!(
            "--interface {}: the benchmark runs on loopback only; use 127.0.0.1",
            args.interface
        ));
    }
    if let Some(size) = args
        .sizes
        .iter()
        .find(|s| !(HEADER_LEN..=MAX_SIZE).contains(*s))
    {
        return Err(format!(
            "--sizes: {size} B is out of range; sizes go from {HEADER_LEN} (the benchmark's header) to {MAX_SIZE} B"
        ));
    }
    if !(0.0..=3600.0).contains(&args.duration) || args.duration == 0.0 {
        return Err("--duration must be between 0 and 3600 seconds".into());
    }
    if args.rate.is_empty()
        || args
            .rate
            .iter()
            .chain(&args.peer_rate)
            .any(|r| !r.is_finite() || *r <= 0.0)
    {
        return Err("--rate must be positive numbers of messages per second".into());
    }
    if args.count == 0 {
        return Err("--count must be at least 1".into());
    }
    Ok(())
}

/// A group and port derived from the process id, so that benchmarks run
/// at once on one host do not share a group.
fn default_group() -> SocketAddrV4 {
    let pid = std::process::id();
    let low = u8::try_from(pid % 250).unwrap_or(0) + 1;
    let port = 40_000 + u16::try_from(pid % 20_000).unwrap_or(0);
    SocketAddrV4::new(Ipv4Addr::new(239, 255, 77, low), port)
}

/// How long a receiver waits in all: the sending time plus a margin.
fn child_limit(args: &BenchArgs) -> Duration {
    Duration::from_secs_f64(args.duration) + Duration::from_secs(10)
}

/// A child process: joins, says `READY`, measures, says `RESULT <json>`.
fn child(args: &BenchArgs, role: Role, endpoint: &Endpoint) -> Result<(), String> {
    let mode = args.mode.first().copied().unwrap_or(Mode::Raw);
    let idle = Duration::from_millis(args.idle_ms);
    let limit = child_limit(args);
    let ready = || {
        println!("READY");
    };
    let plan = SendPlan {
        run: args.run,
        size: args.sizes.first().copied().unwrap_or(64),
        count: args.count,
        duration: Duration::from_secs_f64(args.duration),
        rate: args.paced,
    };
    // A peer starts sending when the coordinator says so on standard input.
    let go = || {
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
    };
    let me = raw::PeerId {
        index: args.index,
        senders: usize::from(args.senders),
    };
    let report = match (mode.qos(), role) {
        (None, Role::Receiver) => raw::receive(endpoint, args.run, idle, limit, ready),
        (None, Role::Echo) => raw::echo(endpoint, args.run, idle, limit, ready),
        (None, Role::Peer) => raw::peer(endpoint, &plan, me, idle, ready, go),
        (Some(qos), Role::Receiver) => node_mode::receive(endpoint, qos, &plan, idle, limit, ready),
        (Some(qos), Role::Echo) => {
            node_mode::echo(endpoint, qos, &plan, args.pingpong_task, idle, limit, ready)
        }
        (Some(qos), Role::Peer) => node_mode::peer(endpoint, &plan, qos, me, idle, ready, go),
    }
    .map_err(|e| explain_socket_error(&e, endpoint))?;
    let json = serde_json::to_string(&report).map_err(|e| e.to_string())?;
    println!("RESULT {json}");
    Ok(())
}

fn explain_socket_error(e: &std::io::Error, endpoint: &Endpoint) -> String {
    format!(
        "{e} (group {}, interface {}); if multicast is unavailable here, check that the loopback \
         interface is up and accepts multicast (`ip link show lo`), or pick another --group",
        endpoint.group, endpoint.interface
    )
}

/// The coordinator: every (mode, size, case), then the summary.
fn coordinate(args: &BenchArgs, endpoint: &Endpoint, hosts: &[Host]) -> Result<(), String> {
    let mut results = Vec::new();
    let mut index = 0u32;
    let base_run = (std::process::id() << 8) ^ (crate::os::monotonic_ns() as u32);
    for &mode in &args.mode {
        for &size in &args.sizes {
            for &case in &args.cases {
                let rates: Vec<Option<f64>> = match case {
                    CaseKind::Latency => args.rate.iter().map(|&r| Some(r)).collect(),
                    CaseKind::AllToAll => std::iter::once(None)
                        .chain(args.peer_rate.iter().map(|&r| Some(r)))
                        .collect(),
                    _ => vec![None],
                };
                for rate in rates {
                    index += 1;
                    let run = base_run.wrapping_add(index);
                    let result = run_case(args, endpoint, hosts, mode, case, size, rate, run)?;
                    if !args.json {
                        eprintln!("{}", one_line(&result));
                    }
                    results.push(result);
                }
            }
        }
    }
    if args.json {
        let doc = serde_json::json!({
            "group": endpoint.group.to_string(),
            "netns": !hosts.is_empty(),
            "interface": endpoint.interface.to_string(),
            "io": args.io.name(),
            "batch": endpoint.batch,
            "duration_s": args.duration,
            "count": args.count,
            "rate": args.rate,
            "results": results,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())?
        );
    } else {
        print!("{}", table(&results, args, endpoint));
    }
    Ok(())
}

/// The arguments of every child of a case.
fn child_args(
    args: &BenchArgs,
    endpoint: &Endpoint,
    role: &str,
    mode: Mode,
    size: usize,
    run: u32,
) -> Vec<String> {
    [
        "bench",
        "--role",
        role,
        "--mode",
        mode_name(mode),
        "--group",
        &endpoint.group.to_string(),
        "--interface",
        &endpoint.interface.to_string(),
        "--io",
        args.io.name(),
        "--batch",
        &endpoint.batch.to_string(),
        "--run",
        &run.to_string(),
        "--idle-ms",
        &args.idle_ms.to_string(),
        "--duration",
        &args.duration.to_string(),
        "--sizes",
        &size.to_string(),
        "--count",
        &args.count.to_string(),
        "--senders",
        &args.senders.to_string(),
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .chain(args.pingpong_task.then(|| "--pingpong-task".to_owned()))
    .collect()
}

/// The all-to-all case: `--senders` peers, each sending and receiving.
fn run_all_to_all(
    args: &BenchArgs,
    endpoint: &Endpoint,
    hosts: &[Host],
    mode: Mode,
    size: usize,
    rate: Option<f64>,
    run: u32,
) -> Result<CaseResult, String> {
    let n = usize::from(args.senders);
    let mut common = child_args(args, endpoint, "peer", mode, size, run);
    if let Some(rate) = rate {
        common.extend(["--paced".to_owned(), rate.to_string()]);
    }
    let mut children = spawn_children(
        hosts,
        n,
        &common,
        |i| i,
        |i| vec!["--index".to_owned(), i.to_string()],
    )?;
    children.collect("READY", Duration::from_secs(15))?;
    let bar = progress_bar(args, mode, CaseKind::AllToAll, size);
    children
        .say("GO")
        .map_err(|e| format!("cannot start the peers: {e}"))?;
    let started = Instant::now();
    let lines = std::thread::scope(|scope| {
        let collect = scope.spawn(|| {
            children.collect(
                "RESULT",
                Duration::from_secs_f64(args.duration)
                    + Duration::from_millis(args.idle_ms)
                    + Duration::from_secs(25),
            )
        });
        while !collect.is_finished() {
            bar.set_position(u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX));
            std::thread::sleep(Duration::from_millis(50));
        }
        collect
            .join()
            .unwrap_or_else(|_| Err("collecting the results panicked".to_owned()))
    });
    bar.finish_and_clear();
    let reports = lines?
        .iter()
        .map(|l| serde_json::from_str::<ReceiverReport>(l))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("a peer's report is malformed: {e}"))?;
    drop(children);
    Ok(summarize_all_to_all(mode, size, &reports))
}

fn summarize_all_to_all(mode: Mode, size: usize, reports: &[ReceiverReport]) -> CaseResult {
    let n = reports.len().max(1) as f64;
    let sent: u64 = reports.iter().map(|r| r.sent).sum();
    let mut latency = Latency::new();
    let mut self_latency = Latency::new();
    let (mut rate_sum, mut received_sum, mut expected_sum, mut cpu, mut seconds) =
        (0.0, 0.0, 0.0, 0.0, 0.0f64);
    for r in reports {
        latency.merge(&Latency::from_pairs(&r.latency));
        self_latency.merge(&Latency::from_pairs(&r.self_latency));
        received_sum += r.received as f64;
        expected_sum += sent.saturating_sub(r.sent) as f64;
        let window = (r.last_ns.saturating_sub(r.first_ns)) as f64 / 1e9;
        let window = if window > 0.001 { window } else { r.send_s };
        if window > 0.0 && r.received > 1 {
            rate_sum += r.received as f64 / window;
        }
        let handled = (r.received + r.sent) as f64;
        if handled > 0.0 {
            cpu += r.cpu_us as f64 / handled;
        }
        seconds = seconds.max(r.send_s);
    }
    let rate = rate_sum / n;
    CaseResult {
        mode,
        case: CaseKind::AllToAll,
        size,
        rate: None,
        receivers: reports.len(),
        sent,
        received: received_sum / n,
        loss_percent: percent(expected_sum - received_sum, expected_sum),
        msgs_per_sec: rate,
        mb_per_sec: rate * size as f64 / 1e6,
        latency: latency.summary(),
        self_latency: self_latency.summary(),
        // A peer both sends and receives: its CPU time per message it
        // sent or received, under both columns.
        sender_cpu_us_per_msg: cpu / n,
        receiver_cpu_us_per_msg: cpu / n,
        msgs_per_datagram: 0.0,
        queue_dropped: reports.iter().map(|r| r.queue_dropped).sum(),
        seconds,
        receivers_saw_end: reports.iter().filter(|r| r.end_seen).count(),
    }
}

#[allow(
    clippy::too_many_arguments,
    reason = "one case is all of these; a struct would only rename them"
)]
fn run_case(
    args: &BenchArgs,
    endpoint: &Endpoint,
    hosts: &[Host],
    mode: Mode,
    case: CaseKind,
    size: usize,
    rate: Option<f64>,
    run: u32,
) -> Result<CaseResult, String> {
    if case == CaseKind::AllToAll {
        let mut result = run_all_to_all(args, endpoint, hosts, mode, size, rate, run)?;
        result.rate = rate;
        return Ok(result);
    }
    let (role, receivers) = match case {
        CaseKind::Pingpong => ("echo", 1),
        _ => ("receiver", usize::from(args.receivers)),
    };
    let child_args = child_args(args, endpoint, role, mode, size, run);
    let mut children = spawn_children(hosts, receivers, &child_args, |i| i + 1, |_| Vec::new())?;
    children.collect("READY", Duration::from_secs(10))?;

    let plan = SendPlan {
        run,
        size,
        count: args.count,
        duration: Duration::from_secs_f64(args.duration),
        // Ping-pong is a closed loop: the next ping leaves when the echo of
        // the last one is back.
        rate,
    };
    let progress = AtomicU64::new(0);
    let bar = progress_bar(args, mode, case, size);
    let started = Instant::now();
    let members = receivers + 1;
    let sender = std::thread::scope(|scope| {
        let work = || match (mode.qos(), case) {
            (None, CaseKind::Pingpong) => {
                raw::ping(endpoint, &plan, Duration::from_millis(100), &progress)
            }
            (None, _) => raw::send(endpoint, &plan, &progress),
            (Some(qos), CaseKind::Pingpong) => node_mode::ping(
                endpoint,
                &plan,
                qos,
                args.pingpong_task,
                Duration::from_millis(200),
                &progress,
            ),
            (Some(qos), _) => node_mode::send(endpoint, &plan, qos, members, &progress),
        };
        // A node is built and run on this thread: give it room.
        let handle = std::thread::Builder::new()
            .name("bench-sender".into())
            .stack_size(64 << 20)
            .spawn_scoped(scope, work)
            .map_err(|e| format!("cannot start the sending thread: {e}"))?;
        while !handle.is_finished() {
            bar.set_position(u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX));
            bar.set_message(format!("{} sent", progress.load(Ordering::Relaxed)));
            std::thread::sleep(Duration::from_millis(50));
        }
        handle
            .join()
            .map_err(|_| "the sending thread panicked".to_owned())
    });
    bar.finish_and_clear();
    let sender = sender?.map_err(|e| explain_socket_error(&e, endpoint))?;

    let lines = children.collect(
        "RESULT",
        Duration::from_millis(args.idle_ms) + Duration::from_secs(15),
    )?;
    let reports = lines
        .iter()
        .map(|l| serde_json::from_str::<ReceiverReport>(l))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("a receiver's report is malformed: {e}"))?;
    drop(children);
    let mut result = summarize(mode, case, size, &sender, &reports);
    result.rate = rate;
    Ok(result)
}

fn progress_bar(args: &BenchArgs, mode: Mode, case: CaseKind, size: usize) -> ProgressBar {
    if args.json {
        return ProgressBar::hidden();
    }
    let length = (args.duration * 1000.0) as u64;
    let bar = ProgressBar::new(length);
    let style = ProgressStyle::with_template("{prefix:>28} [{bar:30}] {elapsed_precise} {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    bar.set_style(style);
    bar.set_prefix(format!("{} {} {size} B", mode_name(mode), case_name(case)));
    bar
}

fn summarize(
    mode: Mode,
    case: CaseKind,
    size: usize,
    sender: &SenderReport,
    reports: &[ReceiverReport],
) -> CaseResult {
    let n = reports.len().max(1) as f64;
    let per_msg = |cpu_us: u64, msgs: f64| {
        if msgs > 0.0 {
            cpu_us as f64 / msgs
        } else {
            0.0
        }
    };
    let receiver_cpu = reports
        .iter()
        .map(|r| per_msg(r.cpu_us, r.received as f64))
        .sum::<f64>()
        / n;
    let saw_end = reports.iter().filter(|r| r.end_seen).count();
    let sender_cpu = per_msg(sender.cpu_us, sender.sent as f64);
    if case == CaseKind::Pingpong {
        let rtt = Latency::from_pairs(&sender.rtt);
        let answered = sender.sent.saturating_sub(sender.lost);
        let rate = if sender.elapsed_s > 0.0 {
            answered as f64 / sender.elapsed_s
        } else {
            0.0
        };
        return CaseResult {
            mode,
            case,
            size,
            rate: None,
            receivers: reports.len(),
            sent: sender.sent,
            received: answered as f64,
            loss_percent: percent(sender.lost as f64, sender.sent as f64),
            msgs_per_sec: rate,
            mb_per_sec: rate * size as f64 / 1e6,
            latency: rtt.summary(),
            self_latency: LatencySummary::default(),
            sender_cpu_us_per_msg: sender_cpu,
            receiver_cpu_us_per_msg: receiver_cpu,
            msgs_per_datagram: 0.0,
            queue_dropped: reports.iter().map(|r| r.queue_dropped).sum(),
            seconds: sender.elapsed_s,
            receivers_saw_end: saw_end,
        };
    }
    let mut latency = Latency::new();
    let mut rate_sum = 0.0;
    let mut received_sum = 0.0;
    for r in reports {
        latency.merge(&Latency::from_pairs(&r.latency));
        received_sum += r.received as f64;
        // Delivered rate over the receiver's own window, or over the
        // sending time when the window is too short to time.
        let window = (r.last_ns.saturating_sub(r.first_ns)) as f64 / 1e9;
        let window = if window > 0.001 {
            window
        } else {
            sender.elapsed_s
        };
        if window > 0.0 && r.received > 1 {
            rate_sum += r.received as f64 / window;
        }
    }
    let received = received_sum / n;
    let rate = rate_sum / n;
    CaseResult {
        mode,
        case,
        size,
        rate: None,
        receivers: reports.len(),
        sent: sender.sent,
        received,
        loss_percent: percent(sender.sent as f64 - received, sender.sent as f64),
        msgs_per_sec: rate,
        mb_per_sec: rate * size as f64 / 1e6,
        latency: latency.summary(),
        self_latency: LatencySummary::default(),
        sender_cpu_us_per_msg: sender_cpu,
        receiver_cpu_us_per_msg: receiver_cpu,
        msgs_per_datagram: {
            let datagrams: u64 = reports.iter().map(|r| r.datagrams).sum();
            if datagrams > 0 {
                received_sum / datagrams as f64
            } else if mode == Mode::Raw {
                1.0
            } else {
                0.0
            }
        },
        queue_dropped: reports.iter().map(|r| r.queue_dropped).sum(),
        seconds: sender.elapsed_s,
        receivers_saw_end: saw_end,
    }
}

fn percent(part: f64, whole: f64) -> f64 {
    if whole > 0.0 {
        (100.0 * part / whole).max(0.0)
    } else {
        0.0
    }
}

fn mode_name(mode: Mode) -> &'static str {
    match mode {
        Mode::Raw => "raw",
        Mode::BestEffort => "best-effort",
        Mode::Reliable => "reliable",
        Mode::Agreed => "agreed",
        Mode::Safe => "safe",
    }
}

fn case_name(case: CaseKind) -> &'static str {
    match case {
        CaseKind::Throughput => "throughput",
        CaseKind::Latency => "latency",
        CaseKind::Pingpong => "pingpong",
        CaseKind::AllToAll => "all-to-all",
    }
}

/// The case's name with its offered rate, if any (`latency@100k`).
fn case_label(r: &CaseResult) -> String {
    match r.rate {
        Some(rate) if rate >= 1e6 && rate % 1e6 == 0.0 => {
            format!("{}@{}M", case_name(r.case), rate / 1e6)
        }
        Some(rate) if rate >= 1e3 && rate % 1e3 == 0.0 => {
            format!("{}@{}k", case_name(r.case), rate / 1e3)
        }
        Some(rate) => format!("{}@{rate}", case_name(r.case)),
        None => case_name(r.case).to_owned(),
    }
}

/// One line per finished case, while the benchmark runs.
fn one_line(r: &CaseResult) -> String {
    format!(
        "{:>11} {:>14} {:>5} B: {:>10.0} msg/s {:>8.1} MB/s, loss {:.2}%{}, p50 {:.1} µs, p99 {:.1} µs{}",
        mode_name(r.mode),
        case_label(r),
        r.size,
        r.msgs_per_sec,
        r.mb_per_sec,
        r.loss_percent,
        if r.queue_dropped > 0 {
            format!(" ({} dropped by full subscription queues)", r.queue_dropped)
        } else {
            String::new()
        },
        r.latency.p50_us,
        r.latency.p99_us,
        if r.self_latency.count > 0 {
            format!(
                ", self-delivery p50 {:.1} µs, p99 {:.1} µs",
                r.self_latency.p50_us, r.self_latency.p99_us
            )
        } else {
            String::new()
        }
    )
}

/// The summary table; protocol rows carry their ratio to the raw row of
/// the same case and size.
fn table(results: &[CaseResult], args: &BenchArgs, endpoint: &Endpoint) -> String {
    let mut out = String::new();
    let rates: Vec<String> = args.rate.iter().map(|r| format!("{r}")).collect();
    let _ = writeln!(
        out,
        "\nblaze bench: group {} via {}, io {}, batch {}, {} s or {} msgs per case, latency rates {} msg/s",
        endpoint.group,
        endpoint.interface,
        args.io.name(),
        endpoint.batch,
        args.duration,
        args.count,
        rates.join(",")
    );
    let _ = writeln!(
        out,
        "latency is one-way (sender stamp to receiver, CLOCK_MONOTONIC) except pingpong (round trip); \
         msgs/s and MB/s are per receiver;\nall-to-all: rx = members, msgs/s = from the others per member, \
         self = a member's own messages delivered back to it; (x) = ratio to raw in this run;\n\
         m/dg = messages per datagram taken in by a receiver's node\n"
    );
    let _ = writeln!(
        out,
        "{:<11} {:<15} {:>5} {:>3} {:>10} {:>19} {:>8} {:>7} {:>16} {:>16} {:>9} {:>9} {:>9} {:>9} {:>7} {:>7} {:>5}",
        "mode",
        "case",
        "size",
        "rx",
        "sent",
        "msgs/s",
        "MB/s",
        "loss%",
        "p50 µs",
        "p99 µs",
        "p99.9 µs",
        "max µs",
        "self p50",
        "self p99",
        "tx µs/m",
        "rx µs/m",
        "m/dg"
    );
    let ratio = |value: f64, base: Option<f64>, digits: usize| match base {
        Some(base) if base > 0.0 => format!("{value:.digits$} ({:.2}x)", value / base),
        _ => format!("{value:.digits$}"),
    };
    for r in results {
        let raw = results
            .iter()
            .find(|o| {
                o.mode == Mode::Raw && o.case == r.case && o.size == r.size && o.rate == r.rate
            })
            .filter(|_| r.mode != Mode::Raw);
        let _ = writeln!(
            out,
            "{:<11} {:<15} {:>5} {:>3} {:>10} {:>19} {:>8.1} {:>7.2} {:>16} {:>16} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>7.2} {:>7.2} {:>5.1}",
            mode_name(r.mode),
            case_label(r),
            r.size,
            r.receivers,
            r.sent,
            ratio(r.msgs_per_sec, raw.map(|o| o.msgs_per_sec), 0),
            r.mb_per_sec,
            r.loss_percent,
            ratio(r.latency.p50_us, raw.map(|o| o.latency.p50_us), 1),
            ratio(r.latency.p99_us, raw.map(|o| o.latency.p99_us), 1),
            r.latency.p999_us,
            r.latency.max_us,
            r.self_latency.p50_us,
            r.self_latency.p99_us,
            r.sender_cpu_us_per_msg,
            r.receiver_cpu_us_per_msg,
            r.msgs_per_datagram
        );
    }
    out
}
