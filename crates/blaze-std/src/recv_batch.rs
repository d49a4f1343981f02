//! Receiving a batch of datagrams per system call.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};

use crate::{IoMode, MAX_BATCH};

/// A datagram in a [`RecvBatch`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received<'a> {
    /// The sender's address.
    pub from: SocketAddr,
    /// The datagram, or its first `max_datagram_size` bytes if it was
    /// truncated.
    pub data: &'a [u8],
    /// The datagram was longer than the batch's maximum datagram size and
    /// was cut; it should be counted and dropped.
    pub truncated: bool,
}

/// Storage for receiving up to a batch of datagrams per system call,
/// allocated once.
///
/// ```
/// use std::net::UdpSocket;
/// use blaze_std::{IoMode, RecvBatch};
///
/// let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
/// rx.set_nonblocking(true).unwrap();
/// let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
/// tx.send_to(b"one", rx.local_addr().unwrap()).unwrap();
/// tx.send_to(b"two", rx.local_addr().unwrap()).unwrap();
///
/// let mut batch = RecvBatch::new(8, 1500);
/// let mut got = Vec::new();
/// while got.len() < 2 {
///     if batch.recv(&rx, IoMode::Batched).is_ok() {
///         got.extend(batch.iter().map(|d| d.data.to_vec()));
///     }
/// }
/// assert_eq!(got, [b"one".to_vec(), b"two".to_vec()]);
/// ```
#[derive(Debug)]
pub struct RecvBatch {
    /// `lens.len()` slots of `slot_len` bytes each.
    buf: Box<[u8]>,
    /// One more than the largest message received, so that a longer one
    /// shows as truncated even where the system does not say so: the
    /// largest datagram, or with GRO the largest coalesced message.
    slot_len: usize,
    /// The largest datagram accepted; longer ones are cut and flagged.
    max_datagram: usize,
    lens: Box<[usize]>,
    from: Box<[SocketAddr]>,
    truncated: Box<[bool]>,
    /// Per slot, the size of the datagrams the kernel coalesced into it
    /// (UDP_GRO), or 0 for a single datagram.
    segments: Box<[usize]>,
    /// Slots filled by the last `recv`.
    count: usize,
    /// Ask the kernel for UDP_GRO's segment size with every message.
    gro: bool,
    #[cfg(any(target_os = "linux", target_os = "android"))]
    names: Box<[socket2::SockAddrStorage]>,
    #[cfg(any(target_os = "linux", target_os = "android"))]
    controls: Box<[crate::mmsg::Control]>,
}

/// The largest message a socket with UDP_GRO hands over: the largest UDP
/// payload of one coalesced message.
const GRO_MAX_MESSAGE: usize = 65_535;

impl RecvBatch {
    /// Room for `batch` datagrams (clamped to `1..=MAX_BATCH`) of up to
    /// `max_datagram_size` bytes each.
    pub fn new(batch: usize, max_datagram_size: usize) -> Self {
        Self::with_slots(batch, max_datagram_size, max_datagram_size, false)
    }

    /// As [`new`](RecvBatch::new), for sockets with UDP generic receive
    /// offload ([`Sockets::enable_gro`](crate::Sockets::enable_gro)): each
    /// slot holds a whole coalesced message (64 KiB), and
    /// [`iter`](RecvBatch::iter) splits it into its datagrams by the
    /// segment size the kernel reports with it. Messages without one are
    /// single datagrams, so the batch also serves a socket without GRO.
    /// Batched modes only: a plain `recv_from` does not learn the segment
    /// size.
    pub fn with_gro(batch: usize, max_datagram_size: usize) -> Self {
        let gro = cfg!(any(target_os = "linux", target_os = "android"));
        let message = if gro {
            GRO_MAX_MESSAGE.max(max_datagram_size)
        } else {
            max_datagram_size
        };
        Self::with_slots(batch, max_datagram_size, message, gro)
    }

    fn with_slots(batch: usize, max_datagram: usize, max_message: usize, gro: bool) -> Self {
        let batch = batch.clamp(1, MAX_BATCH);
        let slot_len = max_message.saturating_add(1);
        let unspecified = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0));
        RecvBatch {
            buf: vec![0; batch.saturating_mul(slot_len)].into_boxed_slice(),
            slot_len,
            max_datagram,
            lens: vec![0; batch].into_boxed_slice(),
            from: vec![unspecified; batch].into_boxed_slice(),
            truncated: vec![false; batch].into_boxed_slice(),
            segments: vec![0; batch].into_boxed_slice(),
            count: 0,
            gro,
            #[cfg(any(target_os = "linux", target_os = "android"))]
            names: (0..batch)
                .map(|_| socket2::SockAddrStorage::zeroed())
                .collect(),
            #[cfg(any(target_os = "linux", target_os = "android"))]
            controls: vec![crate::mmsg::empty_control(); batch].into_boxed_slice(),
        }
    }

    /// How many messages one call can receive (each a datagram, or with
    /// GRO several coalesced).
    pub fn capacity(&self) -> usize {
        self.lens.len()
    }

    /// Receives the datagrams waiting on `socket`, up to the capacity,
    /// without blocking, replacing the previous batch.
    ///
    /// Returns how many messages were received (datagrams, or with GRO
    /// coalesced runs of datagrams), or an error of kind
    /// [`WouldBlock`](io::ErrorKind::WouldBlock) when none was waiting (so
    /// that tokio's `try_io` clears the socket's readiness). On any error
    /// the batch is empty.
    pub fn recv(&mut self, socket: &UdpSocket, mode: IoMode) -> io::Result<usize> {
        self.count = 0;
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if mode.is_batched() {
            return self.recv_mmsg(socket);
        }
        let _ = mode;
        self.recv_plain(socket)
    }

    /// The datagrams of the last [`recv`](RecvBatch::recv), in arrival
    /// order (a coalesced message split into its datagrams).
    pub fn iter(&self) -> impl Iterator<Item = Received<'_>> + '_ {
        let max = self.max_datagram;
        let slot_max = self.slot_len - 1;
        self.buf
            .chunks_exact(self.slot_len)
            .zip(self.lens.iter().zip(self.from.iter()))
            .zip(self.truncated.iter().zip(self.segments.iter()))
            .take(self.count)
            .flat_map(move |((slot, (len, from)), (truncated, segment))| {
                let data = slot.get(..(*len).min(slot_max)).unwrap_or_default();
                // A truncated message is handed over as one (flagged).
                let step = match *segment {
                    0 => data.len(),
                    _ if *truncated => data.len(),
                    s => s,
                };
                Segments {
                    rest: Some(data),
                    step: step.max(1),
                    from: *from,
                    truncated: *truncated,
                    max,
                }
            })
    }

    /// One `recv_from` per datagram until the socket is drained or the
    /// batch is full.
    fn recv_plain(&mut self, socket: &UdpSocket) -> io::Result<usize> {
        let max = self.slot_len - 1;
        self.segments.fill(0);
        let slots = self.buf.chunks_exact_mut(self.slot_len);
        let meta = self
            .lens
            .iter_mut()
            .zip(self.from.iter_mut().zip(self.truncated.iter_mut()));
        for (slot, (len, (from, truncated))) in slots.zip(meta) {
            let received = loop {
                match socket.recv_from(slot) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    other => break other,
                }
            };
            match received {
                Ok((n, addr)) => {
                    *len = n;
                    *from = addr;
                    *truncated = n > max;
                    self.count += 1;
                }
                // Nothing (more) waiting, or an error to report once the
                // datagrams already received are handed over.
                Err(e) if self.count == 0 => return Err(e),
                Err(_) => break,
            }
        }
        if self.count == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(self.count)
    }

    /// One `recvmmsg` for the whole batch.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn recv_mmsg(&mut self, socket: &UdpSocket) -> io::Result<usize> {
        use std::os::fd::AsRawFd;

        let n = self.capacity();
        let max = self.slot_len - 1;
        let empty_iov = libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        };
        let mut iovs = [empty_iov; MAX_BATCH];
        let mut hdrs = crate::mmsg::zeroed_headers();
        let slots = self.buf.chunks_exact_mut(self.slot_len);
        for (((slot, name), control), (iov, hdr)) in slots
            .zip(self.names.iter_mut())
            .zip(self.controls.iter_mut())
            .zip(iovs.iter_mut().zip(hdrs.iter_mut()))
        {
            *name = socket2::SockAddrStorage::zeroed();
            iov.iov_base = slot.as_mut_ptr().cast();
            iov.iov_len = slot.len();
            hdr.msg_hdr.msg_name = std::ptr::from_mut(name).cast();
            hdr.msg_hdr.msg_namelen = name.size_of();
            hdr.msg_hdr.msg_iov = iov;
            hdr.msg_hdr.msg_iovlen = 1;
            if self.gro {
                crate::mmsg::set_gro_control(&mut hdr.msg_hdr, control);
            }
        }
        let vlen = libc::c_uint::try_from(n).unwrap_or(1);
        let got = loop {
            // SAFETY: the first `n` headers (n <= MAX_BATCH, the arrays'
            // length) were filled above: each points at one iovec that spans
            // a distinct slot of `self.buf` (`slot_len` bytes, in bounds by
            // `chunks_exact_mut`) and at a distinct, zeroed
            // `SockAddrStorage` whose size is in `msg_namelen`, and with GRO
            // at a distinct, zeroed control buffer of `msg_controllen`
            // bytes (else none). The kernel writes at most those lengths. All
            // these buffers are borrowed mutably for this whole function and
            // outlive the call; `iovs` and `hdrs` are not moved meanwhile.
            // The fd is open, borrowed from `socket`. MSG_DONTWAIT makes the
            // call non-blocking and a null timeout waits for nothing.
            #[allow(unsafe_code, reason = "recvmmsg has no safe wrapper in std or socket2")]
            let r = unsafe {
                libc::recvmmsg(
                    socket.as_raw_fd(),
                    hdrs.as_mut_ptr(),
                    vlen,
                    libc::MSG_DONTWAIT,
                    std::ptr::null_mut(),
                )
            };
            match usize::try_from(r) {
                Ok(got) => break got.min(n),
                Err(_) => {
                    let e = io::Error::last_os_error();
                    if e.kind() != io::ErrorKind::Interrupted {
                        return Err(e);
                    }
                }
            }
        };
        let meta = self
            .lens
            .iter_mut()
            .zip(self.from.iter_mut().zip(self.truncated.iter_mut()))
            .zip(self.segments.iter_mut());
        for ((hdr, name), ((len, (from, truncated)), segment)) in
            hdrs.iter().zip(self.names.iter_mut()).zip(meta).take(got)
        {
            *segment = if self.gro {
                crate::mmsg::gro_segment_size(&hdr.msg_hdr).unwrap_or(0)
            } else {
                0
            };
            let storage = std::mem::replace(name, socket2::SockAddrStorage::zeroed());
            // SAFETY: `storage` is fully initialised (zeroed, then written by
            // the kernel), and `msg_namelen` is the length the kernel wrote,
            // which is at most the storage's size.
            #[allow(
                unsafe_code,
                reason = "a SockAddr is made from raw storage only unsafely"
            )]
            let addr = unsafe { socket2::SockAddr::new(storage, hdr.msg_hdr.msg_namelen) };
            *from = addr.as_socket().unwrap_or(*from);
            *len = usize::try_from(hdr.msg_len).unwrap_or(usize::MAX);
            *truncated = hdr.msg_hdr.msg_flags & libc::MSG_TRUNC != 0 || *len > max;
        }
        self.count = got;
        if got == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(got)
    }
}

/// The datagrams of one received message: `step`-byte pieces of `rest`
/// (one piece for a single datagram, an empty one included), each cut to
/// `max` bytes and flagged when longer.
struct Segments<'a> {
    rest: Option<&'a [u8]>,
    step: usize,
    from: SocketAddr,
    truncated: bool,
    max: usize,
}

impl<'a> Iterator for Segments<'a> {
    type Item = Received<'a>;

    fn next(&mut self) -> Option<Received<'a>> {
        let rest = self.rest.take()?;
        let (piece, after) = rest.split_at(self.step.min(rest.len()));
        if !after.is_empty() {
            self.rest = Some(after);
        }
        Some(Received {
            from: self.from,
            data: piece.get(..self.max).unwrap_or(piece),
            truncated: self.truncated || piece.len() > self.max,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (UdpSocket, UdpSocket) {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_nonblocking(true).unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        (rx, tx)
    }

    /// Receives until `n` datagrams arrived (bounded by 10 000 tries).
    fn collect(
        rx: &UdpSocket,
        batch: &mut RecvBatch,
        mode: IoMode,
        n: usize,
    ) -> Vec<(Vec<u8>, bool, SocketAddr)> {
        let mut got = Vec::new();
        for _ in 0..10_000 {
            if got.len() >= n {
                break;
            }
            match batch.recv(rx, mode) {
                Ok(k) => {
                    assert!(k <= batch.capacity());
                    got.extend(batch.iter().map(|d| (d.data.to_vec(), d.truncated, d.from)));
                }
                Err(e) => {
                    assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
                    assert_eq!(batch.iter().count(), 0);
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
            }
        }
        got
    }

    #[test]
    fn batches_and_truncation_in_both_modes() {
        for mode in [IoMode::Batched, IoMode::Plain] {
            let (rx, tx) = pair();
            let to = rx.local_addr().unwrap();
            for i in 0..10u8 {
                let len = if i == 3 { 40 } else { usize::from(i) + 1 };
                tx.send_to(&vec![i; len], to).unwrap();
            }
            let mut batch = RecvBatch::new(4, 32);
            let got = collect(&rx, &mut batch, mode, 10);
            assert_eq!(got.len(), 10, "{mode:?}");
            for (i, (data, truncated, from)) in got.iter().enumerate() {
                assert_eq!(*from, tx.local_addr().unwrap());
                if i == 3 {
                    assert!(*truncated, "{mode:?}");
                    assert_eq!(data.len(), 32);
                } else {
                    assert!(!*truncated);
                    assert_eq!(data, &vec![i as u8; i + 1]);
                }
            }
        }
    }

    #[test]
    fn a_coalesced_message_splits_into_its_datagrams() {
        let from: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let data: Vec<u8> = (0..250u8).collect();
        let pieces = |step, max, truncated| {
            Segments {
                rest: Some(&data[..]),
                step,
                from,
                truncated,
                max,
            }
            .map(|r| (r.data.len(), r.data[0], r.truncated))
            .collect::<Vec<_>>()
        };
        assert_eq!(
            pieces(100, 100, false),
            [(100, 0, false), (100, 100, false), (50, 200, false)]
        );
        // A single datagram over the limit is cut and flagged.
        assert_eq!(pieces(250, 100, false), [(100, 0, true)]);
        assert_eq!(pieces(250, 300, true), [(250, 0, true)]);
        // An empty datagram is still one.
        let empty = Segments {
            rest: Some(&[]),
            step: 1,
            from,
            truncated: false,
            max: 10,
        };
        assert_eq!(empty.map(|r| r.data.len()).collect::<Vec<_>>(), [0]);
    }

    /// A segmented burst to a socket with UDP_GRO comes out as the
    /// datagrams sent, whether or not the kernel coalesced them.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[test]
    fn segmented_sends_come_out_whole_with_gro() {
        use crate::SendBatch;
        use blaze_wire::{Destination, Transmit};

        let (rx, tx) = pair();
        crate::socket::set_gro(&rx).unwrap();
        let to = Destination::Peer(rx.local_addr().unwrap());
        let mut send = SendBatch::new(MAX_BATCH, 1200);
        let lens: Vec<usize> = (0..12).map(|i| if i == 11 { 300 } else { 1200 }).collect();
        for (i, len) in lens.iter().enumerate() {
            let buf = send.next_buf().unwrap();
            buf[..*len].fill(i as u8);
            send.push(Transmit { to, len: *len }).unwrap();
        }
        let flushed = send.send(&tx, &[], IoMode::BatchedGso);
        assert_eq!(flushed.sent, lens.len(), "{flushed:?}");
        let mut batch = RecvBatch::with_gro(4, 1200);
        let got = collect(&rx, &mut batch, IoMode::Batched, lens.len());
        assert_eq!(got.len(), lens.len());
        for (i, (data, truncated, from)) in got.iter().enumerate() {
            assert_eq!(*from, tx.local_addr().unwrap());
            assert!(!*truncated);
            assert_eq!(data, &vec![i as u8; lens[i]]);
        }
    }

    #[test]
    fn empty_socket_would_block() {
        let (rx, _tx) = pair();
        let mut batch = RecvBatch::new(0, 100);
        assert_eq!(batch.capacity(), 1);
        for mode in [IoMode::Batched, IoMode::Plain] {
            let e = batch.recv(&rx, mode).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
        }
    }
}
