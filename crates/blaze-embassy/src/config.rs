//! Where a node listens and sends.

use core::net::{Ipv4Addr, SocketAddrV4};

/// The sockets of an embassy-run node: the group's IPv4 multicast address
/// and port, and the port of the node's unicast socket.
///
/// All datagrams leave from the unicast socket, so receivers see the
/// sender's unicast address (its interface address and `unicast_port`) as
/// the source, as with `blaze-std`: members on embassy and on `std` talk
/// to each other.
///
/// ```
/// use core::net::{Ipv4Addr, SocketAddrV4};
/// let config = blaze_embassy::Config::new(SocketAddrV4::new(Ipv4Addr::new(239, 255, 0, 1), 7600));
/// assert_eq!(config.unicast_port, 7601);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct Config {
    /// The group's multicast address (in `239.255.0.0/16` for a site-local
    /// group) and port.
    pub group: SocketAddrV4,
    /// Port of the unicast socket. Default: the group's port plus one.
    pub unicast_port: u16,
}

impl Config {
    /// The group `group`, with the unicast socket on the next port.
    pub const fn new(group: SocketAddrV4) -> Self {
        Config {
            group,
            unicast_port: group.port().wrapping_add(1),
        }
    }
}

impl Default for Config {
    /// Group `239.255.0.1:7600`, unicast port 7601.
    fn default() -> Self {
        Config::new(SocketAddrV4::new(Ipv4Addr::new(239, 255, 0, 1), 7600))
    }
}
