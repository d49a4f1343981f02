//! `blaze`: the Blaze command-line program.
#![allow(
    rustdoc::broken_intra_doc_links,
    reason = "clap prints these doc comments as help text, where brackets are literal TOML and argument names"
)]

mod bench;
mod children;
mod control;
mod demo;
mod latency;
mod map_cmd;
mod members_cmd;
mod net;
mod netns;
mod node_cmd;
mod node_mode;
mod os;
mod pubsub;
mod raw;
mod stamp;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Blaze: low-latency group communication (reliable multicast, membership,
/// replicated map) on UDP multicast.
#[derive(Debug, Parser)]
#[command(name = "blaze", version, propagate_version = true)]
#[command(
    after_help = "Examples:\n  blaze demo\n  blaze bench --mode raw,reliable --duration 2\n  blaze node --name alpha &  blaze sub news &  blaze pub news hello\n  blaze members blaze\n  blaze map put config colour blue"
)]
struct Cli {
    /// Log filter (tracing directives such as `info` or `blaze_std=debug`);
    /// default from the BLAZE_LOG environment variable, else `warn`.
    #[arg(long, global = true)]
    log: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Demo(demo::DemoArgs),
    Bench(bench::BenchArgs),
    Node(node_cmd::NodeArgs),
    Pub(pubsub::PubArgs),
    Sub(pubsub::SubArgs),
    Members(members_cmd::MembersArgs),
    Map(map_cmd::MapArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log.as_deref());
    let outcome = match &cli.command {
        Command::Bench(args) => bench::main(args),
        Command::Demo(args) => demo::main(args),
        Command::Node(args) => node_cmd::main(args),
        Command::Pub(args) => pubsub::publish(args),
        Command::Sub(args) => pubsub::subscribe(args),
        Command::Members(args) => members_cmd::main(args),
        Command::Map(args) => map_cmd::main(args),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("blaze: error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Logs go to standard error through `tracing`; records of the `log`
/// crate (the protocol crates, the driver) are forwarded to it.
fn init_logging(filter: Option<&str>) {
    use tracing_subscriber::EnvFilter;
    let directives = filter
        .map(str::to_owned)
        .or_else(|| std::env::var("BLAZE_LOG").ok())
        .unwrap_or_else(|| "warn".to_owned());
    let filter = EnvFilter::try_new(&directives).unwrap_or_else(|e| {
        eprintln!("blaze: ignoring the log filter {directives:?} ({e}); logging warnings");
        EnvFilter::new("warn")
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
