//! Test topologies of Linux network namespaces for Blaze cluster tests.
//!
//! A [`Topology`] is `n` hosts, each a network namespace with one interface
//! (`eth0`, an address `10.200.<n>.<i+1>/24`, `lo` up and a `224.0.0.0/4`
//! route), joined by a Linux bridge with multicast snooping off. The bridge
//! lives in a namespace of its own: nothing is added to the namespace the
//! tests run in, and traffic stays between the hosts.
//!
//! Faults are nftables rules inside the hosts: [`Topology::set_loss`] drops
//! a share of incoming UDP at random, [`Topology::partition`] drops traffic
//! between sets of hosts and [`Topology::heal`] removes it again.
//!
//! Processes run inside a host through `ip netns exec`
//! ([`Topology::spawn`]); their [`Process`] handles kill them by PID when
//! dropped, and dropping the topology kills whatever is left and deletes
//! every namespace, bridge and rule it made, also when a test panics.
//!
//! Everything here needs root. [`root_available`] probes for it and
//! [`require_or_skip`] turns its absence into a printed skip, or into a
//! failure when `BLAZE_REQUIRE_NETNS=1`.
//!
//! It serves the cluster tests and `blaze bench --netns`; it shells out to `ip`
//! (iproute2) and `nft` (nftables) and checks their exit codes.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod error;
pub use error::NetnsError;
mod firewall;
mod probe;
pub use probe::{REQUIRE_ENV, require_or_skip, root_available};
mod process;
pub use process::Process;
mod tool;
mod topology;
pub use topology::{MAX_HOSTS, Topology};
