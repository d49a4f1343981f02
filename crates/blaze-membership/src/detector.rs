//! Failure detection: liveness evidence, SWIM-style direct and indirect
//! probes, and failure declaration.
//!
//! Every frame from a member is evidence it is alive. Group members also
//! send heartbeats every `heartbeat_interval`. A member silent for half the
//! `failure_timeout` is probed every heartbeat interval: directly, and
//! through `indirect_probes` randomly chosen members that recently spoke
//! (ping-req), so one lossy link cannot evict a live member. Any answer,
//! direct or relayed, counts as evidence. A member with no evidence for a
//! whole `failure_timeout` is declared failed; its frames are then ignored
//! for one more time-out (stale packets cannot resurrect it), after which a
//! frame from it brings it back as a new member (this is how partitions
//! heal). A higher incarnation always starts a new life.

use crate::frames::{Probe, Suspect};
use crate::membership::{Control, Membership};
use crate::peer::Peer;
use blaze_wire::{Instant, MemberId};
use core::net::SocketAddr;

impl<
    const M: usize,
    const G: usize,
    const S: usize,
    const B: usize,
    const EVENTS: usize,
    const CONTROL: usize,
    const CONSUMERS: usize,
> Membership<M, G, S, B, EVENTS, CONTROL, CONSUMERS>
{
    /// Records evidence that `id` is alive. Returns false when the frame
    /// must be dropped (stale, or no room for a new member).
    pub(crate) fn heard(
        &mut self,
        now: Instant,
        id: MemberId,
        addr: Option<SocketAddr>,
        incarnation: Option<u64>,
    ) -> bool {
        let timeout = self.config.failure_timeout;
        let Some(i) = self.peers.iter().position(|p| p.id == id) else {
            if self.peers.is_full() {
                // Reuse the oldest tombstone, if any.
                let oldest = self
                    .peers
                    .iter()
                    .enumerate()
                    .filter_map(|(i, p)| p.dead_since.map(|d| (d, i)))
                    .min()
                    .map(|(_, i)| i);
                match oldest {
                    Some(i) if i < self.peers.len() => {
                        self.peers.swap_remove(i);
                    }
                    _ => {
                        self.stats.table_full += 1;
                        return false;
                    }
                }
            }
            let epoch = self.new_epoch();
            let mut p = Peer::new(id, now, epoch);
            p.addr = addr;
            p.incarnation = incarnation.unwrap_or(0);
            p.incarnation_known = incarnation.is_some();
            let _ = self.peers.push(p);
            return true;
        };
        let mut restarted = false;
        let epoch = self.next_epoch;
        let Some(p) = self.peers.get_mut(i) else {
            return false;
        };
        if let Some(inc) = incarnation {
            if !p.incarnation_known {
                p.incarnation = inc;
                p.incarnation_known = true;
            } else if inc > p.incarnation {
                restarted = true;
                p.incarnation = inc;
            } else if inc < p.incarnation {
                self.stats.stale_frames += 1;
                return false;
            }
        }
        if let Some(dead) = p.dead_since {
            if !restarted && now.saturating_duration_since(dead) < timeout {
                self.stats.stale_frames += 1;
                return false;
            }
            restarted = true;
        }
        if restarted {
            p.reset(now, epoch);
        }
        p.last_heard = now;
        if addr.is_some() {
            p.addr = addr;
        }
        if restarted {
            self.next_epoch = epoch.wrapping_add(1);
            self.on_peer_gone(now, id);
        }
        true
    }

    /// Declares silent members failed and starts probe rounds.
    pub(crate) fn check_liveness(&mut self, now: Instant) {
        let timeout = self.config.failure_timeout;
        let suspect = self.config.suspect_after();
        let mut i = 0;
        while let Some(p) = self.peers.get(i) {
            i += 1;
            if !p.alive() {
                continue;
            }
            let silence = now.saturating_duration_since(p.last_heard);
            let id = p.id;
            if silence >= timeout {
                self.declare_failed(now, id);
            } else if silence >= suspect && now >= p.next_probe {
                self.probe_round(now, id);
            }
        }
    }

    fn declare_failed(&mut self, now: Instant, id: MemberId) {
        debug!("member {} declared failed", id);
        let epoch = self.new_epoch();
        if let Some(p) = self.peer_mut(id) {
            p.reset(now, epoch);
            p.dead_since = Some(now);
        }
        self.stats.failures_declared += 1;
        self.on_peer_gone(now, id);
    }

    fn probe_round(&mut self, now: Instant, target: MemberId) {
        let interval = self.config.probe_interval();
        let Some(p) = self.peer_mut(target) else {
            return;
        };
        p.next_probe = now + interval;
        let Some(addr) = p.addr else { return };
        self.stats.probe_rounds += 1;
        let seq = self.next_probe_seq;
        self.next_probe_seq = self.next_probe_seq.wrapping_add(1);
        let probe = Probe {
            seq,
            target: Some(target),
            origin: None,
            ack: false,
        };
        self.push_control(Control::Probe { to: addr, probe });
        // Tell the member it is suspected: it refutes by heartbeating to
        // every member at once (as Lifeguard does), which also repairs
        // paths that lose only our direction.
        let incarnation = self.peer(target).map_or(0, |p| p.incarnation);
        let suspect = Suspect {
            member: Some(target),
            incarnation,
            probe_request: false,
        };
        self.push_control(Control::Suspect { to: addr, suspect });
        // Helpers: members heard from recently, chosen at random.
        let suspect = self.config.suspect_after();
        let fresh = |p: &Peer<G>| {
            p.alive()
                && p.id != target
                && p.addr.is_some()
                && now.saturating_duration_since(p.last_heard) < suspect
        };
        let mut candidates = self.peers.iter().filter(|p| fresh(p)).count();
        let mut wanted = usize::from(self.config.indirect_probes).min(candidates);
        let mut i = 0;
        while wanted > 0 {
            let Some(p) = self.peers.get(i) else { break };
            i += 1;
            if !fresh(p) {
                continue;
            }
            let (helper, to) = (p.id, p.addr);
            // Selection sampling: each candidate is taken with probability
            // wanted / candidates.
            if self.random_below(candidates) < wanted {
                wanted -= 1;
                if let Some(to) = to {
                    let probe = Probe {
                        seq,
                        target: Some(target),
                        origin: Some(self.me.id),
                        ack: false,
                    };
                    self.push_control(Control::Probe { to, probe });
                }
                let _ = helper;
            }
            candidates -= 1;
        }
    }

    pub(crate) fn on_probe(&mut self, now: Instant, sender: MemberId, from: SocketAddr, p: Probe) {
        let me = self.me.id;
        let Some(target) = p.target else { return };
        if !p.ack {
            if target == me {
                let probe = Probe {
                    seq: p.seq,
                    target: Some(me),
                    origin: p.origin,
                    ack: true,
                };
                self.push_control(Control::Probe { to: from, probe });
            } else if p.origin == Some(sender) {
                // A ping-req: probe the target on the sender's behalf.
                if let Some(to) = self.peer(target).filter(|t| t.alive()).and_then(|t| t.addr) {
                    let probe = Probe {
                        seq: p.seq,
                        target: Some(target),
                        origin: Some(sender),
                        ack: false,
                    };
                    self.push_control(Control::Probe { to, probe });
                }
            }
            return;
        }
        match p.origin {
            None => {}
            Some(o) if o == me => {
                if let Some(t) = self.peer_mut(target).filter(|t| t.alive()) {
                    t.last_heard = t.last_heard.max(now);
                }
            }
            Some(o) => {
                if let Some(to) = self.peer(o).and_then(|t| t.addr) {
                    let probe = Probe {
                        seq: p.seq,
                        target: Some(target),
                        origin: Some(o),
                        ack: true,
                    };
                    self.push_control(Control::Probe { to, probe });
                }
            }
        }
    }
}

impl<
    const M: usize,
    const G: usize,
    const S: usize,
    const B: usize,
    const EVENTS: usize,
    const CONTROL: usize,
    const CONSUMERS: usize,
> Membership<M, G, S, B, EVENTS, CONTROL, CONSUMERS>
{
    /// Another member suspects this one: refute with heartbeats in every
    /// group at once.
    pub(crate) fn on_suspect(&mut self, s: Suspect) {
        if s.member != Some(self.me.id) {
            return;
        }
        for slot in 0..G {
            if self
                .group(slot)
                .is_some_and(|g| g.phase == crate::group::Phase::Member)
            {
                self.broadcast(slot, crate::peer::DUE_HEARTBEAT, false);
            }
        }
    }
}
