//! A running hash of everything a run delivered, to prove determinism.

use core::fmt;

/// A 64-bit FNV-1a hash over every delivered datagram, timer, event and
/// fault of a run, each with its virtual time.
///
/// Two runs from the same seed have equal hashes; a different seed almost
/// surely gives a different one.
///
/// ```
/// use blaze_sim::TraceHash;
/// let mut a = TraceHash::new();
/// a.write(b"x");
/// let mut b = TraceHash::new();
/// b.write(b"y");
/// assert_ne!(a.value(), b.value());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceHash(u64);

impl Default for TraceHash {
    fn default() -> Self {
        TraceHash::new()
    }
}

impl TraceHash {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;

    /// The hash of nothing.
    pub const fn new() -> Self {
        TraceHash(Self::OFFSET)
    }

    /// Mixes `bytes` in.
    pub fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(Self::PRIME);
        }
    }

    /// Mixes a length-prefixed `bytes` in (so field boundaries count).
    pub fn write_field(&mut self, bytes: &[u8]) {
        self.write_u64(u64::try_from(bytes.len()).unwrap_or(u64::MAX));
        self.write(bytes);
    }

    /// Mixes a `u64` in.
    pub fn write_u64(&mut self, v: u64) {
        self.write(&v.to_le_bytes());
    }

    /// The hash so far.
    pub const fn value(&self) -> u64 {
        self.0
    }
}

impl fmt::Display for TraceHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// What happened, for the hash and the readable tail of the trace.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Happening<'a> {
    /// A datagram handed to `to`'s machine.
    Delivered {
        from: usize,
        to: usize,
        data: &'a [u8],
    },
    /// A copy dropped by the network.
    Dropped {
        from: usize,
        to: usize,
        reason: crate::DropReason,
    },
    /// A timer handed to a machine.
    Timeout { node: usize },
    /// An event drained from a machine (its `Debug` text).
    Event { node: usize, text: &'a str },
    /// A scripted fault on a node.
    Fault { node: usize, what: &'static str },
    /// A change of the partitions (none: healed).
    Partition { sets: &'a [&'a [usize]] },
    /// One direction blocked or unblocked.
    Block {
        from: usize,
        to: usize,
        blocked: bool,
    },
}

/// The trace of a run: its hash, and the last few lines in readable form.
#[derive(Debug)]
pub(crate) struct Trace {
    hash: TraceHash,
    lines: std::collections::VecDeque<String>,
    keep: usize,
}

impl Trace {
    pub(crate) fn new(keep: usize) -> Self {
        Trace {
            hash: TraceHash::new(),
            lines: std::collections::VecDeque::new(),
            keep,
        }
    }

    pub(crate) fn hash(&self) -> TraceHash {
        self.hash
    }

    pub(crate) fn lines(&self) -> impl Iterator<Item = &str> {
        self.lines.iter().map(String::as_str)
    }

    pub(crate) fn record(&mut self, now: blaze_wire::Instant, what: Happening<'_>) {
        let h = &mut self.hash;
        h.write_u64(now.total_micros());
        match what {
            Happening::Delivered { from, to, data } => {
                h.write(b"D");
                h.write_u64(from as u64);
                h.write_u64(to as u64);
                h.write_field(data);
            }
            Happening::Dropped { from, to, reason } => {
                h.write(b"X");
                h.write_u64(from as u64);
                h.write_u64(to as u64);
                h.write_field(reason.to_string().as_bytes());
            }
            Happening::Timeout { node } => {
                h.write(b"T");
                h.write_u64(node as u64);
            }
            Happening::Event { node, text } => {
                h.write(b"E");
                h.write_u64(node as u64);
                h.write_field(text.as_bytes());
            }
            Happening::Fault { node, what } => {
                h.write(b"F");
                h.write_u64(node as u64);
                h.write_field(what.as_bytes());
            }
            Happening::Partition { sets } => {
                h.write(b"P");
                for set in sets {
                    h.write_u64(set.len() as u64);
                    for n in *set {
                        h.write_u64(*n as u64);
                    }
                }
            }
            Happening::Block { from, to, blocked } => {
                h.write(b"B");
                h.write_u64(from as u64);
                h.write_u64(to as u64);
                h.write(&[u8::from(blocked)]);
            }
        }
        if self.keep == 0 {
            return;
        }
        let line = match what {
            Happening::Delivered { from, to, data } => {
                format!("{now} {from} -> {to}: {} bytes", data.len())
            }
            Happening::Dropped { from, to, reason } => {
                format!("{now} {from} -> {to}: dropped ({reason})")
            }
            Happening::Timeout { node } => format!("{now} node {node}: timeout"),
            Happening::Event { node, text } => format!("{now} node {node}: event {text}"),
            Happening::Fault { node, what } => format!("{now} node {node}: {what}"),
            Happening::Partition { sets: [] } => format!("{now} partitions healed"),
            Happening::Partition { sets } => format!("{now} partition {sets:?}"),
            Happening::Block { from, to, blocked } => {
                format!(
                    "{now} {from} -> {to}: {}",
                    if blocked { "blocked" } else { "unblocked" }
                )
            }
        };
        if self.lines.len() == self.keep {
            self.lines.pop_front();
        }
        self.lines.push_back(line);
    }
}
