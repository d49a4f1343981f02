//! What every member-running command shares: how to reach the cluster
//! (flags over an optional TOML file), the runtime, and the signals that
//! end a command gracefully.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::PathBuf;
use std::time::Duration;

use blaze_std::{ChannelConfig, ChannelError, ClusterChannel, SocketError};
use clap::Args;

/// How to reach the cluster.
#[derive(Debug, Clone, Args)]
pub(crate) struct NetArgs {
    /// Configuration file (TOML, see `blaze node --help`); flags override it.
    #[arg(long, short = 'c')]
    pub(crate) config: Option<PathBuf>,
    /// Multicast group and port of the cluster [default: 239.255.42.99:7600].
    #[arg(long)]
    pub(crate) group: Option<SocketAddrV4>,
    /// Local interface address for multicast and the unicast socket [default: 127.0.0.1].
    #[arg(long)]
    pub(crate) interface: Option<Ipv4Addr>,
    /// Unicast-only: another member's address (repeat for several); disables multicast.
    #[arg(long = "seed", value_name = "HOST:PORT")]
    pub(crate) seeds: Vec<SocketAddr>,
    /// Unicast port of this member (0 picks one).
    #[arg(long)]
    pub(crate) port: Option<u16>,
    /// This member's name.
    #[arg(long)]
    pub(crate) name: Option<String>,
    /// Group to join [default: the configuration's first group, else "blaze"].
    #[arg(long = "join", value_name = "GROUP")]
    pub(crate) join: Option<String>,
    /// Milliseconds to wait for the other members before acting.
    #[arg(long, default_value_t = 1500)]
    pub(crate) wait_ms: u64,
}

impl NetArgs {
    /// The configuration: the file's (or the defaults), then the flags.
    pub(crate) fn config(&self, default_name: &str) -> Result<ChannelConfig, String> {
        let mut config = match &self.config {
            Some(path) => ChannelConfig::load(path).map_err(|e| e.to_string())?,
            None => {
                let mut c = ChannelConfig::default();
                c.name = default_name.to_owned();
                c
            }
        };
        if let Some(group) = self.group {
            config.group = Some(group);
        }
        if !self.seeds.is_empty() {
            config.group = None;
            config.seeds.clone_from(&self.seeds);
        }
        if let Some(interface) = self.interface {
            config.interface = interface;
        }
        if let Some(port) = self.port {
            config.port = port;
        }
        if let Some(name) = &self.name {
            config.name.clone_from(name);
        }
        if let Some(group) = &self.join {
            config.groups.retain(|g| g != group);
            config.groups.insert(0, group.clone());
        }
        config.validate().map_err(|e| e.to_string())?;
        Ok(config)
    }

    /// The group the command acts in.
    pub(crate) fn group_name(config: &ChannelConfig) -> String {
        config
            .groups
            .first()
            .cloned()
            .unwrap_or_else(|| "blaze".into())
    }

    pub(crate) fn wait(&self) -> Duration {
        Duration::from_millis(self.wait_ms)
    }
}

/// A runtime whose worker threads have room for the node.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_stack_size(16 << 20)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))
}

/// A channel error as the user should read it: the problem and the fix.
pub(crate) fn explain(e: ChannelError) -> String {
    match &e {
        ChannelError::Socket(SocketError::Multicast { .. }) => format!(
            "{e}\n  fix: pass --interface ADDR (an address of this host whose interface has multicast), \
             or run without multicast: --seed HOST:PORT of another member (and --port so others can seed you)"
        ),
        ChannelError::Socket(SocketError::BindGroup { .. }) => format!(
            "{e}\n  fix: another program holds that port without address reuse; pick another --group port"
        ),
        _ => e.to_string(),
    }
}

/// Starts a member and waits (up to `wait`) for another member of
/// `group`; says so on standard error if none came.
pub(crate) async fn start_member(
    config: ChannelConfig,
    wait: Duration,
    quiet: bool,
) -> Result<ClusterChannel, String> {
    let group = NetArgs::group_name(&config);
    let mut member = ClusterChannel::new(config);
    member.start().await.map_err(explain)?;
    if member
        .wait_for_members(&group, wait, |m| m.len() >= 2)
        .await
        .is_err()
        && !quiet
    {
        eprintln!(
            "blaze: no other member of group {group:?} answered within {} ms \
             (start one with `blaze node`, or check --group/--seed)",
            wait.as_millis()
        );
    }
    Ok(member)
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub(crate) async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
