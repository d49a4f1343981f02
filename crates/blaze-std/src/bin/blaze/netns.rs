//! `blaze bench --netns`: the benchmark's hosts as Linux network
//! namespaces joined by a bridge, so that multicast crosses a link (veth
//! pairs and a bridge, MTU 1500) instead of staying on loopback.
//!
//! Host `i` is the namespace `<prefix>-h<i>` with `lo` up and `eth0` at
//! `10.201.<p>.<i+1>/24` (`p` from the process id) plus a `224.0.0.0/4`
//! route; the other end of its veth pair is a port of the bridge `br0` in
//! the namespace `<prefix>-br` (multicast snooping off, so every host gets
//! every group datagram). Dropping [`Hosts`] deletes the namespaces, which
//! takes their interfaces and the bridge with them. Needs root and
//! iproute2's `ip`.

use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

/// The bridge inside the bridge namespace.
const BRIDGE: &str = "br0";
/// Each host's interface.
const INTERFACE: &str = "eth0";

/// Namespaces on a bridge; deleted on drop.
#[derive(Debug)]
pub(crate) struct Hosts {
    prefix: String,
    subnet: u8,
    hosts: usize,
    /// Namespaces made so far, in order; deleted in reverse.
    made: Vec<String>,
}

/// Runs `ip args`, with its error output in the error.
fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run `ip` (iproute2): {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl Hosts {
    /// Builds `hosts` hosts and the bridge between them; what was built is
    /// torn down again if a step fails.
    pub(crate) fn new(hosts: usize) -> Result<Self, String> {
        let pid = std::process::id();
        let mut built = Hosts {
            prefix: format!("bzbench{pid}"),
            subnet: u8::try_from(pid % 250).unwrap_or(0),
            hosts,
            made: Vec::new(),
        };
        built.build().map_err(|e| {
            format!("{e}; --netns needs root and iproute2 (`ip netns`, veth and bridge links)")
        })?;
        Ok(built)
    }

    fn build(&mut self) -> Result<(), String> {
        let br = format!("{}-br", self.prefix);
        self.add(&br)?;
        ip(&["-n", &br, "link", "set", "lo", "up"])?;
        ip(&[
            "-n",
            &br,
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
        ip(&["-n", &br, "link", "set", BRIDGE, "up"])?;
        for host in 0..self.hosts {
            let ns = self.namespace(host);
            self.add(&ns)?;
            let port = format!("h{host}");
            ip(&[
                "-n", &br, "link", "add", &port, "type", "veth", "peer", "name", INTERFACE,
                "netns", &ns,
            ])?;
            ip(&["-n", &br, "link", "set", &port, "master", BRIDGE, "up"])?;
            let cidr = format!("{}/24", self.addr(host));
            ip(&["-n", &ns, "link", "set", "lo", "up"])?;
            ip(&["-n", &ns, "addr", "add", &cidr, "dev", INTERFACE])?;
            ip(&["-n", &ns, "link", "set", INTERFACE, "up"])?;
            ip(&["-n", &ns, "route", "add", "224.0.0.0/4", "dev", INTERFACE])?;
        }
        Ok(())
    }

    fn add(&mut self, name: &str) -> Result<(), String> {
        ip(&["netns", "add", name])?;
        self.made.push(name.to_owned());
        Ok(())
    }

    /// The namespace of host `host`.
    pub(crate) fn namespace(&self, host: usize) -> String {
        format!("{}-h{host}", self.prefix)
    }

    /// The address of host `host` on the bridge's subnet.
    pub(crate) fn addr(&self, host: usize) -> Ipv4Addr {
        Ipv4Addr::new(
            10,
            201,
            self.subnet,
            u8::try_from(host + 1).unwrap_or(u8::MAX),
        )
    }

    /// `namespace@address` of every host, for `--netns-hosts`.
    pub(crate) fn describe(&self) -> String {
        (0..self.hosts)
            .map(|h| format!("{}@{}", self.namespace(h), self.addr(h)))
            .collect::<Vec<_>>()
            .join(",")
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        while let Some(ns) = self.made.pop() {
            if let Err(e) = ip(&["netns", "delete", &ns]) {
                eprintln!("blaze bench: {e}");
            }
        }
    }
}

/// One host as a child process sees it: the command prefix that runs a
/// program in its namespace, and its address.
#[derive(Debug, Clone)]
pub(crate) struct Host {
    pub(crate) namespace: String,
    pub(crate) addr: Ipv4Addr,
}

impl Host {
    /// Parses `namespace@address`.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let (namespace, addr) = text
            .split_once('@')
            .ok_or_else(|| format!("{text:?}: expected namespace@address"))?;
        let addr = addr
            .parse()
            .map_err(|e| format!("{text:?}: bad address: {e}"))?;
        Ok(Host {
            namespace: namespace.to_owned(),
            addr,
        })
    }

    /// `ip netns exec <namespace>`.
    pub(crate) fn exec_prefix(&self) -> Vec<String> {
        ["ip", "netns", "exec", &self.namespace]
            .iter()
            .map(|s| (*s).to_owned())
            .collect()
    }
}
