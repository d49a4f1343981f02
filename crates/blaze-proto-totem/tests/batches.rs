//! Totem driven like a socket driver drives it: each member reads
//! everything that came in since its last turn as one batch, the unicast
//! socket (tokens) before the group socket (data), then polls. A token
//! read before the data its predecessor multicast just before passing it
//! on must not make the member ask for that data again.

use blaze_proto_totem::{Buffers, Config, Event, Qos, Slot, Totem};
use blaze_wire::{Destination, Duration, GroupId, Instant, MemberId};
use std::net::SocketAddr;

type Member = Totem<'static, 4, 128, 64, 64>;

/// Storage for a member, leaked (a test process is short-lived).
fn buffers(w: usize, p: usize, q: usize) -> Buffers<'static> {
    Buffers {
        slots: vec![Slot::EMPTY; Buffers::slots_needed(w)].leak(),
        bytes: vec![0; Buffers::bytes_needed(w, p, q)].leak(),
    }
}

/// Members of the ring.
const N: usize = 3;

fn addr(i: usize) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 7_000 + i as u16))
}

/// A datagram in flight: from, unicast, bytes.
type Datagram = (usize, bool, Vec<u8>);

struct Ring {
    members: Vec<Member>,
    /// Per member, what arrived since its last turn.
    inbox: Vec<Vec<Datagram>>,
    /// Per member, the payloads delivered, in order.
    delivered: Vec<Vec<Vec<u8>>>,
    now: Instant,
}

impl Ring {
    fn with(config: Config) -> Ring {
        let members = (0..N)
            .map(|i| {
                Member::new(
                    Instant::ZERO,
                    MemberId::from_u128(100 + i as u128),
                    GroupId::from_name("batches"),
                    config,
                    buffers(128, 64, 64),
                )
                .expect("valid config")
            })
            .collect();
        Ring {
            members,
            inbox: vec![Vec::new(); N],
            delivered: vec![Vec::new(); N],
            now: Instant::ZERO,
        }
    }

    /// One turn of every member: its batch of input (unicast first, as a
    /// driver reads its unicast socket before the group socket), a due
    /// deadline, then its output.
    fn turn(&mut self) {
        let mut out: Vec<(usize, Destination, Vec<u8>)> = Vec::new();
        for i in 0..N {
            let mut batch = std::mem::take(&mut self.inbox[i]);
            batch.sort_by_key(|d| !d.1);
            let m = &mut self.members[i];
            for (from, _, bytes) in &batch {
                m.handle_datagram(self.now, addr(*from), bytes);
            }
            if m.poll_timeout().is_some_and(|d| d <= self.now) {
                m.handle_timeout(self.now);
            }
            let mut buf = [0u8; 1500];
            while let Some(t) = m.poll_transmit(self.now, &mut buf) {
                out.push((i, t.to, buf[..t.len].to_vec()));
            }
            while let Some(e) = m.poll_event() {
                if let Event::Deliver { payload, .. } = e {
                    self.delivered[i].push(payload.to_vec());
                }
            }
        }
        for (from, to, bytes) in out {
            for j in 0..N {
                let unicast = to == Destination::Peer(addr(j));
                if unicast || (to == Destination::Group && j != from) {
                    self.inbox[j].push((from, unicast, bytes.clone()));
                }
            }
        }
        self.now += Duration::from_micros(100);
    }

    /// A ring of `N` members, operational.
    fn formed() -> Ring {
        Ring::formed_with(Config::lan())
    }

    fn formed_with(config: Config) -> Ring {
        let mut r = Ring::with(config);
        while !r
            .members
            .iter()
            .all(|m| m.is_operational() && m.members().len() == N)
        {
            r.turn();
            assert!(r.now < Instant::from_millis(2_000), "no ring formed");
        }
        r
    }
}

#[test]
fn a_token_read_before_its_data_asks_for_nothing_again() {
    let mut r = Ring::formed();
    for i in 0..200u32 {
        let sender = i as usize % N;
        let now = r.now;
        r.members[sender]
            .send(now, Qos::Agreed, &i.to_be_bytes())
            .expect("room in the queue");
        if i % 10 == 9 {
            r.turn();
        }
    }
    for _ in 0..200 {
        r.turn();
    }
    for (i, got) in r.delivered.iter().enumerate() {
        assert_eq!(got.len(), 200, "member {i} delivered {}", got.len());
        assert_eq!(got, &r.delivered[0], "member {i} delivered another order");
    }
    for (i, m) in r.members.iter().enumerate() {
        assert_eq!(m.stats().retransmits, 0, "member {i} re-sent messages");
        assert_eq!(m.stats().token_losses, 0, "member {i} lost the token");
    }
}

/// Every member has more to send than a rotation carries: each gets its
/// share of the ring (the queues the token reports), none is starved by
/// the members before it taking the whole window.
#[test]
fn saturated_members_share_the_ring() {
    const EACH: u64 = 1_000;
    let mut r = Ring::formed();
    let mut queued = [0u64; N];
    loop {
        for (i, m) in r.members.iter_mut().enumerate() {
            while queued[i] < EACH && m.send(r.now, Qos::Agreed, &queued[i].to_be_bytes()).is_ok() {
                queued[i] += 1;
            }
        }
        r.turn();
        let sent: Vec<u64> = r.members.iter().map(|m| m.stats().broadcasts).collect();
        if sent.iter().any(|s| *s >= EACH) {
            let least = sent.iter().min().copied().unwrap_or(0);
            assert!(
                least >= EACH * 9 / 10,
                "broadcasts when the first was done: {sent:?}"
            );
            break;
        }
        assert!(r.now < Instant::from_millis(10_000), "stuck at {sent:?}");
    }
}

/// A visit's new messages stay within `Config::max_bytes` (at least one
/// goes), however many `max_messages` allows; the rest go on the next
/// visits, in order.
#[test]
fn a_visit_sends_at_most_max_bytes_of_new_messages() {
    let mut config = Config::lan();
    config.max_messages = 64;
    config.max_bytes = 1_000;
    let mut r = Ring::formed_with(config);
    let now = r.now;
    let before = r.members[0].stats().broadcasts;
    for i in 0..60u8 {
        r.members[0]
            .send(now, Qos::Agreed, &[i; 60])
            .expect("queued");
    }
    // The first visit that sends (after the ring's quiet visits).
    while r.members[0].stats().broadcasts == before {
        r.turn();
        assert!(r.now < Instant::from_millis(3_000), "nothing sent");
    }
    // 16 messages of 60 bytes, not the 17th (1 020 bytes).
    assert_eq!(r.members[0].stats().broadcasts - before, 16);
    while r.delivered.iter().any(|d| d.len() < 60) {
        r.turn();
        assert!(r.now < Instant::from_millis(3_000), "not all delivered");
    }
    for d in &r.delivered {
        let expected: Vec<Vec<u8>> = (0..60u8).map(|i| vec![i; 60]).collect();
        assert_eq!(d[..], expected[..]);
    }
}
