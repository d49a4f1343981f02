//! A sequenced operation: one step of the total order.

use blaze_wire::MemberId;
use heapless::Vec;

/// What a sequenced operation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpKind {
    Put,
    PutIfAbsent,
    Cas,
    Remove,
    /// The entry's time to live ran out.
    Expire,
    /// A lock grant; `fence` is the order number.
    Grant,
    /// The holder released the lock.
    Release,
    /// The lease ran out.
    LockExpire,
    /// Taken away (holder left the view).
    Revoke,
    /// The holder extended the lease.
    Renew,
}

impl OpKind {
    pub(crate) const fn is_lock(self) -> bool {
        matches!(
            self,
            OpKind::Grant | OpKind::Release | OpKind::LockExpire | OpKind::Revoke | OpKind::Renew
        )
    }
}

/// One sequenced operation, as logged and applied. The coordinator decided
/// its outcome (`error`, `version`), so applying it is deterministic.
#[derive(Debug, Clone)]
pub(crate) struct Op<const K: usize, const V: usize> {
    pub(crate) order: u64,
    pub(crate) kind: OpKind,
    pub(crate) map: u8,
    pub(crate) key: Vec<u8, K>,
    pub(crate) value: Vec<u8, V>,
    /// Map ops: the entry's new version (the order) on success, the current
    /// version on a version mismatch.
    pub(crate) version: u64,
    /// The member that caused it (requester; the holder for lock ops).
    pub(crate) origin: MemberId,
    pub(crate) request_id: u64,
    /// Refusal code (0 = applied), see `WriteError::code`.
    pub(crate) error: u32,
    pub(crate) ttl_us: u64,
    pub(crate) flags: u32,
    /// Lock ops: the grant's fencing token.
    pub(crate) fence: u64,
    pub(crate) lease_us: u64,
}
