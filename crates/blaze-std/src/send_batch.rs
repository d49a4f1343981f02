//! Sending a batch of datagrams per system call.

use std::io;
use std::net::{SocketAddr, UdpSocket};

use blaze_wire::{Destination, Transmit};

#[cfg(any(target_os = "linux", target_os = "android"))]
use crate::mmsg;
use crate::{IoMode, MAX_BATCH};

/// What one [`SendBatch::send`] did. Counts are in messages: a datagram
/// for the group fanned out to three peers is three messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Flushed {
    /// Messages the kernel accepted.
    pub sent: usize,
    /// Messages dropped because the kernel refused them with an error
    /// other than "would block" (unreachable network, message too long, …).
    pub dropped: usize,
    /// System calls made.
    pub calls: usize,
    /// The socket's send buffer is full: the rest of the batch is kept and
    /// goes out on the next `send` once the socket is writable.
    pub blocked: bool,
    /// The kind of the last error that dropped a message.
    pub last_error: Option<io::ErrorKind>,
    /// The kernel refused UDP segmentation offload; this batch no longer
    /// asks for it.
    pub gso_refused: bool,
}

/// Datagrams waiting to be sent, written in place by `poll_transmit` into
/// one buffer allocated once, and sent by `sendmmsg` (or one `send_to`
/// each).
///
/// A datagram for [`Destination::Group`] is sent to each of the group
/// targets given to [`send`](SendBatch::send): the group address, or every
/// peer in unicast-only mode.
///
/// ```
/// use std::net::UdpSocket;
/// use blaze_std::{IoMode, SendBatch};
/// use blaze_wire::{Destination, Transmit};
///
/// let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
/// let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
/// let mut batch = SendBatch::new(16, 1200);
/// for i in 0..3u8 {
///     let buf = batch.next_buf().unwrap();
///     buf[0] = i;
///     batch.push(Transmit { to: Destination::Peer(rx.local_addr().unwrap()), len: 1 }).unwrap();
/// }
/// let flushed = batch.send(&tx, &[], IoMode::Batched);
/// assert_eq!(flushed.sent, 3);
/// assert!(batch.is_empty());
/// let mut buf = [0u8; 8];
/// assert_eq!(rx.recv(&mut buf).unwrap(), 1);
/// assert_eq!(buf[0], 0);
/// ```
#[derive(Debug)]
pub struct SendBatch {
    /// `capacity` slots of `slot_len` bytes each.
    buf: Box<[u8]>,
    slot_len: usize,
    lens: Box<[usize]>,
    to: Box<[Destination]>,
    /// Slots holding a datagram.
    filled: usize,
    /// The next message to send: slot, and pass (see `message`).
    slot: usize,
    pass: usize,
    #[cfg(any(target_os = "linux", target_os = "android"))]
    names: Vec<socket2::SockAddr>,
    /// Segmentation offload has not been refused (see [`IoMode::BatchedGso`]).
    #[cfg(any(target_os = "linux", target_os = "android"))]
    gso: bool,
}

impl SendBatch {
    /// Room for `batch` datagrams (clamped to `1..=MAX_BATCH`) of up to
    /// `max_datagram_size` bytes each.
    pub fn new(batch: usize, max_datagram_size: usize) -> Self {
        let batch = batch.clamp(1, MAX_BATCH);
        SendBatch {
            buf: vec![0; batch.saturating_mul(max_datagram_size)].into_boxed_slice(),
            slot_len: max_datagram_size,
            lens: vec![0; batch].into_boxed_slice(),
            to: vec![Destination::Group; batch].into_boxed_slice(),
            filled: 0,
            slot: 0,
            pass: 0,
            #[cfg(any(target_os = "linux", target_os = "android"))]
            names: Vec::with_capacity(MAX_BATCH),
            #[cfg(any(target_os = "linux", target_os = "android"))]
            gso: true,
        }
    }

    /// How many datagrams the batch holds.
    pub fn capacity(&self) -> usize {
        self.lens.len()
    }

    /// The largest datagram a slot holds.
    pub fn max_datagram_size(&self) -> usize {
        self.slot_len
    }

    /// Datagrams waiting (including any partly sent).
    pub fn len(&self) -> usize {
        self.filled
    }

    /// No datagram is waiting.
    pub fn is_empty(&self) -> bool {
        self.filled == 0
    }

    /// Every slot holds a datagram.
    pub fn is_full(&self) -> bool {
        self.filled == self.capacity()
    }

    /// The buffer to write the next datagram into (as `poll_transmit`'s
    /// `buf`), or `None` when the batch is full.
    pub fn next_buf(&mut self) -> Option<&mut [u8]> {
        let start = self.filled.checked_mul(self.slot_len)?;
        let end = start.checked_add(self.slot_len)?;
        self.buf.get_mut(start..end)
    }

    /// Commits the datagram just written into [`next_buf`](SendBatch::next_buf).
    ///
    /// Refuses (handing the transmit back, nothing changed) when the batch
    /// is full or `transmit.len` exceeds the slot size.
    pub fn push(&mut self, transmit: Transmit) -> Result<(), Transmit> {
        if transmit.len > self.slot_len {
            return Err(transmit);
        }
        let (Some(len), Some(to)) = (self.lens.get_mut(self.filled), self.to.get_mut(self.filled))
        else {
            return Err(transmit);
        };
        *len = transmit.len;
        *to = transmit.to;
        self.filled += 1;
        Ok(())
    }

    /// Sends the waiting datagrams from `socket`, without blocking; a
    /// datagram for the group goes to each of `group_targets`.
    ///
    /// Stops early only when the socket would block ([`Flushed::blocked`]);
    /// the batch then keeps what is left. A message refused with another
    /// error is dropped and counted. Once everything is sent, the batch is
    /// empty.
    pub fn send(
        &mut self,
        socket: &UdpSocket,
        group_targets: &[SocketAddr],
        mode: IoMode,
    ) -> Flushed {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if mode.is_batched() {
            let gso = mode.is_segmented() && self.gso;
            let flushed = self.send_mmsg(socket, group_targets, gso);
            if flushed.gso_refused {
                self.gso = false;
            }
            return flushed;
        }
        let _ = mode;
        self.send_plain(socket, group_targets)
    }

    /// The datagram in `slot`.
    fn datagram(&self, slot: usize) -> &[u8] {
        let len = self.lens.get(slot).copied().unwrap_or(0);
        let start = slot.saturating_mul(self.slot_len);
        self.buf
            .get(start..start.saturating_add(len))
            .unwrap_or_default()
    }

    /// The first message at or after (`slot`, `pass`): its position and
    /// destination.
    ///
    /// Messages go out pass by pass: pass 0 sends every datagram once (a
    /// peer datagram to its peer, a group datagram to the first group
    /// target), pass `j` sends the group datagrams to group target `j`.
    /// Each destination thus gets its datagrams in order, and consecutive
    /// messages share a destination, which segmentation offload needs.
    /// Slots without a message in a pass are skipped.
    fn message(
        &self,
        mut slot: usize,
        mut pass: usize,
        targets: &[SocketAddr],
    ) -> Option<(usize, usize, SocketAddr)> {
        let passes = targets.len().max(1);
        while pass < passes {
            while slot < self.filled {
                let to = match self.to.get(slot)? {
                    Destination::Peer(addr) => (pass == 0).then_some(*addr),
                    Destination::Group => targets.get(pass).copied(),
                };
                if let Some(to) = to {
                    return Some((slot, pass, to));
                }
                slot += 1;
            }
            pass += 1;
            slot = 0;
        }
        None
    }

    /// Moves the cursor past the message at (`slot`, `pass`).
    fn sent_through(&mut self, slot: usize, pass: usize) {
        self.slot = slot + 1;
        self.pass = pass;
    }

    /// Forgets every datagram.
    fn clear(&mut self) {
        self.filled = 0;
        self.slot = 0;
        self.pass = 0;
    }

    /// One `send_to` per message.
    fn send_plain(&mut self, socket: &UdpSocket, targets: &[SocketAddr]) -> Flushed {
        let mut out = Flushed::default();
        while let Some((slot, pass, to)) = self.message(self.slot, self.pass, targets) {
            out.calls += 1;
            match socket.send_to(self.datagram(slot), to) {
                Ok(_) => out.sent += 1,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    out.blocked = true;
                    return out;
                }
                Err(e) => {
                    out.dropped += 1;
                    out.last_error = Some(e.kind());
                }
            }
            self.sent_through(slot, pass);
        }
        self.clear();
        out
    }

    /// One `sendmmsg` per up to [`MAX_BATCH`] messages; with `gso`, runs
    /// of equal-sized messages to one destination share one header.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn send_mmsg(&mut self, socket: &UdpSocket, targets: &[SocketAddr], mut gso: bool) -> Flushed {
        use std::os::fd::AsRawFd;

        let mut out = Flushed::default();
        // Message positions (slot, pass) in send order.
        let mut positions = [(0usize, 0usize); MAX_BATCH];
        // Per header: its first message, and how many messages it carries.
        let mut runs = [(0usize, 0usize); MAX_BATCH];
        // A segmented send failed and the same messages are being retried
        // without segmentation (for the rest of this call).
        let mut probing: Option<io::ErrorKind> = None;
        loop {
            // The next messages, up to MAX_BATCH of them, grouped into runs.
            self.names.clear();
            let mut next = self.message(self.slot, self.pass, targets);
            let mut count = 0;
            let mut headers = 0;
            let mut run_len = 0;
            let mut run_size = 0;
            while let (Some((slot, pass, to)), Some(position)) = (next, positions.get_mut(count)) {
                *position = (slot, pass);
                let size = self.datagram(slot).len();
                let joins = gso
                    && headers > 0
                    && run_len < mmsg::GSO_MAX_SEGMENTS
                    && self.names.last().and_then(socket2::SockAddr::as_socket) == Some(to)
                    && size <= run_size
                    && size > 0
                    && (run_len + 1) * run_size <= mmsg::GSO_MAX_BYTES
                    // The run ends at a shorter datagram.
                    && runs.get(headers - 1).is_some_and(|(first, n)| {
                        positions.get(first + n - 1).is_some_and(|(s, _)| self.datagram(*s).len() == run_size)
                    });
                if joins {
                    run_len += 1;
                    if let Some(run) = runs.get_mut(headers - 1) {
                        run.1 += 1;
                    }
                } else {
                    self.names.push(socket2::SockAddr::from(to));
                    if let Some(run) = runs.get_mut(headers) {
                        *run = (count, 1);
                    }
                    headers += 1;
                    run_len = 1;
                    run_size = size;
                }
                count += 1;
                next = self.message(slot + 1, pass, targets);
            }
            if count == 0 {
                self.clear();
                return out;
            }
            let empty_iov = libc::iovec {
                iov_base: std::ptr::null_mut(),
                iov_len: 0,
            };
            let mut iovs = [empty_iov; MAX_BATCH];
            for ((slot, _), iov) in positions.iter().zip(iovs.iter_mut()).take(count) {
                let data = self.datagram(*slot);
                // The kernel only reads through this pointer (sendmmsg).
                iov.iov_base = data.as_ptr().cast_mut().cast();
                iov.iov_len = data.len();
            }
            // Every header points into `iovs` through this one pointer.
            let iov_base = iovs.as_mut_ptr();
            // One control buffer per header.
            let mut controls = [mmsg::empty_control(); MAX_BATCH];
            let mut hdrs = mmsg::zeroed_headers();
            for (((first, n), name), (hdr, control)) in runs
                .iter()
                .zip(self.names.iter())
                .zip(hdrs.iter_mut().zip(controls.iter_mut()))
                .take(headers)
            {
                hdr.msg_hdr.msg_name = name.as_ptr().cast_mut().cast();
                hdr.msg_hdr.msg_namelen = name.len();
                hdr.msg_hdr.msg_iov = iov_base.wrapping_add(*first);
                hdr.msg_hdr.msg_iovlen = *n as _;
                if *n > 1 {
                    let size = positions
                        .get(*first)
                        .map_or(0, |(slot, _)| self.datagram(*slot).len());
                    let segment = u16::try_from(size).unwrap_or(u16::MAX);
                    mmsg::set_segment_size(&mut hdr.msg_hdr, control, segment);
                }
            }
            let vlen = libc::c_uint::try_from(headers).unwrap_or(1);
            out.calls += 1;
            // SAFETY: the first `headers` headers (headers <= count <=
            // MAX_BATCH, the arrays' length) were filled above: each points
            // at `n` consecutive iovecs of `iovs` (first + n <= count), each
            // spanning a datagram inside `self.buf` (bounds checked by
            // `datagram`), at a `SockAddr` in `self.names` with its length,
            // and either at no control buffer or at its own control buffer
            // holding one well-formed UDP_SEGMENT message. sendmmsg only
            // reads these buffers (and writes `msg_len`), which live on this
            // stack frame or in `self` and are neither moved nor changed
            // during the call (`self.names` is not resized after the
            // pointers were taken). The fd is open, borrowed from `socket`;
            // MSG_DONTWAIT makes the call non-blocking.
            #[allow(unsafe_code, reason = "sendmmsg has no safe wrapper in std or socket2")]
            let r = unsafe {
                libc::sendmmsg(
                    socket.as_raw_fd(),
                    hdrs.as_mut_ptr(),
                    vlen,
                    libc::MSG_DONTWAIT,
                )
            };
            match usize::try_from(r) {
                Ok(sent) => {
                    if let Some(kind) = probing.take()
                        && sent > 0
                    {
                        log::info!("UDP segmentation offload refused ({kind}); sending without it");
                        out.gso_refused = true;
                    }
                    let sent_runs = runs.iter().take(sent.min(headers));
                    let messages: usize = sent_runs.clone().map(|(_, n)| n).sum();
                    out.sent += messages;
                    if let Some((slot, pass)) =
                        messages.checked_sub(1).and_then(|i| positions.get(i))
                    {
                        self.sent_through(*slot, *pass);
                    }
                }
                Err(_) => {
                    let e = io::Error::last_os_error();
                    match e.kind() {
                        io::ErrorKind::Interrupted => {}
                        io::ErrorKind::WouldBlock => {
                            out.blocked = true;
                            return out;
                        }
                        _ if gso
                            && runs[0].1 > 1
                            && matches!(e.raw_os_error(), Some(libc::EIO | libc::EINVAL)) =>
                        {
                            // The device or kernel may refuse segmentation
                            // (or the destination is bad): retry the same
                            // messages one by one. If that goes through,
                            // segmentation was the culprit.
                            gso = false;
                            probing = Some(e.kind());
                        }
                        kind => {
                            // The first message was refused: drop it. (A
                            // failed probe blames the message, not
                            // segmentation.)
                            probing = None;
                            out.dropped += 1;
                            out.last_error = Some(kind);
                            let (slot, pass) = positions[0];
                            self.sent_through(slot, pass);
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn receiver() -> UdpSocket {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        rx
    }

    fn fill(batch: &mut SendBatch, items: &[(u8, usize, Destination)]) {
        for (byte, len, to) in items {
            let buf = batch.next_buf().unwrap();
            buf[..*len].fill(*byte);
            batch.push(Transmit { to: *to, len: *len }).unwrap();
        }
    }

    #[test]
    fn fans_out_group_datagrams_in_every_mode() {
        for mode in [IoMode::Batched, IoMode::BatchedGso, IoMode::Plain] {
            let (a, b, direct) = (receiver(), receiver(), receiver());
            let targets = [a.local_addr().unwrap(), b.local_addr().unwrap()];
            let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
            let mut batch = SendBatch::new(4, 100);
            fill(
                &mut batch,
                &[
                    (1, 10, Destination::Group),
                    (2, 20, Destination::Peer(direct.local_addr().unwrap())),
                    (3, 100, Destination::Group),
                ],
            );
            let flushed = batch.send(&tx, &targets, mode);
            assert_eq!(
                (flushed.sent, flushed.dropped, flushed.blocked),
                (5, 0, false),
                "{mode:?}"
            );
            assert!(batch.is_empty());
            let mut buf = [0u8; 200];
            for rx in [&a, &b] {
                assert_eq!(rx.recv(&mut buf).unwrap(), 10);
                assert_eq!(rx.recv(&mut buf).unwrap(), 100);
                assert_eq!(buf[99], 3);
            }
            assert_eq!(direct.recv(&mut buf).unwrap(), 20);
            assert_eq!(buf[0], 2);
        }
    }

    #[test]
    fn group_without_targets_sends_nothing() {
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut batch = SendBatch::new(2, 100);
        fill(&mut batch, &[(1, 10, Destination::Group)]);
        let flushed = batch.send(&tx, &[], IoMode::Batched);
        assert_eq!(flushed.sent, 0);
        assert!(batch.is_empty());
    }

    #[test]
    fn refused_messages_are_dropped_and_the_rest_sent() {
        for mode in [IoMode::Batched, IoMode::BatchedGso, IoMode::Plain] {
            let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
            let rx = receiver();
            // Port 0 cannot be sent to: EINVAL, the message is dropped.
            let bad: SocketAddr = "127.0.0.1:0".parse().unwrap();
            let mut batch = SendBatch::new(3, 16);
            fill(
                &mut batch,
                &[
                    (1, 4, Destination::Peer(bad)),
                    (2, 5, Destination::Peer(rx.local_addr().unwrap())),
                    (3, 6, Destination::Peer(bad)),
                ],
            );
            let flushed = batch.send(&tx, &[], mode);
            assert_eq!((flushed.sent, flushed.dropped), (1, 2), "{mode:?}");
            assert!(flushed.last_error.is_some());
            let mut buf = [0u8; 16];
            assert_eq!(rx.recv(&mut buf).unwrap(), 5);
        }
    }

    #[test]
    fn segmentation_keeps_datagram_boundaries() {
        let (a, b) = (receiver(), receiver());
        let (to_a, to_b) = (
            Destination::Peer(a.local_addr().unwrap()),
            Destination::Peer(b.local_addr().unwrap()),
        );
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut batch = SendBatch::new(MAX_BATCH, 1200);
        // Runs: 20 x 1200 to A ending with a 700; 3 x 1200 to B; 1 x 1200
        // to A; then 10 x 64 to A with a larger one in the middle.
        let mut items = Vec::new();
        items.extend((0..20u8).map(|i| (i, 1200, to_a)));
        items.push((20, 700, to_a));
        items.extend((21..24u8).map(|i| (i, 1200, to_b)));
        items.push((24, 1200, to_a));
        items.extend((25..35u8).map(|i| (i, if i == 30 { 100 } else { 64 }, to_a)));
        fill(&mut batch, &items);
        let flushed = batch.send(&tx, &[], IoMode::BatchedGso);
        assert_eq!(
            (flushed.sent, flushed.dropped),
            (items.len(), 0),
            "{flushed:?}"
        );
        assert_eq!(flushed.calls, if flushed.gso_refused { 2 } else { 1 });
        let mut buf = [0u8; 2000];
        for (byte, len, to) in &items {
            let rx = if *to == to_a { &a } else { &b };
            let n = rx.recv(&mut buf).unwrap();
            assert_eq!((n, buf[0], buf[n - 1]), (*len, *byte, *byte));
        }
    }

    #[test]
    fn a_bad_destination_does_not_disable_segmentation() {
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let rx = receiver();
        let bad = Destination::Peer("127.0.0.1:0".parse().unwrap());
        let good = Destination::Peer(rx.local_addr().unwrap());
        let mut batch = SendBatch::new(16, 200);
        let mut items: Vec<_> = (0..5u8).map(|i| (i, 100, bad)).collect();
        items.extend((5..8u8).map(|i| (i, 100, good)));
        fill(&mut batch, &items);
        let flushed = batch.send(&tx, &[], IoMode::BatchedGso);
        assert_eq!((flushed.sent, flushed.dropped), (3, 5), "{flushed:?}");
        assert!(!flushed.gso_refused);
        assert!(batch.gso);
        let mut buf = [0u8; 200];
        for i in 5..8u8 {
            assert_eq!(rx.recv(&mut buf).unwrap(), 100);
            assert_eq!(buf[0], i);
        }
        // Segmentation is still used for the next batch.
        let items: Vec<_> = (0..8u8).map(|i| (i, 100, good)).collect();
        fill(&mut batch, &items);
        let flushed = batch.send(&tx, &[], IoMode::BatchedGso);
        assert_eq!((flushed.sent, flushed.calls), (8, 1), "{flushed:?}");
    }

    #[test]
    fn fan_out_is_segmented_per_target() {
        let rxs = [receiver(), receiver(), receiver()];
        let targets: Vec<SocketAddr> = rxs.iter().map(|r| r.local_addr().unwrap()).collect();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut batch = SendBatch::new(16, 1200);
        let items: Vec<_> = (0..10u8).map(|i| (i, 100, Destination::Group)).collect();
        fill(&mut batch, &items);
        let flushed = batch.send(&tx, &targets, IoMode::BatchedGso);
        assert_eq!(flushed.sent, 30);
        if !flushed.gso_refused {
            // Three segmented messages, one per target, in one sendmmsg.
            assert_eq!(flushed.calls, 1);
        }
        let mut buf = [0u8; 200];
        for rx in &rxs {
            for i in 0..10u8 {
                assert_eq!(rx.recv(&mut buf).unwrap(), 100);
                assert_eq!(buf[0], i);
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: 24,
            rng_seed: proptest::test_runner::RngSeed::Fixed(0x5EED_0002),
            ..proptest::prelude::ProptestConfig::default()
        })]

        /// Any mix of peer and group datagrams of any sizes reaches every
        /// destination, each kind in order, in every mode.
        #[test]
        fn every_destination_gets_its_datagrams_in_order(
            items in proptest::collection::vec((0usize..3, proptest::bool::ANY, 1usize..=300), 1..40),
            group_size in 0usize..=3,
            mode in proptest::sample::select(vec![IoMode::Plain, IoMode::Batched, IoMode::BatchedGso]),
        ) {
            let rxs = [receiver(), receiver(), receiver()];
            let addrs: Vec<SocketAddr> = rxs.iter().map(|r| r.local_addr().unwrap()).collect();
            let targets = &addrs[..group_size];
            let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
            let mut batch = SendBatch::new(16, 300);
            let mut expected = vec![(Vec::new(), Vec::new()); 3];
            let mut messages = 0;
            let mut pending = items.iter().enumerate().peekable();
            while pending.peek().is_some() {
                while let Some((i, (peer, group, len))) = pending.next_if(|_| !batch.is_full()) {
                    let buf = batch.next_buf().unwrap();
                    buf[0] = i as u8;
                    buf[1] = u8::from(*group);
                    buf[2..*len.max(&2)].fill(i as u8);
                    let to = if *group { Destination::Group } else { Destination::Peer(addrs[*peer]) };
                    batch.push(Transmit { to, len: (*len).max(2) }).unwrap();
                    if *group {
                        for (r, _) in targets.iter().enumerate() {
                            expected[r].1.push(i as u8);
                            messages += 1;
                        }
                    } else {
                        expected[*peer].0.push(i as u8);
                        messages += 1;
                    }
                }
                let flushed = batch.send(&tx, targets, mode);
                proptest::prop_assert!(!flushed.blocked && flushed.dropped == 0);
                proptest::prop_assert!(batch.is_empty());
            }
            let mut total = 0;
            let mut buf = [0u8; 400];
            for (rx, (peer, group)) in rxs.iter().zip(&expected) {
                let (mut got_peer, mut got_group) = (Vec::new(), Vec::new());
                for _ in 0..peer.len() + group.len() {
                    let n = rx.recv(&mut buf).unwrap();
                    let i = buf[0] as usize;
                    proptest::prop_assert_eq!(n, items[i].2.max(2));
                    if buf[1] == 1 { got_group.push(buf[0]) } else { got_peer.push(buf[0]) }
                    total += 1;
                }
                proptest::prop_assert_eq!(&got_peer, peer);
                proptest::prop_assert_eq!(&got_group, group);
                rx.set_nonblocking(true).unwrap();
                proptest::prop_assert!(rx.recv(&mut buf).is_err(), "an extra datagram");
            }
            proptest::prop_assert_eq!(total, messages);
        }
    }

    #[test]
    fn full_batch_refuses() {
        let mut batch = SendBatch::new(1, 8);
        let t = Transmit {
            to: Destination::Group,
            len: 9,
        };
        assert_eq!(batch.push(t), Err(t));
        let t = Transmit {
            to: Destination::Group,
            len: 8,
        };
        assert_eq!(batch.push(t), Ok(()));
        assert!(batch.is_full());
        assert!(batch.next_buf().is_none());
        assert_eq!(batch.push(t), Err(t));
    }
}
