//! `blaze pub` and `blaze sub`: publish to and print a topic.

use std::io::BufRead;
use std::time::Duration;

use blaze_std::Qos;
use clap::{Args, ValueEnum};

use crate::net::{NetArgs, explain, runtime, shutdown_signal, start_member};

/// The quality of service, as a flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum QosArg {
    Reliable,
    BestEffort,
}

impl From<QosArg> for Qos {
    fn from(q: QosArg) -> Qos {
        match q {
            QosArg::Reliable => Qos::Reliable,
            QosArg::BestEffort => Qos::BestEffort,
        }
    }
}

/// Publish a message (or each line of standard input) on a topic.
#[derive(Debug, Clone, Args)]
#[command(
    after_help = "Examples:\n  blaze pub news 'hello, world'\n  echo hello | blaze pub news\n  blaze pub ticks 42 --qos best-effort --join markets"
)]
pub(crate) struct PubArgs {
    /// The topic.
    topic: String,
    /// The message; without it, each line of standard input is one message.
    message: Option<String>,
    /// The topic's quality of service.
    #[arg(long, value_enum, default_value = "reliable")]
    qos: QosArg,
    #[command(flatten)]
    net: NetArgs,
}

/// Print the messages published on a topic until Ctrl-C (or --count).
#[derive(Debug, Clone, Args)]
#[command(
    after_help = "Examples:\n  blaze sub news\n  blaze sub news --json --count 10\n  blaze sub ticks --qos best-effort --join markets"
)]
pub(crate) struct SubArgs {
    /// The topic.
    topic: String,
    /// One JSON object per line instead of text.
    #[arg(long)]
    json: bool,
    /// Exit after this many messages.
    #[arg(long)]
    count: Option<u64>,
    /// Exit after this many seconds.
    #[arg(long)]
    timeout: Option<f64>,
    /// The topic's quality of service (must match the publishers').
    #[arg(long, value_enum, default_value = "reliable")]
    qos: QosArg,
    #[command(flatten)]
    net: NetArgs,
}

pub(crate) fn publish(args: &PubArgs) -> Result<(), String> {
    let config = args.net.config(&format!("pub-{}", std::process::id()))?;
    let group = NetArgs::group_name(&config);
    let messages: Vec<String> = match &args.message {
        Some(m) => vec![m.clone()],
        None => std::io::stdin()
            .lock()
            .lines()
            .collect::<Result<_, _>>()
            .map_err(|e| format!("cannot read standard input: {e}"))?,
    };
    runtime()?.block_on(async {
        let mut member = start_member(config, args.net.wait(), false).await?;
        member
            .set_qos(&args.topic, args.qos.into())
            .await
            .map_err(explain)?;
        // Let the others install this member in their views, so that they
        // take its stream from the first message.
        tokio::time::sleep(Duration::from_millis(300)).await;
        for message in &messages {
            member
                .publish_in(&group, &args.topic, message.as_bytes())
                .await
                .map_err(explain)?;
        }
        // Stay a moment to repair losses of the last messages.
        tokio::time::sleep(Duration::from_millis(500)).await;
        member.shutdown().await.map_err(explain)?;
        eprintln!(
            "published {} message(s) on {:?} in group {group:?}",
            messages.len(),
            args.topic
        );
        Ok(())
    })
}

pub(crate) fn subscribe(args: &SubArgs) -> Result<(), String> {
    let config = args.net.config(&format!("sub-{}", std::process::id()))?;
    runtime()?.block_on(async {
        let mut member = blaze_std::ClusterChannel::new(config);
        let mut messages = member.subscribe(&args.topic).await.map_err(explain)?;
        member.start().await.map_err(explain)?;
        member.set_qos(&args.topic, args.qos.into()).await.map_err(explain)?;
        if !args.json {
            eprintln!("subscribed to {:?} as {} ({}); Ctrl-C stops", args.topic, member.name(), member.id());
        }
        let limit = args.timeout.map(Duration::from_secs_f64).unwrap_or(Duration::MAX);
        let deadline = tokio::time::Instant::now().checked_add(limit);
        let mut seen = 0u64;
        loop {
            let timer = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = shutdown_signal() => break,
                () = timer => break,
                message = messages.recv() => {
                    let Some(m) = message else { break };
                    if args.json {
                        let line = serde_json::json!({
                            "group": m.group,
                            "topic": m.topic,
                            "sender": format!("{:#}", m.sender),
                            "qos": m.qos.to_string(),
                            "payload": String::from_utf8_lossy(&m.payload),
                            "len": m.payload.len(),
                        });
                        println!("{line}");
                    } else {
                        println!("[{}] {} {}: {}", m.group, m.topic, m.sender, String::from_utf8_lossy(&m.payload));
                    }
                    seen += 1;
                    if args.count.is_some_and(|c| seen >= c) {
                        break;
                    }
                }
            }
        }
        member.shutdown().await.map_err(explain)?;
        Ok(())
    })
}
