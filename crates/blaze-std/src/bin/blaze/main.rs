//! `blaze`: the Blaze command-line program.

mod bench;
mod children;
mod latency;
mod os;
mod raw;
mod stamp;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Blaze: low-latency group communication (reliable multicast, membership,
/// replicated map) on UDP multicast.
#[derive(Debug, Parser)]
#[command(name = "blaze", version, propagate_version = true)]
#[command(after_help = "Examples:\n  blaze bench --mode raw --duration 2\n  blaze bench --help")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Bench(bench::BenchArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match &cli.command {
        Command::Bench(args) => bench::main(args),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("blaze: error: {message}");
            ExitCode::FAILURE
        }
    }
}
