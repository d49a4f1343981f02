//! Hostile input on real sockets: three members in one process on
//! loopback multicast carry reliable traffic while a plain UDP socket
//! blasts the group address and the members' unicast ports with random
//! bytes, replays of sniffed datagrams, mutations of them and forged
//! frames with wrong groups, other wire versions and strangers' ids.
//!
//! Every real message still reaches each receiver exactly once and in
//! order, the nodes count what they dropped by reason, and the process's
//! memory stays bounded. The blast is bounded in count and in time, and
//! every wait is bounded.
//!
//! Never forged in a real member's name: version 1 frames carry no
//! authentication, so a node must take such a frame as genuine, which
//! tests authentication, not robustness. Frames from strangers (fresh
//! random ids) in the group are blasted: forged data, NACKs and
//! heartbeats, and sniffed frames with flipped bits that still parse
//! (joins and views among them, so strangers may join and fail). The
//! channels refuse the stream frames of senders outside the view and count
//! them (`StreamDrops::unknown_peer`); a stranger that got into a view
//! through a mutated join may have messages delivered under its own id,
//! which the test sets apart by sender.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant as StdInstant};

use blaze_std::{ChannelConfig, GroupChannel, MemberId, NodeStats, TopicQos};
use blaze_wire::{
    Body, DataBatch, DataMessage, Frame, GroupId, Heartbeat, Join, Message, Nack, Repeated, Rng,
    SeqRange, StreamMark, VERSION,
};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

mod runtime;
use runtime::run;

const GROUP: &str = "hostile-test";
const LIMIT: Duration = Duration::from_secs(15);
/// Reliable messages from the first member to the two others.
const MESSAGES: u32 = 500;
/// At most this many hostile datagrams ...
const BLAST_COUNT: usize = 20_000;
/// ... sent within at most this long.
const BLAST_TIME: Duration = Duration::from_secs(3);
/// Sniffed datagrams kept for replays and mutations.
const SNIFF_KEEP: usize = 512;
/// How far the resident set may grow during the blast.
const RSS_GROWTH_LIMIT: u64 = 64 << 20;

fn group_addr(port: u16) -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::new(239, 255, 62, (port % 200 + 1) as u8), port)
}

fn config(name: &str, port: u16) -> ChannelConfig {
    ChannelConfig::builder()
        .name(name)
        .group(group_addr(port))
        .interface(Ipv4Addr::LOCALHOST)
        .join(GROUP)
        .topic("news", TopicQos::Reliable)
        .heartbeat(Duration::from_millis(50))
        .failure_timeout(Duration::from_millis(1_000))
        .build()
        .unwrap()
}

/// The process's resident set, in bytes.
fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

/// A plain socket joined to the group on loopback, as the members are.
fn sniffer(group: SocketAddrV4) -> UdpSocket {
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).unwrap();
    socket.set_reuse_address(true).unwrap();
    socket.set_reuse_port(true).unwrap();
    socket
        .bind(&SockAddr::from(SocketAddrV4::new(
            *group.ip(),
            group.port(),
        )))
        .unwrap();
    socket
        .join_multicast_v4(group.ip(), &Ipv4Addr::LOCALHOST)
        .unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    socket.into()
}

/// Keeps up to [`SNIFF_KEEP`] datagrams seen on the group until `done`.
fn sniff(
    socket: UdpSocket,
    kept: Arc<Mutex<Vec<Vec<u8>>>>,
    done: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buf = [0u8; 65_536];
        let started = StdInstant::now();
        while !done.load(Ordering::Relaxed) && started.elapsed() < Duration::from_secs(45) {
            if let Ok(n) = socket.recv(&mut buf) {
                let mut kept = kept.lock().unwrap();
                if kept.len() < SNIFF_KEEP {
                    kept.push(buf[..n].to_vec());
                }
            }
        }
    })
}

/// What the blaster sent, by kind.
#[derive(Debug, Default)]
struct Blasted {
    random: usize,
    replayed: usize,
    flipped: usize,
    truncated: usize,
    bad_version: usize,
    wrong_group: usize,
    forged: usize,
}

impl Blasted {
    fn total(&self) -> usize {
        self.random
            + self.replayed
            + self.flipped
            + self.truncated
            + self.bad_version
            + self.wrong_group
            + self.forged
    }
}

/// Writes one hostile datagram into `out` and returns its length.
fn hostile(
    rng: &mut Rng,
    group: GroupId,
    members: &[MemberId],
    sniffed: &[Vec<u8>],
    out: &mut [u8],
    blasted: &mut Blasted,
) -> usize {
    let stranger = loop {
        let id = MemberId::from_u128(u128::from(rng.next_u64()) << 64 | u128::from(rng.next_u64()));
        if !members.contains(&id) {
            break id;
        }
    };
    let pick = sniffed
        .get(rng.below(sniffed.len().max(1) as u64) as usize)
        .map(Vec::as_slice);
    match (rng.below(8), pick) {
        (0, Some(d)) => {
            // A verbatim duplicate of something a member sent.
            out[..d.len()].copy_from_slice(d);
            blasted.replayed += 1;
            d.len()
        }
        (1, Some(d)) => {
            // Bytes flipped. A mutant that still parses as a frame of this
            // group and version is re-sent as a stranger's (see the module
            // docs), so it is never a forgery in a member's name.
            let n = d.len();
            out[..n].copy_from_slice(d);
            for _ in 0..=rng.below(4) {
                let i = rng.below(n.max(1) as u64) as usize;
                if let Some(b) = out.get_mut(i) {
                    *b ^= 1 << rng.below(8);
                }
            }
            let copy = out[..n].to_vec();
            blasted.flipped += 1;
            match Frame::parse(&copy) {
                Ok(frame) if frame.version == VERSION && frame.group == group => {
                    let frame = Frame {
                        sender: stranger,
                        ..frame
                    };
                    frame.emit(out).unwrap_or(0)
                }
                _ => n,
            }
        }
        (2, Some(d)) => {
            // Cut short.
            let n = rng.below(d.len() as u64) as usize;
            out[..n].copy_from_slice(&d[..n]);
            blasted.truncated += 1;
            n
        }
        (3, Some(d)) if Frame::parse(d).is_ok() => {
            // Another wire version, everything else genuine.
            let frame = Frame {
                version: VERSION + 1 + rng.below(1_000) as u32,
                ..Frame::parse(d).unwrap()
            };
            blasted.bad_version += 1;
            frame.emit(out).unwrap()
        }
        (4, Some(d)) if Frame::parse(d).is_ok() => {
            // Another group, everything else genuine.
            let frame = Frame {
                group: GroupId::from_name(&format!("elsewhere-{}", rng.next_u64())),
                ..Frame::parse(d).unwrap()
            };
            blasted.wrong_group += 1;
            frame.emit(out).unwrap()
        }
        (5 | 6, _) => forged(rng, group, stranger, out, blasted),
        _ => {
            let n = rng.below(1_500) as usize;
            rng.fill(&mut out[..n]);
            blasted.random += 1;
            n
        }
    }
}

/// A well-formed frame with random fields: from a stranger in this group,
/// or of another version or group.
fn forged(
    rng: &mut Rng,
    group: GroupId,
    stranger: MemberId,
    out: &mut [u8],
    blasted: &mut Blasted,
) -> usize {
    let mut payload = [0u8; 64];
    rng.fill(&mut payload);
    let messages = [DataMessage {
        payload: &payload[..rng.below(64) as usize],
        ..DataMessage::default()
    }];
    let start = rng.below(1 << 20);
    let ranges = [SeqRange {
        start,
        end: start + rng.below(1 << 20),
    }];
    let marks = [StreamMark {
        stream: rng.below(4) as u32,
        high_seq: rng.below(1 << 20),
        window_start: rng.below(1 << 20),
        ..StreamMark::default()
    }];
    let body = match rng.below(4) {
        0 => Body::Data(DataBatch {
            stream: rng.below(4) as u32,
            topic: "news",
            first_seq: rng.below(1 << 20),
            messages: Repeated::from_slice(&messages),
            ..DataBatch::default()
        }),
        1 => Body::Nack(Nack {
            target: Some(MemberId::from_u128(u128::from(rng.next_u64()))),
            stream: rng.below(4) as u32,
            ranges: Repeated::from_slice(&ranges),
            ..Nack::default()
        }),
        2 => Body::Heartbeat(Heartbeat {
            streams: Repeated::from_slice(&marks),
            view_id: rng.next_u64(),
            ..Heartbeat::default()
        }),
        _ => Body::Join(Join::default()),
    };
    let (version, group) = match (rng.below(3), body) {
        (0, _) => (VERSION + 1 + rng.below(1_000) as u32, group),
        (1, _) | (_, Body::Join(_)) => (VERSION, GroupId::from_name("another-group")),
        _ => (VERSION, group),
    };
    let frame = Frame {
        version,
        group,
        sender: stranger,
        body,
        ..Frame::default()
    };
    blasted.forged += 1;
    frame.emit(out).unwrap()
}

/// Blasts `targets` until [`BLAST_COUNT`] datagrams or [`BLAST_TIME`],
/// whichever comes first, at about 10 000 datagrams a second.
fn blast(
    targets: Vec<SocketAddr>,
    group: GroupId,
    members: Vec<MemberId>,
    sniffed: Arc<Mutex<Vec<Vec<u8>>>>,
    sent: Arc<AtomicUsize>,
) -> std::thread::JoinHandle<Blasted> {
    std::thread::spawn(move || {
        let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).unwrap();
        socket.set_multicast_if_v4(&Ipv4Addr::LOCALHOST).unwrap();
        socket.set_multicast_loop_v4(true).unwrap();
        socket
            .bind(&SockAddr::from(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0)))
            .unwrap();
        let socket: UdpSocket = socket.into();
        let mut rng = Rng::new(0x0b1a_57ed);
        let mut out = vec![0u8; 65_536];
        let mut blasted = Blasted::default();
        let started = StdInstant::now();
        for i in 0..BLAST_COUNT {
            if started.elapsed() >= BLAST_TIME {
                break;
            }
            let sniffed = sniffed.lock().unwrap().clone();
            let n = hostile(&mut rng, group, &members, &sniffed, &mut out, &mut blasted);
            let to = targets[i % targets.len()];
            // A full socket buffer is no reason to stop.
            let _ = socket.send_to(&out[..n], to);
            sent.store(i + 1, Ordering::Relaxed);
            if i % 10 == 9 {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        blasted
    })
}

fn grew(before: &NodeStats, after: &NodeStats) -> [(&'static str, u64); 4] {
    [
        ("datagrams", after.datagrams - before.datagrams),
        ("malformed", after.malformed - before.malformed),
        ("bad_version", after.bad_version - before.bad_version),
        ("unknown_group", after.unknown_group - before.unknown_group),
    ]
}

#[test]
fn reliable_traffic_survives_a_blast_of_hostile_datagrams() {
    run(async {
        let port = 47_121;
        let group = group_addr(port);
        let sniffed = Arc::new(Mutex::new(Vec::new()));
        let done = Arc::new(AtomicBool::new(false));
        let sniffing = sniff(sniffer(group), Arc::clone(&sniffed), Arc::clone(&done));

        let mut members = Vec::new();
        for name in ["a", "b", "c"] {
            let mut member = GroupChannel::new(config(name, port));
            member.start().await.unwrap();
            members.push(member);
        }
        for member in &members {
            member
                .wait_for_members(GROUP, LIMIT, |m| m.len() == 3)
                .await
                .unwrap();
        }
        let ids: Vec<MemberId> = members.iter().map(|m| m.id()).collect();
        let mut subs = Vec::new();
        for member in &mut members[1..] {
            subs.push(member.subscribe("news").await.unwrap());
        }
        // Let the subscriptions reach the tasks and the sniffer see a few
        // heartbeats.
        tokio::time::sleep(Duration::from_millis(300)).await;

        let mut before = Vec::new();
        let mut stream_before = Vec::new();
        for member in &members {
            before.push(member.node_stats().await.unwrap());
            stream_before.push(member.stream_drops().await.unwrap());
        }
        let rss_before = rss();
        let mut targets = vec![SocketAddr::V4(group)];
        targets.extend(members.iter().map(|m| m.local_addr().unwrap()));
        let sent = Arc::new(AtomicUsize::new(0));
        let blaster = blast(
            targets,
            GroupId::from_name(GROUP),
            ids.clone(),
            Arc::clone(&sniffed),
            Arc::clone(&sent),
        );

        // Real traffic while the blast goes on: chunks of 50 a tenth of a
        // second apart.
        let mut rss_max = rss_before;
        for chunk in 0..MESSAGES / 50 {
            for i in chunk * 50..(chunk + 1) * 50 {
                members[0].publish("news", &i.to_be_bytes()).await.unwrap();
            }
            rss_max = rss_max.max(rss());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        for (r, sub) in subs.iter_mut().enumerate() {
            let mut next = 0u32;
            let mut foreign = 0usize;
            while next < MESSAGES {
                let m = tokio::time::timeout(LIMIT, sub.recv())
                    .await
                    .unwrap_or_else(|_| panic!("receiver {r} stalled at {next}"))
                    .unwrap();
                rss_max = rss_max.max(rss());
                if m.sender != ids[0] {
                    // Forged by the blaster under a stranger's id.
                    assert!(!ids.contains(&m.sender));
                    foreign += 1;
                    continue;
                }
                assert_eq!(m.payload, next.to_be_bytes(), "receiver {r}");
                next += 1;
            }
            eprintln!("receiver {r}: {MESSAGES} in order, {foreign} from strangers");
        }
        let blasted = blaster.join().unwrap();
        rss_max = rss_max.max(rss());
        // No duplicate arrives late.
        tokio::time::sleep(Duration::from_millis(300)).await;
        for sub in &mut subs {
            while let Some(m) = sub.try_recv() {
                assert_ne!(m.sender, ids[0], "a duplicate or extra message");
            }
            assert_eq!(sub.dropped(), 0);
        }
        eprintln!(
            "blasted {} datagrams: {blasted:?}; {} sniffed; RSS {} -> max {} KiB",
            blasted.total(),
            sniffed.lock().unwrap().len(),
            rss_before >> 10,
            rss_max >> 10
        );
        assert_eq!(blasted.total(), sent.load(Ordering::Relaxed));
        assert!(blasted.total() > 1_000, "the blast was too small to tell");
        assert!(blasted.replayed > 0 && blasted.bad_version > 0 && blasted.wrong_group > 0);
        assert!(
            rss_max - rss_before < RSS_GROWTH_LIMIT,
            "RSS grew from {rss_before} to {rss_max}"
        );

        // Each member counted the hostile datagrams by reason: all of them
        // received part of the blast through the group address.
        for (i, member) in members.iter().enumerate() {
            // Stream frames of strangers reached the channels, which
            // refused them (no peer slot, no delivery) and counted them.
            let drops = member.stream_drops().await.unwrap();
            eprintln!("member {i}: stream drops {drops:?}");
            assert!(
                drops.unknown_peer > stream_before[i].unknown_peer,
                "member {i} refused no stranger's stream frame: {drops:?}"
            );
            let after = member.node_stats().await.unwrap();
            let grown = grew(&before[i], &after);
            eprintln!(
                "member {i}: grew {grown:?}, peer_table_full {} -> {}; {after:?}",
                before[i].peer_table_full, after.peer_table_full
            );
            for (reason, n) in grown {
                assert!(n > 0, "member {i} counted no {reason}");
            }
        }

        done.store(true, Ordering::Relaxed);
        for member in &mut members {
            member.shutdown().await.unwrap();
        }
        sniffing.join().unwrap();
    });
}
