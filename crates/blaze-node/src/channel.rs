//! The protocol enum: one group's channels behind one verb set.

use core::net::SocketAddr;

use blaze_proto_nack::{Endpoint, Event as NackEvent};
use blaze_wire::{GroupId, Instant, MemberId, Transmit};

use crate::{CustomProtocol, Qos};

/// Stream id of every group's reliable channel on the wire.
pub const STREAM_RELIABLE: u32 = 1;
/// Stream id of every group's best-effort channel on the wire.
pub const STREAM_BEST_EFFORT: u32 = 2;

/// One channel of a group: a built-in protocol or the user's.
///
/// The node composes its machines through this enum (one internal verb
/// set, no `dyn`): each group has a reliable and a best-effort channel,
/// and optionally a custom one. Topics are routed to a channel by their
/// [`Qos`]. Reliable with FEC and total order have no variant yet: their
/// protocols are not built.
#[derive(Debug)]
#[non_exhaustive]
pub enum Channel<'a, C, const PEERS: usize, const W: usize> {
    /// Plain datagrams ([`Qos::BestEffort`]).
    BestEffort(Endpoint<'a, PEERS, W>),
    /// NACK-based reliable multicast ([`Qos::Reliable`]).
    Reliable(Endpoint<'a, PEERS, W>),
    /// The user's protocol ([`Qos::Custom`]).
    Custom(C),
}

/// An event of a channel, before the node adds the group.
pub(crate) enum ChannelEvent<'a, X> {
    Nack(NackEvent<'a>),
    Custom(X),
}

impl<'a, C: CustomProtocol, const PEERS: usize, const W: usize> Channel<'a, C, PEERS, W> {
    /// The QoS this channel carries.
    pub fn qos(&self) -> Qos {
        match self {
            Channel::BestEffort(_) => Qos::BestEffort,
            Channel::Reliable(_) => Qos::Reliable,
            Channel::Custom(_) => Qos::Custom,
        }
    }

    pub(crate) fn handle_datagram(&mut self, now: Instant, from: SocketAddr, datagram: &[u8]) {
        match self {
            Channel::BestEffort(e) | Channel::Reliable(e) => e.handle_datagram(now, from, datagram),
            Channel::Custom(c) => c.handle_datagram(now, from, datagram),
        }
    }

    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        match self {
            Channel::BestEffort(e) | Channel::Reliable(e) => e.handle_timeout(now),
            Channel::Custom(c) => c.handle_timeout(now),
        }
    }

    pub(crate) fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        match self {
            Channel::BestEffort(e) | Channel::Reliable(e) => e.poll_transmit(now, buf),
            Channel::Custom(c) => c.poll_transmit(now, buf),
        }
    }

    pub(crate) fn poll_timeout(&mut self) -> Option<Instant> {
        match self {
            Channel::BestEffort(e) | Channel::Reliable(e) => e.poll_timeout(),
            Channel::Custom(c) => c.poll_timeout(),
        }
    }

    pub(crate) fn poll_event(&mut self, now: Instant) -> Option<ChannelEvent<'_, C::Event<'_>>> {
        match self {
            Channel::BestEffort(e) | Channel::Reliable(e) => {
                e.poll_event(now).map(ChannelEvent::Nack)
            }
            Channel::Custom(c) => c.poll_event().map(ChannelEvent::Custom),
        }
    }

    /// A new view: `added` and `removed` members (never this one), and the
    /// full member list. Returns how many could not be added.
    pub(crate) fn handle_view(
        &mut self,
        now: Instant,
        group: GroupId,
        added: &[MemberId],
        removed: &[MemberId],
        members: &[MemberId],
    ) -> u64 {
        match self {
            Channel::BestEffort(e) | Channel::Reliable(e) => {
                for m in removed {
                    let _known = e.remove_peer(now, *m);
                }
                let mut full = 0;
                for m in added {
                    if e.add_peer(now, *m).is_err() {
                        full += 1;
                    }
                }
                full
            }
            Channel::Custom(c) => {
                c.handle_view(now, group, members);
                0
            }
        }
    }
}
