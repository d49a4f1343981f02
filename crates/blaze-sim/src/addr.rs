//! Virtual node addresses.

use core::net::{IpAddr, Ipv4Addr, SocketAddr};

/// The UDP port every virtual node uses.
pub const NODE_PORT: u16 = 7400;

/// The most nodes one [`World`](crate::World) can hold (`127.0.0.1` to
/// `127.0.0.254`).
pub const MAX_NODES: usize = 254;

/// The virtual address of node `index`: `127.0.0.{index + 1}:7400`.
///
/// Nothing ever touches a real socket; the address only names the node to
/// the machines. Indexes past [`MAX_NODES`] wrap into the last octet and are
/// refused by [`World::new`](crate::World::new).
///
/// ```
/// use blaze_sim::{node_addr, node_index};
/// assert_eq!(node_addr(0).to_string(), "127.0.0.1:7400");
/// assert_eq!(node_index(node_addr(7)), Some(7));
/// ```
pub fn node_addr(index: usize) -> SocketAddr {
    let octet = u8::try_from(index.wrapping_add(1) & 0xff).unwrap_or(0);
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, octet)), NODE_PORT)
}

/// The index of the node at `addr`, or `None` if `addr` is not a node
/// address (the world still checks that the index exists).
pub fn node_index(addr: SocketAddr) -> Option<usize> {
    match addr {
        SocketAddr::V4(v4) if v4.port() == NODE_PORT => {
            let [a, b, c, d] = v4.ip().octets();
            if (a, b, c) == (127, 0, 0) && d >= 1 && d != 255 {
                Some(usize::from(d) - 1)
            } else {
                None
            }
        }
        _ => None,
    }
}
