//! `blaze bench --netns`: the benchmark's hosts as Linux network
//! namespaces joined by a bridge, so that multicast crosses a link (veth
//! pairs and a bridge, MTU 1500) instead of staying on loopback.
//!
//! The hosts are a `blaze-netns` topology: host `i` is a namespace with
//! `lo` up, `eth0` on the bridge's subnet and a `224.0.0.0/4` route; the
//! bridge (multicast snooping off, so every host gets every group
//! datagram) sits in a namespace of its own. Dropping [`Hosts`] deletes the
//! namespaces, which takes their interfaces and the bridge with them.
//! Needs root, iproute2's `ip` and `nft`.

use std::net::Ipv4Addr;

use blaze_netns::Topology;

/// Namespaces on a bridge (a [`Topology`] of the `blaze-netns` crate);
/// deleted on drop.
#[derive(Debug)]
pub(crate) struct Hosts(Topology);

impl Hosts {
    /// Builds `hosts` hosts and the bridge between them; what was built is
    /// torn down again if a step fails.
    pub(crate) fn new(hosts: usize) -> Result<Self, String> {
        Topology::new("bzbench", hosts).map(Hosts).map_err(|e| {
            format!(
                "{e}; --netns needs root, iproute2 (`ip netns`, veth and bridge links) and nftables"
            )
        })
    }

    /// The namespace of host `host`.
    pub(crate) fn namespace(&self, host: usize) -> String {
        self.0.namespace(host)
    }

    /// The address of host `host` on the bridge's subnet.
    pub(crate) fn addr(&self, host: usize) -> Ipv4Addr {
        self.0.addr(host)
    }

    /// `namespace@address` of every host, for `--netns-hosts`.
    pub(crate) fn describe(&self) -> String {
        (0..self.0.hosts())
            .map(|h| format!("{}@{}", self.namespace(h), self.addr(h)))
            .collect::<Vec<_>>()
            .join(",")
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
