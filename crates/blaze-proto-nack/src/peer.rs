//! One entry of the peer table: a remote member, as a sender to us and as
//! a receiver of our stream.

use core::net::SocketAddr;

use blaze_wire::{Instant, MemberId, Seq};

use crate::event::CutReason;
use crate::receiver::Receiver;
use crate::rtt::RttEstimator;

/// How a remote member holds back the local stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    /// Not (yet) known as a receiver.
    Untracked,
    /// The window waits for it; it has consumed everything before `next`.
    Tracking { next: Seq },
    /// Cut loose: the window no longer waits for it.
    Released,
}

#[derive(Debug, Clone)]
pub(crate) struct Peer<const W: usize> {
    pub(crate) id: MemberId,
    pub(crate) addr: Option<SocketAddr>,
    /// When a frame from it last arrived (or it was added).
    pub(crate) last_heard: Instant,
    pub(crate) rtt: RttEstimator,
    /// A heartbeat timestamp of this peer to echo, and when it arrived.
    pub(crate) echo: Option<(u64, Instant)>,
    pub(crate) flow: Flow,
    /// A cut-loose notice for the application.
    pub(crate) notice: Option<CutReason>,
    /// Its stream, once heard of.
    pub(crate) rx: Option<Receiver<W>>,
}

impl<const W: usize> Peer<W> {
    pub(crate) fn new(id: MemberId, now: Instant, rtt: RttEstimator) -> Self {
        Peer {
            id,
            addr: None,
            last_heard: now,
            rtt,
            echo: None,
            flow: Flow::Untracked,
            notice: None,
            rx: None,
        }
    }

    /// The receiver's acknowledged position, when it holds the window.
    pub(crate) fn tracking(&self) -> Option<Seq> {
        match self.flow {
            Flow::Tracking { next, .. } => Some(next),
            _ => None,
        }
    }
}
