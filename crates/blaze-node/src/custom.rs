//! A user's own protocol, carried by a group's custom channel.

use core::convert::Infallible;
use core::fmt;
use core::net::SocketAddr;

use blaze_wire::{GroupId, Instant, MemberId, Transmit};

use crate::Protocol;

/// A user's protocol, run as the custom channel of a group: the five verbs
/// of [`Protocol`] plus the two inputs a group channel gets from the node.
///
/// The node hands the custom channel of group `g` every frame of `g` that
/// no built-in channel claims: data, NACK, heartbeat, parity and
/// acknowledgement frames whose stream is neither
/// [`STREAM_RELIABLE`](crate::STREAM_RELIABLE) nor
/// [`STREAM_BEST_EFFORT`](crate::STREAM_BEST_EFFORT), and token frames. It
/// gets each view of `g` as a member list, and the messages of topics whose
/// QoS is [`Qos::Custom`](crate::Qos::Custom) through
/// [`publish`](CustomProtocol::publish). Its events come out of
/// [`Node::poll_event`](crate::Node) as
/// [`Event::Custom`](crate::Event::Custom); its datagrams share the node's
/// socket and multicast destination.
///
/// ```
/// use core::net::SocketAddr;
/// use blaze_node::{CustomProtocol, Destination, Instant, Protocol, Transmit};
/// use blaze_wire::{GroupId, MemberId};
///
/// /// Counts the views it is given.
/// #[derive(Default)]
/// struct Views(u32, bool);
/// impl Protocol for Views {
///     type Event<'a> = u32;
///     fn handle_datagram(&mut self, _: Instant, _: SocketAddr, _: &[u8]) {}
///     fn handle_timeout(&mut self, _: Instant) {}
///     fn poll_transmit(&mut self, _: Instant, _: &mut [u8]) -> Option<Transmit> { None }
///     fn poll_event(&mut self) -> Option<u32> { core::mem::take(&mut self.1).then_some(self.0) }
///     fn poll_timeout(&self) -> Option<Instant> { None }
/// }
/// impl CustomProtocol for Views {
///     type PublishError = core::convert::Infallible;
///     fn publish(&mut self, _: Instant, _: &str, _: &[u8]) -> Result<(), Self::PublishError> { Ok(()) }
///     fn handle_view(&mut self, _: Instant, _: GroupId, _: &[MemberId]) { self.0 += 1; self.1 = true; }
/// }
/// let mut v = Views::default();
/// v.handle_view(Instant::ZERO, GroupId::from_name("g"), &[MemberId::from_u128(1)]);
/// assert_eq!(v.poll_event(), Some(1));
/// ```
pub trait CustomProtocol: Protocol {
    /// Why [`publish`](CustomProtocol::publish) refused a message.
    type PublishError: fmt::Debug + Copy;

    /// Queues `payload` on `topic` for the group. Called by
    /// [`Node::publish`](crate::Node::publish) for topics whose QoS is
    /// [`Qos::Custom`](crate::Qos::Custom).
    ///
    /// # Errors
    ///
    /// The protocol's own refusal, returned to the caller as
    /// [`PublishError::Custom`](crate::PublishError::Custom).
    fn publish(
        &mut self,
        now: Instant,
        topic: &str,
        payload: &[u8],
    ) -> Result<(), Self::PublishError>;

    /// A new view of the group was installed: `members` (coordinator
    /// first, this member included).
    fn handle_view(&mut self, now: Instant, group: GroupId, members: &[MemberId]);
}

/// The default custom protocol: none. A node without a user protocol
/// never has a custom channel; this type cannot be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoCustom {}

impl Protocol for NoCustom {
    type Event<'a> = Infallible;

    fn handle_datagram(&mut self, _now: Instant, _from: SocketAddr, _datagram: &[u8]) {
        match *self {}
    }

    fn handle_timeout(&mut self, _now: Instant) {
        match *self {}
    }

    fn poll_transmit(&mut self, _now: Instant, _buf: &mut [u8]) -> Option<Transmit> {
        match *self {}
    }

    fn poll_event(&mut self) -> Option<Infallible> {
        match *self {}
    }

    fn poll_timeout(&self) -> Option<Instant> {
        match *self {}
    }
}

impl CustomProtocol for NoCustom {
    type PublishError = Infallible;

    fn publish(&mut self, _now: Instant, _topic: &str, _payload: &[u8]) -> Result<(), Infallible> {
        match *self {}
    }

    fn handle_view(&mut self, _now: Instant, _group: GroupId, _members: &[MemberId]) {
        match *self {}
    }
}
