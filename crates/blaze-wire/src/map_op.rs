//! Replicated-map and lock operations.

use crate::MemberId;

proto_enum! {
    /// Kind of a map operation (`blaze.v1.MapOpKind`).
    pub struct MapOpKind {
        /// Not set.
        UNSPECIFIED = 0,
        /// Insert or replace.
        PUT = 1,
        /// Insert only if absent.
        PUT_IF_ABSENT = 2,
        /// Replace only if the version matches.
        COMPARE_AND_SET = 3,
        /// Remove.
        REMOVE = 4,
        /// The entry expired.
        EXPIRE = 5,
        /// A snapshot entry for a joiner.
        SNAPSHOT = 6,
        /// A snapshot record for a joiner carrying one member's
        /// [`RequestWindow`] instead of an entry.
        SNAPSHOT_REQUEST_WINDOW = 7,
    }
}

proto_enum! {
    /// Kind of a lock operation (`blaze.v1.LockOpKind`).
    pub struct LockOpKind {
        /// Not set.
        UNSPECIFIED = 0,
        /// Request the lock.
        ACQUIRE = 1,
        /// Release the lock.
        RELEASE = 2,
        /// The lock was granted.
        GRANTED = 3,
        /// The request was refused.
        DENIED = 4,
        /// The lease ran out.
        EXPIRED = 5,
        /// The lock was taken away (merge, owner exit).
        REVOKED = 6,
        /// Extend the lease.
        RENEW = 7,
        /// A snapshot record for a joiner: one key's lock state.
        SNAPSHOT = 8,
    }
}

message! {
    /// A map operation: a request, or the sequenced operation (`blaze.v1.MapOp`).
    pub struct MapOp<'a> {
        /// Map name.
        1 => map: &'a str,
        /// What to do.
        2 => kind: MapOpKind,
        /// Entry key.
        3 => key: &'a [u8],
        /// Entry value.
        4 => value: &'a [u8],
        /// Expected version (compare-and-set) or resulting version.
        5 => version: u64,
        /// Request id chosen by the requester.
        6 => request_id: u64,
        /// Global order number (0 for requests).
        7 => order: u64,
        /// Time to live in microseconds (0 = forever).
        8 => ttl_us: u64,
        /// Entry option bits.
        9 => flags: u32,
        /// Entry owner.
        10 => owner: Option<MemberId>,
        /// Error code of a refused request (0 = ok).
        11 => error: u32,
        /// Fencing token held by the writer (0 = none).
        12 => fence: u64,
        /// Epoch of a sequenced operation's stream (0 on requests).
        13 => epoch: u64,
        /// The member whose request caused a sequenced operation.
        14 => origin: Option<MemberId>,
        /// Snapshot records: the joiner's pull session.
        15 => snapshot_session: u64,
        /// Snapshot records: this record's position.
        16 => snapshot_cursor: u64,
        /// Snapshot records: the position right after the previous record.
        17 => snapshot_prev_cursor: u64,
        /// Snapshot entries: the entry holds a value.
        18 => has_value: bool,
        /// [`MapOpKind::SNAPSHOT_REQUEST_WINDOW`]: the member's window.
        19 => request_window: Option<RequestWindow>,
    }
}

message! {
    /// The request ids of one member a replica has applied
    /// (`blaze.v1.RequestWindow`).
    pub struct RequestWindow {
        /// The requesting member.
        1 => member: Option<MemberId>,
        /// Highest request id applied.
        2 => highest_request: u64,
        /// Bit i: request `highest_request - i` was applied.
        3 => applied_bits: u64,
    }
}

message! {
    /// A lock request, grant or release (`blaze.v1.LockOp`).
    pub struct LockOp<'a> {
        /// Map name.
        1 => map: &'a str,
        /// Locked key.
        2 => key: &'a [u8],
        /// What happens.
        3 => kind: LockOpKind,
        /// Lease, microseconds.
        4 => lease_us: u64,
        /// Fencing token, increasing per key.
        5 => fence: u64,
        /// Holder.
        6 => holder: Option<MemberId>,
        /// Request id chosen by the requester.
        7 => request_id: u64,
        /// Global order number.
        8 => order: u64,
        /// How long the requester waits, microseconds.
        9 => wait_us: u64,
        /// Epoch of a sequenced operation's stream (0 on requests).
        10 => epoch: u64,
        /// [`LockOpKind::DENIED`]: why the request was refused.
        11 => error: u32,
        /// Snapshot records: the joiner's pull session.
        12 => snapshot_session: u64,
        /// Snapshot records: this record's position.
        13 => snapshot_cursor: u64,
        /// Snapshot records: the position right after the previous record.
        14 => snapshot_prev_cursor: u64,
        /// [`LockOpKind::SNAPSHOT`]: the key is quarantined, not held.
        15 => quarantined: bool,
    }
}
