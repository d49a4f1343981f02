//! Hosts in network namespaces joined by a bridge in a namespace of its own.

use std::ffi::OsStr;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::NetnsError;
use crate::firewall;
use crate::process::{Live, Process};
use crate::tool::{run, run_with_input};

/// Most hosts a topology has (one /24 subnet).
pub const MAX_HOSTS: usize = 253;

/// Topologies made by this process so far: part of every prefix and of
/// every subnet, so that parallel tests never collide.
static MADE: AtomicU32 = AtomicU32::new(0);

/// The bridge inside the bridge namespace.
const BRIDGE: &str = "br0";
/// Each host's interface.
const INTERFACE: &str = "eth0";

/// `hosts` network namespaces joined by a Linux bridge.
///
/// Host `i` is the namespace `<prefix>-h<i>` with `lo` up and `eth0` at
/// `10.200.<n>.<i+1>/24` plus a `224.0.0.0/4` route, where `<prefix>` is the
/// given one followed by `-<pid>x<n>`: this process's PID and a counter.
/// Its `eth0` is one end of a veth pair whose other end is a port of the bridge `br0` in the
/// namespace `<prefix>-br`, with multicast snooping off so that multicast
/// reaches every host. Each host also gets an nftables table
/// `inet blaze_netns` with the (initially empty) loss and partition chains.
///
/// Dropping the topology kills every process it spawned that is still
/// running (SIGKILL, by PID) and deletes the namespaces, which takes their
/// interfaces, the bridge and the rules with them. Drop also runs while a
/// test unwinds from a panic.
///
/// ```no_run
/// use std::process::Command;
/// use blaze_netns::Topology;
///
/// let net = Topology::new("doc", 3)?;
/// net.set_loss(1, 5)?;
/// net.partition(&[&[0], &[1, 2]])?;
/// let mut server = net.spawn(1, Command::new("sleep").arg("10"))?;
/// net.heal()?;
/// server.kill()?;
/// println!("host 1 dropped {} datagrams", net.dropped(1)?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Topology {
    prefix: String,
    subnet: u8,
    hosts: usize,
    /// Namespaces made so far, in order; deleted in reverse.
    namespaces: Vec<String>,
    live: Live,
}

impl Topology {
    /// Builds `hosts` hosts and the bridge between them.
    ///
    /// # Errors
    ///
    /// More than [`MAX_HOSTS`] hosts, or a step failed (not root, `ip` or
    /// `nft` missing, ...). What was built so far is torn down before
    /// returning.
    pub fn new(prefix: &str, hosts: usize) -> Result<Self, NetnsError> {
        if hosts > MAX_HOSTS {
            return Err(NetnsError::NoSuchHost {
                host: hosts - 1,
                hosts: MAX_HOSTS,
            });
        }
        sweep_stale();
        let made = MADE.fetch_add(1, Ordering::Relaxed);
        let mut topology = Self {
            prefix: format!("{prefix}-{}x{made}", std::process::id()),
            subnet: u8::try_from(made % 256).unwrap_or(0),
            hosts,
            namespaces: Vec::new(),
            live: Arc::new(Mutex::new(Default::default())),
        };
        // On error `topology` is dropped, which tears the partial build down.
        topology.build()?;
        Ok(topology)
    }

    fn build(&mut self) -> Result<(), NetnsError> {
        let bridge_ns = self.bridge_namespace();
        self.add_namespace(&bridge_ns)?;
        let ip_br = |args: &[&str]| ip_in(&bridge_ns, args);
        ip_br(&["link", "set", "lo", "up"])?;
        ip_br(&[
            "link",
            "add",
            BRIDGE,
            "type",
            "bridge",
            "mcast_snooping",
            "0",
            "stp_state",
            "0",
        ])?;
        ip_br(&["link", "set", BRIDGE, "up"])?;
        for host in 0..self.hosts {
            let ns = self.namespace(host);
            self.add_namespace(&ns)?;
            let port = format!("h{host}");
            ip_br(&[
                "link", "add", &port, "type", "veth", "peer", "name", INTERFACE, "netns", &ns,
            ])?;
            ip_br(&["link", "set", &port, "master", BRIDGE, "up"])?;
            let cidr = format!("{}/24", self.addr(host));
            ip_in(&ns, &["link", "set", "lo", "up"])?;
            ip_in(&ns, &["addr", "add", &cidr, "dev", INTERFACE])?;
            ip_in(&ns, &["link", "set", INTERFACE, "up"])?;
            ip_in(&ns, &["route", "add", "224.0.0.0/4", "dev", INTERFACE])?;
            nft_in(&ns, &firewall::setup())?;
        }
        Ok(())
    }

    fn add_namespace(&mut self, name: &str) -> Result<(), NetnsError> {
        run("ip", &["netns", "add", name])?;
        self.namespaces.push(name.to_owned());
        Ok(())
    }

    /// The unique prefix of every namespace of this topology.
    #[must_use]
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// How many hosts there are.
    #[must_use]
    pub fn hosts(&self) -> usize {
        self.hosts
    }

    /// The namespace of host `host` (`<prefix>-h<host>`).
    #[must_use]
    pub fn namespace(&self, host: usize) -> String {
        format!("{}-h{host}", self.prefix)
    }

    /// The namespace the bridge lives in (`<prefix>-br`).
    #[must_use]
    pub fn bridge_namespace(&self) -> String {
        format!("{}-br", self.prefix)
    }

    /// The name of every host's interface (`eth0`).
    #[must_use]
    pub fn interface(&self) -> &'static str {
        INTERFACE
    }

    /// The address of host `host` on the bridge's subnet.
    #[must_use]
    pub fn addr(&self, host: usize) -> Ipv4Addr {
        let last = u8::try_from(host + 1).unwrap_or(u8::MAX);
        Ipv4Addr::new(10, 200, self.subnet, last)
    }

    fn check(&self, host: usize) -> Result<(), NetnsError> {
        if host < self.hosts {
            Ok(())
        } else {
            Err(NetnsError::NoSuchHost {
                host,
                hosts: self.hosts,
            })
        }
    }

    /// Runs `command` inside host `host` with standard input and output
    /// piped and standard error inherited. The handle kills it on drop.
    ///
    /// The program, arguments, environment changes and working directory
    /// of `command` are carried over; its standard I/O settings are not
    /// (use [`Topology::spawn_with`]).
    ///
    /// # Errors
    ///
    /// An unknown host, or the process could not be started.
    pub fn spawn(&self, host: usize, command: &Command) -> Result<Process, NetnsError> {
        self.spawn_with(
            host,
            command,
            Stdio::piped(),
            Stdio::piped(),
            Stdio::inherit(),
        )
    }

    /// [`Topology::spawn`] with the given standard input, output and error.
    ///
    /// # Errors
    ///
    /// An unknown host, or the process could not be started.
    pub fn spawn_with(
        &self,
        host: usize,
        command: &Command,
        stdin: Stdio,
        stdout: Stdio,
        stderr: Stdio,
    ) -> Result<Process, NetnsError> {
        self.check(host)?;
        let ns = self.namespace(host);
        let mut inner = Command::new("ip");
        inner
            .args([OsStr::new("netns"), OsStr::new("exec"), OsStr::new(&ns)])
            .arg(command.get_program())
            .args(command.get_args())
            .stdin(stdin)
            .stdout(stdout)
            .stderr(stderr);
        for (key, value) in command.get_envs() {
            match value {
                Some(value) => inner.env(key, value),
                None => inner.env_remove(key),
            };
        }
        if let Some(dir) = command.get_current_dir() {
            inner.current_dir(dir);
        }
        let child = inner.spawn().map_err(|source| NetnsError::Spawn {
            command: format!("ip netns exec {ns} {:?}", command.get_program()),
            source,
        })?;
        Ok(Process::new(child, host, self.live.clone()))
    }

    /// Runs `program args` inside host `host` to completion and returns its
    /// standard output (for diagnostics: `ip addr`, `nft list ruleset`, ...).
    ///
    /// # Errors
    ///
    /// An unknown host, or the program failed.
    pub fn exec(&self, host: usize, program: &str, args: &[&str]) -> Result<String, NetnsError> {
        self.check(host)?;
        let ns = self.namespace(host);
        let mut all = vec!["netns", "exec", &ns, program];
        all.extend_from_slice(args);
        run("ip", &all)
    }

    /// Drops `percent` % of the UDP datagrams arriving at host `host`, at
    /// random (nftables `numgen random mod 100 < percent drop`); 0 removes
    /// the loss. Replaces the host's previous loss setting.
    ///
    /// # Errors
    ///
    /// An unknown host, or `nft` failed.
    pub fn set_loss(&self, host: usize, percent: u8) -> Result<(), NetnsError> {
        self.check(host)?;
        nft_in(&self.namespace(host), &firewall::loss(percent))
    }

    /// How many datagrams the loss rule of host `host` dropped so far (an
    /// nftables counter; 0 without loss).
    ///
    /// # Errors
    ///
    /// An unknown host, or `nft` failed.
    pub fn dropped(&self, host: usize) -> Result<u64, NetnsError> {
        let listing = self.exec(
            host,
            "nft",
            &["list", "chain", "inet", firewall::TABLE, "loss"],
        )?;
        Ok(firewall::dropped(&listing))
    }

    /// Cuts the hosts into sides: every host drops what arrives from hosts
    /// on another side. Hosts on no side are not affected. Replaces any
    /// previous partition.
    ///
    /// # Errors
    ///
    /// An unknown host, or `nft` failed (the partition may then be half
    /// applied; [`Topology::heal`] clears it).
    pub fn partition(&self, sides: &[&[usize]]) -> Result<(), NetnsError> {
        for &host in sides.iter().flat_map(|side| side.iter()) {
            self.check(host)?;
        }
        for (i, side) in sides.iter().enumerate() {
            let blocked: Vec<Ipv4Addr> = sides
                .iter()
                .enumerate()
                .filter(|&(j, _)| j != i)
                .flat_map(|(_, other)| other.iter().map(|&h| self.addr(h)))
                .collect();
            for &host in *side {
                nft_in(&self.namespace(host), &firewall::partition(&blocked))?;
            }
        }
        Ok(())
    }

    /// Removes the partition from every host.
    ///
    /// # Errors
    ///
    /// `nft` failed.
    pub fn heal(&self) -> Result<(), NetnsError> {
        for host in 0..self.hosts {
            nft_in(&self.namespace(host), &firewall::partition(&[]))?;
        }
        Ok(())
    }

    /// PIDs of spawned processes not reaped yet.
    fn live_pids(&self) -> Vec<u32> {
        self.live
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .copied()
            .collect()
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        for pid in self.live_pids() {
            // Unreaped, so the PID is still this process's child's.
            if let Err(e) = run("kill", &["-KILL", &pid.to_string()]) {
                eprintln!("blaze-netns: {e}");
            }
        }
        while let Some(ns) = self.namespaces.pop() {
            if let Err(e) = run("ip", &["netns", "delete", &ns]) {
                eprintln!("blaze-netns: {e}");
            }
        }
    }
}

/// Deletes the namespaces of topologies whose process is gone (killed
/// before its drop could run): names ending in `-<pid>x<n>-h<i>` or
/// `-<pid>x<n>-br` where no process `<pid>` exists. Errors are ignored.
fn sweep_stale() {
    let Ok(list) = run("ip", &["netns", "list"]) else {
        return;
    };
    for name in list.lines().filter_map(|l| l.split_whitespace().next()) {
        if let Some(pid) = owner(name)
            && !std::path::Path::new(&format!("/proc/{pid}")).exists()
        {
            let _ = run("ip", &["netns", "delete", name]);
        }
    }
}

/// The PID in a topology's namespace name, if it is one.
fn owner(name: &str) -> Option<u32> {
    let mut parts = name.rsplit('-');
    let host = parts.next()?;
    let is_host = host == "br"
        || host
            .strip_prefix('h')
            .is_some_and(|i| !i.is_empty() && i.bytes().all(|b| b.is_ascii_digit()));
    let (pid, made) = parts.next()?.split_once('x')?;
    if !is_host || made.is_empty() || !made.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    parts.next()?;
    pid.parse().ok()
}

fn ip_in(ns: &str, args: &[&str]) -> Result<String, NetnsError> {
    let mut all = vec!["-n", ns];
    all.extend_from_slice(args);
    run("ip", &all)
}

fn nft_in(ns: &str, script: &str) -> Result<(), NetnsError> {
    run_with_input("ip", &["netns", "exec", ns, "nft", "-f", "-"], Some(script)).map(drop)
}

#[cfg(test)]
mod tests {
    use super::owner;

    #[test]
    fn only_topology_names_have_owners() {
        assert_eq!(owner("bzrel-1234x0-h3"), Some(1234));
        assert_eq!(owner("a-b-77x12-br"), Some(77));
        assert_eq!(owner("1234x0-h3"), None);
        assert_eq!(owner("bz-1234x-h3"), None);
        assert_eq!(owner("bz-1234x0-hx"), None);
        assert_eq!(owner("bz-1234y0-h1"), None);
        assert_eq!(owner("mynet"), None);
        assert_eq!(owner("bz-12a4x0-br"), None);
    }
}
