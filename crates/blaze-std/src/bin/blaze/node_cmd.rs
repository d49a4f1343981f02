//! `blaze node`: a long-running member.

use blaze_std::GroupEvent;
use clap::{Args, ValueEnum};

use crate::net::{NetArgs, explain, runtime, shutdown_signal};

/// Run a long-lived member of the cluster; SIGINT or SIGTERM make it leave gracefully.
///
/// It joins its groups, prints every membership, coordinator and map event,
/// and answers requests (echoing them). The configuration file is TOML; every
/// field is optional:
///
///   name = "alpha"
///   group = "239.255.42.99:7600"     # or: seeds = ["10.0.0.2:7601"]
///   interface = "127.0.0.1"
///   port = 0
///   groups = ["blaze", "chat"]
///   heartbeat_ms = 100
///   failure_timeout_ms = 500
///   weight = 0
///   map_ordering = "coordinator"     # or "totem": the map ordered by the ring
///   log = "info"
///   [topics]
///   ticks = "best-effort"
///
/// With `--control stdio` it is driven instead by commands on standard
/// input and reports every event as a JSON line (see below).
#[derive(Debug, Clone, Args)]
#[command(after_help = concat!(
    "Examples:\n  blaze node --config alpha.toml\n  blaze node --name alpha --join chat\n  blaze node --seed 127.0.0.1:7601 --port 7602\n  (echo 'publish news 10 100'; sleep 5) | blaze node --config alpha.toml --control stdio\n\n",
    crate::control::help!()
))]
pub(crate) struct NodeArgs {
    #[command(flatten)]
    net: NetArgs,
    /// Take commands and report events as JSON lines (for test harnesses);
    /// the commands are listed below. Topics of the configuration's
    /// `[topics]` table are subscribed to.
    #[arg(long, value_enum)]
    control: Option<Control>,
}

/// Where a controlled node takes commands from and reports to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Control {
    /// Commands on standard input, JSON lines on standard output.
    Stdio,
}

pub(crate) fn main(args: &NodeArgs) -> Result<(), String> {
    let config = args.net.config(&format!("node-{}", std::process::id()))?;
    if args.control == Some(Control::Stdio) {
        return runtime()?.block_on(crate::control::run(config));
    }
    runtime()?.block_on(async {
        let mut member = blaze_std::ClusterChannel::new(config.clone());
        let mut events = member.events();
        member
            .set_request_handler(|r| (0, r.payload.clone()))
            .await
            .map_err(explain)?;
        member.start().await.map_err(explain)?;
        println!(
            "member {} ({}) up on {}, groups {:?}; Ctrl-C leaves",
            member.name(),
            member.id(),
            member
                .local_addr()
                .map_or_else(String::new, |a| a.to_string()),
            config.groups
        );
        loop {
            tokio::select! {
                () = shutdown_signal() => break,
                event = events.recv() => match event {
                    Some(event) => println!("{}", describe(&event)),
                    None => break,
                },
            }
        }
        member.shutdown().await.map_err(explain)?;
        println!("member {} left gracefully", member.name());
        Ok(())
    })
}

/// One event as a line.
pub(crate) fn describe(event: &GroupEvent) -> String {
    match event {
        GroupEvent::ViewChanged {
            group,
            view_id,
            members,
            ..
        } => {
            format!("[{group}] view {view_id}: {members} members")
        }
        GroupEvent::MemberJoined { group, member } => format!("[{group}] member {member} joined"),
        GroupEvent::MemberLeft { group, member } => format!("[{group}] member {member} left"),
        GroupEvent::MemberFailed { group, member } => format!("[{group}] member {member} failed"),
        GroupEvent::CoordinatorChanged {
            group, coordinator, ..
        } => {
            format!("[{group}] coordinator is now {coordinator}")
        }
        GroupEvent::Left { group } => format!("[{group}] left"),
        GroupEvent::MapChanged(c) => format!(
            "[{}] map {}: {} {:?} -> {}",
            c.group,
            c.map,
            String::from_utf8_lossy(&c.key),
            c.kind,
            c.new
                .as_deref()
                .map_or_else(|| "(none)".into(), String::from_utf8_lossy)
        ),
        GroupEvent::LockLost {
            group, map, key, ..
        } => {
            format!(
                "[{group}] lock on {map}/{} lost",
                String::from_utf8_lossy(key)
            )
        }
        GroupEvent::Unrecoverable { group, sender } => {
            format!("[{group}] messages from {sender} lost for good")
        }
        other => format!("{other:?}"),
    }
}
