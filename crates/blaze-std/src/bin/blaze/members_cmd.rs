//! `blaze members`: who is in a group.

use clap::Args;

use crate::net::{NetArgs, explain, runtime, start_member};

/// List the members of a group (this short-lived member excluded).
#[derive(Debug, Clone, Args)]
#[command(
    after_help = "Examples:\n  blaze members blaze\n  blaze members chat --json\n  blaze members chat --seed 10.0.0.2:7601"
)]
pub(crate) struct MembersArgs {
    /// The group.
    #[arg(value_name = "GROUP")]
    group_name: String,
    /// JSON instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    net: NetArgs,
}

pub(crate) fn main(args: &MembersArgs) -> Result<(), String> {
    let mut net = args.net.clone();
    net.join = Some(args.group_name.clone());
    let config = net.config(&format!("members-{}", std::process::id()))?;
    runtime()?.block_on(async {
        let mut member = start_member(config, net.wait(), true).await?;
        // A moment more for the view to take in everyone.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let members = member.members(&args.group_name).await.map_err(explain)?;
        let master = member
            .coordinator(&args.group_name)
            .await
            .map_err(explain)?;
        let me = member.id();
        let others: Vec<_> = members.into_iter().filter(|m| m.id != me).collect();
        if args.json {
            let list: Vec<_> = others
                .iter()
                .map(|m| {
                    serde_json::json!({
                        "name": m.name,
                        "id": format!("{:#}", m.id),
                        "address": m.address.map(|a| a.to_string()),
                        "coordinator": Some(m.id) == master,
                    })
                })
                .collect();
            println!("{}", serde_json::Value::Array(list));
        } else {
            println!("{} member(s) in {:?}:", others.len(), args.group_name);
            for m in &others {
                println!(
                    "  {:<20} {:#}  {:<21} {}",
                    m.name,
                    m.id,
                    m.address.map_or_else(|| "-".into(), |a| a.to_string()),
                    if Some(m.id) == master {
                        "coordinator"
                    } else {
                        ""
                    }
                );
            }
        }
        member.shutdown().await.map_err(explain)?;
        Ok(())
    })
}
