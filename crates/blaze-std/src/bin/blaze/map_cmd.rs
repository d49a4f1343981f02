//! `blaze map`: the replicated map of a group.

use std::time::Duration;

use clap::{Args, ValueEnum};

use crate::net::{NetArgs, explain, runtime, shutdown_signal, start_member};
use crate::node_cmd::describe;

/// Read, write, lock and watch the replicated map of a group.
///
/// Each command runs a short-lived member of the group (`--join`, default
/// "blaze"), which receives the map's state on joining. Operations:
/// get MAP KEY (exit status 1 if absent), put MAP KEY VALUE (returns once
/// replicated), remove MAP KEY, lock MAP KEY (take the write lock, hold it
/// for --hold-ms renewing the lease, or until Ctrl-C, then release it),
/// unlock MAP KEY (locks belong to the member that took them: this reports
/// who holds it), watch [MAP] (print every change until Ctrl-C).
#[derive(Debug, Clone, Args)]
#[command(
    after_help = "Examples:\n  blaze map put config colour blue\n  blaze map get config colour\n  blaze map lock config colour --lease-ms 5000 --hold-ms 2000\n  blaze map watch config"
)]
pub(crate) struct MapArgs {
    /// The operation.
    #[arg(value_enum)]
    op: MapOpKind,
    /// The map (optional for watch: all maps).
    map: Option<String>,
    /// The key.
    key: Option<String>,
    /// The value (put).
    value: Option<String>,
    /// Lock: the lease, after which the lock lapses unless renewed.
    #[arg(long, default_value_t = 10_000)]
    lease_ms: u64,
    /// Lock: hold it this long (renewing the lease), then release; 0 holds until Ctrl-C.
    #[arg(long, default_value_t = 0)]
    hold_ms: u64,
    #[command(flatten)]
    net: NetArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum MapOpKind {
    Get,
    Put,
    Remove,
    Lock,
    Unlock,
    Watch,
}

#[derive(Debug, Clone)]
enum MapOp {
    Get {
        map: String,
        key: String,
    },
    Put {
        map: String,
        key: String,
        value: String,
    },
    Remove {
        map: String,
        key: String,
    },
    Lock {
        map: String,
        key: String,
        lease_ms: u64,
        hold_ms: u64,
    },
    Unlock {
        map: String,
        key: String,
    },
    Watch {
        map: Option<String>,
    },
}

impl MapArgs {
    fn op(&self) -> Result<MapOp, String> {
        let need = |v: &Option<String>, what: &str| {
            v.clone()
                .ok_or_else(|| format!("map {:?} needs {what} (see `blaze map --help`)", self.op))
        };
        Ok(match self.op {
            MapOpKind::Get => MapOp::Get {
                map: need(&self.map, "MAP")?,
                key: need(&self.key, "KEY")?,
            },
            MapOpKind::Put => MapOp::Put {
                map: need(&self.map, "MAP")?,
                key: need(&self.key, "KEY")?,
                value: need(&self.value, "VALUE")?,
            },
            MapOpKind::Remove => MapOp::Remove {
                map: need(&self.map, "MAP")?,
                key: need(&self.key, "KEY")?,
            },
            MapOpKind::Lock => MapOp::Lock {
                map: need(&self.map, "MAP")?,
                key: need(&self.key, "KEY")?,
                lease_ms: self.lease_ms,
                hold_ms: self.hold_ms,
            },
            MapOpKind::Unlock => MapOp::Unlock {
                map: need(&self.map, "MAP")?,
                key: need(&self.key, "KEY")?,
            },
            MapOpKind::Watch => MapOp::Watch {
                map: self.map.clone(),
            },
        })
    }
}

pub(crate) fn main(args: &MapArgs) -> Result<(), String> {
    let op = args.op()?;
    let config = args.net.config(&format!("map-{}", std::process::id()))?;
    let group = NetArgs::group_name(&config);
    let wait = args.net.wait();
    runtime()?.block_on(async {
        let mut member = start_member(config, wait, true).await?;
        member
            .wait_for_election(&group, wait)
            .await
            .map_err(|e| format!("group {group:?} has no coordinator yet: {e}"))?;
        let outcome = run(&member, &group, &op, wait).await;
        member.shutdown().await.map_err(explain)?;
        outcome
    })
}

async fn run(
    member: &blaze_std::ClusterChannel,
    group: &str,
    op: &MapOp,
    wait: Duration,
) -> Result<(), String> {
    match op {
        MapOp::Get { map, key } => {
            // The state arrives from the coordinator shortly after joining.
            match member
                .wait_for_value(group, map, key.as_bytes(), wait)
                .await
            {
                Ok(value) => {
                    println!("{}", String::from_utf8_lossy(&value));
                    Ok(())
                }
                Err(_) => Err(format!("{map}/{key} is absent")),
            }
        }
        MapOp::Put { map, key, value } => {
            let version = member
                .map_put(group, map, key.as_bytes(), value.as_bytes())
                .await
                .map_err(explain)?;
            println!("{map}/{key} = {value} (version {version})");
            Ok(())
        }
        MapOp::Remove { map, key } => {
            member
                .map_remove(group, map, key.as_bytes())
                .await
                .map_err(explain)?;
            println!("{map}/{key} removed");
            Ok(())
        }
        MapOp::Lock {
            map,
            key,
            lease_ms,
            hold_ms,
        } => {
            let lease = Duration::from_millis(*lease_ms);
            let grant = member
                .lock(group, map, key.as_bytes(), lease)
                .await
                .map_err(explain)?;
            println!("locked {map}/{key}: fence {}, lease {lease:?}", grant.fence);
            let hold = async {
                let mut renew = tokio::time::interval(lease / 2);
                renew.tick().await;
                let until = (*hold_ms > 0)
                    .then(|| tokio::time::Instant::now() + Duration::from_millis(*hold_ms));
                loop {
                    tokio::select! {
                        _ = renew.tick() => {
                            let _ = member.renew_lock(group, map, key.as_bytes(), lease).await;
                        }
                        () = async { match until { Some(t) => tokio::time::sleep_until(t).await, None => std::future::pending().await } } => break,
                    }
                }
            };
            tokio::select! {
                () = hold => {}
                () = shutdown_signal() => {}
            }
            member
                .unlock(group, map, key.as_bytes())
                .await
                .map_err(explain)?;
            println!("unlocked {map}/{key}");
            Ok(())
        }
        MapOp::Unlock { map, key } => match member.unlock(group, map, key.as_bytes()).await {
            Ok(()) => {
                println!("unlocked {map}/{key}");
                Ok(())
            }
            Err(e) => {
                let holder = member
                    .lock_holder(group, map, key.as_bytes())
                    .await
                    .ok()
                    .flatten();
                Err(match holder {
                    Some(h) => format!(
                        "{e}: {map}/{key} is held by member {h:#}; only the holder releases it \
                         (Ctrl-C on its `blaze map lock`), or its lease lapses"
                    ),
                    None => format!("{e}: {map}/{key} is not locked"),
                })
            }
        },
        MapOp::Watch { map } => {
            let mut events = member.events();
            eprintln!(
                "watching {} in group {group:?}; Ctrl-C stops",
                map.as_deref().unwrap_or("every map")
            );
            loop {
                tokio::select! {
                    () = shutdown_signal() => break,
                    event = events.recv() => match event {
                        Some(blaze_std::GroupEvent::MapChanged(c)) if map.as_ref().is_none_or(|m| *m == c.map) => {
                            println!("{}", describe(&blaze_std::GroupEvent::MapChanged(c)));
                        }
                        Some(_) => {}
                        None => break,
                    },
                }
            }
            Ok(())
        }
    }
}
