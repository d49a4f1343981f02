//! The frames membership reads and writes, over the `blaze-wire` codec.
//!
//! This is the one module that touches the wire format: it turns a
//! [`blaze_wire::Frame`] into the few shapes the machine uses (socket
//! addresses instead of address bytes and port, metadata copied out,
//! view members with a valid id) and back.

use crate::{MAX_METADATA, Metadata};
use blaze_wire::{
    BlazeMessage, Body as WireBody, Frame as WireFrame, GroupId, MemberId, Message, VERSION,
};
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

pub(crate) use blaze_wire::{Ack, Leave, Probe, Reply, Request, Suspect};

/// Why a datagram was dropped or a frame not written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WireError {
    /// The codec refused the datagram.
    Malformed,
    /// Another wire version.
    UnsupportedVersion,
    /// No (or a nil) sender id.
    InvalidId,
    /// The caller's buffer is too small.
    BufferTooSmall,
    /// Nothing to write (the state it came from is gone).
    Nothing,
}

fn decode_addr(ip: &[u8], port: u32) -> Option<SocketAddr> {
    let port = u16::try_from(port).ok()?;
    let ip = match ip.len() {
        4 => IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(ip).ok()?)),
        16 => IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(ip).ok()?)),
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

/// An address as wire bytes (in a 16-byte array, with its length) and port.
#[derive(Clone, Copy, Default)]
pub(crate) struct AddrBytes {
    bytes: [u8; 16],
    len: usize,
    pub(crate) port: u32,
}

impl AddrBytes {
    pub(crate) fn new(addr: Option<SocketAddr>) -> Self {
        let mut out = AddrBytes::default();
        match addr {
            Some(SocketAddr::V4(a)) => {
                if let Some(dst) = out.bytes.get_mut(..4) {
                    dst.copy_from_slice(&a.ip().octets());
                }
                out.len = 4;
                out.port = u32::from(a.port());
            }
            Some(SocketAddr::V6(a)) => {
                out.bytes = a.ip().octets();
                out.len = 16;
                out.port = u32::from(a.port());
            }
            None => {}
        }
        out
    }

    pub(crate) fn ip(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or(&[])
    }
}

/// A decoded frame: envelope plus the body membership cares about.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Frame<'a> {
    pub(crate) group: GroupId,
    pub(crate) sender: MemberId,
    pub(crate) body: Body<'a>,
}

/// The bodies membership reads; everything else is `Other`.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Body<'a> {
    Join(JoinIn<'a>),
    Leave(Leave),
    View(View<'a>),
    Heartbeat(Heartbeat),
    Probe(Probe),
    Suspect(Suspect),
    #[cfg_attr(
        not(feature = "messaging"),
        allow(dead_code, reason = "without `messaging` the codec has no such frames")
    )]
    Request(Request<'a>),
    #[cfg_attr(
        not(feature = "messaging"),
        allow(dead_code, reason = "without `messaging` the codec has no such frames")
    )]
    Reply(Reply<'a>),
    Ack(Ack<'a>),
    Other,
}

/// A received `Join`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct JoinIn<'a> {
    pub(crate) member_name: &'a str,
    pub(crate) weight: u32,
    pub(crate) services: u32,
    /// The metadata, re-encoded (empty if absent or too large).
    pub(crate) metadata: Metadata,
    pub(crate) incarnation: u64,
    pub(crate) address: Option<SocketAddr>,
}

/// A `Join` to send.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Join<'a> {
    pub(crate) group_name: &'a str,
    pub(crate) member_name: &'a str,
    pub(crate) weight: u32,
    pub(crate) services: u32,
    /// An encoded `BlazeMessage` (sent as absent if it does not parse).
    pub(crate) metadata: &'a [u8],
    pub(crate) incarnation: u64,
    pub(crate) address: Option<SocketAddr>,
}

/// The `Heartbeat` fields membership uses.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Heartbeat {
    pub(crate) view_id: u64,
    pub(crate) timestamp_us: u64,
    pub(crate) incarnation: u64,
    pub(crate) services: u32,
}

/// A received `View`; repeated fields are read lazily.
#[derive(Debug, Clone, Copy)]
pub(crate) struct View<'a> {
    pub(crate) view_id: u64,
    pub(crate) merge: bool,
    wire: blaze_wire::View<'a>,
}

/// A member listed in a received view (entries without an id are skipped).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ViewMember<'a> {
    pub(crate) id: MemberId,
    pub(crate) name: &'a str,
    pub(crate) weight: u32,
    pub(crate) services: u32,
    pub(crate) incarnation: u64,
    pub(crate) address: Option<SocketAddr>,
    pub(crate) rank: u64,
    /// The member's metadata, re-encoded (`None` if absent or too large).
    pub(crate) metadata: Option<Metadata>,
}

/// A received metadata message, re-encoded into owned storage.
fn copy_metadata(m: Option<BlazeMessage<'_>>) -> Option<Metadata> {
    let mut md = [0u8; MAX_METADATA];
    m.and_then(|m| m.emit(&mut md).ok())
        .and_then(|n| md.get(..n))
        .and_then(Metadata::new)
}

impl<'a> View<'a> {
    /// The listed members, in order (coordinator first).
    #[inline(never)]
    pub(crate) fn members(&self) -> impl Iterator<Item = ViewMember<'a>> + 'a {
        self.wire.members.iter().filter_map(|m| {
            Some(ViewMember {
                id: m.id.filter(|id| !id.is_nil())?,
                name: m.name,
                weight: m.weight,
                services: m.services,
                incarnation: m.incarnation,
                address: decode_addr(m.address, m.port),
                rank: m.rank,
                metadata: copy_metadata(m.metadata),
            })
        })
    }

    /// The members of the previous view that left gracefully.
    pub(crate) fn left(&self) -> impl Iterator<Item = MemberId> + 'a {
        self.wire.left.iter().filter(|id| !id.is_nil())
    }

    /// Number of valid members listed.
    pub(crate) fn member_count(&self) -> usize {
        self.members().count()
    }

    /// The ids of the views merged into this one.
    pub(crate) fn merged_from(&self) -> impl Iterator<Item = u64> + 'a {
        self.wire.merged_from.iter()
    }
}

impl<'a> Frame<'a> {
    /// Decodes one datagram.
    pub(crate) fn parse(buf: &'a [u8]) -> Result<Self, WireError> {
        let f = WireFrame::parse(buf).map_err(|_| WireError::Malformed)?;
        Self::from_wire(&f)
    }

    /// Takes in a frame decoded by the codec.
    pub(crate) fn from_wire(f: &WireFrame<'a>) -> Result<Self, WireError> {
        if f.version != VERSION {
            return Err(WireError::UnsupportedVersion);
        }
        if f.sender.is_nil() {
            return Err(WireError::InvalidId);
        }
        let body = match f.body {
            WireBody::Join(j) => {
                let metadata = copy_metadata(j.metadata).unwrap_or_default();
                Body::Join(JoinIn {
                    member_name: j.member_name,
                    weight: j.weight,
                    services: j.services,
                    metadata,
                    incarnation: j.incarnation,
                    address: decode_addr(j.address, j.port),
                })
            }
            WireBody::Leave(l) => Body::Leave(l),
            WireBody::View(v) => Body::View(View {
                view_id: v.view_id,
                merge: v.merge,
                wire: v,
            }),
            WireBody::Heartbeat(h) => Body::Heartbeat(Heartbeat {
                view_id: h.view_id,
                timestamp_us: h.timestamp_us,
                incarnation: h.incarnation,
                services: h.services,
            }),
            WireBody::Probe(p) => Body::Probe(p),
            WireBody::Suspect(x) => Body::Suspect(x),
            #[cfg(feature = "messaging")]
            WireBody::Request(r) => Body::Request(r),
            #[cfg(feature = "messaging")]
            WireBody::Reply(r) => Body::Reply(r),
            // Stream acknowledgements belong to reliable multicast.
            WireBody::Ack(a) if !a.stream_ack => Body::Ack(a),
            _ => Body::Other,
        };
        Ok(Frame {
            group: f.group,
            sender: f.sender,
            body,
        })
    }
}

/// A body to encode.
#[derive(Clone, Copy)]
pub(crate) enum BodyOut<'a> {
    Join(Join<'a>),
    Leave(Leave),
    /// Members coordinator first.
    View {
        view_id: u64,
        merge: bool,
        members: &'a [blaze_wire::ViewMember<'a>],
        merged_from: &'a [u64],
        /// Members of the previous view that left gracefully.
        left: &'a [MemberId],
    },
    Heartbeat(Heartbeat),
    Probe(Probe),
    Suspect(Suspect),
    #[cfg_attr(
        not(feature = "messaging"),
        allow(dead_code, reason = "without `messaging` nothing sends it")
    )]
    Request(Request<'a>),
    #[cfg_attr(
        not(feature = "messaging"),
        allow(dead_code, reason = "without `messaging` nothing sends it")
    )]
    Reply(Reply<'a>),
    Ack(Ack<'a>),
}

/// Encodes one frame into `buf`; returns its length.
pub(crate) fn emit(
    buf: &mut [u8],
    group: GroupId,
    sender: MemberId,
    body: &BodyOut<'_>,
) -> Result<usize, WireError> {
    let addr;
    let body = match *body {
        BodyOut::Join(j) => {
            addr = AddrBytes::new(j.address);
            let metadata = if j.metadata.is_empty() {
                None
            } else {
                BlazeMessage::parse(j.metadata).ok()
            };
            WireBody::Join(blaze_wire::Join {
                group_name: j.group_name,
                member_name: j.member_name,
                weight: j.weight,
                services: j.services,
                metadata,
                incarnation: j.incarnation,
                address: addr.ip(),
                port: addr.port,
                ..blaze_wire::Join::default()
            })
        }
        BodyOut::Leave(l) => WireBody::Leave(l),
        BodyOut::View {
            view_id,
            merge,
            members,
            merged_from,
            left,
        } => WireBody::View(blaze_wire::View {
            view_id,
            merge,
            members: blaze_wire::Repeated::from_slice(members),
            merged_from: blaze_wire::Repeated::from_slice(merged_from),
            left: blaze_wire::Repeated::from_slice(left),
            ..blaze_wire::View::default()
        }),
        BodyOut::Heartbeat(h) => WireBody::Heartbeat(blaze_wire::Heartbeat {
            view_id: h.view_id,
            timestamp_us: h.timestamp_us,
            incarnation: h.incarnation,
            services: h.services,
            ..blaze_wire::Heartbeat::default()
        }),
        BodyOut::Probe(p) => WireBody::Probe(p),
        BodyOut::Suspect(x) => WireBody::Suspect(x),
        #[cfg(feature = "messaging")]
        BodyOut::Request(r) => WireBody::Request(r),
        #[cfg(feature = "messaging")]
        BodyOut::Reply(r) => WireBody::Reply(r),
        // Not reached: without `messaging` nothing sends these, and the
        // codec has no such frames.
        #[cfg(not(feature = "messaging"))]
        BodyOut::Request(_) | BodyOut::Reply(_) => return Err(WireError::Nothing),
        BodyOut::Ack(a) => WireBody::Ack(a),
    };
    let frame = WireFrame {
        version: VERSION,
        group,
        sender,
        auth_tag: &[],
        body,
    };
    frame.emit(buf).map_err(|_| WireError::BufferTooSmall)
}

#[cfg(test)]
mod tests {
    use super::*;

    const G: GroupId = GroupId::from_name("g");
    const A: MemberId = MemberId::from_u128(0xa1);

    fn round(body: BodyOut<'_>, check: impl FnOnce(Frame<'_>)) {
        let mut buf = [0u8; 512];
        let n = emit(&mut buf, G, A, &body).unwrap();
        let f = Frame::parse(&buf[..n]).unwrap();
        assert_eq!(f.group, G);
        assert_eq!(f.sender, A);
        check(f);
        for cut in 0..n {
            // Every truncation is an error or another frame, never a panic.
            let _ = Frame::parse(&buf[..cut]);
        }
    }

    #[test]
    fn heartbeat_bytes() {
        let mut buf = [0u8; 64];
        let hb = Heartbeat {
            view_id: 5,
            timestamp_us: 0,
            incarnation: 1,
            services: 0,
        };
        let n = emit(
            &mut buf,
            GroupId::from_raw(1),
            MemberId::from_u128(2),
            &BodyOut::Heartbeat(hb),
        )
        .unwrap();
        let mut want = std::vec![0x08, 0x01, 0x11, 1, 0, 0, 0, 0, 0, 0, 0, 0x1a, 16];
        want.extend_from_slice(&[0; 15]);
        want.push(2);
        want.extend_from_slice(&[0x62, 4, 0x10, 5, 0x38, 1]);
        assert_eq!(&buf[..n], &want[..]);
    }

    #[test]
    fn join_round_trip_with_metadata_and_address() {
        let mut md = [0u8; 32];
        let mut w = blaze_wire::BlazeMessageWriter::new(&mut md);
        w.put("role", blaze_wire::Value::Text("db")).unwrap();
        let n = w.finish();
        let addr: SocketAddr = "10.0.0.7:4000".parse().unwrap();
        let j = Join {
            group_name: "chat",
            member_name: "ann",
            weight: 3,
            services: 0,
            metadata: &md[..n],
            incarnation: 9,
            address: Some(addr),
        };
        round(BodyOut::Join(j), |f| match f.body {
            Body::Join(g) => {
                assert_eq!(g.member_name, "ann");
                assert_eq!(g.weight, 3);
                assert_eq!(g.metadata.as_bytes(), &md[..n]);
                assert_eq!(g.incarnation, 9);
                assert_eq!(g.address, Some(addr));
            }
            _ => panic!("wrong body"),
        });
    }

    #[test]
    fn view_round_trip() {
        let a6 = AddrBytes::new(Some("[::1]:9".parse().unwrap()));
        let mut md = [0u8; 32];
        let mut w = blaze_wire::BlazeMessageWriter::new(&mut md);
        w.put("role", blaze_wire::Value::Text("db")).unwrap();
        let n = w.finish();
        let members = [
            blaze_wire::ViewMember {
                id: Some(MemberId::from_u128(7)),
                name: "m",
                rank: 0,
                metadata: Some(BlazeMessage::parse(&md[..n]).unwrap()),
                ..Default::default()
            },
            blaze_wire::ViewMember {
                id: None,
                name: "no id",
                ..Default::default()
            },
            blaze_wire::ViewMember {
                id: Some(MemberId::from_u128(u128::MAX)),
                address: a6.ip(),
                port: a6.port,
                rank: 1,
                weight: 4,
                services: 0,
                ..Default::default()
            },
        ];
        let body = BodyOut::View {
            view_id: 1 << 40,
            merge: true,
            members: &members,
            merged_from: &[3, 1 << 33],
            left: &[MemberId::from_u128(9), MemberId::from_u128(10)],
        };
        round(body, |f| match f.body {
            Body::View(v) => {
                assert_eq!(v.view_id, 1 << 40);
                assert!(v.merge);
                let got: std::vec::Vec<_> = v
                    .members()
                    .map(|m| (m.id.as_u128(), m.rank, m.address))
                    .collect();
                assert_eq!(
                    got,
                    std::vec![
                        (7, 0, None),
                        (u128::MAX, 1, Some("[::1]:9".parse().unwrap()))
                    ]
                );
                assert_eq!(v.member_count(), 2);
                let first = v.members().next().unwrap();
                assert_eq!(first.metadata.unwrap().as_bytes(), &md[..n]);
                assert_eq!(v.members().nth(1).unwrap().metadata, None);
                assert_eq!(
                    v.left().map(|m| m.as_u128()).collect::<std::vec::Vec<_>>(),
                    std::vec![9, 10]
                );
                assert_eq!(
                    v.merged_from().collect::<std::vec::Vec<_>>(),
                    std::vec![3, 1 << 33]
                );
            }
            _ => panic!("wrong body"),
        });
    }

    /// Without `messaging` the codec has no request or reply frames: one
    /// received is an unknown kind, and none is written.
    #[cfg(not(feature = "messaging"))]
    #[test]
    fn request_frames_are_unknown_without_messaging() {
        let mut buf = [0u8; 64];
        let r = BodyOut::Request(Request::default());
        assert_eq!(emit(&mut buf, G, A, &r), Err(WireError::Nothing));
        // A leave frame with an empty request (field 21) after its body.
        let n = emit(&mut buf, G, A, &BodyOut::Leave(Leave::default())).unwrap();
        let extra = [0xaa, 0x01, 0x00];
        buf[n..n + 3].copy_from_slice(&extra);
        assert!(matches!(
            Frame::parse(&buf[..n + 3]).unwrap().body,
            Body::Leave(_)
        ));
        let at = 2 + 9 + 18; // version, group, sender
        assert!(matches!(
            Frame::parse(&[&buf[..at], &extra[..]].concat())
                .unwrap()
                .body,
            Body::Other
        ));
    }

    #[cfg(feature = "messaging")]
    #[test]
    fn request_reply_ack_probe_suspect_leave_round_trip() {
        let r = Request {
            correlation: 77,
            target: Some(A),
            timeout_us: 5,
            payload: b"hi",
            queue: "q",
            redelivered: true,
            p2p_seq: 300,
            one_way: true,
            queue_op: blaze_wire::QueueOp::SUBSCRIBE,
            p2p_epoch: 1 << 40,
        };
        round(BodyOut::Request(r), |f| {
            assert!(matches!(f.body, Body::Request(x) if x == r))
        });
        let rep = Reply {
            correlation: 1,
            target: None,
            payload: b"x",
            error: 2,
        };
        round(BodyOut::Reply(rep), |f| {
            assert!(matches!(f.body, Body::Reply(x) if x == rep))
        });
        let ack = Ack {
            target: Some(A),
            p2p_seq: 4,
            correlation: 5,
            queue: "q",
            p2p_epoch: 7,
            ..Ack::default()
        };
        round(BodyOut::Ack(ack), |f| {
            assert!(matches!(f.body, Body::Ack(x) if x == ack))
        });
        let p = Probe {
            seq: 3,
            target: Some(A),
            origin: None,
            ack: true,
        };
        round(BodyOut::Probe(p), |f| {
            assert!(matches!(f.body, Body::Probe(x) if x == p))
        });
        let x = Suspect {
            member: Some(A),
            incarnation: 4,
            probe_request: false,
        };
        round(BodyOut::Suspect(x), |f| {
            assert!(matches!(f.body, Body::Suspect(y) if y == x))
        });
        round(BodyOut::Leave(Leave { incarnation: 2 }), |f| {
            assert!(matches!(f.body, Body::Leave(l) if l.incarnation == 2));
        });
    }

    #[test]
    fn rejects_bad_version_and_sender() {
        assert_eq!(
            Frame::parse(&[0x08, 0x02]).unwrap_err(),
            WireError::UnsupportedVersion
        );
        assert_eq!(
            Frame::parse(&[0x08, 0x01]).unwrap_err(),
            WireError::InvalidId
        );
        assert_eq!(Frame::parse(&[0x08]).unwrap_err(), WireError::Malformed);
    }

    #[test]
    fn too_small_buffer_is_an_error() {
        let mut buf = [0u8; 10];
        let body = BodyOut::Leave(Leave { incarnation: 1 });
        assert_eq!(emit(&mut buf, G, A, &body), Err(WireError::BufferTooSmall));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: 256,
            rng_seed: proptest::test_runner::RngSeed::Fixed(7),
            ..Default::default()
        })]
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            if let Ok(f) = Frame::parse(&bytes)
                && let Body::View(v) = f.body {
                    let _ = v.members().count();
                    let _ = v.merged_from().count();
                }
        }

        #[cfg(feature = "messaging")]
        #[test]
        fn request_round_trips(
            corr in 0u64..,
            seq in 0u64..,
            payload in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..100),
            one_way: bool,
        ) {
            let r = Request { correlation: corr, p2p_seq: seq, payload: &payload, one_way, ..Request::default() };
            let mut buf = [0u8; 256];
            let n = emit(&mut buf, G, A, &BodyOut::Request(r)).unwrap();
            match Frame::parse(&buf[..n]).unwrap().body {
                Body::Request(x) => proptest::prop_assert_eq!(x, r),
                _ => proptest::prop_assert!(false),
            }
        }
    }
}
