//! The UDP sockets of one node: a unicast socket, and a socket joined to the
//! group's IPv4 multicast address (or, without multicast, a list of peers to
//! which group datagrams are fanned out by unicast).

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

/// Default size requested for `SO_RCVBUF` and `SO_SNDBUF`: 4 MiB. The
/// kernel may clamp it (Linux: `net.core.rmem_max` / `wmem_max`);
/// [`Sockets::buffer_sizes`] reports what was granted.
pub const DEFAULT_BUFFER_SIZE: usize = 4 << 20;

/// How a node's sockets are made.
///
/// Two modes:
/// - **multicast** ([`SocketConfig::multicast`]): a socket bound to the
///   group's port joins the group on [`interface`](SocketConfig::interface),
///   and a datagram for the group is sent once, to the group address;
/// - **unicast only** ([`SocketConfig::unicast`]): for networks without
///   multicast, a datagram for the group is sent to each of
///   [`peers`](SocketConfig::peers) in turn.
///
/// In both modes every datagram is sent from the node's unicast socket, so
/// the source address a receiver sees is the sender's unicast address, to
/// which it can answer with a `Destination::Peer`.
///
/// ```
/// use std::net::{Ipv4Addr, SocketAddrV4};
/// use blaze_std::SocketConfig;
///
/// let mut config = SocketConfig::multicast(SocketAddrV4::new(Ipv4Addr::new(239, 255, 0, 1), 7600));
/// assert_eq!(config.interface, Ipv4Addr::LOCALHOST);
/// config.interface = Ipv4Addr::UNSPECIFIED; // the system's default route
/// config.ttl = 4;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SocketConfig {
    /// The group's IPv4 multicast address and port, or `None` for unicast
    /// only.
    pub group: Option<SocketAddrV4>,
    /// The local interface, by address: multicast goes out through it
    /// (`IP_MULTICAST_IF`), the group is joined on it, and the unicast
    /// socket is bound to it. Default `127.0.0.1`;
    /// [`Ipv4Addr::UNSPECIFIED`] lets the system choose.
    pub interface: Ipv4Addr,
    /// Port of the unicast socket; 0 (the default) picks an ephemeral port.
    pub unicast_port: u16,
    /// `IP_MULTICAST_TTL`: how many routers multicast may cross. Default 1
    /// (the local network only).
    pub ttl: u32,
    /// `IP_MULTICAST_LOOP`: whether other sockets on this host receive the
    /// node's multicast. Default `true`, so several nodes can share a host.
    pub multicast_loop: bool,
    /// Requested `SO_RCVBUF`, in bytes.
    pub recv_buffer_size: usize,
    /// Requested `SO_SNDBUF`, in bytes.
    pub send_buffer_size: usize,
    /// Unicast-only mode: where a datagram for the group goes. The node's
    /// own address is skipped, so every node may be given the same list.
    /// Ignored in multicast mode.
    pub peers: Vec<SocketAddr>,
}

impl SocketConfig {
    /// Multicast mode on `group` (an address in `224.0.0.0/4`; pick one in
    /// `239.255.0.0/16` for a site-local group), on the loopback interface.
    pub fn multicast(group: SocketAddrV4) -> Self {
        SocketConfig {
            group: Some(group),
            ..SocketConfig::unicast(Vec::new())
        }
    }

    /// Unicast-only mode: datagrams for the group are sent to each of
    /// `peers`.
    pub fn unicast(peers: Vec<SocketAddr>) -> Self {
        SocketConfig {
            group: None,
            interface: Ipv4Addr::LOCALHOST,
            unicast_port: 0,
            ttl: 1,
            multicast_loop: true,
            recv_buffer_size: DEFAULT_BUFFER_SIZE,
            send_buffer_size: DEFAULT_BUFFER_SIZE,
            peers,
        }
    }
}

/// Why [`Sockets::bind`] failed. No socket stays open after an error.
#[derive(Debug)]
#[non_exhaustive]
pub enum SocketError {
    /// The group address is not an IPv4 multicast address.
    NotMulticast {
        /// The address given as the group.
        group: Ipv4Addr,
    },
    /// The unicast socket could not be bound (port in use, or the
    /// interface address is not local).
    BindUnicast {
        /// The address it was bound to.
        addr: SocketAddrV4,
        /// The system's error.
        source: io::Error,
    },
    /// The group socket could not be bound to the group's port.
    BindGroup {
        /// The group.
        group: SocketAddrV4,
        /// The system's error.
        source: io::Error,
    },
    /// Joining the group, or selecting the interface for outgoing
    /// multicast, failed: multicast is unavailable on that interface.
    Multicast {
        /// The group.
        group: Ipv4Addr,
        /// The interface address.
        interface: Ipv4Addr,
        /// The system's error.
        source: io::Error,
    },
    /// Setting another socket option failed.
    SetOption {
        /// The option, as the system names it (`SO_RCVBUF`, …).
        option: &'static str,
        /// The system's error.
        source: io::Error,
    },
}

impl fmt::Display for SocketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SocketError::NotMulticast { group } => write!(
                f,
                "{group} is not an IPv4 multicast address (use one in 239.255.0.0/16)"
            ),
            SocketError::BindUnicast { addr, source } => write!(
                f,
                "cannot bind the unicast socket to {addr}: {source}; \
                 is {} an address of this host? choose the interface with --interface",
                addr.ip()
            ),
            SocketError::BindGroup { group, source } => {
                write!(f, "cannot bind to the port of group {group}: {source}")
            }
            SocketError::Multicast {
                group,
                interface,
                source,
            } => write!(
                f,
                "multicast group {group} is unavailable on interface {interface}: {source}; \
                 choose another interface with --interface, or run unicast-only with seed peers"
            ),
            SocketError::SetOption { option, source } => {
                write!(f, "cannot set {option}: {source}")
            }
        }
    }
}

impl std::error::Error for SocketError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SocketError::NotMulticast { .. } => None,
            SocketError::BindUnicast { source, .. }
            | SocketError::BindGroup { source, .. }
            | SocketError::Multicast { source, .. }
            | SocketError::SetOption { source, .. } => Some(source),
        }
    }
}

/// The open sockets of one node, non-blocking, made from a
/// [`SocketConfig`].
///
/// ```
/// use std::net::{Ipv4Addr, SocketAddrV4};
/// use blaze_std::{SocketConfig, Sockets};
///
/// let group = SocketAddrV4::new(Ipv4Addr::new(239, 255, 41, 7), 47_317);
/// let sockets = Sockets::bind(&SocketConfig::multicast(group)).unwrap();
/// assert!(sockets.multicast().is_some());
/// assert_eq!(sockets.group_targets(), &[group.into()]);
/// assert!(sockets.local_addr().ip().is_loopback());
/// ```
#[derive(Debug)]
pub struct Sockets {
    unicast: UdpSocket,
    multicast: Option<UdpSocket>,
    local_addr: SocketAddr,
    group: Option<SocketAddrV4>,
    /// Where a datagram for the group goes: the group address, or the
    /// peers less this node.
    targets: Vec<SocketAddr>,
    buffer_sizes: (usize, usize),
}

impl Sockets {
    /// Opens the unicast socket and, in multicast mode, the group socket.
    pub fn bind(config: &SocketConfig) -> Result<Self, SocketError> {
        if let Some(group) = config.group
            && !group.ip().is_multicast()
        {
            return Err(SocketError::NotMulticast { group: *group.ip() });
        }
        let unicast_addr = SocketAddrV4::new(config.interface, config.unicast_port);
        let unicast = new_udp(config)?;
        unicast
            .bind(&SockAddr::from(unicast_addr))
            .map_err(|source| SocketError::BindUnicast {
                addr: unicast_addr,
                source,
            })?;
        let buffer_sizes = (
            unicast.recv_buffer_size().unwrap_or(0),
            unicast.send_buffer_size().unwrap_or(0),
        );
        let multicast = match config.group {
            Some(group) => {
                let multicast_error = |source| SocketError::Multicast {
                    group: *group.ip(),
                    interface: config.interface,
                    source,
                };
                // Outgoing multicast leaves through the unicast socket.
                unicast
                    .set_multicast_if_v4(&config.interface)
                    .map_err(multicast_error)?;
                unicast
                    .set_multicast_loop_v4(config.multicast_loop)
                    .map_err(option("IP_MULTICAST_LOOP"))?;
                unicast
                    .set_multicast_ttl_v4(config.ttl)
                    .map_err(option("IP_MULTICAST_TTL"))?;
                Some(group_socket(config, group)?)
            }
            None => None,
        };
        let unicast: UdpSocket = unicast.into();
        let local_addr = unicast
            .local_addr()
            .map_err(|source| SocketError::BindUnicast {
                addr: unicast_addr,
                source,
            })?;
        let mut sockets = Sockets {
            unicast,
            multicast: multicast.map(UdpSocket::from),
            local_addr,
            group: config.group,
            targets: Vec::new(),
            buffer_sizes,
        };
        match config.group {
            Some(group) => sockets.targets.push(group.into()),
            None => sockets.set_peers(&config.peers),
        }
        Ok(sockets)
    }

    /// Has the system drop, on the group socket, the datagrams this node
    /// sent itself (looped back by `IP_MULTICAST_LOOP` for the other
    /// members on this host), so that they cost neither a copy to user
    /// space nor a share of a receive call. A classic BPF socket filter
    /// compares the IPv4 source address and UDP source port with the
    /// unicast socket's. Returns `false` where that is not possible (not
    /// Linux, unicast-only mode, or a unicast socket bound to the
    /// unspecified address, whose source is not known in advance).
    ///
    /// # Errors
    ///
    /// The system refused the filter; nothing changed.
    pub fn filter_own(&self) -> io::Result<bool> {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if let (Some(group), SocketAddr::V4(own)) = (&self.multicast, self.local_addr)
            && !own.ip().is_unspecified()
        {
            socket2::SockRef::from(group).attach_filter(&own_filter(*own.ip(), own.port()))?;
            return Ok(true);
        }
        Ok(false)
    }

    /// Turns on UDP generic receive offload (`UDP_GRO`) on both sockets:
    /// the kernel may hand over a run of datagrams from one sender as one
    /// message (on loopback, a segmented send arrives whole), to be split
    /// by the segment size it reports ([`RecvBatch::with_gro`](crate::RecvBatch::with_gro)).
    /// Returns `false` where that is not possible (not Linux).
    ///
    /// # Errors
    ///
    /// The system refused the option (a kernel before 5.0) on the first
    /// socket; the second is not tried.
    pub fn enable_gro(&self) -> io::Result<bool> {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            set_gro(&self.unicast)?;
            if let Some(group) = &self.multicast {
                set_gro(group)?;
            }
            Ok(true)
        }
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        Ok(false)
    }

    /// The address of the unicast socket: the source address of every
    /// datagram this node sends.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The multicast group, or `None` in unicast-only mode.
    pub fn group(&self) -> Option<SocketAddrV4> {
        self.group
    }

    /// Where a datagram for the group is sent: the group address in
    /// multicast mode, the peers (less this node) in unicast-only mode.
    pub fn group_targets(&self) -> &[SocketAddr] {
        &self.targets
    }

    /// Unicast-only mode: replaces the peers that datagrams for the group
    /// are sent to, skipping this node's own address and duplicates. Does
    /// nothing in multicast mode.
    pub fn set_peers(&mut self, peers: &[SocketAddr]) {
        if self.group.is_some() {
            return;
        }
        self.targets.clear();
        for peer in peers {
            if *peer != self.local_addr && !self.targets.contains(peer) {
                self.targets.push(*peer);
            }
        }
    }

    /// The unicast socket (non-blocking).
    pub fn unicast(&self) -> &UdpSocket {
        &self.unicast
    }

    /// The group socket (non-blocking), in multicast mode.
    pub fn multicast(&self) -> Option<&UdpSocket> {
        self.multicast.as_ref()
    }

    /// `SO_RCVBUF` and `SO_SNDBUF` of the unicast socket as granted by the
    /// kernel (Linux reports twice the usable size).
    pub fn buffer_sizes(&self) -> (usize, usize) {
        self.buffer_sizes
    }

    /// The unicast socket, the group socket and the group targets.
    pub fn into_parts(self) -> (UdpSocket, Option<UdpSocket>, Vec<SocketAddr>) {
        (self.unicast, self.multicast, self.targets)
    }
}

/// A non-blocking IPv4 UDP socket with the configured buffer sizes.
fn new_udp(config: &SocketConfig) -> Result<Socket, SocketError> {
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))
        .map_err(option("socket(AF_INET, SOCK_DGRAM)"))?;
    socket.set_nonblocking(true).map_err(option("O_NONBLOCK"))?;
    // Kernels clamp large requests rather than fail; a failure here means
    // the option is unsupported, and the default size still works.
    if let Err(e) = socket.set_recv_buffer_size(config.recv_buffer_size) {
        log::warn!("SO_RCVBUF {}: {e}", config.recv_buffer_size);
    }
    if let Err(e) = socket.set_send_buffer_size(config.send_buffer_size) {
        log::warn!("SO_SNDBUF {}: {e}", config.send_buffer_size);
    }
    Ok(socket)
}

/// The socket that receives the group's datagrams: bound to the group's
/// port with address reuse, so every node on the host can bind it, and
/// joined to the group on the configured interface.
fn group_socket(config: &SocketConfig, group: SocketAddrV4) -> Result<Socket, SocketError> {
    let socket = new_udp(config)?;
    socket
        .set_reuse_address(true)
        .map_err(option("SO_REUSEADDR"))?;
    #[cfg(all(
        unix,
        not(any(target_os = "solaris", target_os = "illumos", target_os = "cygwin"))
    ))]
    socket
        .set_reuse_port(true)
        .map_err(option("SO_REUSEPORT"))?;
    // Receive only the groups joined on this socket, not every group any
    // socket of the host joined on this port.
    #[cfg(target_os = "linux")]
    socket
        .set_multicast_all_v4(false)
        .map_err(option("IP_MULTICAST_ALL"))?;
    // Binding to the group address filters out other groups' traffic on the
    // same port where the system allows it; Windows needs the wildcard.
    let bind_ip = if cfg!(windows) {
        Ipv4Addr::UNSPECIFIED
    } else {
        *group.ip()
    };
    socket
        .bind(&SockAddr::from(SocketAddrV4::new(bind_ip, group.port())))
        .map_err(|source| SocketError::BindGroup { group, source })?;
    socket
        .join_multicast_v4(group.ip(), &config.interface)
        .map_err(|source| SocketError::Multicast {
            group: *group.ip(),
            interface: config.interface,
            source,
        })?;
    Ok(socket)
}

/// The socket filter of [`Sockets::filter_own`]: drop a datagram whose IPv4
/// source is `ip` and whose UDP source port is `port` (read after a
/// 20-byte IP header: the node's own datagrams carry no IP options), keep
/// every other.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn own_filter(ip: Ipv4Addr, port: u16) -> [socket2::SockFilter; 6] {
    use socket2::SockFilter;
    // Classic BPF, from <linux/filter.h>: loads relative to the network
    // header (SKF_NET_OFF), compares, returns how many bytes to keep.
    const LD_W_ABS: u16 = 0x20;
    const LD_H_ABS: u16 = 0x28;
    const JEQ_K: u16 = 0x15;
    const RET_K: u16 = 0x06;
    const NET: u32 = (-0x10_0000i32) as u32;
    [
        SockFilter::new(LD_W_ABS, 0, 0, NET + 12),
        // Same source address: look at the port; else keep.
        SockFilter::new(JEQ_K, 0, 2, u32::from(ip)),
        SockFilter::new(LD_H_ABS, 0, 0, NET + 20),
        // Same source port: drop; else keep.
        SockFilter::new(JEQ_K, 1, 0, u32::from(port)),
        SockFilter::new(RET_K, 0, 0, u32::MAX),
        SockFilter::new(RET_K, 0, 0, 0),
    ]
}

/// Maps a failed `setsockopt` to [`SocketError::SetOption`].
fn option(option: &'static str) -> impl Fn(io::Error) -> SocketError {
    move |source| SocketError::SetOption { option, source }
}

/// Sets `UDP_GRO` on `socket`.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn set_gro(socket: &UdpSocket) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let on: libc::c_int = 1;
    #[allow(unsafe_code, reason = "setsockopt has no safe wrapper for UDP_GRO")]
    // SAFETY: the fd is open (borrowed from `socket`), and the option
    // value points at a live `c_int` whose size is passed with it.
    let r = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_UDP,
            crate::mmsg::UDP_GRO,
            std::ptr::from_ref(&on).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_a_unicast_group() {
        let config = SocketConfig::multicast(SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 9));
        let err = Sockets::bind(&config).unwrap_err();
        assert!(matches!(err, SocketError::NotMulticast { .. }));
        assert!(err.to_string().contains("239.255.0.0/16"));
    }

    #[test]
    fn a_foreign_interface_suggests_another() {
        // 192.0.2.254 (TEST-NET-1) is not an address of this host.
        let mut config =
            SocketConfig::multicast(SocketAddrV4::new(Ipv4Addr::new(239, 255, 93, 4), 47_611));
        config.interface = Ipv4Addr::new(192, 0, 2, 254);
        let err = Sockets::bind(&config).unwrap_err();
        assert!(matches!(err, SocketError::BindUnicast { .. }), "{err:?}");
        assert!(err.to_string().contains("--interface"), "{err}");
    }

    #[test]
    fn multicast_error_text_suggests_alternatives() {
        let err = SocketError::Multicast {
            group: Ipv4Addr::new(239, 255, 0, 1),
            interface: Ipv4Addr::LOCALHOST,
            source: io::Error::from(io::ErrorKind::AddrNotAvailable),
        };
        let text = err.to_string();
        assert!(
            text.contains("--interface") && text.contains("unicast-only"),
            "{text}"
        );
        assert!(std::error::Error::source(&err).is_some());
    }

    #[test]
    fn unicast_mode_skips_itself_and_duplicates() {
        let mut sockets = Sockets::bind(&SocketConfig::unicast(Vec::new())).unwrap();
        assert!(sockets.multicast().is_none());
        assert!(sockets.group_targets().is_empty());
        let me = sockets.local_addr();
        let other: SocketAddr = "127.0.0.1:9".parse().unwrap();
        sockets.set_peers(&[me, other, other]);
        assert_eq!(sockets.group_targets(), &[other]);
    }

    #[test]
    fn unicast_peers_come_from_the_config() {
        let a: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let b: SocketAddr = "127.0.0.1:10".parse().unwrap();
        let mut sockets = Sockets::bind(&SocketConfig::unicast(vec![a, b, a])).unwrap();
        assert_eq!(sockets.group(), None);
        assert_eq!(sockets.group_targets(), &[a, b]);
        sockets.set_peers(&[]);
        assert!(sockets.group_targets().is_empty());
    }

    #[test]
    fn multicast_mode_ignores_peers() {
        let group = SocketAddrV4::new(Ipv4Addr::new(239, 255, 93, 5), 47_612);
        let mut config = SocketConfig::multicast(group);
        config.peers = vec!["127.0.0.1:9".parse().unwrap()];
        let mut sockets = Sockets::bind(&config).unwrap();
        assert_eq!(sockets.group(), Some(group));
        sockets.set_peers(&["127.0.0.1:10".parse().unwrap()]);
        assert_eq!(sockets.group_targets(), &[SocketAddr::V4(group)]);
    }

    #[test]
    fn buffers_are_enlarged() {
        let sockets = Sockets::bind(&SocketConfig::unicast(Vec::new())).unwrap();
        let (recv, send) = sockets.buffer_sizes();
        // Linux's default is 208 KiB; the request is 4 MiB (clamped to the
        // system maximum, which is at least the default).
        assert!(recv >= 200 * 1024 && send >= 200 * 1024, "{recv} {send}");
    }
}
